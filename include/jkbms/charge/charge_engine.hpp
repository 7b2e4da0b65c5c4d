#pragma once
// ChargeEngine: CVL, CCL, DCL and BatteryLowVoltage from a BatterySnapshot
// (charge-control.md; the README's "Charge limits" lists where this deviates). Pure: the time
// since the last step comes in as an argument; no clock, no I/O, no logging. One step per
// reading; a reading that never came is simply a longer dt next time.
//
// Conditioning  JK cells read in 1 mV steps with +-5 mV of noise, and the current in 10 mA
//       steps: each cell and the current pass a first-order filter with a time constant in
//       seconds (the same behaviour at 0.5 s and 5 s polls). The regulator, the tables, the
//       transitions and the warnings work on the filtered values; a cell really above its
//       target (hard margin) or near the BMS's UVP is acted on unfiltered, at once. The pack's
//       cell resistance is estimated from current steps (mean cell voltage change / current
//       change) and used to predict where a limit increase would take the cells.
// CVL   Bulk -> Absorption -> Float (-> Bulk again). In Bulk and Absorption a time-normalised
//       PI regulator holds the highest filtered cell at the target: CVL = cells x (target +
//       correction), the correction <= 0. Anti-windup: CVL never below the sum of the cells
//       minus cells x windup band (a charger stops there anyway; deeper is only wind-up), and
//       the integrator stops while the output is held. CVL rises at recovery V/s, but at once
//       up to the cells' own sum (nothing to protect below it). In Float CVL slews down to
//       cells x float.
// End of charge  Only while charging is possible (charge FET on, no charge alarm, CCL above
//       the tail current) and the pack is at its target (top cell within the band, or the sum
//       within the charger shortfall): the tail current must hold for tail_time without a
//       break, and the absorption timer runs only then (and below timer_current). A blocked
//       charge pauses everything; Float and the full-charge time come only from a real end.
// Float  Held at least float_min_time; back to Bulk only when the average cell stays below the
//       re-bulk voltage (or the spread above its threshold, or the SoC low with the cells
//       below float) for rebulk_time.
// CCL/DCL  The smallest of named limiters (maximum capped by the BMS's own settings and the
//       model's rating, cell-voltage tables anchored to the BMS's OVP/UVP, temperature tables
//       and the BMS's temperature settings, MOSFET and SoC tables, FET off, BMS alarms; heater
//       pass-through). Reductions at once when the target is more than 1 % of the maximum
//       below (0 at once always); increases once the target has stayed above a 2 % band for
//       recovery_hold, then at increase A/s until they land exactly on the target; a cell-
//       voltage increase only as far as the predicted IR rise allows (no saw-tooth through
//       the cells' resistance).

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jkbms/charge/charge_config.hpp"
#include "jkbms/domain/battery_snapshot.hpp"
#include "jkbms/domain/charge_limits.hpp"

namespace jkbms::charge {

enum class ChargeMode : std::uint8_t {
    Bulk,        // charging towards the bulk cell target
    Absorption,  // at the target: timers running while charging is possible
    Float,       // full: held at the float target until a sustained re-bulk condition
    Equalize,    // periodic top-up to the equalize target for the absorption time (optional)
};

std::string_view chargeModeName(ChargeMode mode);

// The filtered view of the readings (not persisted: rebuilt from the first reading).
struct Conditioning {
    std::array<double, domain::BatterySnapshot::kMaxCells> cellV{};  // filtered cells, V
    std::size_t cells = 0;      // 0: nothing filtered yet
    double currentA = 0;        // filtered current, A (> 0 charging)
    double resistanceOhm = 0;   // estimated average cell resistance, Ohm; 0 = not measured yet
    double lastMeanV = 0;       // previous raw mean cell voltage, V
    double lastCurrentA = 0;    // previous raw current, A
};

// Everything the engine carries from one step to the next. Persisted (charge_state_file):
// mode, the absorption timers, the time since the last full charge and equalize.
struct EngineState {
    ChargeMode mode = ChargeMode::Bulk;
    double absorptionS = 0;       // absorption timer, s (see the header comment for when it runs)
    double absorptionTotalS = 0;  // s in Absorption at the target with charging possible
    double tailS = 0;             // s the tail current has held without a break
    bool spreadOk = false;        // filtered spread <= max_cell_spread, with hysteresis
    double correctionV = 0;       // per-cell regulator integrator, V, <= 0
    double cvlV = 0;              // last CVL (pack, V, without the offset); 0 = none yet
    bool cvlSlewLimited = false;  // the last CVL was held back by the upward slew
    double ccl = -1, dcl = -1;    // last CCL / DCL, A; -1 = none yet
    double cclHoldS = 0, dclHoldS = 0;     // s the target has stayed above the band
    bool cclRising = false, dclRising = false;  // an increase under way, until it lands
    std::string_view cclCause, dclCause;   // limiter behind the last reduction (static text)
    double sinceFullChargeS = -1;  // s since Float was last entered from a real end; -1 = not known
    double sinceEqualizeS = 0;     // s since the last equalize (counts from the first start)
    double floatS = 0;             // s in Float
    double rebulkS = 0;            // s a re-bulk condition has held
    int limitingCell = -1;         // 0-based cell named as limiting CVL; -1 none
    double unusableS = 0;          // s of readings in a row that could not be used
    domain::AlarmSet warnings{};   // our own warnings, with hysteresis (not persisted)
    Conditioning filter;           // not persisted
};

class ChargeEngine {
public:
    explicit ChargeEngine(ChargeConfig config) : config_(std::move(config)) {}

