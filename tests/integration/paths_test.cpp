// Issue 17's paths on running daemons, read back over the private bus as Victron's consumers
// read them (GetItems on "/", victron-dbus.md 2.5): every path the GUI's device, alarm and
// History pages and VRM read, on each kind of service, with its D-Bus type and its text. The
// kinds are the table's columns: an NW BMS (answering, and lost), JK-PB packs (two on one bus:
// bank members; one alone), the bank over packs (in-process, and dbus-jkbms --bank over NW
// members), a BMS over BLE.
// Then the /History figures across a restart: with a state file, with localsettings, and after
// a power cut (no stop).
//
// Where a type comes from: victron-dbus.md 2.2 (quantities d, counters/enums/flags i, text s),
// 5.1-5.8 per path. Where the spec is silent: /Settings/HasTemperature is a flag (i; gui-v2's
// PageBatteryHistory.qml compares it `=== 1`), /DeviceName a text (s). Texts: victron-dbus.md
// 2.1 ("53.20V", "---" when invalid) and our Unit formats (dbus/item.hpp: "3.325V" a cell,
// "24.5°C", "67.0%", "280.0Ah", "12.35kWh", "3600s"); Ah history figures are negative (5.7).

#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

#include "fakes/fake_bluez.hpp"
#include "fakes/fake_settings.hpp"
#include "integration/harness.hpp"
#include "jkbms/app/bank_daemon.hpp"
#include "jkbms/app/daemon.hpp"
#include "jkbms/dbus/bus_item_service.hpp"

