#pragma once
// PowerControl: the BMS's display-port button on the loop - a relay driven by the press
// policy (power::PressPolicy: on 1 s, off 3 s, never overlapping) and the wake policy
// (power::WakePolicy: on presses with backoff while the BMS is silent, never off).
//
//   press()      a press asked for by a person (D-Bus, `jkbms power`) or by the daemon;
//                refused with the reason while another runs; one asked for within the gap
//                after the last press waits for the gap to pass (a person's quick "off, on")
//   checkWake()  called while the BMS is silent (each missed poll): presses on when due
//   switchedOff  an off press went through: no wake presses (and the daemon does not give
//                up on the BMS) until it answers again or is pressed on
//   release      the contact opens at the end of each press, on a relay failure, in
//                shutdown() and in the destructor - whatever runs
//
// One line per press in the log, and one per failure.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "jkbms/power/press_policy.hpp"
#include "jkbms/power/relay.hpp"

namespace jkbms::app {

class PowerControl {
public:
    using Clock = std::chrono::steady_clock;

    PowerControl(boost::asio::io_context& io, std::unique_ptr<power::Relay> relay, power::PressTimes press,
                 power::WakeTimes wake);
    ~PowerControl();
    PowerControl(const PowerControl&) = delete;
    PowerControl& operator=(const PowerControl&) = delete;

    // Starts a press; "" when it runs, else why not. `why` goes into the log line.
    std::string press(power::Press press, const std::string& why);
    // The BMS answered.
    void onReading(Clock::time_point now);
    // The BMS has been silent since `silentSince`: an on press when the wake policy says so.
    void checkWake(Clock::time_point silentSince, Clock::time_point now);
    // Opens the contact now and refuses every later press (the daemon is stopping).
    void shutdown();

    // A press runs, or waits for the gap.
    bool busy() const { return policy_.closed() || waiting_.has_value(); }
    // Whether the daemon should hold off giving up on a silent BMS: a press runs, the BMS was
    // switched off from here, or a press ended less than `grace` ago (the BMS is booting).
    bool holdsOn(Clock::time_point now, Clock::duration grace) const {
        return busy() || switchedOff_ || (lastEnded_ && now - *lastEnded_ < grace);
    }
    // The press that runs or waits.
    std::optional<power::Press> running() const { return policy_.closed() ? policy_.running() : waiting_; }
    bool switchedOff() const { return switchedOff_; }
    // An on press ended and the BMS has not answered since.
    bool awaitingAnswer() const { return awaitingAnswer_; }
    int wakeAttempts() const { return wake_.attempts(); }
    const power::PressTimes& times() const { return policy_.times(); }
    // New press times (power::PressPolicy::setTimes): a press that runs or waits keeps its
    // length; one line in the log when they differ.
    void setTimes(power::PressTimes times);
    std::string describe() const { return relay_->describe(); }
    // After each press, successful or not (the contact is open again).
    void onPressEnded(std::function<void(power::Press, bool ok)> handler) { onPressEnded_ = std::move(handler); }

private:
    std::string start(power::Press press, const std::string& why);
    void finish(bool ok);
    void fail(const std::string& why);

    std::unique_ptr<power::Relay> relay_;
    power::PressPolicy policy_;
    power::WakePolicy wake_;
    boost::asio::steady_timer timer_;
    std::optional<power::Press> current_;  // the press whose end finish() handles
    std::optional<power::Press> waiting_;  // accepted, starts when the gap has passed
    std::string waitingWhy_;
    bool stopped_ = false;
    bool switchedOff_ = false;
    bool awaitingAnswer_ = false;
    std::optional<Clock::time_point> lastEnded_;
    std::function<void(power::Press, bool)> onPressEnded_;
};

}  // namespace jkbms::app
