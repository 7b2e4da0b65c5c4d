// dbus-jkbms --bank end to end (issue 16, source b): two member daemons, each polling a
// simulated NW BMS on its own pty with bank.member set, and a BankDaemon following their
// services over a private dbus-daemon - all on one io_context. What systemcalc sees (one BMS),
// the combination, and the fail-safe timeline (a silent BMS, a daemon gone, a daemon wedged)
// are measured on the loop (no sleeps).

#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>

#include "fakes/claim_name.hpp"
#include "fakes/fake_gx.hpp"
#include "fakes/fake_settings.hpp"
#include "integration/harness.hpp"
#include "jkbms/app/bank_daemon.hpp"
#include "jkbms/app/daemon.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include "jkbms/dbus/bus_item_service.hpp"

namespace jkbms::app {
namespace {

using test::busctl;
using test::PrivateBus;
using test::pumpUntil;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using domain::CommsState;

// Short comms times so each timeline fits in a few seconds: stale 1 s, lost 3 s, never exit.
const domain::CommsTimes kTimes{1000ms, 3000ms, 0ms};

long ms(Clock::duration d) { return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); }

// One pack: a simulated NW BMS on a pty, and (while running) its daemon.
struct Pack {
    std::string link;
    sim::SimulatedBms bms{16};
    sim::NwResponder responder{bms};
    std::unique_ptr<sim::PtyServer> pty;
    std::unique_ptr<Daemon> daemon;

