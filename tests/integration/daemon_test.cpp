// dbus-jkbms end to end on a pseudo-terminal: the simulator plays the BMS on the pty master,
// the daemon opens the slave like a USB adapter and publishes on a private dbus-daemon. Each
// simulator fault must be survived, and the lost-communication timeline must hold, with its
// times measured on the loop (no sleeps).

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <filesystem>

#include "fakes/fake_gx.hpp"
#include "fakes/fake_settings.hpp"
#include "integration/harness.hpp"
#include "jkbms/app/daemon.hpp"
#include "jkbms/sim/pb_master.hpp"
#include "jkbms/sim/simulated_button.hpp"

namespace jkbms::app {
namespace {

using test::busctl;
using test::PrivateBus;
using test::pumpUntil;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class DaemonTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        std::replace(name.begin(), name.end(), '/', '_');  // parameterised names carry a '/'
        link = (std::filesystem::temp_directory_path() / ("jkbms-test-" + std::to_string(::getpid()) + "-" + name))
                   .string();
        bms.setLive(false);
        bms.state().currentA = -12.34;
        pty = std::make_unique<sim::PtyServer>(io, responder, sim::PtyServer::Options{link, 400ms});
    }
    void TearDown() override {
        daemon.reset();
        pty.reset();
    }

    // Fast timings so the whole timeline fits in a few seconds.
    DaemonOptions options(std::chrono::milliseconds exitAfter = 0ms) {
        DaemonOptions o;
        o.config.serial.port = link;
        o.config.serial.protocol = "nw";
        o.config.poll.interval = 200ms;
        o.config.poll.timeout = 150ms;
        o.config.comms = domain::CommsTimes{1000ms, 2000ms, exitAfter};
        o.config.dbus.address = PrivateBus::address();
        o.config.dbus.settingsWait = 100ms;  // no localsettings on this bus
        o.config.charge.stateDir = "";       // tests never write under /data
        o.version = "test";
        return o;
    }

    void startDaemon(DaemonOptions o) {
        daemon = std::make_unique<Daemon>(io, std::move(o));
        daemon->start();
    }

    bool registered() {
        return daemon->service() && daemon->service()->state() == dbus::BatteryService::State::Registered;
    }

    const dbus::Value* value(std::string_view path) {
        if (!daemon->service()) return nullptr;
        const dbus::Item* item = daemon->service()->items().find(path);
        return item ? &item->value : nullptr;
    }
    bool valueIs(std::string_view path, const dbus::Value& expected) {
        const dbus::Value* v = value(path);
        return v && *v == expected;
    }

    boost::asio::io_context io;
    sim::SimulatedBms bms{16};
    sim::NwResponder responder{bms};
    std::unique_ptr<sim::PtyServer> pty;
    std::unique_ptr<Daemon> daemon;
    std::string link;
};

// Simulator -> pty -> daemon -> private bus -> busctl: the values match what the simulator sent.
TEST_F(DaemonTest, PublishesWhatTheBmsSends) {
    bms.state().cellsV[2] = 3.475;
    startDaemon(options());
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    const std::string name = daemon->service()->busName();
    EXPECT_EQ(name, "com.victronenergy.battery." + std::filesystem::path(link).filename().string());
    auto get = [&](const std::string& path) {
        return busctl(io, {"call", name, path, "com.victronenergy.BusItem", "GetValue"}).out;
    };
    EXPECT_EQ(get("/Voltages/Cell3"), "v d 3.475\n");
    EXPECT_EQ(get("/Dc/0/Current"), "v d -12.34\n");
    EXPECT_EQ(get("/Soc"), "v d 60\n");
    EXPECT_EQ(get("/Connected"), "v i 1\n");
    // The charge engine: cell 3 is 25 mV over the 3.45 V target, so CVL is already below
    // 16 x 3.45 V and the mode says why; CCL from the cell-voltage table.
    const dbus::Value* cvl = value("/Info/MaxChargeVoltage");
    ASSERT_TRUE(cvl && dbus::isValid(*cvl));
    EXPECT_LT(std::get<double>(*cvl), 16 * 3.45);
    EXPECT_GT(std::get<double>(*cvl), 16 * 3.40);
    EXPECT_TRUE(valueIs("/Info/BatteryLowVoltage", dbus::Value{16 * 2.90}));
    EXPECT_TRUE(valueIs("/Info/ChargeLimitation", dbus::Value{std::string{"Cell voltage"}}));
    EXPECT_NE(get("/Info/ChargeMode").find("cell 3 limiting"), std::string::npos) << get("/Info/ChargeMode");

    bms.state().currentA = 25.5;  // the next poll carries it
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/Dc/0/Current", dbus::Value{25.5}); }, 2s));
    EXPECT_EQ(get("/Dc/0/Current"), "v d 25.5\n");
}

