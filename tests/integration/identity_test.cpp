// Issue 15 end to end: a battery is the battery, whatever port it is plugged into. Simulated
// BMSes on ptys, daemons on a private dbus-daemon with the fake localsettings; each "boot" is
// its own io_context, localsettings (preset with what the previous boot stored) and daemons.
// Nothing sleeps: the loop is pumped until a condition holds.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fakes/fake_settings.hpp"
#include "integration/harness.hpp"
#include "jkbms/app/daemon.hpp"
#include "jkbms/sim/pb_master.hpp"

namespace jkbms::app {
namespace {

using test::busctl;
using test::PrivateBus;
using test::pumpUntil;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The log of one test, whatever way it ends.
class LogCapture {
public:
    LogCapture() {
        spdlog::set_default_logger(
            std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_st>(log_)));
    }
    ~LogCapture() { spdlog::set_default_logger(previous_); }
    bool has(std::string_view text) const { return log_.str().find(text) != std::string::npos; }
    std::string text() const { return log_.str(); }

private:
    std::shared_ptr<spdlog::logger> previous_ = spdlog::default_logger();
    std::ostringstream log_;
};

std::string tty(const std::string& link) { return std::filesystem::path(link).filename().string(); }
// What the daemon falls back to: the port, as before issue 15.
std::string portUid(const std::string& place) { return domain::placeKey(place, "").uid; }

const dbus::Item* item(const Daemon& d, std::string_view path, std::uint8_t address = 0) {
    auto* s = d.service(address);
    return s ? s->items().find(path) : nullptr;
}
std::string text(const Daemon& d, std::string_view path, std::uint8_t address = 0) {
    const dbus::Item* i = item(d, path, address);
    return i && std::holds_alternative<std::string>(i->value) ? std::get<std::string>(i->value) : "(none)";
}
bool registered(const Daemon& d, std::uint8_t address = 0) {
    return d.service(address) && d.service(address)->state() == dbus::BatteryService::State::Registered;
}

struct NwBattery {
    std::string deviceId;  // NW id 0xB4
    double cellV;          // every cell
    std::uint32_t cycles = 12;  // the cycle count it reports (part of its fingerprint)
};

// Two NW BMSes on two ports, one daemon per port (as serial-starter runs them).
class NwIdentityTest : public ::testing::Test {
protected:
    using Check = std::function<void(boost::asio::io_context&, std::array<Daemon*, 2>, test::FakeSettings&)>;

    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        const auto base = std::filesystem::temp_directory_path() / ("jkbms-id-" + std::to_string(::getpid()) + "-" + name);
        links = {base.string() + "-a", base.string() + "-b"};
        dir = base.string() + "-state";
        std::filesystem::remove_all(dir);
    }
    void TearDown() override { std::filesystem::remove_all(dir); }

    DaemonOptions options(const std::string& link) {
        DaemonOptions o;
        o.config.serial.port = link;
        o.config.serial.protocol = "nw";
        o.config.poll.interval = 200ms;
        o.config.poll.timeout = 150ms;
        o.config.comms = domain::CommsTimes{1000ms, 2000ms, 0ms};
        o.config.dbus.address = PrivateBus::address();
        o.config.dbus.settingsWait = 5000ms;
        o.config.charge.stateDir = withStateDir ? dir : std::string{};  // "" = none
        o.version = "test";
        return o;
    }

