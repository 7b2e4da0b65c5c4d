// Golden scenarios of the charge-limit engine: scripted snapshots and times, expected limits
// and reasons - one per transition and per limiter (charge-control.md sections 2 and 3), and
// one per fault of the real loop (issue 13: noisy JK readings, lagging chargers, blocked
// charges, short chargers, drifting SoC, the BMS's own protection settings).

#include "jkbms/charge/charge_engine.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <vector>

namespace jkbms::charge {
namespace {

using domain::BatterySnapshot;

// 16 LFP cells at `v`, the first one at `top`, 280 Ah, SoC 50 %, 25 C, FETs on, the BMS's
// cell OVP 3.65 V (so the chemistry is LFP).
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
    s.settings.cellOvpV = 3.65;
    return s;
}

// Repeats one reading until the filters have settled on it.
domain::ChargeLimits settle(ChargeEngine& e, const BatterySnapshot& s, double seconds = 120, double dt = 1) {
    domain::ChargeLimits l;
    for (double t = 0; t < seconds; t += dt) l = e.step(s, dt);
    return l;
}

// Deterministic JK-like noise: +-5 mV, whole millivolts.
class Noise {
public:
    explicit Noise(unsigned seed) : rng_(seed) {}
    double operator()() { return static_cast<double>(dist_(rng_)) / 1000.0; }

private:
    std::mt19937 rng_;
    std::uniform_int_distribution<int> dist_{-5, 5};
};

// Direction changes of a series, ignoring moves smaller than `ignore`.
int directionChanges(const std::vector<double>& v, double ignore) {
    int changes = 0, last = 0;
    double anchor = v.empty() ? 0 : v.front();
    for (double x : v) {
        const double d = x - anchor;
        if (std::fabs(d) < ignore) continue;
        const int dir = d > 0 ? 1 : -1;
        if (last != 0 && dir != last) ++changes;
        last = dir;
        anchor = x;
    }
    return changes;
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
    c.chemistry = Chemistry::Lfp;
    c.chargeCellV = Table{{{3.40, 1.0}, {3.45, 0.0}}};
    auto errors = c.validate();
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_NE(errors[0].find("never finish absorption"), std::string::npos) << errors[0];
    c = ChargeConfig{};
    c.chemistry = Chemistry::Lfp;
    c.floatCellV = 3.5;
    EXPECT_EQ(c.validate().size(), 1U);
    ChargeConfig autoWithVoltage;
    autoWithVoltage.bulkCellV = 3.50;
    ASSERT_EQ(autoWithVoltage.validate().size(), 1U);
    EXPECT_NE(autoWithVoltage.validate()[0].find("set chemistry"), std::string::npos);
    for (auto chem : {Chemistry::Lfp, Chemistry::Nmc, Chemistry::Lto}) {
        ChargeConfig k;
        k.chemistry = chem;
        EXPECT_TRUE(k.validate().empty()) << chemistryName(chem) << ": " << k.validate()[0];
    }
}

TEST(ChargeEngine, ChemistryFromTheBmsCellOvp) {
    EXPECT_EQ(impliedChemistry(3.65), Chemistry::Lfp);
    EXPECT_EQ(impliedChemistry(4.25), Chemistry::Nmc);
    EXPECT_EQ(impliedChemistry(2.80), Chemistry::Lto);
    EXPECT_FALSE(impliedChemistry(std::nullopt));
    // Without the BMS's OVP an auto engine publishes nothing: LFP targets on an LTO pack would
    // overcharge it.
    ChargeEngine e{ChargeConfig{}};
    auto s = pack(2.50, 2.50);
    s.settings.cellOvpV.reset();
    auto l = e.step(s, 1);
    EXPECT_FALSE(l.maxChargeVoltageV);
    EXPECT_FALSE(l.maxChargeCurrentA);
    EXPECT_NE(l.chargeMode.find("Waiting"), std::string::npos) << l.chargeMode;
    s.settings.cellOvpV = 2.80;  // LTO
    l = e.step(s, 1);
    EXPECT_DOUBLE_EQ(*l.maxChargeVoltageV, 16 * 2.65);
    EXPECT_DOUBLE_EQ(*l.batteryLowVoltageV, 16 * 2.00);
    EXPECT_NE(l.notes.find("chemistry lto"), std::string::npos) << l.notes;
    s = pack(3.90, 3.90);
    s.settings.cellOvpV = 4.20;  // NMC
    EXPECT_NEAR(*ChargeEngine{ChargeConfig{}}.step(s, 1).maxChargeVoltageV, 16 * 4.10, 1e-9);
}

TEST(ChargeEngine, BulkRegulatesTowardsTheTarget) {
    ChargeEngine e{ChargeConfig{}};
    auto l = e.step(pack(3.30, 3.31), 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Bulk);
    EXPECT_NEAR(*l.maxChargeVoltageV, 16 * 3.45, 1e-9);
    EXPECT_EQ(l.chargeMode, "Bulk");
    EXPECT_NEAR(*l.batteryLowVoltageV, 16 * 2.90, 1e-9);
}

TEST(ChargeEngine, ACellReallyAboveTargetStopsChargingAtOnce) {
    ChargeEngine e{ChargeConfig{}};
    settle(e, pack(3.38, 3.40));
    // Cell 1 reads 40 mV over the target (beyond the 30 mV hard margin): CVL drops below the
    // cells' own sum in this very step, whatever the filters say.
    auto s = pack(3.38, 3.49);
    auto l = e.step(s, 1);
    EXPECT_LT(*l.maxChargeVoltageV, s.cellStats()->sumV + 1e-9);
    EXPECT_LT(*l.maxChargeCurrentA, 100 * 0.5) << "the cell-voltage table on the raw reading";
    EXPECT_NE(l.chargeMode.find("(cell 1 limiting)"), std::string::npos) << l.chargeMode;
}

TEST(ChargeEngine, CvlNeverFarBelowTheCellsAndNeverBelowTheFloor) {
    ChargeEngine e{ChargeConfig{}};
    for (int i = 0; i < 600; ++i) e.step(pack(3.40, 3.47), 1);  // a cell above target for 10 min
    const auto s = pack(3.40, 3.47);
    const double sum = s.cellStats()->sumV;
    EXPECT_GE(*e.step(s, 1).maxChargeVoltageV, sum - 16 * 0.010 - 0.005) << "anti-windup against the pack";
    // The floor holds CVL up on a pack far down...
    ChargeConfig fastIntegrator;  // wound all the way down in the 100 s below
    fastIntegrator.regulatorKiPerS = 1;
    ChargeEngine low{fastIntegrator};
    for (int i = 0; i < 100; ++i) low.step(pack(2.80, 3.47, 0), 1);
    EXPECT_NEAR(*low.step(pack(2.80, 3.47, 0), 1).maxChargeVoltageV, 16 * 2.90, 1e-6) << "the floor";
    // ... but not against the hard cut: one runaway cell stops the charge (CVL under the sum,
    // CCL 0 from the cell-voltage table on that cell).
    const auto runaway = pack(2.80, 3.60, 0);
    const auto l = low.step(runaway, 1);
    EXPECT_LT(*l.maxChargeVoltageV, runaway.cellStats()->sumV);
    EXPECT_DOUBLE_EQ(*l.maxChargeCurrentA, 0);
}

TEST(ChargeEngine, AbsorptionTimerRunsOnlyWithBalancedCellsAndLowCurrentThenFloat) {
    ChargeEngine e{ChargeConfig{}};
    settle(e, pack(3.43, 3.445, 30), 30);
    ASSERT_EQ(e.state().mode, ChargeMode::Absorption);
    settle(e, pack(3.415, 3.45, 10), 200);  // spread 35 mV: timer stopped
    EXPECT_DOUBLE_EQ(e.state().absorptionS, 0.0);
    settle(e, pack(3.445, 3.45, 30), 200);  // balanced, but 30 A > 0.05 C: still charging hard
    EXPECT_DOUBLE_EQ(e.state().absorptionS, 0.0);
    settle(e, pack(3.445, 3.45, 10), 100);  // balanced, 10 A (< 14 A): the timer runs
    EXPECT_GT(e.state().absorptionS, 50);
    auto l = settle(e, pack(3.445, 3.45, 10), 500);
    EXPECT_EQ(e.state().mode, ChargeMode::Absorption);
    EXPECT_TRUE(l.chargeMode.starts_with("Absorption ")) << l.chargeMode;
    settle(e, pack(3.445, 3.45, 10), 400);
    EXPECT_EQ(e.state().mode, ChargeMode::Float);
}

TEST(ChargeEngine, ReconfigureKeepsModeAndTimersAndRefusesAnInvalidConfig) {
    ChargeEngine e{ChargeConfig{}};
    settle(e, pack(3.43, 3.445, 30), 30);
    ASSERT_EQ(e.state().mode, ChargeMode::Absorption);
    settle(e, pack(3.445, 3.45, 10), 100);  // the absorption timer runs
    const double timerS = e.state().absorptionS;
    ASSERT_GT(timerS, 50);
    auto l = e.step(pack(3.445, 3.45, 10), 1);
    ASSERT_GT(*l.maxChargeCurrentA, 40) << "the BMS's maximum of 100 A, cut by the cell-voltage table";

    // Float above bulk: refused with the reason, nothing changes.
    ChargeConfig bad;
    bad.chemistry = Chemistry::Lfp;
    bad.floatCellV = 3.50;
    const auto problems = e.reconfigure(bad);
    ASSERT_FALSE(problems.empty());
    EXPECT_NE(problems.front().find("float_voltage"), std::string::npos) << problems.front();
    EXPECT_FALSE(e.config().floatCellV.has_value());

    // A lower maximum: in force at the next step, at once; mode and timer carry on.
    ChargeConfig lower;
    lower.maxChargeA = 20;
    lower.absorptionMaxTimeS = 3600;
    EXPECT_TRUE(e.reconfigure(lower).empty());
    l = e.step(pack(3.445, 3.45, 10), 1);
    EXPECT_NEAR(*l.maxChargeCurrentA, 10, 1e-9) << "the table's 0.5 at 3.45 V, now of 20 A";
    EXPECT_EQ(e.state().mode, ChargeMode::Absorption);
    EXPECT_GT(e.state().absorptionS, timerS) << "the timer was not reset";
    // The longer absorption time is used: 900 s would have ended it by now.
    settle(e, pack(3.445, 3.45, 10), 900);
    EXPECT_EQ(e.state().mode, ChargeMode::Absorption);
}

TEST(ChargeEngine, TailCurrentHeldEndsAbsorption) {
    ChargeEngine e{ChargeConfig{}};
    settle(e, pack(3.445, 3.45, 20), 30);
    ASSERT_EQ(e.state().mode, ChargeMode::Absorption);
    settle(e, pack(3.445, 3.45, 3), 80);  // 3 A < 0.02 C = 5.6 A (filtered: from ~40 s on)
    EXPECT_EQ(e.state().mode, ChargeMode::Absorption);
    auto l = settle(e, pack(3.445, 3.45, 3), 90);
    EXPECT_EQ(e.state().mode, ChargeMode::Float);
    EXPECT_DOUBLE_EQ(*l.timeSinceFullChargeS, e.state().sinceFullChargeS);
}

// Issue 17 item 4: a refused configuration (ChargeConfig::noCharge) - CCL 0 from the first
// step, the heater included, named "Settings invalid"; since nothing can charge, a pack at
// its target with no current is not taken for full (no Float, no full-charge time). DCL and
// CVL as without it.
TEST(ChargeEngine, NoChargeIsCcl0AndNeverAFalseEndOfCharge) {
    ChargeConfig config;
    config.noCharge = true;
    ChargeEngine e{config};
    ChargeEngine unlimited{ChargeConfig{}};
    const auto first = e.step(pack(3.30, 3.30), 0);
    EXPECT_DOUBLE_EQ(*first.maxChargeCurrentA, 0);
    EXPECT_EQ(first.chargeLimitation, "Settings invalid");
    EXPECT_DOUBLE_EQ(*first.maxDischargeCurrentA, *unlimited.step(pack(3.30, 3.30), 0).maxDischargeCurrentA);
    auto cold = pack(3.30, 3.30);
    cold.temperatures[0].celsius = -5;
    cold.heating = true;
    cold.heatingCurrentA = 2.2;
    EXPECT_DOUBLE_EQ(*e.step(cold, 1).maxChargeCurrentA, 0) << "no heater pass-through either";
    ChargeEngine full{config};
    const auto l = settle(full, pack(3.445, 3.45, 0), 600);  // at the target, nothing flows
    EXPECT_NE(full.state().mode, ChargeMode::Float) << "blocked at the target is not full";
    EXPECT_FALSE(l.timeSinceFullChargeS.has_value());
    EXPECT_DOUBLE_EQ(*l.maxChargeCurrentA, 0);
}

TEST(ChargeEngine, FullButImbalancedPackStillReachesFloat) {
    ChargeEngine e{ChargeConfig{}};
    settle(e, pack(3.40, 3.45, 20), 30);
    settle(e, pack(3.40, 3.45, 3), 1000);  // spread 50 mV forever, tiny current
    EXPECT_EQ(e.state().mode, ChargeMode::Float);
}

TEST(ChargeEngine, FloatSlewsDownAndRebulksOnlyOnASustainedCondition) {
    ChargeEngine e{ChargeConfig{}};
    settle(e, pack(3.445, 3.45, 20), 30);
    settle(e, pack(3.445, 3.45, 3), 200);
    ASSERT_EQ(e.state().mode, ChargeMode::Float);
    const double start = e.state().cvlV;
    auto full = [](double v, double a = 0) {
        auto s = pack(v, v, a);
        s.socPercent = 99;
        return s;
    };
    auto l = e.step(full(3.40), 10);
    EXPECT_NEAR(*l.maxChargeVoltageV, std::round((start - 0.010) * 100) / 100, 0.0051) << "1 mV/s";
    EXPECT_EQ(l.chargeMode, "Float");
    l = settle(e, full(3.37), 2000);
    EXPECT_NEAR(*l.maxChargeVoltageV, 16 * 3.375, 1e-9);
    // A real discharge: the cells below the re-bulk voltage for rebulk_time.
    auto discharged = pack(3.28, 3.28, -50);
    discharged.socPercent = 60;
    settle(e, discharged, 200);
    EXPECT_EQ(e.state().mode, ChargeMode::Float) << "not yet: 5 minutes";
    settle(e, discharged, 200);
    EXPECT_EQ(e.state().mode, ChargeMode::Bulk);
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
    for (int i = 0; i < 200; ++i) l = e.step(full, 1);
    EXPECT_TRUE(l.chargeMode.starts_with("Equalize 15 min left")) << "the timer waits for the target: " << l.chargeMode;
    EXPECT_GT(*l.maxChargeVoltageV, 16 * 3.45) << "towards 16 x 3.55 V";
    auto atTarget = pack(3.54, 3.54, 3);  // the cells reach the equalize target
    for (int i = 0; i < 200; ++i) l = e.step(atTarget, 1);
    EXPECT_TRUE(l.chargeMode.starts_with("Equalize 13 min left")) << "filtered: ~17 s to reach it " << l.chargeMode;
    for (int i = 0; i < 760; ++i) e.step(atTarget, 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Float);
    EXPECT_LT(e.state().sinceEqualizeS, 60) << "equalized just now";
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
    EXPECT_FALSE(e.step(s, 1).warnings.any());
    s.cellVoltagesV[0] = 3.60;  // OVP - 50 mV
    EXPECT_TRUE(settle(e, s, 120).warnings.has(Alarm::CellHighVoltage));
    s.cellVoltagesV[0] = 3.56;  // inside the band: still on
    EXPECT_TRUE(settle(e, s, 60).warnings.has(Alarm::CellHighVoltage));
    s.cellVoltagesV[0] = 3.54;
    EXPECT_FALSE(settle(e, s, 60).warnings.has(Alarm::CellHighVoltage));

    s = pack(3.30, 3.30);
    s.settings.cellUvpV = 2.85;  // warning at 2.95 V, cleared above 3.00 V
    s.cellVoltagesV[5] = 2.95;
    auto w = settle(e, s, 120).warnings;
    EXPECT_TRUE(w.has(Alarm::CellLowVoltage));
    EXPECT_FALSE(w.has(Alarm::LowVoltage)) << "one low cell is not a low pack";
    s.cellVoltagesV[5] = 2.99;
    EXPECT_TRUE(settle(e, s, 60).warnings.has(Alarm::CellLowVoltage));
    s.cellVoltagesV[5] = 3.01;
    EXPECT_FALSE(settle(e, s, 60).warnings.has(Alarm::CellLowVoltage));
    for (double& v : s.cellVoltagesV) v = 2.90;  // the sum at BatteryLowVoltage
    EXPECT_TRUE(settle(e, s, 120).warnings.has(Alarm::LowVoltage));

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
    auto l = settle(e, s, 60);
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
        {"Temperature", [](BatterySnapshot& s) { s.temperatures[0].celsius = 7.5; }, 65},
        {"BMS temperature limit", [](BatterySnapshot& s) { s.settings.chargeOtpC = 30; }, 60},
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
    // UVP unknown: the profile's 2.80 V + 100 mV margin moves the table's end from 2.70 to
    // 2.90 V, compressed towards 3.10 V (factor 0.5): 3.05 V is now the 0.5 point.
    EXPECT_NEAR(*l.maxDischargeCurrentA, 75, 1e-9);
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
    s.alarms.set(domain::Alarm::CellHighVoltage);  // any other alarm still stops it
    EXPECT_DOUBLE_EQ(*heated.step(s, 1).maxChargeCurrentA, 0);
}

TEST(ChargeEngine, ReductionsAtOnceIncreasesHeldThenRateLimited) {
    ChargeEngine e{ChargeConfig{}};
    auto s = pack(3.30, 3.30, 0);
    EXPECT_DOUBLE_EQ(*e.step(s, 1).maxChargeCurrentA, 100);
    s.temperatures[0].celsius = 2.5;  // 15 A
    EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 15, 1e-9) << "a reduction, at once";
    s.temperatures[0].celsius = 25;
    for (int i = 0; i < 29; ++i) EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 15, 1e-9) << "held " << i;
    EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 20, 1e-9) << "after 30 s: up at 5 A/s";
    EXPECT_NEAR(*e.step(s, 2).maxChargeCurrentA, 30, 1e-9);
    s.temperatures[0].celsius = 4;  // 24 A: another reduction, at once
    EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 24, 1e-9);
    s.switches.chargeMos = false;
    EXPECT_DOUBLE_EQ(*e.step(s, 1).maxChargeCurrentA, 0);
    s.switches.chargeMos = true;
    s.temperatures[0].celsius = 25;
    for (int i = 0; i < 29; ++i) EXPECT_DOUBLE_EQ(*e.step(s, 1).maxChargeCurrentA, 0) << i;
    EXPECT_NEAR(*e.step(s, 1).maxChargeCurrentA, 5, 1e-9) << "released after 30 s, then rate-limited";
}

