#include "jkbms/cli/device_commands.hpp"

#include <boost/asio/signal_set.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <map>

#include "jkbms/charge/charge_engine.hpp"
#include "jkbms/cli/device.hpp"
#include "jkbms/cli/device_options.hpp"
#include "jkbms/cli/reading_view.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include "jkbms/dbus/bus_address.hpp"

namespace jkbms::cli {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kDeviceOptions =
    "  --serial PORT        the BMS's UART / RS485 port (115200 baud)\n"
    "  --ble MAC            the BMS over Bluetooth LE, through BlueZ\n"
    "  --protocol nw|pb|ble what the BMS speaks; on a serial port NW is tried first, then JK-PB\n"
    "  --address N          JK-PB DIP address 0-15 (default 1; implies --protocol pb)\n"
    "  --adapter hciN       Bluetooth adapter (default hci0)\n"
    "  --dbus-address ADDR  the D-Bus BlueZ is on (default: the system bus)\n"
    "  --timeout T          per request (default 1s serial, 30s BLE); 500ms, 2s\n";

constexpr std::string_view kReadUsage =
    "usage: jkbms read (--serial PORT | --ble MAC) [--protocol nw|pb|ble] [--address N] [--json]\n"
    "\n"
    "Reads the BMS once and prints what it tells: identity (model, hardware and software\n"
    "version, serial), cells, pack voltage, current and power, SoC, temperatures, switches,\n"
    "alarms and its protection settings; as a table, or with --json as one JSON object.\n"
    "\n"
    "options:\n";
constexpr std::string_view kReadExamples =
    "  --json               one JSON object (absent values are null)\n"
    "\n"
    "examples:\n"
    "  jkbms read --serial /dev/ttyUSB0\n"
    "  jkbms read --serial /dev/ttyUSB0 --address 2 --json\n"
    "  jkbms read --ble C8:47:8C:12:34:56\n"
    "\n"
    "Exit code 0 read, 1 no answer (the message says what was tried), 2 bad usage.\n";

constexpr std::string_view kWatchUsage =
    "usage: jkbms watch (--serial PORT | --ble MAC | --dbus [--service NAME]) [options]\n"
    "\n"
    "A live dashboard, redrawn on every reading: cells as bars (^ highest, v lowest, ~\n"
    "balancing), pack voltage, current, power and SoC, temperatures, switches, and the\n"
    "charge state with CVL / CCL / DCL and what limits them. With --serial / --ble the limits\n"
    "are what dbus-jkbms would set with its default charge settings; with --dbus they are\n"
    "the running daemon's own (any com.victronenergy.battery service can be watched).\n"
    "When standard output is no terminal (or with --plain) it prints one line per reading.\n"
    "Ctrl-C ends it.\n"
    "\n"
    "options:\n";
constexpr std::string_view kWatchExamples =
    "  --dbus               watch a running dbus-jkbms on D-Bus (with --dbus-address ADDR)\n"
    "  --service NAME       which battery service (com.victronenergy.battery.ttyUSB0 or ttyUSB0)\n"
    "  --interval T         time between readings (default 1s)\n"
    "  --count N            end after N readings\n"
    "  --plain              one line per reading, even on a terminal\n"
    "\n"
    "examples:\n"
    "  jkbms watch --serial /dev/ttyUSB0\n"
    "  jkbms watch --dbus --service ttyUSB0\n"
    "  jkbms watch --ble C8:47:8C:12:34:56 --plain | tee bms.log\n";

constexpr std::string_view kSwitchUsage =
    "usage: jkbms switch charge|discharge|balance on|off (--serial PORT | --ble MAC) [options]\n"
    "\n"
    "Writes one of the BMS's switches - NW ids 0xAB / 0xAC / 0x9D, BLE registers 0x1D-0x1F\n"
    "(JK04: 0x6C, balance only), JK-PB registers 0x1070 / 0x1074 / 0x1078 - then reads the\n"
    "switches back and says whether the BMS took it. Note: NW firmware v11 does not take\n"
    "balance writes. While dbus-jkbms runs, switch through it instead: the remote console or\n"
    "dbus -y com.victronenergy.battery.ttyUSB0 /Bms/ChargeSwitch SetValue 0.\n"
    "\n"
    "options:\n";
constexpr std::string_view kSwitchExamples =
    "  --json               the result as JSON\n"
    "\n"
    "examples:\n"
    "  jkbms switch charge off --serial /dev/ttyUSB0\n"
    "  jkbms switch balance on --ble C8:47:8C:12:34:56\n"
    "  jkbms switch discharge on --serial /dev/ttyUSB0 --address 3\n"
    "\n"
    "Exit code 0 the BMS took it, 1 no answer or not taken, 2 bad usage.\n";

constexpr std::string_view kScanUsage =
    "usage: jkbms scan --ble [--time T] [--adapter hciN] [--dbus-address ADDR] [--json]\n"
    "       jkbms scan --serial PORT [--timeout T] [--json]\n"
    "\n"
    "--ble: lists the JK BMSes BlueZ sees (name, MAC, signal), after discovering for --time\n"
    "(default 10s). --serial PORT: listens first (a JK-PB bus master at address 0 polling the\n"
    "bus means: transmit nothing), then tries NW, then asks JK-PB addresses 0-15 (--timeout\n"
    "each, default 300ms) and lists the packs that answer.\n"
    "\n"
    "examples:\n"
    "  jkbms scan --ble\n"
    "  jkbms scan --serial /dev/ttyUSB0\n"
    "\n"
    "Exit code 0 found, 1 nothing answered, 2 bad usage.\n";

// Parses; prints help or the usage error. nullopt: return `code`.
std::optional<DeviceOptions> parse(Command command, std::string_view name, std::span<const std::string_view> args,
                                   CliContext& ctx, int& code) {
    auto parsed = parseDeviceOptions(command, args);
    if (parsed.help) {
        switch (command) {
            case Command::Read: ctx.out << kReadUsage << kDeviceOptions << kReadExamples; break;
            case Command::Watch: ctx.out << kWatchUsage << kDeviceOptions << kWatchExamples; break;
            case Command::Switch: ctx.out << kSwitchUsage << kDeviceOptions << kSwitchExamples; break;
            case Command::Scan: ctx.out << kScanUsage; break;
        }
        code = 0;
        return std::nullopt;
    }
    if (!parsed.error.empty()) {
        ctx.err << "jkbms " << name << ": " << parsed.error << " (see jkbms " << name << " --help)\n";
        code = 2;
        return std::nullopt;
    }
    return parsed.options;
}

std::string clockNow() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    return buf;
}

