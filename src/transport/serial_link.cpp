#include "jkbms/transport/serial_link.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/read.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <system_error>
#include <utility>

namespace jkbms::transport {

namespace asio = boost::asio;

SerialLink::SerialLink(asio::io_context& io, Options options)
    : io_(io), options_(std::move(options)), port_(io), reopenTimer_(io), coalesceTimer_(io), backoff_(options_.reopenFirst) {}

SerialLink::~SerialLink() { close(); }

void SerialLink::open() {
    try {
        openPort();
    } catch (const PortInUse&) {
        throw;
    } catch (const boost::system::system_error& e) {
        throw std::system_error(e.code().value(), std::generic_category(), options_.path);
    }
}

void SerialLink::openPort() {
    closePort();  // a port still open (or held out of the loop) is not left behind
    asio::serial_port serial(io_);  // opens raw and sets the line up; port_ then drives it
    serial.open(options_.path);
    // Exclusive: a second opener (another driver) gets EBUSY instead of stealing bytes.
    if (::ioctl(serial.native_handle(), TIOCEXCL) != 0 && errno != ENOTTY) {
        const int err = errno;
        serial.close();
        throw boost::system::system_error(err, boost::system::system_category(), "TIOCEXCL");
    }
    std::unique_ptr<PortLock> lock;
    try {
        lock = std::make_unique<PortLock>(serial.native_handle(), options_.path, options_.lockDir);
    } catch (const PortInUse&) {
        boost::system::error_code ignored;
        serial.close(ignored);
        throw;
    }
    using base = asio::serial_port_base;
    serial.set_option(base::baud_rate(options_.baud));
    serial.set_option(base::character_size(8));
    serial.set_option(base::parity(base::parity::none));
    serial.set_option(base::stop_bits(base::stop_bits::one));
    serial.set_option(base::flow_control(base::flow_control::none));
    // The same open file (its flock, its line settings) on a descriptor of its own.
    const int fd = ::fcntl(serial.native_handle(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) throw boost::system::system_error(errno, boost::system::system_category(), "dup");
    boost::system::error_code ec;
    serial.close(ec);  // the descriptor that stays open keeps the port
    port_.assign(fd, ec);
    if (ec) {
        ::close(fd);  // else its flock would keep the port from us at every later try
        throw boost::system::system_error(ec, "assign");
    }
    lock_ = std::move(lock);
    ++generation_;
    backoff_ = options_.reopenFirst;
    writing_ = false;
    writeQueue_.clear();
    startRead();
}

void SerialLink::close() {
    closing_ = true;
    reopenTimer_.cancel();
    coalesceTimer_.cancel();
    ++generation_;
    closePort();
    lock_.reset();
}

int SerialLink::fd() {
    if (heldFd_ >= 0) return heldFd_;
    return port_.is_open() ? port_.native_handle() : -1;
}

void SerialLink::closePort() {
    boost::system::error_code ignored;
    if (port_.is_open()) port_.close(ignored);
    if (heldFd_ >= 0) ::close(std::exchange(heldFd_, -1));
}

bool SerialLink::send(std::vector<std::uint8_t> bytes) {
    if (!isOpen()) return false;
    writeQueue_.push_back(std::move(bytes));
    if (!writing_ && port_.is_open()) startWrite();  // held out of the loop: after the wait
    return true;
}

void SerialLink::discardInput() {
    if (const int d = fd(); d >= 0) ::tcflush(d, TCIFLUSH);
}

std::chrono::microseconds SerialLink::coalesceWait(std::size_t bytes) const {
    if (bytes == 0) return std::chrono::microseconds{0};
    const auto onWire = std::chrono::microseconds(
        static_cast<std::int64_t>(bytes * 10 * 1000000 / std::max<std::uint32_t>(options_.baud, 1)));
    return std::min(onWire + kCoalesceMargin, kCoalesceMax);
}

void SerialLink::startRead() {
    port_.async_read_some(asio::buffer(readBuffer_), [this, life = std::weak_ptr<int>(alive_), gen = generation_](
                                                         const boost::system::error_code& ec, std::size_t n) {
        if (life.expired() || gen != generation_) return;
        if (ec) {
            fail(ec.message());
            return;
        }
        // A 0-byte read is not an end: keep reading (the ros serial driver stopped here).
        expected_ = 0;
        if (n > 0) {
            ++reads_;
            if (onData_) onData_(util::ByteView{readBuffer_.data(), n});
        }
        if (gen != generation_) return;
        const std::size_t expected = std::exchange(expected_, 0);
        if (expected == 0) {
            startRead();
            return;
        }
        // The rest of the frame is on its way: read it in one go once it has had time to come,
        // out of the epoll set meanwhile (no wake-up per chunk). A write in flight keeps the
        // port in the loop: then only the read waits.
        if (!writing_) heldFd_ = port_.release();
        coalesceTimer_.expires_after(coalesceWait(expected));
        coalesceTimer_.async_wait([this, life = std::weak_ptr<int>(alive_), gen](const boost::system::error_code& wait) {
            if (wait || life.expired() || gen != generation_) return;
            if (heldFd_ >= 0) {
                boost::system::error_code back;
                port_.assign(heldFd_, back);
                if (back) {
                    fail(back.message());
                    return;
                }
                heldFd_ = -1;
                if (!writing_ && !writeQueue_.empty()) startWrite();
            }
            startRead();
        });
    });
}

void SerialLink::startWrite() {
    writing_ = true;
    // The buffer is owned by the queue until the write completes.
    asio::async_write(port_, asio::buffer(writeQueue_.front()),
                      [this, life = std::weak_ptr<int>(alive_), gen = generation_](const boost::system::error_code& ec,
                                                                                   std::size_t) {
                          if (life.expired() || gen != generation_) return;
                          if (ec) {
                              fail(ec.message());
                              return;
                          }
                          writeQueue_.pop_front();
                          if (writeQueue_.empty()) writing_ = false;
                          else startWrite();
                      });
}

void SerialLink::fail(const std::string& detail) {
    ++generation_;
    coalesceTimer_.cancel();
    closePort();
    lock_.reset();
    writing_ = false;
    writeQueue_.clear();
    if (onState_) onState_(false, detail);
    scheduleReopen();
}

void SerialLink::scheduleReopen() {
    if (closing_) return;
    reopenTimer_.expires_after(backoff_);
    reopenTimer_.async_wait([this, life = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (ec || life.expired() || closing_) return;
        try {
            openPort();
            if (onState_) onState_(true, "reopened");
        } catch (const std::exception&) {  // gone still, or taken by another process meanwhile
            backoff_ = std::min(backoff_ * 2, options_.reopenMax);
            scheduleReopen();
        }
    });
}

}  // namespace jkbms::transport