// A lower maximum cuts CCL / DCL at once, also by less than the reduction deadband (1 % of
// the maximum): the published limit never exceeds the configured maximum.
TEST(ChargeEngine, ASmallCutOfTheMaximumLowersTheLimitsAtOnce) {
    ChargeConfig c;
    c.maxChargeA = 100;
    c.maxDischargeA = 100;
    ChargeEngine e{c};
    const auto s = pack(3.30, 3.30, 0);
    auto l = settle(e, s, 60);
    ASSERT_NEAR(*l.maxChargeCurrentA, 100, 1e-9);
    ASSERT_NEAR(*l.maxDischargeCurrentA, 100, 1e-9);
    c.maxChargeA = 99.5;
    c.maxDischargeA = 99.5;
    ASSERT_TRUE(e.reconfigure(c).empty());
    l = e.step(s, 1);
    EXPECT_LE(*l.maxChargeCurrentA, 99.5);
    EXPECT_LE(*l.maxDischargeCurrentA, 99.5);
    EXPECT_NEAR(*l.maxChargeCurrentA, 99.5, 1e-9);
    EXPECT_NEAR(*l.maxDischargeCurrentA, 99.5, 1e-9);
    // 0.05 A less: below the 0.1 A resolution, the limit goes to the 0.1 A step below.
    c.maxChargeA = 99.45;
    ASSERT_TRUE(e.reconfigure(c).empty());
    l = settle(e, s, 60);
    EXPECT_LE(*l.maxChargeCurrentA, 99.45);
    // Back up: reached at the usual increase rate, after the hold.
    c.maxChargeA = 100;
    ASSERT_TRUE(e.reconfigure(c).empty());
    EXPECT_LE(*e.step(s, 1).maxChargeCurrentA, 99.45) << "an increase is held";
}

