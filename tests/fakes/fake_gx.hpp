#pragma once
// A test-only GX device on the private bus, as far as its built-in relays go:
//   com.victronenergy.system    /Relay/<n>/State (int, writable), as dbus-systemcalc-py
//                               publishes it; a write is recorded, refused (2) while the
//                               relay's function is not manual, and handed to onWrite
//   com.victronenergy.settings  /Settings/Relay/Function (relay 0) and
//                               /Settings/Relay/<n>/Function, with PropertiesChanged on change
// Both are real com.victronenergy.BusItem trees (our BusItemService), each on its own
// connection with its own well-known name.

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <sdbus-c++/sdbus-c++.h>
#include <string>
#include <vector>

#include "fakes/claim_name.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include "jkbms/dbus/bus_item_service.hpp"

namespace jkbms::test {

class FakeGx {
public:
    // `relays` relays, all with function `function` (2 = manual).
    FakeGx(boost::asio::io_context& io, const std::string& address, int relays = 2, int function = 2)
        : systemBus_(connect(address, "com.victronenergy.system")),
          settingsBus_(connect(address, "com.victronenergy.settings")),
          // Like Victron's own services (velib's VeDbusService), one PropertiesChanged per
          // changed path: VenusRelay follows those.
          system_(*systemBus_, dbus::BusItemService::Options{true}),
          settings_(*settingsBus_, dbus::BusItemService::Options{true}) {
        dbus::PathTable functions, states;
        for (int n = 0; n < relays; ++n) {
            functions.emplace(functionPath(n), dbus::makeItem(std::int32_t{function}));
            states.emplace(statePath(n), dbus::makeItem(std::int32_t{0}));
            system_.setWritable(statePath(n), dbus::WritableSpec{dbus::WritableSpec::Type::Int, 0, 1, 0},
                                dbus::Unit::None, [this, n](const std::string&, const dbus::Value& v) {
                                    const bool closed = std::get<std::int32_t>(v) == 1;
                                    writes.emplace_back(n, closed);
                                    if (functionOf(n) != 2) return false;
                                    if (onWrite) onWrite(n, closed);
                                    return true;
                                });
        }
        settings_.update(functions);
        system_.update(states);
        systemLoop_ = std::make_unique<dbus::AsioSdbusLoop>(io, *systemBus_);
        settingsLoop_ = std::make_unique<dbus::AsioSdbusLoop>(io, *settingsBus_);
        systemLoop_->start();
        settingsLoop_->start();
    }

    static std::string functionPath(int n) {
        return n == 0 ? "/Settings/Relay/Function" : "/Settings/Relay/" + std::to_string(n) + "/Function";
    }
    static std::string statePath(int n) { return "/Relay/" + std::to_string(n) + "/State"; }

    // The GUI sets another function (announced with PropertiesChanged).
    void setFunction(int n, int function) {
        dbus::PathTable one;
        one.emplace(functionPath(n), dbus::makeItem(std::int32_t{function}));
        settings_.update(one);
    }
    // Another com.victronenergy.system path (e.g. /Control/Dvcc) set or changed, announced
    // with PropertiesChanged as systemcalc does.
    void setSystem(const std::string& path, dbus::Value value) {
        dbus::PathTable one;
        one.emplace(path, dbus::makeItem(std::move(value)));
        system_.update(one);
    }
    std::optional<std::int32_t> state(int n) const {
        const dbus::Item* item = system_.find(statePath(n));
        if (!item) return std::nullopt;
        return std::get<std::int32_t>(item->value);
    }

    std::vector<std::pair<int, bool>> writes;  // every SetValue on a relay state, accepted or not
    std::function<void(int relay, bool closed)> onWrite;

private:
    static std::unique_ptr<sdbus::IConnection> connect(const std::string& address, const std::string& name) {
        auto connection = sdbus::createSessionBusConnectionWithAddress(address);
        claimName(*connection, name);
        return connection;
    }
    int functionOf(int n) const {
        const dbus::Item* item = settings_.find(functionPath(n));
        return item ? std::get<std::int32_t>(item->value) : -1;
    }

    std::unique_ptr<sdbus::IConnection> systemBus_;
    std::unique_ptr<sdbus::IConnection> settingsBus_;
    dbus::BusItemService system_;
    dbus::BusItemService settings_;
    std::unique_ptr<dbus::AsioSdbusLoop> systemLoop_;
    std::unique_ptr<dbus::AsioSdbusLoop> settingsLoop_;
};

// venus-platform's notification injection (com.victronenergy.platform /Notifications/Inject:
// SetValue with a string "<type>\t<device>\t<description>", as src/notifications.hpp takes
// it): every value recorded, 0 returned. Plain sdbus-c++, since our BusItemService refuses
// control characters in strings and the separator is a tab.
class FakePlatform {
public:
    FakePlatform(boost::asio::io_context& io, const std::string& address)
        : bus_(sdbus::createSessionBusConnectionWithAddress(address)) {
        inject_ = sdbus::createObject(*bus_, sdbus::ObjectPath{"/Notifications/Inject"});
        inject_
            ->addVTable(sdbus::registerMethod("SetValue").implementedAs([this](const sdbus::Variant& value) {
                injected.push_back(value.get<std::string>());
                return std::int32_t{0};
            }))
            .forInterface(sdbus::InterfaceName{"com.victronenergy.BusItem"});
        claimName(*bus_, "com.victronenergy.platform");
        loop_ = std::make_unique<dbus::AsioSdbusLoop>(io, *bus_);
        loop_->start();
    }

    std::vector<std::string> injected;  // every notification injected, in order

private:
    std::unique_ptr<sdbus::IConnection> bus_;
    std::unique_ptr<sdbus::IObject> inject_;
    std::unique_ptr<dbus::AsioSdbusLoop> loop_;
};

}  // namespace jkbms::test
