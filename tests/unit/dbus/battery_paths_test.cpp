#include "jkbms/dbus/battery_paths.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>
#include <vector>

#include "jkbms/dbus/names.hpp"
#include "jkbms/domain/plausible_ranges.hpp"
#include "support/sample_battery.hpp"

namespace jkbms::dbus {
namespace {

using test::sampleLimits;
using test::sampleSnapshot16;



ServiceIdentity identity() {
    ServiceIdentity id;
    id.processVersion = "0.1.0";
    id.connection = "Serial ttyUSB0";
    id.deviceInstance = 1;
    return id;
}

const Value& at(const PathTable& t, std::string_view path) {
    auto it = t.find(path);
    if (it == t.end()) throw std::runtime_error("missing path " + std::string{path});
    return it->second.value;
}

TEST(BatteryPaths, IdentityAndMandatoryPaths) {
    const auto t = batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    EXPECT_EQ(at(t, "/DeviceInstance"), Value{std::int32_t{1}});
    EXPECT_EQ(at(t, "/ProductId"), Value{std::int32_t{0xBA77}});
    EXPECT_EQ(t.at("/ProductId").text, "0xBA77");
    EXPECT_EQ(at(t, "/ProductName"), Value{std::string{"JK BMS"}});
    EXPECT_EQ(at(t, "/Mgmt/Connection"), Value{std::string{"Serial ttyUSB0"}});
    EXPECT_EQ(at(t, "/Connected"), Value{std::int32_t{1}});
    EXPECT_EQ(at(t, "/FirmwareVersion"), Value{std::string{"11.261"}});
    EXPECT_EQ(at(t, "/Serial"), Value{std::string{"2041803028"}});
    EXPECT_FALSE(t.contains("/Mgmt/InsecureConnection")) << "serial is not an insecure link";
}

// Issue 17: the paths Victron's GUI reads that a JK battery can fill, with Victron's types.
TEST(BatteryPaths, StateConnectionInformationAndUnsupportedAlarms) {
    auto t = batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    EXPECT_EQ(at(t, "/State"), Value{std::int32_t{9}}) << "running";
    EXPECT_EQ(at(t, "/ConnectionInformation"), Value{std::string{"answering"}});
    EXPECT_EQ(at(t, "/Settings/HasTemperature"), Value{std::int32_t{1}});
    EXPECT_FALSE(isValid(at(t, "/Alarms/StateOfHealth"))) << "a JK raises no health alarm: not supported";
    EXPECT_FALSE(isValid(at(t, "/Alarms/FuseBlown")));
    EXPECT_EQ(at(t, "/History/CanBeCleared"), Value{std::int32_t{0}}) << "no history kept: nothing to clear";
    EXPECT_FALSE(t.contains("/History/Clear"));
    batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Stale, t);
    EXPECT_EQ(at(t, "/ConnectionInformation"), Value{std::string{"not answering: values held"}});
    EXPECT_FALSE(isValid(at(t, "/State"))) << "not answering is not running";
    batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Lost, t);
    EXPECT_FALSE(isValid(at(t, "/State")));
    EXPECT_EQ(at(t, "/ConnectionInformation"), Value{std::string{"not answering: values invalid"}});
    EXPECT_EQ(at(t, "/Settings/HasTemperature"), Value{std::int32_t{1}}) << "the history's rows stay";
    batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Off, t);
    EXPECT_EQ(at(t, "/ConnectionInformation"), Value{std::string{"switched off on request"}});
}