    std::string suffix() const { return std::filesystem::path(link).filename().string(); }
    const dbus::Value* value(std::string_view path) const {
        if (!daemon || !daemon->service()) return nullptr;
        const dbus::Item* item = daemon->service()->items().find(path);
        return item ? &item->value : nullptr;
    }
    std::optional<double> number(std::string_view path) const {
        const dbus::Value* v = value(path);
        if (const auto* d = v ? std::get_if<double>(v) : nullptr) return *d;
        return std::nullopt;
    }
    bool registered() const {
        return daemon && daemon->service() && daemon->service()->state() == dbus::BatteryService::State::Registered;
    }
};

// A member that holds its name but stops answering: a plain connection with the member paths
// on a BusItemService, driven by its own loop until wedge() stops the loop.
class FakeMember {
public:
    // What the fake is: a member of a `--bank` daemon, a member of an in-process bank (its
    // /Bank/Service names that bank), or a plain battery with limits under /Info/* (a BMS).
    enum class Kind { Member, InProcessMember, OwnBms };
    FakeMember(boost::asio::io_context& io, const std::string& suffix, Kind kind = Kind::Member)
        : connection_(sdbus::createSessionBusConnectionWithAddress(PrivateBus::address())),
          items_(std::make_unique<dbus::BusItemService>(*connection_)) {
        dbus::PathTable t;
        auto put = [&t](std::string path, dbus::Value v) { t.emplace(std::move(path), dbus::makeItem(std::move(v))); };
        put("/Connected", std::int32_t{1});
        put("/Alarms/BmsCable", std::int32_t{0});
        put("/Dc/0/Voltage", 53.0);
        put("/Dc/0/Current", 0.0);
        put("/Soc", 50.0);
        put("/InstalledCapacity", 100.0);
        const std::string limits = kind == Kind::OwnBms ? "/Info" : "/Bank";
        put(limits + "/MaxChargeVoltage", 55.2);
        put(limits + "/MaxChargeCurrent", kind == Kind::OwnBms ? 100.0 : 0.0);  // 0: stops the bank's charging
        put(limits + "/MaxDischargeCurrent", 100.0);
        put(limits + "/BatteryLowVoltage", 46.4);
        if (kind == Kind::InProcessMember) put("/Bank/Service", std::string{"com.victronenergy.battery.ttyUSB9_bank"});
        items_->update(t);
        test::claimName(*connection_, "com.victronenergy.battery." + suffix);
        loop_ = std::make_unique<dbus::AsioSdbusLoop>(io, *connection_);
        loop_->start();
    }
    ~FakeMember() { loop_->stop(); }
    // The daemon hangs: its name stays on the bus, nothing is processed any more.
    void wedge() { loop_->stop(); }

private:
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<dbus::BusItemService> items_;
    std::unique_ptr<dbus::AsioSdbusLoop> loop_;
};

class BankTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        tag = std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
        // Two packs of different size and state: 280 Ah at 60 %, 100 Ah at 90 %.
        for (int i = 0; i < 2; ++i) {
            auto p = std::make_unique<Pack>();
            p->link = (std::filesystem::temp_directory_path() / ("jkbank" + std::string{i == 0 ? "A" : "B"} + tag)).string();
            p->bms.setLive(false);
            p->bms.state().deviceId = i == 0 ? "BankA" : "BankB";  // two batteries, two keys
            p->bms.state().capacityAh = i == 0 ? 280 : 100;
            p->bms.state().socPercent = i == 0 ? 60 : 90;
            p->bms.state().currentA = i == 0 ? 10.5 : 4.25;
            p->pty = std::make_unique<sim::PtyServer>(io, p->responder, sim::PtyServer::Options{p->link, 400ms});
            packs.push_back(std::move(p));
        }
    }
    void TearDown() override {
        bank.reset();
        fake.reset();
        for (auto& p : packs) p->daemon.reset();
        packs.clear();
    }

    DaemonOptions memberOptions(const Pack& p) {
        DaemonOptions o;
        o.config.serial.port = p.link;
        o.config.serial.protocol = "nw";
        o.config.poll.interval = 200ms;
        o.config.poll.timeout = 150ms;
        o.config.comms = kTimes;
        o.config.dbus.address = PrivateBus::address();
        o.config.dbus.settingsWait = 100ms;  // no localsettings on this bus
        o.config.charge.stateDir = "";
        o.config.bank.member = true;
        o.version = "test";
        return o;
    }
    void startMember(Pack& p) {
        p.daemon = std::make_unique<Daemon>(io, memberOptions(p));
        p.daemon->start();
    }
    // Both members on the bus with their limits under /Bank/*.
    void startMembers() {
        for (auto& p : packs) startMember(*p);
        ASSERT_TRUE(pumpUntil(io, [&] {
            return std::all_of(packs.begin(), packs.end(), [](const auto& p) {
                const dbus::Value* cvl = p->value("/Bank/MaxChargeVoltage");
                return p->registered() && cvl && dbus::isValid(*cvl);
            });
        }, 8s)) << "the member daemons never published /Bank/MaxChargeVoltage (bank.member not wired?)";
    }

    config::Config bankConfig(std::vector<std::string> members = {}) {
        config::Config c;
        c.comms = kTimes;
        c.dbus.address = PrivateBus::address();
        c.dbus.settingsWait = 100ms;
        c.dbus.deviceInstance = 7;
        c.bank.name = "bank_" + std::to_string(::getpid());
        c.bank.members = std::move(members);
        return c;
    }
    void startBank(config::Config c) {
        bank = std::make_unique<BankDaemon>(io, std::move(c), "test");
        bank->start();
        ASSERT_TRUE(pumpUntil(io, [&] {
            return bank->service() && bank->service()->state() == dbus::BatteryService::State::Registered;
        }, 8s)) << "the bank never registered";
    }

    const dbus::Value* value(std::string_view path) const {
        if (!bank || !bank->service()) return nullptr;
        const dbus::Item* item = bank->service()->items().find(path);
        return item ? &item->value : nullptr;
    }
    bool valueIs(std::string_view path, const dbus::Value& expected) const {
        const dbus::Value* v = value(path);
        return v && *v == expected;
    }
    std::optional<double> number(std::string_view path) const {
        const dbus::Value* v = value(path);
        if (const auto* d = v ? std::get_if<double>(v) : nullptr) return *d;
        return std::nullopt;
    }
    std::string text(std::string_view path) const {
        const dbus::Value* v = value(path);
        const auto* s = v ? std::get_if<std::string>(v) : nullptr;
        return s ? *s : std::string{};
    }
    bool valid(std::string_view path) const {
        const dbus::Value* v = value(path);
        return v && dbus::isValid(*v);
    }
    bool near(std::string_view path, double expected, double tolerance = 0.005) const {
        const auto v = number(path);
        return v && std::abs(*v - expected) <= tolerance;
    }
    bool allOk() const {
        return std::all_of(packs.begin(), packs.end(),
                           [&](const auto& p) { return bank->memberComms(p->suffix()) == CommsState::Ok; });
    }
    std::vector<std::string> suffixes() const { return {packs[0]->suffix(), packs[1]->suffix()}; }

    boost::asio::io_context io;
    std::string tag;
    std::vector<std::unique_ptr<Pack>> packs;
    std::unique_ptr<FakeMember> fake;
    std::unique_ptr<BankDaemon> bank;
};

