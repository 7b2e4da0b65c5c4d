#pragma once
// What `jkbms read` prints: one BatterySnapshot as a table for a person (80 columns) or as one
// JSON object for scripts. Absent values print as "-" in the table and null in JSON.

#include <string>

#include "jkbms/cli/json.hpp"
#include "jkbms/domain/battery_snapshot.hpp"

namespace jkbms::cli {

// `where`: how the BMS was reached, e.g. "NW on /dev/ttyUSB0".
std::string readingTable(const domain::BatterySnapshot& snapshot, const std::string& where);
Json readingJson(const domain::BatterySnapshot& snapshot, const std::string& where);

// Small formatting helpers shared by the table and the dashboard.
std::string fixed(double value, int decimals);
std::string fixedOr(const std::optional<double>& value, int decimals, std::string_view unit);
std::string onOff(const std::optional<bool>& value);

}  // namespace jkbms::cli
