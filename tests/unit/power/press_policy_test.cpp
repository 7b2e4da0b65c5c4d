// Press and wake timelines of the display-port relay, time passed in (issue 6).

#include "jkbms/power/press_policy.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace jkbms::power {
namespace {

using namespace std::chrono_literals;
using Refusal = PressPolicy::Refusal;

const Clock::time_point t0{};

// The contact as a fake relay would see it: every transition with its time.
struct Timeline {
    PressPolicy policy{PressTimes{}};
    std::vector<std::pair<milliseconds, bool>> transitions;
    bool contact = false;

    void at(milliseconds t) {
        const bool closed = policy.update(t0 + t).closed;
        record(t, closed);
    }
    Refusal press(Press p, milliseconds t) {
        const Refusal r = policy.start(p, t0 + t);
        record(t, policy.closed());
        return r;
    }
    void record(milliseconds t, bool closed) {
        if (closed != contact) transitions.emplace_back(t, closed);
        contact = closed;
    }
};

TEST(PressPolicy, OnIsOneSecondOffIsThree) {
    Timeline tl;
    EXPECT_EQ(tl.press(Press::On, 0ms), Refusal::None);
    EXPECT_EQ(tl.policy.nextChange(), t0 + 1000ms);
    tl.at(999ms);
    EXPECT_TRUE(tl.contact);
    const auto tick = tl.policy.update(t0 + 1000ms);
    EXPECT_FALSE(tick.closed);
    EXPECT_EQ(tick.finished, Press::On);
    tl.record(1000ms, tick.closed);
    EXPECT_FALSE(tl.policy.update(t0 + 1001ms).finished) << "reported once";
    EXPECT_EQ(tl.press(Press::Off, 5000ms), Refusal::None);
    tl.at(7999ms);
    tl.at(8000ms);
    const std::vector<std::pair<milliseconds, bool>> expected{
        {0ms, true}, {1000ms, false}, {5000ms, true}, {8000ms, false}};
    EXPECT_EQ(tl.transitions, expected);
    EXPECT_FALSE(tl.policy.nextChange());
}

TEST(PressPolicy, PressesNeverOverlapAndKeepAGap) {
    Timeline tl;
    ASSERT_EQ(tl.press(Press::Off, 0ms), Refusal::None);
    EXPECT_EQ(tl.press(Press::On, 1500ms), Refusal::Busy);
    EXPECT_EQ(tl.policy.running(), Press::Off) << "the running press is untouched";
    tl.at(3000ms);
    EXPECT_EQ(tl.press(Press::On, 3500ms), Refusal::TooSoon) << "the BMS must see the contact open";
    EXPECT_EQ(tl.press(Press::On, 4000ms), Refusal::None);
    EXPECT_EQ(refusalText(Refusal::Busy), "a press is running");
}

// A request after the press ended, without an update() in between, still sees it ended.
TEST(PressPolicy, StartCatchesUpWithTime) {
    PressPolicy p{PressTimes{}};
    ASSERT_EQ(p.start(Press::On, t0), Refusal::None);
    EXPECT_EQ(p.start(Press::On, t0 + 2500ms), Refusal::None);
}

TEST(PressPolicy, AbortOpensAtOnce) {
    Timeline tl;
    ASSERT_EQ(tl.press(Press::Off, 0ms), Refusal::None);
    tl.policy.abort(t0 + 1200ms);  // shutdown in the middle of a long press
    tl.record(1200ms, tl.policy.closed());
    EXPECT_FALSE(tl.contact);
    EXPECT_FALSE(tl.policy.update(t0 + 3000ms).finished) << "an aborted press does not finish later";
    EXPECT_EQ(tl.press(Press::On, 1500ms), Refusal::TooSoon);
    const std::vector<std::pair<milliseconds, bool>> expected{{0ms, true}, {1200ms, false}};
    EXPECT_EQ(tl.transitions, expected);
}

TEST(PressPolicy, ConfiguredTimes) {
    PressPolicy p{PressTimes{.on = 500ms, .off = 6000ms, .gap = 0ms}};
    ASSERT_EQ(p.start(Press::Off, t0), Refusal::None);
    EXPECT_TRUE(p.update(t0 + 5999ms).closed);
    EXPECT_EQ(p.update(t0 + 6000ms).finished, Press::Off);
    ASSERT_EQ(p.start(Press::On, t0 + 6000ms), Refusal::None);
    EXPECT_EQ(p.nextChange(), t0 + 6500ms);
}

// Silent from t0: presses at 10 s, 30 s, 70 s (interval 20 s, doubled), then no more.
TEST(WakePolicy, AttemptsWithBackoffThenNoMore) {
    WakePolicy w{WakeTimes{}};
    EXPECT_EQ(w.span(), 70000ms);
    std::vector<milliseconds> presses;
    for (auto t = 0ms; t <= 300000ms; t += 500ms) {
        if (w.due(t0, t0 + t)) {
            w.pressed(t0 + t);
            presses.push_back(t);
        }
    }
    const std::vector<milliseconds> expected{10000ms, 30000ms, 70000ms};
    EXPECT_EQ(presses, expected);
    EXPECT_FALSE(w.nextAttempt(t0));
}

// The backoff counts from the actual press (it may start late: a press was running).
TEST(WakePolicy, NextCountsFromTheActualPress) {
    WakePolicy w{WakeTimes{}};
    w.pressed(t0 + 12000ms);
    EXPECT_EQ(w.nextAttempt(t0), t0 + 32000ms);
}

TEST(WakePolicy, AReadingStartsANewSeries) {
    WakePolicy w{WakeTimes{.attempts = 2, .after = 5000ms, .interval = 5000ms, .backoff = 1}};
    w.pressed(t0 + 5000ms);
    w.pressed(t0 + 10000ms);
    EXPECT_FALSE(w.nextAttempt(t0));
    w.onReading();
    EXPECT_EQ(w.attempts(), 0);
    const auto silentAgain = t0 + 60000ms;
    EXPECT_EQ(w.nextAttempt(silentAgain), silentAgain + 5000ms);
    EXPECT_FALSE(w.due(silentAgain, silentAgain + 4999ms));
}

TEST(WakePolicy, ZeroAttemptsNeverWakes) {
    WakePolicy w{WakeTimes{.attempts = 0}};
    EXPECT_FALSE(w.nextAttempt(t0));
    EXPECT_EQ(w.span(), 0ms);
}

}  // namespace
}  // namespace jkbms::power
