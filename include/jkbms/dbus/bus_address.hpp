#pragma once
// Which bus to connect to, the way Victron's own tools choose: an explicit address, else the
// session bus when DBUS_SESSION_BUS_ADDRESS is set, else the system bus.

#include <memory>
#include <optional>
#include <string>

namespace sdbus {
class IConnection;
}

namespace jkbms::dbus {

// Throws sdbus::Error when the bus cannot be reached (a start-up error).
std::unique_ptr<sdbus::IConnection> connectBus(const std::optional<std::string>& address);

}  // namespace jkbms::dbus
