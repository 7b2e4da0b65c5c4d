#pragma once
// PbPoller: JK-PB packs on one RS485 bus, by DIP address (jk-protocols.md 3.2 and 3.3).
//
//   discovering  no addresses configured: one cell-info trigger to each of 1..15; the packs
//                that answer are polled from then on
//   polling      round robin, one trigger outstanding, at least `pacing` between commands:
//                about (device info) once, settings at start and every 10 minutes, cell info
//                every poll interval; a round that takes longer than the interval (many
//                packs) is followed by the next one at once, so every pack gets the same
//                rate, the best the bus allows; a pack that left (setGone) only a cell-info
//                request every goneProbeEvery, and at most one such probe per cycle (round
//                robin), so the packs that left cost the others at most one deadline per cycle
//   listening    a request we did not send showed up (a BMS at address 0 is the bus master):
//                nothing is sent any more; every answer on the bus is attributed by address
//
// It only frames and routes; the daemon decodes what it gets and says whether a frame was a
// reading. Our own request echoed by the adapter, a frame the daemon does not take and an
// echoed write are no answer: the job waits for the real one until its deadline.
//
// Switch writes: queued ahead of the reads but never two in a row (a read job goes between
// two writes, so the reads keep their slots), one per pack and register (a newer value
// replaces a queued one: the last wish wins), and an unanswered write is a miss of that pack
// like an unanswered cell-info request.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "jkbms/codec/pb_modbus.hpp"
#include "jkbms/transport/serial_link.hpp"

namespace jkbms::app {

class PbPoller {
public:
    struct Options {
        std::vector<std::uint8_t> addresses;  // empty: discover 1..15
        std::chrono::milliseconds interval{1000};
        std::chrono::milliseconds timeout{500};
        std::chrono::milliseconds pacing{120};
        std::chrono::milliseconds settingsEvery{std::chrono::minutes(10)};
        std::chrono::milliseconds goneProbeEvery{std::chrono::seconds(30)};
    };
    // A checksum-valid 300-byte 55 AA frame from the pack at `address`; true when the daemon
    // took it as an answer (false: not a reading, the job goes on waiting).
    using FrameHandler = std::function<bool(std::uint8_t address, util::ByteView frame)>;
    // A cell-info request or a write to `address` went unanswered.
    using MissHandler = std::function<void(std::uint8_t address, const std::string& why)>;

    PbPoller(boost::asio::io_context& io, transport::SerialLink& link, Options options);

