#pragma once
// The well-known name of a test-only service on the private bus, claimed with
// ALLOW_REPLACEMENT | REPLACE_EXISTING: a fake of an earlier test that is still leaving the
// bus does not block this one.

#include <sdbus-c++/sdbus-c++.h>

#include <cstdint>
#include <string>

namespace jkbms::test {

inline void claimName(sdbus::IConnection& connection, const std::string& name) {
    auto bus = sdbus::createProxy(connection, sdbus::ServiceName{"org.freedesktop.DBus"},
                                  sdbus::ObjectPath{"/org/freedesktop/DBus"});
    std::uint32_t reply = 0;
    bus->callMethod("RequestName")
        .onInterface("org.freedesktop.DBus")
        .withArguments(name, std::uint32_t{3})
        .storeResultsTo(reply);
}

}  // namespace jkbms::test
