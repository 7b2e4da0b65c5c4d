// Issue 17: the /History figures we keep from the readings - with the noise and gaps real JK
// readings have.
#include "jkbms/domain/battery_history.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace jkbms::domain {
namespace {

// A 16S LFP reading: cells at `cellV` (cell 1 offset by `spreadV`), 280 Ah.
BatterySnapshot reading(double cellV, double currentA, double soc, double spreadV = 0.0) {
    BatterySnapshot s;
    for (int i = 0; i < 16; ++i) s.cellVoltagesV.push_back(cellV + (i == 0 ? spreadV : 0.0));
    s.packVoltageV = cellV * 16 + spreadV;
    s.currentA = currentA;
    s.socPercent = soc;
    s.fullCapacityAh = 280;
    s.remainingCapacityAh = 280 * soc / 100;
    s.temperatures.push_back({"T1", 21.5});
    s.alarmsReported = true;
    return s;
}

TEST(BatteryHistory, ExtremesComeFromPlausibleReadingsOnly) {
    BatteryHistory h;
    h.update(reading(3.30, 0, 50, -0.005), 1);
    h.update(reading(3.32, 0, 50, +0.004), 1);
    auto bad = reading(3.31, 0, 50);
    bad.cellVoltagesV[3] = 65.535;  // 0xFFFF misread: not a cell at 65 V
    bad.packVoltageV = 655.35;
    bad.temperatures[0].celsius = 300;
    h.update(bad, 1);
    const auto& f = h.figures();
    EXPECT_NEAR(*f.minCellVoltageV, 3.295, 1e-9);
    EXPECT_NEAR(*f.maxCellVoltageV, 3.324, 1e-9);
    EXPECT_NEAR(*f.minVoltageV, 3.30 * 16 - 0.005, 1e-9);
    EXPECT_NEAR(*f.maxVoltageV, 3.32 * 16 + 0.004, 1e-9);
    EXPECT_DOUBLE_EQ(*f.minTemperatureC, 21.5);
    EXPECT_DOUBLE_EQ(*f.maxTemperatureC, 21.5);
    // A frame of zeros (a BMS booting, a misread) or an open sense wire (one cell at 0 V): no
    // battery is at 0 V while it powers its BMS - the minimum does not stick at 0.
    auto zeros = reading(0.0, 0, 50);
    h.update(zeros, 1);
    auto openWire = reading(3.31, 0, 50);
    openWire.cellVoltagesV[5] = 0.0;
    openWire.packVoltageV = 3.31 * 15;
    h.update(openWire, 1);
    EXPECT_NEAR(*h.figures().minCellVoltageV, 3.295, 1e-9);
    EXPECT_NEAR(*h.figures().minVoltageV, 3.30 * 16 - 0.005, 1e-9);
}

TEST(BatteryHistory, EnergyIsIntegratedOverTimeWithNoiseAndGapsBounded) {
    BatteryHistory h;
    // One hour of 50 A charging at 52.8 V in 1 s polls, the current with +-0.5 A of noise.
    for (int i = 0; i <= 3600; ++i) h.update(reading(3.30, 50.0 + ((i % 2) ? 0.5 : -0.5), 50), 1.0);
    EXPECT_NEAR(h.figures().chargedKWh, 52.8 * 50 / 1000, 0.01);
    EXPECT_DOUBLE_EQ(h.figures().dischargedKWh, 0);
    // A day at rest with JK's +-0.05 A around zero adds nothing either way.
    const double charged = h.figures().chargedKWh;
    for (int i = 0; i < 86400; i += 5) h.update(reading(3.30, (i % 10) ? 0.05 : -0.05, 50), 5.0);
    EXPECT_DOUBLE_EQ(h.figures().chargedKWh, charged);
    EXPECT_DOUBLE_EQ(h.figures().dischargedKWh, 0);
    // A BMS silent for 10 minutes: the reading after it counts the gap allowed, not 600 s.
    h.update(reading(3.30, -100, 50), 600.0);
    EXPECT_NEAR(h.figures().dischargedKWh, 52.8 * 100 * kDefaultMaxGapS / 3.6e6, 1e-9);
    // Polled every 30 s (the owner allows that gap): every poll counts whole.
    BatteryHistory slow(60.0);
    for (int i = 0; i <= 120; ++i) slow.update(reading(3.30, 50, 50), 30.0);
    EXPECT_NEAR(slow.figures().chargedKWh, 52.8 * 50 * 3600 / 3.6e6, 1e-6);
    // Exactly the 10 mA-step rest noise (0.10 A, 0.15 A) is not energy.
    BatteryHistory rest;
    for (int i = 0; i < 1000; ++i) rest.update(reading(3.30, (i % 2) ? 0.15 : -0.10, 50), 1.0);
    EXPECT_DOUBLE_EQ(rest.figures().chargedKWh, 0);
    EXPECT_DOUBLE_EQ(rest.figures().dischargedKWh, 0);
    // The first reading after a start integrates nothing (no previous reading to span from).
    BatteryHistory fresh;
    fresh.update(reading(3.30, 100, 50), 5.0);
    EXPECT_DOUBLE_EQ(fresh.figures().chargedKWh, 0);
}

TEST(BatteryHistory, DischargesAndSyncsFollowTheSocWithHysteresis) {
    BatteryHistory h;
    h.update(reading(3.40, 0, 100), 1);  // full at start: no sync counted, nothing consumed
    EXPECT_EQ(h.figures().automaticSyncs, 0U);
    EXPECT_DOUBLE_EQ(*h.figures().lastDischargeAh, 0);
    h.update(reading(3.25, -50, 60), 1);  // 112 Ah out
    h.update(reading(3.26, 20, 70), 1);
    EXPECT_NEAR(*h.figures().lastDischargeAh, -112, 1e-9);
    EXPECT_NEAR(*h.figures().deepestDischargeAh, -112, 1e-9);
    EXPECT_EQ(h.update(reading(3.45, 10, 100), 1), BatteryHistory::Change::Event) << "back to 100 %: a sync";
    EXPECT_EQ(h.figures().automaticSyncs, 1U);
    EXPECT_DOUBLE_EQ(*h.figures().lastDischargeAh, 0) << "a new cycle starts at a sync";
    EXPECT_NEAR(*h.figures().deepestDischargeAh, -112, 1e-9);
    // SoC hovering 99-100 % (the BMS's own rounding) is no new sync until it was below 95 %.
    for (int i = 0; i < 20; ++i) h.update(reading(3.40, 0, (i % 2) ? 99.0 : 100.0), 1);
    EXPECT_EQ(h.figures().automaticSyncs, 1U);
    // Down to 0 % once, hovering 0-1 %: one full discharge.
    h.update(reading(3.00, -30, 5), 1);
    for (int i = 0; i < 10; ++i) h.update(reading(2.90, -1, (i % 2) ? 1.0 : 0.0), 1);
    EXPECT_EQ(h.figures().fullDischarges, 1U);
    EXPECT_NEAR(*h.figures().deepestDischargeAh, -280, 1e-9);
    h.update(reading(3.20, 30, 50), 1);
    h.update(reading(2.90, -30, 0), 1);
    EXPECT_EQ(h.figures().fullDischarges, 2U);
}

TEST(BatteryHistory, ProtectionsCountWhenTheyTripNotWhileTheyStay) {
    BatteryHistory h;
    auto tripped = reading(3.65, 10, 99);
    tripped.alarms.set(Alarm::CellHighVoltage);
    h.update(tripped, 1);  // tripped at start: maybe the trip from before the restart
    EXPECT_EQ(h.figures().highVoltageAlarms, 0U);
    h.update(reading(3.40, 0, 99), 1);
    for (int i = 0; i < 5; ++i) h.update(tripped, 1);
    EXPECT_EQ(h.figures().highVoltageAlarms, 1U);
    auto low = reading(2.60, -10, 1);
    low.alarms.set(Alarm::LowVoltage);
    EXPECT_EQ(h.update(low, 1), BatteryHistory::Change::Event);
    EXPECT_EQ(h.figures().lowVoltageAlarms, 1U);
    // A BMS that reports no alarms (JK04) counts nothing.
    low.alarmsReported = false;
    h.update(reading(3.2, 0, 50), 1);
    h.update(low, 1);
    EXPECT_EQ(h.figures().lowVoltageAlarms, 1U);
    // The first reading that reports alarms is the reference, even after readings without.
    BatteryHistory restarted;
    auto silent = tripped;
    silent.alarmsReported = false;
    restarted.update(silent, 1);
    restarted.update(tripped, 1);  // still the trip from before the restart
    EXPECT_EQ(restarted.figures().highVoltageAlarms, 0U);
}

TEST(BatteryHistory, RestoreDisarmsTheCountersAndClearEmpties) {
    BatteryHistory h;
    HistoryFigures saved;
    saved.automaticSyncs = 4;
    saved.deepestDischargeAh = -200;
    h.restore(saved);
    h.update(reading(3.45, 0, 100), 1);  // a restart at 100 %: the same full charge as before
    EXPECT_EQ(h.figures().automaticSyncs, 4U);
    EXPECT_DOUBLE_EQ(*h.figures().deepestDischargeAh, -200);
    h.clear();
    EXPECT_EQ(h.figures(), HistoryFigures{});
}

TEST(HistoryText, RoundTripsAndRefusesWhatIsOutOfRange) {
    BatteryHistory h;
    h.update(reading(3.30, 0, 100), 1);
    h.update(reading(3.10, -80, 40), 1);
    h.update(reading(3.45, 80, 100), 1);
    const std::string text = formatHistory(h.figures());
    HistoryFigures back;
    std::size_t items = 0;
    for (std::size_t i = 0; i < text.size();) {
        const auto end = text.find('\n', i);
        const std::string_view line(text.data() + i, end - i);
        i = end + 1;
        const auto eq = line.find('=');
        std::string why;
        EXPECT_EQ(readHistoryItem(line.substr(0, eq), line.substr(eq + 1), back, why), HistoryItem::Read)
            << line << ": " << why;
        ++items;
    }
    EXPECT_GE(items, 12U);
    EXPECT_NEAR(*back.deepestDischargeAh, *h.figures().deepestDischargeAh, 1e-3);
    EXPECT_EQ(back.automaticSyncs, 1U);
    EXPECT_NEAR(back.dischargedKWh, h.figures().dischargedKWh, 1e-6);

    std::string why;
    HistoryFigures f;
    EXPECT_EQ(readHistoryItem("history_min_cell_v", "65.535", f, why), HistoryItem::Bad);
    EXPECT_NE(why.find("out of range"), std::string::npos) << why;
    EXPECT_EQ(readHistoryItem("history_deepest_ah", "12", f, why), HistoryItem::Bad) << "consumed Ah is <= 0";
    EXPECT_EQ(readHistoryItem("history_syncs", "-1", f, why), HistoryItem::Bad);
    EXPECT_EQ(readHistoryItem("history_syncs", "1.5", f, why), HistoryItem::Bad);
    EXPECT_EQ(readHistoryItem("history_syncs", "4294967296", f, why), HistoryItem::Bad) << "beyond 32 bits";
    EXPECT_EQ(readHistoryItem("history_charged_kwh", "nan", f, why), HistoryItem::Bad);
    EXPECT_EQ(readHistoryItem("history_charged_kwh", "1e400", f, why), HistoryItem::Bad);
    EXPECT_EQ(readHistoryItem("min_v", "50", f, why), HistoryItem::Bad);
    // A key a newer version added: not this version's, and no reason to drop the rest.
    EXPECT_EQ(readHistoryItem("history_nonsense", "1", f, why), HistoryItem::Unknown);
    EXPECT_EQ(f, HistoryFigures{}) << "nothing refused is taken";
}

}  // namespace
}  // namespace jkbms::domain
