// The bank's combining rules (domain/bank.hpp): shares, limits that protect every pack,
// alarms and stale members, as pure functions.

#include <gtest/gtest.h>

#include <cmath>

#include "jkbms/domain/bank.hpp"

using namespace jkbms::domain;

namespace {

BankMember pack(const std::string& name, double currentA, double cclA = 100, double dclA = 150) {
    BankMember m;
    m.name = name;
    m.comms = CommsState::Ok;
    m.voltageV = 53.2;
    m.currentA = currentA;
    m.powerW = 53.2 * currentA;
    m.temperatureC = 22;
    m.socPercent = 60;
    m.sohPercent = 100;
    m.installedCapacityAh = 280;
    m.capacityAh = 168;
    m.consumedAh = -112;
    m.minCellV = 3.320;
    m.maxCellV = 3.330;
    m.minCellId = "C3";
    m.maxCellId = "C9";
    m.minCellTemperatureC = 21;
    m.maxCellTemperatureC = 23;
    m.minTemperatureId = "T1";
    m.maxTemperatureId = "T2";
    m.cellsPerBattery = 16;
    m.allowToCharge = m.allowToDischarge = m.allowToBalance = true;
    m.balancing = false;
    m.chargeCycles = 12;
    for (auto& a : m.alarms) a = 0;
    m.cvlV = 55.2;
    m.cclA = cclA;
    m.dclA = dclA;
    m.lowVoltageV = 48.0;
    m.chargeRequest = false;
    m.chargeMode = "Bulk";
    return m;
}

}  // namespace

TEST(Bank, WithNoCurrentEachPackIsAssumedToTakeItAll) {
    // At rest the shares are unknown: the bank allows what the weakest pack allows alone.
    const auto l = combineLimits({pack("P1", 0.2, 100, 150), pack("P2", -0.1, 60, 200)});
    ASSERT_TRUE(l.ccl.value);
    EXPECT_DOUBLE_EQ(*l.ccl.value, 60.0);
    EXPECT_DOUBLE_EQ(*l.dcl.value, 150.0);
    EXPECT_NE(l.ccl.reason.find("P2"), std::string::npos) << l.ccl.reason;
    EXPECT_NE(l.ccl.reason.find("worst share"), std::string::npos) << l.ccl.reason;
    EXPECT_FALSE(l.chargeShares[0]);
}

TEST(Bank, MeasuredSharesKeepEveryPackWithinItsOwnLimit) {
    // P1 (lower resistance) takes 70 % of 200 A. Its own CCL is 100 A, P2's 100 A.
    const std::vector<BankMember> members = {pack("P1", 140.0, 100), pack("P2", 60.0, 100)};
    const BankRules rules;
    const auto l = combineLimits(members, rules);
    ASSERT_TRUE(l.chargeShares[0] && l.chargeShares[1]);
    EXPECT_NEAR(*l.chargeShares[0], 0.70, 1e-9);
    EXPECT_NEAR(*l.chargeShares[1], 0.30, 1e-9);
    ASSERT_TRUE(l.ccl.value);
    // Not the equal split's 200 A: P1 would get 140 A. With the padded share 0.70*1.1+0.02.
    EXPECT_NEAR(*l.ccl.value, std::floor(100.0 / (0.70 * 1.1 + 0.02) * 10) / 10, 1e-9);
    EXPECT_LT(*l.ccl.value, 200.0 * 0.7);
    // At the bank's CCL, split as measured, neither pack exceeds its own CCL.
    for (std::size_t i = 0; i < members.size(); ++i)
        EXPECT_LE(*l.ccl.value * *l.chargeShares[i], *members[i].cclA) << members[i].name;
    EXPECT_NE(l.ccl.reason.find("P1"), std::string::npos) << l.ccl.reason;
    EXPECT_NE(l.ccl.reason.find("70% share"), std::string::npos) << l.ccl.reason;
}

