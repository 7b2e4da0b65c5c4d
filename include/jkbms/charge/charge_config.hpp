#pragma once
// Settings of the charge-limit engine (charge-control.md, with the deviations listed in the
// README's "Charge limits"). Plain values; validate() lists what is inconsistent.
//
// Per-cell voltages, the cell-voltage tables and the Float/re-bulk thresholds depend on the
// chemistry: they are std::optional here and, when absent, come from the chemistry's profile
// (cellProfile()). The chemistry is set by the user (charge.chemistry) or, with Auto, implied
// by the BMS's own cell over-voltage protection setting (see impliedChemistry()).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jkbms::charge {

// A list of [x, fraction] points, linearly interpolated and clamped at the ends. In step
// mode the breakpoint on the safe side (the smaller fraction) is used between points.
struct Table {
    std::vector<std::pair<double, double>> points;  // x strictly monotonic (rising or falling)
    bool step = false;
    double at(double x) const;     // fraction 0..1; 1 for an empty table
    std::string validate() const;  // "" when usable
};

enum class Chemistry : unsigned char {
    Auto,  // implied by the BMS's cell OVP setting (no limits until the BMS has reported it)
    Lfp,   // LiFePO4
    Nmc,   // Li-ion NMC / NCA
    Lto,   // lithium titanate
};

std::string_view chemistryName(Chemistry chemistry);  // "auto", "lfp", "nmc", "lto"

// The chemistry a BMS protects for, from its cell over-voltage protection (V): >= 4.0 V NMC,
// <= 3.0 V LTO, else LFP. nullopt when the BMS has not reported it or reports no value a cell
// can have (outside 2.0..4.6 V).
std::optional<Chemistry> impliedChemistry(std::optional<double> cellOvpV);

// What a chemistry's cells want (all per cell, V). The defaults (cellProfile) are the
// commonly recommended long-life values.
struct CellProfile {
    double bulkV = 0;           // Bulk / Absorption target
    double floatV = 0;          // Float target
    double minV = 0;            // x cells = /Info/BatteryLowVoltage, the CVL floor
    double ovpV = 0;            // the BMS's cell OVP assumed while it does not report one
    double uvpV = 0;            // the BMS's cell UVP assumed likewise
    double maxSpreadV = 0;      // absorption timer runs while max - min <= this
    double rebulkV = 0;         // Float -> Bulk when the average cell stays below this
    double rebulkSpreadV = 0;   // ... or the spread stays above this
    double targetBandV = 0;     // "at the target": top cell within this of it (Absorption, tail)
    Table chargeCellV;          // CCL fraction by highest cell (V)
    Table dischargeCellV;       // DCL fraction by lowest cell (V)
};

const CellProfile& cellProfile(Chemistry chemistry);  // Auto: the LFP profile

struct ChargeConfig {
    Chemistry chemistry = Chemistry::Auto;

    // CVL (section 2). Absent: the chemistry's profile.
    std::optional<double> bulkCellV, floatCellV, minCellV;
    double absorptionMaxTimeS = 900;    // absorption timer (see the README for when it runs)
    double tailCurrentC = 0.02;         // of the capacity: below it, at the target, = full
    double tailTimeS = 90;              // the tail current must hold this long without a break
    double timerCurrentC = 0.05;        // the absorption timer runs only below this current
    std::optional<double> maxCellSpreadV;
    double spreadHysteresisV = 0.003;
    double chargerShortfallV = 0.4;     // pack V: a charger stopping this far short of CVL
                                        // (cable drop, calibration) still counts as at target
    std::optional<double> rebulkCellV, rebulkCellSpreadV;
    double rebulkSocPercent = 70;       // secondary: only with the cells below the float target
    double rebulkTimeS = 300;           // a re-bulk condition must hold this long
    double floatMinTimeS = 1800;        // no re-bulk before this long in Float
    double floatTransitionVps = 0.001;  // pack, on entering Float
    double cvlOffsetV = 0;              // cable compensation, added to the published CVL only
    double equalizeEveryDays = 0;       // periodic full top-up for SoC resync; 0 = off
    double equalizeCellV = 3.55;
    // Reading conditioning: time constants of the per-cell and current filters (s), so the
    // behaviour is the same at 0.5 s and 5 s polls; a cell this far above the target (V) is
    // acted on unfiltered, at once.
    double cellFilterS = 10;
    double currentFilterS = 10;
    double hardMarginV = 0.030;
    // Cell-voltage regulator: time-normalised PI on the highest (filtered) cell, per-cell volts.
    double regulatorKp = 0.15;          // V of per-cell correction per V of error
    double regulatorKiPerS = 0.008;     // the same, per second
    double windupBandV = 0.010;         // CVL never below the sum of cells - cells x this
    double recoveryVps = 0.010;         // pack, upward slew of CVL near the pack voltage
    // CCL / DCL (section 3)
    double maxChargeA = 0;              // 0: from the BMS settings / model rating
    double maxDischargeA = 0;
    std::optional<Table> chargeCellV, dischargeCellV;  // absent: the chemistry's tables
    Table chargeTemperatureC{{{0, 0.0}, {5, 0.3}, {10, 1.0}, {40, 1.0}, {45, 0.5}, {50, 0.2}, {55, 0.0}}};
    Table dischargeTemperatureC{{{-20, 0.0}, {-10, 0.3}, {0, 1.0}, {45, 1.0}, {50, 0.5}, {55, 0.2}, {60, 0.0}}};
    Table mosfetTemperatureC{{{70, 1.0}, {80, 0.5}, {90, 0.0}}};
    Table chargeSoc;     // off when empty
    Table dischargeSoc;  // off when empty
    bool tableStepMode = false;  // tables.mode: step - applies to the chemistry's tables too
    // Anchors to the BMS's own protection settings: our limits reach 0 this far inside them.
    double ovpMarginV = 0.050;          // charge cell-voltage table at 0 by cell OVP - this
    double uvpMarginV = 0.100;          // discharge table at 0 by cell UVP + this
    double temperatureMarginC = 2;      // CCL/DCL 0 this far inside the BMS's UTP/OTP settings,
    double temperatureRampC = 5;        // full current this much further in
    double increaseAps = 5;           // upward rate of CCL / DCL
    double recoveryHoldS = 30;         // a limit rises only once its target stayed above the band this long
    double hysteresisFraction = 0.02;  // of the maximum: the band
    double resistanceOhmAh = 0.25;     // cell resistance x capacity assumed until measured (Ohm Ah)
    // CCL 0 whatever else (the limiter "Settings invalid"), the heater included: set by the
    // daemon, never from a file, when the configuration was refused and it runs on the
    // defaults. The engine then knows that nothing can charge (no end of charge is found).
    bool noCharge = false;
    bool heaterPassthrough = true;
    double heaterMaxA = 3;
    // Warnings (section 4), each with hysteresis: the highest cell within 50 mV of the BMS's
    // cell OVP but never below the active target + 50 mV; the lowest cell within 100 mV of
    // its UVP (at least min_voltage); the sum of cells at BatteryLowVoltage; SoC at or below
    // lowSocPercent (0 = off).
    double lowSocPercent = 10;

    // The profile in force for a chemistry (not Auto): its defaults with this config's values
    // where set.
    CellProfile resolve(Chemistry chemistry) const;

    // Every inconsistency, one line each; empty when usable. Per-cell voltages or cell tables
    // with chemistry Auto are refused (the defaults differ by chemistry).
    std::vector<std::string> validate() const;
};

}  // namespace jkbms::charge