namespace jkbms::app {
namespace {

using test::PrivateBus;
using test::pumpUntil;
using namespace std::chrono_literals;

// --- One service's items, as GetItems returns them on the wire ---

struct WireItem {
    std::string type;  // the value's D-Bus signature: "d", "i", "s"; "ai" is Victron's invalid
    bool emptyArray = false;
    dbus::Value value;  // the number or text; Invalid for anything else
    std::string text;
};
using WireItems = std::map<std::string, WireItem>;

// GetItems on "/" of `service`, from a connection of its own on another thread while this one
// keeps the daemon's loop running. Empty when the call failed (the failure is reported).
WireItems getItems(boost::asio::io_context& io, const std::string& service) {
    auto call = std::async(std::launch::async, [service] {
        auto bus = sdbus::createSessionBusConnectionWithAddress(PrivateBus::address());
        auto root = sdbus::createProxy(*bus, sdbus::ServiceName{service}, sdbus::ObjectPath{"/"});
        std::map<std::string, std::map<std::string, sdbus::Variant>> items;
        root->callMethod("GetItems")
            .onInterface(sdbus::InterfaceName{std::string{dbus::kBusItemInterface}})
            .withTimeout(3s)
            .storeResultsTo(items);
        WireItems out;
        for (const auto& [path, dict] : items) {
            WireItem w;
            if (auto v = dict.find("Value"); v != dict.end()) {
                const char* type = v->second.peekValueType();
                w.type = type ? type : "";
                if (w.type == "ai") w.emptyArray = v->second.get<std::vector<std::int32_t>>().empty();
                else if (w.type == "d") w.value = v->second.get<double>();
                else if (w.type == "i") w.value = v->second.get<std::int32_t>();
                else if (w.type == "s") w.value = v->second.get<std::string>();
            }
            if (auto t = dict.find("Text"); t != dict.end() && t->second.containsValueOfType<std::string>())
                w.text = t->second.get<std::string>();
            out.emplace(path, std::move(w));
        }
        return out;
    });
    if (!pumpUntil(io, [&] { return call.wait_for(0s) == std::future_status::ready; }, 5s)) {
        ADD_FAILURE() << "GetItems on " << service << " did not return";
        return {};
    }
    try {
        return call.get();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "GetItems on " << service << ": " << e.what();
        return {};
    }
}

std::string describe(const WireItem& w) {
    std::ostringstream out;
    out << w.type << " ";
    if (const auto* d = std::get_if<double>(&w.value)) out << *d;
    else if (const auto* i = std::get_if<std::int32_t>(&w.value)) out << *i;
    else if (const auto* s = std::get_if<std::string>(&w.value)) out << '"' << *s << '"';
    else out << (w.emptyArray ? "(empty)" : "(?)");
    out << " text \"" << w.text << '"';
    return out.str();
}

// --- The table ---

// kLost: an NW BMS that stopped answering (communication lost): what it read is invalid, what
// we keep (the History figures) and what the last reading said about the pack stay.
// kPack: a JK-PB pack with others on its bus (a bank member); kPb: one alone on its bus.
enum Kind : unsigned { kNw = 1, kPack = 2, kBle = 4, kBank = 8, kLost = 16, kPb = 32 };
constexpr unsigned kBatteries = kNw | kPack | kBle | kLost | kPb;
constexpr unsigned kAll = kBatteries | kBank;

const char* kindName(unsigned kind) {
    switch (kind) {
        case kNw: return "NW";
        case kPack: return "JK-PB pack (bank member)";
        case kPb: return "JK-PB pack (alone)";
        case kBle: return "BLE";
        case kBank: return "bank";
        case kLost: return "NW, lost";
    }
    return "?";
}

enum class Wire { Double, Int, String };

// Text formats (regular expressions on the whole text) of valid values.
constexpr const char* kVolt = R"(-?\d+\.\d{2}V)";
constexpr const char* kCellVolt = R"(\d+\.\d{3}V)";
constexpr const char* kCelsius = "-?\\d+\\.\\d\u00b0C";
constexpr const char* kPercent = R"(\d+\.\d%)";
constexpr const char* kDrawnAh = R"((-\d+\.\d|0\.0)Ah)";  // Victron: Ah drawn are <= 0
constexpr const char* kKWh = R"(\d+\.\d{2}kWh)";
constexpr const char* kSeconds = R"(\d+s)";
constexpr const char* kCount = R"(\d+)";
constexpr const char* kFlag = "[01]";
constexpr const char* kAlarm = "[012]";
constexpr const char* kAnyText = ".*";

struct Row {
    std::string_view path;
    Wire type;
    const char* text;        // the text of a valid value (a string's text is the string)
    unsigned on;             // the kinds that publish the path (absent on the others)
    unsigned invalidOn = 0;  // where it is Victron's invalid: an empty `ai`, text "---"
    unsigned eitherOn = 0;   // where valid or invalid are both right (depends on the BMS's data)
};

// Issue 17 item 3, and the paths next to them in which the kinds differ.
const Row kRows[] = {
    // What a battery says about its state and itself (victron-dbus.md 5.1, 5.2). A bank has
    // none of these but /Soh and /Alarms/BmsCable: /State may be omitted where not meaningful
    // (5.2), an unsupported alarm may be absent (5.6), and the bank keeps no history figures.
    {"/State", Wire::Int, kCount, kBatteries, kLost},
    {"/ConnectionInformation", Wire::String, kAnyText, kBatteries},
    {"/DeviceName", Wire::String, kAnyText, kBatteries},
    {"/Serial", Wire::String, kAnyText, kBatteries},
    {"/Soh", Wire::Double, kPercent, kAll, kLost},
    {"/Settings/HasTemperature", Wire::Int, kFlag, kBatteries},
    // No source on a JK: invalid ("not supported" to the alarm page, 5.6).
    {"/Alarms/StateOfHealth", Wire::Int, kAlarm, kBatteries, kBatteries},
    {"/Alarms/FuseBlown", Wire::Int, kAlarm, kBatteries, kBatteries},
    {"/Alarms/BmsCable", Wire::Int, kAlarm, kAll},

    // The History page (5.7): the figures we keep (charge.enabled) on each battery.
    {"/History/MinimumVoltage", Wire::Double, kVolt, kBatteries},
    {"/History/MaximumVoltage", Wire::Double, kVolt, kBatteries},
    {"/History/MinimumCellVoltage", Wire::Double, kCellVolt, kBatteries},
    {"/History/MaximumCellVoltage", Wire::Double, kCellVolt, kBatteries},
    {"/History/MinimumTemperature", Wire::Double, kCelsius, kBatteries},
    {"/History/MaximumTemperature", Wire::Double, kCelsius, kBatteries},
    {"/History/ChargedEnergy", Wire::Double, kKWh, kBatteries},
    {"/History/DischargedEnergy", Wire::Double, kKWh, kBatteries},
    {"/History/DeepestDischarge", Wire::Double, kDrawnAh, kBatteries},
    {"/History/LastDischarge", Wire::Double, kDrawnAh, kBatteries},
    {"/History/AverageDischarge", Wire::Double, kDrawnAh, kBatteries, kLost},
    {"/History/FullDischarges", Wire::Int, kCount, kBatteries},
    {"/History/LowVoltageAlarms", Wire::Int, kCount, kBatteries},
    {"/History/HighVoltageAlarms", Wire::Int, kCount, kBatteries},
    {"/History/AutomaticSyncs", Wire::Int, kCount, kBatteries},
    // ... and the BMS's own counters, the engine's full-charge time, the clear button.
    {"/History/ChargeCycles", Wire::Int, kCount, kAll, kLost},
    {"/History/TotalAhDrawn", Wire::Double, kDrawnAh, kBatteries, kLost},
    {"/History/TimeSinceLastFullCharge", Wire::Double, kSeconds, kBatteries, kLost, kBatteries & ~kLost},
    {"/History/CanBeCleared", Wire::Int, kFlag, kAll},
    {"/History/Clear", Wire::Int, kFlag, kBatteries},

    // Modules (5.5): the bank's own, and what each service has.
    {"/System/NrOfBatteries", Wire::Int, kCount, kBank},
    {"/System/BatteriesParallel", Wire::Int, kCount, kBank},
    {"/System/BatteriesSeries", Wire::Int, kCount, kBank},
    {"/System/NrOfModulesOnline", Wire::Int, kCount, kAll},
    {"/System/NrOfModulesOffline", Wire::Int, kCount, kAll},
    {"/System/NrOfModulesBlockingCharge", Wire::Int, kCount, kAll, kLost},
    {"/System/NrOfModulesBlockingDischarge", Wire::Int, kCount, kAll, kLost},
    {"/System/NrOfCellsPerBattery", Wire::Int, kCount, kAll},
    {"/System/MinCellVoltage", Wire::Double, kCellVolt, kAll, kLost},
    {"/System/MaxCellVoltage", Wire::Double, kCellVolt, kAll, kLost},
    {"/System/MinCellTemperature", Wire::Double, kCelsius, kAll, kLost},
    {"/System/MaxCellTemperature", Wire::Double, kCelsius, kAll, kLost},

    // DVCC (5.3): a bank member's limits are its bank's, under /Bank/* - it is no BMS to
    // systemcalc; the bank is.
    {"/Info/MaxChargeVoltage", Wire::Double, kVolt, kNw | kLost | kPb | kBle | kBank, kLost},
    {"/Bank/MaxChargeVoltage", Wire::Double, kVolt, kPack},
    {"/Bank/Service", Wire::String, kAnyText, kPack},
};

const char* typeSignature(Wire w) { return w == Wire::Double ? "d" : w == Wire::Int ? "i" : "s"; }

// Every row on `items` of a service of `kind`; `exact` adds the values this case knows.
// Returns the number of paths checked present.
int checkTable(unsigned kind, const WireItems& items, const std::map<std::string, dbus::Value>& exact) {
    int present = 0;
    if (items.empty()) {
        ADD_FAILURE() << kindName(kind) << ": no items";
        return 0;
    }
    for (const Row& row : kRows) {
        const std::string path{row.path};
        SCOPED_TRACE(std::string{kindName(kind)} + " " + path);
        const auto it = items.find(path);
        if (!(row.on & kind)) {
            if (it != items.end()) ADD_FAILURE() << "not published on this kind, but is: " << describe(it->second);
            continue;
        }
        if (it == items.end()) {
            ADD_FAILURE() << "missing";
            continue;
        }
        ++present;
        const WireItem& w = it->second;
        const bool invalid = w.type == "ai";
        if (invalid) {
            EXPECT_TRUE(w.emptyArray) << "Victron's invalid is an empty ai: " << describe(w);
            EXPECT_EQ(w.text, "---");
            EXPECT_TRUE((row.invalidOn | row.eitherOn) & kind) << "invalid, expected a value";
            continue;
        }
        EXPECT_FALSE(row.invalidOn & kind) << "expected invalid (an empty ai), is " << describe(w);
        EXPECT_EQ(w.type, typeSignature(row.type)) << describe(w);
        if (row.type == Wire::String) {
            EXPECT_EQ(w.text, std::get_if<std::string>(&w.value) ? std::get<std::string>(w.value) : "?") << describe(w);
        } else {
            EXPECT_TRUE(std::regex_match(w.text, std::regex{row.text})) << "text not as " << row.text << ": " << describe(w);
            if (const auto* i = std::get_if<std::int32_t>(&w.value)) {
                EXPECT_EQ(w.text, std::to_string(*i));
            }
            if (const auto* d = std::get_if<double>(&w.value)) {
                // The text is the value, rounded to the digits it shows.
                const auto dot = w.text.find('.');
                std::size_t decimals = 0;
                if (dot != std::string::npos)
                    while (dot + 1 + decimals < w.text.size() && std::isdigit(static_cast<unsigned char>(w.text[dot + 1 + decimals])))
                        ++decimals;
                const double shown = std::strtod(w.text.c_str(), nullptr);
                EXPECT_LE(std::fabs(shown - *d), 0.5 * std::pow(10.0, -static_cast<double>(decimals)) + 1e-9)
                    << describe(w);
            }
        }
    }
    for (const auto& [path, expected] : exact) {
        SCOPED_TRACE(std::string{kindName(kind)} + " " + path);
        const auto it = items.find(path);
        if (it == items.end()) {
            ADD_FAILURE() << "missing";
            continue;
        }
        if (const auto* d = std::get_if<double>(&expected)) {
            const auto* got = std::get_if<double>(&it->second.value);
            EXPECT_TRUE(got && std::fabs(*got - *d) < 1e-6) << "expected " << *d << ", is " << describe(it->second);
        } else {
            EXPECT_EQ(it->second.value, expected) << describe(it->second);
        }
    }
    return present;
}

int rowsOn(unsigned kind) {
    return static_cast<int>(std::count_if(std::begin(kRows), std::end(kRows), [kind](const Row& r) { return r.on & kind; }));
}

// --- Running daemons ---

class PathsTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        link = (std::filesystem::temp_directory_path() /
                ("jkpaths" + std::to_string(::getpid()) + "_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                   .string();
    }
    void TearDown() override {
        bankDaemon.reset();
        daemon.reset();
        daemonTwo.reset();
        bluez.reset();
        pty.reset();
        ptyTwo.reset();
    }

    DaemonOptions options() const {
        DaemonOptions o;
        o.config.poll.interval = 200ms;
        o.config.poll.timeout = 150ms;
        o.config.comms = domain::CommsTimes{1500ms, 3000ms, 0ms};
        o.config.dbus.address = PrivateBus::address();
        o.config.dbus.settingsWait = 100ms;  // no localsettings on this bus
        o.config.charge.stateDir = "";       // the history is kept in memory only here
        o.version = "test";
        return o;
    }

    static bool valid(const dbus::BatteryService* s, std::string_view path) {
        const dbus::Item* item = s ? s->items().find(path) : nullptr;
        return item && dbus::isValid(item->value);
    }
    // Registered, with a reading stepped into the history (the charge engine, and with it the
    // history, starts once localsettings has answered or was waited for).
    static bool ready(const dbus::BatteryService* s) {
        return s && s->state() == dbus::BatteryService::State::Registered && valid(s, "/History/MinimumVoltage");
    }

    boost::asio::io_context io;
    std::string link;
    // The BMSes (NW, BLE: bms; JK-PB: one and two), before what plays them.
    sim::SimulatedBms bms{16}, one{16}, two{16};
    sim::NwResponder nw{bms}, nwOne{one}, nwTwo{two};
    sim::PbResponder pb;
    std::uint8_t counter = 0;
    std::unique_ptr<sim::PtyServer> pty, ptyTwo;
    std::unique_ptr<test::FakeBluez> bluez;
    std::unique_ptr<Daemon> daemon, daemonTwo;
    std::unique_ptr<BankDaemon> bankDaemon;
};

TEST_F(PathsTest, NwBms) {
    bms.setLive(false);
    bms.state().currentA = -12.5;
    bms.state().deviceId = "Shed";         // a device id the user set: the NW serial and name
    bms.state().actualCapacityAh = 266;    // firmware >= 10.10: SoH = 266 / 280
    bms.state().temperature1C = 21;
    bms.state().temperature2C = 23;
    pty = std::make_unique<sim::PtyServer>(io, nw, sim::PtyServer::Options{link, 400ms});
    auto o = options();
    o.config.serial.port = link;
    o.config.serial.protocol = "nw";
    daemon = std::make_unique<Daemon>(io, std::move(o));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return ready(daemon->service()) && valid(daemon->service(), "/Info/MaxChargeVoltage"); }, 5s));
    const WireItems items = getItems(io, daemon->service()->busName());
    const int checked = checkTable(kNw, items,
                                   {{"/State", std::int32_t{9}},
                                    {"/ConnectionInformation", std::string{"answering"}},
                                    {"/DeviceName", std::string{"Shed"}},
                                    {"/Serial", std::string{"Shed"}},
                                    {"/Soh", 100.0 * 266 / 280},
                                    {"/Settings/HasTemperature", std::int32_t{1}},
                                    {"/History/MinimumVoltage", 16 * 3.3},
                                    {"/History/MinimumCellVoltage", 3.3},
                                    {"/History/MinimumTemperature", 21.0},
                                    {"/History/MaximumTemperature", 23.0},
                                    {"/History/DeepestDischarge", -266 * 0.4},
                                    {"/History/AverageDischarge", -280.0},  // 12 cycles x 280 Ah drawn / 12
                                    {"/History/ChargeCycles", std::int32_t{12}},
                                    {"/History/CanBeCleared", std::int32_t{1}},
                                    {"/System/NrOfCellsPerBattery", std::int32_t{16}}});
    EXPECT_EQ(checked, rowsOn(kNw));
    EXPECT_EQ(items.at("/History/MinimumTemperature").text, "21.0\u00b0C");
    EXPECT_EQ(items.at("/History/MinimumVoltage").text, "52.80V");
    EXPECT_EQ(items.at("/History/MinimumCellVoltage").text, "3.300V");
    EXPECT_EQ(items.at("/History/DeepestDischarge").text, "-106.4Ah");
    EXPECT_EQ(items.at("/Soh").text, "95.0%");
    // Each leaf answers as GetItems said (victron-dbus.md 2.1).
    const std::string name = daemon->service()->busName();
    auto call = [&](const char* path, const char* method) {
        return test::busctl(io, {"call", name, path, std::string{dbus::kBusItemInterface}, method}).out;
    };
    EXPECT_EQ(call("/History/MinimumVoltage", "GetValue"), "v d 52.8\n");
    EXPECT_EQ(call("/History/MinimumVoltage", "GetText"), "s \"52.80V\"\n");
    EXPECT_EQ(call("/State", "GetValue"), "v i 9\n");
    EXPECT_EQ(call("/Settings/HasTemperature", "GetValue"), "v i 1\n");
    EXPECT_EQ(call("/Alarms/FuseBlown", "GetValue"), "v ai 0\n");
    EXPECT_EQ(call("/Alarms/FuseBlown", "GetText"), "s \"---\"\n");
}