    // One boot: `batteries[i]` on links[i]; localsettings preset with `kept`, saved back.
    void boot(const std::array<NwBattery, 2>& batteries, std::map<std::string, std::string>& kept, const Check& check) {
        boost::asio::io_context runIo;
        test::FakeSettings settings(runIo, PrivateBus::address());
        for (const auto& [path, value] : kept) settings.preset(path, value);
        std::vector<std::unique_ptr<sim::SimulatedBms>> bms;
        std::vector<std::unique_ptr<sim::NwResponder>> responders;
        std::vector<std::unique_ptr<sim::PtyServer>> ports;
        std::vector<std::unique_ptr<Daemon>> daemons;
        for (std::size_t i = 0; i < 2; ++i) {
            bms.push_back(std::make_unique<sim::SimulatedBms>(16));
            bms.back()->setLive(false);
            bms.back()->state().cellsV.assign(16, batteries[i].cellV);
            bms.back()->state().deviceId = batteries[i].deviceId;
            bms.back()->state().cycles = batteries[i].cycles;
            responders.push_back(std::make_unique<sim::NwResponder>(*bms.back()));
            ports.push_back(std::make_unique<sim::PtyServer>(runIo, *responders.back(),
                                                             sim::PtyServer::Options{links[i], 400ms}));
        }
        for (std::size_t i = 0; i < 2; ++i) {
            daemons.push_back(std::make_unique<Daemon>(runIo, options(links[i])));
            daemons.back()->start();
        }
        ASSERT_TRUE(pumpUntil(runIo, [&] { return registered(*daemons[0]) && registered(*daemons[1]); }, 10s));
        check(runIo, {daemons[0].get(), daemons[1].get()}, settings);
        kept = settings.values();
        daemons.clear();  // before the ports and localsettings they use
    }

    static std::string chargeState(const test::FakeSettings& s, const std::string& uid) {
        return s.value("/Settings/Devices/" + uid + "/ChargeState").value_or("(no setting)");
    }

    std::array<std::string, 2> links;
    std::string dir;
    bool withStateDir = true;
};

// Two JKs whose ports swap at boot: instance, name and charge state stay with the battery.
TEST_F(NwIdentityTest, SwappedBatteriesKeepInstanceNameAndState) {
    std::map<std::string, std::string> kept;
    std::int32_t instanceA = -1, instanceB = -1;
    // PackA at its target (Absorption at once) on port a, PackB in Bulk on port b.
    boot({NwBattery{"PackA", 3.445}, NwBattery{"PackB", 3.30}}, kept,
         [&](boost::asio::io_context& io, std::array<Daemon*, 2> d, test::FakeSettings& s) {
             EXPECT_EQ(d[0]->service()->uniqueId(), "jkbms_nw_PackA");
             EXPECT_EQ(d[1]->service()->uniqueId(), "jkbms_nw_PackB");
             instanceA = d[0]->service()->deviceInstance();
             instanceB = d[1]->service()->deviceInstance();
             EXPECT_NE(instanceA, instanceB);
             EXPECT_EQ(text(*d[0], "/ProductName"), "JK BMS (id 'PackA')");
             auto r = busctl(io, {"call", d[0]->service()->busName(), "/CustomName", "com.victronenergy.BusItem",
                                  "SetValue", "v", "s", "Alpha"});
             EXPECT_EQ(r.out, "i 0\n");
             EXPECT_TRUE(pumpUntil(io, [&] {
                 return s.value("/Settings/Devices/jkbms_nw_PackA/CustomName") == std::optional<std::string>{"Alpha"};
             }, 2s));
             EXPECT_TRUE(pumpUntil(io, [&] {
                 return chargeState(s, "jkbms_nw_PackA").starts_with("mode=Absorption;");
             }, 2s)) << chargeState(s, "jkbms_nw_PackA");
             EXPECT_NE(chargeState(s, "jkbms_nw_PackA").find("battery=jkbms_nw_PackA"), std::string::npos);
         });
    ASSERT_GE(instanceA, 0);
    // Swapped: PackB on port a, PackA on port b, both with cells a fresh engine leaves in Bulk.
    boot({NwBattery{"PackB", 3.30}, NwBattery{"PackA", 3.30}}, kept,
         [&](boost::asio::io_context&, std::array<Daemon*, 2> d, test::FakeSettings&) {
             EXPECT_EQ(d[1]->service()->deviceInstance(), instanceA) << "PackA's instance went with it";
             EXPECT_EQ(d[0]->service()->deviceInstance(), instanceB);
             EXPECT_EQ(text(*d[1], "/CustomName"), "Alpha");
             EXPECT_EQ(text(*d[0], "/CustomName"), "");
             EXPECT_TRUE(text(*d[1], "/Info/ChargeMode").starts_with("Absorption")) << text(*d[1], "/Info/ChargeMode");
             EXPECT_TRUE(text(*d[0], "/Info/ChargeMode").starts_with("Bulk")) << text(*d[0], "/Info/ChargeMode");
         });
}

