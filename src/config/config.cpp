#include "jkbms/config/config.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jkbms::config {
namespace {

enum class DurationRead : std::uint8_t { Ok, Malformed, TooLarge };

// "<whole number><unit>"; TooLarge when it does not fit in milliseconds (no wrap-around).
DurationRead readDuration(const std::string& text, std::chrono::milliseconds& out) {
    long long n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ptr == text.data() || (ec != std::errc{} && ec != std::errc::result_out_of_range) || text[0] == '-')
        return DurationRead::Malformed;
    const std::string unit{ptr, text.data() + text.size()};
    long long perUnit = 0;  // milliseconds
    if (unit.empty() && n == 0 && ec == std::errc{}) perUnit = 1;  // "0": off / never
    else if (unit == "ms") perUnit = 1;
    else if (unit == "s") perUnit = 1000;
    else if (unit == "m" || unit == "min") perUnit = 60'000;
    else if (unit == "h") perUnit = 3'600'000;
    else return DurationRead::Malformed;
    if (ec == std::errc::result_out_of_range || n > std::numeric_limits<long long>::max() / perUnit)
        return DurationRead::TooLarge;
    out = std::chrono::milliseconds(n * perUnit);
    return DurationRead::Ok;
}

// Collects errors with their YAML line while the explicit parse functions walk the tree.
class Parser {
public:
    explicit Parser(std::string file) : file_(std::move(file)) {}

    void error(const YAML::Node& node, const std::string& message) {
        errors_.push_back(ConfigError{file_, node.Mark().line + 1, message});
    }
    void error(int line, const std::string& message) { errors_.push_back(ConfigError{file_, line, message}); }

    // Rejects keys the section does not know (a typo must not silently fall back to a default),
    // keys that are not plain names (`? [a, b]`), and a key given twice (yaml-cpp keeps both,
    // and a lookup would silently take the first).
    void onlyKeys(const YAML::Node& section, const std::string& name, std::set<std::string> known) {
        std::map<std::string, int> seen;  // key -> its first line
        for (const auto& kv : section) {
            if (!kv.first.IsScalar()) {
                error(kv.first, std::string{"a key in "} + name + " must be a plain name, not " +
                                    (kv.first.IsSequence() ? "a list" : kv.first.IsMap() ? "a mapping" : "empty"));
                continue;
            }
            const std::string& key = kv.first.Scalar();
            const int line = kv.first.Mark().line + 1;
            if (auto [first, inserted] = seen.emplace(key, line); !inserted) {
                error(kv.first, "'" + key + "' is given twice in " + name + " (first at line " +
                                    std::to_string(first->second) + ")");
                continue;
            }
            if (!known.contains(key)) error(kv.first, "unknown key '" + key + "' in " + name);
        }
    }

    template <class T>
    void number(const YAML::Node& section, const char* key, T& out, long long min, long long max) {
        if (const YAML::Node n = section[key]) numberAt(n, key, out, min, max);
    }
    // The value itself (a list item); `key` names it in the error.
    template <class T>
    void numberAt(const YAML::Node& n, const char* key, T& out, long long min, long long max) {
        long long v = 0;
        const std::string text = n.IsScalar() ? n.Scalar() : "";
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (!n.IsScalar() || ec != std::errc{} || ptr != text.data() + text.size()) {
            error(n, std::string{key} + ": expected a whole number, got '" + text + "'");
            return;
        }
        if (v < min || v > max) {
            error(n, std::string{key} + ": " + text + " is out of range (" + std::to_string(min) + " to " +
                         std::to_string(max) + ")");
            return;
        }
        out = static_cast<T>(v);
    }

    void string(const YAML::Node& section, const char* key, std::string& out) {
        const YAML::Node n = section[key];
        if (!n) return;
        if (!n.IsScalar()) {
            error(n, std::string{key} + ": expected text");
            return;
        }
        out = n.Scalar();
    }

    void oneOf(const YAML::Node& section, const char* key, std::string& out, std::set<std::string> allowed) {
        const YAML::Node n = section[key];
        std::string v = out;
        string(section, key, v);
        if (!n) return;
        if (!allowed.contains(v)) {
            std::string list;
            for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
            error(n, std::string{key} + ": '" + v + "' is not one of " + list);
            return;
        }
        out = v;
    }

