#pragma once
// ChargeEngine: CVL, CCL, DCL and BatteryLowVoltage from a BatterySnapshot
// (charge-control.md). Pure: the time since the last step comes in as an argument; no clock,
// no I/O, no logging. One step per reading.
//
// CVL   Bulk -> Absorption -> Float (-> Bulk again). In Bulk and Absorption a discrete PI
//       regulator, normalised to seconds, holds the highest cell at the bulk target: CVL =
//       cells x (target + correction), the correction clamped to [min_voltage - target, 0]
//       with the integrator frozen while clamped (anti-windup); CVL falls at once and rises at
//       most recovery V/s. In Float CVL slews down to cells x float_voltage.
// CCL/DCL  the smallest of named limiters (maximum, BMS settings, cell-voltage, temperature,
//       MOSFET and SoC tables, FET off, BMS alarms; heater pass-through); reductions at once,
//       increases only once the target has stayed above a hysteresis band for recovery_hold
//       (the spec holds after 0 only; the closed-loop model flapped on IR-drop feedback and on
//       table breakpoints without it), then rate-limited.

#include <cstdint>
#include <string>
#include <string_view>

#include "jkbms/charge/charge_config.hpp"
#include "jkbms/domain/battery_snapshot.hpp"
#include "jkbms/domain/charge_limits.hpp"

namespace jkbms::charge {

enum class ChargeMode : std::uint8_t {
    Bulk,        // charging towards the bulk cell target
    Absorption,  // at the target: timer running (while the cells are balanced)
    Float,       // full: held at the float target until re-bulk
    Equalize,    // periodic top-up to the equalize target for the absorption time (optional)
};

std::string_view chargeModeName(ChargeMode mode);

// Everything the engine carries from one step to the next (the part to persist: mode and the
// absorption timers).
struct EngineState {
    ChargeMode mode = ChargeMode::Bulk;
    double absorptionS = 0;       // absorption timer (runs while the spread is small)
    double absorptionTotalS = 0;  // time in Absorption, whatever the spread
    double tailS = 0;             // time below the tail current with balanced cells
    bool spreadOk = false;        // spread <= max_cell_spread, with hysteresis
    double correctionV = 0;       // per-cell regulator integrator, <= 0
    double cvlV = 0;              // last CVL (pack, without the offset); 0 = none yet
    double ccl = -1, dcl = -1;    // last CCL / DCL; -1 = none yet
    double cclHoldS = 0, dclHoldS = 0;  // how long the target has stayed above the band
    double sinceFullChargeS = -1;  // since Float was last entered; -1 = not known
    double sinceEqualizeS = 0;     // since the last equalize (counts from the first start)
    domain::AlarmSet warnings{};   // our own warnings, with hysteresis (not persisted)
};

class ChargeEngine {
public:
    explicit ChargeEngine(ChargeConfig config) : config_(std::move(config)) {}

    domain::ChargeLimits step(const domain::BatterySnapshot& snapshot, double dtS);

    const EngineState& state() const { return state_; }
    void restore(const EngineState& state) { state_ = state; }
    const ChargeConfig& config() const { return config_; }

    // The continuous rating of a JK model ("JK-B2A24S20P" -> 200 A; jk-models.md); 0 if unknown.
    static double modelRatingA(std::string_view model);

private:
    struct Limit {
        double amps;
        std::string name;
    };
    // The cell statistics are computed once per step and handed to each part.
    double cvl(const domain::BatterySnapshot& s, const domain::CellStats& stats, double dtS, std::string& modeText);
    Limit chargeLimit(const domain::BatterySnapshot& s, const domain::CellStats& stats, double maxA) const;
    Limit dischargeLimit(const domain::BatterySnapshot& s, const domain::CellStats& stats, double maxA) const;
    void updateWarnings(const domain::BatterySnapshot& s, const domain::CellStats& cells);
    double shape(double target, double& last, double& holdS, double maxA, double dtS) const;

    ChargeConfig config_;
    EngineState state_;
};

}  // namespace jkbms::charge