// (a) Found on the bus by themselves (auto), the members are one battery: the bank is the only
// service systemcalc could take for a BMS, with the currents summed and the SoC weighted.
TEST_F(BankTest, AutoFoundMembersAreOneBatteryAndTheOnlyBms) {
    ASSERT_NO_FATAL_FAILURE(startMembers());
    ASSERT_NO_FATAL_FAILURE(startBank(bankConfig()));
    EXPECT_EQ(bank->members(), suffixes());
    ASSERT_TRUE(pumpUntil(io, [&] { return allOk() && near("/Dc/0/Current", 14.75); }, 5s))
        << "current " << number("/Dc/0/Current").value_or(-1);
    EXPECT_TRUE(valueIs("/System/NrOfBatteries", dbus::Value{std::int32_t{2}}));
    EXPECT_TRUE(valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{0}}));
    EXPECT_TRUE(valueIs("/ProductName", dbus::Value{std::string{"JK BMS bank (2 packs)"}}));
    EXPECT_EQ(text("/Mgmt/Connection"), "Bank of " + packs[0]->suffix() + ", " + packs[1]->suffix());
    EXPECT_TRUE(valueIs("/DeviceInstance", dbus::Value{std::int32_t{7}}));

    // Capacities summed, SoC weighted by them - from what the members publish.
    const auto capA = packs[0]->number("/InstalledCapacity"), capB = packs[1]->number("/InstalledCapacity");
    const auto socA = packs[0]->number("/Soc"), socB = packs[1]->number("/Soc");
    ASSERT_TRUE(capA && capB && socA && socB);
    ASSERT_NE(*capA, *capB);
    ASSERT_NE(*socA, *socB);
    EXPECT_TRUE(near("/InstalledCapacity", *capA + *capB, 0.01)) << number("/InstalledCapacity").value_or(-1);
    const double weighted = (*socA * *capA + *socB * *capB) / (*capA + *capB);
    EXPECT_TRUE(near("/Soc", weighted, 0.1)) << number("/Soc").value_or(-1) << " vs " << weighted;
    EXPECT_GT(weighted, 60.0 + 5.0) << "not the plain mean of 60 and 90 either way";
    EXPECT_LT(weighted, 75.0 - 5.0);

    // From outside: every battery service on the bus, asked for /Info/MaxChargeVoltage.
    auto list = busctl(io, {"call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames"});
    std::vector<std::string> withCvl;
    int batteries = 0;
    for (std::size_t at = list.out.find("\"com.victronenergy.battery."); at != std::string::npos;
         at = list.out.find("\"com.victronenergy.battery.", at + 1)) {
        const std::string name = list.out.substr(at + 1, list.out.find('"', at + 1) - at - 1);
        ++batteries;
        auto r = busctl(io, {"call", name, "/Info/MaxChargeVoltage", "com.victronenergy.BusItem", "GetValue"});
        if (r.exitCode == 0 && r.out.starts_with("v d ")) withCvl.push_back(name);
    }
    EXPECT_EQ(batteries, 3) << list.out;
    ASSERT_EQ(withCvl.size(), 1u) << "systemcalc would see more than one BMS";
    EXPECT_EQ(withCvl[0], bank->service()->busName());
    EXPECT_EQ(packs[0]->value("/Info/MaxChargeVoltage"), nullptr);
}

