// dbus-jkbms over BLE, end to end: a fake BlueZ on the private bus plays a JK BMS (frames as
// 20-byte notifications), the daemon finds, connects, subscribes and publishes.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fakes/fake_bluez.hpp"
#include "integration/harness.hpp"
#include "jkbms/app/daemon.hpp"
#include "jkbms/util/hex.hpp"

namespace jkbms::app {
namespace {

using test::FakeBluez;
using test::PrivateBus;
using test::pumpUntil;
using namespace std::chrono_literals;

constexpr const char* kMac = "C8:47:8C:00:00:01";

FakeBluez::Frame vec(const std::array<std::uint8_t, 300>& a) { return {a.begin(), a.end()}; }

class BleTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        bms.setLive(false);
        bms.state().currentA = -9.75;
        bms.state().serialNumber = "BLE123";
    }
    void TearDown() override {
        daemon.reset();
        bluez.reset();
    }

    FakeBluez::Frames simulatedFrames() {
        return {[this] { return vec(bms.jk02DeviceInfoFrame(counter++)); },
                [this] { return vec(bms.jk02SettingsFrame(counter++, 0)); },
                [this] { return vec(bms.jk02CellInfoFrame(counter++)); }};
    }

    DaemonOptions options() {
        DaemonOptions o;
        o.config.ble.mac = kMac;
        o.config.poll.interval = 300ms;
        o.config.comms = domain::CommsTimes{1500ms, 3000ms, 0ms};
        o.config.dbus.address = PrivateBus::address();
        o.config.dbus.settingsWait = 100ms;
        o.config.charge.stateDir = "";
        o.version = "test";
        return o;
    }

    void startDaemon() {
        daemon = std::make_unique<Daemon>(io, options());
        daemon->start();
    }
    bool registered() {
        auto* s = daemon->service();
        return s && s->state() == dbus::BatteryService::State::Registered;
    }
    bool valueIs(std::string_view path, const dbus::Value& expected) {
        auto* s = daemon->service();
        const dbus::Item* item = s ? s->items().find(path) : nullptr;
        return item && item->value == expected;
    }

    boost::asio::io_context io;
    sim::SimulatedBms bms{16};
    std::uint8_t counter = 0;
    std::unique_ptr<FakeBluez> bluez;
    std::unique_ptr<Daemon> daemon;
};

TEST_F(BleTest, PublishesWhatTheBmsNotifies) {
    bluez = std::make_unique<FakeBluez>(io, PrivateBus::address(), kMac, simulatedFrames());
    startDaemon();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    EXPECT_EQ(daemon->service()->busName(), "com.victronenergy.battery.ble_c8478c000001");
    EXPECT_TRUE(valueIs("/Dc/0/Current", dbus::Value{-9.75}));
    EXPECT_TRUE(valueIs("/Mgmt/InsecureConnection", dbus::Value{std::int32_t{1}}));
    EXPECT_TRUE(valueIs("/Mgmt/Connection", dbus::Value{std::string{"Bluetooth "} + kMac}));
    EXPECT_TRUE(valueIs("/Serial", dbus::Value{std::string{"BLE123"}}));
    EXPECT_TRUE(valueIs("/System/NrOfCellsPerBattery", dbus::Value{std::int32_t{16}}));
    ASSERT_GE(bluez->commands().size(), 2U);
    EXPECT_EQ(bluez->commands()[0], codec::ble::reg::kRequestDeviceInfo);
    EXPECT_EQ(bluez->commands()[1], codec::ble::reg::kRequestSettings);
    EXPECT_EQ(bluez->discoveries(), 0) << "a device BlueZ knows needs no scan";
    bms.state().currentA = 4.5;
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/Dc/0/Current", dbus::Value{4.5}); }, 2s));
}

// Not known to BlueZ yet: a time-limited discovery finds it, and is stopped at once.
TEST_F(BleTest, DiscoversAnUnknownDeviceAndStopsScanning) {
    bluez = std::make_unique<FakeBluez>(io, PrivateBus::address(), kMac, simulatedFrames(), false);
    startDaemon();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    EXPECT_EQ(bluez->discoveries(), 1);
    EXPECT_FALSE(bluez->discovering()) << "never leave the shared adapter scanning";
}

