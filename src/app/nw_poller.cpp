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
}

void NwPoller::poll() {
    if (!running_) return;
    scheduleNext();
    if (awaiting_) return;  // cannot happen with timeout < interval; kept as a guard
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