// (b) One pack's engine stops charging (a cell at 3.62 V): the bank's CCL is 0 at the member's
// very next update, not at the next liveness tick. Members named in the configuration.
TEST_F(BankTest, OneMembersZeroChargeLimitStopsTheBankAtOnce) {
    ASSERT_NO_FATAL_FAILURE(startMembers());
    ASSERT_NO_FATAL_FAILURE(startBank(bankConfig({packs[0]->suffix(), "com.victronenergy.battery." + packs[1]->suffix()})));
    EXPECT_EQ(bank->members(), suffixes());
    ASSERT_TRUE(pumpUntil(io, [&] { return allOk() && number("/Info/MaxChargeCurrent").value_or(0) > 0; }, 5s));

    packs[1]->bms.state().cellsV[4] = 3.62;
    ASSERT_TRUE(pumpUntil(io, [&] {
        const auto ccl = packs[1]->number("/Bank/MaxChargeCurrent");
        return ccl && *ccl == 0;
    }, 5s)) << "the member's engine never stopped charging";
    const auto memberAt = Clock::now();
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Info/MaxChargeCurrent", dbus::Value{0.0}); }, 2s));
    // A member update is 200 ms apart; the liveness tick 500 ms: this was the signal itself.
    EXPECT_LT(Clock::now() - memberAt, 400ms) << ms(Clock::now() - memberAt);
    EXPECT_NE(text("/Info/ChargeLimitation").find(packs[1]->suffix()), std::string::npos) << text("/Info/ChargeLimitation");
    EXPECT_TRUE(number("/Info/MaxDischargeCurrent").value_or(0) > 0) << "discharging is still allowed";
}

// (c) One BMS falls silent: the bank warns (/Alarms/BmsCable 1, /Bank/Status names it); once
// that member is lost its limits are from the other pack alone; the BMS back -> all restored.
TEST_F(BankTest, ASilentBmsIsNamedAndTheOtherPackDecides) {
    ASSERT_NO_FATAL_FAILURE(startMembers());
    ASSERT_NO_FATAL_FAILURE(startBank(bankConfig()));
    ASSERT_TRUE(pumpUntil(io, [&] { return allOk() && valid("/Info/MaxChargeCurrent"); }, 5s));
    Pack& silent = *packs[0];
    Pack& other = *packs[1];

    silent.bms.setPowered(false);
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{1}}); }, 3s));
    EXPECT_NE(text("/Bank/Status").find(silent.suffix()), std::string::npos) << text("/Bank/Status");
    EXPECT_TRUE(valid("/Info/MaxChargeVoltage")) << "one pack still answers";
    ASSERT_TRUE(pumpUntil(io, [&] { return bank->memberComms(silent.suffix()) == CommsState::Lost; }, 4s));
    // Lost: it may still be on the DC bus with its limits unknown - no charging; discharging
    // from the other pack alone (its worst share).
    ASSERT_TRUE(pumpUntil(io, [&] {
        const auto own = other.number("/Bank/MaxDischargeCurrent");
        return own && valueIs("/Info/MaxChargeCurrent", dbus::Value{0.0}) &&
               near("/Info/MaxDischargeCurrent", std::floor(*own * 10) / 10, 0.11) &&
               near("/Dc/0/Current", *other.number("/Dc/0/Current"));
    }, 2s)) << "CCL " << number("/Info/MaxChargeCurrent").value_or(-1) << ", DCL "
            << number("/Info/MaxDischargeCurrent").value_or(-1) << ", the other's "
            << other.number("/Bank/MaxDischargeCurrent").value_or(-1);
    EXPECT_NE(text("/Info/ChargeLimitation").find("not answering"), std::string::npos) << text("/Info/ChargeLimitation");
    EXPECT_TRUE(valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{1}}));

    silent.bms.setPowered(true);
    ASSERT_TRUE(pumpUntil(io, [&] { return allOk() && valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{0}}); }, 5s));
    EXPECT_TRUE(pumpUntil(io, [&] { return number("/Info/MaxChargeCurrent").value_or(0) > 0; }, 2s));
    EXPECT_TRUE(pumpUntil(io, [&] { return near("/Dc/0/Current", 14.75); }, 2s));
    EXPECT_EQ(text("/Bank/Status").find(silent.suffix()), std::string::npos) << text("/Bank/Status");
}

// (d) A member daemon that stops (its name leaves the bus) is lost at once, not after the
// liveness times; a new daemon on the same port brings the pack back.
TEST_F(BankTest, AStoppedMemberIsLostAtOnceAndComesBack) {
    ASSERT_NO_FATAL_FAILURE(startMembers());
    ASSERT_NO_FATAL_FAILURE(startBank(bankConfig()));
    ASSERT_TRUE(pumpUntil(io, [&] { return allOk(); }, 5s));
    Pack& gone = *packs[0];

    gone.daemon.reset();
    const auto stopped = Clock::now();
    ASSERT_TRUE(pumpUntil(io, [&] { return bank->memberComms(gone.suffix()) == CommsState::Lost; }, 3s));
    EXPECT_LT(Clock::now() - stopped, kTimes.staleAfter / 2) << ms(Clock::now() - stopped);
    ASSERT_TRUE(pumpUntil(io, [&] { return near("/Dc/0/Current", 4.25); }, 1s)) << "only the other pack's current";
    EXPECT_TRUE(valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{1}}));

    startMember(gone);
    ASSERT_TRUE(pumpUntil(io, [&] { return allOk() && near("/Dc/0/Current", 14.75); }, 8s));
    EXPECT_TRUE(valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{0}}));
}

