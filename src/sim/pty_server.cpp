#include "jkbms/sim/pty_server.hpp"

#include <fcntl.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/write.hpp>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <system_error>

namespace jkbms::sim {

namespace asio = boost::asio;

std::string_view faultName(Fault fault) {
    switch (fault) {
        case Fault::None: return "none";
        case Fault::Silence: return "silence";
        case Fault::Garbage: return "garbage";
        case Fault::Truncated: return "truncated";
        case Fault::BadChecksum: return "checksum";
        case Fault::Late: return "late";
    }
    return "?";
}

std::optional<Fault> parseFault(std::string_view name) {
    for (Fault f : {Fault::None, Fault::Silence, Fault::Garbage, Fault::Truncated, Fault::BadChecksum, Fault::Late})
        if (faultName(f) == name) return f;
    return std::nullopt;
}

PtyServer::PtyServer(asio::io_context& io, Responder& responder, Options options)
    : io_(io), responder_(responder), options_(std::move(options)), master_(io), lateTimer_(io), pieceTimer_(io) {
    create();
}

PtyServer::~PtyServer() {
    unplug();
}

void PtyServer::create() {
    int master = -1;
    int slave = -1;
    char name[128] = {};
    if (::openpty(&master, &slave, name, nullptr, nullptr) != 0)
        throw std::system_error(errno, std::generic_category(), "openpty");
    // Raw from the start, so nothing is echoed or translated before a client sets its mode.
    termios tio{};
    ::tcgetattr(slave, &tio);
    ::cfmakeraw(&tio);
    ::tcsetattr(slave, TCSANOW, &tio);
    ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
    master_.assign(master);
    slaveFd_ = slave;  // held open so the pty lives while clients come and go
    slavePath_ = name;
    if (!options_.linkPath.empty()) {
        std::error_code ec;
        std::filesystem::remove(options_.linkPath, ec);
        std::filesystem::create_symlink(slavePath_, options_.linkPath);
    }
    responder_.reset();
    ++generation_;
    startRead();
}

void PtyServer::unplug() {
    ++generation_;
    lateTimer_.cancel();
    boost::system::error_code ignored;
    if (master_.is_open()) master_.close(ignored);
    if (slaveFd_ >= 0) ::close(slaveFd_);
    slaveFd_ = -1;
    if (!options_.linkPath.empty()) {
        std::error_code ec;
        std::filesystem::remove(options_.linkPath, ec);
    }
}

void PtyServer::plug() {
    if (!master_.is_open()) create();
}

void PtyServer::startRead() {
    master_.async_read_some(asio::buffer(readBuffer_), [this, life = std::weak_ptr<int>(alive_), gen = generation_](
                                                           const boost::system::error_code& ec, std::size_t n) {
        if (ec || life.expired() || gen != generation_) return;  // gone, unplugged, or the client side is gone
        if (echo_) {
            // Not counted as an answer: the adapter, not the BMS, sends it.
            auto owned = std::make_shared<std::vector<std::uint8_t>>(readBuffer_.begin(), readBuffer_.begin() + static_cast<std::ptrdiff_t>(n));
            asio::async_write(master_, asio::buffer(*owned), [owned](const boost::system::error_code&, std::size_t) {});
        }
        batch_.clear();
        responder_.feed(util::ByteView{readBuffer_.data(), n}, batch_);
        for (Answer& a : batch_) {
            ++requests_;
            answer(std::move(a));
        }
        startRead();
    });
}

void PtyServer::answer(Answer reply) {
    if (!noise_.empty() && fault_ != Fault::Silence) reply.insert(reply.begin(), noise_.begin(), noise_.end());
    switch (fault_) {
        case Fault::None: break;
        case Fault::Silence: return;
        case Fault::Garbage: reply.assign(reply.size(), 0xA5); break;
        case Fault::Truncated: reply.resize(reply.size() / 2); break;
        case Fault::BadChecksum:
            // NW: the sum16 trailer ends the answer; JK-PB: the frame's sum8 at 299.
            reply[reply.size() > 300 ? noise_.size() + 299 : reply.size() - 1] ^= 0x5A;
            break;
        case Fault::Late:
            lateTimer_.expires_after(options_.lateBy);
            lateTimer_.async_wait([this, life = std::weak_ptr<int>(alive_), reply, gen = generation_](
                                      const boost::system::error_code& ec) mutable {
                if (!ec && !life.expired() && gen == generation_) write(std::move(reply));
            });
            return;
    }
    write(std::move(reply));
}

void PtyServer::write(std::vector<std::uint8_t> bytes) {
    ++answers_;
    if (pieceSize_ == 0) {
        auto owned = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes));
        asio::async_write(master_, asio::buffer(*owned), [owned](const boost::system::error_code&, std::size_t) {});
        return;
    }
    for (std::size_t at = 0; at < bytes.size(); at += pieceSize_) {
        const auto from = bytes.begin() + static_cast<std::ptrdiff_t>(at);
        pieces_.emplace_back(from, from + static_cast<std::ptrdiff_t>(std::min(pieceSize_, bytes.size() - at)));
    }
    if (!piecing_) writeNextPiece();
}

void PtyServer::writeNextPiece() {
    if (pieces_.empty() || !master_.is_open()) {
        piecing_ = false;
        pieces_.clear();
        return;
    }
    piecing_ = true;
    auto owned = std::make_shared<std::vector<std::uint8_t>>(std::move(pieces_.front()));
    pieces_.pop_front();
    asio::async_write(master_, asio::buffer(*owned), [owned](const boost::system::error_code&, std::size_t) {});
    // The next piece once this one has had its time on the wire (10 bits a byte at 115200).
    pieceTimer_.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(owned->size() * 10 * 1000000 / 115200)));
    pieceTimer_.async_wait([this, life = std::weak_ptr<int>(alive_), gen = generation_](const boost::system::error_code& ec) {
        if (ec || life.expired()) return;
        if (gen != generation_) {
            piecing_ = false;
            pieces_.clear();
            return;
        }
        writeNextPiece();
    });
}

}  // namespace jkbms::sim
