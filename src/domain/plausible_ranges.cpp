#include "jkbms/domain/plausible_ranges.hpp"

#include <cstdio>

namespace jkbms::domain {
namespace {

std::string shortNumber(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

}  // namespace

std::string OutOfRange::text() const {
    const std::string unit = range.unit.empty() ? "" : " " + std::string{range.unit};
    return what + " " + shortNumber(value) + unit + " is outside " + shortNumber(range.min) + " to " +
           shortNumber(range.max) + unit;
}

std::vector<OutOfRange> outOfRangeValues(const BatterySnapshot& s) {
    std::vector<OutOfRange> out;
    auto check = [&out](std::string what, double v, const PlausibleRange& range) {
        if (!range.contains(v)) out.push_back(OutOfRange{std::move(what), v, range});
    };
    auto checkOpt = [&check](std::string what, const auto& v, const PlausibleRange& range) {
        if (v) check(std::move(what), static_cast<double>(*v), range);
    };
    for (std::size_t i = 0; i < s.cellVoltagesV.size(); ++i)
        check("cell " + std::to_string(i + 1) + " voltage", s.cellVoltagesV[i], plausible::kCellVoltage);
    checkOpt("pack voltage", s.packVoltageV, plausible::kPackVoltage);
    checkOpt("current", s.currentA, plausible::kCurrent);
    checkOpt("power", s.powerW, plausible::kPower);
    checkOpt("SoC", s.socPercent, plausible::kPercent);
    checkOpt("SoH", s.sohPercent, plausible::kPercent);
    checkOpt("remaining capacity", s.remainingCapacityAh, plausible::kCapacity);
    checkOpt("full capacity", s.fullCapacityAh, plausible::kCapacity);
    for (const auto& t : s.temperatures) check("temperature " + std::string{t.name}, t.celsius, plausible::kTemperature);
    checkOpt("MOSFET temperature", s.mosfetTemperatureC, plausible::kTemperature);
    checkOpt("cycle count", s.cycleCount, plausible::kCycleCount);
    checkOpt("cycle capacity", s.cycleCapacityAh, plausible::kCycleCapacity);
    return out;
}

}  // namespace jkbms::domain