// The NW BMS stops answering: once communication is lost, what it read goes invalid (/State,
// /Soh, its counters, DVCC), the History figures we keep stay, and so does what the last
// reading said (its name, serial, cell count, HasTemperature: the History page keeps its rows).
TEST_F(PathsTest, NwBmsNotAnswering) {
    bms.setLive(false);
    bms.state().deviceId = "Shed";
    bms.state().actualCapacityAh = 266;
    pty = std::make_unique<sim::PtyServer>(io, nw, sim::PtyServer::Options{link, 400ms});
    auto o = options();
    o.config.serial.port = link;
    o.config.serial.protocol = "nw";
    o.config.comms = domain::CommsTimes{500ms, 1000ms, 0ms};
    daemon = std::make_unique<Daemon>(io, std::move(o));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return ready(daemon->service()) && valid(daemon->service(), "/Info/MaxChargeVoltage"); }, 5s));
    pty->setFault(sim::Fault::Silence);
    ASSERT_TRUE(pumpUntil(io, [&] {
        const dbus::Item* connected = daemon->service()->items().find("/Connected");
        return connected && connected->value == dbus::Value{std::int32_t{0}};
    }, 3s));
    const WireItems items = getItems(io, daemon->service()->busName());
    const int checked = checkTable(kLost, items,
                                   {{"/ConnectionInformation", std::string{"not answering: values invalid"}},
                                    {"/Alarms/BmsCable", std::int32_t{2}},
                                    {"/DeviceName", std::string{"Shed"}},
                                    {"/Serial", std::string{"Shed"}},
                                    {"/Settings/HasTemperature", std::int32_t{1}},
                                    {"/History/MinimumVoltage", 16 * 3.3},
                                    {"/History/DeepestDischarge", -266 * 0.4},
                                    {"/History/CanBeCleared", std::int32_t{1}},
                                    {"/System/NrOfModulesOnline", std::int32_t{0}},
                                    {"/System/NrOfModulesOffline", std::int32_t{1}},
                                    {"/System/NrOfCellsPerBattery", std::int32_t{16}}});
    EXPECT_EQ(checked, rowsOn(kLost));
    const std::string name = daemon->service()->busName();
    auto call = [&](const char* path, const char* method) {
        return test::busctl(io, {"call", name, path, std::string{dbus::kBusItemInterface}, method}).out;
    };
    EXPECT_EQ(call("/State", "GetValue"), "v ai 0\n");
    EXPECT_EQ(call("/State", "GetText"), "s \"---\"\n");
    EXPECT_EQ(call("/History/MinimumVoltage", "GetValue"), "v d 52.8\n");
}