TEST(BatteryPaths, HistoryFiguresAreOursAndOutliveTheLink) {
    domain::HistoryFigures h;
    h.minVoltageV = 48.1;
    h.maxCellVoltageV = 3.612;
    h.chargedKWh = 123.456;
    h.deepestDischargeAh = -201.5;
    h.automaticSyncs = 7;
    h.highVoltageAlarms = 2;
    ServiceIdentity id = identity();
    id.historyClearable = true;
    PathTable t;
    batteryPaths(id, sampleSnapshot16(), sampleLimits(), CommsState::Ok, t, &h);
    EXPECT_EQ(at(t, "/History/MinimumVoltage"), Value{48.1});
    EXPECT_EQ(t.at("/History/MaximumCellVoltage").text, "3.612V");
    EXPECT_EQ(t.at("/History/ChargedEnergy").text, "123.46kWh");
    EXPECT_EQ(at(t, "/History/DischargedEnergy"), Value{0.0});
    EXPECT_EQ(at(t, "/History/DeepestDischarge"), Value{-201.5});
    EXPECT_FALSE(isValid(at(t, "/History/LastDischarge"))) << "not seen yet";
    EXPECT_FALSE(isValid(at(t, "/History/MaximumTemperature")));
    EXPECT_EQ(at(t, "/History/AutomaticSyncs"), Value{std::int32_t{7}});
    EXPECT_EQ(at(t, "/History/HighVoltageAlarms"), Value{std::int32_t{2}});
    EXPECT_EQ(at(t, "/History/CanBeCleared"), Value{std::int32_t{1}});
    EXPECT_EQ(at(t, "/History/Clear"), Value{std::int32_t{0}});
    // Average discharge: the BMS's Ah drawn over its cycles (Victron's definition), negative.
    const auto drawn = at(t, "/History/TotalAhDrawn");
    const auto cycles = at(t, "/History/ChargeCycles");
    ASSERT_TRUE(isValid(drawn) && isValid(cycles));
    EXPECT_DOUBLE_EQ(std::get<double>(at(t, "/History/AverageDischarge")),
                     std::get<double>(drawn) / std::get<std::int32_t>(cycles));
    // Lost: the BMS's values go invalid, our records stay.
    batteryPaths(id, sampleSnapshot16(), sampleLimits(), CommsState::Lost, t, &h);
    EXPECT_FALSE(isValid(at(t, "/History/TotalAhDrawn")));
    EXPECT_EQ(at(t, "/History/DeepestDischarge"), Value{-201.5});
}

// Surprise 4: /CustomName is always a string, "" when unset - never an int, never invalid.
TEST(BatteryPathsSurprise, CustomNameIsAlwaysAString) {
    auto t = batteryPaths(identity(), std::nullopt, {}, CommsState::Ok);
    EXPECT_EQ(at(t, "/CustomName"), Value{std::string{}});
    EXPECT_FALSE(acceptWrite(customNameSpec(), Value{std::int32_t{5}}));
    EXPECT_FALSE(acceptWrite(customNameSpec(), Value{std::string(65, 'x')}));
    EXPECT_TRUE(acceptWrite(customNameSpec(), Value{std::string{"Garage pack"}}));
}

// Surprise 5: /Dc/0/Power is published (systemcalc does not derive it), + = charging.
TEST(BatteryPathsSurprise, PowerIsPublishedWithTheCurrentsSign) {
    const auto t = batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    EXPECT_DOUBLE_EQ(std::get<double>(at(t, "/Dc/0/Power")), 52.92 * -12.5);
    EXPECT_EQ(t.at("/Dc/0/Power").text, "-662W");
    EXPECT_EQ(t.at("/Dc/0/Voltage").text, "52.92V");
    EXPECT_EQ(t.at("/Dc/0/Current").text, "-12.50A");
}

// Surprise 6: consumed Ah and Ah history are negative.
TEST(BatteryPathsSurprise, ConsumedAmphoursAndTotalAhDrawnAreNegative) {
    const auto t = batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    EXPECT_NEAR(std::get<double>(at(t, "/ConsumedAmphours")), -92.4, 1e-9);
    EXPECT_DOUBLE_EQ(std::get<double>(at(t, "/History/TotalAhDrawn")), -11500);
    EXPECT_NEAR(std::get<double>(at(t, "/TimeToGo")), std::round(187.6 / 12.5 * 3600), 1e-9);
}

// Surprise 7: /Io/AllowToCharge mirrors the MOSFET but steers nothing; the limits travel
// unchanged through /Info/*, which is what DVCC reads.
TEST(BatteryPathsSurprise, IoPathsAreInformationalLimitsAreWhatSteers) {
    auto s = sampleSnapshot16();
    s.switches.chargeMos = false;
    auto l = sampleLimits();
    l.maxChargeCurrentA = 0;
    const auto t = batteryPaths(identity(), s, l, CommsState::Ok);
    EXPECT_EQ(at(t, "/Io/AllowToCharge"), Value{std::int32_t{0}});
    EXPECT_EQ(at(t, "/Info/MaxChargeCurrent"), Value{0.0});
    EXPECT_EQ(at(t, "/System/NrOfModulesBlockingCharge"), Value{std::int32_t{1}});
    // The FET on but our limit at 0 (charge-control.md section 4): not allowed either.
    s.switches.chargeMos = true;
    EXPECT_EQ(at(batteryPaths(identity(), s, l, CommsState::Ok), "/Io/AllowToCharge"), Value{std::int32_t{0}});
    l.maxChargeCurrentA = 50;
    EXPECT_EQ(at(batteryPaths(identity(), s, l, CommsState::Ok), "/Io/AllowToCharge"), Value{std::int32_t{1}});
    l.maxDischargeCurrentA = 0;
    EXPECT_EQ(at(batteryPaths(identity(), s, l, CommsState::Ok), "/Io/AllowToDischarge"), Value{std::int32_t{0}});
}