TEST(Bank, TheWeakPackDecidesEvenWithASmallerShare) {
    // P2 takes 30 % but may only take 20 A: 20 / (0.3*1.1+0.02) = 57.1 A for the bank.
    const auto l = combineLimits({pack("P1", 35.0, 100), pack("P2", 15.0, 20)});
    ASSERT_TRUE(l.ccl.value);
    EXPECT_NEAR(*l.ccl.value, 57.1, 1e-9);
    EXPECT_EQ(l.ccl.reason.rfind("P2 CCL 20.0 A", 0), 0U) << l.ccl.reason;
}

TEST(Bank, DischargeSharesComeFromDischargeCurrents) {
    const auto l = combineLimits({pack("P1", -120.0, 100, 150), pack("P2", -40.0, 100, 150)});
    ASSERT_TRUE(l.dischargeShares[0]);
    EXPECT_NEAR(*l.dischargeShares[0], 0.75, 1e-9);
    EXPECT_NEAR(*l.dcl.value, std::floor(150.0 / (0.75 * 1.1 + 0.02) * 10) / 10, 1e-9);
    // Discharging: the charge shares are not measured; CCL is the worst share.
    EXPECT_FALSE(l.chargeShares[0]);
    EXPECT_DOUBLE_EQ(*l.ccl.value, 100.0);
}

TEST(Bank, TooLittleCurrentIsNoMeasurement) {
    // Under 5 A a pack's reading is mostly noise (+-0.5 A on a JK shunt): the worst share.
    const auto l = combineLimits({pack("P1", 4.4, 100), pack("P2", 0.1, 30)});
    EXPECT_FALSE(l.chargeShares[0]);
    EXPECT_DOUBLE_EQ(*l.ccl.value, 30.0);
}

TEST(Bank, ANearlyFullPackNearZeroAmpsGetsTheWorstShare) {
    // Review H1: P2 is nearly full and back-feeds P1 (-2 A) while the charger gives 12 A. Its
    // measured share would be 0, its padded one 0.02: 10 A / 0.02 = 500 A. Once the charger
    // ramps up, P2 takes half of it. So a pack under shareCurrentA gets share 1.
    const auto l = combineLimits({pack("P1", 14.0, 140), pack("P2", -2.0, 10)});
    EXPECT_TRUE(l.chargeShares[0]);
    EXPECT_FALSE(l.chargeShares[1]);
    EXPECT_DOUBLE_EQ(*l.ccl.value, 10.0);
    EXPECT_NE(l.ccl.reason.find("P2 CCL 10.0 A, worst share (under 5.0 A)"), std::string::npos) << l.ccl.reason;
}

TEST(Bank, APackWithItsFetOffGetsTheWorstShare) {
    // Its FET may close at any moment: then it takes its resistance share of whatever flows.
    auto p2 = pack("P2", 0.0, 30);
    p2.allowToCharge = false;
    const auto l = combineLimits({pack("P1", 100.0, 140), p2});
    EXPECT_DOUBLE_EQ(*l.ccl.value, 30.0);
    EXPECT_NE(l.ccl.reason.find("switched off"), std::string::npos) << l.ccl.reason;
}

TEST(Bank, MeasuredSharesStretchOnlyAQuarterPastTheCurrentFlowing) {
    // Shares measured at 12 A say little about 300 A: at most 1.25 x 12 A ... 
    auto l = combineLimits({pack("P1", 6.0, 100), pack("P2", 6.0, 100)});
    ASSERT_TRUE(l.chargeShares[0]);
    EXPECT_DOUBLE_EQ(*l.ccl.value, 100.0);  // ... but never below the weakest pack alone
    l = combineLimits({pack("P1", 100.0, 100), pack("P2", 100.0, 100)});
    EXPECT_NEAR(*l.ccl.value, std::floor(100.0 / (0.5 * 1.1 + 0.02) * 10) / 10, 1e-9);  // 175.4 < 250
    l = combineLimits({pack("P1", 60.0, 100), pack("P2", 60.0, 100)});
    EXPECT_DOUBLE_EQ(*l.ccl.value, 150.0);  // 1.25 x 120 A
    EXPECT_EQ(l.ccl.reason, "shares measured at 120.0 A: at most 150.0 A");
}