// Two JK-PB packs on one bus: each a bank member (its limits under /Bank/*), and the bank.
TEST_F(PathsTest, JkPbPacksAndTheirBank) {
    for (auto* b : {&one, &two}) {
        b->setLive(false);
        b->state().currentA = -6.0;
    }
    one.state().serialNumber = "PBONE";
    two.state().serialNumber = "PBTWO";
    two.state().temperature1C = 31;
    pb.addPack(1, one);
    pb.addPack(2, two);
    pty = std::make_unique<sim::PtyServer>(io, pb, sim::PtyServer::Options{link, 400ms});
    auto o = options();
    o.config.serial.port = link;
    o.config.serial.protocol = "pb";
    o.config.serial.addresses = {1, 2};
    o.config.poll.interval = 400ms;
    o.config.poll.timeout = 100ms;
    o.config.poll.pacing = 100ms;
    daemon = std::make_unique<Daemon>(io, std::move(o));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] {
        const auto* bank = daemon->bankService();
        return ready(daemon->service(1)) && ready(daemon->service(2)) && bank &&
               bank->state() == dbus::BatteryService::State::Registered && valid(bank, "/Info/MaxChargeVoltage");
    }, 8s));
    for (const std::uint8_t a : std::array<std::uint8_t, 2>{1, 2}) {
        const std::string serial = a == 1 ? "PBONE" : "PBTWO";
        const WireItems items = getItems(io, daemon->service(a)->busName());
        const int checked = checkTable(kPack, items,
                                       {{"/State", std::int32_t{9}},
                                        {"/ConnectionInformation", std::string{"answering"}},
                                        {"/DeviceName", serial},  // the simulator's name field is its serial
                                        {"/Serial", serial},
                                        {"/Soh", 100.0},
                                        {"/Settings/HasTemperature", std::int32_t{1}},
                                        {"/Bank/Service", daemon->bankService()->busName()},
                                        {"/History/MaximumTemperature", a == 1 ? 25.0 : 31.0},
                                        {"/History/CanBeCleared", std::int32_t{1}}});
        EXPECT_EQ(checked, rowsOn(kPack));
    }
    const WireItems bank = getItems(io, daemon->bankService()->busName());
    const int checked = checkTable(kBank, bank,
                                   {{"/System/NrOfBatteries", std::int32_t{2}},
                                    {"/System/BatteriesParallel", std::int32_t{2}},
                                    {"/System/BatteriesSeries", std::int32_t{1}},
                                    {"/System/NrOfModulesOnline", std::int32_t{2}},
                                    {"/System/NrOfModulesOffline", std::int32_t{0}},
                                    {"/System/NrOfCellsPerBattery", std::int32_t{16}},
                                    {"/System/MaxCellTemperature", 31.0},
                                    {"/Soh", 100.0},
                                    {"/History/CanBeCleared", std::int32_t{0}}});
    EXPECT_EQ(checked, rowsOn(kBank));
}

