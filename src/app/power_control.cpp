#include "jkbms/app/power_control.hpp"

#include <spdlog/spdlog.h>

namespace jkbms::app {
namespace {

// A reading this long after an off press ended means the BMS is on after all (switched on
// by hand, or the press did not take): the switched-off state ends. Shorter, it may be the
// last answer of a BMS that is just shutting down.
constexpr auto kOffSettle = std::chrono::seconds(5);

// "0.5 s", "12 s"
std::string secondsText(std::chrono::steady_clock::duration d) {
    const auto tenths = std::chrono::duration_cast<std::chrono::milliseconds>(d).count() / 100;
    return tenths >= 100 || tenths % 10 == 0 ? std::to_string(tenths / 10) + " s"
                                              : std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
}

std::string lengthText(std::chrono::milliseconds ms) {
    return ms.count() % 1000 == 0 ? std::to_string(ms.count() / 1000) + " s" : std::to_string(ms.count()) + " ms";
}

}  // namespace

PowerControl::PowerControl(boost::asio::io_context& io, std::unique_ptr<power::Relay> relay, power::PressTimes press,
                           power::WakeTimes wake)
    : relay_(std::move(relay)), policy_(press), wake_(wake), timer_(io) {
    relay_->onFailure([this](const std::string& why) { fail(why); });
}

PowerControl::~PowerControl() { shutdown(); }

std::string PowerControl::press(power::Press press, const std::string& why) {
    if (stopped_) return "the daemon is stopping";
    if (busy()) return std::string{power::refusalText(power::PressPolicy::Refusal::Busy)};
    const auto readyAt = policy_.readyAt();
    if (Clock::now() >= readyAt) return start(press, why);
    // Within the gap after the last press: this one starts when the gap has passed.
    waiting_ = press;
    waitingWhy_ = why;
    timer_.expires_at(readyAt);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        const auto next = *waiting_;
        waiting_.reset();
        if (const std::string refused = start(next, waitingWhy_); !refused.empty() && onPressEnded_)
            onPressEnded_(next, false);
    });
    return {};
}

std::string PowerControl::start(power::Press press, const std::string& why) {
    const auto now = Clock::now();
    if (const auto refusal = policy_.start(press, now); refusal != power::PressPolicy::Refusal::None)
        return std::string{power::refusalText(refusal)};
    const auto length = press == power::Press::On ? policy_.times().on : policy_.times().off;
    try {
        relay_->set(true);
    } catch (const std::exception& e) {
        policy_.abort(now);
        spdlog::error("power: cannot press {} ({}): {}", power::pressName(press), why, e.what());
        try {
            relay_->set(false);
        } catch (const std::exception&) {
            // Already reported: the relay refuses.
        }
        return e.what();
    }
    spdlog::info("power: pressing {} for {} through {} ({})", power::pressName(press), lengthText(length),
                 relay_->describe(), why);
    current_ = press;
    if (press == power::Press::On) {
        switchedOff_ = false;
        wake_.pressed(now);  // a person's on press counts in the wake series too
    }
    timer_.expires_at(*policy_.nextChange());
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) finish(true);
    });
    return {};
}

void PowerControl::finish(bool ok) {
    // The press is over (its time is up, or it failed): open the contact.
    const auto press = current_.value_or(power::Press::On);
    current_.reset();
    bool opened = true;
    try {
        relay_->set(false);
    } catch (const std::exception& e) {
        opened = false;
        spdlog::error("power: cannot open the contact: {}", e.what());
    }
    policy_.update(Clock::now());  // the gap to the next press counts from here
    lastEnded_ = Clock::now();
    ok = ok && opened;
    awaitingAnswer_ = press == power::Press::On && ok;
    if (press == power::Press::Off && ok) {
        switchedOff_ = true;
        spdlog::info("power: switched off on request: no wake presses until the BMS answers again or is "
                     "pressed on");
    }
    if (onPressEnded_) onPressEnded_(press, ok);
}

void PowerControl::setTimes(power::PressTimes times) {
    const auto& now = policy_.times();
    if (times.on == now.on && times.off == now.off && times.gap == now.gap) return;
    spdlog::info("power: presses now on {}, off {}, gap {}", lengthText(times.on), lengthText(times.off),
                 lengthText(times.gap));
    policy_.setTimes(times);
}

void PowerControl::fail(const std::string& why) {
    // An asynchronous refusal (a D-Bus reply): the press, if any, ends now.
    if (!policy_.closed()) {
        spdlog::error("power: {}", why);
        return;
    }
    spdlog::error("power: {}; the press is aborted", why);
    policy_.abort(Clock::now());
    timer_.cancel();
    finish(false);
}

void PowerControl::onReading(Clock::time_point now) {
    wake_.onReading();
    awaitingAnswer_ = false;
    // While switched off, the last press was the off press (nothing else presses then).
    if (switchedOff_ && lastEnded_ && now - *lastEnded_ >= kOffSettle) {
        switchedOff_ = false;
        spdlog::info("power: the BMS answers again after being switched off");
    }
}

void PowerControl::checkWake(Clock::time_point silentSince, Clock::time_point now) {
    // Not deferred like a person's press: one that is too soon is tried at the next check.
    if (stopped_ || switchedOff_ || busy() || now < policy_.readyAt() || !wake_.due(silentSince, now)) return;
    const std::string why = "wake attempt " + std::to_string(wake_.attempts() + 1) + " of " +
                            std::to_string(wake_.times().attempts) + ", no answer for " + secondsText(now - silentSince);
    start(power::Press::On, why);
}

void PowerControl::shutdown() {
    if (stopped_) return;
    stopped_ = true;
    timer_.cancel();
    waiting_.reset();
    const bool wasClosed = policy_.closed();
    policy_.abort(Clock::now());
    try {
        relay_->set(false);
        if (wasClosed) spdlog::warn("power: a press was cut short: the contact is open");
    } catch (const std::exception& e) {
        spdlog::error("power: cannot open the contact: {}", e.what());
    }
}

}  // namespace jkbms::app