// Our own warning is 1; a tripped BMS protection (2) wins over it.
TEST(BatteryPaths, WarningsAreOneBmsAlarmsWin) {
    auto s = sampleSnapshot16();
    auto l = sampleLimits();
    l.warnings.set(domain::Alarm::CellHighVoltage);
    l.warnings.set(domain::Alarm::LowSoc);
    auto t = batteryPaths(identity(), s, l, CommsState::Ok);
    EXPECT_EQ(at(t, "/Alarms/HighCellVoltage"), Value{std::int32_t{1}});
    EXPECT_EQ(at(t, "/Alarms/LowSoc"), Value{std::int32_t{1}});
    EXPECT_EQ(at(t, "/Alarms/LowCellVoltage"), Value{std::int32_t{0}});
    s.alarms.set(domain::Alarm::CellHighVoltage);
    t = batteryPaths(identity(), s, l, CommsState::Ok);
    EXPECT_EQ(at(t, "/Alarms/HighCellVoltage"), Value{std::int32_t{2}});
}

// Surprise 8: a third-party product id, so no Victron quirk applies (DVCC is the user's choice).
TEST(BatteryPathsSurprise, ProductIdIsTheThirdPartyOne) {
    const auto t = batteryPaths(identity(), std::nullopt, {}, CommsState::Ok);
    EXPECT_EQ(at(t, "/ProductId"), Value{std::int32_t{0xBA77}});
}

// Surprise 3: "no value" is Invalid (an empty ai on the wire), never 0 or "": alarms the BMS
// cannot report stay invalid, so the GUI hides them.
TEST(BatteryPathsSurprise, UnsupportedMeansInvalidNotZero) {
    auto s = sampleSnapshot16();
    s.alarmsReported = false;  // JK04
    s.currentA.reset();
    s.socPercent.reset();
    const auto t = batteryPaths(identity(), s, {}, CommsState::Ok);
    EXPECT_FALSE(isValid(at(t, "/Alarms/HighCellVoltage")));
    EXPECT_FALSE(isValid(at(t, "/Dc/0/Current")));
    EXPECT_FALSE(isValid(at(t, "/Soc")));
    EXPECT_EQ(t.at("/Soc").text, "---");
    EXPECT_FALSE(isValid(at(t, "/Info/MaxChargeVoltage"))) << "no limits decided yet";
}

// Surprise 2 (the mapping's half): Lost invalidates measurements and /Info/* and sets
// /Connected = 0 and /Alarms/BmsCable = 2 in the same table.
TEST(BatteryPathsSurprise, LostCommunicationInvalidatesEverythingFromTheBms) {
    const auto t = batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Lost);
    for (const char* p : {"/Dc/0/Voltage", "/Dc/0/Current", "/Dc/0/Power", "/Soc", "/Info/MaxChargeVoltage",
                          "/Info/MaxChargeCurrent", "/Info/MaxDischargeCurrent", "/Info/BatteryLowVoltage",
                          "/Voltages/Cell1", "/System/MinCellVoltage", "/Alarms/HighVoltage"})
        EXPECT_FALSE(isValid(at(t, p))) << p;
    EXPECT_EQ(at(t, "/Connected"), Value{std::int32_t{0}});
    EXPECT_EQ(at(t, "/Alarms/BmsCable"), Value{std::int32_t{2}});
    EXPECT_TRUE(isValid(at(t, "/DeviceInstance")));
    EXPECT_TRUE(t.contains("/Voltages/Cell16")) << "cell paths stay, invalid";

    const auto stale = batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Stale);
    EXPECT_EQ(at(stale, "/Alarms/BmsCable"), Value{std::int32_t{1}});
    EXPECT_TRUE(isValid(at(stale, "/Info/MaxChargeVoltage"))) << "stale keeps values";
}

// Surprise 14: /ErrorCode is Victron's BMS error table; JK faults go to /Alarms/*, never raw.
TEST(BatteryPathsSurprise, ErrorCodeIsNotARawJkCode) {
    auto s = sampleSnapshot16();
    s.alarms.set(domain::Alarm::CellHighVoltage);
    s.alarms.set(domain::Alarm::InternalFailure);
    const auto t = batteryPaths(identity(), s, sampleLimits(), CommsState::Ok);
    EXPECT_EQ(at(t, "/ErrorCode"), Value{std::int32_t{0}});
    EXPECT_EQ(at(t, "/Alarms/HighCellVoltage"), Value{std::int32_t{2}});
    EXPECT_EQ(at(t, "/Alarms/InternalFailure"), Value{std::int32_t{2}});
    EXPECT_EQ(at(t, "/Alarms/LowCellVoltage"), Value{std::int32_t{0}});
}

