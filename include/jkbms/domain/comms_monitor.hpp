#pragma once
// CommsMonitor: the lost-communication timeline of charge-control.md section 5, as pure
// logic with the time passed in.
//
//   silent < stale_after               Ok
//   stale_after <= silent < invalidate Stale: /Alarms/BmsCable = 1, values kept
//   invalidate_after <= silent         Lost: BMS values and limits invalid, /Connected = 0
//   exit_after <= silent (if set)      shouldExit: release the name, exit non-zero
//
// "silent" counts from the last good reading, or from start() when there was none yet.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace jkbms::domain {

enum class CommsState : std::uint8_t {
    Ok,     // readings arrive
    Stale,  // no reading for stale_after: values kept, warning
    Lost,   // no reading for invalidate_after: nothing from the BMS may be used
    Off,    // switched off on request (an off press): nothing from the BMS may be used, at
            // once, and no fault (/Alarms/BmsCable 0). Set by the daemon, never by the monitor.
};

std::string_view commsStateName(CommsState state);  // "ok", "stale", "lost", "off"

struct CommsTimes {
    std::chrono::milliseconds staleAfter{std::chrono::seconds(5)};
    std::chrono::milliseconds invalidateAfter{std::chrono::seconds(30)};
    std::chrono::milliseconds exitAfter{std::chrono::seconds(120)};  // 0 = never

    // "" when the order stale <= invalidate <= exit (exit 0 = never) holds, else why not.
    std::string validate() const;
};

class CommsMonitor {
public:
    using Clock = std::chrono::steady_clock;

    explicit CommsMonitor(CommsTimes times) : times_(times) {}

    void start(Clock::time_point now) { since_ = now; }
    void onReading(Clock::time_point now) {
        since_ = now;
        everRead_ = true;
    }

    CommsState state(Clock::time_point now) const;
    bool shouldExit(Clock::time_point now) const;
    bool everRead() const { return everRead_; }
    Clock::duration silentFor(Clock::time_point now) const { return now - since_; }
    // When the state or the exit decision can next change, for a timer.
    Clock::time_point nextChange(Clock::time_point now) const;
    const CommsTimes& times() const { return times_; }

private:
    CommsTimes times_;
    Clock::time_point since_{};
    bool everRead_ = false;
};

}  // namespace jkbms::domain