TEST(ChargeEngine, NoCellsNoLimits) {
    ChargeEngine e{ChargeConfig{}};
    auto l = e.step(BatterySnapshot{}, 1);
    EXPECT_FALSE(l.maxChargeVoltageV);
    EXPECT_FALSE(l.maxChargeCurrentA);
    // A cell that is not a number (or 0 V) is no reading to act on - and leaves no trace in
    // the filters for the next one.
    auto bad = pack(3.30, 3.30);
    bad.cellVoltagesV[4] = std::nan("");
    EXPECT_FALSE(e.step(bad, 1).maxChargeVoltageV);
    bad.cellVoltagesV[4] = 0;
    EXPECT_FALSE(e.step(bad, 1).maxChargeVoltageV);
    EXPECT_NEAR(*e.step(pack(3.30, 3.30), 1).maxChargeVoltageV, 16 * 3.45, 1e-9);
    EXPECT_FALSE(e.step(pack(3.30, 3.30), std::nan("")).maxChargeVoltageV == std::nullopt) << "a bad dt is 0";
    // Once there are limits, a misread frame (a cell at 0xFFFF mV, 88 kA) gives them again and
    // moves nothing - no hard cut of CVL, no CCL at 0 from one garbage reading.
    const auto before = e.step(pack(3.30, 3.30), 1);
    auto misread = pack(3.30, 3.30);
    misread.cellVoltagesV[2] = 65.535;
    auto again = e.step(misread, 1);
    EXPECT_EQ(again.maxChargeVoltageV, before.maxChargeVoltageV);
    EXPECT_EQ(again.maxChargeCurrentA, before.maxChargeCurrentA);
    misread = pack(3.30, 3.30, 88000);
    EXPECT_EQ(e.step(misread, 1).maxChargeCurrentA, before.maxChargeCurrentA);
    auto soc = pack(3.30, 3.30);
    soc.socPercent = 255;
    EXPECT_FALSE(e.step(soc, 1).warnings.has(domain::Alarm::LowSoc));
}