// Issue 17 item 4: a refused configuration is published as Victron's BMS error #119
// ("Settings invalid", what the GUI and the GX notification show), with the text pointing at
// the log, and no charging whatever the limits say - even with the FET on; discharge as the
// limits say. Without a reading the error stands (it is ours, not the BMS's).
TEST(BatteryPaths, ARefusedConfigIsError119AndNoCharging) {
    auto id = identity();
    const auto fine = batteryPaths(id, sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    EXPECT_FALSE(isValid(at(fine, kConfigErrorPath)));
    ASSERT_EQ(at(fine, "/Io/AllowToCharge"), Value{std::int32_t{1}}) << "the sample may charge";
    id.configError = "Settings invalid: see /var/log/dbus-jkbms.ttyUSB0/current";
    const auto t = batteryPaths(id, sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    EXPECT_EQ(at(t, "/ErrorCode"), Value{std::int32_t{119}});
    EXPECT_EQ(t.at("/ErrorCode").text, id.configError);
    EXPECT_EQ(at(t, kConfigErrorPath), Value{id.configError});
    EXPECT_EQ(at(t, "/Info/MaxChargeCurrent"), Value{0.0});
    EXPECT_EQ(at(t, "/Io/AllowToCharge"), Value{std::int32_t{0}});
    EXPECT_EQ(at(t, "/Info/ChargeLimitation"), Value{std::string{"Settings invalid"}});
    EXPECT_EQ(at(t, "/Info/MaxDischargeCurrent"), at(fine, "/Info/MaxDischargeCurrent"));
    EXPECT_EQ(at(t, "/Io/AllowToDischarge"), at(fine, "/Io/AllowToDischarge"));
    EXPECT_EQ(at(t, "/Info/MaxChargeVoltage"), at(fine, "/Info/MaxChargeVoltage"));
    const auto none = batteryPaths(id, std::nullopt, {}, CommsState::Ok);
    EXPECT_EQ(at(none, "/ErrorCode"), Value{std::int32_t{119}});
    EXPECT_FALSE(isValid(at(none, "/Info/MaxChargeCurrent"))) << "no reading: no limits at all";
}

// Surprise 15: per-cell paths are a dbus-serialbattery convention no Victron component reads;
// published anyway, with the min/max statistics Victron does read.
TEST(BatteryPathsSurprise, CellsAndStatistics) {
    const auto t = batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    EXPECT_DOUBLE_EQ(std::get<double>(at(t, "/Voltages/Cell1")), 3.300);
    EXPECT_EQ(t.at("/Voltages/Cell16").text, "3.315V");
    EXPECT_FALSE(t.contains("/Voltages/Cell17"));
    EXPECT_NEAR(std::get<double>(at(t, "/Voltages/Diff")), 0.015, 1e-12);
    EXPECT_EQ(at(t, "/System/MinVoltageCellId"), Value{std::string{"C1"}});
    EXPECT_EQ(at(t, "/System/MaxVoltageCellId"), Value{std::string{"C16"}});
    EXPECT_EQ(at(t, "/System/MaxTemperatureCellId"), Value{std::string{"T2"}});
    EXPECT_DOUBLE_EQ(std::get<double>(at(t, "/Dc/0/Temperature")), 25.0);
    EXPECT_EQ(at(t, "/System/NrOfCellsPerBattery"), Value{std::int32_t{16}});
    EXPECT_EQ(at(t, "/Balances/Cell1"), Value{std::int32_t{1}}) << "lowest cell, balancer active";
    EXPECT_EQ(at(t, "/Balances/Cell16"), Value{std::int32_t{1}}) << "highest cell";
    EXPECT_EQ(at(t, "/Balances/Cell8"), Value{std::int32_t{0}});
}

TEST(BatteryPaths, BleIsAnInsecureConnection) {
    auto id = identity();
    id.insecureConnection = true;
    const auto t = batteryPaths(id, std::nullopt, {}, CommsState::Ok);
    EXPECT_EQ(at(t, "/Mgmt/InsecureConnection"), Value{std::int32_t{1}});
}

// Surprise 12: bus-name elements may not start with a digit; settings uids may not start
// with '_' and hold only [A-Za-z0-9_].
TEST(NamesSurprise, SanitisedForDbusAndLocalsettings) {
    EXPECT_EQ(busNameElement("ttyUSB0"), "ttyUSB0");
    EXPECT_EQ(busNameElement("1wire:x"), "jk1wire_x");
    EXPECT_EQ(bleSuffix("C8:47:8C:00:00:01"), "ble_c8478c000001");
    EXPECT_EQ(settingsUid("__jkbms:20418-030.28"), "jkbms_20418_030_28");
    EXPECT_EQ(settingsUid("___"), "jkbms");
    EXPECT_EQ(parseClassAndVrmInstance("battery:3"), 3);
    EXPECT_FALSE(parseClassAndVrmInstance("battery"));
    EXPECT_FALSE(parseClassAndVrmInstance("battery:x"));
    EXPECT_FALSE(parseClassAndVrmInstance(":1"));
}

TEST(Item, TextFormats) {
    EXPECT_EQ(formatText(Invalid{}, Unit::Volt), "---");
    EXPECT_EQ(formatText(53.2, Unit::Volt), "53.20V");
    EXPECT_EQ(formatText(24.5, Unit::Celsius), "24.5\u00b0C");
    EXPECT_EQ(formatText(std::int32_t{7}, Unit::None), "7");
    EXPECT_EQ(formatText(67.0, Unit::Percent), "67.0%");
    EXPECT_EQ(formatText(std::string{"x"}, Unit::Volt), "x");
}

TEST(Item, WriteChecks) {
    WritableSpec range{WritableSpec::Type::Double, 0, 10, 0};
    EXPECT_EQ(acceptWrite(range, Value{std::int32_t{3}}), Value{3.0}) << "ints widen";
    EXPECT_FALSE(acceptWrite(range, Value{11.0}));
    EXPECT_FALSE(acceptWrite(range, Value{std::string{"3"}}));
    WritableSpec onOff{WritableSpec::Type::Int, 0, 1, 0};
    EXPECT_TRUE(acceptWrite(onOff, Value{std::int32_t{1}}));
    EXPECT_FALSE(acceptWrite(onOff, Value{std::int32_t{2}}));
    EXPECT_FALSE(acceptWrite(customNameSpec(), Value{std::string{"a\nb"}})) << "no control characters";
}

// SetValue's pure part: what comes off the bus as which Value (the service only reads the
// variant into a WireValue).
TEST(Item, ValuesFromTheWire) {
    auto wire = [](char type, std::int64_t i = 0, std::uint64_t u = 0) {
        WireValue w;
        w.type = type;
        w.integer = i;
        w.unsignedInteger = u;
        return w;
    };
    EXPECT_EQ(valueFromWire(wire('i', -7)), Value{std::int32_t{-7}});
    EXPECT_EQ(valueFromWire(wire('u', 4294967295LL)), std::nullopt) << "beyond int32";
    EXPECT_EQ(valueFromWire(wire('x', -2147483648LL)), Value{std::int32_t{INT32_MIN}});
    EXPECT_EQ(valueFromWire(wire('x', 2147483648LL)), std::nullopt);
    EXPECT_EQ(valueFromWire(wire('t', 0, 1)), Value{std::int32_t{1}});
    EXPECT_EQ(valueFromWire(wire('t', 0, 1ULL << 40)), std::nullopt);
    EXPECT_EQ(valueFromWire(wire('b', 1)), std::nullopt) << "booleans are not values we store";
    WireValue s;
    s.type = 's';
    s.text = "Bank 1";
    EXPECT_EQ(valueFromWire(s), Value{std::string{"Bank 1"}});
}

// formatText's fixed-point texts are printf's ("%.2f" ...), also where its quick path (a
// scaled integer) gives way to std::to_chars: near ties, for large values, NaN and infinities.
TEST(Item, FixedTextsArePrintfs) {
    struct Case {
        Unit unit;
        const char* format;
    };
    const Case cases[] = {{Unit::Volt, "%.2fV"},   {Unit::CellVolt, "%.3fV"},   {Unit::Amp, "%.2fA"},
                          {Unit::Watt, "%.0fW"},   {Unit::Celsius, "%.1f\u00b0C"}, {Unit::Percent, "%.1f%%"},
                          {Unit::AmpHour, "%.1fAh"}, {Unit::KiloWattHour, "%.2fkWh"}, {Unit::Second, "%.0fs"}};
    std::vector<double> values = {0.0, -0.0, 0.5, 1.5, 2.5, -0.5, 0.125, 0.375, 1.005, 2.675, 0.0005, -0.0004,
                                  -0.001, 3.3255, 53.2, -12.345, 1e-9, -1e-9, 2147483.6475, 2147483647.5,
                                  4294967296.25, 1e15, -1e300, 1e300, std::nan(""), INFINITY, -INFINITY,
                                  std::nextafter(0.5, 1.0), std::nextafter(0.5, 0.0), 0.049999999999999996};
    // Every millivolt step around a cell's range, and a walk of ordinary magnitudes with
    // halves and near-halves of each precision.
    for (int mv = 2500; mv <= 4500; ++mv) values.push_back(mv / 1000.0);
    for (int i = -20000; i <= 20000; ++i) {
        values.push_back(i * 0.0005);
        values.push_back(i * 0.005 + 0.0025);
        values.push_back(i * 1.7 / 3.0);
    }
    std::uint64_t x = 88172645463325252ULL;  // xorshift: reproducible "random" doubles
    for (int i = 0; i < 20000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values.push_back(static_cast<double>(static_cast<std::int64_t>(x % 2000000001ULL) - 1000000000) / 997.0);
    }
    char expected[400];
    for (const Case& c : cases) {
        for (double v : values) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            std::snprintf(expected, sizeof expected, c.format, v);
#pragma GCC diagnostic pop
            std::string want = expected;
            ASSERT_EQ(formatText(Value{v}, c.unit), want) << c.format << " of " << v;
        }
    }
}

// A hex text of a value an unsigned int cannot hold was a float-to-unsigned cast (undefined).
TEST(Item, HexTextOfAnyNumber) {
    EXPECT_EQ(formatText(Value{std::int32_t{0xBA77}}, Unit::Hex), "0xBA77");
    EXPECT_EQ(formatText(Value{-5.0}, Unit::Hex), "-5");
    EXPECT_EQ(formatText(Value{1e300}, Unit::Hex), "1e+300");
    EXPECT_EQ(formatText(Value{std::int32_t{-1}}, Unit::Hex), "-1");
}


// Issue 14 item 6: values no JK battery can have are published invalid, never as numbers.
TEST(BatteryPathsRanges, OutOfRangeValuesArePublishedInvalid) {
    auto s = sampleSnapshot16();
    s.socPercent = 255;
    s.sohPercent = 101;
    s.cellVoltagesV[2] = 65.535;  // 0xFFFF mV
    s.currentA = 88080;
    s.powerW = *s.packVoltageV * 88080;
    s.temperatures[1].celsius = 719.6;
    s.mosfetTemperatureC = -273;
    s.fullCapacityAh = 4e9;
    const auto t = batteryPaths(identity(), s, sampleLimits(), CommsState::Ok);
    for (const char* path : {"/Soc", "/Soh", "/Voltages/Cell3", "/Dc/0/Current", "/Dc/0/Power", "/System/MOSTemperature",
                             "/InstalledCapacity", "/ConsumedAmphours", "/TimeToGo", "/System/MaxCellVoltage",
                             "/System/MaxVoltageCellId", "/System/MinCellVoltage", "/Voltages/Sum", "/Voltages/Diff"}) {
        EXPECT_FALSE(isValid(at(t, path))) << path;
        EXPECT_EQ(t.at(path).text, "---") << path;
    }
    // What is in range stays, and a bad sensor does not spoil the good one.
    EXPECT_EQ(at(t, "/Voltages/Cell4"), Value{3.303});
    EXPECT_EQ(at(t, "/Dc/0/Voltage"), Value{52.92});
    EXPECT_EQ(at(t, "/Dc/0/Temperature"), Value{24.0});
    EXPECT_EQ(at(t, "/System/MaxCellTemperature"), Value{24.0});
    EXPECT_EQ(at(t, "/Capacity"), Value{187.6});
    EXPECT_EQ(at(t, "/Connected"), Value{std::int32_t{1}});
    // The limits of the boundaries themselves are plausible.
    s = sampleSnapshot16();
    s.socPercent = 100;
    s.cellVoltagesV[0] = 0.0;  // an open sense wire reads 0: a real reading
    const auto edge = batteryPaths(identity(), s, sampleLimits(), CommsState::Ok);
    EXPECT_EQ(at(edge, "/Soc"), Value{100.0});
    EXPECT_EQ(at(edge, "/Voltages/Cell1"), Value{0.0});
}

TEST(BatteryPathsRanges, TheOutOfRangeListNamesEachValueOnce) {
    auto s = sampleSnapshot16();
    EXPECT_TRUE(domain::outOfRangeValues(s).empty());
    s.socPercent = 255;
    s.cellVoltagesV[2] = 65.535;
    s.packVoltageV = std::numeric_limits<double>::quiet_NaN();
    const auto bad = domain::outOfRangeValues(s);
    std::vector<std::string> names;
    for (const auto& b : bad) names.push_back(b.what);
    EXPECT_EQ(names, (std::vector<std::string>{"cell 3 voltage", "pack voltage", "SoC"}));
    EXPECT_DOUBLE_EQ(bad[0].value, 65.535);
    EXPECT_EQ(bad[0].text(), "cell 3 voltage 65.535 V is outside 0 to 5 V");
}

// Issue 14 item 7: cell paths above the present cell count do not keep stale values.
TEST(BatteryPathsCells, CellsBeyondTheCountBecomeInvalid) {
    domain::BatterySnapshot s32 = sampleSnapshot16();
    for (int i = 16; i < 32; ++i) s32.cellVoltagesV.push_back(3.3);
    PathTable t;
    batteryPaths(identity(), s32, sampleLimits(), CommsState::Ok, t);
    ASSERT_EQ(at(t, "/Voltages/Cell32"), Value{3.3});
    batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok, t);  // 32 -> 16 cells
    EXPECT_EQ(at(t, "/Voltages/Cell16"), Value{3.315});
    for (int i = 17; i <= 32; ++i) {
        EXPECT_FALSE(isValid(at(t, "/Voltages/Cell" + std::to_string(i)))) << i;
        EXPECT_FALSE(isValid(at(t, "/Balances/Cell" + std::to_string(i)))) << i;
        EXPECT_EQ(t.at("/Voltages/Cell" + std::to_string(i)).text, "---");
    }
    auto none = sampleSnapshot16();
    none.cellVoltagesV.clear();
    batteryPaths(identity(), none, sampleLimits(), CommsState::Ok, t);  // a reading with no cells
    for (int i = 1; i <= 32; ++i) EXPECT_FALSE(isValid(at(t, "/Voltages/Cell" + std::to_string(i)))) << i;
    // A fresh table has no paths for cells that never were.
    const auto fresh = batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok);
    EXPECT_FALSE(fresh.contains("/Voltages/Cell17"));
}

