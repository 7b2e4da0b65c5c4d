#pragma once
// BatteryService: one com.victronenergy.battery.<suffix> service on its own D-Bus connection
// (victron-dbus.md section 3):
//
//   start()    negotiate the device instance with localsettings, build every path (with the
//              latest reading if one was published), then claim the bus name - so a client's
//              first GetItems already has /DeviceInstance (surprise 1)
//   publish()  the reading, limits and communication state, mapped by batteryPaths() and
//              announced in one ItemsChanged; CommsState::Lost (and Off) invalidates
//              measurements and /Info/* together with /Connected = 0 (surprise 2)
//   /CustomName writes (strings only) are stored in localsettings; changes made there come
//   back as updates; a changed ClassAndVrmInstance re-registers the service under the new
//   instance (systemcalc caches the instance from its first scan).

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include "jkbms/dbus/battery_paths.hpp"
#include "jkbms/dbus/bus_item_service.hpp"
#include "jkbms/dbus/settings_client.hpp"

namespace sdbus {
class IConnection;
class IProxy;
}  // namespace sdbus

namespace jkbms::dbus {

struct BatteryServiceConfig {
    std::string busNameSuffix;  // becomes com.victronenergy.battery.<suffix> (sanitised)
    std::string uniqueId;       // the BMS under /Settings/Devices (sanitised)
    std::int32_t preferredInstance = 1;
    std::chrono::milliseconds settingsWait{std::chrono::seconds(10)};
    BusItemService::Options items;
    ServiceIdentity identity;   // deviceInstance and customName come from localsettings
    // With a relay: /Bms/Power is writable and a write calls this (false: refused).
    std::function<bool(bool on)> onPowerWrite;
    // /Bms/*Switch writes: true when the write was sent on to the BMS (false: refused).
    std::function<bool(BmsSwitch which, bool on)> onSwitchWrite;
};

class BatteryService {
public:
    // Service states, in order.
    enum class State : std::uint8_t {
        Idle,         // constructed
        Negotiating,  // waiting for localsettings
        Claiming,     // paths built, RequestName sent
        Registered,   // the bus name is ours
        Failed,       // the name is taken or the bus failed; see the error callback
    };
    using Callback = std::function<void(bool ok, const std::string& error)>;

    BatteryService(boost::asio::io_context& io, std::unique_ptr<sdbus::IConnection> connection,
                   BatteryServiceConfig config);
    ~BatteryService();

    // `onRegistered` once the name is claimed (ok) or could not be (error); later bus failures
    // also arrive there with ok = false.
    void start(Callback onRegistered);
    // Called once localsettings has answered (or the wait is over), before the paths are
    // built: the place to restore state kept there and publish() the first values.
    void onNegotiated(std::function<void(const DeviceSettings&)> handler) { onNegotiated_ = std::move(handler); }
    // Keeps the charge state text in localsettings; false when there is none (use a file).
    bool storeChargeState(const std::string& text) { return persisted_ && settings_->storeChargeState(text); }
    void publish(std::optional<domain::BatterySnapshot> snapshot, domain::ChargeLimits limits,
                 CommsState comms);
    // /Bms/Power's value (with a relay configured).
    void setPower(PowerItem power);
    // Releases the bus name (asynchronously); values stay as they are.
    void release(std::function<void()> done = {});

    State state() const { return state_; }
    const std::string& busName() const { return busName_; }
    std::int32_t deviceInstance() const { return config_.identity.deviceInstance; }
    bool instancePersisted() const { return persisted_; }
    const BusItemService& items() const { return *items_; }
    // What the identity paths are built from (device instance and custom name as granted).
    const ServiceIdentity& identity() const { return config_.identity; }
    sdbus::IConnection& connection() { return *connection_; }

private:
    void onSettings(const DeviceSettings& settings);
    void refresh();
    void requestName();

    boost::asio::io_context& io_;
    std::unique_ptr<sdbus::IConnection> connection_;
    BatteryServiceConfig config_;
    std::string busName_;
    std::unique_ptr<AsioSdbusLoop> loop_;
    std::unique_ptr<BusItemService> items_;
    std::unique_ptr<SettingsClient> settings_;
    std::unique_ptr<sdbus::IProxy> busDaemon_;
    Callback onRegistered_;
    std::function<void(const DeviceSettings&)> onNegotiated_;
    State state_ = State::Idle;
    bool persisted_ = false;
    PathTable table_;  // reused by every refresh
    std::optional<domain::BatterySnapshot> snapshot_;
    domain::ChargeLimits limits_;
    CommsState comms_ = CommsState::Ok;
};

}  // namespace jkbms::dbus