TEST(ChargeEngine, TablesAnchoredToTheBmsProtectionSettings) {
    // The BMS's OVP at 3.55 V: the charge table's end moves to 3.50 V and the bulk target
    // stays 100 mV below OVP.
    auto s = pack(3.30, 3.30, 0);
    s.settings.cellOvpV = 3.55;
    ChargeEngine e{ChargeConfig{}};
    auto l = e.step(s, 1);
    EXPECT_NEAR(*l.maxChargeVoltageV, 16 * 3.45, 1e-9);
    s.cellVoltagesV[0] = 3.50;
    l = settle(e, s, 120);
    EXPECT_DOUBLE_EQ(*l.maxChargeCurrentA, 0) << "0 A by OVP - 50 mV";
    s = pack(3.30, 3.30, 0);
    s.settings.cellOvpV = 3.50;  // bulk 3.45 would sit 50 mV under OVP: capped to 3.40
    ChargeEngine capped{ChargeConfig{}};
    l = capped.step(s, 1);
    EXPECT_NEAR(*l.maxChargeVoltageV, 16 * 3.40, 1e-9);
    EXPECT_NE(l.notes.find("capped to 3.400 V"), std::string::npos) << l.notes;
}

TEST(ChargeEngine, RestoreKeepsTheModeAndTimersAndRestartsTheFilters) {
    ChargeEngine e{ChargeConfig{}};
    settle(e, pack(3.445, 3.45, 10), 300);
    ASSERT_EQ(e.state().mode, ChargeMode::Absorption);
    ChargeEngine again{ChargeConfig{}};
    again.restore(e.state());
    EXPECT_EQ(again.state().mode, ChargeMode::Absorption);
    EXPECT_DOUBLE_EQ(again.state().absorptionS, e.state().absorptionS);
    EXPECT_EQ(again.state().filter.cells, 0U);
    auto l = again.step(pack(3.44, 3.44, 10), 0);
    EXPECT_TRUE(l.chargeMode.starts_with("Absorption")) << l.chargeMode;
}

