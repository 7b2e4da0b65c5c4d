// The settings on the GX as values: their definitions from config.yaml, and config.yaml's
// values with them applied (app/gx_settings.hpp). The D-Bus side is in daemon_test.

#include "jkbms/app/gx_settings.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace jkbms::app {
namespace {

using dbus::SettingValue;
using namespace std::chrono_literals;

const dbus::SettingDef* find(const std::vector<dbus::SettingDef>& defs, std::string_view name) {
    auto it = std::find_if(defs.begin(), defs.end(), [&](const auto& d) { return d.name == name; });
    return it == defs.end() ? nullptr : &*it;
}

TEST(GxSettings, DefaultsComeFromTheYamlWithTheirTypesAndRanges) {
    config::Config c;
    c.charge.engine.maxDischargeA = 120;
    c.charge.engine.absorptionMaxTimeS = 1800;
    auto defs = gxSettingDefs(c, false);
    const auto* max = find(defs, "Current/MaxDischarge");
    ASSERT_TRUE(max);
    EXPECT_EQ(max->defaultValue, SettingValue{120.0});
    EXPECT_EQ(max->min, 0);
    EXPECT_EQ(max->max, 1000);
    const auto* time = find(defs, "Absorption/MaxTime");
    ASSERT_TRUE(time);
    EXPECT_EQ(time->defaultValue, SettingValue{std::int32_t{30}}) << "minutes, an integer setting";
    EXPECT_EQ(find(defs, "Temperature/ChargeMax")->defaultValue, SettingValue{55.0});
    EXPECT_EQ(find(defs, "Relay/PressOn"), nullptr) << "no relay";
    defs = gxSettingDefs(c, true);
    ASSERT_TRUE(find(defs, "Relay/PressOff"));
    EXPECT_EQ(find(defs, "Relay/PressOff")->defaultValue, SettingValue{3.0});
    // A YAML value outside the setting's range: no setting, the YAML's value stays.
    c.charge.engine.maxChargeA = 1500;
    EXPECT_EQ(find(gxSettingDefs(c, false), "Current/MaxCharge"), nullptr);
}

TEST(GxSettings, AValueAtItsDefaultKeepsTheYamlsExactValue) {
    config::Config c;
    c.charge.engine.absorptionMaxTimeS = 90;  // 1.5 min: the setting's default rounds to 2
    auto applied = gxTunables(c, false, {{"Absorption/MaxTime", SettingValue{std::int32_t{2}}}});
    EXPECT_TRUE(applied.problems.empty());
    EXPECT_EQ(applied.tunables.charge.absorptionMaxTimeS, 90);
    applied = gxTunables(c, false, {{"Absorption/MaxTime", SettingValue{std::int32_t{45}}}});
    EXPECT_EQ(applied.tunables.charge.absorptionMaxTimeS, 45 * 60);
}

TEST(GxSettings, ValuesAreAppliedAndInconsistentOnesNamed) {
    config::Config c;
    c.charge.engine.chemistry = charge::Chemistry::Lfp;
    auto applied = gxTunables(c, true,
                              {{"Current/MaxCharge", SettingValue{80.0}},
                               {"Cell/BulkVoltage", SettingValue{3.50}},
                               {"Absorption/TailCurrent", SettingValue{0.03}},
                               {"Float/RebulkSoc", SettingValue{std::int32_t{50}}},
                               {"Relay/PressGap", SettingValue{0.5}},
                               {"Unknown/Thing", SettingValue{1.0}}});
    ASSERT_TRUE(applied.problems.empty()) << applied.problems.front();
    EXPECT_EQ(applied.tunables.charge.maxChargeA, 80);
    EXPECT_EQ(applied.tunables.charge.bulkCellV, std::optional<double>{3.50});
    EXPECT_EQ(applied.tunables.charge.tailCurrentC, 0.03);
    EXPECT_EQ(applied.tunables.charge.rebulkSocPercent, 50);
    EXPECT_EQ(applied.tunables.press.gap, 500ms);
    // 0 = by chemistry, in place of the YAML's 3.5 V.
    config::Config withBulk = c;
    withBulk.charge.engine.bulkCellV = 3.5;
    applied = gxTunables(withBulk, false, {{"Cell/BulkVoltage", SettingValue{0.0}}});
    EXPECT_FALSE(applied.tunables.charge.bulkCellV.has_value());
    // Float above bulk: the engine's own check says why.
    applied = gxTunables(c, false, {{"Cell/FloatVoltage", SettingValue{3.5}}});
    ASSERT_FALSE(applied.problems.empty());
    EXPECT_NE(applied.problems.front().find("float_voltage"), std::string::npos) << applied.problems.front();
    // Per-cell voltages with chemistry auto are refused (the defaults differ by chemistry).
    c.charge.engine.chemistry = charge::Chemistry::Auto;
    EXPECT_FALSE(gxTunables(c, false, {{"Cell/BulkVoltage", SettingValue{3.5}}}).problems.empty());
    // The on press must stay shorter than the off press.
    EXPECT_FALSE(gxTunables(c, true, {{"Relay/PressOff", SettingValue{1.0}}}).problems.empty());
}

TEST(GxSettings, TemperatureLimitsMoveTheTablesZeroEnds) {
    config::Config c;
    auto applied = gxTunables(c, false,
                              {{"Temperature/ChargeMin", SettingValue{5.0}}, {"Temperature/ChargeMax", SettingValue{45.0}}});
    ASSERT_TRUE(applied.problems.empty()) << applied.problems.front();
    const auto& t = applied.tunables.charge.chargeTemperatureC;
    // {0 0} {5 .3} {10 1} {40 1} {45 .5} {50 .2} {55 0}: the low ramp +5, the high ramp -10.
    const std::vector<std::pair<double, double>> want{{5, 0.0}, {10, 0.3}, {15, 1.0}, {30, 1.0},
                                                      {35, 0.5}, {40, 0.2}, {45, 0.0}};
    EXPECT_EQ(t.points, want);
    EXPECT_EQ(t.at(5), 0.0);
    EXPECT_EQ(t.at(45), 0.0);
    EXPECT_EQ(applied.tunables.charge.dischargeTemperatureC.points, c.charge.engine.dischargeTemperatureC.points);
    // Ramps that would cross: the table is no longer monotonic, refused.
    applied = gxTunables(c, false, {{"Temperature/ChargeMin", SettingValue{20.0}}, {"Temperature/ChargeMax", SettingValue{20.0}}});
    EXPECT_FALSE(applied.problems.empty());
    // A table of one point is left as it is.
    charge::Table one{{{10, 1.0}}};
    EXPECT_EQ(moveTableEnds(one, 0, 50).points, one.points);
}

}  // namespace
}  // namespace jkbms::app
