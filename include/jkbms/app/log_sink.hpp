#pragma once
// NonBlockingSink: the daemon's log on standard output without ever blocking the loop. On
// Venus the log goes through a pipe to multilog; a reader that stalls (multilog stuck, a pipe
// nobody reads) would otherwise block the one thread in write(): no polls, no D-Bus answers,
// a dead BMS never reported. Lines go into a bounded buffer that is written out without
// blocking; when the buffer is full, lines are dropped and counted, and once the reader
// catches up one line says how many were lost ("N log lines dropped ...").
//
// Why not spdlog's async logger (overrun_oldest): its worker thread still blocks in write(),
// and spdlog::shutdown() at exit joins that thread (posting the terminate message with the
// blocking policy), so a stalled reader would hang the exit instead. This sink has no thread.
//
// Non-blocking without touching the shared file description (setting O_NONBLOCK on fd 1 would
// change the shell's terminal or the supervisor's pipe too): a pipe, FIFO or terminal is
// reopened through /proc/self/fd with O_NONBLOCK (a new description of the same pipe or
// terminal), a socket is written with send(MSG_DONTWAIT), a regular file as it is. Where the
// reopen fails, each write waits for POLLOUT with a zero timeout first.

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace jkbms::app {

class NonBlockingSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
public:
    // `fd` stays open and owned by the caller (standard output: 1). `maxBuffered`: bytes held
    // while the reader does not read; lines that do not fit are dropped.
    // 8 kB: about 80 lines at the info level; at trace level (frames in hex) about 2 s.
    explicit NonBlockingSink(int fd, std::size_t maxBuffered = 8 * 1024);
    ~NonBlockingSink() override;
    NonBlockingSink(const NonBlockingSink&) = delete;
    NonBlockingSink& operator=(const NonBlockingSink&) = delete;

    // Writes the rest of the buffer when the descriptor becomes writable again (without it,
    // only the next line does). Call once, on the loop that runs the logging code.
    void attach(boost::asio::io_context& io);
    // Before that io_context goes: no more waiting on it (lines still go out as they come).
    void detach() { waiter_.reset(); }
    // Writes what it can without blocking; true when nothing is left.
    bool drain();

    std::size_t buffered() const { return pending_.size() - sentOffset_; }
    std::uint64_t dropped() const { return droppedTotal_; }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override { drain(); }

private:
    enum class Mode : std::uint8_t {
        Reopened,  // our own O_NONBLOCK description of the pipe / terminal
        Socket,    // send(MSG_DONTWAIT)
        File,      // a regular file (or anything else): plain write
        Polled,    // reopen failed: poll(POLLOUT, 0) before each write
    };
    // One write without blocking: bytes written, 0 when it would block, -1 on an error.
    long writeSome(const char* data, std::size_t size);
    void armWait();
    void noteDropped();

    int fd_ = -1;     // what we write to (ours when reopened)
    bool ownFd_ = false;
    Mode mode_ = Mode::File;
    std::size_t maxBuffered_;
    std::string pending_;
    std::size_t sentOffset_ = 0;
    std::uint64_t droppedTotal_ = 0;
    std::uint64_t droppedUnsaid_ = 0;  // not reported by a line yet
    std::unique_ptr<boost::asio::posix::stream_descriptor> waiter_;
    bool waiting_ = false;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace jkbms::app
