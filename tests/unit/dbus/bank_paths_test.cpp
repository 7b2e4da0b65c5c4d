// A bank's D-Bus side: member services without /Info/Max* (systemcalc sees one BMS), members
// read back from the paths they publish, and the bank's own paths.

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include "jkbms/dbus/battery_paths.hpp"
#include "support/sample_battery.hpp"

namespace jkbms::dbus {
namespace {

using test::sampleLimits;
using test::sampleSnapshot16;

const Value& at(const PathTable& t, std::string_view path) {
    auto it = t.find(path);
    if (it == t.end()) throw std::runtime_error("missing path " + std::string{path});
    return it->second.value;
}

ServiceIdentity memberIdentity() {
    ServiceIdentity id;
    id.bankMember = true;
    return id;
}

TEST(BankPaths, AMemberIsNoBmsToSystemcalc) {
    // dbus-systemcalc-py: a BMS is a battery service with /Info/MaxChargeVoltage; the battery
    // monitor choice prefers services where that path exists at all.
    const auto t = batteryPaths(memberIdentity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    for (const auto& [path, item] : t) EXPECT_FALSE(path.starts_with("/Info/Max")) << path;
    EXPECT_FALSE(t.contains("/Info/BatteryLowVoltage"));
    EXPECT_EQ(at(t, "/Bank/MaxChargeVoltage"), Value{55.2});
    EXPECT_EQ(at(t, "/Bank/MaxChargeCurrent"), Value{100.0});
    EXPECT_EQ(at(t, "/Bank/MaxDischargeCurrent"), Value{150.0});
    // A single battery keeps /Info/*.
    const auto single = batteryPaths(ServiceIdentity{}, sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    EXPECT_TRUE(single.contains("/Info/MaxChargeVoltage"));
    EXPECT_FALSE(single.contains("/Bank/MaxChargeVoltage"));
}

TEST(BankPaths, AMemberIsReadBackFromWhatItPublishes) {
    auto snap = sampleSnapshot16();
    snap.alarms.set(domain::Alarm::CellHighVoltage);
    const auto t = batteryPaths(memberIdentity(), snap, sampleLimits(), CommsState::Ok);
    const auto m = bankMember("P2", lookupIn(t));
    EXPECT_EQ(m.name, "P2");
    EXPECT_EQ(m.comms, CommsState::Ok);
    EXPECT_NEAR(*m.voltageV, 52.92, 1e-9);
    EXPECT_NEAR(*m.currentA, -12.5, 1e-9);
    EXPECT_NEAR(*m.socPercent, 67, 1e-9);
    EXPECT_NEAR(*m.installedCapacityAh, 280, 1e-9);
    EXPECT_NEAR(*m.capacityAh, 187.6, 1e-9);
    EXPECT_NEAR(*m.minCellV, 3.300, 1e-9);
    EXPECT_EQ(m.minCellId, "C1");
    EXPECT_EQ(m.maxCellId, "C16");
    EXPECT_EQ(m.cellsPerBattery, 16);
    EXPECT_NEAR(*m.cvlV, 55.2, 1e-9);
    EXPECT_NEAR(*m.cclA, 100, 1e-9);
    EXPECT_NEAR(*m.dclA, 150, 1e-9);
    EXPECT_EQ(m.chargeMode, "Bulk");
    EXPECT_EQ(m.alarms[3], 2);  // /Alarms/HighCellVoltage
    EXPECT_EQ(m.alarms[0], 0);
    EXPECT_EQ(m.allowToDischarge, false);

    // Its communication, as the service shows it.
    EXPECT_EQ(bankMember("P2", lookupIn(batteryPaths(memberIdentity(), snap, sampleLimits(), CommsState::Stale))).comms,
              CommsState::Stale);
    const auto lost = bankMember("P2", lookupIn(batteryPaths(memberIdentity(), snap, sampleLimits(), CommsState::Lost)));
    EXPECT_EQ(lost.comms, CommsState::Lost);
    EXPECT_FALSE(lost.cclA);
    EXPECT_FALSE(lost.voltageV);
    EXPECT_EQ(bankMember("P2", lookupIn(batteryPaths(memberIdentity(), snap, sampleLimits(), CommsState::Off))).comms,
              CommsState::Off);
    EXPECT_EQ(bankMember("P2", [](std::string_view) { return nullptr; }).comms, CommsState::Lost);
    // Nothing read yet: no limits, not Ok.
    const auto none = bankMember("P2", lookupIn(batteryPaths(memberIdentity(), std::nullopt, {}, CommsState::Ok)));
    EXPECT_NE(none.comms, CommsState::Ok);
}

TEST(BankPaths, APlainBatteryServiceIsReadFromInfo) {
    const auto t = batteryPaths(ServiceIdentity{}, sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    const auto m = bankMember("ttyUSB0", lookupIn(t));
    EXPECT_NEAR(*m.cclA, 100, 1e-9);
    EXPECT_NEAR(*m.cvlV, 55.2, 1e-9);
}

TEST(BankPaths, TheBankPublishesOneBattery) {
    auto l1 = sampleLimits();
    auto l2 = sampleLimits();
    l2.maxChargeCurrentA = 0;  // P2 has a cell too high
    auto s1 = sampleSnapshot16();
    auto s2 = sampleSnapshot16();
    s2.cellVoltagesV[4] = 3.62;
    const auto t1 = batteryPaths(memberIdentity(), s1, l1, CommsState::Ok);
    const auto t2 = batteryPaths(memberIdentity(), s2, l2, CommsState::Ok);
    const auto reading = domain::combineBank({bankMember("P1", lookupIn(t1)), bankMember("P2", lookupIn(t2))});
    ServiceIdentity id;
    id.productName = "JK BMS bank (2 packs)";
    id.deviceInstance = 7;
    PathTable bank;
    bankPaths(id, reading, bank);
    EXPECT_EQ(at(bank, "/Info/MaxChargeCurrent"), Value{0.0});
    EXPECT_EQ(at(bank, "/Info/ChargeLimitation"), Value{std::string{"P2 CCL 0 A"}});
    EXPECT_EQ(at(bank, "/Info/MaxChargeVoltage"), Value{55.2});
    EXPECT_EQ(at(bank, "/Dc/0/Current"), Value{-25.0});
    EXPECT_EQ(at(bank, "/InstalledCapacity"), Value{560.0});
    EXPECT_EQ(at(bank, "/System/MaxCellVoltage"), Value{3.62});
    EXPECT_EQ(at(bank, "/System/MaxVoltageCellId"), Value{std::string{"P2/C5"}});
    EXPECT_EQ(at(bank, "/System/NrOfBatteries"), Value{std::int32_t{2}});
    EXPECT_EQ(at(bank, "/System/BatteriesParallel"), Value{std::int32_t{2}});
    EXPECT_EQ(at(bank, "/System/NrOfModulesOnline"), Value{std::int32_t{2}});
    EXPECT_EQ(at(bank, "/System/NrOfModulesOffline"), Value{std::int32_t{0}});
    EXPECT_EQ(at(bank, "/Alarms/BmsCable"), Value{std::int32_t{0}});
    EXPECT_EQ(at(bank, "/Connected"), Value{std::int32_t{1}});
    EXPECT_EQ(at(bank, "/Io/AllowToCharge"), Value{std::int32_t{0}});
    EXPECT_EQ(at(bank, "/Bank/Status"), Value{std::string{"2 packs answering"}});
    EXPECT_EQ(bank.at("/Info/MaxChargeCurrent").text, "0.00A");  // as a single battery's

    // One pack lost: a warning; both: the alarm and everything invalid.
    const auto t2lost = batteryPaths(memberIdentity(), s2, l2, CommsState::Lost);
    bankPaths(id, domain::combineBank({bankMember("P1", lookupIn(t1)), bankMember("P2", lookupIn(t2lost))}), bank);
    EXPECT_EQ(at(bank, "/Alarms/BmsCable"), Value{std::int32_t{1}});
    EXPECT_EQ(at(bank, "/Info/MaxChargeCurrent"), Value{0.0});       // P2's limits unknown: no charging
    EXPECT_EQ(at(bank, "/Info/MaxDischargeCurrent"), Value{150.0});  // P1 alone, its worst share
    EXPECT_EQ(at(bank, "/Bank/Status"), Value{std::string{"1 of 2 answering: P2 silent"}});
    const auto t1lost = batteryPaths(memberIdentity(), s1, l1, CommsState::Lost);
    bankPaths(id, domain::combineBank({bankMember("P1", lookupIn(t1lost)), bankMember("P2", lookupIn(t2lost))}), bank);
    EXPECT_EQ(at(bank, "/Alarms/BmsCable"), Value{std::int32_t{2}});
    EXPECT_EQ(at(bank, "/Connected"), Value{std::int32_t{0}});
    for (const char* path : {"/Info/MaxChargeVoltage", "/Info/MaxChargeCurrent", "/Info/MaxDischargeCurrent",
                             "/Dc/0/Voltage", "/Soc", "/Io/AllowToCharge"})
        EXPECT_FALSE(isValid(at(bank, path))) << path;
}

// Issue 17 item 4: a JK-PB bank served with a refused configuration shows error #119 and
// allows no charging, as each pack does.
TEST(BankPaths, ARefusedConfigIsError119AndNoCharging) {
    const auto t1 = batteryPaths(memberIdentity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    const auto reading = domain::combineBank({bankMember("P1", lookupIn(t1))});
    ServiceIdentity id;
    PathTable fine, bank;
    bankPaths(id, reading, fine);
    EXPECT_EQ(at(fine, "/ErrorCode"), Value{std::int32_t{0}});
    EXPECT_FALSE(isValid(at(fine, kConfigErrorPath)));
    id.configError = "Settings invalid: see /var/log/dbus-jkbms.ttyUSB0/current";
    bankPaths(id, reading, bank);
    EXPECT_EQ(at(bank, "/ErrorCode"), Value{std::int32_t{119}});
    EXPECT_EQ(at(bank, kConfigErrorPath), Value{id.configError});
    EXPECT_EQ(at(bank, "/Info/MaxChargeCurrent"), Value{0.0});
    EXPECT_EQ(at(bank, "/Io/AllowToCharge"), Value{std::int32_t{0}});
    EXPECT_EQ(at(bank, "/Info/ChargeLimitation"), Value{std::string{"Settings invalid"}});
    EXPECT_EQ(at(bank, "/Info/MaxDischargeCurrent"), at(fine, "/Info/MaxDischargeCurrent"));
}

// Another daemon's service is untrusted input: wrong types, values no battery can have and
// hostile texts are not taken (a bank of 15 such members must still publish finite sums).
TEST(BankPaths, AMembersValuesAreRangeChecked) {
    std::map<std::string, Value, std::less<>> items = {
        {"/Connected", std::int32_t{1}},
        {"/Alarms/BmsCable", std::int32_t{0}},
        {"/Dc/0/Voltage", 1e308},
        {"/Dc/0/Current", std::string{"12"}},
        {"/Soc", 140.0},
        {"/InstalledCapacity", -5.0},
        {"/ConsumedAmphours", 20.0},
        {"/System/MinCellVoltage", 3.3},
        {"/System/MinVoltageCellId", std::string{"C1\n\x1b[31mred"}},
        {"/Bank/MaxChargeVoltage", 55.2},
        {"/Bank/MaxChargeCurrent", -5.0},
        {"/Bank/MaxDischargeCurrent", 1e9},
    };
    const auto m = bankMember("P1", [&items](std::string_view p) -> const Value* {
        const auto it = items.find(p);
        return it == items.end() ? nullptr : &it->second;
    });
    EXPECT_EQ(m.comms, CommsState::Ok);
    EXPECT_FALSE(m.voltageV);
    EXPECT_FALSE(m.currentA);
    EXPECT_FALSE(m.socPercent);
    EXPECT_FALSE(m.installedCapacityAh);
    EXPECT_FALSE(m.consumedAh);  // Victron: <= 0
    EXPECT_NEAR(*m.minCellV, 3.3, 1e-12);
    EXPECT_EQ(m.minCellId, "C1[31mred");
    EXPECT_NEAR(*m.cvlV, 55.2, 1e-12);
    EXPECT_FALSE(m.cclA);
    EXPECT_FALSE(m.dclA);
    const auto l = domain::combineLimits({m});
    EXPECT_EQ(l.ccl.value, 0.0) << "a limit that cannot be is no limit: the bank allows nothing";
    EXPECT_EQ(l.dcl.value, 0.0);
}

}  // namespace
}  // namespace jkbms::dbus
