#pragma once
// `jkbms watch`'s screen: one reading (and the charge limits, when known) drawn into a fixed
// width x height - cells as horizontal bars with the highest (^) and lowest (v) marked and
// balancing shown (~); pack voltage, current, power and SoC; temperatures; the charge state
// and CVL / CCL / DCL with what limits them. Pure: the caller writes the lines to the terminal.
// When stdout is no terminal, plainLine() gives one line per reading instead.

#include <bitset>
#include <optional>
#include <string>
#include <vector>

#include "jkbms/domain/battery_snapshot.hpp"
#include "jkbms/domain/charge_limits.hpp"

namespace jkbms::cli {

struct DashboardView {
    std::string title;   // e.g. "JK_B2A24S15P - NW on /dev/ttyUSB0"
    std::string status;  // e.g. "12:00:01" or "no answer for 5 s"
    std::optional<domain::BatterySnapshot> snapshot;  // nullopt: nothing read yet
    std::optional<domain::ChargeLimits> limits;       // nullopt: not known
    std::bitset<domain::BatterySnapshot::kMaxCells> balancingCells;  // per cell, when known
};

struct Screen {
    std::size_t width = 80, height = 24;
    bool color = false;  // ANSI colours (min blue, max red, balancing yellow) and block bars
};

// Exactly screen.height lines, none wider than screen.width columns (escapes not counted).
std::vector<std::string> renderDashboard(const DashboardView& view, const Screen& screen);
// One line for a log or a pipe.
std::string plainLine(const DashboardView& view);

// Columns a line takes on a terminal: UTF-8 code points, ANSI escape sequences not counted.
std::size_t displayWidth(std::string_view text);

}  // namespace jkbms::cli