// Many boards keep the factory defaults: both are keyed by their port, and the log says so.
TEST_F(NwIdentityTest, FactoryDefaultIdsFallBackToThePort) {
    LogCapture log;
    std::map<std::string, std::string> kept;
    boot({NwBattery{"Input Us", 3.30}, NwBattery{"", 3.30}}, kept,
         [&](boost::asio::io_context&, std::array<Daemon*, 2> d, test::FakeSettings& s) {
             EXPECT_EQ(d[0]->service()->uniqueId(), portUid(tty(links[0])));
             EXPECT_EQ(d[1]->service()->uniqueId(), portUid(tty(links[1])));
             EXPECT_NE(d[0]->service()->deviceInstance(), d[1]->service()->deviceInstance());
             EXPECT_TRUE(s.value("/Settings/Devices/" + portUid(tty(links[1])) + "/ClassAndVrmInstance"));
             EXPECT_EQ(text(*d[0], "/ProductName"), "JK BMS (" + tty(links[0]) + ")");
             EXPECT_EQ(text(*d[1], "/ProductName"), "JK BMS (" + tty(links[1]) + ")");
         });
    EXPECT_TRUE(log.has("battery keyed by port " + tty(links[0]))) << log.text();
    EXPECT_TRUE(log.has("is empty or a factory default")) << log.text();
}

// Two boards reporting the same (user-set) id: neither keeps it, both are keyed by their
// ports, with a line in the log - never one setting shared by two batteries.
TEST_F(NwIdentityTest, IdenticalIdsFallBackToThePort) {
    LogCapture log;
    std::map<std::string, std::string> kept;
    boot({NwBattery{"SAME", 3.30}, NwBattery{"SAME", 3.30}}, kept,
         [&](boost::asio::io_context& io, std::array<Daemon*, 2> d, test::FakeSettings&) {
             // The second claimant falls back at once and tells the holder, which gives the id
             // up too: both keyed by their ports in this run already.
             ASSERT_TRUE(pumpUntil(io, [&] {
                 return registered(*d[0]) && registered(*d[1]) &&
                        d[0]->service()->uniqueId() == portUid(tty(links[0])) &&
                        d[1]->service()->uniqueId() == portUid(tty(links[1]));
             }, 10s)) << log.text();
             EXPECT_NE(d[0]->service()->deviceInstance(), d[1]->service()->deviceInstance());
         });
    EXPECT_TRUE(log.has("another BMS on this GX reports the same id (jkbms_nw_SAME)")) << log.text();
    // Issue 15 H1: the shared id is recorded; at the next start both are keyed by their ports,
    // whichever starts first (here the boards are swapped between the ports).
    EXPECT_TRUE(std::filesystem::exists(dir + "/jkbms_nw_SAME.duplicate"));
    boot({NwBattery{"SAME", 3.30, 7}, NwBattery{"SAME", 3.30, 9}}, kept,
         [&](boost::asio::io_context&, std::array<Daemon*, 2> d, test::FakeSettings&) {
             EXPECT_EQ(d[0]->service()->uniqueId(), portUid(tty(links[0])));
             EXPECT_EQ(d[1]->service()->uniqueId(), portUid(tty(links[1])));
             EXPECT_EQ(text(*d[0], "/ProductName"), "JK BMS (" + tty(links[0]) + ")");
         });
}

// Issue 15 H1, the first time: the holder of the shared id is told by the second claimant
// and gives the id up in the same run, so both batteries are keyed by their ports whatever
// the start order - also without a state dir (nothing recorded).
TEST_F(NwIdentityTest, TheHolderOfASharedIdGivesItUpAtOnce) {
    LogCapture log;
    withStateDir = false;
    std::map<std::string, std::string> kept;
    boot({NwBattery{"SAME", 3.30}, NwBattery{"SAME", 3.30}}, kept,
         [&](boost::asio::io_context& io, std::array<Daemon*, 2> d, test::FakeSettings&) {
             const auto byPorts = [&] {
                 return registered(*d[0]) && registered(*d[1]) &&
                        d[0]->service()->uniqueId() == portUid(tty(links[0])) &&
                        d[1]->service()->uniqueId() == portUid(tty(links[1]));
             };
             ASSERT_TRUE(pumpUntil(io, byPorts, 10s)) << log.text();
             EXPECT_NE(d[0]->service()->deviceInstance(), d[1]->service()->deviceInstance());
             EXPECT_EQ(text(*d[0], "/ProductName"), "JK BMS (" + tty(links[0]) + ")");
             EXPECT_EQ(text(*d[1], "/ProductName"), "JK BMS (" + tty(links[1]) + ")");
         });
    // One line from the second claimant, one from the holder as it gives the id up.
    EXPECT_TRUE(log.has("another BMS on this GX reports the same id (jkbms_nw_SAME): keyed by its port instead"))
        << log.text();
    EXPECT_FALSE(std::filesystem::exists(dir));
}

