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
//   cells=16                      (the fingerprint, each line only when the BMS reports it:
//   capacity_ah=280                cell count, the capacity the BMS is set to (Ah),
//   runtime_s=8640000              its runtime counter (s) and cycle count, and the Unix
//   cycles=12                      time the state was written; see BatteryFingerprint)
//   written_at=1800000000
//   history_min_v=51.2            (the battery's /History figures, domain::formatHistory:
//   history_syncs=3                each line only when known; see battery_history.hpp)
//
// Reading is strict: a value that is not a number, out of range, a key given twice, a line
// that is not key=value, no mode, or an empty or oversized text make the whole state unusable
// (the engine starts afresh, as on a first start), and every problem is listed for the
// caller to log once. CRLF line ends and blanks around keys and values are accepted; an
// unknown key (from a newer version) is listed but does not spoil the rest. Times in the
// future (a clock not set yet at boot) count as "just now". A history_* item that is unusable
// spoils only the history (it starts afresh, listed in problems), never the charge state.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jkbms/charge/charge_engine.hpp"
#include "jkbms/domain/battery_history.hpp"
#include "jkbms/domain/battery_snapshot.hpp"

namespace jkbms::app {

inline constexpr double kMaxStateSeconds = 10.0 * 365 * 86400;  // 10 years
inline constexpr long long kMaxUnixTime = 4102444800;           // 2100-01-01
inline constexpr std::size_t kMaxChargeStateBytes = 4096;       // a state is ~150 bytes
// A key from the BMS is at most domain::kMaxUidBytes; a port key is not cut (a long tty path).
inline constexpr std::size_t kMaxBatteryBytes = 255;

// What a battery looks like from its BMS, recorded with its charge state so the state is not
// restored into another battery under the same key (a fallback key - the port, the port and
// address - or two boards sharing an id). Absent: the BMS does not report it.
struct BatteryFingerprint {
    std::optional<std::uint32_t> cells;      // cell count (the cells it reports)
    std::optional<double> capacityAh;        // the capacity the BMS is set to, Ah
    std::optional<std::uint32_t> runtimeS;   // the BMS's runtime counter, s (NW 0xB6, JK cell info)
    std::optional<std::uint32_t> cycles;     // its cycle count
    friend bool operator==(const BatteryFingerprint&, const BatteryFingerprint&) = default;
};
BatteryFingerprint fingerprintOf(const domain::BatterySnapshot& snapshot);

// Margins of the fingerprint check: the runtime counter may run this much ahead of the wall
// time since the save (its resolution, a clock set late), the cycle count one cycle plus one
// per hour, and the capacity may differ by kCapacityToleranceAh (rounding in the frames).
inline constexpr std::uint32_t kRuntimeMarginS = 3600;
inline constexpr double kCapacityToleranceAh = 0.5;

// Never throws; durations and times are clamped into the ranges above (no overflow).
// `battery`: the key of the battery the state belongs to ("" leaves the line out).
// `fingerprint`: recorded with the time `now` (written_at); nullopt leaves both out.
std::string formatChargeState(const charge::EngineState& state, std::chrono::system_clock::time_point now,
                              std::string_view battery = {},
                              const std::optional<BatteryFingerprint>& fingerprint = std::nullopt,
                              const domain::HistoryFigures* history = nullptr);


struct ChargeStateRead {
    std::optional<charge::EngineState> state;  // nullopt: nothing usable, start afresh
    std::vector<std::string> problems;         // "item 2: absorption_s 'x' is not a number", ...
    std::string battery;                       // whose state it is; "" when it does not say
    BatteryFingerprint fingerprint;            // as recorded (fields absent when not)
    std::optional<long long> writtenAt;        // Unix time it was written; nullopt: no fingerprint
    // The history kept with it: nullopt when there was none or an item of it was unusable.
    std::optional<domain::HistoryFigures> history;
};
// `text` as written by formatChargeState (lines or the ';' form). Never throws.
ChargeStateRead parseChargeState(std::string_view text, std::chrono::system_clock::time_point now);

// Whether a state read from `read` may be restored into the battery that shows `current`
// now (wall clock `now`): "" when it may, else why not (one phrase for the log). The cell
// count and capacity must match where both are known; the runtime and cycle counters must
// not have gone backwards nor advanced more than the wall time since written_at allows.
// A state without written_at (no fingerprint, older versions) never matches. With a
// fallback key (`keyFromBms` false) the cell count, the capacity and at least one counter
// must be known on both sides: the key alone says nothing about which battery it is.
std::string whyNotThisBattery(const ChargeStateRead& read, const BatteryFingerprint& current,
                              std::chrono::system_clock::time_point now, bool keyFromBms);

// File I/O. The write goes to `path`.tmp, is synced and renamed over `path`, so a power cut
// leaves the old state or the new one; on any failure (a full disk) the .tmp is removed and
// the old state kept; false with the reason in `error`.
bool saveChargeState(const std::string& path, const std::string& text, std::string& error);
// No file: no state and no problem (a first start). Otherwise as parseChargeState, plus
// "cannot be read: ..." for a file that cannot be read (a directory, permissions).
ChargeStateRead loadChargeState(const std::string& path, std::chrono::system_clock::time_point now);

}  // namespace jkbms::app