std::optional<bool> switchState(const domain::BatterySnapshot& s, SwitchKind kind) {
    switch (kind) {
        case SwitchKind::Charge: return s.switches.chargeEnabled;
        case SwitchKind::Discharge: return s.switches.dischargeEnabled;
        case SwitchKind::Balance: return s.switches.balancerEnabled;
    }
    return std::nullopt;
}

std::string title(const domain::BatterySnapshot* s, const std::string& where) {
    if (s && !s->identity.model.empty()) return s->identity.model + " - " + where;
    return where;
}

// ------------------------------------------------------------------ the dashboard's output

class Painter {
public:
    explicit Painter(CliContext& ctx, bool dashboard) : ctx_(ctx), dashboard_(dashboard) {
        if (dashboard_) ctx_.out << "\x1b[?25l\x1b[2J";  // hide the cursor, clear
    }
    ~Painter() {
        if (dashboard_) ctx_.out << "\x1b[?25h\n" << std::flush;
    }
    void draw(const DashboardView& view) {
        if (!dashboard_) {
            ctx_.out << plainLine(view) << std::endl;
            return;
        }
        Screen screen = ctx_.screen();
        screen.color = true;
        std::string frame = "\x1b[H";
        const auto lines = renderDashboard(view, screen);
        for (std::size_t i = 0; i < lines.size(); ++i) frame += lines[i] + "\x1b[K" + (i + 1 < lines.size() ? "\n" : "");
        ctx_.out << frame << std::flush;
    }

private:
    CliContext& ctx_;
    bool dashboard_;
};

// ------------------------------------------------------------------ watch --dbus

