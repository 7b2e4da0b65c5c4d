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

// A whole number 0 .. `max` (the fingerprint's counters and written_at), or why not.
std::optional<long long> readWhole(std::string_view text, long long max, std::string& why) {
    long long v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size()) {
        why = "is not a whole number";
        return std::nullopt;
    }
    if (v < 0 || v > max) {
        why = "is out of range (0 to " + std::to_string(max) + ")";
        return std::nullopt;
    }
    return v;
}

constexpr long long kMaxCounter = 0xFFFFFFFFLL;
constexpr double kMaxCapacityAh = 1e6;

}  // namespace

BatteryFingerprint fingerprintOf(const domain::BatterySnapshot& s) {
    BatteryFingerprint f;
    if (!s.cellVoltagesV.empty()) f.cells = static_cast<std::uint32_t>(s.cellVoltagesV.size());
    // NW: the nominal capacity setting, in every reading; JK-PB / BLE: the capacity in the
    // cell-info frame (what the BMS counts as 100 %), also in every reading.
    const auto capacity = s.identity.protocol == domain::Protocol::Nw ? s.settings.nominalCapacityAh : s.fullCapacityAh;
    if (capacity && std::isfinite(*capacity) && *capacity > 0 && *capacity <= kMaxCapacityAh) f.capacityAh = capacity;
    f.runtimeS = s.runtimeS;
    f.cycles = s.cycleCount;
    return f;
}

std::string whyNotThisBattery(const ChargeStateRead& read, const BatteryFingerprint& current,
                              std::chrono::system_clock::time_point now, bool keyFromBms) {
    const BatteryFingerprint& saved = read.fingerprint;
    if (!read.writtenAt) return "it records no fingerprint of the battery (written by an older version)";
    if (saved.cells && current.cells && *saved.cells != *current.cells)
        return "cell count " + std::to_string(*saved.cells) + " there, " + std::to_string(*current.cells) + " here";
    if (saved.capacityAh && current.capacityAh && std::fabs(*saved.capacityAh - *current.capacityAh) > kCapacityToleranceAh)
        return "capacity " + number(*saved.capacityAh) + " Ah there, " + number(*current.capacityAh) + " Ah here";
    const bool runtime = saved.runtimeS && current.runtimeS;
    const bool cycles = saved.cycles && current.cycles;
    if (!keyFromBms) {
        if (!(saved.cells && current.cells) || !(saved.capacityAh && current.capacityAh))
            return "keyed by its port, and its cell count or capacity is not known on both sides";
        if (!runtime && !cycles) return "keyed by its port, and no runtime or cycle counter to compare";
    }
    if (!runtime && !cycles) return {};
    const double elapsedS = unixSeconds(now) - static_cast<double>(*read.writtenAt);
    if (elapsedS < 0) return "the clock is before the time it was written: its counters cannot be checked";
    if (runtime) {
        if (*current.runtimeS < *saved.runtimeS)
            return "runtime " + std::to_string(*current.runtimeS) + " s here, less than the " +
                   std::to_string(*saved.runtimeS) + " s recorded";
        if (static_cast<double>(*current.runtimeS - *saved.runtimeS) > elapsedS + kRuntimeMarginS)
            return "runtime advanced " + std::to_string(*current.runtimeS - *saved.runtimeS) + " s in " +
                   number(std::floor(elapsedS)) + " s";
    }
    if (cycles) {
        if (*current.cycles < *saved.cycles)
            return "cycle count " + std::to_string(*current.cycles) + " here, less than the " +
                   std::to_string(*saved.cycles) + " recorded";
        if (static_cast<double>(*current.cycles - *saved.cycles) > 1 + elapsedS / 3600)
            return "cycle count advanced " + std::to_string(*current.cycles - *saved.cycles) + " in " +
                   number(std::floor(elapsedS)) + " s";
    }
    return {};
}

std::string formatChargeState(const EngineState& st, std::chrono::system_clock::time_point now,
                              std::string_view battery, const std::optional<BatteryFingerprint>& fingerprint,
                              const domain::HistoryFigures* history) {
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
    if (fingerprint) {
        const BatteryFingerprint& f = *fingerprint;
        if (f.cells) out += "cells=" + std::to_string(*f.cells) + '\n';
        if (f.capacityAh && std::isfinite(*f.capacityAh) && *f.capacityAh >= 0 && *f.capacityAh <= kMaxCapacityAh)
            out += "capacity_ah=" + number(*f.capacityAh) + '\n';
        if (f.runtimeS) out += "runtime_s=" + std::to_string(*f.runtimeS) + '\n';
        if (f.cycles) out += "cycles=" + std::to_string(*f.cycles) + '\n';
        out += "written_at=" +
               std::to_string(static_cast<long long>(std::clamp(std::floor(nowS), 0.0, static_cast<double>(kMaxUnixTime)))) +
               '\n';
    }
    if (history) out += domain::formatHistory(*history);
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
    domain::HistoryFigures history;
    bool haveHistory = false, badHistory = false;
    std::map<std::string_view, int> seenHistory;
    // Lines ('\n', CRLF too) in a file, ';' in the one-line form kept in localsettings.
    for (std::size_t i = 0; i <= text.size();) {
        const std::size_t end = std::min(text.find_first_of("\n;", i), text.size());
        const std::string_view line = trim(text.substr(i, end - i));
        i = end + 1;
        if (line.empty()) continue;
        ++item;
        const std::string where = "item " + std::to_string(item) + ": ";
        const auto eq = line.find('=');
        // The history's items: their problems spoil only the history (they are checked apart,
        // before anything that would spoil the state).
        if (line.starts_with(domain::kHistoryKeyPrefix)) {
            const std::string_view key = trim(line.substr(0, std::min(eq, line.size())));
            std::string why;
            auto read = domain::HistoryItem::Bad;
            if (eq == std::string_view::npos) why = "is not key=value";
            else if (!seenHistory.emplace(key, item).second) why = "is given twice";
            else read = domain::readHistoryItem(key, trim(line.substr(eq + 1)), history, why);
            if (read == domain::HistoryItem::Read) {
                haveHistory = true;
            } else if (read == domain::HistoryItem::Unknown) {  // from a newer version: noted, not fatal
                r.problems.push_back(where + "unknown key " + quoted(key) + " ignored");
            } else {
                r.problems.push_back(where + quoted(key) + " " + why + " (the history starts afresh)");
                badHistory = true;
            }
            continue;
        }
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
        if (key == "cells" || key == "runtime_s" || key == "cycles" || key == "written_at") {
            std::string why;
            const long long max = key == "written_at" ? kMaxUnixTime : key == "cells" ? 1024 : kMaxCounter;
            if (auto v = readWhole(value, max, why)) {
                if (key == "written_at") r.writtenAt = *v;
                else (key == "cells" ? r.fingerprint.cells : key == "cycles" ? r.fingerprint.cycles : r.fingerprint.runtimeS) =
                    static_cast<std::uint32_t>(*v);
            } else {
                r.problems.push_back(where + std::string{key} + " " + quoted(value) + " " + why);
                bad = true;
            }
            continue;
        }
        if (key == "capacity_ah") {
            double v = 0;
            auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec != std::errc{} || ptr != value.data() + value.size() || !std::isfinite(v) || v < 0 || v > kMaxCapacityAh) {
                r.problems.push_back(where + "capacity_ah " + quoted(value) + " is not a capacity (0 to " +
                                     number(kMaxCapacityAh) + " Ah)");
                bad = true;
            } else {
                r.fingerprint.capacityAh = v;
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
    if (haveHistory && !badHistory) r.history = history;
    return r;
}

}  // namespace jkbms::app
