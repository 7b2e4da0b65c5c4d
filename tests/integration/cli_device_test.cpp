// The jkbms device commands end to end, in process: the simulator on a real pty (NW, JK-PB
// packs on a bus, a bus master) and a fake BlueZ on the private bus, all on the io_context the
// commands pump. Output is checked as a person sees it, and --json is parsed.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <sstream>
#include <unistd.h>

#include "fakes/fake_bluez.hpp"
#include "integration/harness.hpp"
#include "jkbms/cli/device_commands.hpp"
#include "jkbms/sim/pb_master.hpp"
#include "jkbms/sim/pty_server.hpp"

namespace jkbms::cli {
namespace {

using namespace std::chrono_literals;
using test::FakeBluez;
using test::PrivateBus;

constexpr const char* kMac = "C8:47:8C:00:00:01";

struct Outcome {
    int code = -1;
    std::string out, err;
};

class CliDeviceTest : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        link = (std::filesystem::temp_directory_path() / ("jkbms-cli-" + std::to_string(::getpid()) + "-" + name)).string();
        bms.setLive(false);
        bms.state().currentA = -12.34;
        bms.state().cellsV[4] = 3.280;
        one.setLive(false);
        three.setLive(false);
        three.state().serialNumber = "PACK3";
        three.state().socPercent = 81;
        bus.addPack(1, one);
        bus.addPack(3, three);
    }

    void serveNw() { pty = std::make_unique<sim::PtyServer>(io, nw, sim::PtyServer::Options{link, 400ms}); }
    void servePb() { pty = std::make_unique<sim::PtyServer>(io, bus, sim::PtyServer::Options{link, 400ms}); }

    Outcome run(int (*command)(std::span<const std::string_view>, CliContext&), std::vector<std::string> args) {
        std::ostringstream out, err;
        CliContext ctx{io, out, err};
        std::vector<std::string_view> views(args.begin(), args.end());
        Outcome r;
        r.code = command(views, ctx);
        r.out = out.str();
        r.err = err.str();
        return r;
    }

    boost::asio::io_context io;
    std::string link;
    sim::SimulatedBms bms{16};
    sim::NwResponder nw{bms};
    sim::SimulatedBms one{16};
    sim::SimulatedBms three{8};
    sim::PbResponder bus;
    std::unique_ptr<sim::PtyServer> pty;
};