    void real(const YAML::Node& section, const char* key, double& out, double min, double max) {
        const YAML::Node n = section[key];
        if (!n) return;
        double v = 0;
        if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v)) {
            error(n, std::string{key} + ": expected a number, got '" + (n.IsScalar() ? n.Scalar() : std::string{"a structure"}) + "'");
            return;
        }
        if (v < min || v > max) {
            error(n, std::string{key} + ": " + n.Scalar() + " is out of range (" + trim(min) + " to " + trim(max) + ")");
            return;
        }
        out = v;
    }

    void seconds(const YAML::Node& section, const char* key, double& out, std::chrono::milliseconds max) {
        std::chrono::milliseconds ms{static_cast<long long>(out * 1000)};
        duration(section, key, ms, std::chrono::milliseconds(0), max);
        out = static_cast<double>(ms.count()) / 1000.0;
    }

    // [[x, fraction], ...]
    void table(const YAML::Node& section, const char* key, charge::Table& out) {
        const YAML::Node n = section[key];
        if (!n) return;
        charge::Table t;
        if (!n.IsSequence()) {
            error(n, std::string{key} + ": expected a list of [x, fraction] pairs");
            return;
        }
        for (const YAML::Node& point : n) {
            double x = 0, y = 0;
            if (!point.IsSequence() || point.size() != 2 || !YAML::convert<double>::decode(point[0], x) ||
                !YAML::convert<double>::decode(point[1], y)) {
                error(point, std::string{key} + ": each point is [x, fraction]");
                return;
            }
            t.points.emplace_back(x, y);
        }
        if (auto why = t.validate(); !why.empty()) {
            error(n, std::string{key} + ": " + why);
            return;
        }
        out.points = std::move(t.points);
    }

    static std::string trim(double v) {
        std::string s = std::to_string(v);
        while (s.size() > 1 && s.back() == '0') s.pop_back();
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    }

    void boolean(const YAML::Node& section, const char* key, bool& out) {
        const YAML::Node n = section[key];
        if (!n) return;
        bool v = false;
        if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
            error(n, std::string{key} + ": expected true or false");
            return;
        }
        out = v;
    }

    void duration(const YAML::Node& section, const char* key, std::chrono::milliseconds& out,
                  std::chrono::milliseconds min, std::chrono::milliseconds max) {
        const YAML::Node n = section[key];
        if (!n) return;
        std::chrono::milliseconds v{};
        const DurationRead read = n.IsScalar() ? readDuration(n.Scalar(), v) : DurationRead::Malformed;
        if (read == DurationRead::Malformed) {
            error(n, std::string{key} + ": expected a duration such as 500ms, 5s, 2m, got '" +
                         (n.IsScalar() ? n.Scalar() : std::string{"a structure"}) + "'");
            return;
        }
        if (read == DurationRead::TooLarge || v < min || v > max) {
            error(n, std::string{key} + ": " + n.Scalar() + " is out of range");
            return;
        }
        out = v;
    }

    // A mapping section, or an error when the key holds something else.
    YAML::Node section(const YAML::Node& root, const char* key) {
        const YAML::Node n = root[key];
        if (n && !n.IsMap() && !n.IsNull()) {
            error(n, std::string{key} + ": expected a section of key: value lines");
            return YAML::Node{};
        }
        return n && n.IsMap() ? n : YAML::Node{};
    }

    std::vector<ConfigError> take() { return std::move(errors_); }
    std::size_t errorCount() const { return errors_.size(); }

private:
    std::string file_;
    std::vector<ConfigError> errors_;
};

using namespace std::chrono_literals;

}  // namespace

