#pragma once
// The JK display-port "button" (K- / K+), pressed by a relay contact: a short press (1 s)
// switches the BMS on, a long press (3 s) switches it off. Pure: time comes in as an
// argument, the caller drives the relay from what these classes say.
//
// PressPolicy   one press at a time:
//
//     Idle --start(p, now)--> Closed (contact closed) --update(now >= end)--> Idle (open)
//                                   \--abort()--> Idle (open at once: shutdown, error)
//
//   A request while a press runs, or within `gap` after one ended (the BMS must see the
//   contact open between two presses), is refused with the reason.
//
// WakePolicy    when the BMS falls silent: `on` presses with backoff - the first once it has
//   been silent for `after`, the next `interval` after the previous press, each interval
//   `backoff` times the one before, at most `attempts`. Never `off`. A reading resets it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace jkbms::power {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

enum class Press : std::uint8_t { On, Off };
std::string_view pressName(Press press);  // "on", "off"

struct PressTimes {
    milliseconds on{1000};
    milliseconds off{3000};
    milliseconds gap{1000};  // contact open at least this long between two presses
};

class PressPolicy {
public:
    enum class Refusal : std::uint8_t { None, Busy, TooSoon };

    explicit PressPolicy(PressTimes times) : times_(times) {}

    // Starts a press at `now` (the contact closes), or says why not.
    Refusal start(Press press, Clock::time_point now);
    // The contact's state at `now`; a press whose time is up ends here (returned once), and
    // the gap before the next press counts from `now`, when the caller opens the contact.
    struct Tick {
        bool closed = false;
        std::optional<Press> finished;
    };
    Tick update(Clock::time_point now);
    // When update() must run next (the end of the running press); nullopt when idle.
    std::optional<Clock::time_point> nextChange() const;
    // When a press may start again after the last one (the gap); a time in the past when it
    // may now. Only meaningful while idle.
    Clock::time_point readyAt() const { return lastOpen_ ? *lastOpen_ + times_.gap : Clock::time_point{}; }
    // Shutdown or a relay error: open the contact now, whatever runs.
    void abort(Clock::time_point now);

    bool closed() const { return running_.has_value(); }
    std::optional<Press> running() const { return running_; }
    const PressTimes& times() const { return times_; }
    // New press lengths and gap (a setting changed on the GX): a running press keeps the end
    // it started with; the gap after it and every later press use the new times.
    void setTimes(PressTimes times) { times_ = times; }

private:
    PressTimes times_;
    std::optional<Press> running_;
    Clock::time_point end_{};
    std::optional<Clock::time_point> lastOpen_;
};

std::string_view refusalText(PressPolicy::Refusal refusal);

struct WakeTimes {
    int attempts = 3;             // 0 = never wake
    milliseconds after{10000};    // silence before the first press
    milliseconds interval{20000}; // between the first and the second press
    double backoff = 2;           // each further interval this much longer
};

class WakePolicy {
public:
    explicit WakePolicy(WakeTimes times) : times_(times) {}

    // The BMS answered: a later silence starts a new series.
    void onReading() {
        attempts_ = 0;
        lastPress_.reset();
    }
    // When the next `on` press is due for a BMS silent since `silentSince`; nullopt when the
    // attempts are used up.
    std::optional<Clock::time_point> nextAttempt(Clock::time_point silentSince) const;
    bool due(Clock::time_point silentSince, Clock::time_point now) const {
        auto next = nextAttempt(silentSince);
        return next && now >= *next;
    }
    // The caller pressed `on` at `now` for this series.
    void pressed(Clock::time_point now) {
        ++attempts_;
        lastPress_ = now;
    }
    int attempts() const { return attempts_; }
    const WakeTimes& times() const { return times_; }
    // The latest time the whole series can end (for checking it fits before exit_after).
    milliseconds span() const;

private:
    WakeTimes times_;
    int attempts_ = 0;
    std::optional<Clock::time_point> lastPress_;
};

}  // namespace jkbms::power