// --- Found in review (each failed before its fix) ----------------------------------------

TEST(ChargeEngineReview, AMisreadOvpNeitherSwitchesTheChemistryNorMovesTheAnchors) {
    ChargeEngine e{ChargeConfig{}};
    auto s = pack(3.40, 3.40, 20);
    settle(e, s, 10);
    s.settings.cellOvpV = 65.535;  // 0xFFFF in one settings frame
    auto l = e.step(s, 1);
    EXPECT_NEAR(*l.maxChargeVoltageV, 16 * 3.45, 1e-9) << "still LFP";
    s.settings.cellOvpV.reset();  // a snapshot without the settings
    EXPECT_TRUE(e.step(s, 1).maxChargeVoltageV) << "the chemistry, once known, stays";
    EXPECT_FALSE(impliedChemistry(65.535));
    EXPECT_EQ(impliedChemistry(3.90), Chemistry::Lfp) << "an LFP OVP set high is still LFP";
}

TEST(ChargeEngineReview, TablesAreAnchoredByTheirZeroEndWhateverTheOrder) {
    ChargeConfig c;
    c.chemistry = Chemistry::Lfp;
    c.chargeCellV = Table{{{3.60, 0.0}, {3.40, 1.0}}};  // falling order
    auto s = pack(3.30, 3.55, 0);
    s.settings.cellOvpV = 3.55;  // the table's zero end moves to 3.50 V
    ChargeEngine e{c};
    EXPECT_DOUBLE_EQ(*settle(e, s, 120).maxChargeCurrentA, 0) << "3.55 V is beyond OVP - 50 mV";
    ChargeConfig noZero;
    noZero.chemistry = Chemistry::Lfp;
    noZero.chargeCellV = Table{{{3.40, 1.0}, {3.60, 0.2}}};
    ASSERT_FALSE(noZero.validate().empty());
    EXPECT_NE(noZero.validate()[0].find("must reach 0"), std::string::npos) << noZero.validate()[0];
}