    void onFrame(FrameHandler handler) { onFrame_ = std::move(handler); }
    void onMiss(MissHandler handler) { onMiss_ = std::move(handler); }
    // Called once discovery is over, with the addresses that answered.
    void onDiscovered(std::function<void(const std::vector<std::uint8_t>&)> handler) {
        onDiscovered_ = std::move(handler);
    }
    // Called once per poll round, when the last read job of the round (every pack's cell
    // info, or its miss, handed on first) is over; never while discovering or listening (no
    // rounds: a BMS master polls), nor after stop().
    void onRoundEnd(std::function<void()> handler) { onRoundEnd_ = std::move(handler); }
    // Called when another master is heard and the poller turns to listening only.
    void onListening(std::function<void()> handler) { onListening_ = std::move(handler); }
    // Rounds finished since start(): onRoundEnd's count (for tests and measurements).
    std::uint64_t roundsFinished() const { return rounds_; }
    void start();
    void stop();
    // At most this many writes wait (one per pack and register).
    static constexpr std::size_t kMaxPendingWrites = 16;
    // An FC16 write of one u32 (a switch register, jk-protocols.md 3.4) to the pack at
    // `address`, sent before the reads queued but never right after another write; once
    // ACKed, a settings trigger reads the switches back. `done` gets whether the pack ACKed
    // it; a write still queued when a newer one for the same pack and register comes gets
    // done(false, "replaced ..."). Nothing is sent while listening (a BMS master drives the
    // bus) or when kMaxPendingWrites wait: false, and `done` is not called.
    using WriteDone = std::function<void(bool acked, const std::string& why)>;
    bool write(std::uint8_t address, std::uint16_t reg, std::uint32_t value, WriteDone done);
    // A pack whose service left the bus (true) is only probed every goneProbeEvery; its
    // first answer (onFrame) is the daemon's cue to call setGone(address, false), which also
    // asks its device info again (it may be another pack) and its settings.
    void setGone(std::uint8_t address, bool gone);
    bool listening() const { return listening_; }
    const std::vector<std::uint8_t>& addresses() const { return addresses_; }

private:
    struct Write {
        std::uint16_t reg;
        std::uint32_t value;
        WriteDone done;
    };
    struct Job {
        std::uint8_t address;
        codec::pb::Trigger trigger;
        std::shared_ptr<Write> write{};  // set: this job is a write, not a trigger
    };
    void scheduleCycle();
    void enqueueCycle();
    void next();
    void send(const Job& job);
    // Points wake_ at what comes first - the job's timeout, the line's idle flush, the end of
    // the pacing gap - unless it already waits for that instant. One timer for all three: a
    // timer cancelled early (the answer came) would otherwise still wake the process at its
    // old time (asio leaves the timerfd armed).
    void rearm();
    // wake_ fired: the idle flush, the timeout and/or the gap's end that are due, then rearm().
    void onWake();
    void onBytes(util::ByteView bytes);
    void onIdle();
    void handle(const codec::pb::BusEvent& ev);
    void finishJob(bool answered, const std::string& why);
    void finishDiscovery();

    boost::asio::io_context& io_;
    transport::SerialLink& link_;
    Options options_;
    boost::asio::steady_timer cycleTimer_;
    boost::asio::steady_timer wake_;  // the job's timeout, the idle flush, the pacing gap's end
    bool armed_ = false;              // wake_ waits for armedFor_
    std::chrono::steady_clock::time_point armedFor_{};
    std::uint64_t wakeGen_ = 0;  // the current wait; completions of older ones are ignored
    std::chrono::steady_clock::time_point jobDeadline_{};  // of the job in flight
    bool idleDue_ = false;  // bytes wait in the framer: flush them at idleAt_ if none follow
    std::chrono::steady_clock::time_point idleAt_{};
    // The end of the pacing gap after the last job: next() sends nothing before it, whoever
    // calls it (the gap's end, a cycle tick, a switch write).
    std::chrono::steady_clock::time_point quietUntil_{};
    bool pacingDue_ = false;  // next() is called at quietUntil_
    std::chrono::steady_clock::time_point nextCycle_;
    bool overran_ = false;  // a cycle came due while the last one still ran
    codec::pb::BusFramer framer_;
    std::deque<Job> queue_;
    std::optional<Job> inFlight_;
    std::vector<std::uint8_t> lastRequest_;
    std::vector<std::uint8_t> addresses_;
    std::vector<std::uint8_t> found_;
    std::map<std::uint8_t, bool> haveAbout_;
    std::map<std::uint8_t, std::chrono::steady_clock::time_point> settingsDue_;
    std::map<std::uint8_t, std::chrono::steady_clock::time_point> goneProbeDue_;  // the packs that left
    std::uint8_t lastGoneProbe_ = 0;  // the pack that left probed last (one per cycle, round robin)
    bool discovering_ = false;
    bool listening_ = false;
    bool lastWasWrite_ = false;  // the job sent last was a write: a read goes next
    bool roundOpen_ = false;     // a round's read jobs are queued or in flight
    std::uint64_t rounds_ = 0;
    bool running_ = false;
    FrameHandler onFrame_;
    MissHandler onMiss_;
    std::function<void(const std::vector<std::uint8_t>&)> onDiscovered_;
    std::function<void()> onRoundEnd_;
    std::function<void()> onListening_;
};

}  // namespace jkbms::app
