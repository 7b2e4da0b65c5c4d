#include "jkbms/app/pb_poller.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "jkbms/codec/ble.hpp"

namespace jkbms::app {

namespace pb = codec::pb;
using Clock = std::chrono::steady_clock;

PbPoller::PbPoller(boost::asio::io_context& io, transport::SerialLink& link, Options options)
    : io_(io), link_(link), options_(std::move(options)), cycleTimer_(io), wake_(io) {
    link_.onData([this](util::ByteView bytes) { onBytes(bytes); });
}

void PbPoller::start() {
    running_ = true;
    nextCycle_ = Clock::now();
    if (options_.addresses.empty()) {
        discovering_ = true;
        found_.clear();
        for (std::uint8_t a = 1; a <= pb::kMaxAddress; ++a) queue_.push_back(Job{a, pb::Trigger::CellInfo});
        next();
        return;
    }
    addresses_ = options_.addresses;
    enqueueCycle();
    scheduleCycle();
    next();
}

void PbPoller::stop() {
    running_ = false;
    overran_ = false;
    roundOpen_ = false;
    cycleTimer_.cancel();
    wake_.cancel();
    armed_ = false;
    ++wakeGen_;
    idleDue_ = false;
    pacingDue_ = false;
    queue_.clear();
    inFlight_.reset();
    quietUntil_ = {};
}

bool PbPoller::write(std::uint8_t address, std::uint16_t reg, std::uint32_t value, WriteDone done) {
    if (!running_ || listening_) return false;
    std::size_t queued = 0;
    for (Job& job : queue_) {
        if (!job.write) continue;
        ++queued;
        if (job.address == address && job.write->reg == reg) {
            // The last wish wins: the older value never goes out.
            auto older = std::move(job.write->done);
            job.write = std::make_shared<Write>(Write{reg, value, std::move(done)});
            if (older) older(false, "replaced by a later write");
            return true;
        }
    }
    if (queued >= kMaxPendingWrites) return false;
    queue_.push_front(Job{address, pb::Trigger::Settings, std::make_shared<Write>(Write{reg, value, std::move(done)})});
    next();
    return true;
}

void PbPoller::setGone(std::uint8_t address, bool gone) {
    if (!gone) {
        goneProbeDue_.erase(address);
        settingsDue_.erase(address);  // its settings again at the next cycle
        haveAbout_.erase(address);    // and its device info: it may be another pack
        return;
    }
    if (!goneProbeDue_.contains(address)) goneProbeDue_[address] = Clock::now() + options_.goneProbeEvery;
}

void PbPoller::scheduleCycle() {
    nextCycle_ += options_.interval;
    const auto now = Clock::now();
    if (nextCycle_ < now) nextCycle_ = now + options_.interval;
    cycleTimer_.expires_at(nextCycle_);
    cycleTimer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || !running_) return;
        scheduleCycle();
        if (listening_) return;
        // A cycle still running (a slow bus): do not pile up requests, but start the next
        // round the moment this one ends - many packs then get one poll each, back to back.
        if (queue_.empty()) {
            enqueueCycle();
            if (!inFlight_) next();
        } else {
            overran_ = true;
        }
    });
}

void PbPoller::enqueueCycle() {
    const auto now = Clock::now();
    const std::size_t queuedBefore = queue_.size();
    // At most one pack that left is probed per cycle, round robin from the one probed last:
    // each probe may cost a whole deadline, and six silent packs probed in one cycle would
    // stretch it past the others' stale time. The others due wait for the next cycles.
    std::optional<std::uint8_t> probe;
    for (const auto& [a, due] : goneProbeDue_) {
        if (now < due) continue;
        if (!probe || (*probe <= lastGoneProbe_ && a > lastGoneProbe_)) probe = a;
        if (a > lastGoneProbe_) break;  // the first due after the last one probed
    }
    if (probe) {
        goneProbeDue_[*probe] = now + options_.goneProbeEvery;
        lastGoneProbe_ = *probe;
    }
    for (std::uint8_t a : addresses_) {
        if (goneProbeDue_.contains(a)) {
            if (probe == a) queue_.push_back(Job{a, pb::Trigger::CellInfo});
            continue;
        }
        // Some firmware answers "about" only now and then: ask until it came, at most at start.
        if (!haveAbout_[a]) queue_.push_back(Job{a, pb::Trigger::About});
        auto due = settingsDue_.find(a);
        if (due == settingsDue_.end() || now >= due->second) {
            queue_.push_back(Job{a, pb::Trigger::Settings});
            settingsDue_[a] = now + options_.settingsEvery;
        }
        queue_.push_back(Job{a, pb::Trigger::CellInfo});
    }
    if (queue_.size() > queuedBefore) roundOpen_ = true;
}