constexpr std::string_view kBatteryPrefix = "com.victronenergy.battery.";

std::map<std::string, DbusValue> getItems(sdbus::IConnection& bus, const std::string& service) {
    auto proxy = sdbus::createProxy(bus, sdbus::ServiceName{service}, sdbus::ObjectPath{"/"});
    std::map<std::string, std::map<std::string, sdbus::Variant>> items;
    proxy->callMethod("GetItems").onInterface("com.victronenergy.BusItem").withTimeout(2s).storeResultsTo(items);
    std::map<std::string, DbusValue> out;
    for (auto& [path, dict] : items) {
        DbusValue v;
        if (auto it = dict.find("Value"); it != dict.end()) {
            const auto& var = it->second;
            if (var.containsValueOfType<double>()) v.number = var.get<double>();
            else if (var.containsValueOfType<std::int32_t>()) v.number = var.get<std::int32_t>();
            else if (var.containsValueOfType<std::uint32_t>()) v.number = var.get<std::uint32_t>();
            else if (var.containsValueOfType<std::int64_t>()) v.number = static_cast<double>(var.get<std::int64_t>());
            else if (var.containsValueOfType<std::string>()) v.text = var.get<std::string>();
        }
        if (!v.number && !v.text) continue;  // invalid
        out.emplace(path, std::move(v));
    }
    return out;
}

int watchDbus(const DeviceOptions& o, CliContext& ctx, const std::function<bool()>& stop) {
    std::unique_ptr<sdbus::IConnection> bus;
    try {
        bus = dbus::connectBus(o.dbusAddress);
    } catch (const sdbus::Error& e) {
        ctx.err << "jkbms watch: cannot reach D-Bus: " << e.getMessage() << '\n';
        return 1;
    }
    std::string service = o.service;
    if (!service.empty() && !service.starts_with(kBatteryPrefix)) service = std::string{kBatteryPrefix} + service;
    if (service.empty()) {
        auto daemon = sdbus::createProxy(*bus, sdbus::ServiceName{"org.freedesktop.DBus"}, sdbus::ObjectPath{"/org/freedesktop/DBus"});
        std::vector<std::string> names;
        daemon->callMethod("ListNames").onInterface("org.freedesktop.DBus").withTimeout(2s).storeResultsTo(names);
        std::vector<std::string> found;
        for (const auto& n : names)
            if (n.starts_with(kBatteryPrefix)) found.push_back(n);
        if (found.empty()) {
            ctx.err << "jkbms watch: no battery service on D-Bus (is dbus-jkbms running?)\n";
            return 1;
        }
        if (found.size() > 1) {
            ctx.err << "jkbms watch: several battery services; name one with --service:\n";
            for (const auto& n : found) ctx.err << "  " << n << '\n';
            return 2;
        }
        service = found.front();
    }
    Painter painter(ctx, ctx.terminal && !o.plain);
    std::uint64_t drawn = 0;
    while (!stop()) {
        DashboardView view;
        try {
            view = viewFromItems(getItems(*bus, service));
            view.title = (view.title.empty() ? std::string{} : view.title + " - ") + service;
            view.status = clockNow();
        } catch (const sdbus::Error& e) {
            if (drawn == 0) {
                ctx.err << "jkbms watch: " << service << ": " << e.getMessage() << '\n';
                return 1;
            }
            view.title = service;
            view.status = "gone: " + e.getName();
        }
        painter.draw(view);
        if (o.count && ++drawn >= *o.count) break;
        pumpUntil(ctx.io, stop, o.interval);
    }
    return 0;
}

}  // namespace