// Issue 18: texts are built with std::to_chars; they read exactly as printf wrote them.
TEST(FormatText, SameAsPrintf) {
    auto printfText = [](const Value& value, Unit unit) -> std::string {
        if (!isValid(value)) return "---";
        const double v = std::holds_alternative<double>(value) ? std::get<double>(value)
                                                                 : static_cast<double>(std::get<std::int32_t>(value));
        char buf[400];
        switch (unit) {
            case Unit::Volt: std::snprintf(buf, sizeof buf, "%.2fV", v); break;
            case Unit::CellVolt: std::snprintf(buf, sizeof buf, "%.3fV", v); break;
            case Unit::Amp: std::snprintf(buf, sizeof buf, "%.2fA", v); break;
            case Unit::Watt: std::snprintf(buf, sizeof buf, "%.0fW", v); break;
            case Unit::Celsius: std::snprintf(buf, sizeof buf, "%.1f\u00b0C", v); break;
            case Unit::Percent: std::snprintf(buf, sizeof buf, "%.1f%%", v); break;
            case Unit::AmpHour: std::snprintf(buf, sizeof buf, "%.1fAh", v); break;
            case Unit::KiloWattHour: std::snprintf(buf, sizeof buf, "%.2fkWh", v); break;
            case Unit::Second: std::snprintf(buf, sizeof buf, "%.0fs", v); break;
            case Unit::Hex:
                if (v >= 0 && v <= 4294967295.0) std::snprintf(buf, sizeof buf, "0x%X", static_cast<unsigned>(v));
                else std::snprintf(buf, sizeof buf, "%g", v);
                break;
            case Unit::None:
                if (std::holds_alternative<std::int32_t>(value))
                    std::snprintf(buf, sizeof buf, "%d", std::get<std::int32_t>(value));
                else std::snprintf(buf, sizeof buf, "%g", v);
                break;
        }
        return buf;
    };
    const Unit units[] = {Unit::None, Unit::Volt, Unit::CellVolt, Unit::Amp, Unit::Watt, Unit::Celsius,
                          Unit::Percent, Unit::AmpHour, Unit::KiloWattHour, Unit::Second, Unit::Hex};
    std::vector<Value> values = {Invalid{}, 0.0, -0.0, 0.005, 0.015, 0.125, 2.675, -0.4, -0.5, 1.5, 2.5, 52.925,
                                 3.3155, 1e300, -1e300, 1e-7, 123456789.0, 4294967295.0, 4294967296.0,
                                 std::int32_t{0}, std::int32_t{-1}, std::int32_t{0xBA77}, std::int32_t{INT32_MAX},
                                 std::int32_t{INT32_MIN}};
    std::uint64_t x = 88172645463325252ULL;  // xorshift: many values of every magnitude
    for (int i = 0; i < 3000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const double scale = std::pow(10.0, static_cast<int>(x % 9) - 3);
        values.emplace_back((static_cast<double>(x % 2000001) - 1000000.0) / 1000.0 * scale);
    }
    std::string reused;
    for (const Value& v : values)
        for (Unit u : units) {
            const std::string expected = printfText(v, u);
            EXPECT_EQ(formatText(v, u), expected);
            formatText(v, u, reused);
            ASSERT_EQ(reused, expected);
        }
}

