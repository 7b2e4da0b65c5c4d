// The simulator's bank: parallel packs share a current by their internal resistance.

#include <gtest/gtest.h>

#include "jkbms/sim/simulated_bms.hpp"

namespace jkbms::sim {
namespace {

TEST(SimBank, CurrentSplitsByConductance) {
    SimulatedBms a{16}, b{16}, c{16};
    a.state().resistanceMilliOhm = 1.0;
    b.state().resistanceMilliOhm = 2.0;
    c.state().resistanceMilliOhm = 4.0;
    ASSERT_TRUE(shareBankCurrent({&a, &b, &c}, 70.0));
    EXPECT_NEAR(a.state().currentA, 40.0, 1e-9);  // 1 : 0.5 : 0.25 of 1.75
    EXPECT_NEAR(b.state().currentA, 20.0, 1e-9);
    EXPECT_NEAR(c.state().currentA, 10.0, 1e-9);
    EXPECT_FALSE(a.live());
}

TEST(SimBank, APackThatCannotTakeItGetsNone) {
    SimulatedBms a{16}, b{16}, c{16};
    b.state().chargeMos = false;  // charging blocked, discharging still possible
    c.setPowered(false);
    ASSERT_TRUE(shareBankCurrent({&a, &b, &c}, 50.0));
    EXPECT_NEAR(a.state().currentA, 50.0, 1e-9);
    EXPECT_EQ(b.state().currentA, 0.0);
    EXPECT_EQ(c.state().currentA, 0.0);
    ASSERT_TRUE(shareBankCurrent({&a, &b, &c}, -30.0));
    EXPECT_NEAR(a.state().currentA, -15.0, 1e-9);
    EXPECT_NEAR(b.state().currentA, -15.0, 1e-9);
    a.setPowered(false);
    b.setPowered(false);
    EXPECT_FALSE(shareBankCurrent({&a, &b, &c}, 10.0));
    EXPECT_TRUE(shareBankCurrent({&a, &b, &c}, 0.0));
}

}  // namespace
}  // namespace jkbms::sim
