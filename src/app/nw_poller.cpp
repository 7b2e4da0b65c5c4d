#include "jkbms/app/nw_poller.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "jkbms/util/hex.hpp"

namespace jkbms::app {

namespace nw = codec::nw;

NwPoller::NwPoller(boost::asio::io_context& io, transport::SerialLink& link, config::PollConfig poll)
    : io_(io), link_(link), config_(poll), wake_(io) {
    link_.onData([this](util::ByteView bytes) { onBytes(bytes); });
}

void NwPoller::start() {
    running_ = true;
    nextPoll_ = std::chrono::steady_clock::now();
    poll();
    rearm();
}

void NwPoller::stop() {
    running_ = false;
    wake_.cancel();
    armed_ = false;
    ++wakeGen_;
    out_ = Out::None;
    readDue_ = false;
    writing_.reset();
    writes_.clear();
}

bool NwPoller::write(std::uint8_t dataId, std::vector<std::uint8_t> frame, WriteDone done) {
    auto same = std::find_if(writes_.begin(), writes_.end(), [dataId](const PendingWrite& w) { return w.dataId == dataId; });
    if (same != writes_.end()) {
        // The last wish wins: the older write never goes out.
        auto older = std::move(same->done);
        same->frame = std::move(frame);
        same->done = std::move(done);
        if (older) older(false, "replaced by a later write");
    } else {
        if (writes_.size() >= kMaxPendingWrites) return false;
        writes_.push_back(PendingWrite{dataId, std::move(frame), std::move(done)});
    }
    if (running_ && out_ == Out::None) sendWrite();
    rearm();
    return true;
}

void NwPoller::send(const std::vector<std::uint8_t>& frame) {
    link_.discardInput();  // stale bytes of an earlier, late answer
    framer_.reset();
    rejected_.clear();
    sent_ = frame;
    link_.send(frame);
    if (spdlog::should_log(spdlog::level::trace)) spdlog::trace("serial: > {}", util::toHex(frame));
    deadline_ = std::chrono::steady_clock::now() + config_.timeout;
    rearm();
}

void NwPoller::rearm() {
    if (!running_) return;
    auto at = nextPoll_;
    if (out_ != Out::None && deadline_ < at) at = deadline_;
    if (armed_ && armedFor_ == at) return;  // already waiting for it: the timer stays as it is
    armed_ = true;
    armedFor_ = at;
    wake_.expires_at(at);  // a wait still pending ends with operation_aborted
    wake_.async_wait([this, gen = ++wakeGen_](const boost::system::error_code& ec) {
        // Aborted, or a completion already queued when the timer was moved: not this wake.
        if (ec || gen != wakeGen_) return;
        armed_ = false;
        onWake();
    });
}

void NwPoller::onWake() {
    const auto now = std::chrono::steady_clock::now();
    if (out_ != Out::None && now >= deadline_) onDeadline();
    if (running_ && now >= nextPoll_) poll();
    rearm();
}

void NwPoller::sendWrite() {
    if (writes_.empty()) return;
    writing_ = std::move(writes_.front());
    writes_.pop_front();
    if (!link_.isOpen()) {
        out_ = Out::Write;
        miss("port closed");
        return;
    }
    out_ = Out::Write;
    send(writing_->frame);
}

void NwPoller::sendRead() {
    ++polls_;
    out_ = Out::Read;
    if (!link_.isOpen()) {
        miss("port closed");
        return;
    }
    send(request_);
}

void NwPoller::poll() {
    if (!running_) return;
    scheduleNext();
    if (out_ == Out::Write) {
        readDue_ = true;  // the read keeps its slot: it goes as soon as the write has ended
        return;
    }
    if (out_ == Out::Read) return;  // cannot happen with timeout < interval
    sendRead();
}

void NwPoller::scheduleNext() {
    // Fixed rate: the next poll is due one interval after this one was due, not after it ended.
    nextPoll_ += config_.interval;
    const auto now = std::chrono::steady_clock::now();
    if (nextPoll_ < now) nextPoll_ = now + config_.interval;  // fell behind: do not burst
}

bool NwPoller::answers(util::ByteView frame, std::optional<nw::ReadAll>& reading) {
    if (std::equal(frame.begin(), frame.end(), sent_.begin(), sent_.end())) {
        rejected_ = "only the echo of our own request";
        return false;
    }
    if (out_ == Out::Write) {
        // The BMS answers a write with command 0x02 and the id (jk-protocols.md 1.3).
        auto env = nw::parseFrame(frame);
        if (!env || env->command != static_cast<std::uint8_t>(nw::Command::Write) ||
            env->transmissionType == static_cast<std::uint8_t>(nw::TransmissionType::Request)) {
            rejected_ = "a frame that is no answer to the write";
            return false;
        }
        return true;
    }
    auto reply = nw::decodeReadAll(frame);
    if (!reply) {
        rejected_ = util::describe(reply.error());
        return false;
    }
    if (const auto why = nw::whyNotAReading(*reply); !why.empty()) {
        rejected_ = std::string{why};
        return false;
    }
    reading = std::move(*reply);
    return true;
}

void NwPoller::onBytes(util::ByteView bytes) {
    if (out_ == Out::None) return;  // unsolicited or late bytes: the next request discards them
    framer_.push(bytes);
    for (auto ev = framer_.next(); ev.status != codec::FramerStatus::NeedMore; ev = framer_.next()) {
        if (ev.status == codec::FramerStatus::Bad) {
            // Stray bytes or a broken frame: the framer resynchronises, the answer may follow.
            rejected_ = util::describe(ev.error);
            continue;
        }
        if (spdlog::should_log(spdlog::level::trace)) spdlog::trace("serial: < {}", util::toHex(ev.frame));
        std::optional<nw::ReadAll> reading;
        if (!answers(ev.frame, reading)) continue;
        const Out ended = out_;
        out_ = Out::None;
        if (ended == Out::Write) {
            auto w = std::move(*writing_);
            writing_.reset();
            readDue_ = true;  // a read at once shows what the BMS made of the write
            if (w.done) w.done(true, {});
        } else if (onReading_) {
            onReading_(*reading);
        }
        next(ended);
        rearm();  // the deadline is over: the timer waits for the next poll (or the new deadline)
        return;
    }
    // The answer has begun: its rest in one read (SerialLink's one read per frame).
    const std::size_t missing = framer_.missing();
    link_.expectMore(missing);
    // An answer begun before the deadline is not missed because the link waits for its rest:
    // the deadline is at least that wait (+ a margin for the read and the wake-up) away.
    if (missing > 0) {
        const auto atLeast = std::chrono::steady_clock::now() + link_.coalesceWait(missing) + kReadMargin;
        if (deadline_ < atLeast) {
            deadline_ = atLeast;
            rearm();
        }
    }
}

void NwPoller::onDeadline() {
    if (out_ == Out::None) return;
    std::string why = "no answer within " + std::to_string(config_.timeout.count()) + " ms";
    if (!rejected_.empty()) why += " (got " + rejected_ + ")";
    miss(why);
}

void NwPoller::miss(const std::string& why) {
    const Out ended = out_;
    out_ = Out::None;
    ++misses_;
    spdlog::debug("serial: {} missed: {}", ended == Out::Write ? "write" : "poll", why);
    if (ended == Out::Write && writing_) {
        auto w = std::move(*writing_);
        writing_.reset();
        if (w.done) w.done(false, why);
    }
    if (onMiss_) onMiss_(why);
    next(ended);
    rearm();
}

void NwPoller::next(Out ended) {
    if (!running_ || out_ != Out::None) return;
    if (readDue_) {
        readDue_ = false;
        sendRead();
        return;
    }
    // One write after a read, never two writes in a row: the next read slot comes first.
    if (ended == Out::Read && !writes_.empty()) sendWrite();
}

}  // namespace jkbms::app
