#include "jkbms/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace jkbms::config {
namespace {

// Collects errors with their YAML line while the explicit parse functions walk the tree.
class Parser {
public:
    explicit Parser(std::string file) : file_(std::move(file)) {}

    void error(const YAML::Node& node, const std::string& message) {
        errors_.push_back(ConfigError{file_, node.Mark().line + 1, message});
    }
    void error(int line, const std::string& message) { errors_.push_back(ConfigError{file_, line, message}); }

    // Rejects keys the section does not know (a typo must not silently fall back to a default).
    void onlyKeys(const YAML::Node& section, const std::string& name, std::set<std::string> known) {
        for (const auto& kv : section) {
            const auto key = kv.first.as<std::string>();
            if (!known.contains(key)) error(kv.first, "unknown key '" + key + "' in " + name);
        }
    }

    template <class T>
    void number(const YAML::Node& section, const char* key, T& out, long long min, long long max) {
        const YAML::Node n = section[key];
        if (!n) return;
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
        if (!n.IsScalar() || !parseDuration(n.Scalar(), v)) {
            error(n, std::string{key} + ": expected a duration such as 500ms, 5s, 2m, got '" +
                         (n.IsScalar() ? n.Scalar() : std::string{"a structure"}) + "'");
            return;
        }
        if (v < min || v > max) {
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
    // The last error's line, moved to `node` (a value checked through a temporary holder).
    void relocate(const YAML::Node& node) { errors_.back().line = node.Mark().line + 1; }

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
    long long n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || ptr == text.data() || n < 0) return false;
    const std::string unit{ptr, text.data() + text.size()};
    if (unit.empty() && n == 0) out = std::chrono::milliseconds(0);  // "0": off / never
    else if (unit == "ms") out = std::chrono::milliseconds(n);
    else if (unit == "s") out = std::chrono::seconds(n);
    else if (unit == "m" || unit == "min") out = std::chrono::minutes(n);
    else if (unit == "h") out = std::chrono::hours(n);
    else return false;
    return true;
}

LoadResult parseConfig(const std::string& yamlText, const std::string& fileName) {
    LoadResult result;
    Parser p(fileName);
    YAML::Node root;
    try {
        root = YAML::Load(yamlText);
    } catch (const YAML::ParserException& e) {
        result.errors.push_back(ConfigError{fileName, e.mark.line + 1, e.msg});
        return result;
    }
    if (root.IsNull()) return result;  // empty file: all defaults
    if (!root.IsMap()) {
        result.errors.push_back(ConfigError{fileName, root.Mark().line + 1, "expected sections such as 'serial:'"});
        return result;
    }
    Config& c = result.config;
    p.onlyKeys(root, "the file", {"serial", "ble", "poll", "comms", "dbus", "log"});

    if (auto s = p.section(root, "serial")) {
        p.onlyKeys(s, "serial", {"port", "baud", "protocol", "addresses"});
        p.string(s, "port", c.serial.port);
        p.number(s, "baud", c.serial.baud, 1200, 921600);
        p.oneOf(s, "protocol", c.serial.protocol, {"auto", "nw", "pb"});
        if (const YAML::Node a = s["addresses"]) {
            if (!a.IsSequence()) {
                p.error(a, "addresses: expected a list such as [1, 2, 3]");
            } else {
                for (const YAML::Node& item : a) {
                    YAML::Node holder;
                    holder["address"] = item;
                    int n = -1;
                    const std::size_t before = p.errorCount();
                    p.number(holder, "address", n, 1, 15);
                    if (p.errorCount() != before) p.relocate(item);
                    else if (std::find(c.serial.addresses.begin(), c.serial.addresses.end(), n) != c.serial.addresses.end())
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
        p.onlyKeys(s, "poll", {"interval", "timeout", "pacing"});
        p.duration(s, "interval", c.poll.interval, 100ms, 1h);
        p.duration(s, "timeout", c.poll.timeout, 50ms, 60s);
        p.duration(s, "pacing", c.poll.pacing, 100ms, 10s);
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
    if (auto s = p.section(root, "dbus")) {
        p.onlyKeys(s, "dbus", {"address", "device_instance", "settings_wait", "properties_changed"});
        p.string(s, "address", c.dbus.address);
        p.number(s, "device_instance", c.dbus.deviceInstance, 0, 999);
        p.duration(s, "settings_wait", c.dbus.settingsWait, 0ms, 10min);
        p.boolean(s, "properties_changed", c.dbus.propertiesChanged);
    }
    if (auto s = p.section(root, "log")) {
        p.onlyKeys(s, "log", {"level", "timestamps"});
        p.oneOf(s, "level", c.log.level, {"trace", "debug", "info", "warn", "error"});
        p.boolean(s, "timestamps", c.log.timestamps);
    }
    result.errors = p.take();
    return result;
}

LoadResult loadConfig(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        LoadResult r;
        r.errors.push_back(ConfigError{path, 0, "cannot be read"});
        return r;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parseConfig(text.str(), path);
}

}  // namespace jkbms::config
