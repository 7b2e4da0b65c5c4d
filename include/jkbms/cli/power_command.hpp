#pragma once
// `jkbms power on|off`: presses the BMS's display-port button through a running dbus-jkbms,
// by writing /Bms/Power on its battery service (1 = on press, 0 = off press).

#include <iosfwd>
#include <span>
#include <string_view>

namespace jkbms::cli {

// Exit codes: 0 pressed (with --wait: and the BMS reached the state), 1 refused, no such
// service or not reached in time, 2 bad usage.
int runPower(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

}  // namespace jkbms::cli
