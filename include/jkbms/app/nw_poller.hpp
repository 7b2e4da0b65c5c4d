#pragma once
// NwPoller: one NW read-all per poll interval on a SerialLink, one request outstanding, each
// answered within the poll timeout or counted as missed (jk-protocols.md 1.8).
//
// What counts as an answer: a frame that is not our own request echoed back (many RS485
// adapters echo every byte sent) and, for a read, a reading (codec::nw::whyNotAReading).
// Anything else on the line - an echo, stray bytes, a bad frame - is skipped and the real
// reply is still awaited until the deadline; only then is the poll missed (with the last
// thing skipped as the reason).
//
// Switch writes go between reads: reads keep their slots (a read due while a write is out is
// sent as soon as it ends), at most one write goes between two reads, and an unanswered
// write is a missed poll like an unanswered read, so a silent BMS is noticed on time
// whatever clients write. Pending writes are kept per data id - a newer write to the same id
// replaces the older one (the last wish wins) - so the queue holds at most one write per id.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
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
    // A read or a write that got no answer within the timeout.
    using MissHandler = std::function<void(const std::string& why)>;

    // At most this many writes wait (one per data id; the switches are three).
    static constexpr std::size_t kMaxPendingWrites = 8;

    NwPoller(boost::asio::io_context& io, transport::SerialLink& link, config::PollConfig poll);

    void onReading(ReadingHandler handler) { onReading_ = std::move(handler); }
    void onMiss(MissHandler handler) { onMiss_ = std::move(handler); }
    void start();
    void stop();
    // Queues an NW write frame (codec::nw::encodeWrite) of data id `dataId`, sent between two
    // reads and followed by a read at once, so the next reading shows what the BMS made of
    // it. `done` gets whether the BMS answered (an echo of the write is no answer); a write
    // still waiting when a newer one for the same id comes gets done(false, "replaced ...").
    // false (and `done` is not called) when kMaxPendingWrites other ids already wait.
    using WriteDone = std::function<void(bool answered, const std::string& why)>;
    bool write(std::uint8_t dataId, std::vector<std::uint8_t> frame, WriteDone done);

    bool running() const { return running_; }
    std::uint64_t polls() const { return polls_; }
    std::uint64_t misses() const { return misses_; }
    std::size_t pendingWrites() const { return writes_.size(); }

private:
    enum class Out : std::uint8_t {
        None,   // nothing sent is awaited
        Read,   // a read-all is out
        Write,  // a write is out (writing_)
    };
    struct PendingWrite {
        std::uint8_t dataId = 0;
        std::vector<std::uint8_t> frame;
        WriteDone done;
    };

    void poll();
    void sendRead();
    void sendWrite();
    void send(const std::vector<std::uint8_t>& frame);
    // Points wake_ at what comes first - the deadline of the request out, else the next poll
    // - unless it already waits for that instant. One timer for both: a deadline cancelled by
    // the answer would otherwise still wake the process (asio leaves the timerfd armed).
    void rearm();
    // wake_ fired: the deadline (a miss) and/or the poll due, then rearm().
    void onWake();
    // Added to SerialLink's wait for the rest of a begun answer when the deadline is moved.
    static constexpr std::chrono::milliseconds kReadMargin{10};
    void onBytes(util::ByteView bytes);
    // Whether `frame` answers the request that is out; else `rejected_` says why not.
    bool answers(util::ByteView frame, std::optional<codec::nw::ReadAll>& reading);
    void onDeadline();
    void miss(const std::string& why);
    // The request out has ended: the read due, or one write after a read.
    void next(Out ended);
    void scheduleNext();

    boost::asio::io_context& io_;
    transport::SerialLink& link_;
    config::PollConfig config_;
    boost::asio::steady_timer wake_;  // the next poll or the deadline of the request out
    bool armed_ = false;              // wake_ waits for armedFor_
    std::chrono::steady_clock::time_point armedFor_;
    std::uint64_t wakeGen_ = 0;  // the current wait; completions of older ones are ignored
    std::chrono::steady_clock::time_point nextPoll_;
    std::chrono::steady_clock::time_point deadline_;  // of the request out (out_ != None)
    codec::nw::Framer framer_;
    Out out_ = Out::None;
    std::vector<std::uint8_t> sent_;  // the request out (its echo is no answer)
    std::string rejected_;            // what was skipped while it was out
    bool readDue_ = false;            // a read slot came while a write was out
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