// /Bms/ChargeSwitch and friends: a write goes to the BMS between polls; the value follows
// what the BMS reads back, not what was written (v11 firmware ignores balance writes).
TEST_F(DaemonTest, SwitchPathsWriteTheBmsAndFollowItsAnswer) {
    startDaemon(options());
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    const std::string name = daemon->service()->busName();
    auto call = [&](const std::string& path, std::vector<std::string> method) {
        std::vector<std::string> args{"call", name, path, "com.victronenergy.BusItem"};
        args.insert(args.end(), method.begin(), method.end());
        return busctl(io, args).out;
    };
    EXPECT_EQ(call("/Bms/ChargeSwitch", {"GetValue"}), "v i 1\n");
    EXPECT_EQ(call("/Bms/ChargeSwitch", {"GetText"}), "s \"on\"\n");
    EXPECT_EQ(call("/Bms/ChargeSwitch", {"SetValue", "v", "i", "2"}), "i 1\n") << "0 or 1 only";
    EXPECT_EQ(call("/Bms/ChargeSwitch", {"SetValue", "v", "i", "0"}), "i 0\n");
    ASSERT_TRUE(pumpUntil(io, [&] { return !bms.state().chargeMos; }, 2s)) << "the simulator saw the write";
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/Bms/ChargeSwitch", dbus::Value{std::int32_t{0}}); }, 2s));
    EXPECT_EQ(call("/Bms/ChargeSwitch", {"GetText"}), "s \"off\"\n");
    EXPECT_TRUE(valueIs("/Io/AllowToCharge", dbus::Value{std::int32_t{0}}));

    EXPECT_EQ(call("/Bms/DischargeSwitch", {"SetValue", "v", "i", "0"}), "i 0\n");
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/Bms/DischargeSwitch", dbus::Value{std::int32_t{0}}); }, 2s));
    EXPECT_FALSE(bms.state().dischargeMos);

    // The balancer write is answered but not taken: the path stays on.
    const auto writes = bms.switchWrites();
    EXPECT_EQ(call("/Bms/BalanceSwitch", {"SetValue", "v", "i", "0"}), "i 0\n");
    ASSERT_TRUE(pumpUntil(io, [&] { return bms.switchWrites() > writes; }, 2s));
    bms.state().currentA = 7.5;  // a reading after the write
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Dc/0/Current", dbus::Value{7.5}); }, 2s));
    EXPECT_TRUE(valueIs("/Bms/BalanceSwitch", dbus::Value{std::int32_t{1}}));

    EXPECT_EQ(call("/Bms/ChargeSwitch", {"SetValue", "v", "i", "1"}), "i 0\n");
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/Bms/ChargeSwitch", dbus::Value{std::int32_t{1}}); }, 2s));
    EXPECT_TRUE(bms.state().chargeMos);
}

// While the BMS does not answer, a switch write is refused (non-zero) and nothing is sent.
TEST_F(DaemonTest, SwitchWritesAreRefusedWhileTheBmsIsNotConnected) {
    startDaemon(options(0ms));
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    pty->setFault(sim::Fault::Silence);
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{1}}); }, 3s));
    const auto writes = bms.switchWrites();
    auto r = busctl(io, {"call", daemon->service()->busName(), "/Bms/ChargeSwitch", "com.victronenergy.BusItem",
                         "SetValue", "v", "i", "0"});
    EXPECT_EQ(r.out, "i 2\n");
    EXPECT_EQ(bms.switchWrites(), writes);
    EXPECT_TRUE(bms.state().chargeMos);
}

// jkbms watch --dbus: the dashboard from a running daemon's service, one line per reading
// when stdout is no terminal, with the daemon's own limits.
TEST_F(DaemonTest, CliWatchesTheDaemonOnDbus) {
    startDaemon(options());
    ASSERT_TRUE(pumpUntil(io, [&] { return registered() && value("/Info/MaxChargeVoltage") && dbus::isValid(*value("/Info/MaxChargeVoltage")); }, 5s));
    auto r = test::runTool(io, {JKBMS_CLI, "watch", "--dbus", "--dbus-address", PrivateBus::address(), "--count", "2",
                                "--interval", "200ms"}, 10s);
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
    EXPECT_NE(r.out.find("52.80 V -12.34 A"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("CVL "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("CCL "), std::string::npos) << r.out;
    auto bad = test::runTool(io, {JKBMS_CLI, "watch", "--dbus", "--dbus-address", PrivateBus::address(), "--service", "nosuch", "--count", "1"}, 10s);
    EXPECT_EQ(bad.exitCode, 1);
    EXPECT_NE(bad.err.find("com.victronenergy.battery.nosuch"), std::string::npos) << bad.err;
}

class DaemonFaultTest : public DaemonTest, public ::testing::WithParamInterface<sim::Fault> {};

// Each fault: the daemon keeps running, warns (stale), and recovers when the BMS behaves.
TEST_P(DaemonFaultTest, SurvivesAndRecovers) {
    startDaemon(options());
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    pty->setFault(GetParam());
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{1}}); }, 3s))
        << sim::faultName(GetParam());
    EXPECT_TRUE(valueIs("/Connected", dbus::Value{std::int32_t{1}})) << "stale keeps the values";
    pty->setFault(sim::Fault::None);
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{0}}); }, 3s));
    EXPECT_FALSE(daemon->exitCode());
}