// A state kept for another battery (a setting or file copied over, a port swap before
// issue 15) is never restored: the battery starts in Bulk.
TEST_F(NwIdentityTest, TheStateOfAnotherBatteryIsNotRestored) {
    LogCapture log;
    const std::string other = "mode=Absorption;absorption_s=10;absorption_total_s=10;equalize_at=1700000000;battery=jkbms_nw_OTHER";
    std::map<std::string, std::string> kept{{"/Settings/Devices/" + portUid(tty(links[0])) + "/ChargeState", other}};
    // Port b: nothing in localsettings, a state file under its key that belongs to another.
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/" + portUid(tty(links[1])) + ".state") << "mode=Float\nbattery=jkbms_nw_OTHER\n";
    boot({NwBattery{"Input Us", 3.30}, NwBattery{"Input Us", 3.30}}, kept,
         [&](boost::asio::io_context&, std::array<Daemon*, 2> d, test::FakeSettings&) {
             EXPECT_TRUE(text(*d[0], "/Info/ChargeMode").starts_with("Bulk")) << text(*d[0], "/Info/ChargeMode");
             EXPECT_TRUE(text(*d[1], "/Info/ChargeMode").starts_with("Bulk")) << text(*d[1], "/Info/ChargeMode");
         });
    EXPECT_TRUE(log.has("charge state in localsettings belongs to battery jkbms_nw_OTHER")) << log.text();
    EXPECT_TRUE(log.has(".state belongs to battery jkbms_nw_OTHER")) << log.text();
}

// Issue 15 H2: boards with factory-default ids are keyed by their port; two such packs swapped
// between ports must not inherit each other's state through the port key - the fingerprint
// (here the cycle count, which cannot go from 500 to 40) tells them apart.
TEST_F(NwIdentityTest, ASwappedPackUnderAPortKeyDoesNotInheritTheState) {
    LogCapture log;
    std::map<std::string, std::string> kept;
    boot({NwBattery{"Input Us", 3.445, 500}, NwBattery{"Input Us", 3.30, 40}}, kept,
         [&](boost::asio::io_context& io, std::array<Daemon*, 2> d, test::FakeSettings& s) {
             EXPECT_EQ(d[0]->service()->uniqueId(), portUid(tty(links[0])));
             EXPECT_TRUE(pumpUntil(io, [&] {
                 return chargeState(s, portUid(tty(links[0]))).starts_with("mode=Absorption;");
             }, 2s)) << chargeState(s, portUid(tty(links[0])));
             EXPECT_NE(chargeState(s, portUid(tty(links[0]))).find(";cycles=500;"), std::string::npos)
                 << chargeState(s, portUid(tty(links[0])));
         });
    // Same ports, the packs swapped: port a now has the pack with 40 cycles.
    boot({NwBattery{"Input Us", 3.30, 40}, NwBattery{"Input Us", 3.30, 500}}, kept,
         [&](boost::asio::io_context&, std::array<Daemon*, 2> d, test::FakeSettings&) {
             EXPECT_TRUE(text(*d[0], "/Info/ChargeMode").starts_with("Bulk")) << text(*d[0], "/Info/ChargeMode");
         });
    EXPECT_TRUE(log.has("not used (starting in Bulk): it may be another battery's: cycle count 40 here")) << log.text();
}

