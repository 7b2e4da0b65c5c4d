// PowerControl on a real io_context with a fake relay that records every edge with its time:
// the press timelines, refusals, a release on shutdown and on failure, and the wake series.
// No sleeps: the loop runs until a condition holds.

#include "jkbms/app/power_control.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace jkbms::app {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Edge {
    bool closed;
    Clock::time_point at;
};

class FakeRelay final : public power::Relay {
public:
    explicit FakeRelay(std::vector<Edge>& edges) : edges_(edges) {}
    void set(bool closed) override {
        if (closed && refuseClose) throw std::runtime_error("relay refuses");
        edges_.push_back({closed, Clock::now()});
    }
    std::string describe() const override { return "fake relay"; }
    void failLater(const std::string& why) { failed(why); }
    bool refuseClose = false;

private:
    std::vector<Edge>& edges_;
};

class PowerControlTest : public ::testing::Test {
protected:
    PowerControl& make(power::PressTimes press = {100ms, 300ms, 100ms}, power::WakeTimes wake = {0, 1s, 1s, 2}) {
        auto relay = std::make_unique<FakeRelay>(edges);
        fake = relay.get();
        control = std::make_unique<PowerControl>(io, std::move(relay), press, wake);
        control->onPressEnded([this](power::Press p, bool ok) { ended.push_back({p, ok}); });
        return *control;
    }
    bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 3s) {
        // done() is asked once per turn (it may start a press).
        const auto until = Clock::now() + timeout;
        for (;;) {
            if (done()) return true;
            if (Clock::now() >= until) return false;
            io.restart();
            io.run_for(5ms);
        }
    }
    static std::chrono::milliseconds held(const Edge& close, const Edge& open) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(open.at - close.at);
    }

    boost::asio::io_context io;
    std::vector<Edge> edges;
    std::vector<std::pair<power::Press, bool>> ended;
    FakeRelay* fake = nullptr;
    std::unique_ptr<PowerControl> control;
};

TEST_F(PowerControlTest, OnAndOffPressesCloseForTheirTimes) {
    auto& c = make();
    ASSERT_EQ(c.press(power::Press::On, "test"), "");
    EXPECT_TRUE(c.busy());
    ASSERT_TRUE(runUntil([&] { return ended.size() == 1; }));
    ASSERT_EQ(edges.size(), 2u);
    EXPECT_TRUE(edges[0].closed);
    EXPECT_FALSE(edges[1].closed);
    EXPECT_GE(held(edges[0], edges[1]), 100ms);
    EXPECT_LT(held(edges[0], edges[1]), 250ms);
    EXPECT_FALSE(c.switchedOff());
    EXPECT_TRUE(c.awaitingAnswer()) << "pressed on, no answer yet";
    c.onReading(Clock::now());
    EXPECT_FALSE(c.awaitingAnswer());

    // Within the gap: accepted, and made once the gap has passed; another one meanwhile is
    // refused.
    EXPECT_EQ(c.press(power::Press::Off, "test"), "");
    EXPECT_TRUE(c.busy());
    EXPECT_EQ(c.running(), power::Press::Off);
    EXPECT_EQ(edges.size(), 2u);
    EXPECT_EQ(c.press(power::Press::On, "test"), "a press is running");
    ASSERT_TRUE(runUntil([&] { return ended.size() == 2; }));
    ASSERT_EQ(edges.size(), 4u);
    EXPECT_GE(held(edges[2], edges[3]), 300ms);
    EXPECT_LT(held(edges[2], edges[3]), 450ms);
    EXPECT_GE(held(edges[1], edges[2]), 100ms) << "the gap";
    EXPECT_EQ(ended[1], std::make_pair(power::Press::Off, true));
    EXPECT_TRUE(c.switchedOff());
}

TEST_F(PowerControlTest, OverlappingPressesAreRefused) {
    auto& c = make();
    ASSERT_EQ(c.press(power::Press::Off, "first"), "");
    EXPECT_EQ(c.press(power::Press::On, "second"), "a press is running");
    EXPECT_EQ(c.press(power::Press::Off, "third"), "a press is running");
    ASSERT_TRUE(runUntil([&] { return ended.size() == 1; }));
    EXPECT_EQ(edges.size(), 2u) << "one press, one close and one open";
}