INSTANTIATE_TEST_SUITE_P(Faults, DaemonFaultTest,
                         ::testing::Values(sim::Fault::Silence, sim::Fault::Garbage, sim::Fault::Truncated,
                                           sim::Fault::BadChecksum, sim::Fault::Late),
                         [](const auto& p) { return std::string{sim::faultName(p.param)}; });

// The timeline of charge-control.md section 5, measured: stale, then lost (limits and
// measurements invalid with /Connected = 0 in one batch), then exit with the name released.
TEST_F(DaemonTest, LostCommunicationTimeline) {
    startDaemon(options(3000ms));
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Dc/0/Current", dbus::Value{-12.34}); }));
    const auto silentFrom = Clock::now();
    pty->setFault(sim::Fault::Silence);

    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{1}}); }, 3s));
    const auto stale = Clock::now() - silentFrom;
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Connected", dbus::Value{std::int32_t{0}}); }, 3s));
    const auto lost = Clock::now() - silentFrom;
    EXPECT_FALSE(dbus::isValid(*value("/Dc/0/Voltage")));
    EXPECT_FALSE(dbus::isValid(*value("/Info/MaxChargeVoltage")));
    EXPECT_TRUE(valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{2}}));
    ASSERT_TRUE(pumpUntil(io, [&] { return daemon->exitCode().has_value(); }, 3s));
    const auto exited = Clock::now() - silentFrom;
    EXPECT_EQ(*daemon->exitCode(), ExitCode::BmsLost);

    // Counted from the last good reading, which is up to one poll before the silence, and
    // noticed at the next missed poll: +-(interval + timeout).
    auto within = [](Clock::duration measured, std::chrono::milliseconds nominal) {
        return measured >= nominal - 250ms && measured <= nominal + 450ms;
    };
    EXPECT_TRUE(within(stale, 1000ms)) << std::chrono::duration_cast<std::chrono::milliseconds>(stale).count();
    EXPECT_TRUE(within(lost, 2000ms)) << std::chrono::duration_cast<std::chrono::milliseconds>(lost).count();
    EXPECT_TRUE(within(exited, 3000ms)) << std::chrono::duration_cast<std::chrono::milliseconds>(exited).count();

    // The name is released (pump until io.stop() took effect, then look from outside).
    auto r = busctl(io, {"call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                         "NameHasOwner", "s", "com.victronenergy.battery." + std::filesystem::path(link).filename().string()});
    EXPECT_EQ(r.out, "b false\n");
}

// A USB adapter unplugged and plugged back: the daemon reopens the same path and resumes.
TEST_F(DaemonTest, PortDisappearsAndComesBack) {
    startDaemon(options());
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    pty->unplug();
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{1}}); }, 3s));
    pty->plug();
    bms.state().currentA = 7.5;
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/Dc/0/Current", dbus::Value{7.5}); }, 5s));
    EXPECT_TRUE(valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{0}}));
    EXPECT_FALSE(daemon->exitCode());
}

// serial-starter's contract: no JK BMS on the port -> exit non-zero within a few seconds,
// never appearing on D-Bus.
TEST_F(DaemonTest, NothingAnswersAtStartExitsForSerialStarter) {
    pty->setFault(sim::Fault::Silence);
    const auto started = Clock::now();
    startDaemon(options());
    ASSERT_TRUE(pumpUntil(io, [&] { return daemon->exitCode().has_value(); }, 5s));
    EXPECT_EQ(*daemon->exitCode(), ExitCode::BmsLost);
    EXPECT_LT(Clock::now() - started, 1600ms);
    EXPECT_EQ(daemon->service(), nullptr) << "never on D-Bus";
}

TEST_F(DaemonTest, MissingPortIsAStartError) {
    auto o = options();
    o.config.serial.port = link + "-missing";
    daemon = std::make_unique<Daemon>(io, std::move(o));
    EXPECT_THROW(daemon->start(), std::system_error);
}

TEST_F(DaemonTest, SigtermReleasesTheNameAndStops) {
    startDaemon(options());
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    const auto sent = Clock::now();
    std::raise(SIGTERM);
    ASSERT_TRUE(pumpUntil(io, [&] { return io.stopped(); }, 2s));
    EXPECT_LT(Clock::now() - sent, 1s);
    EXPECT_EQ(*daemon->exitCode(), ExitCode::Stopped);
    io.restart();
    auto r = busctl(io, {"call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                         "NameHasOwner", "s", daemon->service()->busName()});
    EXPECT_EQ(r.out, "b false\n");
}

}  // namespace
}  // namespace jkbms::app

namespace jkbms::app {
namespace {

// JK-PB packs on one RS485 bus (a pty): one battery service per DIP address.
class PbDaemonTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        link = (std::filesystem::temp_directory_path() / ("jkbms-pb-" + std::to_string(::getpid()) + "-" + name)).string();
        one.setLive(false);
        one.state().currentA = -21.5;
        two.setLive(false);
        two.state().currentA = 3.25;
        two.state().serialNumber = "PACK2";
        responder.addPack(1, one);
        responder.addPack(2, two);
        pty = std::make_unique<sim::PtyServer>(io, responder, sim::PtyServer::Options{link, 400ms});
    }
    void TearDown() override {
        daemon.reset();
        pty.reset();
    }