// One JK-PB pack on its bus: no bank, its limits its own (/Info/*).
TEST_F(PathsTest, JkPbPackAlone) {
    one.setLive(false);
    one.state().serialNumber = "PBALONE";
    one.state().currentA = 4.0;
    pb.addPack(1, one);
    pty = std::make_unique<sim::PtyServer>(io, pb, sim::PtyServer::Options{link, 400ms});
    auto o = options();
    o.config.serial.port = link;
    o.config.serial.protocol = "pb";
    o.config.serial.addresses = {1};
    o.config.poll.interval = 400ms;
    o.config.poll.timeout = 100ms;
    o.config.poll.pacing = 100ms;
    daemon = std::make_unique<Daemon>(io, std::move(o));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return ready(daemon->service(1)) && valid(daemon->service(1), "/Info/MaxChargeVoltage"); }, 5s));
    EXPECT_EQ(daemon->bankService(), nullptr);
    const WireItems items = getItems(io, daemon->service(1)->busName());
    const int checked = checkTable(kPb, items,
                                   {{"/State", std::int32_t{9}},
                                    {"/ConnectionInformation", std::string{"answering"}},
                                    {"/DeviceName", std::string{"PBALONE"}},
                                    {"/Serial", std::string{"PBALONE"}},
                                    {"/Soh", 100.0},
                                    {"/Settings/HasTemperature", std::int32_t{1}},
                                    {"/History/MinimumCellVoltage", 3.3},
                                    {"/History/CanBeCleared", std::int32_t{1}}});
    EXPECT_EQ(checked, rowsOn(kPb));
}

TEST_F(PathsTest, BleBms) {
    bms.setLive(false);
    bms.state().currentA = -9.75;
    bms.state().serialNumber = "BLE123";
    auto vec = [](const std::array<std::uint8_t, 300>& a) { return test::FakeBluez::Frame{a.begin(), a.end()}; };
    constexpr const char* kMac = "C8:47:8C:00:00:02";
    bluez = std::make_unique<test::FakeBluez>(
        io, PrivateBus::address(), kMac,
        test::FakeBluez::Frames{[this, vec] { return vec(bms.jk02DeviceInfoFrame(counter++)); },
                                [this, vec] { return vec(bms.jk02SettingsFrame(counter++, 0)); },
                                [this, vec] { return vec(bms.jk02CellInfoFrame(counter++)); }});
    auto o = options();
    o.config.ble.mac = kMac;
    o.config.poll.interval = 300ms;
    daemon = std::make_unique<Daemon>(io, std::move(o));
    daemon->start();
    ASSERT_TRUE(pumpUntil(io, [&] { return ready(daemon->service()) && valid(daemon->service(), "/Info/MaxChargeVoltage"); }, 5s));
    const WireItems items = getItems(io, daemon->service()->busName());
    const int checked = checkTable(kBle, items,
                                   {{"/State", std::int32_t{9}},
                                    {"/ConnectionInformation", std::string{"answering"}},
                                    {"/DeviceName", std::string{"BLE123"}},
                                    {"/Serial", std::string{"BLE123"}},
                                    {"/Soh", 100.0},
                                    {"/Settings/HasTemperature", std::int32_t{1}},
                                    {"/History/MinimumCellVoltage", 3.3},
                                    {"/History/DeepestDischarge", -112.0},
                                    {"/History/CanBeCleared", std::int32_t{1}}});
    EXPECT_EQ(checked, rowsOn(kBle));
}

