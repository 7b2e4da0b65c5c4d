#include "jkbms/config/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace jkbms::config {
namespace {

using namespace std::chrono_literals;

TEST(Config, DefaultYamlParsesAndMatchesTheStructDefaults) {
    auto r = loadConfig(JKBMS_SOURCE_DIR "/config/default.yaml");
    ASSERT_TRUE(r.ok()) << r.errors[0].text();
    const Config defaults;
    EXPECT_EQ(r.config.serial.baud, defaults.serial.baud);
    EXPECT_EQ(r.config.serial.protocol, defaults.serial.protocol);
    EXPECT_EQ(r.config.poll.interval, defaults.poll.interval);
    EXPECT_EQ(r.config.poll.timeout, defaults.poll.timeout);
    EXPECT_EQ(r.config.comms.staleAfter, defaults.comms.staleAfter);
    EXPECT_EQ(r.config.comms.invalidateAfter, defaults.comms.invalidateAfter);
    EXPECT_EQ(r.config.comms.exitAfter, defaults.comms.exitAfter);
    EXPECT_EQ(r.config.dbus.deviceInstance, defaults.dbus.deviceInstance);
    EXPECT_EQ(r.config.dbus.settingsWait, defaults.dbus.settingsWait);
    EXPECT_EQ(r.config.dbus.propertiesChanged, defaults.dbus.propertiesChanged);
    EXPECT_EQ(r.config.log.level, defaults.log.level);
    EXPECT_EQ(r.config.bank.enabled, defaults.bank.enabled);
    EXPECT_EQ(r.config.bank.member, defaults.bank.member);
    EXPECT_EQ(r.config.bank.members, defaults.bank.members);
    EXPECT_EQ(r.config.bank.name, defaults.bank.name);
    EXPECT_DOUBLE_EQ(r.config.bank.shareCurrentA, defaults.bank.shareCurrentA);
    EXPECT_DOUBLE_EQ(r.config.bank.shareMargin, defaults.bank.shareMargin);
    // The relay section too.
    const auto& relay = r.config.relay;
    EXPECT_EQ(relay.type, defaults.relay.type);
    EXPECT_EQ(relay.offset, defaults.relay.offset);
    EXPECT_EQ(relay.venusRelay, defaults.relay.venusRelay);
    EXPECT_EQ(relay.press.on, defaults.relay.press.on);
    EXPECT_EQ(relay.press.off, defaults.relay.press.off);
    EXPECT_EQ(relay.press.gap, defaults.relay.press.gap);
    EXPECT_EQ(relay.wake.attempts, defaults.relay.wake.attempts);
    EXPECT_EQ(relay.wake.after, defaults.relay.wake.after);
    EXPECT_EQ(relay.wake.interval, defaults.relay.wake.interval);
    EXPECT_DOUBLE_EQ(relay.wake.backoff, defaults.relay.wake.backoff);
    EXPECT_EQ(relay.ensureOnAtStart, defaults.relay.ensureOnAtStart);
    // The charge section mirrors ChargeConfig's defaults too.
    const auto& e = r.config.charge.engine;
    const charge::ChargeConfig d;
    EXPECT_EQ(r.config.charge.enabled, defaults.charge.enabled);
    EXPECT_EQ(r.config.charge.stateDir, defaults.charge.stateDir);
    EXPECT_EQ(e.chemistry, d.chemistry);
    // Per-chemistry values are commented out in default.yaml: absent, the profile's defaults.
    EXPECT_FALSE(e.bulkCellV || e.floatCellV || e.minCellV || e.maxCellSpreadV || e.rebulkCellV ||
                 e.rebulkCellSpreadV || e.chargeCellV || e.dischargeCellV);
    EXPECT_DOUBLE_EQ(e.absorptionMaxTimeS, d.absorptionMaxTimeS);
    EXPECT_DOUBLE_EQ(e.tailCurrentC, d.tailCurrentC);
    EXPECT_DOUBLE_EQ(e.tailTimeS, d.tailTimeS);
    EXPECT_DOUBLE_EQ(e.timerCurrentC, d.timerCurrentC);
    EXPECT_DOUBLE_EQ(e.chargerShortfallV, d.chargerShortfallV);
    EXPECT_DOUBLE_EQ(e.rebulkSocPercent, d.rebulkSocPercent);
    EXPECT_DOUBLE_EQ(e.rebulkTimeS, d.rebulkTimeS);
    EXPECT_DOUBLE_EQ(e.floatMinTimeS, d.floatMinTimeS);
    EXPECT_DOUBLE_EQ(e.floatTransitionVps, d.floatTransitionVps);
    EXPECT_DOUBLE_EQ(e.cvlOffsetV, d.cvlOffsetV);
    EXPECT_DOUBLE_EQ(e.recoveryVps, d.recoveryVps);
    EXPECT_DOUBLE_EQ(e.regulatorKp, d.regulatorKp);
    EXPECT_DOUBLE_EQ(e.regulatorKiPerS, d.regulatorKiPerS);
    EXPECT_DOUBLE_EQ(e.windupBandV, d.windupBandV);
    EXPECT_DOUBLE_EQ(e.hardMarginV, d.hardMarginV);
    EXPECT_DOUBLE_EQ(e.cellFilterS, d.cellFilterS);
    EXPECT_DOUBLE_EQ(e.currentFilterS, d.currentFilterS);
    EXPECT_DOUBLE_EQ(e.increaseAps, d.increaseAps);
    EXPECT_DOUBLE_EQ(e.recoveryHoldS, d.recoveryHoldS);
    EXPECT_DOUBLE_EQ(e.hysteresisFraction, d.hysteresisFraction);
    EXPECT_DOUBLE_EQ(e.resistanceOhmAh, d.resistanceOhmAh);
    EXPECT_DOUBLE_EQ(e.ovpMarginV, d.ovpMarginV);
    EXPECT_DOUBLE_EQ(e.uvpMarginV, d.uvpMarginV);
    EXPECT_DOUBLE_EQ(e.temperatureMarginC, d.temperatureMarginC);
    EXPECT_DOUBLE_EQ(e.temperatureRampC, d.temperatureRampC);
    EXPECT_EQ(e.chargeTemperatureC.points, d.chargeTemperatureC.points);
    EXPECT_EQ(e.dischargeTemperatureC.points, d.dischargeTemperatureC.points);
    EXPECT_EQ(e.mosfetTemperatureC.points, d.mosfetTemperatureC.points);
    EXPECT_TRUE(e.chargeSoc.points.empty());
    EXPECT_EQ(e.tableStepMode, d.tableStepMode);
}

TEST(Config, ChargeSectionIsValidated) {
    auto r = parseConfig("charge:\n"                                      // 1
                         "  chemistry: lfp\n  cell:\n"                    // 2
                         "    bulk_voltage: 3.50\n"                       // 3
                         "  tables:\n"                                    // 4
                         "    charge_cell_voltage: [[3.40, 1.0], [3.48, 0.0]]\n"  // 5
                         "    discharge_cell_voltage: [[3.1, 1.0], [3.1, 0.5]]\n"  // 6
                         "  current:\n"                                   // 7
                         "    max_charge: lots\n",                        // 8
                         "c.yaml");
    std::vector<std::string> lines;
    for (const auto& e : r.errors) lines.push_back(e.text());
    ASSERT_EQ(lines.size(), 3U) << (lines.empty() ? "" : lines[0]);
    EXPECT_EQ(lines[0], "c.yaml:9: max_charge: expected a number, got 'lots'");
    EXPECT_EQ(lines[1], "c.yaml:7: discharge_cell_voltage: x values must rise (or fall) strictly");
    EXPECT_NE(lines[2].find("c.yaml:2: charge: charge cell-voltage table reaches 0 A at or below the bulk voltage"),
              std::string::npos) << lines[2];
    // Per-cell voltages differ by chemistry: refused without one.
    auto noChemistry = parseConfig("charge:\n  cell:\n    bulk_voltage: 3.50\n", "c.yaml");
    ASSERT_EQ(noChemistry.errors.size(), 1U);
    EXPECT_NE(noChemistry.errors[0].text().find("set chemistry (lfp, nmc or lto)"), std::string::npos)
        << noChemistry.errors[0].text();
    auto nmc = parseConfig("charge:\n  chemistry: nmc\n  cell:\n    bulk_voltage: 4.05\n", "c.yaml");
    ASSERT_TRUE(nmc.ok()) << nmc.errors[0].text();
    EXPECT_EQ(nmc.config.charge.engine.chemistry, charge::Chemistry::Nmc);
    EXPECT_DOUBLE_EQ(nmc.config.charge.engine.resolve(charge::Chemistry::Nmc).bulkV, 4.05);
    EXPECT_DOUBLE_EQ(nmc.config.charge.engine.resolve(charge::Chemistry::Nmc).floatV, 4.00) << "the profile's";
}

TEST(Config, TablesInStepMode) {
    auto r = parseConfig("charge:\n  tables:\n    mode: step\n");
    ASSERT_TRUE(r.ok()) << r.errors[0].text();
    const auto t = r.config.charge.engine.resolve(charge::Chemistry::Lfp).chargeCellV;
    EXPECT_TRUE(t.step);
    EXPECT_TRUE(r.config.charge.engine.mosfetTemperatureC.step);
    EXPECT_DOUBLE_EQ(t.at(3.42), 0.5) << "between 3.40 (1.0) and 3.45 (0.5): the safe side";
    auto bad = parseConfig("charge:\n  tables:\n    mode: stairs\n", "c.yaml");
    ASSERT_EQ(bad.errors.size(), 1U);
    EXPECT_EQ(bad.errors[0].text(), "c.yaml:3: mode: 'stairs' is not one of linear, step");
}

TEST(Config, ValuesAreRead) {
    auto r = parseConfig("serial:\n  port: /dev/ttyUSB1\n  baud: 9600\npoll:\n  interval: 2s\n  timeout: 800ms\n"
                         "comms:\n  exit_after: 0\ndbus:\n  device_instance: 5\n  properties_changed: true\n"
                         "log:\n  level: debug\n");
    ASSERT_TRUE(r.ok()) << r.errors[0].text();
    EXPECT_EQ(r.config.serial.port, "/dev/ttyUSB1");
    EXPECT_EQ(r.config.serial.baud, 9600U);
    EXPECT_EQ(r.config.poll.interval, 2s);
    EXPECT_EQ(r.config.poll.timeout, 800ms);
    EXPECT_EQ(r.config.comms.exitAfter, 0ms);
    EXPECT_EQ(r.config.dbus.deviceInstance, 5);
    EXPECT_TRUE(r.config.dbus.propertiesChanged);
    EXPECT_EQ(r.config.log.level, "debug");
}

// Issue 18: per-path PropertiesChanged is off unless asked for, and a bad value is an error
// with its line.
TEST(Config, PropertiesChangedIsOffByDefaultAndChecked) {
    EXPECT_FALSE(Config{}.dbus.propertiesChanged);
    auto off = parseConfig("dbus:\n  device_instance: 2\n");
    ASSERT_TRUE(off.ok()) << off.errors[0].text();
    EXPECT_FALSE(off.config.dbus.propertiesChanged);
    auto bad = parseConfig("dbus:\n  device_instance: 2\n  properties_changed: sometimes\n", "c.yaml");
    ASSERT_EQ(bad.errors.size(), 1U);
    EXPECT_EQ(bad.errors[0].text(), "c.yaml:3: properties_changed: expected true or false");
}

TEST(Config, EveryProblemIsListedWithItsLine) {
    const std::string text =
        "serial:\n"                   // 1
        "  port: /dev/ttyUSB0\n"      // 2
        "  baud: fast\n"              // 3
        "  protcol: nw\n"             // 4
        "poll:\n"                     // 5
        "  interval: 1 s\n"           // 6
        "comms:\n"                    // 7
        "  stale_after: 60s\n"        // 8
        "  invalidate_after: 30s\n"   // 9
        "log:\n"                      // 10
        "  level: loud\n";            // 11
    auto r = parseConfig(text, "jkbms.yaml");
    ASSERT_EQ(r.errors.size(), 5U);
    std::vector<std::string> lines;
    for (const auto& e : r.errors) lines.push_back(e.text());
    EXPECT_EQ(lines[0], "jkbms.yaml:4: unknown key 'protcol' in serial");
    EXPECT_EQ(lines[1], "jkbms.yaml:3: baud: expected a whole number, got 'fast'");
    EXPECT_EQ(lines[2], "jkbms.yaml:6: interval: expected a duration such as 500ms, 5s, 2m, got '1 s'");
    EXPECT_EQ(lines[3], "jkbms.yaml:8: comms: invalidate_after must not be shorter than stale_after");
    EXPECT_EQ(lines[4], "jkbms.yaml:11: level: 'loud' is not one of debug, error, info, trace, warn");
}

TEST(Config, BrokenYamlAndWrongShapes) {
    auto broken = parseConfig("serial:\n  port: [unclosed\n", "x.yaml");
    ASSERT_EQ(broken.errors.size(), 1U);
    EXPECT_EQ(broken.errors[0].line, 3);
    auto shape = parseConfig("serial: ttyUSB0\npoll:\n  timeout: 2s\n");
    ASSERT_EQ(shape.errors.size(), 2U);
    EXPECT_EQ(shape.errors[0].message, "serial: expected a section of key: value lines");
    EXPECT_EQ(shape.errors[1].message, "poll timeout must be shorter than the poll interval");
    EXPECT_FALSE(loadConfig("/nonexistent/jkbms.yaml").ok());
    EXPECT_TRUE(parseConfig("").ok()) << "an empty file means all defaults";
}

TEST(Config, PbAddresses) {
    auto r = parseConfig("serial:\n  protocol: pb\n  addresses: [1, 2, 15]\npoll:\n  pacing: 150ms\n");
    ASSERT_TRUE(r.ok()) << r.errors[0].text();
    EXPECT_EQ(r.config.serial.protocol, "pb");
    EXPECT_EQ(r.config.serial.addresses, (std::vector<std::uint8_t>{1, 2, 15}));
    EXPECT_EQ(r.config.poll.pacing, 150ms);
    auto bad = parseConfig("serial:\n  addresses:\n    - 1\n    - 16\n    - 1\n    - x\n", "c.yaml");
    ASSERT_EQ(bad.errors.size(), 3U);
    EXPECT_EQ(bad.errors[0].text(), "c.yaml:4: address: 16 is out of range (1 to 15)");
    EXPECT_EQ(bad.errors[1].text(), "c.yaml:5: addresses: 1 is listed twice");
    EXPECT_EQ(bad.errors[2].text(), "c.yaml:6: address: expected a whole number, got 'x'");
}

TEST(Config, Durations) {
    std::chrono::milliseconds d{};
    EXPECT_TRUE(parseDuration("250ms", d));
    EXPECT_EQ(d, 250ms);
    EXPECT_TRUE(parseDuration("2m", d));
    EXPECT_EQ(d, 120s);
    EXPECT_FALSE(parseDuration("5", d)) << "a unit is required";
    EXPECT_TRUE(parseDuration("0", d)) << "except for 0";
    EXPECT_EQ(d, 0ms);
    EXPECT_FALSE(parseDuration("-5s", d));
    EXPECT_FALSE(parseDuration("s", d));
}


TEST(Config, RelaySections) {
    auto gpio = parseConfig("relay:\n  type: gpio\n  gpio: {chip: gpiochip1, offset: 17, active_low: true}\n"
                            "  press: {on: 800ms, off: 4s}\n  wake: {attempts: 2, after: 5s, interval: 10s}\n"
                            "  ensure_on_at_start: true\n");
    ASSERT_TRUE(gpio.ok()) << gpio.errors[0].text();
    const auto& r = gpio.config.relay;
    EXPECT_TRUE(r.enabled());
    EXPECT_EQ(r.chip, "gpiochip1");
    EXPECT_EQ(r.offset, 17);
    EXPECT_TRUE(r.activeLow);
    EXPECT_EQ(r.press.on, 800ms);
    EXPECT_EQ(r.press.off, 4s);
    EXPECT_EQ(r.wake.attempts, 2);
    EXPECT_TRUE(r.ensureOnAtStart);

    auto byName = parseConfig("relay: {type: gpio, gpio: {line: relay_bms}}\n");
    ASSERT_TRUE(byName.ok()) << byName.errors[0].text();
    EXPECT_EQ(byName.config.relay.line, "relay_bms");

    auto venus = parseConfig("relay: {type: venus, venus: {relay: 1}}\n");
    ASSERT_TRUE(venus.ok()) << venus.errors[0].text();
    EXPECT_EQ(venus.config.relay.venusRelay, 1);
}

// Every relay mistake at once, each on its line.
TEST(Config, RelayMistakesAreAllListed) {
    const std::string text =
        "comms:\n"
        "  exit_after: 60s\n"
        "relay:\n"                                  // 3
        "  type: gpoi\n"                            // 4: unknown type
        "  gpio:\n"
        "    chip: gpiochip0\n"                     // 6: chip and line (a section's first line)
        "    offset: 4\n"
        "    line: relay_1\n"
        "  press:\n"
        "    on: 2s\n"                              // 10: on >= off
        "    off: 2s\n"
        "  wake:\n"
        "    attempts: 3\n"
        "    after: 10s\n"
        "    interval: 20s\n";
    auto r = parseConfig(text, "jk.yaml");
    ASSERT_EQ(r.errors.size(), 3u);  // the type error leaves 'none': the wake check needs a relay
    EXPECT_EQ(r.errors[0].line, 4);
    EXPECT_NE(r.errors[0].message.find("'gpoi' is not one of"), std::string::npos);
    EXPECT_EQ(r.errors[1].line, 6);
    EXPECT_NE(r.errors[1].message.find("not both"), std::string::npos);
    EXPECT_EQ(r.errors[2].line, 10);
    EXPECT_NE(r.errors[2].message.find("shorter than 'off'"), std::string::npos);

    auto late = parseConfig(
        "comms: {exit_after: 60s}\nrelay:\n  type: venus\n  wake:\n    attempts: 3\n    after: 10s\n"
        "    interval: 20s\n",
        "jk.yaml");
    ASSERT_EQ(late.errors.size(), 1u);
    EXPECT_EQ(late.errors[0].line, 5);
    EXPECT_NE(late.errors[0].message.find("71 s into a silence, not before comms.exit_after (60 s)"), std::string::npos)
        << late.errors[0].text();
    // exit_after 0 (never): any series fits.
    EXPECT_TRUE(parseConfig("comms: {exit_after: 0}\nrelay: {type: venus, wake: {attempts: 10}}\n").ok());

    auto missing = parseConfig("relay:\n  type: gpio\n");
    ASSERT_EQ(missing.errors.size(), 1u);
    EXPECT_NE(missing.errors[0].message.find("needs gpio.chip"), std::string::npos);
    auto noRelay = parseConfig("relay:\n  ensure_on_at_start: true\n");
    ASSERT_EQ(noRelay.errors.size(), 1u);
    EXPECT_EQ(noRelay.errors[0].line, 2);
    auto offsetAlone = parseConfig("relay: {type: gpio, gpio: {offset: 3}}\n");
    EXPECT_FALSE(offsetAlone.ok());
}


// Issue 14 item 4: a hostile file is refused with its line, never crashes, wraps or is ignored.
std::vector<std::string> texts(const LoadResult& r) {
    std::vector<std::string> out;
    for (const auto& e : r.errors) out.push_back(e.text());
    return out;
}

bool anyContains(const LoadResult& r, const std::string& needle) {
    for (const auto& e : r.errors)
        if (e.text().find(needle) != std::string::npos) return true;
    return false;
}

TEST(ConfigHostile, KeysThatAreListsOrMappingsAreErrorsNotCrashes) {
    LoadResult r;
    ASSERT_NO_THROW(r = parseConfig("? [a, b]\n: 1\n", "c.yaml"));
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_EQ(r.errors[0].line, 1);
    EXPECT_TRUE(anyContains(r, "key")) << r.errors[0].text();
    ASSERT_NO_THROW(r = parseConfig("serial:\n  ? {x: 1}\n  : 2\n  baud: 9600\n", "c.yaml"));
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_EQ(r.errors[0].line, 2);
    ASSERT_NO_THROW(r = parseConfig("log:\n  ~: 1\n", "c.yaml"));
    EXPECT_FALSE(r.ok());
}

TEST(ConfigHostile, HugeDurationsAreOutOfRangeNotWrapped) {
    for (const char* text : {"18446744073709552s", "9223372036854776m", "2562047788015216h", "99999999999999999999ms"}) {
        const auto r = parseConfig(std::string{"comms:\n  exit_after: "} + text + "\n", "c.yaml");
        ASSERT_EQ(r.errors.size(), 1U) << text;
        EXPECT_EQ(r.errors[0].line, 2);
        EXPECT_NE(r.errors[0].message.find("out of range"), std::string::npos) << r.errors[0].text();
    }
    std::chrono::milliseconds ms{};
    EXPECT_FALSE(parseDuration("18446744073709552s", ms));
    EXPECT_TRUE(parseDuration("9223372036854775807ms", ms));
    EXPECT_EQ(ms.count(), 9223372036854775807LL);
}

TEST(ConfigHostile, DuplicateKeysAreErrorsWithBothLines) {
    const auto r = parseConfig("serial:\n"         // 1
                               "  baud: 9600\n"    // 2
                               "  baud: 19200\n"   // 3
                               "serial:\n"         // 4
                               "  port: /dev/x\n", // 5
                               "c.yaml");
    const auto lines = texts(r);
    ASSERT_EQ(lines.size(), 2U) << (lines.empty() ? "" : lines[0]);
    EXPECT_EQ(lines[0], "c.yaml:4: 'serial' is given twice in the file (first at line 1)");
    EXPECT_EQ(lines[1], "c.yaml:3: 'baud' is given twice in serial (first at line 2)");
}

TEST(ConfigHostile, ASecondDocumentIsAnError) {
    auto r = parseConfig("log:\n  level: debug\n---\nlog:\n  level: error\n", "c.yaml");
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_EQ(r.errors[0].line, 3) << r.errors[0].text();
    EXPECT_TRUE(anyContains(r, "document"));
    r = parseConfig("log:\n  level: debug\n---\n", "c.yaml");
    EXPECT_FALSE(r.ok()) << "an empty second document is a second document too";
    EXPECT_TRUE(parseConfig("---\nlog:\n  level: debug\n...\n").ok()) << "one document with its markers";
}

// Found by fuzz_config: yaml-cpp 0.7 never finishes YAML::LoadAll on a stray ',' (an empty
// document at the same place for ever), and YAML::Load reads "," as an empty file.
TEST(ConfigHostile, AStrayCommaIsASyntaxErrorNotAHangOrDefaults) {
    auto r = parseConfig(",", "c.yaml");
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_EQ(r.errors[0].text(), "c.yaml:1: unexpected ',' (YAML syntax)");
    r = parseConfig("log:\n  level: info\n,#\n", "c.yaml");
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_EQ(r.errors[0].line, 3);
}

class ConfigFiles : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("jkbms-config-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path dir_;
};

TEST_F(ConfigFiles, ADirectoryIsNotAnEmptyFile) {
    const auto r = loadConfig(dir_.string());
    ASSERT_FALSE(r.ok()) << "a directory must not start the daemon on defaults";
    EXPECT_TRUE(anyContains(r, "directory")) << r.errors[0].text();
    EXPECT_FALSE(loadConfig("/proc").ok());
}

TEST_F(ConfigFiles, SizeIsCapped) {
    const auto path = (dir_ / "big.yaml").string();
    {
        std::ofstream out(path);
        out << "log:\n  level: info\n";
        out << std::string(kMaxConfigBytes, '#') << '\n';
    }
    const auto r = loadConfig(path);
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_TRUE(anyContains(r, "larger than 1 MiB")) << r.errors[0].text();
    const auto zero = loadConfig("/dev/zero");  // endless: must stop at the cap
    ASSERT_FALSE(zero.ok());
    EXPECT_TRUE(anyContains(zero, "larger than 1 MiB")) << zero.errors[0].text();
}

TEST_F(ConfigFiles, AnUnreadableFileSaysWhy) {
    const auto r = loadConfig((dir_ / "missing.yaml").string());
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_TRUE(anyContains(r, "No such file")) << r.errors[0].text();
}

TEST(Config, Bank) {
    auto r = parseConfig("bank:\n  enabled: false\n  member: true\n  members: [ttyUSB0, com.victronenergy.battery.ttyUSB1]\n"
                         "  name: garage\n  share_current: 2.5\n  share_margin: 0.2\n");
    ASSERT_TRUE(r.ok()) << r.errors[0].text();
    EXPECT_FALSE(r.config.bank.enabled);
    EXPECT_TRUE(r.config.bank.member);
    EXPECT_EQ(r.config.bank.members, (std::vector<std::string>{"ttyUSB0", "ttyUSB1"}));
    EXPECT_EQ(r.config.bank.name, "garage");
    EXPECT_DOUBLE_EQ(r.config.bank.shareCurrentA, 2.5);
    EXPECT_DOUBLE_EQ(r.config.bank.shareMargin, 0.2);
    const Config defaults;
    EXPECT_TRUE(defaults.bank.enabled);
    EXPECT_FALSE(defaults.bank.member);
    EXPECT_EQ(defaults.bank.name, "jkbms_bank");

    auto bad = parseConfig("bank:\n  members:\n    - ttyUSB0\n    - tty USB1\n    - ttyUSB0\n  name: 'a.b'\n"
                           "  share_margin: 2\n  colour: red\n", "b.yaml");
    ASSERT_EQ(bad.errors.size(), 5U);
    std::vector<std::string> texts;
    for (const auto& e : bad.errors) texts.push_back(e.text());
    std::sort(texts.begin(), texts.end());
    EXPECT_EQ(texts[0], "b.yaml:4: members: 'tty USB1' is not a battery service name such as com.victronenergy.battery.ttyUSB0");
    EXPECT_EQ(texts[1], "b.yaml:5: members: ttyUSB0 is listed twice");
    EXPECT_EQ(texts[2], "b.yaml:6: name: 'a.b' may hold only letters, digits and _ (at most 64)");
    EXPECT_EQ(texts[3], "b.yaml:7: share_margin: 2 is out of range (0 to 1)");
    EXPECT_NE(texts[4].find("colour"), std::string::npos) << texts[4];
}

}  // namespace
}  // namespace jkbms::config