TEST(ChargeEngineReview, ReadingsThatStayUnusableStopChargeAndDischarge) {
    ChargeEngine e{ChargeConfig{}};
    auto l = settle(e, pack(3.30, 3.30), 10);
    ASSERT_GT(*l.maxChargeCurrentA, 0);
    auto open = pack(3.30, 3.30);
    open.cellVoltagesV[7] = 0;  // a balance lead broke: frames keep coming
    for (int i = 0; i < 5; ++i) l = e.step(open, 1);
    EXPECT_GT(*l.maxChargeCurrentA, 0) << "one or two misreads: the last limits";
    for (int i = 0; i < 10; ++i) l = e.step(open, 1);
    EXPECT_DOUBLE_EQ(*l.maxChargeCurrentA, 0);
    EXPECT_DOUBLE_EQ(*l.maxDischargeCurrentA, 0);
    EXPECT_EQ(l.chargeLimitation, "Cell readings implausible");
}

TEST(ChargeEngineReview, ASilenceIsNoTailCurrentAndNoRecoveryHold) {
    ChargeEngine e{ChargeConfig{}};
    settle(e, pack(3.445, 3.45, 20), 60);
    ASSERT_EQ(e.state().mode, ChargeMode::Absorption);
    e.step(pack(3.445, 3.45, 2), 1200);  // one reading after 20 minutes of silence
    EXPECT_EQ(e.state().mode, ChargeMode::Absorption) << "the gap counted as tail time";
    ChargeEngine held{ChargeConfig{}};
    auto s = pack(3.30, 3.30, 0);
    held.step(s, 1);
    s.switches.chargeMos = false;
    held.step(s, 1);
    s.switches.chargeMos = true;
    EXPECT_DOUBLE_EQ(*held.step(s, 40).maxChargeCurrentA, 0) << "a 40 s gap is no 30 s hold";
}

TEST(ChargeEngineReview, ASmallPackOnItsPlateauUnderALoadIsNotFull) {
    BatterySnapshot s;
    for (int i = 0; i < 4; ++i) s.cellVoltagesV.push_back(3.36);
    s.currentA = -1;  // evening: a small load, no charger
    s.fullCapacityAh = 100;
    s.socPercent = 60;
    s.temperatures.push_back({"T1", 25});
    s.switches.chargeMos = s.switches.dischargeMos = true;
    s.settings.cellOvpV = 3.65;
    ChargeEngine e{ChargeConfig{}};
    settle(e, s, 600);
    EXPECT_EQ(e.state().mode, ChargeMode::Bulk);
    EXPECT_LT(e.state().sinceFullChargeS, 0) << "no full charge recorded";
}

TEST(ChargeEngineReview, ARunnerCellHeldByCvlIsNoFullPack) {
    // One cell at its target at ~60 % SoC: the regulator holds CVL under the cells' sum, no
    // current flows - that is CVL blocking the charge, not a tail current.
    ChargeEngine e{ChargeConfig{}};
    settle(e, pack(3.30, 3.47, 0), 1800);
    EXPECT_NE(e.state().mode, ChargeMode::Float);
    EXPECT_LT(e.state().sinceFullChargeS, 0);
}

// --- The faults of the real loop (issue 13), each failing on the engine before it ---------

// 1. CVL limit cycle: 5 mV of reading noise on the top cell, 5 s polls, in Absorption. The
//    proportional term on single readings made CVL jump poll to poll by up to ~80 mV (with
//    the charger's lag, a saw-tooth). Open loop here (the cells do not answer), so the slow
//    integral drift is not the point: the poll-to-poll steps and their reversals are.
TEST(RealLoopFault, CvlDoesNotFollowReadingNoise) {
    ChargeEngine e{ChargeConfig{}};
    Noise noise(1);
    std::vector<double> cvl;
    double largestStep = 0;
    for (int i = 0; i < 240; ++i) {  // 20 minutes at 5 s
        auto s = pack(3.43 + noise(), 3.45 + noise(), 8);
        for (std::size_t c = 1; c < 16; ++c) s.cellVoltagesV[c] = 3.43 + noise();
        const double v = *e.step(s, i == 0 ? 0 : 5).maxChargeVoltageV;
        if (i >= 12) {
            if (!cvl.empty()) largestStep = std::max(largestStep, std::fabs(v - cvl.back()));
            cvl.push_back(v);
        }
    }
    EXPECT_LE(largestStep, 0.0201) << "largest poll-to-poll CVL step";
    EXPECT_LE(directionChanges(cvl, 0.020), 4) << "no saw-tooth of 20 mV and more";
}

// 2. One high reading wound CVL far below the pack (47.8 V on a 52.8 V pack) and it took 12
//    minutes at 10 mV/s to come back, in Absorption at 60 % SoC.
TEST(RealLoopFault, OneHighReadingNeitherWindsCvlDownNorStartsAbsorption) {
    ChargeEngine e{ChargeConfig{}};
    settle(e, pack(3.30, 3.30, 50), 60);
    auto spike = pack(3.30, 3.30, 50);
    spike.cellVoltagesV[3] = 3.75;  // one reading
    const auto sum = spike.cellStats()->sumV;
    const double low = *e.step(spike, 1).maxChargeVoltageV;
    EXPECT_GT(low, sum - 16 * 0.010 - 0.01) << "not far below the pack";
    domain::ChargeLimits l;
    for (int i = 0; i < 30; ++i) l = e.step(pack(3.30, 3.30, 50), 1);
    EXPECT_GT(*l.maxChargeVoltageV, 16 * 3.45 - 0.10) << "back within 30 s";
    EXPECT_EQ(e.state().mode, ChargeMode::Bulk);
}