void PbPoller::next() {
    if (!running_ || inFlight_ || listening_) return;
    // Inside the pacing gap: the gap's timer calls next() again when it ends.
    if (Clock::now() < quietUntil_) return;
    if (queue_.empty() && overran_ && !discovering_) {
        overran_ = false;  // the round took longer than the interval: the next one now
        enqueueCycle();
    }
    if (queue_.empty()) {
        if (discovering_) finishDiscovery();
        return;
    }
    // Never two writes in a row: a read job (the front-most) goes between them.
    auto pick = queue_.begin();
    if (lastWasWrite_) {
        auto read = std::find_if(queue_.begin(), queue_.end(), [](const Job& j) { return !j.write; });
        if (read != queue_.end()) pick = read;
    }
    Job job = *pick;
    queue_.erase(pick);
    lastWasWrite_ = job.write != nullptr;
    send(job);
}

void PbPoller::send(const Job& job) {
    inFlight_ = job;
    if (job.write) {
        lastRequest_ = pb::encodeWriteU32(job.address, job.write->reg, job.write->value);
    } else {
        const auto request = pb::encodeTrigger(job.address, job.trigger);
        lastRequest_.assign(request.begin(), request.end());
    }
    if (!link_.isOpen()) {
        finishJob(false, "port closed");
        return;
    }
    link_.discardInput();
    link_.send(lastRequest_);
    // Settings and about frames take longer on some firmware (jk-protocols.md 3.2).
    const auto timeout = job.trigger == pb::Trigger::CellInfo && !job.write ? options_.timeout : options_.timeout * 2;
    jobDeadline_ = Clock::now() + timeout;
    rearm();
}

void PbPoller::rearm() {
    if (!running_) return;
    std::optional<Clock::time_point> at;
    const auto take = [&at](Clock::time_point t) {
        if (!at || t < *at) at = t;
    };
    if (inFlight_) take(jobDeadline_);
    if (idleDue_) take(idleAt_);
    if (pacingDue_ && !inFlight_) take(quietUntil_);
    // Nothing due: a wait still pending finds nothing to do when it fires.
    if (!at || (armed_ && armedFor_ == *at)) return;
    armed_ = true;
    armedFor_ = *at;
    wake_.expires_at(*at);  // a wait still pending ends with operation_aborted
    wake_.async_wait([this, gen = ++wakeGen_](const boost::system::error_code& ec) {
        // Aborted, or a completion already queued when the timer was moved: not this wake.
        if (ec || gen != wakeGen_) return;
        armed_ = false;
        onWake();
    });
}

void PbPoller::onWake() {
    const auto now = Clock::now();
    if (idleDue_ && now >= idleAt_) {
        idleDue_ = false;
        onIdle();  // may end the job in flight
    }
    if (inFlight_ && now >= jobDeadline_) finishJob(false, "no answer");
    if (pacingDue_ && !inFlight_ && now >= quietUntil_) {
        pacingDue_ = false;
        next();
    }
    rearm();
}

void PbPoller::onBytes(util::ByteView bytes) {
    framer_.push(bytes);
    for (auto ev = framer_.next(); ev.kind != pb::BusEvent::Kind::NeedMore; ev = framer_.next()) handle(ev);
    // A frame has begun: its rest (and the ACK) in one read (SerialLink's one read per frame).
    link_.expectMore(framer_.missing());
    // An answer begun before the job's timeout is not missed because the link waits for its
    // rest: the timeout is at least that wait (+ a margin) away.
    if (inFlight_ && !listening_ && framer_.missing() > 0) {
        const auto atLeast = Clock::now() + link_.coalesceWait(framer_.missing()) + std::chrono::milliseconds(10);
        jobDeadline_ = std::max(jobDeadline_, atLeast);
    }
    // A frame without ACK (or any rest) is released when the line goes quiet - not while the
    // link waits for the rest of a frame to read it in one go. Nothing left: no wake-up.
    idleDue_ = framer_.buffered() > 0;
    if (idleDue_) idleAt_ = Clock::now() + std::chrono::milliseconds(20) + link_.coalesceWait(framer_.missing());
    rearm();
}