    DaemonOptions options(std::vector<std::uint8_t> addresses) {
        DaemonOptions o;
        o.config.serial.port = link;
        o.config.serial.protocol = "pb";
        o.config.serial.addresses = std::move(addresses);
        o.config.poll.interval = 400ms;
        o.config.poll.timeout = 100ms;
        o.config.poll.pacing = 100ms;
        o.config.comms = domain::CommsTimes{1500ms, 3000ms, 0ms};
        o.config.dbus.address = PrivateBus::address();
        o.config.dbus.settingsWait = 100ms;
        o.config.charge.stateDir = "";
        o.version = "test";
        return o;
    }

    bool registered(std::uint8_t address) {
        auto* s = daemon->service(address);
        return s && s->state() == dbus::BatteryService::State::Registered;
    }
    bool valueIs(std::uint8_t address, std::string_view path, const dbus::Value& expected) {
        auto* s = daemon->service(address);
        const dbus::Item* item = s ? s->items().find(path) : nullptr;
        return item && item->value == expected;
    }

    boost::asio::io_context io;
    sim::SimulatedBms one{16};
    sim::SimulatedBms two{8};
    sim::PbResponder responder;
    std::unique_ptr<sim::PtyServer> pty;
    std::unique_ptr<Daemon> daemon;
    std::string link;
};

TEST_F(PbDaemonTest, TwoPacksTwoServices) {
    daemon = std::make_unique<Daemon>(io, options({1, 2}));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(1) && registered(2); }, 5s));
    const std::string tty = std::filesystem::path(link).filename().string();
    EXPECT_EQ(daemon->service(1)->busName(), "com.victronenergy.battery." + tty + "_1");
    EXPECT_EQ(daemon->service(2)->busName(), "com.victronenergy.battery." + tty + "_2");
    EXPECT_TRUE(valueIs(1, "/Dc/0/Current", dbus::Value{-21.5}));
    EXPECT_TRUE(valueIs(2, "/Dc/0/Current", dbus::Value{3.25}));
    EXPECT_TRUE(valueIs(2, "/System/NrOfCellsPerBattery", dbus::Value{std::int32_t{8}}));
    EXPECT_TRUE(valueIs(2, "/Serial", dbus::Value{std::string{"PACK2"}})) << "about is asked before cell info";
    EXPECT_TRUE(valueIs(1, "/DeviceInstance", dbus::Value{std::int32_t{1}}));
    EXPECT_TRUE(valueIs(2, "/DeviceInstance", dbus::Value{std::int32_t{2}}));
    EXPECT_TRUE(valueIs(2, "/Mgmt/Connection", dbus::Value{"RS485 " + tty + " address 2"}));
    auto r = busctl(io, {"call", daemon->service(2)->busName(), "/Dc/0/Current", "com.victronenergy.BusItem", "GetValue"});
    EXPECT_EQ(r.out, "v d 3.25\n");
    two.state().currentA = -8.0;
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs(2, "/Dc/0/Current", dbus::Value{-8.0}); }, 2s));
}

// On a JK-PB bus the write goes to its pack by FC16 before anything else queued, and a
// settings trigger reads the switches back.
TEST_F(PbDaemonTest, SwitchPathsWriteTheirOwnPack) {
    daemon = std::make_unique<Daemon>(io, options({1, 2}));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(1) && registered(2); }, 5s));
    EXPECT_TRUE(valueIs(2, "/Bms/DischargeSwitch", dbus::Value{std::int32_t{1}}));
    auto r = busctl(io, {"call", daemon->service(2)->busName(), "/Bms/DischargeSwitch", "com.victronenergy.BusItem",
                         "SetValue", "v", "i", "0"});
    EXPECT_EQ(r.out, "i 0\n");
    ASSERT_TRUE(pumpUntil(io, [&] { return !two.state().dischargeMos; }, 2s));
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs(2, "/Bms/DischargeSwitch", dbus::Value{std::int32_t{0}}); }, 2s));
    EXPECT_TRUE(one.state().dischargeMos) << "pack 1 untouched";
    EXPECT_TRUE(valueIs(1, "/Bms/DischargeSwitch", dbus::Value{std::int32_t{1}}));
    EXPECT_EQ(one.switchWrites(), 0u);
}

TEST_F(PbDaemonTest, DiscoversThePacksOnTheBus) {
    daemon = std::make_unique<Daemon>(io, options({}));
    daemon->start();
    // Packs that answer during discovery get their service at once; the list is final after 1..15.
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(1) && registered(2); }, 10s));
    ASSERT_TRUE(pumpUntil(io, [&] { return !daemon->pbPoller()->addresses().empty(); }, 10s));
    EXPECT_EQ(daemon->pbPoller()->addresses(), (std::vector<std::uint8_t>{1, 2}));
    two.state().currentA = 1.5;  // and polling goes on after discovery
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs(2, "/Dc/0/Current", dbus::Value{1.5}); }, 2s));
    EXPECT_EQ(daemon->service(3), nullptr);
}