// Issue 18: a path's slot is found once; a cycle that changes nothing touches nothing, and a
// changed value moves only its own slot's version.
TEST(PathTableSlots, OnlyChangedPathsMove) {
    PathTable t;
    batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok, t);
    const std::size_t slots = t.slotCount();
    std::vector<std::uint32_t> versions;
    for (PathTable::Slot s = 0; s < slots; ++s) versions.push_back(t.version(s));
    batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok, t);
    ASSERT_EQ(t.slotCount(), slots);
    for (PathTable::Slot s = 0; s < slots; ++s) EXPECT_EQ(t.version(s), versions[s]) << t.entry(s).first;

    auto s2 = sampleSnapshot16();
    s2.cellVoltagesV[4] = 3.333;
    batteryPaths(identity(), s2, sampleLimits(), CommsState::Ok, t);
    std::vector<std::string> moved;
    for (PathTable::Slot s = 0; s < slots; ++s)
        if (t.version(s) != versions[s]) moved.push_back(t.entry(s).first);
    // Cell 5 is now the highest: the cell, the max, its id, the sum, the spread and which
    // cells balance.
    EXPECT_EQ(moved, (std::vector<std::string>{"/System/MaxCellVoltage", "/System/MaxVoltageCellId",
                                               "/Voltages/Cell5", "/Balances/Cell5", "/Balances/Cell16",
                                               "/Voltages/Sum", "/Voltages/Diff"}));
    EXPECT_EQ(t.at("/Voltages/Cell5").text, "3.333V");
    EXPECT_EQ(t.at("/System/MaxVoltageCellId").text, "C5");
}