// (d) Both BMSes silent: the members go stale (limits held) and then lost - and with them the
// bank's limits, within invalidate_after of the silence (plus one member poll).
TEST_F(BankTest, BothSilentInvalidatesTheBankWithinInvalidateAfter) {
    ASSERT_NO_FATAL_FAILURE(startMembers());
    ASSERT_NO_FATAL_FAILURE(startBank(bankConfig()));
    ASSERT_TRUE(pumpUntil(io, [&] { return allOk() && valid("/Info/MaxChargeVoltage"); }, 5s));
    const auto silentFrom = Clock::now();
    for (auto& p : packs) p->bms.setPowered(false);
    std::optional<Clock::duration> warned;
    ASSERT_TRUE(pumpUntil(io, [&] {
        if (!warned && valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{1}})) warned = Clock::now() - silentFrom;
        return !valid("/Info/MaxChargeVoltage");
    }, 6s));
    const auto invalid = Clock::now() - silentFrom;
    ASSERT_TRUE(warned.has_value()) << "never stale before lost";
    EXPECT_GE(*warned, kTimes.staleAfter - 300ms) << ms(*warned);
    EXPECT_GE(invalid, kTimes.invalidateAfter - 300ms) << "stale members keep their limits: " << ms(invalid);
    EXPECT_LE(invalid, kTimes.invalidateAfter + 600ms) << ms(invalid);
    EXPECT_FALSE(valid("/Info/MaxChargeCurrent"));
    EXPECT_FALSE(valid("/Info/MaxDischargeCurrent"));
    EXPECT_TRUE(valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{2}}));
}

// (e) A member daemon that hangs keeps its name and its last values - still "connected" by
// its own word. The bank's liveness check makes it stale after stale_after and lost after
// invalidate_after; the other pack then decides alone.
TEST_F(BankTest, AWedgedMemberIsStaleThenLostByLiveness) {
    const std::string fakeSuffix = "fake" + std::to_string(::getpid());
    fake = std::make_unique<FakeMember>(io, fakeSuffix);
    ASSERT_NO_FATAL_FAILURE(startMembers());
    ASSERT_NO_FATAL_FAILURE(startBank(bankConfig()));
    ASSERT_EQ(bank->members().size(), 3u);
    ASSERT_TRUE(pumpUntil(io, [&] { return allOk() && bank->memberComms(fakeSuffix) == CommsState::Ok; }, 5s));
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Info/MaxChargeCurrent", dbus::Value{0.0}); }, 2s))
        << "the fake's CCL 0 stops the bank: " << number("/Info/MaxChargeCurrent").value_or(-1);

    fake->wedge();
    const auto wedged = Clock::now();
    std::optional<Clock::duration> stale;
    ASSERT_TRUE(pumpUntil(io, [&] {
        if (!stale && bank->memberComms(fakeSuffix) == CommsState::Stale) stale = Clock::now() - wedged;
        return bank->memberComms(fakeSuffix) == CommsState::Lost;
    }, 6s));
    const auto lost = Clock::now() - wedged;
    ASSERT_TRUE(stale.has_value()) << "never stale before lost";
    // Counted from its last answer, up to one liveness period (500 ms) before the wedge.
    EXPECT_GE(*stale, kTimes.staleAfter - 600ms) << ms(*stale);
    EXPECT_LE(*stale, kTimes.staleAfter + 700ms) << ms(*stale);
    EXPECT_GE(lost, kTimes.invalidateAfter - 600ms) << ms(lost);
    EXPECT_LE(lost, kTimes.invalidateAfter + 700ms) << ms(lost);
    EXPECT_NE(text("/Bank/Status").find(fakeSuffix), std::string::npos) << text("/Bank/Status");
    EXPECT_TRUE(valueIs("/Alarms/BmsCable", dbus::Value{std::int32_t{1}}));
    // Lost, its limits unknown: still no charging (now for that reason), discharging goes on.
    ASSERT_TRUE(pumpUntil(io, [&] {
        return text("/Info/ChargeLimitation").find("not answering") != std::string::npos;
    }, 2s)) << text("/Info/ChargeLimitation");
    EXPECT_TRUE(valueIs("/Info/MaxChargeCurrent", dbus::Value{0.0}));
    EXPECT_GT(number("/Info/MaxDischargeCurrent").value_or(0), 0.0);
}