// Issue 15 H3: NW carries its id in every reading; another id while running is another BMS
// behind the port: the daemon ends (BmsLost) so its supervisor starts it afresh.
TEST_F(NwIdentityTest, AnotherIdWhileRunningEndsTheDaemon) {
    LogCapture log;
    boost::asio::io_context io;
    test::FakeSettings settings(io, PrivateBus::address());
    sim::SimulatedBms bms{16};
    bms.setLive(false);
    bms.state().deviceId = "PackA";
    sim::NwResponder responder{bms};
    sim::PtyServer port(io, responder, sim::PtyServer::Options{links[0], 400ms});
    Daemon d(io, options(links[0]));
    d.start();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(d); }, 5s));
    bms.state().deviceId = "PackB";
    ASSERT_TRUE(pumpUntil(io, [&] { return d.exitCode().has_value(); }, 5s));
    EXPECT_EQ(*d.exitCode(), ExitCode::BmsLost);
    EXPECT_TRUE(log.has("a different BMS answers on")) << log.text();
}

// localsettings starts after the daemon (a GX where it comes up late): the daemon registers
// without it, then registers there when it appears - the instance it grants, the custom name
// written meanwhile, the charge state. settings_wait and settings_retry are short here, so the
// "20 s late" of the issue takes a second.
TEST_F(NwIdentityTest, LocalsettingsAppearingLate) {
    boost::asio::io_context io;
    sim::SimulatedBms bms{16};
    bms.setLive(false);
    bms.state().cellsV.assign(16, 3.445);  // Absorption: a state to keep
    bms.state().deviceId = "Late";
    sim::NwResponder responder{bms};
    sim::PtyServer port(io, responder, sim::PtyServer::Options{links[0], 400ms});
    auto o = options(links[0]);
    o.config.dbus.settingsWait = 100ms;
    o.config.dbus.settingsRetry = 200ms;
    o.config.charge.stateDir = "";
    Daemon d(io, o);
    d.start();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(d); }, 5s));
    EXPECT_FALSE(d.service()->instancePersisted());
    EXPECT_EQ(d.service()->deviceInstance(), 1);
    const std::string name = d.service()->busName();
    auto r = busctl(io, {"call", name, "/CustomName", "com.victronenergy.BusItem", "SetValue", "v", "s", "Early"});
    EXPECT_EQ(r.out, "i 0\n");
    const auto until = Clock::now() + 1s;
    pumpUntil(io, [&] { return Clock::now() >= until; }, 2s);

    std::optional<test::FakeSettings> settings(std::in_place, io, PrivateBus::address());
    settings->preset("/Settings/Devices/someone_else/ClassAndVrmInstance", "battery:1");  // 1 is taken
    ASSERT_TRUE(pumpUntil(io, [&] {
        return d.service()->instancePersisted() && d.service()->deviceInstance() == 2 && registered(d);
    }, 5s)) << "instance " << d.service()->deviceInstance();
    EXPECT_EQ(settings->value("/Settings/Devices/jkbms_nw_Late/ClassAndVrmInstance"), std::optional<std::string>{"battery:2"});
    EXPECT_TRUE(pumpUntil(io, [&] {
        return settings->value("/Settings/Devices/jkbms_nw_Late/CustomName") == std::optional<std::string>{"Early"};
    }, 2s)) << "the name written before localsettings came is kept";
    EXPECT_EQ(text(d, "/CustomName"), "Early");
    EXPECT_TRUE(pumpUntil(io, [&] { return chargeState(*settings, "jkbms_nw_Late").starts_with("mode=Absorption;"); }, 2s))
        << chargeState(*settings, "jkbms_nw_Late");
    r = busctl(io, {"call", name, "/DeviceInstance", "com.victronenergy.BusItem", "GetValue"});
    EXPECT_EQ(r.out, "v i 2\n");
}