DashboardView viewFromItems(const std::map<std::string, DbusValue>& items) {
    auto num = [&](const std::string& path) -> std::optional<double> {
        auto it = items.find(path);
        if (it == items.end()) return std::nullopt;
        return it->second.number;
    };
    auto text = [&](const std::string& path) -> std::string {
        auto it = items.find(path);
        if (it == items.end() || !it->second.text) return {};
        return *it->second.text;
    };
    auto flag = [&](const std::string& path) -> std::optional<bool> {
        auto v = num(path);
        if (!v) return std::nullopt;
        return *v != 0;
    };
    DashboardView view;
    view.title = text("/ProductName");
    if (!num("/Dc/0/Voltage") && !num("/Voltages/Cell1")) return view;  // not connected
    domain::BatterySnapshot s;
    for (std::size_t i = 1; i <= domain::BatterySnapshot::kMaxCells; ++i) {
        auto v = num("/Voltages/Cell" + std::to_string(i));
        if (!v) break;
        s.cellVoltagesV.push_back(*v);
        if (num("/Balances/Cell" + std::to_string(i)).value_or(0) != 0) view.balancingCells.set(i - 1);
    }
    s.packVoltageV = num("/Dc/0/Voltage");
    s.currentA = num("/Dc/0/Current");
    s.powerW = num("/Dc/0/Power");
    s.socPercent = num("/Soc");
    s.remainingCapacityAh = num("/Capacity");
    s.mosfetTemperatureC = num("/System/MOSTemperature");
    if (auto t = num("/Dc/0/Temperature")) s.temperatures.push_back({"T", *t});
    s.switches.chargeMos = flag("/Io/AllowToCharge");
    s.switches.dischargeMos = flag("/Io/AllowToDischarge");
    s.switches.balancerEnabled = flag("/Io/AllowToBalance");
    s.balancing = num("/Balancing").value_or(0) != 0;
    s.alarmsReported = true;
    static constexpr std::pair<std::string_view, domain::Alarm> kAlarms[] = {
        {"/Alarms/LowVoltage", domain::Alarm::LowVoltage},
        {"/Alarms/HighVoltage", domain::Alarm::HighVoltage},
        {"/Alarms/LowCellVoltage", domain::Alarm::CellLowVoltage},
        {"/Alarms/HighCellVoltage", domain::Alarm::CellHighVoltage},
        {"/Alarms/LowSoc", domain::Alarm::LowSoc},
        {"/Alarms/HighChargeCurrent", domain::Alarm::HighChargeCurrent},
        {"/Alarms/HighDischargeCurrent", domain::Alarm::HighDischargeCurrent},
        {"/Alarms/CellImbalance", domain::Alarm::CellImbalance},
        {"/Alarms/InternalFailure", domain::Alarm::InternalFailure},
        {"/Alarms/HighChargeTemperature", domain::Alarm::HighChargeTemperature},
        {"/Alarms/LowChargeTemperature", domain::Alarm::LowChargeTemperature},
        {"/Alarms/HighTemperature", domain::Alarm::HighTemperature},
        {"/Alarms/LowTemperature", domain::Alarm::LowTemperature},
        {"/Alarms/BatteryTemperatureSensor", domain::Alarm::TemperatureSensorFault},
        {"/Alarms/HighInternalTemperature", domain::Alarm::MosfetOverTemperature},
    };
    for (const auto& [path, alarm] : kAlarms)
        if (num(std::string{path}).value_or(0) >= 2) s.alarms.set(alarm);  // 1 = warning, 2 = alarm
    view.snapshot = std::move(s);
    domain::ChargeLimits l;
    l.maxChargeVoltageV = num("/Info/MaxChargeVoltage");
    l.maxChargeCurrentA = num("/Info/MaxChargeCurrent");
    l.maxDischargeCurrentA = num("/Info/MaxDischargeCurrent");
    l.chargeMode = text("/Info/ChargeMode");
    l.chargeLimitation = text("/Info/ChargeLimitation");
    l.dischargeLimitation = text("/Info/DischargeLimitation");
    if (l.maxChargeVoltageV || l.maxChargeCurrentA || l.maxDischargeCurrentA) view.limits = l;
    return view;
}

int runRead(std::span<const std::string_view> args, CliContext& ctx) {
    int code = 0;
    auto o = parse(Command::Read, "read", args, ctx, code);
    if (!o) return code;
    try {
        auto device = openDevice(ctx.io, *o);
        const auto s = device->readAll();
        if (o->json) ctx.out << readingJson(s, device->where()).dump(2) << '\n';
        else ctx.out << readingTable(s, device->where());
        return 0;
    } catch (const NoAnswer& e) {
        ctx.err << "jkbms read: " << e.what() << '\n';
        return 1;
    }
}

