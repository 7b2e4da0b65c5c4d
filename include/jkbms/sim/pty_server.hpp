#pragma once
// PtyServer: plays JK BMSes on a pseudo-terminal. A stable symlink points at the pty's slave
// side, so a client can reopen "the same port" after unplug()/plug(). What is answered comes
// from a Responder (NW, or JK-PB packs on a bus); a fault changes or withholds the answers.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "jkbms/sim/responder.hpp"

namespace jkbms::sim {

enum class Fault : std::uint8_t {
    None,         // answer every request
    Silence,      // answer nothing
    Garbage,      // answer with bytes that are no frame
    Truncated,    // answer with the first half of the frame
    BadChecksum,  // answer with a corrupted checksum
    Late,         // answer after Options::lateBy
};

std::string_view faultName(Fault fault);
std::optional<Fault> parseFault(std::string_view name);

class PtyServer {
public:
    struct Options {
        std::string linkPath;  // symlink to the slave; "" = none (use slavePath())
        std::chrono::milliseconds lateBy{1500};
    };

    PtyServer(boost::asio::io_context& io, Responder& responder, Options options);
    ~PtyServer();
    PtyServer(const PtyServer&) = delete;
    PtyServer& operator=(const PtyServer&) = delete;

    // The path a client opens: the symlink if any, else the pty slave.
    const std::string& path() const { return options_.linkPath.empty() ? slavePath_ : options_.linkPath; }
    const std::string& slavePath() const { return slavePath_; }

    void setFault(Fault fault) { fault_ = fault; }
    Fault fault() const { return fault_; }
    // An echoing RS485 adapter: every byte the client sends comes back at once, ahead of any
    // answer (with Fault::Silence: a port that only echoes).
    void setEcho(bool echo) { echo_ = echo; }
    bool echo() const { return echo_; }
    // A USB serial adapter: what the BMS sends reaches the client in pieces of `bytes` (an
    // FTDI's 64-byte packet carries 62), one every piece's time on the wire at 115200 baud
    // (10 bits a byte), so the client wakes up once per piece unless it waits for the rest.
    // 0 (the default): each answer in one write.
    void setUsbPieces(std::size_t bytes) { pieceSize_ = bytes; }
    static constexpr std::size_t kFtdiPiece = 62;
    static constexpr std::size_t kCh340Piece = 32;  // a CH340's 32-byte bulk packet
    // Line noise: these bytes go out in front of every answer, in the same write.
    void setNoise(std::vector<std::uint8_t> before) { noise_ = std::move(before); }
    // The port disappears (the symlink goes, reads on the client side fail) / comes back.
    void unplug();
    void plug();
    bool plugged() const { return master_.is_open(); }
    // Bytes on the line that no request asked for (another master's traffic, noise).
    void inject(std::vector<std::uint8_t> bytes) { write(std::move(bytes)); }

    std::uint64_t requests() const { return requests_; }
    std::uint64_t answers() const { return answers_; }

private:
    void create();
    void startRead();
    void answer(Answer reply);
    void write(std::vector<std::uint8_t> bytes);
    void writeNextPiece();

    boost::asio::io_context& io_;
    Responder& responder_;
    Options options_;
    boost::asio::posix::stream_descriptor master_;
    int slaveFd_ = -1;
    std::string slavePath_;
    boost::asio::steady_timer lateTimer_;
    boost::asio::steady_timer pieceTimer_;
    std::size_t pieceSize_ = 0;
    std::deque<std::vector<std::uint8_t>> pieces_;  // still to write, paced by pieceTimer_
    bool piecing_ = false;
    std::array<std::uint8_t, 256> readBuffer_{};
    std::vector<Answer> batch_;  // answers to the bytes just read
    Fault fault_ = Fault::None;
    bool echo_ = false;
    std::vector<std::uint8_t> noise_;
    std::uint64_t generation_ = 0;
    std::uint64_t requests_ = 0;
    std::uint64_t answers_ = 0;
    // Completions after destruction (the io_context lives on) see this expired.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace jkbms::sim