TEST_F(PowerControlTest, ShutdownDuringAPressOpensTheContact) {
    auto& c = make();
    ASSERT_EQ(c.press(power::Press::Off, "test"), "");
    c.shutdown();
    ASSERT_EQ(edges.size(), 2u);
    EXPECT_FALSE(edges.back().closed);
    EXPECT_LT(held(edges[0], edges[1]), 100ms);
    EXPECT_EQ(c.press(power::Press::On, "after"), "the daemon is stopping");
    // The cancelled timer does not open (or close) anything later.
    runUntil([] { return false; }, 400ms);
    EXPECT_EQ(edges.size(), 2u);
    EXPECT_FALSE(c.switchedOff()) << "an off press cut short did not switch the BMS off";
}

TEST_F(PowerControlTest, DestructionOpensTheContact) {
    auto& c = make();
    ASSERT_EQ(c.press(power::Press::On, "test"), "");
    control.reset();
    ASSERT_EQ(edges.size(), 2u);
    EXPECT_FALSE(edges.back().closed);
}

TEST_F(PowerControlTest, ARelayThatRefusesAbortsThePress) {
    auto& c = make();
    fake->refuseClose = true;
    EXPECT_EQ(c.press(power::Press::On, "test"), "relay refuses");
    EXPECT_FALSE(c.busy());
    ASSERT_EQ(edges.size(), 1u);
    EXPECT_FALSE(edges[0].closed) << "opened again, to be sure";

    // A refusal that arrives later (a D-Bus reply) ends the running press at once.
    fake->refuseClose = false;
    ASSERT_EQ(c.press(power::Press::Off, "test"), "") << "made once the gap has passed";
    ASSERT_TRUE(runUntil([&] { return edges.size() == 2 && edges.back().closed; }));
    fake->failLater("system refused");
    EXPECT_FALSE(c.busy());
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0], std::make_pair(power::Press::Off, false));
    EXPECT_FALSE(edges.back().closed);
    EXPECT_FALSE(c.switchedOff());
}

// Silent since t0: on presses at t0 + after, then interval, then interval x backoff; never
// more than `attempts`, never off; a reading starts a new series.
TEST_F(PowerControlTest, WakeAttemptsBackOff) {
    auto& c = make({100ms, 300ms, 100ms}, {3, 200ms, 300ms, 2});
    const auto t0 = Clock::now();
    auto check = [&] { c.checkWake(t0, Clock::now()); };
    boost::asio::steady_timer tick(io);
    std::function<void()> every = [&] {  // a missed poll every 20 ms
        check();
        tick.expires_after(20ms);
        tick.async_wait([&](const boost::system::error_code& ec) {
            if (!ec) every();
        });
    };
    every();
    ASSERT_TRUE(runUntil([&] { return ended.size() == 3; }, 3s));
    runUntil([] { return false; }, 800ms);  // no fourth
    tick.cancel();
    ASSERT_EQ(edges.size(), 6u);
    auto at = [&](std::size_t i) { return std::chrono::duration_cast<std::chrono::milliseconds>(edges[i].at - t0); };
    // Each press is due at its time and made at the next check (every 20 ms; a loaded CI
    // machine may be later): the lower bounds are exact, the upper ones generous.
    EXPECT_GE(at(0), 200ms);
    EXPECT_LT(at(0), 350ms);
    EXPECT_GE(at(2) - at(0), 300ms);  // interval
    EXPECT_LT(at(2) - at(0), 450ms);
    EXPECT_GE(at(4) - at(2), 600ms);  // interval x backoff
    EXPECT_LT(at(4) - at(2), 750ms);
    for (auto [press, ok] : ended) EXPECT_EQ(press, power::Press::On);
    EXPECT_EQ(c.wakeAttempts(), 3);

    c.onReading(Clock::now());
    EXPECT_EQ(c.wakeAttempts(), 0);
}

TEST_F(PowerControlTest, NoWakeAfterAnOffPress) {
    auto& c = make({100ms, 300ms, 100ms}, {3, 200ms, 300ms, 2});
    ASSERT_EQ(c.press(power::Press::Off, "person"), "");
    ASSERT_TRUE(runUntil([&] { return ended.size() == 1; }));
    ASSERT_TRUE(c.switchedOff());
    const auto silent = Clock::now();
    runUntil([&] {
        c.checkWake(silent - 10s, Clock::now());
        return false;
    }, 300ms);
    EXPECT_EQ(edges.size(), 2u) << "no wake press";
    // A last answer right after the press does not end it; an on press does.
    c.onReading(Clock::now());
    EXPECT_TRUE(c.switchedOff());
    ASSERT_EQ(c.press(power::Press::On, "person"), "");
    EXPECT_FALSE(c.switchedOff());
}

}  // namespace
}  // namespace jkbms::app
