// The charge state's text form (see charge_state_file.hpp): written and read field by field
// from one table, so a field added to the engine's state is one line in kFields. Pure: no
// I/O, the wall clock passed in.

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string_view>

#include "jkbms/app/charge_state_file.hpp"

namespace jkbms::app {
namespace {

using charge::EngineState;

// How a field is kept in the text.
enum class Kind : std::uint8_t {
    Seconds,          // a duration in seconds, 0 .. kMaxStateSeconds
    UnixTime,         // kept as "seconds since": written as the Unix time it happened
    UnixTimeOrUnset,  // the same, -1 = not known (the line is left out)
};

struct Field {
    std::string_view key;
    Kind kind;
    double EngineState::*member;
};

// The persisted fields, in the order they are written (the mode comes first, on its own).
constexpr std::array kFields = {
    Field{"absorption_s", Kind::Seconds, &EngineState::absorptionS},
    Field{"absorption_total_s", Kind::Seconds, &EngineState::absorptionTotalS},
    Field{"equalize_at", Kind::UnixTime, &EngineState::sinceEqualizeS},
    Field{"full_charge_at", Kind::UnixTimeOrUnset, &EngineState::sinceFullChargeS},
};

constexpr std::array kModes = {charge::ChargeMode::Bulk, charge::ChargeMode::Absorption, charge::ChargeMode::Float,
                               charge::ChargeMode::Equalize};

double unixSeconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string quoted(std::string_view v) {
    std::string out{v.substr(0, 40)};
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return "'" + out + (v.size() > 40 ? "...'" : "'");
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// The value of `text` for `field`, or why not.
std::optional<double> readField(const Field& field, std::string_view text, double nowS, std::string& why) {
    if (field.kind == Kind::Seconds) {
        double v = 0;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc{} || ptr != text.data() + text.size() || !std::isfinite(v)) {
            why = "is not a number";
            return std::nullopt;
        }
        if (v < 0 || v > kMaxStateSeconds) {
            why = "is out of range (0 to " + number(kMaxStateSeconds) + " s)";
            return std::nullopt;
        }
        return v;
    }
    long long at = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), at);
    if (ec != std::errc{} || ptr != text.data() + text.size()) {
        why = "is not a Unix time (whole seconds)";
        return std::nullopt;
    }
    if (at < 0 || at > kMaxUnixTime) {
        why = "is out of range (0 to " + std::to_string(kMaxUnixTime) + ")";
        return std::nullopt;
    }
    // A time after `now` (a clock not yet set at boot): it happened just now as far as we
    // can tell (never a negative age).
    return std::max(0.0, nowS - static_cast<double>(at));
}

}  // namespace

std::string formatChargeState(const EngineState& st, std::chrono::system_clock::time_point now,
                              std::string_view battery) {
    std::string out = "mode=" + std::string{charge::chargeModeName(st.mode)} + '\n';
    const double nowS = unixSeconds(now);
    for (const Field& f : kFields) {
        const double v = st.*f.member;
        if (f.kind == Kind::Seconds) {
            out += std::string{f.key} + '=' + number(std::isfinite(v) ? std::clamp(v, 0.0, kMaxStateSeconds) : 0.0) + '\n';
            continue;
        }
        if (f.kind == Kind::UnixTimeOrUnset && !(v >= 0)) continue;  // not known (or NaN)
        // Computed in seconds as doubles and clamped: no duration cast can overflow.
        const double at = std::isfinite(v) ? std::clamp(std::floor(nowS - std::max(0.0, v)), 0.0,
                                                         static_cast<double>(kMaxUnixTime))
                                           : std::clamp(std::floor(nowS), 0.0, static_cast<double>(kMaxUnixTime));
        out += std::string{f.key} + '=' + std::to_string(static_cast<long long>(at)) + '\n';
    }
    if (!battery.empty()) out += "battery=" + std::string{battery} + '\n';
    return out;
}

ChargeStateRead parseChargeState(std::string_view text, std::chrono::system_clock::time_point now) {
    ChargeStateRead r;
    if (text.size() > kMaxChargeStateBytes) {
        r.problems.push_back("longer than " + std::to_string(kMaxChargeStateBytes) + " bytes");
        return r;
    }
    if (text.find_first_not_of(" \t\r\n;") == std::string_view::npos) {
        r.problems.push_back("empty");
        return r;
    }
    const double nowS = unixSeconds(now);
    EngineState st;
    bool haveMode = false, bad = false;
    std::map<std::string_view, int> seen;
    int item = 0;
    // Lines ('\n', CRLF too) in a file, ';' in the one-line form kept in localsettings.
    for (std::size_t i = 0; i <= text.size();) {
        const std::size_t end = std::min(text.find_first_of("\n;", i), text.size());
        const std::string_view line = trim(text.substr(i, end - i));
        i = end + 1;
        if (line.empty()) continue;
        ++item;
        const std::string where = "item " + std::to_string(item) + ": ";
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            r.problems.push_back(where + quoted(line) + " is not key=value");
            bad = true;
            continue;
        }
        const std::string_view key = trim(line.substr(0, eq));
        const std::string_view value = trim(line.substr(eq + 1));
        if (!seen.emplace(key, item).second) {
            r.problems.push_back(where + quoted(key) + " is given twice");
            bad = true;
            continue;
        }
        if (key == "mode") {
            const auto m = std::find_if(kModes.begin(), kModes.end(),
                                        [&](charge::ChargeMode mode) { return charge::chargeModeName(mode) == value; });
            if (m == kModes.end()) {
                r.problems.push_back(where + "mode " + quoted(value) + " is not a charge mode");
                bad = true;
            } else {
                st.mode = *m;
                haveMode = true;
            }
            continue;
        }
        if (key == "battery") {
            // A settings element (domain::BatteryKey): [A-Za-z0-9_] only, so it cannot be
            // mistaken for another one.
            const bool element = !value.empty() && value.size() <= kMaxBatteryBytes &&
                                 std::all_of(value.begin(), value.end(), [](char c) {
                                     return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                            c == '_';
                                 });
            if (!element) {
                r.problems.push_back(where + "battery " + quoted(value) + " is not a battery key");
                bad = true;
            } else {
                r.battery = std::string{value};
            }
            continue;
        }
        const auto f = std::find_if(kFields.begin(), kFields.end(), [&](const Field& fd) { return fd.key == key; });
        if (f == kFields.end()) {  // from a newer version, perhaps: noted, not fatal
            r.problems.push_back(where + "unknown key " + quoted(key) + " ignored");
            continue;
        }
        std::string why;
        if (auto v = readField(*f, value, nowS, why)) {
            st.*f->member = *v;
        } else {
            r.problems.push_back(where + std::string{key} + " " + quoted(value) + " " + why);
            bad = true;
        }
    }
    if (!haveMode && !bad) {
        r.problems.push_back("no mode");
        bad = true;
    }
    if (!bad) r.state = st;
    return r;
}

}  // namespace jkbms::app