// localsettings late, with a state saved for this battery by an earlier run: the engine,
// still in its first mode, takes it when localsettings appears.
TEST_F(NwIdentityTest, LocalsettingsAppearingLateBringsTheSavedState) {
    boost::asio::io_context io;
    sim::SimulatedBms bms{16};
    bms.setLive(false);
    bms.state().deviceId = "Late";  // cells at 3.30 V: a fresh engine stays in Bulk
    sim::NwResponder responder{bms};
    sim::PtyServer port(io, responder, sim::PtyServer::Options{links[0], 400ms});
    auto o = options(links[0]);
    o.config.dbus.settingsWait = 100ms;
    o.config.dbus.settingsRetry = 200ms;
    o.config.charge.stateDir = "";
    Daemon d(io, o);
    d.start();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(d); }, 5s));
    EXPECT_TRUE(text(d, "/Info/ChargeMode").starts_with("Bulk")) << text(d, "/Info/ChargeMode");
    std::optional<test::FakeSettings> settings(std::in_place, io, PrivateBus::address());
    settings->preset("/Settings/Devices/jkbms_nw_Late/ChargeState",
                     "mode=Absorption;absorption_s=10;absorption_total_s=10;equalize_at=1700000000;battery=jkbms_nw_Late;"
                     "cells=16;capacity_ah=280;cycles=12;written_at=" +
                         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count() -
                                        60));
    EXPECT_TRUE(pumpUntil(io, [&] { return text(d, "/Info/ChargeMode").starts_with("Absorption"); }, 5s))
        << text(d, "/Info/ChargeMode");
    EXPECT_TRUE(d.service()->instancePersisted());
}

// Flash wear: the charge state is a silent setting, written on a mode change and not again
// while nothing that matters changes (Absorption: every 30 min for its timer).
TEST_F(NwIdentityTest, TheChargeStateIsASilentSettingWrittenOnChangesOnly) {
    std::map<std::string, std::string> kept;
    boot({NwBattery{"PackA", 3.445}, NwBattery{"PackB", 3.30}}, kept,
         [&](boost::asio::io_context& io, std::array<Daemon*, 2>, test::FakeSettings& s) {
             const std::string path = "/Settings/Devices/jkbms_nw_PackA/ChargeState";
             EXPECT_TRUE(s.silent(path));
             ASSERT_TRUE(pumpUntil(io, [&] { return s.writes(path) >= 1; }, 2s));
             const auto until = Clock::now() + 3s;  // 15 polls in Absorption
             pumpUntil(io, [&] { return Clock::now() >= until; }, 4s);
             EXPECT_EQ(s.writes(path), 1) << "Bulk -> Absorption once, then nothing";
             EXPECT_EQ(s.writes("/Settings/Devices/jkbms_nw_PackB/ChargeState"), 0) << "Bulk from the start: nothing to keep";
         });
}

// Issue 15 L4: a charge state localsettings refused is not taken as written: the stop writes
// it again although it did not change since.
TEST_F(NwIdentityTest, ARefusedChargeStateWriteIsMadeAgain) {
    LogCapture log;
    boost::asio::io_context io;
    test::FakeSettings settings(io, PrivateBus::address());
    const std::string path = "/Settings/Devices/jkbms_nw_PackA/ChargeState";
    settings.refuseWrites(path, 2);  // Bulk -> Absorption, Absorption -> Float
    sim::SimulatedBms bms{16};
    bms.setLive(false);
    bms.state().cellsV.assign(16, 3.445);
    bms.state().currentA = 0;
    bms.state().deviceId = "PackA";
    sim::NwResponder responder{bms};
    sim::PtyServer port(io, responder, sim::PtyServer::Options{links[0], 400ms});
    auto o = options(links[0]);
    o.config.charge.stateDir = "";
    o.config.charge.engine.absorptionMaxTimeS = 1;
    Daemon d(io, o);
    d.start();
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(d) && text(d, "/Info/ChargeMode").starts_with("Float"); }, 8s))
        << text(d, "/Info/ChargeMode");
    ASSERT_TRUE(pumpUntil(io, [&] { return log.has("storing the charge state in localsettings failed"); }, 2s));
    pumpUntil(io, [] { return false; }, 300ms);  // both refusals answered
    EXPECT_EQ(settings.writes(path), 0);
    std::raise(SIGTERM);
    pumpUntil(io, [&] { return d.exitCode().has_value() && settings.writes(path) > 0; }, 3s);
    EXPECT_TRUE(settings.value(path).value_or("").starts_with("mode=Float;")) << settings.value(path).value_or("(none)");
}

