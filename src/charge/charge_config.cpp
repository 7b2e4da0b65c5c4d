#include "jkbms/charge/charge_config.hpp"

#include <algorithm>
#include <cmath>

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

std::vector<std::string> ChargeConfig::validate() const {
    std::vector<std::string> errors;
    if (!(minCellV < floatCellV && floatCellV <= bulkCellV))
        errors.push_back("cell voltages must satisfy min_voltage < float_voltage <= bulk_voltage");
    if (absorptionMaxTimeS <= 0) errors.push_back("absorption.max_time must be positive");
    if (equalizeEveryDays < 0) errors.push_back("equalize.every_days must not be negative");
    if (equalizeEveryDays > 0 && equalizeCellV < bulkCellV)
        errors.push_back("equalize.cell_voltage must not be below the bulk voltage");
    if (regulatorKp < 0 || regulatorKiPerS < 0) errors.push_back("regulator gains must not be negative");
    if (recoveryVps <= 0 || floatTransitionVps <= 0 || increaseAps <= 0)
        errors.push_back("rates must be positive");
    const std::pair<const char*, const Table*> tables[] = {
        {"charge cell-voltage table", &chargeCellV}, {"discharge cell-voltage table", &dischargeCellV},
        {"charge temperature table", &chargeTemperatureC}, {"discharge temperature table", &dischargeTemperatureC},
        {"MOSFET temperature table", &mosfetTemperatureC}, {"charge SoC table", &chargeSoc},
        {"discharge SoC table", &dischargeSoc}};
    for (const auto& [name, table] : tables)
        if (auto why = table->validate(); !why.empty()) errors.push_back(std::string{name} + ": " + why);
    // A charge table that cuts the current to 0 at or below the bulk target means Absorption
    // can never finish: the battery would never be full.
    if (chargeCellV.validate().empty() && chargeCellV.at(bulkCellV) <= 0)
        errors.push_back("charge cell-voltage table reaches 0 A at or below the bulk voltage (" +
                         std::to_string(bulkCellV).substr(0, 4) + " V): the battery could never finish absorption");
    return errors;
}

}  // namespace jkbms::charge