// dbus-jkbms --bank over two NW daemons with bank.member set: the members publish as a
// JK-PB pack does (limits under /Bank/*), the bank daemon's service as the in-process bank.
TEST_F(PathsTest, BankDaemonOverNwMembers) {
    const std::string tag = std::to_string(::getpid());
    std::vector<std::unique_ptr<Daemon>*> daemons{&daemon, &daemonTwo};
    for (int i = 0; i < 2; ++i) {
        sim::SimulatedBms& b = i == 0 ? one : two;
        b.setLive(false);
        b.state().deviceId = i == 0 ? "MemberA" : "MemberB";
        b.state().actualCapacityAh = 280;
        b.state().currentA = 3.5;
        auto& port = i == 0 ? pty : ptyTwo;
        const std::string path = link + (i == 0 ? "A" : "B");
        port = std::make_unique<sim::PtyServer>(io, i == 0 ? nwOne : nwTwo, sim::PtyServer::Options{path, 400ms});
        auto o = options();
        o.config.serial.port = path;
        o.config.serial.protocol = "nw";
        o.config.bank.member = true;
        *daemons[static_cast<std::size_t>(i)] = std::make_unique<Daemon>(io, std::move(o));
        (*daemons[static_cast<std::size_t>(i)])->start();
    }
    config::Config c;
    c.comms = domain::CommsTimes{1500ms, 3000ms, 0ms};
    c.dbus.address = PrivateBus::address();
    c.dbus.settingsWait = 100ms;
    c.dbus.deviceInstance = 7;
    c.bank.name = "pathsbank_" + tag;
    bankDaemon = std::make_unique<BankDaemon>(io, std::move(c), "test");
    bankDaemon->start();
    auto is = [](const dbus::BatteryService* s, std::string_view path, const dbus::Value& v) {
        const dbus::Item* item = s ? s->items().find(path) : nullptr;
        return item && item->value == v;
    };
    ASSERT_TRUE(pumpUntil(io, [&] {
        const auto* bank = bankDaemon->service();
        return ready(daemon->service()) && ready(daemonTwo->service()) && valid(daemon->service(), "/Bank/MaxChargeVoltage") &&
               valid(daemonTwo->service(), "/Bank/MaxChargeVoltage") && bank &&
               bank->state() == dbus::BatteryService::State::Registered && valid(bank, "/Info/MaxChargeVoltage") &&
               is(bank, "/System/NrOfModulesOnline", std::int32_t{2});
    }, 8s));
    for (const auto* d : {daemon.get(), daemonTwo.get()}) {
        const WireItems items = getItems(io, d->service()->busName());
        const std::string id = d == daemon.get() ? "MemberA" : "MemberB";
        const int checked = checkTable(kPack, items,
                                       {{"/State", std::int32_t{9}},
                                        {"/DeviceName", id},
                                        {"/Serial", id},
                                        {"/Soh", 100.0},
                                        {"/Bank/Service", std::string{}},  // served by no bank in its own daemon
                                        {"/History/CanBeCleared", std::int32_t{1}}});
        EXPECT_EQ(checked, rowsOn(kPack));
    }
    const WireItems bank = getItems(io, bankDaemon->service()->busName());
    const int checked = checkTable(kBank, bank,
                                   {{"/System/NrOfBatteries", std::int32_t{2}},
                                    {"/System/BatteriesParallel", std::int32_t{2}},
                                    {"/System/BatteriesSeries", std::int32_t{1}},
                                    {"/System/NrOfModulesOnline", std::int32_t{2}},
                                    {"/System/NrOfModulesOffline", std::int32_t{0}},
                                    {"/Soh", 100.0},
                                    {"/History/ChargeCycles", std::int32_t{12}},
                                    {"/History/CanBeCleared", std::int32_t{0}}});
    EXPECT_EQ(checked, rowsOn(kBank));
}

// --- The history across a restart ---

// The /History figures of issue 17 (AverageDischarge is the BMS's own counters over its
// cycles: the same BMS gives the same figure after the restart).
constexpr std::string_view kHistoryPaths[] = {
    "/History/MinimumVoltage",     "/History/MaximumVoltage",     "/History/MinimumCellVoltage",
    "/History/MaximumCellVoltage", "/History/MinimumTemperature", "/History/MaximumTemperature",
    "/History/ChargedEnergy",      "/History/DischargedEnergy",   "/History/DeepestDischarge",
    "/History/LastDischarge",      "/History/AverageDischarge",   "/History/FullDischarges",
    "/History/LowVoltageAlarms",   "/History/HighVoltageAlarms",  "/History/AutomaticSyncs",
};