TEST(Bank, AZeroLimitInOnePackStopsTheBankAtOnce) {
    // P2 has a cell at 3.62 V: its engine says CCL 0. P2 takes hardly any current (its FET
    // may already be off), yet the bank allows nothing.
    auto p2 = pack("P2", 0.5, 0);
    const auto l = combineLimits({pack("P1", 49.5, 100), p2});
    ASSERT_TRUE(l.ccl.value);
    EXPECT_DOUBLE_EQ(*l.ccl.value, 0.0);
    EXPECT_EQ(l.ccl.reason, "P2 CCL 0 A");
    EXPECT_GT(*l.dcl.value, 0.0);  // discharging still allowed
    const auto r = combineBank({pack("P1", 49.5, 100), p2});
    EXPECT_EQ(r.allowToCharge, false);
    EXPECT_EQ(r.allowToDischarge, true);
}

TEST(Bank, APackWithoutALimitYetAllowsNothing) {
    auto p2 = pack("P2", 10);
    p2.cclA.reset();
    const auto l = combineLimits({pack("P1", 10), p2});
    EXPECT_DOUBLE_EQ(*l.ccl.value, 0.0);
    EXPECT_EQ(l.ccl.reason, "P2 CCL unknown");
}

TEST(Bank, CvlIsTheLowestOfThePacks) {
    auto p2 = pack("P2", 10);
    p2.cvlV = 54.4;  // in Float
    auto p3 = pack("P3", 10);
    p3.cvlV = 56.8;
    const auto l = combineLimits({pack("P1", 10), p2, p3});
    EXPECT_DOUBLE_EQ(*l.cvl.value, 54.4);
    EXPECT_EQ(l.cvl.reason, "P2 CVL");
}

TEST(Bank, AStalePackCountsWithItsHeldLimitsAndTheWorstShare) {
    auto p2 = pack("P2", 15.0, 40);
    p2.comms = CommsState::Stale;
    const auto l = combineLimits({pack("P1", 135.0, 100), p2});
    EXPECT_FALSE(l.chargeShares[0]);  // not measured while a pack is not answering
    EXPECT_DOUBLE_EQ(*l.ccl.value, 40.0);
    EXPECT_NE(l.ccl.reason.find("P2 not answering"), std::string::npos) << l.ccl.reason;
    const auto r = combineBank({pack("P1", 35.0, 100), p2});
    EXPECT_EQ(r.comms, CommsState::Ok);
    EXPECT_EQ(r.online, 1);
    EXPECT_EQ(r.offline, 1);
    EXPECT_TRUE(r.commsFault);
    EXPECT_EQ(r.status, "1 of 2 answering: P2 silent");
    // Held values still count while stale.
    EXPECT_NEAR(*r.currentA, 50.0, 1e-9);
}

TEST(Bank, ALostPackStopsChargingUntilItIsBack) {
    // Review H2: a pack whose link died may still be on the DC bus with CCL 0 (a cell high):
    // charging stops; discharging goes on from the others at their worst share.
    auto p2 = pack("P2", 15.0, 0);
    p2.comms = CommsState::Lost;
    const auto r = combineBank({pack("P1", 35.0, 100, 150), p2});
    EXPECT_DOUBLE_EQ(*r.limits.ccl.value, 0.0);
    EXPECT_EQ(r.limits.ccl.reason, "P2 not answering: its limits unknown");
    EXPECT_DOUBLE_EQ(*r.limits.dcl.value, 150.0);
    EXPECT_EQ(r.allowToCharge, false);
    EXPECT_NEAR(*r.currentA, 35.0, 1e-9);  // the packs heard
    EXPECT_NEAR(*r.installedCapacityAh, 280.0, 1e-9);
    EXPECT_EQ(r.silent, std::vector<std::string>{"P2"});
    EXPECT_TRUE(r.commsFault);
    // Back: shares are measured again.
    p2.comms = CommsState::Ok;
    p2.cclA = 200;
    const auto back = combineBank({pack("P1", 140.0, 100), pack("P2", 60.0, 200)});
    EXPECT_TRUE(back.limits.chargeShares[0]);
    EXPECT_GT(*back.limits.ccl.value, 100.0);
}