    // One reading, dtS (s) after the previous one (0 for the first; clamped to 0..3600; a gap
    // above 30 s restarts the filters). No cells, or chemistry Auto without the BMS's cell
    // OVP: no limits (all absent) and a chargeMode text saying why. A misread reading (a cell
    // outside 0..5 V or at 0 V, a current outside +-2000 A; plausible_ranges.hpp): the last
    // limits again, nothing advanced. An implausible SoC, temperature or MOSFET temperature is
    // ignored.
    domain::ChargeLimits step(const domain::BatterySnapshot& snapshot, double dtS);

    const EngineState& state() const { return state_; }
    // A saved state (restart): the filters and the regulator start afresh from the next
    // reading; the mode, timers and history continue.
    void restore(const EngineState& state);
    const ChargeConfig& config() const { return config_; }
    // A new configuration while running (a setting changed on the GX): checked with
    // ChargeConfig::validate(); when it has problems they are returned and nothing changes.
    // Otherwise it is in force from the next step() on: the mode, the timers, the filters,
    // the regulator and the last limits continue (a lower maximum cuts CCL / DCL at once, a
    // higher one is reached at the usual increase rate); the tables are anchored afresh.
    std::vector<std::string> reconfigure(ChargeConfig config);

    // The continuous rating of a JK model ("JK-B2A24S20P" -> 200 A; jk-models.md); 0 if unknown.
    static double modelRatingA(std::string_view model);

    // What step() works on, per cell (V) and current (A), after conditioning.
    struct Conditioned {
        double topV = 0, minV = 0, sumV = 0, avgV = 0, spreadV = 0;
        std::size_t topIndex = 0, minIndex = 0;
        double currentA = 0;      // filtered, > 0 charging
        double rawCurrentA = 0;   // this reading's; increases are predicted from the smaller
                                  // of the two (the filter lags a current just cut)
        double resistanceOhm = 0; // per cell, used to predict IR rises (conservative)
    };

private:
    struct Limit {
        double amps;
        std::string_view name;  // static text
    };
    // The tables and targets for this BMS (anchored to its protection settings); rebuilt only
    // when the chemistry or those settings change.
    struct Anchored {
        Chemistry chemistry = Chemistry::Auto;
        std::optional<double> reportedOvpV, reportedUvpV;  // what it was built for
        CellProfile profile;      // tables anchored: charge 0 by OVP - margin, discharge by UVP + margin
        double targetV = 0;       // bulk target, V per cell, capped below the BMS's OVP
        double floatV = 0;        // float target, V per cell (<= targetV)
        double ovpV = 0, uvpV = 0;  // cell OVP / UVP in force (reported, else the profile's)
        bool valid = false;
    };

    Conditioned condition(const domain::BatterySnapshot& s, const domain::CellStats& raw, double dtS,
                          double capacityAh);
    void anchor(Chemistry chemistry, const domain::BmsSettings& settings);
    double activeTargetV() const;  // per cell: bulk, or equalize in Equalize
    double cvl(const domain::BatterySnapshot& s, const domain::CellStats& raw, const Conditioned& c, double dtS);
    void transitions(const domain::BatterySnapshot& s, const Conditioned& c, double dtS, double capacityAh,
                     domain::ChargeLimits& out);
    Limit chargeLimit(const domain::BatterySnapshot& s, const domain::CellStats& raw, const Conditioned& c,
                      double maxA, double& increaseA) const;
    Limit dischargeLimit(const domain::BatterySnapshot& s, const domain::CellStats& raw, const Conditioned& c,
                         double maxA, double& increaseA) const;
    void updateWarnings(const domain::BatterySnapshot& s, const Conditioned& c);
    bool chargePossible(const domain::BatterySnapshot& s, const Conditioned& c, double tailA) const;
    std::string modeText(const Conditioned& c, double cvlV);
    double shape(Limit target, double increaseA, double maxA, double dtS, double& last, double& holdS, bool& rising,
                 std::string_view& cause, std::string& reason) const;

    ChargeConfig config_;
    EngineState state_;
    Anchored anchored_;
    std::string notes_;
    domain::ChargeLimits last_;  // what the last actionable reading gave
};

}  // namespace jkbms::charge