// Each run is one daemon "process": its own loop, BMS and daemon, stopped as by SIGTERM; with
// localsettings also its own com.victronenergy.settings, preset with what the previous run
// stored there.
class HistoryRestartTest : public ::testing::Test {
protected:
    using Drive = std::function<void(boost::asio::io_context&, Daemon&, sim::SimulatedBms&, sim::PtyServer&)>;

    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        const std::string tag = std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
        link = (std::filesystem::temp_directory_path() / ("jkhist" + tag)).string();
        dir = std::filesystem::temp_directory_path() / ("jkhist-state" + tag);
        std::filesystem::remove_all(dir);
    }
    void TearDown() override { std::filesystem::remove_all(dir); }

    DaemonOptions options(bool localsettings) const {
        DaemonOptions o;
        o.config.serial.port = link;
        o.config.serial.protocol = "nw";
        o.config.poll.interval = 100ms;
        o.config.poll.timeout = 80ms;
        o.config.comms = domain::CommsTimes{1000ms, 2000ms, 0ms};
        o.config.dbus.address = PrivateBus::address();
        o.config.dbus.settingsWait = localsettings ? 5000ms : 100ms;
        o.config.charge.enabled = true;  // the history is kept with the charge state
        o.config.charge.stateDir = dir.string();
        o.version = "test";
        return o;
    }

    // The charge state as saved: localsettings' ChargeState of this battery during a run with
    // it, else the state file.
    std::string saved() const {
        if (settings_) {
            for (const auto& [path, value] : settings_->values())
                if (path.ends_with("/ChargeState")) return value;
            return {};
        }
        std::ifstream in(statePath_);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

    // `initial`: the BMS at the start. `drive` plays it; then the daemon stops (SIGTERM) and the
    // loop runs on until `savedEnough(saved())` (localsettings stores on its own connection).
    void run(const DaemonOptions& o, std::map<std::string, std::string>* kept, const sim::BmsState& initial,
             const Drive& drive, const std::function<bool(const std::string&)>& savedEnough) {
        boost::asio::io_context runIo;
        std::optional<test::FakeSettings> settings;
        if (kept) {
            settings.emplace(runIo, PrivateBus::address());
            for (const auto& [path, value] : *kept) settings->preset(path, value);
            settings_ = &*settings;
        }
        struct Forget {
            const test::FakeSettings*& p;
            ~Forget() { p = nullptr; }
        } forget{settings_};
        sim::SimulatedBms bms{16};
        bms.setLive(false);
        bms.state() = initial;
        sim::NwResponder nw{bms};
        sim::PtyServer port(runIo, nw, sim::PtyServer::Options{link, 400ms});
        Daemon d(runIo, o);
        d.start();
        ASSERT_TRUE(pumpUntil(runIo, [&] {
            const auto* s = d.service();
            const dbus::Item* min = s ? s->items().find("/History/MinimumVoltage") : nullptr;
            return s && s->state() == dbus::BatteryService::State::Registered && min && dbus::isValid(min->value);
        }, 6s));
        statePath_ = (dir / (d.service()->uniqueId() + ".state")).string();
        drive(runIo, d, bms, port);
        if (!crash_) {
            // A clean stop saves what the hourly save has not yet.
            std::raise(SIGTERM);
            ASSERT_TRUE(pumpUntil(runIo, [&] { return runIo.stopped(); }, 3s));
            runIo.restart();
        }
        // Crashed: the daemon is gone without a stop (nothing saved at its end).
        EXPECT_TRUE(pumpUntil(runIo, [&] { return savedEnough(saved()); }, 2s)) << "saved: " << saved();
        if (kept) *kept = settings->values();
    }

    static const dbus::Value* value(Daemon& d, std::string_view path) {
        const dbus::Item* item = d.service() ? d.service()->items().find(path) : nullptr;
        return item ? &item->value : nullptr;
    }
    static bool near(Daemon& d, std::string_view path, double expected) {
        const dbus::Value* v = value(d, path);
        const auto* x = v ? std::get_if<double>(v) : nullptr;
        return x && std::fabs(*x - expected) < 1e-6;
    }
    static bool above(Daemon& d, std::string_view path, double than) {
        const dbus::Value* v = value(d, path);
        const auto* x = v ? std::get_if<double>(v) : nullptr;
        return x && *x > than;
    }
    static bool count(Daemon& d, std::string_view path, std::int32_t n) {
        const dbus::Value* v = value(d, path);
        return v && *v == dbus::Value{n};
    }

    // `crash`: run 1 ends without a stop (a power cut): what the events saved is all there is.
    void historyAcrossARestart(bool localsettings, bool crash = false);
    bool crash_ = false;  // the next run() ends without a stop

    std::string link;
    std::filesystem::path dir;
    std::string statePath_;
    const test::FakeSettings* settings_ = nullptr;
};

