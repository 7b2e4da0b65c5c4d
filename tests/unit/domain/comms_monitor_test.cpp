#include "jkbms/domain/comms_monitor.hpp"

#include <gtest/gtest.h>

namespace jkbms::domain {
namespace {

using namespace std::chrono_literals;
using Clock = CommsMonitor::Clock;

TEST(CommsMonitor, TimelineFromTheLastReading) {
    CommsMonitor m(CommsTimes{5s, 30s, 120s});
    const Clock::time_point t0{};
    m.start(t0);
    m.onReading(t0 + 1s);
    EXPECT_EQ(m.state(t0 + 5s), CommsState::Ok);
    EXPECT_EQ(m.state(t0 + 6s), CommsState::Stale);
    EXPECT_EQ(m.state(t0 + 30s), CommsState::Stale);
    EXPECT_EQ(m.state(t0 + 31s), CommsState::Lost);
    EXPECT_FALSE(m.shouldExit(t0 + 120s));
    EXPECT_TRUE(m.shouldExit(t0 + 121s));
    EXPECT_EQ(m.nextChange(t0 + 2s), t0 + 6s);
    EXPECT_EQ(m.nextChange(t0 + 6s), t0 + 31s);
    EXPECT_EQ(m.nextChange(t0 + 31s), t0 + 121s);
    m.onReading(t0 + 40s);
    EXPECT_EQ(m.state(t0 + 40s), CommsState::Ok) << "restored";
}

TEST(CommsMonitor, NoReadingYetCountsFromStart) {
    CommsMonitor m(CommsTimes{5s, 30s, 0s});
    const Clock::time_point t0{};
    m.start(t0);
    EXPECT_FALSE(m.everRead());
    EXPECT_EQ(m.state(t0 + 31s), CommsState::Lost);
    EXPECT_FALSE(m.shouldExit(t0 + 10h)) << "exit_after 0 = never";
    EXPECT_EQ(m.nextChange(t0 + 31s), Clock::time_point::max());
}

TEST(CommsTimes, OrderIsChecked) {
    EXPECT_EQ(CommsTimes{}.validate(), "");
    EXPECT_NE(CommsTimes({10s, 5s, 120s}).validate(), "");
    EXPECT_NE(CommsTimes({5s, 30s, 10s}).validate(), "");
    EXPECT_EQ(CommsTimes({5s, 30s, 0s}).validate(), "");
    EXPECT_NE(CommsTimes({0s, 30s, 0s}).validate(), "");
}

}  // namespace
}  // namespace jkbms::domain