TEST(Bank, APackSwitchedOffIsNoFaultAndNotCounted) {
    auto p2 = pack("P2", 0.0, 0);
    p2.comms = CommsState::Off;
    const auto r = combineBank({pack("P1", 35.0, 100), p2});
    EXPECT_FALSE(r.commsFault);
    EXPECT_DOUBLE_EQ(*r.limits.ccl.value, 100.0);  // off: its FETs are open, it takes nothing
}

TEST(Bank, PacksWithoutChargeEnginesGiveNoLimits) {
    auto p1 = pack("P1", 10);
    auto p2 = pack("P2", 10);
    for (auto* p : {&p1, &p2}) p->cvlV.reset(), p->cclA.reset(), p->dclA.reset();
    const auto r = combineBank({p1, p2});
    EXPECT_FALSE(r.limits.ccl.value);
    EXPECT_FALSE(r.limits.dcl.value);
    EXPECT_FALSE(r.limits.cvl.value);
    EXPECT_EQ(r.allowToCharge, true);  // from the FETs, as for one battery
}

TEST(Bank, AMemberThatIsABmsOfItsOwnStopsCharging) {
    auto p2 = pack("P2", 10);
    p2.ownBms = true;
    const auto l = combineLimits({pack("P1", 10), p2});
    EXPECT_DOUBLE_EQ(*l.ccl.value, 0.0);
    EXPECT_NE(l.ccl.reason.find("P2 publishes /Info/MaxChargeVoltage"), std::string::npos) << l.ccl.reason;
}

TEST(Bank, NoPackAnsweringLeavesEverythingInvalid) {
    auto p1 = pack("P1", 10);
    auto p2 = pack("P2", 10);
    p1.comms = CommsState::Lost;
    p2.comms = CommsState::Lost;
    const auto r = combineBank({p1, p2});
    EXPECT_EQ(r.comms, CommsState::Lost);
    EXPECT_FALSE(r.limits.cvl.value);
    EXPECT_FALSE(r.limits.ccl.value);
    EXPECT_FALSE(r.limits.dcl.value);
    EXPECT_FALSE(r.voltageV);
    EXPECT_FALSE(r.socPercent);
    EXPECT_EQ(r.limits.ccl.reason, "no pack answering");
    p1.comms = CommsState::Stale;
    EXPECT_EQ(combineBank({p1, p2}).comms, CommsState::Stale);
    p1.comms = p2.comms = CommsState::Off;
    EXPECT_EQ(combineBank({p1, p2}).comms, CommsState::Off);
    EXPECT_EQ(combineBank({}).comms, CommsState::Lost);
}

