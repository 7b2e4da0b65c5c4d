#include "jkbms/app/log_sink.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace jkbms::app {

NonBlockingSink::NonBlockingSink(int fd, std::size_t maxBuffered) : fd_(fd), maxBuffered_(maxBuffered) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return;  // written as a file: errors drop the lines
    if (S_ISSOCK(st.st_mode)) {
        mode_ = Mode::Socket;
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        const std::string self = "/proc/self/fd/" + std::to_string(fd);
        const int own = ::open(self.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (own >= 0) {
            fd_ = own;
            ownFd_ = true;
            mode_ = Mode::Reopened;
        } else {
            mode_ = Mode::Polled;
        }
    }
}

NonBlockingSink::~NonBlockingSink() {
    waiter_.reset();
    drain();  // whatever fits now; never waits
    if (ownFd_) ::close(fd_);
}

void NonBlockingSink::attach(boost::asio::io_context& io) {
    if (mode_ == Mode::File) return;  // a file is always writable
    const int dup = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return;
    waiter_ = std::make_unique<boost::asio::posix::stream_descriptor>(io, dup);
    if (buffered() > 0) armWait();
}

long NonBlockingSink::writeSome(const char* data, std::size_t size) {
    for (;;) {
        ssize_t n = 0;
        switch (mode_) {
            case Mode::Socket: n = ::send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL); break;
            case Mode::Polled: {
                pollfd p{fd_, POLLOUT, 0};
                if (::poll(&p, 1, 0) <= 0 || !(p.revents & POLLOUT)) return 0;
                // POLLOUT on a pipe guarantees room for PIPE_BUF bytes, not more.
                n = ::write(fd_, data, std::min<std::size_t>(size, PIPE_BUF));
                break;
            }
            case Mode::Reopened:
            case Mode::File: n = ::write(fd_, data, size); break;
        }
        if (n >= 0) return static_cast<long>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -1;
    }
}

bool NonBlockingSink::drain() {
    while (buffered() > 0) {
        const long n = writeSome(pending_.data() + sentOffset_, buffered());
        if (n < 0) {
            // The reader is gone or the descriptor broken: what waits is lost.
            for (std::size_t i = sentOffset_; i < pending_.size(); ++i)
                if (pending_[i] == '\n') noteDropped();
            pending_.clear();
            sentOffset_ = 0;
            return true;
        }
        if (n == 0) {
            armWait();
            return false;
        }
        sentOffset_ += static_cast<std::size_t>(n);
        if (sentOffset_ == pending_.size()) {
            pending_.clear();
            sentOffset_ = 0;
            if (droppedUnsaid_ > 0) {
                // The reader caught up: say what it missed, once.
                const std::string text = std::to_string(droppedUnsaid_) +
                                         " log lines dropped: standard output was not being read";
                droppedUnsaid_ = 0;
                spdlog::details::log_msg msg(spdlog::string_view_t{}, spdlog::level::warn, text);
                spdlog::memory_buf_t line;
                formatter_->format(msg, line);
                pending_.assign(line.data(), line.size());
            }
        }
    }
    return true;
}

void NonBlockingSink::sink_it_(const spdlog::details::log_msg& msg) {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    if (buffered() == 0) {
        pending_.clear();
        sentOffset_ = 0;
    }
    if (buffered() + line.size() > maxBuffered_) {
        noteDropped();
        drain();
        return;
    }
    if (sentOffset_ > maxBuffered_) {  // compact what was written
        pending_.erase(0, sentOffset_);
        sentOffset_ = 0;
    }
    pending_.append(line.data(), line.size());
    drain();
}

void NonBlockingSink::noteDropped() {
    ++droppedTotal_;
    ++droppedUnsaid_;
}

void NonBlockingSink::armWait() {
    if (!waiter_ || waiting_) return;
    waiting_ = true;
    waiter_->async_wait(boost::asio::posix::stream_descriptor::wait_write,
                        [this, life = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
                            if (life.expired()) return;
                            waiting_ = false;
                            if (!ec) drain();
                        });
}

}  // namespace jkbms::app
