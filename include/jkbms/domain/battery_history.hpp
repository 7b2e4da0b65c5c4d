#pragma once
// BatteryHistory: what Victron's History page shows for a battery (victron-dbus.md 5.7,
// /History/*), kept by us from the readings - a JK BMS keeps only its cycle counters. One
// per battery, stepped with each reading while communication is Ok; persisted with the
// charge state (app/charge_state_file.hpp) so it survives restarts.
//
//   Minimum/MaximumVoltage       pack voltage extremes, V (readings of a pack that powers its
//   Minimum/MaximumCellVoltage   BMS: every cell >= kMinCellForExtremesV - a 0 V frame or an
//                                open sense wire is no cell voltage), V
//   Minimum/MaximumTemperature   battery sensor extremes, degC (the MOSFET is not the battery)
//   ChargedEnergy                kWh in: V x I integrated while I > kIdleCurrentA
//   DischargedEnergy             kWh out: the same while I < -kIdleCurrentA
//                                (NW and JK-PB read current in 10 mA steps, +-0.1 A at rest)
//   DeepestDischarge             the most Ah ever consumed, <= 0 (Victron's sign)
//   LastDischarge                the most Ah consumed since the last automatic sync, <= 0
//   AutomaticSyncs               the times the SoC came back to 100 % (after < kSyncRearmSoc)
//   FullDischarges               the times the SoC reached 0 % (after > kEmptyRearmSoc)
//   Low/HighVoltageAlarms        the times a pack or cell under/over-voltage protection tripped
//
// Consumed Ah is min(0, remaining - full capacity), as /ConsumedAmphours. Noise: JK currents
// read +-0.1 A around zero at rest; up to kIdleCurrentA nothing is integrated (a Victron BMV's
// zero-current threshold is the same idea), and a gap between readings counts at most the
// owner's `maxGapS` (the time after which the BMS counts as not answering: a BMS silent for
// a minute does not add a minute of its last power). After a start or restore the sync and
// empty counters are disarmed until the SoC has left 100 % / 0 % (a restart at 100 % is no
// new sync), and a protection tripped in the first reading that reports alarms is not
// counted (it may be the trip from before the restart).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jkbms/domain/battery_snapshot.hpp"

namespace jkbms::domain {

inline constexpr double kIdleCurrentA = 0.15;          // A, exclusive
inline constexpr double kDefaultMaxGapS = 10.0;        // s
inline constexpr double kMinCellForExtremesV = 0.5;    // V
inline constexpr double kSyncRearmSoc = 95.0;   // %
inline constexpr double kEmptyRearmSoc = 10.0;  // %

// The figures, as published (absent: not seen yet). Counters and energies start at 0.
struct HistoryFigures {
    std::optional<double> minVoltageV, maxVoltageV;
    std::optional<double> minCellVoltageV, maxCellVoltageV;
    std::optional<double> minTemperatureC, maxTemperatureC;
    double chargedKWh = 0, dischargedKWh = 0;
    std::optional<double> deepestDischargeAh, lastDischargeAh;  // <= 0
    std::uint32_t automaticSyncs = 0, fullDischarges = 0, lowVoltageAlarms = 0, highVoltageAlarms = 0;
    friend bool operator==(const HistoryFigures&, const HistoryFigures&) = default;
};

class BatteryHistory {
public:
    // `maxGapS`: the most one gap between readings counts for the energies, s (> 0).
    explicit BatteryHistory(double maxGapS = kDefaultMaxGapS) : maxGapS_(maxGapS > 0 ? maxGapS : kDefaultMaxGapS) {}
    // What update() saw, for the owner's save policy.
    enum class Change : std::uint8_t {
        None,    // nothing changed
        Figure,  // an extreme, an energy or the current discharge moved (save now and then)
        Event,   // a sync, a full discharge or an alarm was counted (worth saving soon)
    };
    // One reading with communication Ok; `dtS` seconds since the previous one (<= 0 or NaN:
    // the first one, nothing integrated). Implausible values (domain::plausible) are skipped.
    Change update(const BatterySnapshot& reading, double dtS);
    // /History/Clear: every figure back to nothing (the arming stays as the SoC says).
    void clear();
    // Figures read back from a saved state (parseHistory); the counters are disarmed.
    void restore(const HistoryFigures& figures);
    const HistoryFigures& figures() const { return figures_; }

private:
    HistoryFigures figures_;
    double maxGapS_;
    bool syncArmed_ = false, emptyArmed_ = false;
    bool alarmsSeen_ = false;                        // a reading with alarms since start / restore
    bool lowVoltage_ = false, highVoltage_ = false;  // the protections in the previous reading
    bool first_ = true;                              // no reading since start or restore
};

// The figures as key=value items, one per line ("history_min_v=51.2"): what is absent is left
// out. Numbers keep 6 significant digits (what the GUI shows and then some).
std::string formatHistory(const HistoryFigures& figures);

// Every key formatHistory writes starts with this.
inline constexpr std::string_view kHistoryKeyPrefix = "history_";

// One key=value item of a saved history into `figures`. Never throws.
enum class HistoryItem : std::uint8_t {
    Read,     // taken
    Unknown,  // a history_* key this version does not know (a newer one wrote it): ignored
    Bad,      // unusable: `why` says so ("is not a number", "is out of range (0 to 200)")
};
HistoryItem readHistoryItem(std::string_view key, std::string_view value, HistoryFigures& figures, std::string& why);

}  // namespace jkbms::domain