std::string ConfigError::text() const {
    return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

bool validMac(const std::string& mac) {
    if (mac.size() != 17) return false;
    for (std::size_t i = 0; i < mac.size(); ++i) {
        const bool colon = i % 3 == 2;
        if (colon ? mac[i] != ':' : !std::isxdigit(static_cast<unsigned char>(mac[i]))) return false;
    }
    return true;
}

bool parseDuration(const std::string& text, std::chrono::milliseconds& out) {
    return readDuration(text, out) == DurationRead::Ok;
}

namespace {

void parseRoot(const YAML::Node& root, Parser& p, Config& c);

constexpr std::string_view kBatteryServicePrefix = "com.victronenergy.battery.";
// A bus-name element we can put after kBatteryServicePrefix: [A-Za-z0-9_], 1..64, no digit first.
bool validBusSuffix(const std::string& s) {
    if (s.empty() || s.size() > 64 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(), [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; });
}

// Counts the documents of a YAML text with yaml-cpp's own parser, and notices when it stops
// making progress: yaml-cpp 0.7 reports a new, empty document at the same place for ever on
// a stray ',' outside brackets (YAML::LoadAll never returns; YAML::Load reads it as empty).
class DocumentCounter : public YAML::EventHandler {
public:
    std::vector<YAML::Mark> starts;
    void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

}  // namespace

LoadResult parseConfig(const std::string& yamlText, const std::string& fileName) {
    LoadResult result;
    Parser p(fileName);
    YAML::Node root;
    try {
        // How many documents (at most two are looked at), then the first one as nodes.
        std::istringstream in(yamlText);
        YAML::Parser parser(in);
        DocumentCounter counter;
        for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
        }
        const auto& starts = counter.starts;
        if (starts.size() >= 2 && starts[1].pos == starts[0].pos) {
            const auto pos = static_cast<std::size_t>(std::max(0, starts[0].pos));
            const char c = pos < yamlText.size() ? yamlText[pos] : '?';
            result.errors.push_back(ConfigError{fileName, starts[0].line + 1,
                                                std::string{"unexpected '"} + (std::isprint(static_cast<unsigned char>(c)) ? c : '?') +
                                                    "' (YAML syntax)"});
            return result;
        }
        if (starts.size() >= 2) {
            // yaml-cpp would read the first and drop the rest without a word.
            result.errors.push_back(ConfigError{fileName, starts[1].line + 1,
                                                "a second YAML document ('---'): the configuration is one document"});
            return result;
        }
        root = YAML::Load(yamlText);
    } catch (const YAML::Exception& e) {  // ParserException, DeepRecursion
        result.errors.push_back(ConfigError{fileName, e.mark.is_null() ? 0 : e.mark.line + 1, e.msg});
        return result;
    }
    if (root.IsNull()) return result;  // empty file: all defaults
    if (!root.IsMap()) {
        result.errors.push_back(ConfigError{fileName, root.Mark().line + 1, "expected sections such as 'serial:'"});
        return result;
    }
    try {
        parseRoot(root, p, result.config);
    } catch (const YAML::Exception& e) {  // a conversion the checks above did not foresee: still a clean error
        p.error(e.mark.is_null() ? 0 : e.mark.line + 1, e.msg);
    }
    result.errors = p.take();
    return result;
}

namespace {

void parseRoot(const YAML::Node& root, Parser& p, Config& c) {
    p.onlyKeys(root, "the file", {"serial", "ble", "poll", "comms", "dbus", "charge", "relay", "log", "bank"});

    if (auto s = p.section(root, "serial")) {
        p.onlyKeys(s, "serial", {"port", "baud", "protocol", "addresses"});
        p.string(s, "port", c.serial.port);
        p.number(s, "baud", c.serial.baud, 1200, 921600);
        p.oneOf(s, "protocol", c.serial.protocol, {"auto", "nw", "pb"});
        if (const YAML::Node a = s["addresses"]) {
            if (!a.IsSequence()) {
                p.error(a, "addresses: expected a list such as [1, 2, 3]");
            } else {
                // Read in place: a temporary map holding each item merged the whole document's
                // node pool into it (yaml-cpp), O(items x nodes): ~9 ms for a 1 KiB list.
                for (const YAML::Node& item : a) {
                    int n = -1;
                    const std::size_t before = p.errorCount();
                    p.numberAt(item, "address", n, 1, 15);
                    if (p.errorCount() != before) continue;
                    if (std::find(c.serial.addresses.begin(), c.serial.addresses.end(), n) != c.serial.addresses.end())
                        p.error(item, "addresses: " + std::to_string(n) + " is listed twice");
                    else c.serial.addresses.push_back(static_cast<std::uint8_t>(n));
                }
            }
        }
    }
    if (auto s = p.section(root, "ble")) {
        p.onlyKeys(s, "ble", {"mac", "adapter"});
        p.string(s, "mac", c.ble.mac);
        p.string(s, "adapter", c.ble.adapter);
        if (!c.ble.mac.empty() && !validMac(c.ble.mac)) p.error(s["mac"], "mac: '" + c.ble.mac + "' is not a Bluetooth address such as C8:47:8C:00:00:01");
    }
    if (auto s = p.section(root, "poll")) {
        p.onlyKeys(s, "poll", {"interval", "timeout", "pacing", "gone_probe"});
        p.duration(s, "interval", c.poll.interval, 100ms, 1h);
        p.duration(s, "timeout", c.poll.timeout, 50ms, 60s);
        p.duration(s, "pacing", c.poll.pacing, 100ms, 10s);
        p.duration(s, "gone_probe", c.poll.goneProbe, 100ms, 1h);
        if (c.poll.timeout >= c.poll.interval)
            p.error(s["timeout"] ? s["timeout"] : s, "poll timeout must be shorter than the poll interval");
    }
    if (auto s = p.section(root, "comms")) {
        p.onlyKeys(s, "comms", {"stale_after", "invalidate_after", "exit_after"});
        p.duration(s, "stale_after", c.comms.staleAfter, 1ms, 24h);
        p.duration(s, "invalidate_after", c.comms.invalidateAfter, 1ms, 24h);
        p.duration(s, "exit_after", c.comms.exitAfter, 0ms, 24h);
        if (const std::string why = c.comms.validate(); !why.empty()) p.error(s, "comms: " + why);
    }
    if (auto s = p.section(root, "bank")) {
        p.onlyKeys(s, "bank", {"enabled", "member", "members", "name", "share_current", "share_margin"});
        p.boolean(s, "enabled", c.bank.enabled);
        p.boolean(s, "member", c.bank.member);
        p.string(s, "name", c.bank.name);
        if (!c.bank.name.empty() && !validBusSuffix(c.bank.name))
            p.error(s["name"], "name: '" + c.bank.name + "' may hold only letters, digits and _ (at most 64)");
        if (const YAML::Node m = s["members"]) {
            if (!m.IsSequence()) {
                p.error(m, "members: expected a list such as [ttyUSB0, ttyUSB1]");
            } else {
                for (const YAML::Node& item : m) {
                    std::string name = item.IsScalar() ? item.Scalar() : "";
                    if (name.starts_with(kBatteryServicePrefix)) name.erase(0, kBatteryServicePrefix.size());
                    if (!validBusSuffix(name))
                        p.error(item, "members: '" + (item.IsScalar() ? item.Scalar() : std::string{}) +
                                          "' is not a battery service name such as com.victronenergy.battery.ttyUSB0");
                    else if (std::find(c.bank.members.begin(), c.bank.members.end(), name) != c.bank.members.end())
                        p.error(item, "members: " + name + " is listed twice");
                    else c.bank.members.push_back(name);
                }
            }
        }
        p.real(s, "share_current", c.bank.shareCurrentA, 0.1, 100);
        p.real(s, "share_margin", c.bank.shareMargin, 0, 1);
    }
    if (auto s = p.section(root, "dbus")) {
        p.onlyKeys(s, "dbus", {"address", "device_instance", "settings_wait", "settings_retry", "identity_wait",
                               "properties_changed"});
        p.string(s, "address", c.dbus.address);
        p.number(s, "device_instance", c.dbus.deviceInstance, 0, 999);
        p.duration(s, "settings_wait", c.dbus.settingsWait, 0ms, 10min);
        p.duration(s, "settings_retry", c.dbus.settingsRetry, 100ms, 10min);
        p.duration(s, "identity_wait", c.dbus.identityWait, 0ms, 10min);
        p.boolean(s, "properties_changed", c.dbus.propertiesChanged);
    }
    if (auto s = p.section(root, "charge")) {
        auto& e = c.charge.engine;
        p.onlyKeys(s, "charge", {"enabled", "state_dir", "chemistry", "cell", "absorption", "float", "equalize", "cvl",
                                 "filter", "current", "protection_margins", "tables", "warnings"});
        p.boolean(s, "enabled", c.charge.enabled);
        p.string(s, "state_dir", c.charge.stateDir);
        {
            std::string chemistry{charge::chemistryName(e.chemistry)};
            p.oneOf(s, "chemistry", chemistry, {"auto", "lfp", "nmc", "lto"});
            for (auto k : {charge::Chemistry::Auto, charge::Chemistry::Lfp, charge::Chemistry::Nmc, charge::Chemistry::Lto})
                if (chemistry == charge::chemistryName(k)) e.chemistry = k;
        }
        // A per-chemistry value: absent keeps the chemistry's default.
        auto optionalReal = [&p](const YAML::Node& n, const char* key, std::optional<double>& out, double lo, double hi) {
            if (!n[key]) return;
            double v = lo;
            p.real(n, key, v, lo, hi);
            out = v;
        };
        if (auto n = p.section(s, "cell")) {
            p.onlyKeys(n, "charge.cell", {"bulk_voltage", "float_voltage", "min_voltage"});
            optionalReal(n, "bulk_voltage", e.bulkCellV, 1.5, 4.35);
            optionalReal(n, "float_voltage", e.floatCellV, 1.5, 4.35);
            optionalReal(n, "min_voltage", e.minCellV, 1.5, 4.0);
        }
        if (auto n = p.section(s, "absorption")) {
            p.onlyKeys(n, "charge.absorption", {"max_time", "tail_current", "tail_time", "timer_current",
                                                "max_cell_spread", "charger_shortfall"});
            p.seconds(n, "max_time", e.absorptionMaxTimeS, 24h);
            p.real(n, "tail_current", e.tailCurrentC, 0, 1);
            p.seconds(n, "tail_time", e.tailTimeS, 1h);
            p.real(n, "timer_current", e.timerCurrentC, 0, 1);
            optionalReal(n, "max_cell_spread", e.maxCellSpreadV, 0.001, 0.5);
            p.real(n, "charger_shortfall", e.chargerShortfallV, 0, 5);
        }
        if (auto n = p.section(s, "float")) {
            p.onlyKeys(n, "charge.float", {"rebulk_cell_voltage", "rebulk_cell_spread", "rebulk_soc", "rebulk_time",
                                           "min_time", "transition_rate"});
            optionalReal(n, "rebulk_cell_voltage", e.rebulkCellV, 1.5, 4.35);
            optionalReal(n, "rebulk_cell_spread", e.rebulkCellSpreadV, 0.001, 1);
            p.real(n, "rebulk_soc", e.rebulkSocPercent, 0, 100);
            p.seconds(n, "rebulk_time", e.rebulkTimeS, 24h);
            p.seconds(n, "min_time", e.floatMinTimeS, 24h);
            p.real(n, "transition_rate", e.floatTransitionVps, 0.0001, 1);
        }
        if (auto n = p.section(s, "equalize")) {
            p.onlyKeys(n, "charge.equalize", {"every_days", "cell_voltage"});
            p.real(n, "every_days", e.equalizeEveryDays, 0, 365);
            p.real(n, "cell_voltage", e.equalizeCellV, 1.5, 4.35);
        }
        if (auto n = p.section(s, "warnings")) {
            p.onlyKeys(n, "charge.warnings", {"low_soc"});
            p.real(n, "low_soc", e.lowSocPercent, 0, 95);
        }
        if (auto n = p.section(s, "cvl")) {
            p.onlyKeys(n, "charge.cvl", {"offset", "recovery_rate", "kp", "ki", "windup_band", "hard_margin"});
            p.real(n, "offset", e.cvlOffsetV, -2, 2);
            p.real(n, "recovery_rate", e.recoveryVps, 0.0001, 1);
            p.real(n, "kp", e.regulatorKp, 0, 10);
            p.real(n, "ki", e.regulatorKiPerS, 0, 10);
            p.real(n, "windup_band", e.windupBandV, 0, 0.5);
            p.real(n, "hard_margin", e.hardMarginV, 0.005, 0.5);
        }
        if (auto n = p.section(s, "filter")) {
            p.onlyKeys(n, "charge.filter", {"cell_time", "current_time"});
            p.seconds(n, "cell_time", e.cellFilterS, 5min);
            p.seconds(n, "current_time", e.currentFilterS, 5min);
        }
        if (auto n = p.section(s, "current")) {
            p.onlyKeys(n, "charge.current", {"max_charge", "max_discharge", "increase_rate", "recovery_hold",
                                             "hysteresis", "heater_passthrough", "cell_resistance"});
            p.real(n, "max_charge", e.maxChargeA, 0, 2000);
            p.real(n, "max_discharge", e.maxDischargeA, 0, 2000);
            p.real(n, "increase_rate", e.increaseAps, 0.1, 1000);
            p.seconds(n, "recovery_hold", e.recoveryHoldS, 1h);
            p.real(n, "hysteresis", e.hysteresisFraction, 0, 0.5);
            p.boolean(n, "heater_passthrough", e.heaterPassthrough);
            p.real(n, "cell_resistance", e.resistanceOhmAh, 0.001, 10);
        }
        if (auto n = p.section(s, "protection_margins")) {
            p.onlyKeys(n, "charge.protection_margins", {"cell_ovp", "cell_uvp", "temperature", "temperature_ramp"});
            p.real(n, "cell_ovp", e.ovpMarginV, 0, 0.5);
            p.real(n, "cell_uvp", e.uvpMarginV, 0, 0.5);
            p.real(n, "temperature", e.temperatureMarginC, 0, 20);
            p.real(n, "temperature_ramp", e.temperatureRampC, 0.5, 30);
        }
        if (auto n = p.section(s, "tables")) {
            p.onlyKeys(n, "charge.tables", {"mode", "charge_cell_voltage", "discharge_cell_voltage", "charge_temperature",
                                            "discharge_temperature", "mosfet_temperature", "charge_soc", "discharge_soc"});
            std::string mode = "linear";
            p.oneOf(n, "mode", mode, {"linear", "step"});
            e.tableStepMode = mode == "step";
            for (charge::Table* t : {&e.chargeTemperatureC, &e.dischargeTemperatureC, &e.mosfetTemperatureC, &e.chargeSoc,
                                     &e.dischargeSoc})
                t->step = e.tableStepMode;
            auto optionalTable = [&p, &e](const YAML::Node& section, const char* key, std::optional<charge::Table>& out) {
                if (!section[key]) return;
                charge::Table t;
                t.step = e.tableStepMode;
                p.table(section, key, t);
                out = std::move(t);
            };
            optionalTable(n, "charge_cell_voltage", e.chargeCellV);
            optionalTable(n, "discharge_cell_voltage", e.dischargeCellV);
            p.table(n, "charge_temperature", e.chargeTemperatureC);
            p.table(n, "discharge_temperature", e.dischargeTemperatureC);
            p.table(n, "mosfet_temperature", e.mosfetTemperatureC);
            p.table(n, "charge_soc", e.chargeSoc);
            p.table(n, "discharge_soc", e.dischargeSoc);
        }
        // What only makes sense together (e.g. a charge table that cuts off below the bulk target).
        for (const std::string& why : e.validate()) p.error(s, "charge: " + why);
    }
    if (auto s = p.section(root, "relay")) {
        auto& r = c.relay;
        p.onlyKeys(s, "relay", {"type", "gpio", "venus", "press", "wake", "ensure_on_at_start"});
        p.oneOf(s, "type", r.type, {"none", "gpio", "venus"});
        if (auto n = p.section(s, "gpio")) {
            p.onlyKeys(n, "relay.gpio", {"chip", "offset", "line", "active_low"});
            p.string(n, "chip", r.chip);
            p.number(n, "offset", r.offset, -1, 1023);  // -1: not set
            p.string(n, "line", r.line);
            p.boolean(n, "active_low", r.activeLow);
            if (!r.chip.empty() && !r.line.empty())
                p.error(n, "relay.gpio: give chip and offset, or line, not both");
            else if (!r.chip.empty() && r.offset < 0)
                p.error(n, "relay.gpio: chip '" + r.chip + "' needs an offset (the line number on the chip)");
            else if (r.chip.empty() && r.offset >= 0)
                p.error(n, "relay.gpio: offset needs a chip (e.g. chip: gpiochip0)");
        }
        if (auto n = p.section(s, "venus")) {
            p.onlyKeys(n, "relay.venus", {"relay"});
            p.number(n, "relay", r.venusRelay, 0, 7);
        }
        if (auto n = p.section(s, "press")) {
            p.onlyKeys(n, "relay.press", {"on", "off", "gap"});
            p.duration(n, "on", r.press.on, 200ms, 2s);
            p.duration(n, "off", r.press.off, 1s, 10s);
            p.duration(n, "gap", r.press.gap, 200ms, 10s);
            if (r.press.on >= r.press.off)
                p.error(n, "relay.press: 'on' must be shorter than 'off' (the BMS tells them apart by length)");
        }
        if (auto n = p.section(s, "wake")) {
            p.onlyKeys(n, "relay.wake", {"attempts", "after", "interval", "backoff"});
            p.number(n, "attempts", r.wake.attempts, 0, 10);
            p.duration(n, "after", r.wake.after, 1s, 1h);
            p.duration(n, "interval", r.wake.interval, 1s, 1h);
            p.real(n, "backoff", r.wake.backoff, 1, 10);
        }
        p.boolean(s, "ensure_on_at_start", r.ensureOnAtStart);
        const YAML::Node at = s["wake"] ? s["wake"] : s;
        if (r.type == "gpio" && r.chip.empty() && r.line.empty())
            p.error(s, "relay: type gpio needs gpio.chip and gpio.offset, or gpio.line");
        if (r.type == "none" && r.ensureOnAtStart)
            p.error(s["ensure_on_at_start"], "relay.ensure_on_at_start needs a relay (type gpio or venus)");
        if (r.enabled() && r.wake.attempts > 0) {
            if (r.wake.interval < r.press.on + r.press.gap)
                p.error(at, "relay.wake: interval must be at least press.on + press.gap (" +
                                std::to_string((r.press.on + r.press.gap).count()) + " ms)");
            // Every wake press must be over before the daemon gives up (charge-control.md 5).
            const auto last = power::WakePolicy(r.wake).span() + r.press.on;
            if (c.comms.exitAfter.count() > 0 && last >= c.comms.exitAfter)
                p.error(at, "relay.wake: the last wake press ends " + std::to_string(last.count() / 1000) +
                                " s into a silence, not before comms.exit_after (" +
                                std::to_string(c.comms.exitAfter.count() / 1000) +
                                " s): fewer attempts, shorter intervals or a later exit_after");
        }
    }
    if (auto s = p.section(root, "log")) {
        p.onlyKeys(s, "log", {"level", "timestamps"});
        p.oneOf(s, "level", c.log.level, {"trace", "debug", "info", "warn", "error"});
        p.boolean(s, "timestamps", c.log.timestamps);
    }
}

}  // namespace

LoadResult loadConfig(const std::string& path) {
    LoadResult r;
    auto fail = [&](const std::string& why) {
        r.errors.push_back(ConfigError{path, 0, why});
        return r;
    };
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return fail(std::string{"cannot be read: "} + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) return fail("is a directory, not a configuration file");
    // Read to the end (a /proc or pipe file says size 0), but never more than the cap.
    std::string text;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::string{"cannot be read: "} + std::strerror(errno));
        if (n == 0) break;
        if (text.size() + static_cast<std::size_t>(n) > kMaxConfigBytes)
            return fail("is larger than 1 MiB (" + std::to_string(kMaxConfigBytes) +
                        " bytes): not a configuration file");
        text.append(buf, static_cast<std::size_t>(n));
    }
    return parseConfig(text, path);
}

}  // namespace jkbms::config