TEST_F(CliDeviceTest, ReadsAnNwBmsAsATableAndAsJson) {
    serveNw();
    auto r = run(runRead, {"--serial", link});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("JK_B2A24S15P (NW), NW on " + link), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("hardware 11.XW  software 11.48"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("-12.34 A"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("min 3.280 V (#5)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("cell over-voltage protection"), std::string::npos) << r.out;

    r = run(runRead, {"--serial", link, "--protocol", "nw", "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const YAML::Node j = YAML::Load(r.out);
    EXPECT_EQ(j["protocol"].as<std::string>(), "nw");
    EXPECT_EQ(j["identity"]["model"].as<std::string>(), "JK_B2A24S15P");
    EXPECT_EQ(j["cells"]["voltages_v"].size(), 16U);
    EXPECT_DOUBLE_EQ(j["cells"]["min_v"].as<double>(), 3.280);
    EXPECT_EQ(j["cells"]["min_cell"].as<int>(), 5);
    EXPECT_DOUBLE_EQ(j["pack"]["current_a"].as<double>(), -12.34);
    EXPECT_TRUE(j["switches"]["charge"].as<bool>());
    EXPECT_EQ(j["alarms"].size(), 0U);
    EXPECT_DOUBLE_EQ(j["settings"]["cell_ovp_v"].as<double>(), 3.65);
}

// Behind an adapter that echoes: the echo of the read-all is no reading, the BMS's reply is
// (issue 14 item 1, as in the daemon).
TEST_F(CliDeviceTest, AnEchoingAdapterIsNoReading) {
    serveNw();
    pty->setEcho(true);
    pty->setFault(sim::Fault::Late);  // the echo at once, the reply 400 ms later: two reads
    auto r = run(runRead, {"--serial", link, "--protocol", "nw", "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const YAML::Node j = YAML::Load(r.out);
    EXPECT_EQ(j["cells"]["voltages_v"].size(), 16U) << r.out;
    EXPECT_DOUBLE_EQ(j["pack"]["current_a"].as<double>(), -12.34);
}

TEST_F(CliDeviceTest, ReadsAJkPbPackByAddress) {
    servePb();
    // No protocol said: NW is tried first (no answer), then JK-PB at the address.
    auto r = run(runRead, {"--serial", link, "--json", "--timeout", "300ms"});
    EXPECT_EQ(r.code, 0) << r.err;
    r = run(runRead, {"--serial", link, "--address", "3", "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const YAML::Node j = YAML::Load(r.out);
    EXPECT_EQ(j["protocol"].as<std::string>(), "pb");
    EXPECT_EQ(j["link"].as<std::string>(), "JK-PB #3 on " + link);
    EXPECT_EQ(j["identity"]["serial_number"].as<std::string>(), "PACK3") << "about is asked";
    EXPECT_EQ(j["identity"]["variant"].as<std::string>(), "JK02_32S");
    EXPECT_EQ(j["cells"]["voltages_v"].size(), 8U);
    EXPECT_DOUBLE_EQ(j["pack"]["soc_percent"].as<double>(), 81);
    EXPECT_TRUE(j["switches"]["discharge"].as<bool>()) << "settings are read";
}

TEST_F(CliDeviceTest, ADeviceThatDoesNotAnswerSaysWhatWasTried) {
    serveNw();
    pty->setFault(sim::Fault::Silence);
    auto r = run(runRead, {"--serial", link, "--timeout", "200ms"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "jkbms read: no answer on " + link +
                         ": tried NW (read-all, 115200 baud, 200 ms) and JK-PB address 1 (cell-info trigger, 2 x 200 ms); "
                         "see jkbms scan --serial " + link + "\n");
    r = run(runRead, {"--serial", link + ".missing"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, "jkbms read: cannot open " + link + ".missing: No such file or directory\n");
    r = run(runRead, {"--serial"});
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err, "jkbms read: --serial needs a value (see jkbms read --help)\n");
    r = run(runRead, {"--help"});
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("examples:"), std::string::npos);
}

TEST_F(CliDeviceTest, SwitchesOverNwAndReadsBack) {
    serveNw();
    auto r = run(runSwitch, {"charge", "off", "--serial", link});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "NW on " + link + ": charge switch on -> off\n");
    EXPECT_FALSE(bms.state().chargeMos);
    // v11 firmware answers a balancer write but ignores it: the read-back tells.
    r = run(runSwitch, {"balance", "off", "--serial", link, "--json"});
    EXPECT_EQ(r.code, 1);
    const YAML::Node j = YAML::Load(r.out);
    EXPECT_FALSE(j["accepted"].as<bool>());
    EXPECT_TRUE(j["after"].as<bool>());
    EXPECT_EQ(r.err, "jkbms switch: the BMS did not take it: the balance switch reads back on (NW firmware v11 ignores balance writes)\n");
    EXPECT_EQ(bms.switchWrites(), 2U);
}

TEST_F(CliDeviceTest, SwitchesOneJkPbPack) {
    servePb();
    auto r = run(runSwitch, {"discharge", "off", "--serial", link, "--address", "3"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "JK-PB #3 on " + link + ": discharge switch on -> off\n");
    EXPECT_FALSE(three.state().dischargeMos);
    EXPECT_TRUE(one.state().dischargeMos);
    r = run(runSwitch, {"discharge", "on", "--serial", link, "--address", "2", "--timeout", "200ms"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("no answer from JK-PB address 2"), std::string::npos) << r.err;
}

TEST_F(CliDeviceTest, ScansASerialPort) {
    servePb();
    auto r = run(runScan, {"--serial", link, "--timeout", "100ms"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, link + ": JK-PB (RS485), 2 packs\n"
                     "  address 1: JK_PB2A16S15P, software 15.38, 16 cells, 52.80 V, SoC 60 %\n"
                     "  address 3: JK_PB2A16S15P, software 15.38, 8 cells, 26.40 V, SoC 81 %\n");
    pty.reset();
    serveNw();
    r = run(runScan, {"--serial", link, "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const YAML::Node j = YAML::Load(r.out);
    EXPECT_EQ(j["nw"]["identity"]["model"].as<std::string>(), "JK_B2A24S15P");
    EXPECT_EQ(j["pb"].size(), 0U);
    pty->setFault(sim::Fault::Silence);
    r = run(runScan, {"--serial", link, "--timeout", "50ms"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("nothing answered on " + link), std::string::npos) << r.err;
}

TEST_F(CliDeviceTest, ScanSendsNothingOnABusWithAMaster) {
    servePb();
    sim::SimulatedBms master{16};
    bus.setMasterPresent(true);
    sim::PbMaster pbMaster(io, *pty, bus, master, 200ms);
    pbMaster.start();
    const auto requests = pty->requests();
    auto r = run(runScan, {"--serial", link});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("something else is polling this bus"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Nothing was sent."), std::string::npos) << r.out;
    EXPECT_EQ(pty->requests(), requests) << "we only listened";
}

TEST_F(CliDeviceTest, WatchPrintsOneLinePerReadingWhenNotATerminal) {
    serveNw();
    auto r = run(runWatch, {"--serial", link, "--count", "3", "--interval", "100ms"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;
    EXPECT_NE(r.out.find("52.78 V -12.34 A"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("cells 3.280-3.300 V (20 mV)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" CVL "), std::string::npos) << "the limits dbus-jkbms would set";
}

TEST_F(CliDeviceTest, WatchDrawsTheDashboardOnATerminal) {
    serveNw();
    std::ostringstream out, err;
    CliContext ctx{io, out, err};
    ctx.terminal = true;
    ctx.screen = [] { return Screen{80, 24, false}; };
    const std::vector<std::string> args{"--serial", link, "--count", "1"};
    std::vector<std::string_view> views(args.begin(), args.end());
    ASSERT_EQ(runWatch(views, ctx), 0) << err.str();
    const std::string screen = out.str();
    EXPECT_TRUE(screen.starts_with("\x1b[?25l\x1b[2J\x1b[H")) << "cursor hidden, screen cleared";
    EXPECT_NE(screen.find("JK_B2A24S15P - NW on " + link), std::string::npos);
    EXPECT_NE(screen.find(" 5 3.280 "), std::string::npos);
    EXPECT_EQ(std::count(screen.begin(), screen.end(), '\n'), 24) << "24 lines and the one after";
    EXPECT_TRUE(screen.ends_with("\x1b[?25h\n")) << "the cursor comes back";
}

class CliBleTest : public CliDeviceTest {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        CliDeviceTest::SetUp();
        one.state().serialNumber = "BLE123";
        FakeBluez::Frames frames{[this] { return vec(one.jk02DeviceInfoFrame(counter++)); },
                                 [this] { return vec(one.jk02SettingsFrame(counter++, 0)); },
                                 [this] { return vec(one.jk02CellInfoFrame(counter++)); },
                                 [this](const codec::ble::DecodedCommand& c) {
                                     using S = sim::SimulatedBms::Switch;
                                     one.countSwitchWrite();
                                     if (c.reg == codec::ble::reg::kChargeSwitch) one.setSwitch(S::Charge, c.value != 0);
                                     if (c.reg == codec::ble::reg::kDischargeSwitch) one.setSwitch(S::Discharge, c.value != 0);
                                     if (c.reg == codec::ble::reg::kBalancerSwitch) one.setSwitch(S::Balancer, c.value != 0);
                                 }};
        bluez = std::make_unique<FakeBluez>(io, PrivateBus::address(), kMac, std::move(frames), true, 200ms);
    }
    void TearDown() override { bluez.reset(); }
    static FakeBluez::Frame vec(const std::array<std::uint8_t, 300>& a) { return {a.begin(), a.end()}; }

    std::unique_ptr<FakeBluez> bluez;
    std::uint8_t counter = 0;
};

TEST_F(CliBleTest, ReadsOverBleAndLetsTheConnectionGo) {
    auto r = run(runRead, {"--ble", kMac, "--dbus-address", PrivateBus::address(), "--json", "--timeout", "5s"});
    ASSERT_EQ(r.code, 0) << r.err;
    const YAML::Node j = YAML::Load(r.out);
    EXPECT_EQ(j["protocol"].as<std::string>(), "ble");
    EXPECT_EQ(j["identity"]["serial_number"].as<std::string>(), "BLE123");
    EXPECT_EQ(j["cells"]["voltages_v"].size(), 16U);
    EXPECT_TRUE(j["switches"]["charge"].as<bool>());
    EXPECT_TRUE(test::pumpUntil(io, [&] { return !bluez->connected(); }, 2s)) << "disconnected at the end";
}

TEST_F(CliBleTest, SwitchesOverBle) {
    auto r = run(runSwitch, {"charge", "off", "--ble", kMac, "--dbus-address", PrivateBus::address()});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, std::string{"BLE "} + kMac + ": charge switch on -> off\n");
    EXPECT_FALSE(one.state().chargeMos);
    EXPECT_EQ(one.switchWrites(), 1U);
}

TEST_F(CliBleTest, ScanListsTheJkDevicesBluezSees) {
    bluez->addOtherDevice("AA:BB:CC:DD:EE:FF", "Someone's headphones", -40);
    bluez->addOtherDevice("20:21:11:00:00:02", "JK-PB2A16S20P-06", -81);
    auto r = run(runScan, {"--ble", "--time", "200ms", "--dbus-address", PrivateBus::address()});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, std::string{"JK_B2A8S20P           "} + kMac + "  -67 dBm\n" +
                         "JK-PB2A16S20P-06      20:21:11:00:00:02  -81 dBm\n");
    EXPECT_TRUE(bluez->discoveries() >= 1);
    EXPECT_FALSE(bluez->discovering()) << "discovery stopped again";
    r = run(runScan, {"--ble", "--time", "100ms", "--adapter", "hci1", "--dbus-address", PrivateBus::address()});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("BlueZ (hci1)"), std::string::npos) << r.err;
}

TEST_F(CliBleTest, ABleDeviceThatIsNotThereTimesOut) {
    auto r = run(runRead, {"--ble", "C8:47:8C:00:00:99", "--dbus-address", PrivateBus::address(), "--timeout", "500ms"});
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(r.err.starts_with("jkbms read: BLE C8:47:8C:00:00:99 not connected within 500 ms")) << r.err;
}

}  // namespace
}  // namespace jkbms::cli
