#include "jkbms/power/press_policy.hpp"

#include <cmath>

namespace jkbms::power {

std::string_view pressName(Press press) { return press == Press::On ? "on" : "off"; }

std::string_view refusalText(PressPolicy::Refusal refusal) {
    switch (refusal) {
        case PressPolicy::Refusal::None: return "";
        case PressPolicy::Refusal::Busy: return "a press is running";
        case PressPolicy::Refusal::TooSoon: return "the previous press ended too recently";
    }
    return "?";
}

PressPolicy::Refusal PressPolicy::start(Press press, Clock::time_point now) {
    if (running_ && now >= end_) {  // a press nobody ended: it ended on time
        running_.reset();
        lastOpen_ = end_;
    }
    if (running_) return Refusal::Busy;
    if (lastOpen_ && now - *lastOpen_ < times_.gap) return Refusal::TooSoon;
    running_ = press;
    end_ = now + (press == Press::On ? times_.on : times_.off);
    return Refusal::None;
}

PressPolicy::Tick PressPolicy::update(Clock::time_point now) {
    Tick tick;
    if (running_ && now >= end_) {
        tick.finished = running_;
        running_.reset();
        lastOpen_ = now;  // the caller opens the contact now, maybe a little after end_
    }
    tick.closed = running_.has_value();
    return tick;
}

std::optional<Clock::time_point> PressPolicy::nextChange() const {
    if (!running_) return std::nullopt;
    return end_;
}

void PressPolicy::abort(Clock::time_point now) {
    if (!running_) return;
    running_.reset();
    lastOpen_ = now;
}

std::optional<Clock::time_point> WakePolicy::nextAttempt(Clock::time_point silentSince) const {
    if (attempts_ >= times_.attempts) return std::nullopt;
    if (!lastPress_) return silentSince + times_.after;
    // The k-th interval (k = 1 after the first press) is interval x backoff^(k-1).
    const double factor = std::pow(times_.backoff, attempts_ - 1);
    const auto wait = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(static_cast<double>(times_.interval.count()) * factor));
    return *lastPress_ + wait;
}

milliseconds WakePolicy::span() const {
    if (times_.attempts <= 0) return milliseconds{0};
    double total = static_cast<double>(times_.after.count());
    for (int k = 1; k < times_.attempts; ++k)
        total += static_cast<double>(times_.interval.count()) * std::pow(times_.backoff, k - 1);
    return milliseconds{static_cast<milliseconds::rep>(std::llround(total))};
}

}  // namespace jkbms::power