void HistoryRestartTest::historyAcrossARestart(bool localsettings, bool crash) {
    const auto o = options(localsettings);
    std::map<std::string, std::string> kept;
    auto* keep = localsettings ? &kept : nullptr;

    // Run 1: a discharge to empty, a charge to full, both protections tripped once, then at
    // rest at 80 % - every figure moves away from its first reading.
    sim::BmsState start;
    start.deviceId = "History";  // an id of its own: keyed by the BMS, not the port
    start.currentA = -40;
    start.socPercent = 30;
    WireItems first;
    crash_ = crash;
    run(o, keep, start, [&](boost::asio::io_context& io, Daemon& d, sim::SimulatedBms& bms, sim::PtyServer&) {
        auto& s = bms.state();
        s.cellsV.assign(16, 3.20);
        s.cellsV[2] = 3.05;
        s.temperature2C = 12;
        s.socPercent = 0;
        ASSERT_TRUE(pumpUntil(io, [&] {
            return near(d, "/History/MinimumCellVoltage", 3.05) && near(d, "/History/MinimumTemperature", 12) &&
                   near(d, "/History/DeepestDischarge", -280) && count(d, "/History/FullDischarges", 1) &&
                   above(d, "/History/DischargedEnergy", 0);
        }, 3s));
        // An event (a full discharge) is saved at once, not at the hourly save.
        EXPECT_TRUE(pumpUntil(io, [&] { return saved().find("history_full_discharges=1") != std::string::npos; }, 2s))
            << saved();

        s.cellsV.assign(16, 3.40);
        s.cellsV[6] = 3.45;
        s.temperature1C = 41;
        s.currentA = 30;
        s.socPercent = 100;
        ASSERT_TRUE(pumpUntil(io, [&] {
            return near(d, "/History/MaximumCellVoltage", 3.45) && near(d, "/History/MaximumTemperature", 41) &&
                   count(d, "/History/AutomaticSyncs", 1) && near(d, "/History/LastDischarge", 0) &&
                   above(d, "/History/ChargedEnergy", 0);
        }, 3s));

        s.alarms = 1U << 10;  // cell over-voltage protection (jk-protocols.md 1.7)
        ASSERT_TRUE(pumpUntil(io, [&] { return count(d, "/History/HighVoltageAlarms", 1); }, 2s));
        s.alarms = 1U << 11;  // cell under-voltage protection
        ASSERT_TRUE(pumpUntil(io, [&] { return count(d, "/History/LowVoltageAlarms", 1); }, 2s));
        EXPECT_TRUE(pumpUntil(io, [&] { return saved().find("history_low_v_alarms=1") != std::string::npos; }, 2s))
            << saved();

        // At rest at 80 %: nothing integrated any more, the figures stay as they are now.
        s.alarms = 0;
        s.cellsV.assign(16, 3.30);
        s.temperature1C = s.temperature2C = 25;
        s.currentA = 0;
        s.socPercent = 80;
        ASSERT_TRUE(pumpUntil(io, [&] {
            return near(d, "/Dc/0/Current", 0) && near(d, "/History/LastDischarge", -56);
        }, 2s));
        first = getItems(io, d.service()->busName());
    }, [crash](const std::string& text) {
        // The figures of the last readings, which no event saved: written at the stop.
        return (crash || text.find("history_last_ah=-56") != std::string::npos) &&
               text.find("history_low_v_alarms=1") != std::string::npos;
    });
    crash_ = false;
    ASSERT_FALSE(HasFatalFailure());
    if (localsettings) {
        EXPECT_FALSE(std::filesystem::exists(statePath_)) << "no state file while localsettings keeps it";
    }

    // Run 2: the same BMS (its counters where they were), other readings - inside run 1's
    // extremes, shallower, at rest. A daemon that did not restore would show these.
    sim::BmsState later;
    later.deviceId = "History";
    later.cellsV.assign(16, 3.32);
    later.temperature1C = 20;
    later.temperature2C = 22;
    later.currentA = 0;
    later.socPercent = 90;
    WireItems second;
    run(o, keep, later, [&](boost::asio::io_context& io, Daemon& d, sim::SimulatedBms&, sim::PtyServer& port) {
        // Readings of this run stepped into the restored history.
        const auto answers = port.answers();
        ASSERT_TRUE(pumpUntil(io, [&] { return port.answers() >= answers + 3 && near(d, "/Dc/0/Voltage", 16 * 3.32); }, 3s));
        second = getItems(io, d.service()->busName());
    }, [](const std::string&) { return true; });
    ASSERT_FALSE(HasFatalFailure());

    for (std::string_view p : kHistoryPaths) {
        const std::string path{p};
        SCOPED_TRACE(path);
        // After a crash: what moved after the last event (the low-voltage trip) is lost - the
        // charged energy of the readings since, the last discharge of the rest at 80 %.
        if (crash && (p == "/History/ChargedEnergy" || p == "/History/LastDischarge")) continue;
        ASSERT_TRUE(first.contains(path) && second.contains(path));
        const WireItem& a = first.at(path);
        const WireItem& b = second.at(path);
        EXPECT_EQ(a.type, b.type);
        EXPECT_EQ(a.text, b.text);
        // Saved with 6 significant digits (battery_history.hpp).
        if (const auto* x = std::get_if<double>(&a.value)) {
            const auto* y = std::get_if<double>(&b.value);
            EXPECT_TRUE(y && std::fabs(*x - *y) <= 1e-5 * std::fabs(*x)) << describe(a) << " then " << describe(b);
        } else {
            EXPECT_EQ(a.value, b.value) << describe(a) << " then " << describe(b);
        }
    }
    // Not this run's readings (53.12 V, 3.32 V a cell, 20-22 degC, -28 Ah).
    EXPECT_EQ(second["/History/MinimumVoltage"].text, "51.05V");
    EXPECT_EQ(second["/History/MaximumVoltage"].text, "54.45V");
    EXPECT_EQ(second["/History/MinimumCellVoltage"].text, "3.050V");
    EXPECT_EQ(second["/History/MaximumCellVoltage"].text, "3.450V");
    EXPECT_EQ(second["/History/MinimumTemperature"].text, "12.0\u00b0C");
    EXPECT_EQ(second["/History/MaximumTemperature"].text, "41.0\u00b0C");
    EXPECT_EQ(second["/History/DeepestDischarge"].text, "-280.0Ah");
    EXPECT_EQ(second["/History/LastDischarge"].text, crash ? "-28.0Ah" : "-56.0Ah");
    EXPECT_EQ(second["/History/FullDischarges"].value, dbus::Value{std::int32_t{1}});
    EXPECT_EQ(second["/History/AutomaticSyncs"].value, dbus::Value{std::int32_t{1}});
    EXPECT_EQ(second["/History/LowVoltageAlarms"].value, dbus::Value{std::int32_t{1}});
    EXPECT_EQ(second["/History/HighVoltageAlarms"].value, dbus::Value{std::int32_t{1}});
    for (const char* energy : {"/History/ChargedEnergy", "/History/DischargedEnergy"}) {
        const auto* kWh = std::get_if<double>(&second[energy].value);
        EXPECT_TRUE(kWh && *kWh > 0) << energy << ": " << describe(second[energy]);
    }
}

// Without localsettings: kept in the state file under charge.state_dir.
TEST_F(HistoryRestartTest, KeptInTheStateFile) { historyAcrossARestart(false); }

// With localsettings: kept in the battery's ChargeState setting, no file.
TEST_F(HistoryRestartTest, KeptInLocalsettings) { historyAcrossARestart(true); }

// A power cut: no stop, so only what the events (a full discharge, a sync, a protection trip)
// saved at once comes back; the other figures are saved hourly (battery_unit.cpp).
TEST_F(HistoryRestartTest, EventsSurviveAPowerCut) { historyAcrossARestart(false, true); }

}  // namespace
}  // namespace jkbms::app