// /Bms/ChargeSwitch over BLE: the daemon writes register 0x1D; the BMS answers with a settings
// frame, and the path follows it.
TEST_F(BleTest, SwitchPathsWriteTheBmsRegister) {
    auto frames = simulatedFrames();
    frames.write = [this](const codec::ble::DecodedCommand& c) {
        bms.countSwitchWrite();
        if (c.reg == codec::ble::reg::kChargeSwitch) bms.setSwitch(sim::SimulatedBms::Switch::Charge, c.value != 0);
    };
    bluez = std::make_unique<FakeBluez>(io, PrivateBus::address(), kMac, std::move(frames));
    startDaemon();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    EXPECT_TRUE(valueIs("/Bms/ChargeSwitch", dbus::Value{std::int32_t{1}}));
    auto r = test::busctl(io, {"call", daemon->service()->busName(), "/Bms/ChargeSwitch", "com.victronenergy.BusItem",
                               "SetValue", "v", "i", "0"});
    EXPECT_EQ(r.out, "i 0\n");
    ASSERT_TRUE(pumpUntil(io, [&] { return !bms.state().chargeMos; }, 2s));
    EXPECT_EQ(bluez->commands().back(), codec::ble::reg::kChargeSwitch);
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/Bms/ChargeSwitch", dbus::Value{std::int32_t{0}}); }, 2s));
}

// Out of range and back: BlueZ reports the disconnect, the link reconnects after its backoff.
TEST_F(BleTest, ReconnectsAfterADisconnect) {
    bluez = std::make_unique<FakeBluez>(io, PrivateBus::address(), kMac, simulatedFrames());
    startDaemon();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    bluez->dropConnection();
    ASSERT_TRUE(pumpUntil(io, [&] { return !daemon->bleLink()->ready(); }, 2s));
    ASSERT_TRUE(pumpUntil(io, [&] { return bluez->connects() == 2 && daemon->bleLink()->ready(); }, 5s));
    bms.state().currentA = 1.25;
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/Dc/0/Current", dbus::Value{1.25}); }, 2s));
}

// The stream stops: stale, then lost (limits and values invalid, /Connected = 0); then back.
TEST_F(BleTest, SilentStreamFollowsTheTimeline) {
    bluez = std::make_unique<FakeBluez>(io, PrivateBus::address(), kMac, simulatedFrames());
    startDaemon();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    bluez->setSilent(true);
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{1}}); }, 3s));
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Connected", dbus::Value{std::int32_t{0}}); }, 3s));
    bluez->setSilent(false);
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/Connected", dbus::Value{std::int32_t{1}}); }, 3s));
}

// Recorded JK02_32S frames (shared/vectors, read in place when present) through the whole
// chain: the published values are the capture's.
TEST_F(BleTest, RecordedFramesFromTheSharedVectors) {
    const char* env = std::getenv("JKBMS_VECTORS_DIR");
    const std::filesystem::path dir = env && *env ? env : JKBMS_TEST_SOURCE_DIR "/../../shared/vectors";
    auto hexOf = [&](const char* file) -> std::optional<FakeBluez::Frame> {
        std::ifstream in(dir / file);
        for (std::string line; std::getline(in, line);)
            if (line.starts_with("hex: ")) return util::parseHex(line.substr(5)).value();
        return std::nullopt;
    };
    auto device = hexOf("ble_jk02_32s_device_info_v15.yaml");
    auto settings = hexOf("ble_jk02_32s_settings_v15.yaml");
    auto cells = hexOf("ble_jk02_32s_cell_info_v15_charging.yaml");
    if (!device || !settings || !cells) GTEST_SKIP() << "shared vectors not found in " << dir;
    bluez = std::make_unique<FakeBluez>(io, PrivateBus::address(), kMac,
                                        FakeBluez::Frames{[=] { return *device; }, [=] { return *settings; },
                                                          [=] { return *cells; }});
    startDaemon();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    EXPECT_TRUE(valueIs("/Dc/0/Current", dbus::Value{31.881}));
    EXPECT_TRUE(valueIs("/Dc/0/Voltage", dbus::Value{53.224}));
    EXPECT_TRUE(valueIs("/Soc", dbus::Value{25.0}));
    EXPECT_TRUE(valueIs("/FirmwareVersion", dbus::Value{std::string{"15.38"}}));
    EXPECT_TRUE(valueIs("/System/NrOfCellsPerBattery", dbus::Value{std::int32_t{16}}));
}

}  // namespace
}  // namespace jkbms::app
