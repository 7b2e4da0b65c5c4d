// Golden scenarios of the charge-limit engine: scripted snapshots and times, expected limits
// and reasons - one per transition and per limiter (charge-control.md sections 2 and 3).

#include "jkbms/charge/charge_engine.hpp"

#include <gtest/gtest.h>

namespace jkbms::charge {
namespace {

using domain::BatterySnapshot;

// 16 cells at `v`, the first one at `top`, 280 Ah, SoC 50 %, 25 C, FETs on.
BatterySnapshot pack(double v, double top, double currentA = 20) {
    BatterySnapshot s;
    s.cellVoltagesV.push_back(top);
    for (int i = 1; i < 16; ++i) s.cellVoltagesV.push_back(v);
    s.currentA = currentA;
    s.socPercent = 50;
    s.fullCapacityAh = 280;
    s.temperatures.push_back({"T1", 25});
    s.switches.chargeMos = true;
    s.switches.dischargeMos = true;
    s.settings.maxChargeCurrentA = 100;
    s.settings.maxDischargeCurrentA = 150;
    return s;
}

TEST(Table, InterpolatesClampsAndSteps) {
    Table rising{{{0, 0.0}, {10, 1.0}}};
    EXPECT_DOUBLE_EQ(rising.at(-5), 0.0);
    EXPECT_DOUBLE_EQ(rising.at(2.5), 0.25);
    EXPECT_DOUBLE_EQ(rising.at(50), 1.0);
    Table falling{{{3.10, 1.0}, {3.00, 0.5}, {2.90, 0.1}}};
    EXPECT_NEAR(falling.at(3.05), 0.75, 1e-12);
    EXPECT_DOUBLE_EQ(falling.at(2.5), 0.1);
    falling.step = true;
    EXPECT_DOUBLE_EQ(falling.at(3.05), 0.5) << "step: the safe side";
    EXPECT_NE(Table({{{1, 0.5}, {1, 0.6}}}).validate(), "");
    EXPECT_NE(Table({{{1, 1.5}}}).validate(), "");
}

TEST(ChargeConfig, DefaultsAreValidAndBadTablesAreRejectedWithTheReason) {
    EXPECT_TRUE(ChargeConfig{}.validate().empty());
    ChargeConfig c;
    c.chargeCellV = Table{{{3.40, 1.0}, {3.45, 0.0}}};
    auto errors = c.validate();
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_NE(errors[0].find("never finish absorption"), std::string::npos) << errors[0];
    c = ChargeConfig{};
    c.floatCellV = 3.5;
    EXPECT_EQ(c.validate().size(), 1U);
}

TEST(ChargeEngine, BulkRegulatesTowardsTheTarget) {
    ChargeEngine e{ChargeConfig{}};
    auto l = e.step(pack(3.30, 3.31), 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Bulk);
    EXPECT_NEAR(*l.maxChargeVoltageV, 16 * 3.45, 1e-9);
    EXPECT_EQ(l.chargeMode, "Bulk");
    EXPECT_NEAR(*l.batteryLowVoltageV, 16 * 2.90, 1e-9);
}

TEST(ChargeEngine, ACellAboveTargetPullsCvlDownInOneStep) {
    ChargeEngine e{ChargeConfig{}};
    e.step(pack(3.30, 3.31), 1);
    // Cell 1 jumps 30 mV over the target: the proportional part acts at once (Kp x error x cells).
    auto l = e.step(pack(3.38, 3.48), 1);
    EXPECT_LT(*l.maxChargeVoltageV, 16 * 3.45 - 16 * 0.5 * 0.030 + 1e-9);
    EXPECT_NE(l.chargeMode.find("(cell 1 limiting)"), std::string::npos) << l.chargeMode;
}

TEST(ChargeEngine, RecoveryUpwardIsSlewLimited) {
    ChargeEngine e{ChargeConfig{}};
    e.step(pack(3.30, 3.31), 1);
    const double low = *e.step(pack(3.38, 3.55), 1).maxChargeVoltageV;
    const double up = *e.step(pack(3.30, 3.31), 2).maxChargeVoltageV;
    EXPECT_NEAR(up - low, 0.020, 1e-9) << "10 mV/s for the pack";
}

TEST(ChargeEngine, AntiWindupWhileClamped) {
    ChargeEngine e{ChargeConfig{}};
    for (int i = 0; i < 3600; ++i) e.step(pack(3.30, 3.30), 1);  // an hour below target
    EXPECT_DOUBLE_EQ(e.state().correctionV, 0.0) << "no integration into the clamp";
    const double before = *e.step(pack(3.40, 3.40), 1).maxChargeVoltageV;
    const double after = *e.step(pack(3.40, 3.47), 1).maxChargeVoltageV;
    EXPECT_LT(after, before - 0.15) << "reacts at once after a long clamp";
}

TEST(ChargeEngine, CvlNeverBelowTheFloor) {
    ChargeEngine e{ChargeConfig{}};
    for (int i = 0; i < 100; ++i) e.step(pack(3.30, 4.20), 1);
    EXPECT_NEAR(*e.step(pack(3.30, 4.20), 1).maxChargeVoltageV, 16 * 2.90, 1e-9);
}

TEST(ChargeEngine, AbsorptionTimerRunsOnlyWithBalancedCellsThenFloat) {
    ChargeConfig c;
    ChargeEngine e{c};
    e.step(pack(3.43, 3.445), 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Absorption);
    for (int i = 0; i < 100; ++i) e.step(pack(3.42, 3.45, 30), 1);  // spread 30 mV: timer stopped
    EXPECT_DOUBLE_EQ(e.state().absorptionS, 0.0);
    for (int i = 0; i < 100; ++i) e.step(pack(3.445, 3.45, 30), 1);  // spread 5 mV
    EXPECT_NEAR(e.state().absorptionS, 100, 1e-9);
    EXPECT_EQ(e.step(pack(3.445, 3.45, 30), 0).chargeMode, "Absorption 800 s left");
    for (int i = 0; i < 800; ++i) e.step(pack(3.445, 3.45, 30), 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Float);
}

TEST(ChargeEngine, SpreadHysteresis) {
    ChargeEngine e{ChargeConfig{}};
    e.step(pack(3.44, 3.45), 1);  // 10 mV: ok
    EXPECT_TRUE(e.state().spreadOk);
    e.step(pack(3.438, 3.45), 1);  // 12 mV: inside the 3 mV band, still ok
    EXPECT_TRUE(e.state().spreadOk);
    e.step(pack(3.436, 3.45), 1);  // 14 mV: off
    EXPECT_FALSE(e.state().spreadOk);
}

TEST(ChargeEngine, TailCurrentEndsAbsorptionEarly) {
    ChargeEngine e{ChargeConfig{}};
    e.step(pack(3.445, 3.45, 20), 1);
    for (int i = 0; i < 59; ++i) e.step(pack(3.445, 3.45, 5), 1);  // 5 A < 0.02 C = 5.6 A
    EXPECT_EQ(e.state().mode, ChargeMode::Absorption);
    e.step(pack(3.445, 3.45, 5), 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Float);
}

TEST(ChargeEngine, FullButImbalancedPackStillReachesFloat) {
    ChargeEngine e{ChargeConfig{}};
    e.step(pack(3.40, 3.45, 20), 1);
    for (int i = 0; i < 900; ++i) e.step(pack(3.40, 3.45, 3), 1);  // spread 50 mV forever, tiny current
    EXPECT_EQ(e.state().mode, ChargeMode::Float);
}

TEST(ChargeEngine, FloatSlewsDownAndRebulks) {
    ChargeEngine e{ChargeConfig{}};
    e.step(pack(3.445, 3.45, 20), 1);
    for (int i = 0; i < 60; ++i) e.step(pack(3.445, 3.45, 5), 1);
    ASSERT_EQ(e.state().mode, ChargeMode::Float);
    EXPECT_DOUBLE_EQ(e.state().sinceFullChargeS, 0);
    const double start = e.state().cvlV;
    auto full = [](double v) {
        auto s = pack(v, v, 0);
        s.socPercent = 99;
        return s;
    };
    auto l = e.step(full(3.40), 10);
    EXPECT_NEAR(*l.maxChargeVoltageV, start - 0.010, 1e-9) << "1 mV/s";
    EXPECT_DOUBLE_EQ(*l.timeSinceFullChargeS, 10);
    EXPECT_EQ(l.chargeMode, "Float");
    for (int i = 0; i < 2000; ++i) l = e.step(full(3.37), 1);
    EXPECT_NEAR(*l.maxChargeVoltageV, 16 * 3.375, 1e-9);
    auto lowSoc = pack(3.30, 3.30, -50);
    lowSoc.socPercent = 79;
    e.step(lowSoc, 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Bulk) << "re-bulk below 80 % SoC";
    ChargeEngine spread{ChargeConfig{}};
    spread.restore(EngineState{ChargeMode::Float});
    auto imbalanced = pack(3.30, 3.39, 0);
    imbalanced.socPercent = 99;
    spread.step(imbalanced, 1);
    EXPECT_EQ(spread.state().mode, ChargeMode::Bulk) << "re-bulk above 80 mV spread";
}

TEST(ChargeEngine, PeriodicEqualizeFromFloat) {
    ChargeConfig c;
    c.equalizeEveryDays = 7;
    ChargeEngine e{c};
    EngineState floating;
    floating.mode = ChargeMode::Float;
    floating.sinceEqualizeS = 7 * 86400 - 10;
    e.restore(floating);
    auto full = pack(3.40, 3.40, 0);
    full.socPercent = 99;
    for (int i = 0; i < 9; ++i) e.step(full, 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Float);
    auto l = e.step(full, 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Equalize);
    // Up from the float voltage at the recovery slew (10 mV/s), not in one jump.
    EXPECT_LT(*l.maxChargeVoltageV, 16 * 3.40);
    for (int i = 0; i < 200; ++i) l = e.step(full, 1);
    EXPECT_TRUE(l.chargeMode.starts_with("Equalize 700 s left")) << l.chargeMode;
    EXPECT_GT(*l.maxChargeVoltageV, 16 * 3.45) << "towards 16 x 3.55 V";
    for (int i = 0; i < 700; ++i) e.step(full, 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Float);
    EXPECT_LT(e.state().sinceEqualizeS, 2);
    ChargeConfig bad;
    bad.equalizeEveryDays = 7;
    bad.equalizeCellV = 3.40;
    EXPECT_EQ(bad.validate().size(), 1U);
}

// Our own warnings (section 4), each with a hysteresis band; they never follow from a limit
// being 0.
TEST(ChargeEngine, WarningsWithHysteresis) {
    using domain::Alarm;
    ChargeEngine e{ChargeConfig{}};
    auto s = pack(3.30, 3.30);
    s.settings.cellOvpV = 3.65;
    EXPECT_FALSE(e.step(s, 1).warnings.any());
    s.cellVoltagesV[0] = 3.60;  // OVP - 50 mV
    EXPECT_TRUE(e.step(s, 1).warnings.has(Alarm::CellHighVoltage));
    s.cellVoltagesV[0] = 3.56;  // inside the band: still on
    EXPECT_TRUE(e.step(s, 1).warnings.has(Alarm::CellHighVoltage));
    s.cellVoltagesV[0] = 3.54;
    EXPECT_FALSE(e.step(s, 1).warnings.has(Alarm::CellHighVoltage));
    s.settings.cellOvpV = 3.50;  // OVP close to the bulk target: not before target + 50 mV
    s.cellVoltagesV[0] = 3.46;
    EXPECT_FALSE(e.step(s, 1).warnings.has(Alarm::CellHighVoltage));

    s = pack(3.30, 3.30);
    s.settings.cellUvpV = 2.85;  // warning at 2.95 V, cleared above 3.00 V
    s.cellVoltagesV[5] = 2.95;
    auto w = e.step(s, 1).warnings;
    EXPECT_TRUE(w.has(Alarm::CellLowVoltage));
    EXPECT_FALSE(w.has(Alarm::LowVoltage)) << "one low cell is not a low pack";
    s.cellVoltagesV[5] = 2.99;
    EXPECT_TRUE(e.step(s, 1).warnings.has(Alarm::CellLowVoltage));
    s.cellVoltagesV[5] = 3.01;
    EXPECT_FALSE(e.step(s, 1).warnings.has(Alarm::CellLowVoltage));
    for (double& v : s.cellVoltagesV) v = 2.90;  // the sum at BatteryLowVoltage
    EXPECT_TRUE(e.step(s, 1).warnings.has(Alarm::LowVoltage));

    s = pack(3.30, 3.30);
    s.socPercent = 10;
    EXPECT_TRUE(e.step(s, 1).warnings.has(Alarm::LowSoc));
    s.socPercent = 14;
    EXPECT_TRUE(e.step(s, 1).warnings.has(Alarm::LowSoc));
    s.socPercent = 15;
    EXPECT_FALSE(e.step(s, 1).warnings.has(Alarm::LowSoc));
    // DCL at 0 with a high SoC (the discharge FET off) raises no low-battery warning.
    s.socPercent = 90;
    s.switches.dischargeMos = false;
    auto l = e.step(s, 1);
    EXPECT_DOUBLE_EQ(*l.maxDischargeCurrentA, 0);
    EXPECT_FALSE(l.warnings.any());
}

TEST(ChargeEngine, ChargeLimitersByName) {
    struct Case {
        const char* name;
        std::function<void(BatterySnapshot&)> change;
        double ccl;
    } cases[] = {
        {"Max charge current", [](BatterySnapshot&) {}, 100},
        {"Cell voltage", [](BatterySnapshot& s) { s.cellVoltagesV[0] = 3.45; }, 50},
        {"Temperature", [](BatterySnapshot& s) { s.temperatures[0].celsius = 2.5; }, 15},
        {"MOSFET temperature", [](BatterySnapshot& s) { s.mosfetTemperatureC = 80; }, 50},
        {"BMS charge switch off", [](BatterySnapshot& s) { s.switches.chargeMos = false; }, 0},
        {"BMS alarm", [](BatterySnapshot& s) { s.alarms.set(domain::Alarm::CellHighVoltage); }, 0},
    };
    for (const auto& c : cases) {
        ChargeEngine e{ChargeConfig{}};
        auto s = pack(3.30, 3.30);
        c.change(s);
        auto l = e.step(s, 1);
        EXPECT_NEAR(*l.maxChargeCurrentA, c.ccl, 1e-9) << c.name;
        EXPECT_EQ(l.chargeLimitation, c.name);
    }
}

TEST(ChargeEngine, MaximumFromBmsSettingsModelAndConfig) {
    auto s = pack(3.30, 3.30);
    s.settings.maxChargeCurrentA.reset();
    s.settings.chargeOcpA = 60;  // NW: the over-current threshold
    EXPECT_NEAR(*ChargeEngine{ChargeConfig{}}.step(s, 1).maxChargeCurrentA, 60, 1e-9);
    s.identity.model = "JK-BD6A17S6P";  // 60 A rating
    s.settings.chargeOcpA = 100;
    EXPECT_NEAR(*ChargeEngine{ChargeConfig{}}.step(s, 1).maxChargeCurrentA, 60, 1e-9);
    ChargeConfig c;
    c.maxChargeA = 40;
    EXPECT_NEAR(*ChargeEngine{c}.step(s, 1).maxChargeCurrentA, 40, 1e-9);
    EXPECT_DOUBLE_EQ(ChargeEngine::modelRatingA("JK_B2A8S20P"), 200);
    EXPECT_DOUBLE_EQ(ChargeEngine::modelRatingA("JK-PB2A16S20P"), 0) << "not in the table";
}

TEST(ChargeEngine, DischargeLimitersByName) {
    ChargeEngine e{ChargeConfig{}};
    auto s = pack(3.05, 3.05, -40);
    auto l = e.step(s, 1);
    EXPECT_NEAR(*l.maxDischargeCurrentA, 150 * 0.75, 1e-9);
    EXPECT_EQ(l.dischargeLimitation, "Cell voltage");
    s.switches.dischargeMos = false;
    l = e.step(s, 1);
    EXPECT_DOUBLE_EQ(*l.maxDischargeCurrentA, 0);
    EXPECT_EQ(l.dischargeLimitation, "BMS discharge switch off");
}

TEST(ChargeEngine, HeaterPassThroughWhenCold) {
    ChargeEngine e{ChargeConfig{}};
    auto s = pack(3.30, 3.30);
    s.temperatures[0].celsius = -5;
    EXPECT_DOUBLE_EQ(*e.step(s, 1).maxChargeCurrentA, 0);
    s.heating = true;
    s.heatingCurrentA = 2.2;
    ChargeEngine heated{ChargeConfig{}};
    auto l = heated.step(s, 1);
    EXPECT_NEAR(*l.maxChargeCurrentA, 2.2, 1e-9);
    EXPECT_EQ(l.chargeLimitation, "Heater");
}

TEST(ChargeEngine, ReductionsAtOnceIncreasesHeldThenRateLimited) {
    ChargeEngine e{ChargeConfig{}};
    auto s = pack(3.30, 3.30);
    EXPECT_DOUBLE_EQ(*e.step(s, 1).maxChargeCurrentA, 100);
    s.cellVoltagesV[0] = 3.50;  // 10 A
    EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 10, 1e-9) << "a reduction, at once";
    s.cellVoltagesV[0] = 3.30;
    for (int i = 0; i < 29; ++i) EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 10, 1e-9) << "held " << i;
    EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 15, 1e-9) << "after 30 s: up at 5 A/s";
    EXPECT_NEAR(*e.step(s, 2).maxChargeCurrentA, 25, 1e-9);
    s.cellVoltagesV[0] = 3.49;  // 18 A: another reduction, at once
    EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 18, 1e-9);
    s.switches.chargeMos = false;
    EXPECT_DOUBLE_EQ(*e.step(s, 1).maxChargeCurrentA, 0);
    s.switches.chargeMos = true;
    s.cellVoltagesV[0] = 3.30;
    for (int i = 0; i < 29; ++i) EXPECT_DOUBLE_EQ(*e.step(s, 1).maxChargeCurrentA, 0) << i;
    EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 5, 1e-9) << "released after 30 s, then rate-limited";
}

TEST(ChargeEngine, SmallIncreasesInsideTheBandAreIgnored) {
    ChargeEngine e{ChargeConfig{}};
    auto s = pack(3.30, 3.46);  // 0.5 - 0.08 = 0.42 -> 42 A
    EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 42, 1e-9);
    s.cellVoltagesV[0] = 3.458;  // target 43.6 A: within 2 A
    for (int i = 0; i < 100; ++i) EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 42, 1e-9);
}

TEST(ChargeEngine, NoCellsNoLimits) {
    ChargeEngine e{ChargeConfig{}};
    auto l = e.step(BatterySnapshot{}, 1);
    EXPECT_FALSE(l.maxChargeVoltageV);
    EXPECT_FALSE(l.maxChargeCurrentA);
}

}  // namespace
}  // namespace jkbms::charge
