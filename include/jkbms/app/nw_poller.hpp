#pragma once
// NwPoller: one NW read-all per poll interval on a SerialLink, one request outstanding, each
// answered within the poll timeout or counted as missed (jk-protocols.md 1.8).

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>
#include <string>

#include "jkbms/codec/nw.hpp"
#include "jkbms/config/config.hpp"
#include "jkbms/transport/serial_link.hpp"

namespace jkbms::app {

class NwPoller {
public:
    using ReadingHandler = std::function<void(const codec::nw::ReadAll&)>;
    using MissHandler = std::function<void(const std::string& why)>;

    NwPoller(boost::asio::io_context& io, transport::SerialLink& link, config::PollConfig poll);

    void onReading(ReadingHandler handler) { onReading_ = std::move(handler); }
    void onMiss(MissHandler handler) { onMiss_ = std::move(handler); }
    void start();
    void stop();
    // Sends an NW write frame (a switch) as soon as no request is outstanding - between polls -
    // then reads all at once, so the next reading shows what the BMS made of it. `done` gets
    // whether the BMS answered the write.
    using WriteDone = std::function<void(bool answered, const std::string& why)>;
    void write(std::vector<std::uint8_t> frame, WriteDone done);

    std::uint64_t polls() const { return polls_; }
    std::uint64_t misses() const { return misses_; }

private:
    void poll();
    void sendWrite();
    void pollNow();
    void onBytes(util::ByteView bytes);
    void miss(const std::string& why);
    void scheduleNext();

    boost::asio::io_context& io_;
    transport::SerialLink& link_;
    config::PollConfig config_;
    boost::asio::steady_timer interval_;
    boost::asio::steady_timer deadline_;
    std::chrono::steady_clock::time_point nextPoll_;
    codec::nw::Framer framer_;
    bool awaiting_ = false;
    struct PendingWrite {
        std::vector<std::uint8_t> frame;
        WriteDone done;
    };
    std::deque<PendingWrite> writes_;
    std::optional<PendingWrite> writing_;  // sent, its answer awaited
    bool running_ = false;
    std::uint64_t polls_ = 0;
    std::uint64_t misses_ = 0;
    const std::vector<std::uint8_t> request_ = codec::nw::encodeReadAll();
    ReadingHandler onReading_;
    MissHandler onMiss_;
};

}  // namespace jkbms::app
