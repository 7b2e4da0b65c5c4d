#pragma once
// ChargeLimits: what the charge-limit engine decides for DVCC (charge-control.md), as plain
// values. Absent = not decided yet, published as invalid. Values are rounded to what Victron
// shows: V to 0.01, A to 0.1.

#include <optional>
#include <string>

#include "jkbms/domain/battery_snapshot.hpp"

namespace jkbms::domain {

struct ChargeLimits {
    std::optional<double> maxChargeVoltageV;     // CVL, V
    std::optional<double> maxChargeCurrentA;     // CCL, A
    std::optional<double> maxDischargeCurrentA;  // DCL, A
    std::optional<double> batteryLowVoltageV;    // V
    std::optional<bool> chargeRequest;
    std::string chargeMode;           // e.g. "Bulk", "Absorption 12 min left", "Float"; changes
                                      // only when its meaning does
    std::string chargeLimitation;     // name of the limiter in force on CCL
    std::string dischargeLimitation;  // name of the limiter in force on DCL
    std::optional<double> timeSinceFullChargeS;  // /History/TimeSinceLastFullCharge, s
    // Our own early warnings (published as 1 where the BMS has not tripped: 2 wins).
    AlarmSet warnings;
    // For the log, one line when it changes: set only in the step where the charge mode
    // changed ("Absorption -> Float: tail current 3.1 A < 5.6 A for 90 s"), else empty.
    std::string modeChange;
    // For the log, one line whenever it changes: what the engine derived from the BMS
    // (chemistry, caps of configured values by the BMS's own settings), e.g. "chemistry lfp
    // (BMS cell OVP 3.650 V); max charge current 250 A capped to the BMS's 200 A".
    std::string notes;
};

}  // namespace jkbms::domain