// One pack's cable pulled: only its service goes stale and then lost; the other carries on.
TEST_F(PbDaemonTest, OneSilentPackDoesNotDisturbTheOther) {
    daemon = std::make_unique<Daemon>(io, options({1, 2}));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(1) && registered(2); }, 5s));
    responder.setSilent(2, true);
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs(2, "/Connected", dbus::Value{std::int32_t{0}}); }, 6s));
    EXPECT_TRUE(valueIs(2, "/Alarms/BmsCable", dbus::Value{std::int32_t{2}}));
    EXPECT_TRUE(valueIs(1, "/Connected", dbus::Value{std::int32_t{1}}));
    EXPECT_TRUE(valueIs(1, "/Alarms/BmsCable", dbus::Value{std::int32_t{0}}));
    responder.setSilent(2, false);
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs(2, "/Connected", dbus::Value{std::int32_t{1}}); }, 3s));
    EXPECT_FALSE(daemon->exitCode());
}

// Protocol auto (serial-starter starts us with no configuration): NW first, then JK-PB.
TEST_F(PbDaemonTest, AutoFindsJkPbAfterNw) {
    auto o = options({});
    o.config.serial.protocol = "auto";
    daemon = std::make_unique<Daemon>(io, std::move(o));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(1) && registered(2); }, 12s));
    EXPECT_NE(daemon->pbPoller(), nullptr);
}

TEST_F(PbDaemonTest, AutoWithNothingAnsweringExits) {
    responder.setSilent(1, true);
    responder.setSilent(2, true);
    auto o = options({});
    o.config.serial.protocol = "auto";
    const auto started = Clock::now();
    daemon = std::make_unique<Daemon>(io, std::move(o));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return daemon->exitCode().has_value(); }, 15s));
    EXPECT_EQ(*daemon->exitCode(), ExitCode::BmsLost);
    // 3 s of NW, then 15 addresses at (200 ms deadline + 100 ms pacing).
    EXPECT_LT(Clock::now() - started, 9s);
}

TEST_F(PbDaemonTest, NoPackAnsweringExitsForSerialStarter) {
    responder.setSilent(1, true);
    responder.setSilent(2, true);
    daemon = std::make_unique<Daemon>(io, options({1, 2}));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return daemon->exitCode().has_value(); }, 5s));
    EXPECT_EQ(*daemon->exitCode(), ExitCode::BmsLost);
    EXPECT_EQ(daemon->service(1), nullptr);
}

// The simulator's master (a JK-PB at address 0 polling the others and broadcasting): the
// daemon only listens, and publishes every pack it hears, the master's own included.
TEST_F(PbDaemonTest, ListensToASimulatedMaster) {
    sim::SimulatedBms master{16};
    master.setLive(false);
    master.state().currentA = 30.0;
    responder.setMasterPresent(true);
    sim::PbMaster bus(io, *pty, responder, master, 500ms);
    bus.start();
    daemon = std::make_unique<Daemon>(io, options({1, 2}));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(0) && registered(1) && registered(2); }, 5s));
    EXPECT_TRUE(daemon->pbPoller()->listening());
    EXPECT_TRUE(valueIs(0, "/Dc/0/Current", dbus::Value{30.0}));
    EXPECT_TRUE(valueIs(1, "/Dc/0/Current", dbus::Value{-21.5}));
    EXPECT_TRUE(valueIs(2, "/Dc/0/Current", dbus::Value{3.25}));
    EXPECT_EQ(pty->requests(), 0U) << "the slaves never answered the daemon";
}

// A BMS at address 0 is the bus master: the daemon stops sending and decodes what it hears.
TEST_F(PbDaemonTest, AnotherMasterOnTheBusMeansListenOnly) {
    daemon = std::make_unique<Daemon>(io, options({1, 2}));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(1) && registered(2); }, 5s));
    // The master's own request (an FC03 read we never send), then a slave's answer to it.
    pty->inject(std::vector<std::uint8_t>{0x02, 0x03, 0x12, 0x90, 0x00, 0x02, 0xC1, 0x6D});
    ASSERT_TRUE(pumpUntil(io, [&] { return daemon->pbPoller()->listening(); }, 2s));
    const auto requestsBefore = pty->requests();
    two.state().currentA = 11.0;
    pty->inject(responder.answerFor(2, codec::pb::Trigger::CellInfo));
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs(2, "/Dc/0/Current", dbus::Value{11.0}); }, 2s));
    // Nothing more is sent: a pump of a whole poll interval brings no new request.
    const auto until = Clock::now() + 600ms;
    pumpUntil(io, [&] { return Clock::now() >= until; }, 1s);
    EXPECT_EQ(pty->requests(), requestsBefore);
}

}  // namespace
}  // namespace jkbms::app

