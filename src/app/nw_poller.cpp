#include "jkbms/app/nw_poller.hpp"

#include <spdlog/spdlog.h>

#include "jkbms/util/hex.hpp"

namespace jkbms::app {

NwPoller::NwPoller(boost::asio::io_context& io, transport::SerialLink& link, config::PollConfig poll)
    : io_(io), link_(link), config_(poll), interval_(io), deadline_(io) {
    link_.onData([this](util::ByteView bytes) { onBytes(bytes); });
}

void NwPoller::start() {
    running_ = true;
    nextPoll_ = std::chrono::steady_clock::now();
    poll();
}

void NwPoller::stop() {
    running_ = false;
    interval_.cancel();
    deadline_.cancel();
    writing_.reset();
    writes_.clear();
}

void NwPoller::write(std::vector<std::uint8_t> frame, WriteDone done) {
    writes_.push_back(PendingWrite{std::move(frame), std::move(done)});
    if (running_ && !awaiting_ && !writing_) sendWrite();
}

void NwPoller::sendWrite() {
    writing_ = std::move(writes_.front());
    writes_.pop_front();
    if (!link_.isOpen()) {
        auto w = std::move(*writing_);
        writing_.reset();
        if (w.done) w.done(false, "port closed");
        return;
    }
    link_.discardInput();
    framer_.reset();
    link_.send(writing_->frame);
    if (spdlog::should_log(spdlog::level::trace)) spdlog::trace("serial: > {}", util::toHex(writing_->frame));
    deadline_.expires_after(config_.timeout);
    deadline_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || !writing_) return;
        auto w = std::move(*writing_);
        writing_.reset();
        if (w.done) w.done(false, "no answer within " + std::to_string(config_.timeout.count()) + " ms");
        pollNow();
    });
}

// A read-all right away (after a write), the fixed rate starting over from now.
void NwPoller::pollNow() {
    if (!running_) return;
    interval_.cancel();
    nextPoll_ = std::chrono::steady_clock::now() - config_.interval;
    poll();
}

void NwPoller::poll() {
    if (!running_) return;
    scheduleNext();
    if (awaiting_ || writing_) return;  // a request is out (cannot happen with timeout < interval)
    if (!writes_.empty()) {
        sendWrite();  // its answer brings the read-all
        return;
    }
    ++polls_;
    if (!link_.isOpen()) {
        miss("port closed");
        return;
    }
    link_.discardInput();  // stale bytes of an earlier, late answer
    framer_.reset();
    awaiting_ = true;
    link_.send(request_);
    if (spdlog::should_log(spdlog::level::trace)) spdlog::trace("serial: > {}", util::toHex(request_));
    deadline_.expires_after(config_.timeout);
    deadline_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && awaiting_) miss("no answer within " + std::to_string(config_.timeout.count()) + " ms");
    });
}

void NwPoller::scheduleNext() {
    // Fixed rate: the next poll is due one interval after this one was due, not after it ended.
    nextPoll_ += config_.interval;
    const auto now = std::chrono::steady_clock::now();
    if (nextPoll_ < now) nextPoll_ = now + config_.interval;  // fell behind: do not burst
    interval_.expires_at(nextPoll_);
    interval_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) poll();
    });
}

void NwPoller::onBytes(util::ByteView bytes) {
    if (writing_) {
        framer_.push(bytes);
        for (auto ev = framer_.next(); ev.status != codec::FramerStatus::NeedMore; ev = framer_.next()) {
            if (ev.status != codec::FramerStatus::Frame) continue;
            auto env = codec::nw::parseFrame(ev.frame);
            if (!env || env->command != static_cast<std::uint8_t>(codec::nw::Command::Write)) continue;
            deadline_.cancel();
            auto w = std::move(*writing_);
            writing_.reset();
            if (w.done) w.done(true, {});
            pollNow();
            return;
        }
        return;
    }
    if (!awaiting_) return;  // unsolicited or late bytes: the next poll discards them
    framer_.push(bytes);
    for (auto ev = framer_.next(); ev.status != codec::FramerStatus::NeedMore; ev = framer_.next()) {
        if (ev.status == codec::FramerStatus::Bad) {
            miss(util::describe(ev.error));
            return;
        }
        if (spdlog::should_log(spdlog::level::trace)) spdlog::trace("serial: < {}", util::toHex(ev.frame));
        auto reply = codec::nw::decodeReadAll(ev.frame);
        if (!reply) {
            miss(util::describe(reply.error()));
            return;
        }
        awaiting_ = false;
        deadline_.cancel();
        if (onReading_) onReading_(*reply);
        if (running_ && !writes_.empty() && !writing_ && !awaiting_) sendWrite();
        return;
    }
}

void NwPoller::miss(const std::string& why) {
    awaiting_ = false;
    deadline_.cancel();
    ++misses_;
    spdlog::debug("serial: poll missed: {}", why);
    if (onMiss_) onMiss_(why);
}

}  // namespace jkbms::app
