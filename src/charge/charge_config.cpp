#include "jkbms/charge/charge_config.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace jkbms::charge {

double Table::at(double x) const {
    if (points.empty()) return 1.0;
    if (points.size() == 1) return points.front().second;
    const bool rising = points.back().first > points.front().first;
    auto before = [rising](double a, double b) { return rising ? a <= b : a >= b; };
    if (before(x, points.front().first)) return points.front().second;
    if (before(points.back().first, x)) return points.back().second;
    for (std::size_t i = 1; i < points.size(); ++i) {
        const auto& [x1, y1] = points[i];
        if (!before(x, x1)) continue;
        const auto& [x0, y0] = points[i - 1];
        if (step) return std::min(y0, y1);  // the safe side
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
    }
    return points.back().second;
}

std::string Table::validate() const {
    if (points.empty()) return {};
    for (const auto& [x, y] : points)
        if (!std::isfinite(x) || !std::isfinite(y) || y < 0 || y > 1) return "fractions must lie in 0..1";
    if (points.size() < 2) return {};
    const bool rising = points[1].first > points[0].first;
    for (std::size_t i = 1; i < points.size(); ++i)
        if ((points[i].first > points[i - 1].first) != rising || points[i].first == points[i - 1].first)
            return "x values must rise (or fall) strictly";
    return {};
}

std::string_view chemistryName(Chemistry chemistry) {
    switch (chemistry) {
        case Chemistry::Auto: return "auto";
        case Chemistry::Lfp: return "lfp";
        case Chemistry::Nmc: return "nmc";
        case Chemistry::Lto: return "lto";
    }
    return "?";
}

std::optional<Chemistry> impliedChemistry(std::optional<double> cellOvpV) {
    // Only a setting a cell can have (a misread 0xFFFF = 65.535 V must not make LFP into NMC).
    if (!cellOvpV || !std::isfinite(*cellOvpV) || *cellOvpV < 2.0 || *cellOvpV > 4.6) return std::nullopt;
    if (*cellOvpV >= 4.0) return Chemistry::Nmc;
    if (*cellOvpV <= 3.0) return Chemistry::Lto;
    return Chemistry::Lfp;
}

const CellProfile& cellProfile(Chemistry chemistry) {
    // LFP: the spec's values. NMC: 4.10 V (about 90 % of a 4.20 V cell's capacity, the usual
    // long-life target for storage). LTO: 2.65 V of a 2.80 V maximum. The cell-voltage tables
    // start cutting below the target and reach 0 well before the BMS's OVP; discharge tables
    // reach 0 above the usual UVP (and are moved up to the BMS's own UVP + margin anyway).
    static const CellProfile kLfp{3.45, 3.375, 2.90, 3.65, 2.80, 0.010, 3.32, 0.080, 0.025,
                                  Table{{{3.40, 1.0}, {3.45, 0.5}, {3.50, 0.1}, {3.55, 0.05}, {3.60, 0.0}}},
                                  Table{{{3.10, 1.0}, {3.00, 0.5}, {2.90, 0.1}, {2.80, 0.05}, {2.70, 0.0}}}};
    static const CellProfile kNmc{4.10, 4.00, 3.30, 4.20, 3.00, 0.015, 3.92, 0.120, 0.025,
                                  Table{{{4.05, 1.0}, {4.10, 0.5}, {4.13, 0.1}, {4.15, 0.0}}},
                                  Table{{{3.50, 1.0}, {3.40, 0.5}, {3.30, 0.1}, {3.20, 0.05}, {3.10, 0.0}}}};
    static const CellProfile kLto{2.65, 2.55, 2.00, 2.80, 1.80, 0.020, 2.45, 0.150, 0.030,
                                  Table{{{2.60, 1.0}, {2.65, 0.5}, {2.70, 0.1}, {2.75, 0.0}}},
                                  Table{{{2.20, 1.0}, {2.10, 0.5}, {2.00, 0.1}, {1.95, 0.05}, {1.90, 0.0}}}};
    switch (chemistry) {
        case Chemistry::Nmc: return kNmc;
        case Chemistry::Lto: return kLto;
        case Chemistry::Auto:
        case Chemistry::Lfp: break;
    }
    return kLfp;
}