// JK-PB packs on one bus: the identity is the serial from the device-info frame.
class PbIdentityTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        link = (std::filesystem::temp_directory_path() / ("jkbms-pbid-" + std::to_string(::getpid()) + "-" + name)).string();
        for (auto* p : {&one, &two}) p->setLive(false);
        one.state().serialNumber = "PACK1";
        two.state().serialNumber = "PACK2";
        responder.addPack(1, one);
        responder.addPack(2, two);
        pty = std::make_unique<sim::PtyServer>(io, responder, sim::PtyServer::Options{link, 400ms});
        settings.emplace(io, PrivateBus::address());
    }
    void TearDown() override {
        daemon.reset();
        pty.reset();
        settings.reset();
    }

    DaemonOptions options() {
        DaemonOptions o;
        o.config.serial.port = link;
        o.config.serial.protocol = "pb";
        o.config.serial.addresses = {1, 2};
        o.config.poll.interval = 400ms;
        o.config.poll.timeout = 100ms;
        o.config.poll.pacing = 100ms;
        o.config.poll.goneProbe = 1000ms;
        o.config.comms = domain::CommsTimes{800ms, 1200ms, 2000ms};
        o.config.dbus.address = PrivateBus::address();
        o.config.dbus.settingsWait = 2000ms;
        o.config.charge.stateDir = "";
        o.version = "test";
        return o;
    }
    void start(DaemonOptions o) {
        daemon = std::make_unique<Daemon>(io, std::move(o));
        daemon->start();
    }
    bool connected(std::uint8_t address) {
        const dbus::Item* i = item(*daemon, "/Connected", address);
        return registered(*daemon, address) && i && i->value == dbus::Value{std::int32_t{1}};
    }
    bool nameOnBus(std::uint8_t address) {
        auto r = busctl(io, {"call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                             "NameHasOwner", "s", daemon->service(address)->busName()});
        return r.out == "b true\n";
    }

    boost::asio::io_context io;
    sim::SimulatedBms one{16};
    sim::SimulatedBms two{8};
    sim::PbResponder responder;
    std::unique_ptr<sim::PtyServer> pty;
    std::optional<test::FakeSettings> settings;
    std::unique_ptr<Daemon> daemon;
    std::string link;
};

// The service waits for the serial (firmware that answers "about" late) and registers under it.
TEST_F(PbIdentityTest, APackRegistersUnderItsSerial) {
    responder.setAboutSilent(2, true);
    auto o = options();
    o.config.dbus.identityWait = 30s;
    start(std::move(o));
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(*daemon, 1); }, 5s));
    EXPECT_EQ(daemon->service(1)->uniqueId(), "jkbms_PACK1");
    const auto until = Clock::now() + 2s;  // five cycles: pack 2 answers cell info, not about
    pumpUntil(io, [&] { return Clock::now() >= until; }, 3s);
    EXPECT_EQ(daemon->service(2), nullptr) << "registered before its serial was known";
    responder.setAboutSilent(2, false);
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(*daemon, 2); }, 5s));
    EXPECT_EQ(daemon->service(2)->uniqueId(), "jkbms_PACK2");
    EXPECT_TRUE(settings->value("/Settings/Devices/jkbms_PACK2/ClassAndVrmInstance"));
    EXPECT_EQ(text(*daemon, "/Serial", 2), "PACK2");
    EXPECT_EQ(text(*daemon, "/ProductName", 2), "JK BMS (serial PACK2)");
    EXPECT_EQ(text(*daemon, "/ProductName", 1), "JK BMS (serial PACK1)");
}

// No serial within identity_wait: keyed by port and address, and the log says so.
TEST_F(PbIdentityTest, WithoutASerialThePortAndAddress) {
    LogCapture log;
    responder.setAboutSilent(2, true);
    auto o = options();
    o.config.dbus.identityWait = 1000ms;
    start(std::move(o));
    ASSERT_TRUE(pumpUntil(io, [&] { return registered(*daemon, 1) && registered(*daemon, 2); }, 6s));
    EXPECT_EQ(daemon->service(2)->uniqueId(), portUid(tty(link) + "_2"));
    // Told apart from pack 1 in systemcalc's /AvailableBmsServices without a custom name.
    EXPECT_EQ(text(*daemon, "/ProductName", 2), "JK BMS (" + tty(link) + " #2)");
    EXPECT_EQ(text(*daemon, "/CustomName", 2), "");
    EXPECT_TRUE(log.has("no device-info frame (serial number) within 1000 ms")) << log.text();
}

