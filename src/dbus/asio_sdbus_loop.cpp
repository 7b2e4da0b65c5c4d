#include "jkbms/dbus/asio_sdbus_loop.hpp"

#include "jkbms/util/callback_guard.hpp"

#include <poll.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/Error.h>

namespace jkbms::dbus {

namespace asio = boost::asio;

AsioSdbusLoop::AsioSdbusLoop(asio::io_context& io, sdbus::IConnection& connection,
                             std::function<void(const std::string&)> onFatal)
    : io_(io), connection_(connection), onFatal_(std::move(onFatal)), bus_(io), event_(io), timer_(io) {}

AsioSdbusLoop::~AsioSdbusLoop() {
    stop();
    // sd-bus and sdbus-c++ own both descriptors: hand them back instead of closing them.
    if (bus_.is_open()) (void)bus_.release();
    if (event_.is_open()) (void)event_.release();
}

void AsioSdbusLoop::start() {
    running_ = true;
    process();
}

void AsioSdbusLoop::stop() {
    running_ = false;
    ++generation_;
    boost::system::error_code ignored;
    if (bus_.is_open()) bus_.cancel(ignored);
    if (event_.is_open()) event_.cancel(ignored);
    timer_.cancel();
}

void AsioSdbusLoop::process() {
    if (!running_) return;
    try {
        // Bounded, so a flood of messages cannot starve the serial port and timers: after a
        // batch, the rest is handled in a posted continuation.
        for (int i = 0; i < 32; ++i) {
            const bool more = connection_.processPendingEvent();
            // What a callback threw (sdbus-c++ would have dropped it): fatal, with its reason.
            if (auto failure = util::takeCallbackFailure()) {
                stop();
                if (onFatal_) onFatal_(*failure);
                return;
            }
            if (!more) {
                arm();
                return;
            }
        }
        ++generation_;  // nothing armed must fire in between
        asio::post(io_, [this, gen = generation_] {
            if (gen == generation_) process();
        });
    } catch (const sdbus::Error& e) {
        // An exception must not escape a completion handler: report and stop.
        stop();
        if (onFatal_) onFatal_(e.getMessage());
    }
}

void AsioSdbusLoop::arm() {
    const auto gen = ++generation_;
    boost::system::error_code ignored;
    if (bus_.is_open()) bus_.cancel(ignored);
    if (event_.is_open()) event_.cancel(ignored);
    timer_.cancel();

    const sdbus::IConnection::PollData pd = connection_.getEventLoopPollData();
    if (!bus_.is_open() || bus_.native_handle() != pd.fd) {
        if (bus_.is_open()) (void)bus_.release();
        bus_.assign(pd.fd);
    }
    if (!event_.is_open() || event_.native_handle() != pd.eventFd) {
        if (event_.is_open()) (void)event_.release();
        event_.assign(pd.eventFd);
    }
    auto handler = [this, gen](const boost::system::error_code& ec) { onReady(gen, ec); };
    if (pd.events & POLLIN) bus_.async_wait(asio::posix::descriptor_base::wait_read, handler);
    if (pd.events & POLLOUT) bus_.async_wait(asio::posix::descriptor_base::wait_write, handler);
    event_.async_wait(asio::posix::descriptor_base::wait_read, handler);
    if (pd.timeout != std::chrono::microseconds::max()) {
        // Absolute CLOCK_MONOTONIC, which is what steady_clock is on Linux.
        timer_.expires_at(std::chrono::steady_clock::time_point(
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(pd.timeout)));
        timer_.async_wait(handler);
    }
}

void AsioSdbusLoop::onReady(std::uint64_t generation, const boost::system::error_code& ec) {
    // Aborted first: a loop destroyed while its io_context lives on gets its waits aborted,
    // and its members must not be read then.
    if (ec == asio::error::operation_aborted || generation != generation_) return;
    process();  // the first completion wins; process() re-arms, which cancels the others
}

}  // namespace jkbms::dbus
