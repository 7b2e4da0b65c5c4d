#pragma once
// ChargeLimits: what the charge-limit engine decides for DVCC (charge-control.md), as plain
// values. Absent = not decided yet, published as invalid.

#include <optional>
#include <string>

#include "jkbms/domain/battery_snapshot.hpp"

namespace jkbms::domain {

struct ChargeLimits {
    std::optional<double> maxChargeVoltageV;     // CVL
    std::optional<double> maxChargeCurrentA;     // CCL
    std::optional<double> maxDischargeCurrentA;  // DCL
    std::optional<double> batteryLowVoltageV;
    std::optional<bool> chargeRequest;
    std::string chargeMode;           // e.g. "Bulk", "Absorption", "Float"
    std::string chargeLimitation;     // name of the limiter that sets CCL
    std::string dischargeLimitation;  // name of the limiter that sets DCL
    std::optional<double> timeSinceFullChargeS;  // /History/TimeSinceLastFullCharge
    // Our own early warnings (published as 1 where the BMS has not tripped: 2 wins).
    AlarmSet warnings;
};

}  // namespace jkbms::domain