// 3. CCL saw-tooth: the cell-voltage table read the instant, noisy, IR-inflated highest cell;
//    at 1C each cut lowered the IR rise, the table gave the current back after the hold, the
//    IR rise came back: with every cloud, a cycle. A charger that takes whatever CCL and the
//    sun allow, cells with 0.5 mOhm each, noise on every reading.
TEST(RealLoopFault, CclDoesNotSawToothThroughTheIrDrop) {
    ChargeEngine e{ChargeConfig{}};
    Noise noise(3);
    std::vector<double> ccl;
    double current = 0;
    for (int i = 0; i < 3600; ++i) {
        auto s = pack(3.30, 3.305, current);
        s.settings.maxChargeCurrentA = 280;
        for (double& v : s.cellVoltagesV) v = std::round((v + current * 0.0005) * 1000) / 1000 + noise();
        const double limit = *e.step(s, i == 0 ? 0 : 1).maxChargeCurrentA;
        ccl.push_back(limit);
        const double solar = (i / 300) % 2 ? 150 : 280;  // a cloud every 10 minutes
        current += (std::min(limit, solar) - current) * 0.5;  // the charger follows in seconds
    }
    EXPECT_LE(directionChanges(ccl, 0.02 * 280), 4) << "per hour, moves of 2 % of the maximum and more";
    EXPECT_GT(ccl.back(), 100) << "and it still charges";
}

// 4. Float declared early at high C-rates: the timer ran out while the pack still took 0.5 C,
//    and after the absorption time one low-current reading ended the charge.
TEST(RealLoopFault, NoFloatWhileThePackStillTakesCurrent) {
    ChargeEngine e{ChargeConfig{}};
    for (int i = 0; i < 1200; ++i) e.step(pack(3.447, 3.45, 140), 1);  // balanced, 0.5 C
    EXPECT_EQ(e.state().mode, ChargeMode::Absorption) << "20 min at 0.5 C is not full";
    ChargeEngine spread{ChargeConfig{}};
    for (int i = 0; i < 1000; ++i) spread.step(pack(3.42, 3.45, 100), 1);  // 30 mV apart, 100 A
    spread.step(pack(3.42, 3.45, 0), 1);  // a cloud: one reading at 0 A
    spread.step(pack(3.42, 3.45, 100), 1);
    EXPECT_EQ(spread.state().mode, ChargeMode::Absorption) << "one reading is not a tail current";
}

// 5. A blocked charge counted as full: with the charge FET off, 0 A was the tail current, the
//    absorption timer ran on, Float was entered and the full-charge time reset.
TEST(RealLoopFault, ABlockedChargeIsNotAFullCharge) {
    ChargeEngine e{ChargeConfig{}};
    for (int i = 0; i < 200; ++i) e.step(pack(3.445, 3.45, 10), 1);
    ASSERT_EQ(e.state().mode, ChargeMode::Absorption);
    const double timer = e.state().absorptionS;
    auto off = pack(3.445, 3.45, 0);
    off.switches.chargeMos = false;
    domain::ChargeLimits l;
    for (int i = 0; i < 1200; ++i) l = e.step(off, 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Absorption) << "20 min with the FET off";
    EXPECT_NEAR(e.state().absorptionS, timer, 1.0) << "the timer paused";
    EXPECT_FALSE(l.timeSinceFullChargeS) << "no full charge recorded";
    // Our own CCL at 0 (too hot) blocks the same way.
    ChargeEngine hot{ChargeConfig{}};
    for (int i = 0; i < 200; ++i) hot.step(pack(3.445, 3.45, 10), 1);
    auto cooking = pack(3.445, 3.45, 0);
    cooking.temperatures[0].celsius = 58;
    for (int i = 0; i < 1200; ++i) hot.step(cooking, 1);
    EXPECT_EQ(hot.state().mode, ChargeMode::Absorption);
}

// 6. A charger that stops short of CVL: cells at 3.43 V, 1 A, SoC 100 % - Bulk for ever.
TEST(RealLoopFault, AChargerStoppingShortStillEndsTheCharge) {
    ChargeEngine e{ChargeConfig{}};
    auto s = pack(3.43, 3.43, 1);
    s.socPercent = 100;
    std::string change;
    for (int i = 0; i < 600 && e.state().mode != ChargeMode::Float; ++i) {
        auto l = e.step(s, 1);
        if (!l.modeChange.empty()) change = l.modeChange;
    }
    EXPECT_EQ(e.state().mode, ChargeMode::Float) << "within 10 minutes";
    EXPECT_FALSE(change.empty()) << "and says why";
}

// 7. Float did not hold: one reading (a low BMS SoC - JK's drifts) sent it back to Bulk.
TEST(RealLoopFault, FloatHoldsAgainstADriftingSocAndSingleReadings) {
    ChargeEngine e{ChargeConfig{}};
    EngineState floating;
    floating.mode = ChargeMode::Float;
    floating.sinceFullChargeS = 3600;
    floating.floatS = 3600;
    e.restore(floating);
    auto s = pack(3.375, 3.38, 0);
    s.socPercent = 60;  // drifted low while the cells sit at float
    for (int i = 0; i < 7200; ++i) e.step(s, 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Float) << "two hours with the SoC reading 60 %";
    auto dip = pack(3.20, 3.20, -150);  // one reading under a surge
    dip.socPercent = 60;
    e.step(dip, 1);
    e.step(s, 1);
    EXPECT_EQ(e.state().mode, ChargeMode::Float);
}