// A pack that left the bus (exit_after) is asked again now and then and its service returns;
// the other pack is served all along.
TEST_F(PbIdentityTest, APackThatLeftComesBack) {
    start(options());
    ASSERT_TRUE(pumpUntil(io, [&] { return connected(1) && connected(2); }, 5s));
    responder.setSilent(2, true);
    ASSERT_TRUE(pumpUntil(io, [&] { return daemon->service(2)->state() != dbus::BatteryService::State::Registered; }, 6s));
    ASSERT_TRUE(pumpUntil(io, [&] { return !nameOnBus(2); }, 2s)) << "its name left the bus";
    EXPECT_TRUE(connected(1));
    responder.setSilent(2, false);
    const auto back = Clock::now();
    // Within one probe period, a cycle and the deadlines.
    ASSERT_TRUE(pumpUntil(io, [&] { return connected(2); }, 3s)) << "pack 2 never came back";
    EXPECT_LT(Clock::now() - back, 3s);
    EXPECT_TRUE(nameOnBus(2));
    EXPECT_TRUE(connected(1));
    EXPECT_FALSE(daemon->exitCode());
}

// Issue 15 H3: what answers at the address of a pack that left may be another pack: it is
// identified again (device info asked again) and served under its own key, with a fresh engine.
TEST_F(PbIdentityTest, APackThatComesBackIsIdentifiedAgain) {
    LogCapture log;
    start(options());
    ASSERT_TRUE(pumpUntil(io, [&] { return connected(1) && connected(2); }, 5s));
    EXPECT_EQ(daemon->service(2)->uniqueId(), "jkbms_PACK2");
    responder.setSilent(2, true);
    ASSERT_TRUE(pumpUntil(io, [&] { return daemon->service(2)->state() != dbus::BatteryService::State::Registered; }, 6s));
    two.state().serialNumber = "PACK9";  // another pack put in its place
    responder.setSilent(2, false);
    ASSERT_TRUE(pumpUntil(io, [&] { return connected(2) && daemon->service(2)->uniqueId() == "jkbms_PACK9"; }, 5s))
        << (daemon->service(2) ? daemon->service(2)->uniqueId() : "no service");
    EXPECT_EQ(text(*daemon, "/Serial", 2), "PACK9");
    EXPECT_TRUE(settings->value("/Settings/Devices/jkbms_PACK9/ClassAndVrmInstance"));
    EXPECT_TRUE(log.has("identified afresh")) << log.text();
    EXPECT_TRUE(connected(1));
    EXPECT_FALSE(daemon->exitCode());
}

// The same under a BMS master (listening only): the pack is switched off in the simulator,
// the master's polls of it go unanswered, its service leaves; switched on, it is heard and back.
TEST_F(PbIdentityTest, APackUnderAMasterThatLeftComesBack) {
    sim::SimulatedBms master{16};
    master.setLive(false);
    responder.setMasterPresent(true);
    sim::PbMaster bus(io, *pty, responder, master, 300ms);
    bus.start();
    start(options());
    ASSERT_TRUE(pumpUntil(io, [&] { return connected(0) && connected(1) && connected(2); }, 5s));
    EXPECT_TRUE(daemon->pbPoller()->listening());
    two.setPowered(false);
    ASSERT_TRUE(pumpUntil(io, [&] { return daemon->service(2)->state() != dbus::BatteryService::State::Registered; }, 6s))
        << "the silence of a pack under a master was never noticed";
    EXPECT_TRUE(connected(1));
    two.setPowered(true);
    ASSERT_TRUE(pumpUntil(io, [&] { return connected(2); }, 3s)) << "pack 2 never came back";
    EXPECT_TRUE(nameOnBus(2));
    EXPECT_TRUE(connected(0) && connected(1));
    EXPECT_FALSE(daemon->exitCode());
}

}  // namespace
}  // namespace jkbms::app
