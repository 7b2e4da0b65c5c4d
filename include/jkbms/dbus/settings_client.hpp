#pragma once
// SettingsClient: the device instance and custom name of one BMS, kept by Victron's
// localsettings (com.victronenergy.settings) under /Settings/Devices/<uid>/
// (victron-dbus.md section 4). Everything is asynchronous: the loop never waits for
// localsettings.
//
//   negotiate()  AddSettings with ClassAndVrmInstance "battery:<preferred>" and CustomName "".
//                localsettings may grant another instance (the preferred one is taken): the
//                granted one is what counts. While localsettings is not on the bus, retried
//                every second until `wait` has passed; then the preferred instance is used,
//                not persisted, and `persisted` says so - and AddSettings is tried again every
//                `retry` until localsettings answers: then onAppeared() gets what it granted,
//                with a custom name stored in the meantime already written there.
//   onChange()   a later change of either setting (the GUI's VRM-instances page, another
//                client) as seen in the settings' PropertiesChanged signals.
//   ChargeState  a third setting, a string the charge engine's state is kept in across
//                restarts (charge-control.md section 6); empty until first stored. Added as a
//                silent setting ("silent": its changes are not logged by localsettings).

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace sdbus {
class IConnection;
class IProxy;
}  // namespace sdbus

namespace jkbms::dbus {

inline constexpr std::string_view kSettingsService = "com.victronenergy.settings";

struct DeviceSettings {
    std::int32_t instance = -1;
    std::string customName;
    std::string chargeState;
    bool persisted = false;  // false: no localsettings, the instance is not reserved
};

class SettingsClient {
public:
    using Done = std::function<void(const DeviceSettings&)>;

    SettingsClient(boost::asio::io_context& io, sdbus::IConnection& connection, std::string uid,
                   std::string deviceClass = "battery");
    ~SettingsClient();

    void negotiate(std::int32_t preferred, std::chrono::milliseconds wait, Done done,
                   std::chrono::milliseconds retry = std::chrono::seconds(10));
    // Stores a new custom name in localsettings (asynchronously; a failure is logged).
    void storeCustomName(const std::string& name);
    // Stores the charge state text; false when there is no localsettings to keep it. `done`
    // (optional) is called with the outcome once localsettings answers: true stored, false
    // refused or failed (logged once), so the caller can write it again.
    bool storeChargeState(const std::string& text, std::function<void(bool stored)> done = {});
    // Called with the full, updated settings after a change seen from localsettings.
    void onChange(Done handler) { onChange_ = std::move(handler); }
    // Called once when localsettings answers after negotiate() gave up waiting for it.
    void onAppeared(Done handler) { onAppeared_ = std::move(handler); }

    std::string settingPath(std::string_view name) const;

private:
    void callAddSettings();
    void subscribe();
    void finish(DeviceSettings settings);
    void retryLater(std::chrono::milliseconds after);

    boost::asio::io_context& io_;
    sdbus::IConnection& connection_;
    std::string uid_;
    std::string class_;
    std::int32_t preferred_ = 1;
    std::chrono::steady_clock::time_point giveUpAt_;
    std::chrono::milliseconds retryEvery_{std::chrono::seconds(10)};
    boost::asio::steady_timer retry_;
    Done done_;
    Done onChange_;
    Done onAppeared_;
    std::optional<std::string> pendingName_;  // stored while localsettings was away
    bool absentLogged_ = false;
    DeviceSettings current_;
    std::unique_ptr<sdbus::IProxy> root_;
    std::unique_ptr<sdbus::IProxy> instanceProxy_;
    std::unique_ptr<sdbus::IProxy> nameProxy_;
    std::unique_ptr<sdbus::IProxy> chargeStateProxy_;
    bool chargeStateWarned_ = false;
};

}  // namespace jkbms::dbus