TEST(Bank, ValuesAreCombined) {
    auto p1 = pack("P1", 30.0);
    auto p2 = pack("P2", 10.0);
    p2.installedCapacityAh = 100;
    p2.capacityAh = 90;
    p2.consumedAh = -10;
    p2.socPercent = 90;
    p2.voltageV = 53.4;
    p2.minCellV = 3.301;
    p2.minCellId = "C7";
    p2.maxCellTemperatureC = 31;
    p2.maxTemperatureId = "MOS";
    p2.temperatureC = 29;
    p2.alarms[3] = 1;  // HighCellVoltage warning
    p1.alarms[0] = 2;
    p2.chargeCycles = 40;
    p2.balancing = true;
    p2.chargeMode = "Absorption 3 min left";
    const auto r = combineBank({p1, p2});
    EXPECT_NEAR(*r.voltageV, 53.3, 1e-9);
    EXPECT_NEAR(*r.currentA, 40.0, 1e-9);
    EXPECT_NEAR(*r.powerW, 53.2 * 30 + 53.2 * 10, 1e-9);
    EXPECT_NEAR(*r.installedCapacityAh, 380.0, 1e-9);
    EXPECT_NEAR(*r.capacityAh, 258.0, 1e-9);
    EXPECT_NEAR(*r.consumedAh, -122.0, 1e-9);
    EXPECT_NEAR(*r.socPercent, (60.0 * 280 + 90.0 * 100) / 380.0, 1e-9);  // capacity-weighted
    EXPECT_NEAR(*r.minCellV, 3.301, 1e-9);
    EXPECT_EQ(r.minCellId, "P2/C7");
    EXPECT_EQ(r.maxCellId, "P1/C9");  // first of equals
    EXPECT_NEAR(*r.maxCellTemperatureC, 31.0, 1e-9);
    EXPECT_EQ(r.maxTemperatureId, "P2/MOS");
    EXPECT_EQ(r.minTemperatureId, "P1/T1");
    EXPECT_NEAR(*r.temperatureC, 29.0, 1e-9);
    EXPECT_EQ(r.alarms[0], 2);
    EXPECT_EQ(r.alarms[3], 1);
    EXPECT_EQ(r.alarms[1], 0);
    EXPECT_EQ(r.chargeCycles, 40);
    EXPECT_EQ(r.balancing, true);
    EXPECT_EQ(r.cellsPerBattery, 16);
    EXPECT_EQ(r.packs, 2);
    EXPECT_EQ(r.online, 2);
    EXPECT_EQ(r.chargeMode, "P1 Bulk, P2 Absorption 3 min left");
    EXPECT_EQ(r.status, "2 packs answering");
}

TEST(Bank, AValueMissingInOnePackIsNoSum) {
    auto p2 = pack("P2", 10.0);
    p2.currentA.reset();  // implausible there: published invalid
    p2.cellsPerBattery = 8;
    const auto r = combineBank({pack("P1", 30.0), p2});
    EXPECT_FALSE(r.currentA);
    EXPECT_FALSE(r.cellsPerBattery);
    EXPECT_FALSE(r.limits.chargeShares[0]);
    EXPECT_NE(r.limits.ccl.reason.find("P2 current unknown"), std::string::npos) << r.limits.ccl.reason;
}

TEST(Bank, NoisyReadingsNeverLetAPackExceedItsOwnLimit) {
    // The true split of the current is s : 1 - s; each pack's reading is off by up to
    // +-0.5 A (JK shunt noise). Whatever the noise, the bank's CCL split by the TRUE shares
    // keeps both packs within their own CCL.
    int measured = 0;
    for (double total = 4; total <= 400; total *= 1.5)
        for (double s1 = 0.05; s1 < 1.0; s1 += 0.05)
            for (double n1 : {-0.5, 0.0, 0.5})
                for (double n2 : {-0.5, 0.0, 0.5})
                    for (double ccl1 : {10.0, 60.0, 200.0})
                        for (double ccl2 : {10.0, 60.0, 200.0}) {
                            const std::vector<BankMember> members = {pack("P1", total * s1 + n1, ccl1),
                                                                     pack("P2", total * (1 - s1) + n2, ccl2)};
                            const auto l = combineLimits(members);
                            ASSERT_TRUE(l.ccl.value);
                            if (l.chargeShares[0] || l.chargeShares[1]) ++measured;
                            EXPECT_LE(*l.ccl.value * s1, ccl1 + 1e-9) << total << " " << s1 << " " << n1 << " " << n2;
                            EXPECT_LE(*l.ccl.value * (1 - s1), ccl2 + 1e-9) << total << " " << s1 << " " << n1 << " " << n2;
                        }
    EXPECT_GT(measured, 1000) << "the sweep reaches measured shares";
}
