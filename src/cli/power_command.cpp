#include "jkbms/cli/power_command.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "jkbms/dbus/battery_paths.hpp"
#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/dbus/bus_item_service.hpp"

namespace jkbms::cli {
namespace {

constexpr std::string_view kUsage =
    "usage: jkbms power on|off [--service NAME] [--wait] [--dbus-address ADDR]\n"
    "\n"
    "Presses the BMS's display-port button through the running dbus-jkbms: on is a short\n"
    "press (switches the BMS on or wakes it), off a long press (switches it off). Needs a\n"
    "relay in dbus-jkbms's configuration (relay.type). With one such battery on the bus it is\n"
    "found by itself; with several, --service names it (com.victronenergy.battery.ttyUSB0, or\n"
    "ttyUSB0). --wait waits (up to 30 s) until the BMS is on, or off.\n"
    "Exit code 0 pressed, 1 refused or not found, 2 bad usage.\n"
    "\n"
    "examples:\n"
    "  jkbms power off\n"
    "  jkbms power on --service ttyUSB0 --wait\n";

constexpr std::string_view kBatteryPrefix = "com.victronenergy.battery.";
const sdbus::InterfaceName kItem{std::string{dbus::kBusItemInterface}};
constexpr auto kTimeout = std::chrono::seconds(2);
constexpr auto kWaitFor = std::chrono::seconds(30);

struct PowerState {
    std::int32_t on = -1;
    std::string text;
};

// /Bms/Power of `service`; nullopt when it has none (no relay, not dbus-jkbms, gone).
std::optional<PowerState> readPower(sdbus::IConnection& bus, const std::string& service) {
    try {
        auto proxy = sdbus::createProxy(bus, sdbus::ServiceName{service}, sdbus::ObjectPath{std::string{dbus::kBmsPowerPath}});
        sdbus::Variant value;
        std::string text;
        proxy->callMethod("GetValue").onInterface(kItem).withTimeout(kTimeout).storeResultsTo(value);
        proxy->callMethod("GetText").onInterface(kItem).withTimeout(kTimeout).storeResultsTo(text);
        if (!value.containsValueOfType<std::int32_t>()) return std::nullopt;
        return PowerState{value.get<std::int32_t>(), text};
    } catch (const sdbus::Error&) {
        return std::nullopt;
    }
}

std::vector<std::string> batteriesWithPower(sdbus::IConnection& bus) {
    auto daemon = sdbus::createProxy(bus, sdbus::ServiceName{"org.freedesktop.DBus"},
                                     sdbus::ObjectPath{"/org/freedesktop/DBus"});
    std::vector<std::string> names;
    daemon->callMethod("ListNames").onInterface("org.freedesktop.DBus").withTimeout(kTimeout).storeResultsTo(names);
    std::vector<std::string> found;
    for (const auto& name : names)
        if (name.starts_with(kBatteryPrefix) && readPower(bus, name)) found.push_back(name);
    return found;
}

}  // namespace

int runPower(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
    std::optional<bool> on;
    std::string service, address;
    bool wait = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        auto value = [&](std::string& into) {
            if (i + 1 >= args.size()) {
                err << "jkbms power: " << a << " needs a value\n";
                return false;
            }
            into = std::string{args[++i]};
            return true;
        };
        if (a == "-h" || a == "--help") {
            out << kUsage;
            return 0;
        } else if (a == "--service") {
            if (!value(service)) return 2;
            if (!service.starts_with(kBatteryPrefix)) service = std::string{kBatteryPrefix} + service;
        } else if (a == "--dbus-address") {
            if (!value(address)) return 2;
        } else if (a == "--wait") {
            wait = true;
        } else if ((a == "on" || a == "off") && !on) {
            on = a == "on";
        } else {
            err << "jkbms power: unexpected '" << a << "' (see jkbms power --help)\n";
            return 2;
        }
    }
    if (!on) {
        err << "jkbms power: say on or off (see jkbms power --help)\n";
        return 2;
    }

    std::unique_ptr<sdbus::IConnection> bus;
    try {
        bus = dbus::connectBus(address.empty() ? std::nullopt : std::optional<std::string>{address});
    } catch (const sdbus::Error& e) {
        err << "jkbms power: cannot reach D-Bus: " << e.getMessage() << '\n';
        return 1;
    }
    if (service.empty()) {
        const auto found = batteriesWithPower(*bus);
        if (found.empty()) {
            err << "jkbms power: no battery on D-Bus has /Bms/Power (is dbus-jkbms running, with a relay "
                   "configured?)\n";
            return 1;
        }
        if (found.size() > 1) {
            err << "jkbms power: several batteries have /Bms/Power; name one with --service:\n";
            for (const auto& name : found) err << "  " << name << '\n';
            return 2;
        }
        service = found.front();
    } else if (!readPower(*bus, service)) {
        err << "jkbms power: " << service << " is not on D-Bus, or has no /Bms/Power (no relay configured)\n";
        return 1;
    }

    std::int32_t result = -1;
    try {
        auto proxy = sdbus::createProxy(*bus, sdbus::ServiceName{service}, sdbus::ObjectPath{std::string{dbus::kBmsPowerPath}});
        proxy->callMethod("SetValue")
            .onInterface(kItem)
            .withTimeout(kTimeout)
            .withArguments(sdbus::Variant{std::int32_t{*on ? 1 : 0}})
            .storeResultsTo(result);
    } catch (const sdbus::Error& e) {
        err << "jkbms power: " << service << ": " << e.getMessage() << '\n';
        return 1;
    }
    if (result != 0) {
        const auto now = readPower(*bus, service);
        err << "jkbms power: " << service << " refused the " << (*on ? "on" : "off") << " press"
            << (now ? " (the button: " + now->text + ")" : std::string{}) << "; the daemon's log says why\n";
        return 1;
    }
    out << service << ": " << (*on ? "pressing on" : "switching off") << '\n';
    if (!wait) return 0;
    const std::string goal = *on ? "on" : "off";
    const auto until = std::chrono::steady_clock::now() + kWaitFor;
    while (std::chrono::steady_clock::now() < until) {
        if (auto now = readPower(*bus, service); now && now->text == goal) {
            out << service << ": " << goal << '\n';
            return 0;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    const auto last = readPower(*bus, service);
    err << "jkbms power: " << service << " is not " << goal << " after " << kWaitFor.count() << " s"
        << (last ? " (the button: " + last->text + ")" : std::string{}) << '\n';
    return 1;
}

}  // namespace jkbms::cli
