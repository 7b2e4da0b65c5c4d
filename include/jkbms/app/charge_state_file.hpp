#pragma once
// The charge state that survives a restart (charge-control.md section 6): the mode, the
// absorption timers and the times of the last full charge and equalize, so a restart in
// Absorption does not start Bulk again. Kept in localsettings (one line, ';' between the
// fields) or, without localsettings, in one small text file per BMS (<state_dir>/<key>.state).
// When it is written is the daemon's business (README "Battery identity": flash wear).
//
//   mode=Absorption               (first; Bulk, Absorption, Float or Equalize)
//   absorption_s=312              (seconds, 0 .. kMaxStateSeconds)
//   absorption_total_s=400        (seconds, 0 .. kMaxStateSeconds)
//   equalize_at=1795000000        (Unix time, whole seconds, 0 .. kMaxUnixTime)
//   full_charge_at=1795170000     (Unix time; absent when not known)
//   battery=jkbms_SIM0000002      (the battery it belongs to: domain::BatteryKey::uid, at
//                                 most kMaxBatteryBytes of [A-Za-z0-9_]; absent in states
//                                 written before it existed)
//
// Reading is strict: a value that is not a number, out of range, a key given twice, a line
// that is not key=value, no mode, or an empty or oversized text make the whole state unusable
// (the engine starts afresh, as on a first start), and every problem is listed for the
// caller to log once. CRLF line ends and blanks around keys and values are accepted; an
// unknown key (from a newer version) is listed but does not spoil the rest. Times in the
// future (a clock not set yet at boot) count as "just now".

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jkbms/charge/charge_engine.hpp"

namespace jkbms::app {

inline constexpr double kMaxStateSeconds = 10.0 * 365 * 86400;  // 10 years
inline constexpr long long kMaxUnixTime = 4102444800;           // 2100-01-01
inline constexpr std::size_t kMaxChargeStateBytes = 4096;       // a state is ~150 bytes
inline constexpr std::size_t kMaxBatteryBytes = 64;             // domain::kMaxUidBytes

// Never throws; durations and times are clamped into the ranges above (no overflow).
// `battery`: the key of the battery the state belongs to ("" leaves the line out).
std::string formatChargeState(const charge::EngineState& state, std::chrono::system_clock::time_point now,
                              std::string_view battery = {});


struct ChargeStateRead {
    std::optional<charge::EngineState> state;  // nullopt: nothing usable, start afresh
    std::vector<std::string> problems;         // "item 2: absorption_s 'x' is not a number", ...
    std::string battery;                       // whose state it is; "" when it does not say
};
// `text` as written by formatChargeState (lines or the ';' form). Never throws.
ChargeStateRead parseChargeState(std::string_view text, std::chrono::system_clock::time_point now);

// File I/O. The write goes to `path`.tmp, is synced and renamed over `path`, so a power cut
// leaves the old state or the new one; on any failure (a full disk) the .tmp is removed and
// the old state kept; false with the reason in `error`.
bool saveChargeState(const std::string& path, const std::string& text, std::string& error);
// No file: no state and no problem (a first start). Otherwise as parseChargeState, plus
// "cannot be read: ..." for a file that cannot be read (a directory, permissions).
ChargeStateRead loadChargeState(const std::string& path, std::chrono::system_clock::time_point now);

}  // namespace jkbms::app
