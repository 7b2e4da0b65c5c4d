#include "jkbms/cli/device_options.hpp"

#include <cctype>
#include <charconv>

namespace jkbms::cli {
namespace {

std::optional<std::uint64_t> number(std::string_view text) {
    std::uint64_t v = 0;
    const auto* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc{} || p != end || text.empty()) return std::nullopt;
    return v;
}

// "500ms", "2s", "1.5s", or plain seconds ("2").
std::optional<std::chrono::milliseconds> duration(std::string_view text) {
    double scale = 1000;
    if (text.ends_with("ms")) {
        scale = 1;
        text.remove_suffix(2);
    } else if (text.ends_with("s")) {
        text.remove_suffix(1);
    }
    double v = 0;
    const auto* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc{} || p != end || text.empty() || !(v > 0) || v * scale > 86'400'000) return std::nullopt;
    return std::chrono::milliseconds{static_cast<std::int64_t>(v * scale + 0.5)};
}

}  // namespace

std::string_view switchName(SwitchKind kind) {
    switch (kind) {
        case SwitchKind::Charge: return "charge";
        case SwitchKind::Discharge: return "discharge";
        case SwitchKind::Balance: return "balance";
    }
    return "?";
}

std::optional<std::string> normalizeMac(std::string_view text) {
    if (text.size() != 17) return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (i % 3 == 2) {
            if (c != ':') return std::nullopt;
        } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
            return std::nullopt;
        }
        out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return out;
}

ParsedOptions parseDeviceOptions(Command command, std::span<const std::string_view> args) {
    ParsedOptions r;
    DeviceOptions& o = r.options;
    bool addressGiven = false, jsonGiven = false;
    auto fail = [&](std::string message) {
        if (r.error.empty()) r.error = std::move(message);
        return r;
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        std::string_view v;
        auto value = [&] {
            if (i + 1 >= args.size()) return false;
            v = args[++i];
            return true;
        };
        const bool takesValue = a == "--serial" || (a == "--ble" && command != Command::Scan) || a == "--protocol" || a == "--address" ||
                                a == "--adapter" || a == "--dbus-address" || a == "--timeout" ||
                                a == "--service" || a == "--interval" || a == "--count" || a == "--time";
        if (takesValue && !value()) return fail(std::string{a} + " needs a value");
        if (a == "-h" || a == "--help") {
            r.help = true;
            return r;
        } else if (a == "--serial") {
            o.serial = std::string{v};
        } else if (a == "--ble" && command == Command::Scan) {
            o.scanBle = true;  // scan --ble takes no MAC: it lists what BlueZ sees
        } else if (a == "--ble") {
            auto mac = normalizeMac(v);
            if (!mac) return fail("--ble wants a MAC such as C8:47:8C:00:00:01, not '" + std::string{v} + "'");
            o.ble = *mac;
        } else if (a == "--protocol") {
            if (v == "nw") o.protocol = Protocol::Nw;
            else if (v == "pb") o.protocol = Protocol::Pb;
            else if (v == "ble") o.protocol = Protocol::Ble;
            else return fail("--protocol is nw, pb or ble, not '" + std::string{v} + "'");
        } else if (a == "--address") {
            auto n = number(v);
            if (!n || *n > 15) return fail("--address is a JK-PB DIP address 0-15, not '" + std::string{v} + "'");
            o.address = static_cast<std::uint8_t>(*n);
            addressGiven = true;
        } else if (a == "--adapter") {
            o.adapter = std::string{v};
        } else if (a == "--dbus-address") {
            o.dbusAddress = std::string{v};
        } else if (a == "--timeout") {
            auto d = duration(v);
            if (!d) return fail("--timeout wants a duration such as 2s or 500ms, not '" + std::string{v} + "'");
            o.timeout = *d;
        } else if (a == "--json" && command != Command::Watch) {
            o.json = true;
            jsonGiven = true;
        } else if (a == "--dbus" && command == Command::Watch) {
            o.dbus = true;
        } else if (a == "--service" && command == Command::Watch) {
            o.service = std::string{v};
        } else if (a == "--interval" && command == Command::Watch) {
            auto d = duration(v);
            if (!d || *d < std::chrono::milliseconds(100))
                return fail("--interval wants a duration of at least 100ms, not '" + std::string{v} + "'");
            o.interval = *d;
        } else if (a == "--count" && command == Command::Watch) {
            auto n = number(v);
            if (!n || *n == 0) return fail("--count wants a positive number, not '" + std::string{v} + "'");
            o.count = *n;
        } else if (a == "--plain" && command == Command::Watch) {
            o.plain = true;
        } else if (a == "--time" && command == Command::Scan) {
            auto d = duration(v);
            if (!d) return fail("--time wants a duration such as 10s, not '" + std::string{v} + "'");
            o.scanTime = *d;
        } else if (command == Command::Switch && !o.switchKind &&
                   (a == "charge" || a == "discharge" || a == "balance")) {
            o.switchKind = a == "charge" ? SwitchKind::Charge : a == "discharge" ? SwitchKind::Discharge : SwitchKind::Balance;
        } else if (command == Command::Switch && o.switchKind && !o.on && (a == "on" || a == "off")) {
            o.on = a == "on";
        } else {
            return fail("unexpected '" + std::string{a} + "'");
        }
    }
    (void)jsonGiven;
    if (command == Command::Switch && (!o.switchKind || !o.on)) return fail("say which switch and on or off: charge|discharge|balance on|off");
    if (command == Command::Scan) {
        if (o.scanBle == !o.serial.empty()) return fail("say --ble or --serial PORT");
        return r;
    }
    if (o.dbus) {
        if (o.hasDevice()) return fail("--dbus watches a running dbus-jkbms; leave out --serial / --ble");
        return r;
    }
    if (!o.serial.empty() && !o.ble.empty()) return fail("--serial or --ble, not both");
    if (!o.hasDevice())
        return fail(command == Command::Watch ? "say --serial PORT, --ble MAC or --dbus" : "say --serial PORT or --ble MAC");
    if (!o.ble.empty() && o.protocol && *o.protocol != Protocol::Ble) return fail("--ble speaks --protocol ble only");
    if (!o.serial.empty() && o.protocol == Protocol::Ble) return fail("--protocol ble goes with --ble MAC, not --serial");
    if (addressGiven && o.protocol && *o.protocol != Protocol::Pb) return fail("--address is for --protocol pb");
    if (addressGiven && !o.ble.empty()) return fail("--address is for JK-PB packs on --serial");
    if (addressGiven && !o.protocol) o.protocol = Protocol::Pb;
    return r;
}

}  // namespace jkbms::cli
