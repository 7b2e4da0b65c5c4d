#pragma once
// Names that D-Bus and localsettings accept (victron-dbus.md sections 1 and 4.1).

#include <optional>
#include <string>
#include <string_view>

namespace jkbms::dbus {

// One element of a bus name: [A-Za-z0-9_-]+, not starting with a digit ("ttyUSB0" stays,
// "1abc" becomes "jk1abc", other characters become '_').
std::string busNameElement(std::string_view raw);

// A BLE MAC as a bus-name suffix: "C8:47:8C:00:00:01" -> "ble_c8478c000001".
std::string bleSuffix(std::string_view mac);

// A unique id under /Settings/Devices: [A-Za-z0-9_], not starting with '_'.
std::string settingsUid(std::string_view raw);

// "battery:3" -> 3; nullopt when not "<class>:<non-negative int>".
std::optional<int> parseClassAndVrmInstance(std::string_view value);

}  // namespace jkbms::dbus
