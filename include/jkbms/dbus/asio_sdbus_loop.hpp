#pragma once
// AsioSdbusLoop: drives one sdbus-c++ connection from the daemon's single Boost.Asio
// io_context - no threads, no blocking calls.
//
// sd-bus tells what to wait for through the connection's poll data: its socket (read and/or
// write), an absolute CLOCK_MONOTONIC timeout, and sdbus-c++'s own eventfd, which it signals
// whenever messages sit in its queues (for example after a signal was emitted outside a
// D-Bus callback). The loop waits for whichever comes first, then lets sd-bus process, then
// re-reads the poll data and waits again (openbmc/sdbusplus's asio connection does the same).

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <string>

namespace sdbus {
class IConnection;
}

namespace jkbms::dbus {

class AsioSdbusLoop {
public:
    // `onFatal` is called (once) when sd-bus reports an error on the connection, e.g. the
    // bus went away, or when a callback run by sdbus-c++ threw (util::guarded); the owner
    // decides whether to exit.
    AsioSdbusLoop(boost::asio::io_context& io, sdbus::IConnection& connection,
                  std::function<void(const std::string&)> onFatal = {});
    ~AsioSdbusLoop();
    AsioSdbusLoop(const AsioSdbusLoop&) = delete;
    AsioSdbusLoop& operator=(const AsioSdbusLoop&) = delete;

    // Processes what is pending and starts waiting. Call once after the connection's objects
    // and signal handlers are set up.
    void start();
    // Stops waiting; pending handlers become no-ops.
    void stop();

private:
    void arm();
    void onReady(std::uint64_t generation, const boost::system::error_code& ec);
    void process();

    boost::asio::io_context& io_;
    sdbus::IConnection& connection_;
    std::function<void(const std::string&)> onFatal_;
    boost::asio::posix::stream_descriptor bus_;
    boost::asio::posix::stream_descriptor event_;
    boost::asio::steady_timer timer_;
    std::uint64_t generation_ = 0;  // completions of an older arm() are ignored
    bool running_ = false;
};

}  // namespace jkbms::dbus
