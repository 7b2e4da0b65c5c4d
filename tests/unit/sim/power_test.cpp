// The simulated BMS's display-port button: what a relay press does to it, and that a BMS
// that is off answers nothing on either protocol.

#include <gtest/gtest.h>

#include "jkbms/codec/nw.hpp"
#include "jkbms/sim/responder.hpp"

namespace jkbms::sim {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

void press(SimulatedBms& bms, Clock::time_point at, std::chrono::milliseconds held) {
    bms.setButton(true, at);
    bms.setButton(false, at + held);
}

TEST(SimulatedPower, ShortPressWakesLongPressSwitchesOff) {
    SimulatedBms bms(16);
    const auto t0 = Clock::now();
    ASSERT_TRUE(bms.powered());
    press(bms, t0, 1000ms);  // a short press on a running BMS changes nothing
    EXPECT_TRUE(bms.powered());
    press(bms, t0 + 2s, 3000ms);
    EXPECT_FALSE(bms.powered());
    press(bms, t0 + 6s, 300ms);  // too short to wake it
    EXPECT_FALSE(bms.powered());
    press(bms, t0 + 8s, 1000ms);
    EXPECT_TRUE(bms.powered());
    EXPECT_EQ(bms.buttonPresses(), 4u);
    // Released twice, or closed twice: one press.
    bms.setButton(false, t0 + 10s);
    bms.setButton(true, t0 + 11s);
    bms.setButton(true, t0 + 12s);
    EXPECT_TRUE(bms.buttonClosed());
    bms.setButton(false, t0 + 14s);  // held 3 s from the first close
    EXPECT_FALSE(bms.powered());
    EXPECT_EQ(bms.buttonPresses(), 5u);
}

TEST(SimulatedPower, ABmsThatIsOffAnswersNothing) {
    SimulatedBms bms(16);
    NwResponder nw(bms);
    std::vector<Answer> answers;
    const auto request = codec::nw::encodeReadAll();
    bms.setPowered(false);
    nw.feed(request, answers);
    EXPECT_TRUE(answers.empty());
    bms.setPowered(true);
    nw.feed(request, answers);
    EXPECT_EQ(answers.size(), 1u);

    PbResponder bus;
    SimulatedBms pack(16);
    bus.addPack(1, pack);
    answers.clear();
    pack.setPowered(false);
    bus.feed(codec::pb::encodeTrigger(1, codec::pb::Trigger::CellInfo), answers);
    EXPECT_TRUE(answers.empty());
    pack.setPowered(true);
    bus.feed(codec::pb::encodeTrigger(1, codec::pb::Trigger::CellInfo), answers);
    EXPECT_EQ(answers.size(), 1u);
}

}  // namespace
}  // namespace jkbms::sim