// Review M4: auto mode must not take the packs of a JK-PB bank served in its own daemon -
// that bank is a BMS already, and a second one would steer DVCC by instance luck.
TEST_F(BankTest, AutoModeLeavesAnotherBanksMembersAlone) {
    fake = std::make_unique<FakeMember>(io, "inproc" + std::to_string(::getpid()), FakeMember::Kind::InProcessMember);
    ASSERT_NO_FATAL_FAILURE(startMembers());
    ASSERT_NO_FATAL_FAILURE(startBank(bankConfig()));
    ASSERT_TRUE(pumpUntil(io, [&] { return allOk(); }, 5s));
    EXPECT_EQ(bank->members(), suffixes());
    EXPECT_TRUE(valueIs("/System/NrOfBatteries", dbus::Value{std::int32_t{2}}));
}

// Review M5: a listed member whose daemon lacks bank.member is a BMS of its own to systemcalc
// (it may even hold the lowest instance): the bank allows no charging and says why.
TEST_F(BankTest, AListedMemberThatIsItsOwnBmsStopsCharging) {
    const std::string plain = "plain" + std::to_string(::getpid());
    fake = std::make_unique<FakeMember>(io, plain, FakeMember::Kind::OwnBms);
    ASSERT_NO_FATAL_FAILURE(startMembers());
    ASSERT_NO_FATAL_FAILURE(startBank(bankConfig({packs[0]->suffix(), packs[1]->suffix(), plain})));
    ASSERT_TRUE(pumpUntil(io, [&] {
        return text("/Info/ChargeLimitation").find("publishes /Info/MaxChargeVoltage") != std::string::npos;
    }, 5s)) << text("/Info/ChargeLimitation");
    EXPECT_TRUE(valueIs("/Info/MaxChargeCurrent", dbus::Value{0.0}));
}