CellProfile ChargeConfig::resolve(Chemistry chem) const {
    CellProfile p = cellProfile(chem);
    if (bulkCellV) p.bulkV = *bulkCellV;
    if (floatCellV) p.floatV = *floatCellV;
    if (minCellV) p.minV = *minCellV;
    if (maxCellSpreadV) p.maxSpreadV = *maxCellSpreadV;
    if (rebulkCellV) p.rebulkV = *rebulkCellV;
    if (rebulkCellSpreadV) p.rebulkSpreadV = *rebulkCellSpreadV;
    if (chargeCellV) p.chargeCellV = *chargeCellV;
    if (dischargeCellV) p.dischargeCellV = *dischargeCellV;
    p.chargeCellV.step = p.chargeCellV.step || tableStepMode;
    p.dischargeCellV.step = p.dischargeCellV.step || tableStepMode;
    return p;
}

std::vector<std::string> ChargeConfig::validate() const {
    std::vector<std::string> errors;
    const bool perCell = bulkCellV || floatCellV || minCellV || maxCellSpreadV || rebulkCellV || rebulkCellSpreadV ||
                         chargeCellV || dischargeCellV;
    if (chemistry == Chemistry::Auto && perCell)
        errors.push_back(
            "per-cell voltages and cell-voltage tables differ by chemistry: set chemistry (lfp, nmc or lto) with them");
    const CellProfile p = resolve(chemistry);
    if (!(p.minV < p.floatV && p.floatV <= p.bulkV))
        errors.push_back("cell voltages must satisfy min_voltage < float_voltage <= bulk_voltage");
    if (p.rebulkV >= p.floatV) errors.push_back("float.rebulk_cell_voltage must be below the float voltage");
    if (absorptionMaxTimeS <= 0) errors.push_back("absorption.max_time must be positive");
    if (timerCurrentC < tailCurrentC) errors.push_back("absorption.timer_current must not be below tail_current");
    if (equalizeEveryDays < 0) errors.push_back("equalize.every_days must not be negative");
    if (equalizeEveryDays > 0 && equalizeCellV < p.bulkV)
        errors.push_back("equalize.cell_voltage must not be below the bulk voltage");
    if (regulatorKp < 0 || regulatorKiPerS < 0) errors.push_back("regulator gains must not be negative");
    if (recoveryVps <= 0 || floatTransitionVps <= 0 || increaseAps <= 0)
        errors.push_back("rates must be positive");
    if (cellFilterS < 0 || currentFilterS < 0) errors.push_back("filter time constants must not be negative");
    if (!(temperatureRampC > 0) || !(hardMarginV > 0) || ovpMarginV < 0 || uvpMarginV < 0 || temperatureMarginC < 0 ||
        windupBandV < 0 || tailTimeS < 0 || recoveryHoldS < 0 || hysteresisFraction < 0 || chargerShortfallV < 0)
        errors.push_back("margins, bands and times must not be negative (ramps and the hard margin positive)");
    // The cell-voltage tables must end at 0 A (the end with the smaller fraction), or the
    // limits never stop a charge or a discharge before the BMS does.
    for (const auto& [name, table] : {std::pair{"charge cell-voltage table", &p.chargeCellV},
                                      std::pair{"discharge cell-voltage table", &p.dischargeCellV}})
        if (table->validate().empty() && !table->points.empty() &&
            std::min(table->points.front().second, table->points.back().second) > 0)
            errors.push_back(std::string{name} + " must reach 0 at one end");
    for (double a : {maxChargeA, maxDischargeA})
        if (!std::isfinite(a) || a < 0 || a > 5000) {
            errors.push_back("current maxima must lie in 0..5000 A");
            break;
        }
    const std::pair<const char*, const Table*> tables[] = {
        {"charge cell-voltage table", &p.chargeCellV}, {"discharge cell-voltage table", &p.dischargeCellV},
        {"charge temperature table", &chargeTemperatureC}, {"discharge temperature table", &dischargeTemperatureC},
        {"MOSFET temperature table", &mosfetTemperatureC}, {"charge SoC table", &chargeSoc},
        {"discharge SoC table", &dischargeSoc}};
    for (const auto& [name, table] : tables)
        if (auto why = table->validate(); !why.empty()) errors.push_back(std::string{name} + ": " + why);
    // A charge table that cuts the current to 0 at or below the bulk target means Absorption
    // can never finish: the battery would never be full.
    if (p.chargeCellV.validate().empty() && p.chargeCellV.at(p.bulkV) <= 0) {
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "charge cell-voltage table reaches 0 A at or below the bulk voltage (%.3f V): the battery "
                      "could never finish absorption",
                      p.bulkV);
        errors.emplace_back(buf);
    }
    return errors;
}

}  // namespace jkbms::charge