void PbPoller::onIdle() {
    for (auto ev = framer_.flush(); ev.kind != pb::BusEvent::Kind::NeedMore; ev = framer_.flush()) handle(ev);
}

void PbPoller::handle(const pb::BusEvent& ev) {
    if (ev.kind == pb::BusEvent::Kind::Bad) {
        spdlog::debug("rs485: {}", util::describe(ev.error));
        return;
    }
    if (ev.kind == pb::BusEvent::Kind::Modbus) {
        if (inFlight_ && inFlight_->write && ev.modbus.address == inFlight_->address) {
            if (ev.modbus.kind == pb::ModbusKind::WriteAck && ev.modbus.reg == inFlight_->write->reg) {
                finishJob(true, {});
                return;
            }
            if (ev.modbus.kind == pb::ModbusKind::Exception) {
                finishJob(false, "Modbus exception " + std::to_string(ev.modbus.exceptionCode));
                return;
            }
        }
        const bool request = ev.modbus.kind == pb::ModbusKind::WriteRequest || ev.modbus.kind == pb::ModbusKind::ReadRequest;
        const bool ourEcho = std::equal(ev.frame.begin(), ev.frame.end(), lastRequest_.begin(), lastRequest_.end());
        if (request && !ourEcho && !listening_) {
            // Someone else drives the bus (a BMS at address 0): two masters collide, so stop.
            listening_ = true;
            roundOpen_ = false;
            queue_.clear();
            inFlight_.reset();
            if (onListening_) onListening_();
            spdlog::warn("rs485: another master is polling this bus (request to address {}): listening only",
                         ev.modbus.address);
        }
        return;
    }
    // A 55 AA frame. Polling: it must be the answer to our request; listening: take its address.
    std::optional<std::uint8_t> address = ev.address;
    if (!listening_) {
        if (!inFlight_ || inFlight_->write || (address && *address != inFlight_->address)) return;
        address = inFlight_->address;
    }
    if (!address) return;
    auto header = codec::ble::checkFrame(ev.frame);
    const bool taken = onFrame_ && onFrame_(*address, ev.frame);
    if (!taken) {
        spdlog::debug("rs485: a frame from address {} that is no reading: still waiting", *address);
        return;
    }
    if (header && header->type == static_cast<std::uint8_t>(codec::ble::FrameType::DeviceInfo)) haveAbout_[*address] = true;
    if (!listening_ && inFlight_) finishJob(true, {});
}

void PbPoller::finishJob(bool answered, const std::string& why) {
    const Job job = *inFlight_;
    inFlight_.reset();
    // Pacing: never two commands closer than this (CH341 adapters garble bursts). Set before
    // the callbacks below, so that a write() from one of them waits for the gap too.
    quietUntil_ = Clock::now() + options_.pacing;
    pacingDue_ = true;  // next() when the gap ends
    if (job.write) {
        if (answered) {
            // Read the switches back, unless a settings read of this pack is queued already.
            const bool queued = std::any_of(queue_.begin(), queue_.end(), [&job](const Job& j) {
                return !j.write && j.address == job.address && j.trigger == pb::Trigger::Settings;
            });
            if (!queued) queue_.push_front(Job{job.address, pb::Trigger::Settings});
        }
        if (job.write->done) job.write->done(answered, why);
        if (!answered && !discovering_ && onMiss_) onMiss_(job.address, "write: " + why);
    } else if (discovering_) {
        if (answered) found_.push_back(job.address);
    } else if (!answered && job.trigger == pb::Trigger::CellInfo && onMiss_) {
        onMiss_(job.address, why);
    }
    // The round's last read is over (writes queued after it belong to no round).
    if (roundOpen_ && running_ && std::none_of(queue_.begin(), queue_.end(), [](const Job& j) { return !j.write; })) {
        roundOpen_ = false;
        ++rounds_;
        if (onRoundEnd_) onRoundEnd_();
    }
    rearm();  // nothing when a callback stopped the poller
}

void PbPoller::finishDiscovery() {
    discovering_ = false;
    addresses_ = found_;
    if (onDiscovered_) onDiscovered_(addresses_);
    if (addresses_.empty()) return;
    nextCycle_ = Clock::now();
    enqueueCycle();
    scheduleCycle();
    next();
}

}  // namespace jkbms::app
