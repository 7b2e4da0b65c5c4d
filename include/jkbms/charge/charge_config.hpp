#pragma once
// Settings of the charge-limit engine (charge-control.md), with the LiFePO4 defaults of the
// spec. Plain values; validate() lists what is inconsistent.

#include <string>
#include <utility>
#include <vector>

namespace jkbms::charge {

// A list of [x, fraction] points, linearly interpolated and clamped at the ends. In step
// mode the breakpoint on the safe side (the smaller fraction) is used between points.
struct Table {
    std::vector<std::pair<double, double>> points;  // x strictly monotonic (rising or falling)
    bool step = false;
    double at(double x) const;
    std::string validate() const;  // "" when usable
};

struct ChargeConfig {
    // CVL (section 2)
    double bulkCellV = 3.45;
    double floatCellV = 3.375;
    double minCellV = 2.90;
    double absorptionMaxTimeS = 900;
    double tailCurrentC = 0.02;        // of the capacity
    double tailTimeS = 60;
    double maxCellSpreadV = 0.010;     // absorption timer runs while spread <= this
    double spreadHysteresisV = 0.003;
    double rebulkSocPercent = 80;
    double rebulkCellSpreadV = 0.080;
    double floatTransitionVps = 0.001;  // pack, on entering Float
    double cvlOffsetV = 0;              // cable compensation, added to the published CVL only
    double equalizeEveryDays = 0;       // periodic full top-up for SoC resync; 0 = off
    double equalizeCellV = 3.55;
    // Cell-voltage regulator: time-normalised PI on the highest cell (per-cell volts).
    double regulatorKp = 0.5;           // V of per-cell correction per V of error (closed-loop tuned)
    double regulatorKiPerS = 0.1;       // the same, per second
    double recoveryVps = 0.010;         // pack, upward slew of CVL
    // CCL / DCL (section 3)
    double maxChargeA = 0;              // 0: from the BMS settings / model rating
    double maxDischargeA = 0;
    Table chargeCellV{{{3.40, 1.0}, {3.45, 0.5}, {3.50, 0.1}, {3.55, 0.05}, {3.60, 0.0}}};
    Table dischargeCellV{{{3.10, 1.0}, {3.00, 0.5}, {2.90, 0.1}, {2.80, 0.05}, {2.70, 0.0}}};
    Table chargeTemperatureC{{{0, 0.0}, {5, 0.3}, {10, 1.0}, {40, 1.0}, {45, 0.5}, {50, 0.2}, {55, 0.0}}};
    Table dischargeTemperatureC{{{-20, 0.0}, {-10, 0.3}, {0, 1.0}, {45, 1.0}, {50, 0.5}, {55, 0.2}, {60, 0.0}}};
    Table mosfetTemperatureC{{{70, 1.0}, {80, 0.5}, {90, 0.0}}};
    Table chargeSoc;     // off when empty
    Table dischargeSoc;  // off when empty
    double increaseAps = 5;           // upward rate of CCL / DCL
    double recoveryHoldS = 30;         // after a reduction, hold before rising again
    double hysteresisFraction = 0.02;  // of the maximum: rise only when the target is this far above
    bool heaterPassthrough = true;
    double heaterMaxA = 3;
    // Warnings (section 4), each with hysteresis: the highest cell within 50 mV of the BMS's
    // cell OVP (3.65 V when unknown) but never below the active target + 50 mV; the lowest cell
    // within 100 mV of the BMS's UVP (else at min_voltage); the sum of cells at
    // BatteryLowVoltage; SoC at or below lowSocPercent (0 = off).
    double lowSocPercent = 10;

    // Every inconsistency, one line each; empty when usable.
    std::vector<std::string> validate() const;
};

}  // namespace jkbms::charge