TEST(PathTableSlots, MapLikeAccess) {
    PathTable t;
    EXPECT_TRUE(t.emplace("/b", makeItem(std::int32_t{2})).second);
    EXPECT_TRUE(t.emplace("/a", makeItem(1.5, Unit::Volt)).second);
    EXPECT_FALSE(t.emplace("/a", makeItem(std::int32_t{9})).second) << "like std::map: no overwrite";
    std::vector<std::string> order;
    for (const auto& [path, item] : t) order.push_back(path);
    EXPECT_EQ(order, (std::vector<std::string>{"/a", "/b"}));
    EXPECT_EQ(t.at("/a").text, "1.50V");
    EXPECT_EQ(t.find("/c"), t.end());
    EXPECT_THROW((void)std::as_const(t).at("/c"), std::out_of_range);
    const auto v = t.version(t.find("/b").slot());
    t.at("/b") = makeItem(std::int32_t{3});
    EXPECT_GT(t.version(t.find("/b").slot()), v) << "write access counts as a change";
    const PathTable copy = t;
    EXPECT_NE(copy.id(), t.id());
    EXPECT_EQ(copy.at("/b").text, "3");
}

// The producer's puts find each item through the table's own record of them: a copy, an
// assigned or a moved table is filled in its own items, never in those of the table it came
// from.
TEST(PathTableSlots, CopiesAndMovesAreFilledInTheirOwnItems) {
    PathTable original;
    batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok, original);
    const std::string voltage = original.at("/Dc/0/Voltage").text;
    PathTable copy = original;
    batteryPaths(identity(), std::nullopt, sampleLimits(), CommsState::Lost, copy);
    EXPECT_FALSE(isValid(at(copy, "/Dc/0/Voltage")));
    EXPECT_EQ(std::as_const(original).at("/Dc/0/Voltage").text, voltage) << "the original is untouched";
    PathTable assigned;
    assigned = copy;
    batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok, assigned);
    EXPECT_TRUE(isValid(at(assigned, "/Dc/0/Voltage")));
    EXPECT_FALSE(isValid(at(copy, "/Dc/0/Voltage"))) << "the copy is untouched";
    PathTable moved = std::move(copy);
    batteryPaths(identity(), sampleSnapshot16(), sampleLimits(), CommsState::Ok, moved);
    EXPECT_EQ(std::as_const(moved).at("/Dc/0/Voltage").text, voltage);
    PathTable movedAgain;
    movedAgain = std::move(moved);
    batteryPaths(identity(), std::nullopt, sampleLimits(), CommsState::Lost, movedAgain);
    EXPECT_FALSE(isValid(at(movedAgain, "/Dc/0/Voltage")));
    EXPECT_EQ(std::as_const(original).at("/Dc/0/Voltage").text, voltage);
}

}  // namespace
}  // namespace jkbms::dbus
