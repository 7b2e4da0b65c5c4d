#include "jkbms/domain/battery_snapshot.hpp"

#include <array>

namespace jkbms::domain {

std::string_view protocolName(Protocol protocol) {
    switch (protocol) {
        case Protocol::Nw: return "nw";
        case Protocol::Ble: return "ble";
        case Protocol::Pb: return "pb";
    }
    return "?";
}

std::string_view alarmName(Alarm alarm) {
    static constexpr std::array<std::string_view, static_cast<std::size_t>(Alarm::Count_)> kNames = {
        "cell_high_voltage",       "cell_low_voltage",       "high_voltage",
        "low_voltage",             "high_charge_current",    "high_discharge_current",
        "high_charge_temperature", "low_charge_temperature", "high_temperature",
        "low_temperature",         "mosfet_over_temperature", "cell_imbalance",
        "low_soc",                 "internal_failure",       "wire_resistance",
        "cell_count_mismatch",     "temperature_sensor_fault",
    };
    const auto i = static_cast<std::size_t>(alarm);
    return i < kNames.size() ? kNames[i] : std::string_view{"?"};
}

std::optional<CellStats> BatterySnapshot::cellStats() const {
    if (cellVoltagesV.empty()) return std::nullopt;
    CellStats s;
    s.minV = s.maxV = cellVoltagesV[0];
    for (std::size_t i = 0; i < cellVoltagesV.size(); ++i) {
        const double v = cellVoltagesV[i];
        s.sumV += v;
        if (v < s.minV) {
            s.minV = v;
            s.minIndex = i;
        }
        if (v > s.maxV) {
            s.maxV = v;
            s.maxIndex = i;
        }
    }
    s.averageV = s.sumV / static_cast<double>(cellVoltagesV.size());
    s.deltaV = s.maxV - s.minV;
    return s;
}

}  // namespace jkbms::domain
