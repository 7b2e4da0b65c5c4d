#include "jkbms/domain/comms_monitor.hpp"

#include <algorithm>

namespace jkbms::domain {

std::string_view commsStateName(CommsState state) {
    switch (state) {
        case CommsState::Ok: return "ok";
        case CommsState::Stale: return "stale";
        case CommsState::Lost: return "lost";
        case CommsState::Off: return "off";
    }
    return "?";
}

std::string CommsTimes::validate() const {
    using std::chrono::milliseconds;
    if (staleAfter <= milliseconds::zero()) return "stale_after must be positive";
    if (invalidateAfter < staleAfter) return "invalidate_after must not be shorter than stale_after";
    if (exitAfter != milliseconds::zero() && exitAfter < invalidateAfter)
        return "exit_after must be 0 (never) or not shorter than invalidate_after";
    return {};
}

CommsState CommsMonitor::state(Clock::time_point now) const {
    const auto silent = now - since_;
    if (silent >= times_.invalidateAfter) return CommsState::Lost;
    if (silent >= times_.staleAfter) return CommsState::Stale;
    return CommsState::Ok;
}

bool CommsMonitor::shouldExit(Clock::time_point now) const {
    return times_.exitAfter != std::chrono::milliseconds::zero() && now - since_ >= times_.exitAfter;
}

CommsMonitor::Clock::time_point CommsMonitor::nextChange(Clock::time_point now) const {
    Clock::time_point next = Clock::time_point::max();
    for (auto after : {times_.staleAfter, times_.invalidateAfter, times_.exitAfter}) {
        if (after == std::chrono::milliseconds::zero()) continue;
        const auto at = since_ + after;
        if (at > now) next = std::min(next, at);
    }
    return next;
}

}  // namespace jkbms::domain