// 8. DCL not tied to the BMS's UVP: the table reached 0 A at 2.70 V, so with UVP 2.90 V the
//    BMS tripped first while the load still drew current.
TEST(RealLoopFault, DclReachesZeroBeforeTheBmsUvp) {
    auto s = pack(3.0, 2.95, -20);
    s.settings.cellUvpV = 2.90;
    ChargeEngine e{ChargeConfig{}};
    EXPECT_DOUBLE_EQ(*settle(e, s, 60).maxDischargeCurrentA, 0) << "2.95 V is within 100 mV of UVP 2.90 V";
    // And single noisy low readings do not dip it during a recovery.
    ChargeEngine r{ChargeConfig{}};
    Noise noise(8);
    std::vector<double> dcl;
    for (int i = 0; i < 3600; ++i) {
        auto q = pack(3.15, 3.15, -60);
        q.settings.cellUvpV = 2.80;
        for (double& v : q.cellVoltagesV) v += noise();
        dcl.push_back(*r.step(q, i == 0 ? 0 : 1).maxDischargeCurrentA);
    }
    EXPECT_LE(directionChanges(dcl, 3.0), 2);
}

// 9. CCL/DCL ignored the BMS's own temperature settings until its alarm: 54 A at 4.5 C with
//    charge UTP 5 C, 94 A at 45.5 C with OTP 45 C; heater pass-through did nothing with the
//    BMS's cold alarm present.
TEST(RealLoopFault, TemperatureLimitsFollowTheBmsSettings) {
    auto s = pack(3.30, 3.30, 0);
    s.settings.chargeUtpC = 5;
    s.settings.chargeOtpC = 45;
    s.temperatures[0].celsius = 4.5;
    EXPECT_DOUBLE_EQ(*ChargeEngine{ChargeConfig{}}.step(s, 1).maxChargeCurrentA, 0);
    s.temperatures[0].celsius = 45.5;
    EXPECT_DOUBLE_EQ(*ChargeEngine{ChargeConfig{}}.step(s, 1).maxChargeCurrentA, 0);
    s.settings.dischargeOtpC = 50;
    s.temperatures[0].celsius = 49;
    EXPECT_DOUBLE_EQ(*ChargeEngine{ChargeConfig{}}.step(s, 1).maxDischargeCurrentA, 0);
    s.temperatures[0].celsius = -3;
    s.heating = true;
    s.heatingCurrentA = 2.5;
    s.alarms.set(domain::Alarm::LowChargeTemperature);
    auto l = ChargeEngine{ChargeConfig{}}.step(s, 1);
    EXPECT_DOUBLE_EQ(*l.maxChargeCurrentA, 2.5) << "the heater is fed while the BMS reports cold";
    EXPECT_EQ(l.chargeLimitation, "Heater");
}

// 10. Smaller faults: a ramp stuck inside the band, float noise in published values, a
//     configured maximum above the BMS's own limit, a mode text changing every second, and the
//     maximum named as the reason while CCL is held at 0.
TEST(RealLoopFault, RampsLandValuesAreRoundedMaximaCappedTextsStable) {
    ChargeEngine e{ChargeConfig{}};
    auto s = pack(3.30, 3.30, -10);
    s.temperatures[0].celsius = 47.6;  // discharge table: 0.74 -> 111 A
    domain::ChargeLimits l;
    for (int i = 0; i < 10; ++i) l = e.step(s, 0.5);
    s.temperatures[0].celsius = 25;
    for (int i = 0; i < 200; ++i) l = e.step(s, 0.5);
    EXPECT_DOUBLE_EQ(*l.maxDischargeCurrentA, 150) << "lands exactly on the target";
    s.temperatures[0].celsius = 7.37;  // a fraction with a long decimal tail
    l = e.step(s, 1);
    for (double v : {*l.maxChargeCurrentA, *l.maxDischargeCurrentA})
        EXPECT_NEAR(v * 10, std::round(v * 10), 1e-9) << "0.1 A steps: " << v;
    EXPECT_NEAR(*l.maxChargeVoltageV * 100, std::round(*l.maxChargeVoltageV * 100), 1e-9);

    ChargeConfig big;
    big.maxChargeA = 300;
    auto bms = pack(3.30, 3.30, 0);
    bms.settings.chargeOcpA = 200;
    bms.settings.maxChargeCurrentA.reset();
    l = ChargeEngine{big}.step(bms, 1);
    EXPECT_DOUBLE_EQ(*l.maxChargeCurrentA, 200) << "capped to the BMS's charge over-current";
    EXPECT_NE(l.notes.find("capped"), std::string::npos) << l.notes;

    ChargeEngine abs{ChargeConfig{}};
    std::set<std::string> texts;
    for (int i = 0; i < 300; ++i) {
        auto a = pack(3.445, 3.45, 10);
        texts.insert(abs.step(a, 1).chargeMode);
    }
    EXPECT_LE(texts.size(), 8U) << "5 minutes of Absorption: minutes, not seconds";

    ChargeEngine held{ChargeConfig{}};
    auto h = pack(3.30, 3.30, 0);
    held.step(h, 1);
    h.switches.chargeMos = false;
    held.step(h, 1);
    h.switches.chargeMos = true;
    l = held.step(h, 1);
    EXPECT_DOUBLE_EQ(*l.maxChargeCurrentA, 0);
    EXPECT_NE(l.chargeLimitation, "Max charge current") << "the reason in force while held at 0";
}

}  // namespace
}  // namespace jkbms::charge
