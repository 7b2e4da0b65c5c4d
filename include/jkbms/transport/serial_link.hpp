#pragma once
// SerialLink: one serial port on the daemon's io_context. Opens exclusively (TIOCEXCL, and a
// PortLock: flock plus serial-starter's lock file, which also stop root) in raw 8N1, hands
// every received chunk to onData, sends whole buffers it owns, and when the port fails (a USB
// adapter unplugged) closes it and reopens it with a doubling backoff, reporting each change
// through onState.
//
// One read per frame: a USB serial adapter hands a 300-byte answer over in chunks (62-byte
// packets, or whatever its latency timer collected), one wake-up and read() each. The reader
// says inside onData how many bytes of the frame that has begun are still to come
// (expectMore); the next read then waits their time on the wire and takes them in one go.
// Meanwhile the port is out of the loop's epoll set (asio would otherwise be woken by every
// chunk even with no read pending): one epoll_ctl to leave it and one to come back, instead of
// a wake-up per chunk. The port is opened and set up by asio's serial_port, then driven as a
// plain descriptor (serial_port cannot leave the epoll set and come back).

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "jkbms/transport/port_lock.hpp"
#include "jkbms/util/byte_reader.hpp"

namespace jkbms::transport {

class SerialLink {
public:
    struct Options {
        std::string path;
        std::uint32_t baud = 115200;
        std::chrono::milliseconds reopenFirst{500};
        std::chrono::milliseconds reopenMax{std::chrono::seconds(10)};
        std::string lockDir = PortLock::kSerialStarterDir;  // "" = flock only
    };
    using DataHandler = std::function<void(util::ByteView)>;
    // open = true after (re)opening; false with the reason after a failure.
    using StateHandler = std::function<void(bool open, const std::string& detail)>;

    SerialLink(boost::asio::io_context& io, Options options);
    ~SerialLink();
    SerialLink(const SerialLink&) = delete;
    SerialLink& operator=(const SerialLink&) = delete;

    void onData(DataHandler handler) { onData_ = std::move(handler); }
    void onState(StateHandler handler) { onState_ = std::move(handler); }

    // Opens the port; throws std::system_error when it cannot (a start-up error), PortInUse
    // (an EBUSY std::system_error naming the holder) when another process has it.
    void open();
    // Queues `bytes` for sending; false when the port is closed.
    bool send(std::vector<std::uint8_t> bytes);
    // Drops unread input (stale bytes before a new request).
    void discardInput();
    // Called from onData: `bytes` more bytes of a frame that has begun are expected (a hint
    // from the framer's length; 0 = none). The next read is started after their time on the
    // wire - 10 bits a byte at the baud rate, plus kCoalesceMargin for the adapter's latency,
    // at most kCoalesceMax - instead of at once. A wrong hint costs one more read or up to
    // kCoalesceMax of delay, never bytes: the kernel keeps them meanwhile.
    void expectMore(std::size_t bytes) { expected_ = bytes; }
    static constexpr std::chrono::microseconds kCoalesceMargin{5000};
    static constexpr std::chrono::microseconds kCoalesceMax{50000};
    // The wait expectMore(bytes) puts before the next read (0 for 0 bytes), so that a reader's
    // own line-idle timer can allow for it.
    std::chrono::microseconds coalesceWait(std::size_t bytes) const;
    // Reads that returned bytes since the link was made (for benchmarks and tests).
    std::uint64_t reads() const { return reads_; }
    bool isOpen() const { return port_.is_open() || heldFd_ >= 0; }
    void close();
    const std::string& path() const { return options_.path; }

private:
    void openPort();  // throws boost::system::system_error
    void startRead();
    void startWrite();
    void fail(const std::string& detail);
    void scheduleReopen();
    // The port's descriptor, in the loop or held out of it during a wait; -1 when closed.
    int fd();  // (asio's native_handle() is not const)
    // Closes the port, in the loop or held out of it.
    void closePort();

    boost::asio::io_context& io_;
    Options options_;
    boost::asio::posix::stream_descriptor port_;  // the open port, set up by serial_port
    int heldFd_ = -1;  // the port while it is out of the epoll set (expectMore's wait)
    std::unique_ptr<PortLock> lock_;  // while the port is open
    boost::asio::steady_timer reopenTimer_;
    boost::asio::steady_timer coalesceTimer_;  // the wait before a read that expects a frame's rest
    std::size_t expected_ = 0;
    std::uint64_t reads_ = 0;
    std::chrono::milliseconds backoff_;
    std::array<std::uint8_t, 512> readBuffer_{};
    std::deque<std::vector<std::uint8_t>> writeQueue_;
    bool writing_ = false;
    bool closing_ = false;
    std::uint64_t generation_ = 0;  // completions of a port closed since are ignored
    DataHandler onData_;
    StateHandler onState_;
    // Completions that run after the link is gone (its io_context lives on: the CLI opens and
    // closes links on one) see this expired and touch nothing.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace jkbms::transport
