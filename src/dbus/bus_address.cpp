#include "jkbms/dbus/bus_address.hpp"

#include <cstdlib>
#include <sdbus-c++/sdbus-c++.h>

namespace jkbms::dbus {

std::unique_ptr<sdbus::IConnection> connectBus(const std::optional<std::string>& address) {
    if (address && !address->empty()) return sdbus::createSessionBusConnectionWithAddress(*address);
    if (const char* session = std::getenv("DBUS_SESSION_BUS_ADDRESS"); session && *session)
        return sdbus::createSessionBusConnectionWithAddress(session);
    return sdbus::createSystemBusConnection();
}

}  // namespace jkbms::dbus