namespace jkbms::app {
namespace {

// The charge state across restarts. Each run is one daemon "process": its own io_context,
// BMS (all cells at `cellV`) and daemon (a daemon is never destroyed while its io_context
// runs on); with `kept` also its own localsettings, preset with what the previous run stored
// and saved back into `kept` at the end.
class ChargeStateTest : public DaemonTest {
protected:
    using Check = std::function<void(boost::asio::io_context&, Daemon&, test::FakeSettings*)>;

    void SetUp() override {
        DaemonTest::SetUp();
        pty.reset();  // these tests play the BMS themselves, once per run
        dir = std::filesystem::temp_directory_path() / ("jkbms-state-" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir);
    }
    void TearDown() override {
        std::filesystem::remove_all(dir);
        DaemonTest::TearDown();
    }

    void runOnce(const DaemonOptions& o, double cellV, std::map<std::string, std::string>* kept, const Check& check) {
        boost::asio::io_context runIo;
        std::optional<test::FakeSettings> settings;
        if (kept) {
            settings.emplace(runIo, PrivateBus::address());
            for (const auto& [path, value] : *kept) settings->preset(path, value);
        }
        sim::SimulatedBms battery{16};
        battery.setLive(false);
        battery.state().cellsV.assign(16, cellV);
        sim::NwResponder nw{battery};
        sim::PtyServer port(runIo, nw, sim::PtyServer::Options{link, 400ms});
        Daemon d(runIo, o);
        d.start();
        ASSERT_TRUE(pumpUntil(runIo, [&] {
            return d.service() && d.service()->state() == dbus::BatteryService::State::Registered;
        }, 5s));
        EXPECT_EQ(d.service()->instancePersisted(), kept != nullptr);
        check(runIo, d, settings ? &*settings : nullptr);
        if (kept) *kept = settings->values();
    }

    static std::string modeOf(Daemon& d) {
        const dbus::Item* item = d.service()->items().find("/Info/ChargeMode");
        return item && std::holds_alternative<std::string>(item->value) ? std::get<std::string>(item->value) : "";
    }

    std::filesystem::path dir;
};

// Without localsettings: a state file per BMS, written on each mode change.
TEST_F(ChargeStateTest, KeptInAFileWithoutLocalsettings) {
    auto o = options();
    o.config.charge.stateDir = dir.string();
    std::string statePath;
    // At the target: Bulk -> Absorption at once.
    runOnce(o, 3.445, nullptr, [&](boost::asio::io_context& runIo, Daemon& d, test::FakeSettings*) {
        statePath = (dir / (d.service()->busName() + ".state")).string();
        ASSERT_TRUE(pumpUntil(runIo, [&] { return std::filesystem::exists(statePath); }, 2s));
        std::ifstream in(statePath);
        std::string first;
        std::getline(in, first);
        EXPECT_EQ(first, "mode=Absorption");
        EXPECT_TRUE(modeOf(d).starts_with("Absorption")) << modeOf(d);
    });
    // A new daemon on the same BMS starts in Absorption, not in Bulk: it says so at once,
    // with cells a fresh engine would leave in Bulk.
    runOnce(o, 3.30, nullptr, [&](boost::asio::io_context&, Daemon& d, test::FakeSettings*) {
        EXPECT_TRUE(modeOf(d).starts_with("Absorption")) << modeOf(d);
    });
}

// With localsettings on the bus the charge state is kept there (one line under the BMS's
// /Settings/Devices entry), not in a file; a new daemon reads it back before it claims its
// name.
TEST_F(ChargeStateTest, KeptInLocalsettings) {
    auto o = options();
    o.config.charge.stateDir = dir.string();  // the fallback: must stay unused
    o.config.dbus.settingsWait = 5000ms;
    std::map<std::string, std::string> kept;
    auto chargeState = [](const test::FakeSettings& s) {
        for (const auto& [path, value] : s.values())
            if (path.ends_with("/ChargeState")) return value;
        return std::string{"(no setting)"};
    };
    runOnce(o, 3.445, &kept, [&](boost::asio::io_context& runIo, Daemon& d, test::FakeSettings* s) {
        ASSERT_TRUE(pumpUntil(runIo, [&] { return chargeState(*s).starts_with("mode=Absorption;"); }, 2s))
            << chargeState(*s);
        EXPECT_TRUE(modeOf(d).starts_with("Absorption")) << modeOf(d);
    });
    EXPECT_FALSE(std::filesystem::exists(dir)) << "no state file while localsettings keeps it";
    runOnce(o, 3.30, &kept, [&](boost::asio::io_context&, Daemon& d, test::FakeSettings*) {
        EXPECT_TRUE(modeOf(d).starts_with("Absorption")) << "restored before the name was claimed: " << modeOf(d);
    });
}

TEST_F(DaemonTest, AutoFindsAnNwBms) {
    auto o = options();
    o.config.serial.protocol = "auto";
    startDaemon(std::move(o));
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    EXPECT_EQ(daemon->pbPoller(), nullptr) << "NW answered: JK-PB never tried";
}

}  // namespace
}  // namespace jkbms::app