int runSwitch(std::span<const std::string_view> args, CliContext& ctx) {
    int code = 0;
    auto o = parse(Command::Switch, "switch", args, ctx, code);
    if (!o) return code;
    const SwitchKind kind = *o->switchKind;
    const bool on = *o->on;
    const std::string name{switchName(kind)};
    try {
        auto device = openDevice(ctx.io, *o);
        const auto before = switchState(device->readAll(), kind);
        const auto after = switchState(device->writeSwitch(kind, on), kind);
        const bool taken = after == on;
        if (o->json) {
            Json j = Json::object();
            j.set("link", device->where());
            j.set("switch", name);
            j.set("wanted", on);
            j.set("before", before ? Json{*before} : Json{});
            j.set("after", after ? Json{*after} : Json{});
            j.set("accepted", taken);
            ctx.out << j.dump(2) << '\n';
        } else {
            ctx.out << device->where() << ": " << name << " switch " << onOff(before) << " -> " << onOff(after)
                    << (taken ? "" : " (wanted " + onOff(on) + ")") << '\n';
        }
        if (!taken) {
            ctx.err << "jkbms switch: the BMS did not take it: the " << name << " switch reads back " << onOff(after)
                    << (kind == SwitchKind::Balance && device->where().starts_with("NW")
                            ? " (NW firmware v11 ignores balance writes)"
                            : "")
                    << '\n';
            return 1;
        }
        return 0;
    } catch (const NoAnswer& e) {
        ctx.err << "jkbms switch: " << e.what() << '\n';
        return 1;
    } catch (const std::invalid_argument& e) {
        ctx.err << "jkbms switch: " << e.what() << '\n';
        return 2;
    }
}

int runWatch(std::span<const std::string_view> args, CliContext& ctx) {
    int code = 0;
    auto o = parse(Command::Watch, "watch", args, ctx, code);
    if (!o) return code;
    bool stopping = false;
    std::optional<boost::asio::signal_set> signals;
    if (ctx.handleSignals) {
        signals.emplace(ctx.io, SIGINT, SIGTERM);
        signals->async_wait([&stopping](const boost::system::error_code& ec, int) {
            if (!ec) stopping = true;
        });
    }
    const auto stop = [&stopping] { return stopping; };
    if (o->dbus) return watchDbus(*o, ctx, stop);

    std::unique_ptr<Device> device;
    domain::BatterySnapshot first;
    try {
        device = openDevice(ctx.io, *o);
        first = device->readAll();
    } catch (const NoAnswer& e) {
        ctx.err << "jkbms watch: " << e.what() << '\n';
        return 1;
    }
    // The limits dbus-jkbms would set, with its default charge settings.
    charge::ChargeEngine engine{charge::ChargeConfig{}};
    Painter painter(ctx, ctx.terminal && !o->plain);
    DashboardView view;
    view.title = title(&first, device->where());
    auto last = std::chrono::steady_clock::now();
    std::optional<domain::BatterySnapshot> reading = first;
    std::chrono::steady_clock::time_point lastAnswer = last;
    std::uint64_t drawn = 0;
    while (!stopping) {
        const auto now = std::chrono::steady_clock::now();
        if (reading) {
            view.snapshot = *reading;
            view.limits = engine.step(*reading, std::chrono::duration<double>(now - last).count());
            view.balancingCells.reset();
            view.status = clockNow();
            lastAnswer = now;
        } else {
            view.status = "no answer for " +
                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - lastAnswer).count()) + " s";
        }
        last = now;
        painter.draw(view);
        if (o->count && ++drawn >= *o->count) break;
        pumpUntil(ctx.io, stop, o->interval);
        if (stopping) break;
        try {
            reading = device->poll();
        } catch (const NoAnswer&) {
            reading.reset();  // shown on the status line; the watch goes on
        }
    }
    return 0;
}