// The program: --bank takes no port; SIGTERM ends it with 0; no bus -> exit code 4.
TEST_F(BankTest, ProgramOptionsAndExitCodes) {
    auto usage = test::runTool(io, {JKBMS_DAEMON, "--bank", "--serial", "/dev/ttyUSB0"}, 10s);
    EXPECT_EQ(usage.exitCode, 2) << usage.err;
    EXPECT_NE(usage.err.find("--bank"), std::string::npos) << usage.err;
    EXPECT_EQ(test::runTool(io, {JKBMS_DAEMON, "--bank", "--simulate"}, 10s).exitCode, 2);
    EXPECT_EQ(test::runTool(io, {JKBMS_DAEMON, "--bank", "ttyUSB0"}, 10s).exitCode, 2);
    // (sdbus-c++ 2.1 leaks its sd_bus when the bus cannot be opened: LeakSanitizer would turn
    // the exit code into 1.)
    auto noBus = test::runTool(io, {"env", "ASAN_OPTIONS=detect_leaks=0", JKBMS_DAEMON, "--bank", "--dbus-address",
                                    "unix:path=/nonexistent/bus"}, 10s);
    EXPECT_EQ(noBus.exitCode, 4) << noBus.out << noBus.err;

    const std::string config = std::filesystem::temp_directory_path() / ("jkbank" + tag + ".yaml");
    {
        std::ofstream out(config);
        out << "bank: {name: prog" << ::getpid() << "}\ndbus: {settings_wait: 100ms}\n";
    }
    test::ChildProcess child({JKBMS_DAEMON, "--bank", "--dbus-address", PrivateBus::address(), "--config", config});
    const std::string name = "com.victronenergy.battery.prog" + std::to_string(::getpid());
    ASSERT_TRUE(pumpUntil(io, [&] {
        auto r = busctl(io, {"call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                             "NameHasOwner", "s", name});
        return r.out == "b true\n" || child.poll();
    }, 10s));
    ASSERT_FALSE(child.poll()) << child.out() << child.err();
    ::kill(child.pid(), SIGTERM);
    ASSERT_TRUE(pumpUntil(io, [&] { return child.poll(); }, 5s));
    EXPECT_EQ(child.exitCode(), 0) << child.out() << child.err();
    std::filesystem::remove(config);
}

// The members are a setting on the GX under the bank's own settings path (issue 17.2):
// config.yaml's list is its default, and a change applies at once.
TEST_F(BankTest, MembersAreASettingOnTheGx) {
    test::FakeSettings settings(io, PrivateBus::address());
    ASSERT_NO_FATAL_FAILURE(startMembers());
    auto c = bankConfig({packs[0]->suffix()});
    c.dbus.settingsWait = 5000ms;  // localsettings is on this bus
    ASSERT_NO_FATAL_FAILURE(startBank(c));
    const std::string base = "/Settings/Devices/" + dbus::settingsUid(bank->service()->uniqueId()) + "/JkBms";
    const std::string path = base + "/Bank/Members";
    ASSERT_TRUE(pumpUntil(io, [&] { return valueIs("/Mgmt/SettingsPath", dbus::Value{base}); }, 3s));
    EXPECT_EQ(settings.type(path), 's');
    EXPECT_EQ(settings.defaultOf(path), std::optional<std::string>{packs[0]->suffix()});
    EXPECT_EQ(bank->members(), std::vector<std::string>{packs[0]->suffix()});

    auto set = [&](const std::string& text) {
        return busctl(io, {"call", "com.victronenergy.settings", path, "com.victronenergy.BusItem", "SetValue", "v", "s",
                           text})
            .out;
    };
    EXPECT_EQ(set(packs[0]->suffix() + ", com.victronenergy.battery." + packs[1]->suffix()), "i 0\n");
    ASSERT_TRUE(pumpUntil(io, [&] {
        return bank->members() == suffixes() && allOk() && valueIs("/System/NrOfBatteries", dbus::Value{std::int32_t{2}});
    }, 5s)) << bank->members().size();
    EXPECT_EQ(set(packs[1]->suffix()), "i 0\n");
    ASSERT_TRUE(pumpUntil(io, [&] { return bank->members() == std::vector<std::string>{packs[1]->suffix()}; }, 3s));
    EXPECT_TRUE(pumpUntil(io, [&] { return valueIs("/System/NrOfBatteries", dbus::Value{std::int32_t{1}}); }, 3s));
    // Empty: every member on the bus (auto).
    EXPECT_EQ(set(""), "i 0\n");
    EXPECT_TRUE(pumpUntil(io, [&] { return bank->members() == suffixes(); }, 5s));
}

// Issue 17 item 5: the bank daemon publishes the limits, so it follows DVCC and raises the
// one DVCC-off warning; its members (bank.member) publish none and stay silent about it.
TEST_F(BankTest, TheBankNotItsMembersWarnsWhileDvccIsOff) {
    test::FakeGx gx(io, PrivateBus::address());
    test::FakePlatform platform(io, PrivateBus::address());
    gx.setSystem("/Control/Dvcc", std::int32_t{0});
    ASSERT_NO_FATAL_FAILURE(startMembers());
    ASSERT_NO_FATAL_FAILURE(startBank(bankConfig()));
    ASSERT_TRUE(pumpUntil(io, [&] { return bank->dvccEnabled() == std::optional<bool>{false} && !platform.injected.empty(); }, 3s));
    const auto until = std::chrono::steady_clock::now() + 1s;
    pumpUntil(io, [&] { return std::chrono::steady_clock::now() >= until; }, 2s);
    ASSERT_EQ(platform.injected.size(), 1u);
    for (const auto& p : packs) EXPECT_FALSE(p->daemon->dvccEnabled().has_value()) << "a member follows DVCC";
    EXPECT_EQ(platform.injected[0], "0\tJK BMS bank (bank_" + std::to_string(::getpid()) + ")\t" +
                                        std::string{dbus::kDvccOffText});
    gx.setSystem("/Control/Dvcc", std::int32_t{1});
    EXPECT_TRUE(pumpUntil(io, [&] { return bank->dvccEnabled() == std::optional<bool>{true}; }, 2s));
    EXPECT_EQ(platform.injected.size(), 1u);
}

}  // namespace
}  // namespace jkbms::app