// The display-port relay (issue: switch the BMS on and off, wake it when it sleeps): the
// simulated BMS falls asleep (answers nothing) and wakes on a press of its button, as a real
// one does; the relay is a GX relay on the private bus, the simulator's button, or a relay
// wired to nothing.
namespace jkbms::app {
namespace {

using test::FakeGx;
using test::ToolResult;

struct Edge {
    bool closed;
    Clock::time_point at;
};

// A relay whose contact is wired to nothing: it records, the BMS never sees it.
class LooseRelay final : public power::Relay {
public:
    explicit LooseRelay(std::vector<Edge>& edges) : edges_(edges) {}
    void set(bool closed) override { edges_.push_back({closed, Clock::now()}); }
    std::string describe() const override { return "a relay wired to nothing"; }

private:
    std::vector<Edge>& edges_;
};

class DaemonPowerTest : public DaemonTest {
protected:
    DaemonOptions powerOptions(std::chrono::milliseconds exitAfter) {
        auto o = options(exitAfter);
        // Long enough for the simulated BMS (on from 500 ms, off from 2500 ms).
        o.config.relay.press = power::PressTimes{600ms, 2600ms, 300ms};
        o.config.relay.wake = power::WakeTimes{3, 500ms, 1000ms, 2};
        return o;
    }
    void withButton(DaemonOptions& o) {
        o.relay = [this] { return std::make_unique<sim::SimulatedButton>(bms); };
    }
    ToolResult call(const std::string& path, std::vector<std::string> method) {
        std::vector<std::string> args{"call", daemon->service()->busName(), path, "com.victronenergy.BusItem"};
        args.insert(args.end(), method.begin(), method.end());
        return busctl(io, args);
    }
    bool powerIs(std::int32_t on, const std::string& text) {
        const dbus::Item* item = daemon->service() ? daemon->service()->items().find("/Bms/Power") : nullptr;
        return item && item->value == dbus::Value{on} && item->text == text;
    }
};

// End to end with Venus's relay: the BMS falls asleep, the daemon writes the GX relay on
// D-Bus (com.victronenergy.system), the relay presses the BMS's button, values come back.
TEST_F(DaemonPowerTest, WakesASleepingBmsThroughTheGxRelay) {
    FakeGx gx(io, PrivateBus::address());
    gx.onWrite = [&](int relay, bool closed) {
        if (relay == 0) bms.setButton(closed, Clock::now());
    };
    auto o = powerOptions(6000ms);
    o.config.relay.type = "venus";
    startDaemon(std::move(o));
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    ASSERT_TRUE(powerIs(1, "on"));
    bms.setPowered(false);
    bms.state().currentA = 3.25;
    const auto asleep = Clock::now();
    ASSERT_TRUE(pumpUntil(io, [&] { return bms.powered(); }, 4s)) << "woken by the relay";
    EXPECT_GE(Clock::now() - asleep, 1100ms) << "not before 500 ms of silence, plus the 600 ms press";
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/Dc/0/Current", dbus::Value{3.25}); }, 2s));
    EXPECT_TRUE(valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{0}}));
    EXPECT_TRUE(powerIs(1, "on"));
    const std::vector<std::pair<int, bool>> pressed{{0, true}, {0, false}};
    EXPECT_EQ(gx.writes, pressed) << "one on press, released";
    EXPECT_EQ(daemon->power()->wakeAttempts(), 0) << "a reading ends the series";
    EXPECT_FALSE(daemon->exitCode());
}

// A BMS that does not wake: the configured number of on presses (never off), with backoff,
// then the daemon gives up as before (exit for the supervisor) with the contact open.
TEST_F(DaemonPowerTest, GivesUpAfterTheWakeAttempts) {
    std::vector<Edge> edges;
    auto o = powerOptions(3500ms);
    o.config.relay.wake = power::WakeTimes{2, 300ms, 1000ms, 2};
    o.relay = [&] { return std::make_unique<LooseRelay>(edges); };
    startDaemon(std::move(o));
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    bms.setPowered(false);
    ASSERT_TRUE(pumpUntil(io, [&] { return daemon->exitCode().has_value(); }, 6s));
    EXPECT_EQ(*daemon->exitCode(), ExitCode::BmsLost);
    // Close, open, close, open; then the release at exit (opening an open contact).
    ASSERT_EQ(edges.size(), 5u);
    EXPECT_FALSE(edges.back().closed);
    for (std::size_t i = 0; i < 4; i += 2) {
        EXPECT_TRUE(edges[i].closed);
        EXPECT_FALSE(edges[i + 1].closed);
        const auto held = edges[i + 1].at - edges[i].at;
        EXPECT_GE(held, 600ms) << "an on press";
        EXPECT_LT(held, 1500ms) << "never an off press";
    }
    EXPECT_GE(edges[2].at - edges[0].at, 1000ms) << "the interval";
}

