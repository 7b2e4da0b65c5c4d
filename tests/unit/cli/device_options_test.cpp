#include "jkbms/cli/device_options.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

namespace jkbms::cli {
namespace {

ParsedOptions parse(Command c, std::initializer_list<std::string_view> args) {
    const std::vector<std::string_view> v(args);
    return parseDeviceOptions(c, v);
}

TEST(DeviceOptions, ReadOverSerialAndBle) {
    auto r = parse(Command::Read, {"--serial", "/dev/ttyUSB0", "--json"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.serial, "/dev/ttyUSB0");
    EXPECT_TRUE(r.options.json);
    EXPECT_FALSE(r.options.protocol) << "NW first, then JK-PB";

    r = parse(Command::Read, {"--ble", "c8:47:8c:00:00:0a", "--timeout", "1.5s"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.ble, "C8:47:8C:00:00:0A");
    EXPECT_EQ(r.options.timeout, std::chrono::milliseconds(1500));

    r = parse(Command::Read, {"--serial", "/dev/ttyUSB0", "--address", "3"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.protocol, Protocol::Pb) << "an address means JK-PB";
    EXPECT_EQ(r.options.address, 3);
}

TEST(DeviceOptions, EveryMistakeIsOneLine) {
    const std::pair<std::vector<std::string_view>, std::string_view> cases[] = {
        {{}, "say --serial PORT or --ble MAC"},
        {{"--serial"}, "--serial needs a value"},
        {{"--ble", "C8:47:8C"}, "--ble wants a MAC such as C8:47:8C:00:00:01, not 'C8:47:8C'"},
        {{"--serial", "/dev/x", "--ble", "C8:47:8C:00:00:01"}, "--serial or --ble, not both"},
        {{"--serial", "/dev/x", "--protocol", "can"}, "--protocol is nw, pb or ble, not 'can'"},
        {{"--serial", "/dev/x", "--address", "16"}, "--address is a JK-PB DIP address 0-15, not '16'"},
        {{"--serial", "/dev/x", "--protocol", "nw", "--address", "2"}, "--address is for --protocol pb"},
        {{"--serial", "/dev/x", "--protocol", "ble"}, "--protocol ble goes with --ble MAC, not --serial"},
        {{"--serial", "/dev/x", "--timeout", "soon"}, "--timeout wants a duration such as 2s or 500ms, not 'soon'"},
        {{"--serial", "/dev/x", "--interval", "1s"}, "unexpected '--interval'"},
    };
    for (const auto& [args, message] : cases) EXPECT_EQ(parseDeviceOptions(Command::Read, args).error, message);
}

TEST(DeviceOptions, SwitchWatchAndScan) {
    auto r = parse(Command::Switch, {"charge", "off", "--serial", "/dev/ttyUSB0"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.switchKind, SwitchKind::Charge);
    EXPECT_EQ(r.options.on, false);
    EXPECT_EQ(parse(Command::Switch, {"charge", "--serial", "/dev/x"}).error,
              "say which switch and on or off: charge|discharge|balance on|off");
    EXPECT_EQ(parse(Command::Switch, {"heater", "on", "--serial", "/dev/x"}).error, "unexpected 'heater'");

    r = parse(Command::Watch, {"--dbus", "--service", "ttyUSB0", "--count", "3", "--interval", "250ms"});
    ASSERT_EQ(r.error, "");
    EXPECT_TRUE(r.options.dbus);
    EXPECT_EQ(r.options.count, 3U);
    EXPECT_EQ(r.options.interval, std::chrono::milliseconds(250));
    EXPECT_EQ(parse(Command::Watch, {"--dbus", "--serial", "/dev/x"}).error,
              "--dbus watches a running dbus-jkbms; leave out --serial / --ble");
    EXPECT_EQ(parse(Command::Watch, {"--serial", "/dev/x", "--interval", "10ms"}).error,
              "--interval wants a duration of at least 100ms, not '10ms'");

    r = parse(Command::Scan, {"--ble", "--time", "3s"});
    ASSERT_EQ(r.error, "");
    EXPECT_TRUE(r.options.scanBle);
    EXPECT_EQ(r.options.scanTime, std::chrono::seconds(3));
    EXPECT_EQ(parse(Command::Scan, {}).error, "say --ble or --serial PORT");
    EXPECT_EQ(parse(Command::Scan, {"--ble", "--serial", "/dev/x"}).error, "say --ble or --serial PORT");
    EXPECT_TRUE(parse(Command::Scan, {"--help"}).help);
}

}  // namespace
}  // namespace jkbms::cli