int runScan(std::span<const std::string_view> args, CliContext& ctx) {
    int code = 0;
    auto o = parse(Command::Scan, "scan", args, ctx, code);
    if (!o) return code;
    if (o->scanBle) {
        std::unique_ptr<sdbus::IConnection> bus;
        try {
            bus = bluezBus(o->dbusAddress);
        } catch (const NoAnswer& e) {
            ctx.err << "jkbms scan: " << e.what() << '\n';
            return 1;
        }
        struct Seen {
            std::string name, mac;
            std::optional<std::int16_t> rssi;
        };
        std::vector<Seen> jk;
        std::size_t others = 0;
        // Asynchronous calls, waited for on the loop: BlueZ answers while we wait.
        dbus::AsioSdbusLoop loop(ctx.io, *bus);
        loop.start();
        std::optional<sdbus::Error> failure;
        auto wait = [&](auto&& call) {
            bool answered = false;
            std::forward<decltype(call)>(call).uponReplyInvoke([&](std::optional<sdbus::Error> e) {
                if (e) failure = std::move(e);
                answered = true;
            });
            pumpUntil(ctx.io, [&] { return answered; }, 6s);
            return answered;
        };
        auto adapter = sdbus::createProxy(*bus, sdbus::ServiceName{"org.bluez"}, sdbus::ObjectPath{"/org/bluez/" + o->adapter});
        wait(adapter->callMethodAsync("StartDiscovery").onInterface("org.bluez.Adapter1").withTimeout(5s));
        // Someone else scanning already (the daemon) is fine.
        if (failure && failure->getName() != "org.bluez.Error.InProgress") {
            ctx.err << "jkbms scan: BlueZ (" << o->adapter << "): " << failure->getMessage() << '\n';
            return 1;
        }
        failure.reset();
        pumpUntil(ctx.io, [] { return false; }, o->scanTime);
        wait(adapter->callMethodAsync("StopDiscovery").onInterface("org.bluez.Adapter1").withTimeout(5s));
        failure.reset();
        auto root = sdbus::createProxy(*bus, sdbus::ServiceName{"org.bluez"}, sdbus::ObjectPath{"/"});
        using Objects = std::map<sdbus::ObjectPath, std::map<std::string, std::map<std::string, sdbus::Variant>>>;
        Objects objects;
        bool answered = false;
        root->callMethodAsync("GetManagedObjects")
            .onInterface("org.freedesktop.DBus.ObjectManager")
            .withTimeout(5s)
            .uponReplyInvoke([&](std::optional<sdbus::Error> e, Objects result) {
                if (e) failure = std::move(e);
                else objects = std::move(result);
                answered = true;
            });
        if (!pumpUntil(ctx.io, [&] { return answered; }, 6s) || failure) {
            ctx.err << "jkbms scan: BlueZ (" << o->adapter << "): "
                    << (failure ? failure->getMessage() : std::string{"no answer to GetManagedObjects"}) << '\n';
            return 1;
        }
        try {
            const std::string prefix = "/org/bluez/" + o->adapter + "/";
            for (auto& [path, ifaces] : objects) {
                auto dev = ifaces.find("org.bluez.Device1");
                if (dev == ifaces.end() || !std::string{path}.starts_with(prefix)) continue;
                auto& props = dev->second;
                Seen s;
                if (auto it = props.find("Address"); it != props.end()) s.mac = it->second.get<std::string>();
                if (auto it = props.find("Name"); it != props.end()) s.name = it->second.get<std::string>();
                if (auto it = props.find("RSSI"); it != props.end()) s.rssi = it->second.get<std::int16_t>();
                bool ffe0 = false;
                if (auto it = props.find("UUIDs"); it != props.end())
                    for (const auto& u : it->second.get<std::vector<std::string>>()) ffe0 = ffe0 || u.starts_with("0000ffe0");
                if (s.name.starts_with("JK") || ffe0) jk.push_back(std::move(s));
                else ++others;
            }
        } catch (const sdbus::Error& e) {
            ctx.err << "jkbms scan: BlueZ (" << o->adapter << ") sent something unexpected: " << e.getMessage() << '\n';
            return 1;
        }
        loop.stop();
        std::sort(jk.begin(), jk.end(), [](const Seen& a, const Seen& b) { return a.rssi.value_or(-999) > b.rssi.value_or(-999); });
        if (o->json) {
            Json list = Json::array();
            for (const auto& s : jk) {
                Json d = Json::object();
                d.set("name", s.name);
                d.set("mac", s.mac);
                d.set("rssi_dbm", s.rssi ? Json{*s.rssi} : Json{});
                list.push(std::move(d));
            }
            ctx.out << list.dump(2) << '\n';
        } else {
            for (const auto& s : jk) {
                std::string name = s.name.empty() ? "(no name)" : s.name;
                name.resize(std::max<std::size_t>(name.size(), 20), ' ');
                ctx.out << name << "  " << s.mac << "  " << (s.rssi ? std::to_string(*s.rssi) + " dBm" : "-") << '\n';
            }
        }
        if (jk.empty()) {
            ctx.err << "jkbms scan: BlueZ saw no JK BMS in " << static_cast<double>(o->scanTime.count()) / 1000.0 << " s on " << o->adapter << " ("
                    << others << " other device" << (others == 1 ? "" : "s") << ")\n";
            return 1;
        }
        return 0;
    }

    const auto timeout = o->timeout.count() ? o->timeout : 300ms;
    SerialScan scan;
    try {
        scan = scanSerial(ctx.io, o->serial, timeout);
    } catch (const NoAnswer& e) {
        ctx.err << "jkbms scan: " << e.what() << '\n';
        return 1;
    }
    if (o->json) {
        Json j = Json::object();
        j.set("port", o->serial);
        j.set("bus_traffic_bytes", scan.strayBytes);
        Json seen = Json::array();
        for (auto a : scan.busAddresses) seen.push(a);
        j.set("bus_addresses_seen", std::move(seen));
        j.set("nw", scan.nw ? readingJson(*scan.nw, "NW on " + o->serial) : Json{});
        Json packs = Json::array();
        for (const auto& [a, s] : scan.pb) {
            Json p = readingJson(s, "JK-PB #" + std::to_string(a) + " on " + o->serial);
            p.set("address", a);
            packs.push(std::move(p));
        }
        j.set("pb", std::move(packs));
        ctx.out << j.dump(2) << '\n';
    }
    if (scan.strayBytes > 0) {
        if (!o->json) {
            ctx.out << o->serial << ": " << scan.strayBytes << " bytes arrived unasked in " << kListenFirst.count()
                    << " ms: something else is polling this bus";
            if (!scan.busAddresses.empty()) {
                ctx.out << " (JK-PB addresses seen:";
                for (auto a : scan.busAddresses) ctx.out << ' ' << int{a};
                ctx.out << ")";
            }
            ctx.out << ".\nA JK-PB at address 0 is the bus master; then dbus-jkbms only listens (jk-protocols.md 3.3). "
                       "Nothing was sent.\n";
        }
        return 0;
    }
    auto summary = [](const domain::BatterySnapshot& s) {
        std::string line = s.identity.model.empty() ? std::string{"JK BMS"} : s.identity.model;
        if (!s.identity.softwareVersion.empty()) line += ", software " + s.identity.softwareVersion;
        line += ", " + std::to_string(s.cellVoltagesV.size()) + " cells";
        if (s.packVoltageV) line += ", " + fixed(*s.packVoltageV, 2) + " V";
        if (s.socPercent) line += ", SoC " + fixed(*s.socPercent, 0) + " %";
        return line;
    };
    if (scan.nw) {
        if (!o->json) ctx.out << o->serial << ": NW - " << summary(*scan.nw) << '\n';
        return 0;
    }
    if (!scan.pb.empty()) {
        if (!o->json) {
            ctx.out << o->serial << ": JK-PB (RS485), " << scan.pb.size() << " pack" << (scan.pb.size() == 1 ? "" : "s") << '\n';
            for (const auto& [a, s] : scan.pb) ctx.out << "  address " << int{a} << ": " << summary(s) << '\n';
        }
        return 0;
    }
    ctx.err << "jkbms scan: nothing answered on " << o->serial << ": listened " << kListenFirst.count()
            << " ms, NW read-all (" << timeout.count() << " ms), JK-PB cell-info triggers to addresses 0-15 ("
            << timeout.count() << " ms each)\n";
    return 1;
}

}  // namespace jkbms::cli