// /Bms/Power from outside (busctl, as the GUI or `jkbms power` would write it): 0 switches
// the BMS off with a long press; the daemon then stays on the bus past exit_after (so the BMS
// can be switched on again) and does not wake it; 1 switches it on.
TEST_F(DaemonPowerTest, PowerPathSwitchesTheBmsOffAndOn) {
    auto o = powerOptions(2500ms);
    withButton(o);
    startDaemon(std::move(o));
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    EXPECT_EQ(call("/Bms/Power", {"GetValue"}).out, "v i 1\n");
    EXPECT_EQ(call("/Bms/Power", {"SetValue", "v", "i", "2"}).out, "i 1\n") << "0 or 1 only";
    EXPECT_EQ(call("/Bms/Power", {"SetValue", "v", "s", "off"}).out, "i 1\n");

    EXPECT_EQ(call("/Bms/Power", {"SetValue", "v", "i", "0"}).out, "i 0\n");
    EXPECT_EQ(call("/Bms/Power", {"GetText"}).out, "s \"switching off\"\n");
    EXPECT_EQ(call("/Bms/Power", {"SetValue", "v", "i", "1"}).out, "i 2\n") << "refused while a press runs";
    ASSERT_TRUE(pumpUntil(io, [&] { return !bms.powered(); }, 4s));
    EXPECT_TRUE(pumpUntil(io, [&] { return powerIs(0, "off"); }, 1s));
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Connected", dbus::Value{std::int32_t{0}}); }, 4s));
    // Past exit_after (2.5 s of silence): still here, and no wake press.
    const auto until = Clock::now() + 1500ms;
    pumpUntil(io, [&] { return Clock::now() >= until; }, 2s);
    EXPECT_FALSE(daemon->exitCode());
    EXPECT_FALSE(bms.powered());
    EXPECT_EQ(bms.buttonPresses(), 1u);

    bms.state().currentA = 4.5;
    EXPECT_EQ(call("/Bms/Power", {"SetValue", "v", "i", "1"}).out, "i 0\n");
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Dc/0/Current", dbus::Value{4.5}); }, 3s));
    EXPECT_TRUE(powerIs(1, "on")) << call("/Bms/Power", {"GetText"}).out;
    EXPECT_EQ(bms.buttonPresses(), 2u);
}

// ensure_on_at_start: a BMS that is off when the daemon starts gets one on press, then the
// whole start probe; without it, the daemon exits for serial-starter (tested above).
TEST_F(DaemonPowerTest, EnsureOnAtStartSwitchesTheBmsOn) {
    bms.setPowered(false);
    auto o = powerOptions(0ms);
    o.config.relay.ensureOnAtStart = true;
    withButton(o);
    startDaemon(std::move(o));
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    EXPECT_TRUE(bms.powered());
    EXPECT_EQ(bms.buttonPresses(), 1u);
}

// `jkbms power` finds the one battery with /Bms/Power and presses through it; --wait
// returns once the BMS is there.
TEST_F(DaemonPowerTest, CliPressesThroughTheDaemon) {
    const std::vector<std::string> cli{JKBMS_CLI, "power", "--dbus-address", PrivateBus::address()};
    auto run = [&](std::vector<std::string> more) {
        auto argv = cli;
        argv.insert(argv.end(), more.begin(), more.end());
        return test::runTool(io, argv, 15s);
    };
    auto none = run({"on"});
    EXPECT_EQ(none.exitCode, 1);
    EXPECT_NE(none.err.find("no battery on D-Bus has /Bms/Power"), std::string::npos) << none.err;
    EXPECT_EQ(run({"sideways"}).exitCode, 2);

    auto o = powerOptions(0ms);
    withButton(o);
    startDaemon(std::move(o));
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(); }, 5s));
    const std::string name = daemon->service()->busName();
    auto off = run({"off", "--wait"});
    EXPECT_EQ(off.exitCode, 0) << off.err;
    EXPECT_EQ(off.out, name + ": switching off\n" + name + ": off\n");
    EXPECT_FALSE(bms.powered());

    const std::string suffix = name.substr(std::string{"com.victronenergy.battery."}.size());
    auto on = run({"on", "--service", suffix});
    EXPECT_EQ(on.exitCode, 0) << on.err;
    EXPECT_EQ(on.out, name + ": pressing on\n");
    auto again = run({"off", "--service", name});  // the on press still runs
    EXPECT_EQ(again.exitCode, 1);
    EXPECT_NE(again.err.find("refused the off press (the button: pressing on)"), std::string::npos) << again.err;
    EXPECT_TRUE(pumpUntil(io, [&] { return bms.powered() && powerIs(1, "on"); }, 3s));
}

// A relay that cannot be set up is a start-up error naming it.
TEST_F(DaemonPowerTest, ARelayThatCannotBeSetUpIsAStartError) {
    auto o = options();
    o.config.relay.type = "gpio";
    o.config.relay.chip = "no-such-gpiochip";
    o.config.relay.offset = 3;
    daemon = std::make_unique<Daemon>(io, std::move(o));
    try {
        daemon->start();
        FAIL() << "expected a StartError";
    } catch (const StartError& e) {
        EXPECT_EQ(e.code, ExitCode::RelayFailed);
        EXPECT_NE(std::string{e.what()}.find("GPIO relay on no-such-gpiochip line 3: cannot open the GPIO chip"),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace jkbms::app
