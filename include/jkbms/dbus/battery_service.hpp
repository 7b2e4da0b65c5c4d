#pragma once
// BatteryService: one com.victronenergy.battery.<suffix> service on its own D-Bus connection
// (victron-dbus.md section 3):
//
//   start()    with an identity lock: claim it (the battery's key as a bus name; another
//              process - another port - holding it reports the same id, and this one is
//              keyed by `fallbackUid` instead, with one log line); then negotiate the device
//              instance with localsettings, build every path (with the latest reading if one
//              was published), then claim the bus name - so a client's first GetItems
//              already has /DeviceInstance (surprise 1)
//   late localsettings: registered without it after `settingsWait`; when it answers later
//              the instance it grants is taken (re-registering when it differs), a custom
//              name written meanwhile is stored, and onPersisted() is called
//   publish()  the reading, limits and communication state, mapped by batteryPaths() and
//              announced in one ItemsChanged; CommsState::Lost (and Off) invalidates
//              measurements and /Info/* together with /Connected = 0 (surprise 2)
//   /CustomName writes (strings only) are stored in localsettings; changes made there come
//   back as updates; a changed ClassAndVrmInstance re-registers the service under the new
//   instance (systemcalc caches the instance from its first scan).

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
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
class IObject;
class IProxy;
}  // namespace sdbus

namespace jkbms::dbus {

// The identity lock's bus-name prefix (not com.victronenergy.*: no Victron client scans it).
inline constexpr std::string_view kIdentityLockPrefix = "com.github.dbus_jkbms.identity.";
// Exported by the holder of an identity lock under the lock name: a second claimant calls
// Duplicate() on it, and the holder gives the key up (onDuplicate).
inline constexpr std::string_view kIdentityObject = "/Identity";
inline constexpr std::string_view kIdentityInterface = "com.github.dbus_jkbms.Identity";

struct BatteryServiceConfig {
    std::string busNameSuffix;  // becomes com.victronenergy.battery.<suffix> (sanitised)
    std::string uniqueId;       // the BMS under /Settings/Devices (sanitised)
    // Set: `uniqueId` comes from the BMS and is claimed as the bus name
    // kIdentityLockPrefix + uniqueId first; when another connection holds it, `fallbackUid`
    // is used instead (one warning).
    bool lockIdentity = false;
    std::string fallbackUid;
    std::string fallbackProductName;  // /ProductName with fallbackUid ("": unchanged)
    std::int32_t preferredInstance = 1;
    std::chrono::milliseconds settingsWait{std::chrono::seconds(10)};
    std::chrono::milliseconds settingsRetry{std::chrono::seconds(10)};  // then asked again this often
    BusItemService::Options items;
    ServiceIdentity identity;   // deviceInstance and customName come from localsettings
    // With a relay: /Bms/Power is writable and a write calls this (false: refused).
    std::function<bool(bool on)> onPowerWrite;
    // /Bms/*Switch writes: true when the write was sent on to the BMS (false: refused).
    std::function<bool(BmsSwitch which, bool on)> onSwitchWrite;
    // /History/Clear (write 1): the owner clears its domain::BatteryHistory and gives the
    // figures to setHistory(). Set: identity.historyClearable is made true.
    std::function<void()> onHistoryClear;
    // A bank's service (domain/bank.hpp): its paths come from publishBank() (bankPaths()),
    // not from publish(). Before the first publishBank(): no pack answering (all invalid).
    bool bank = false;
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
    // The holder of the identity lock was told that another BMS reports the same id: the lock
    // and the bus name are released (one warning logged), then this is called - the owner
    // drops this service and starts one keyed by the port. Called from a D-Bus reply
    // handler of this service: destroy it only after that returns (post it).
    void onDuplicate(std::function<void()> handler) { onDuplicate_ = std::move(handler); }
    // Called when localsettings answers only after the service registered without it.
    void onPersisted(std::function<void(const DeviceSettings&)> handler) { onPersisted_ = std::move(handler); }
    // Keeps the charge state text in localsettings; false when there is none (use a file).
    // `done`: see SettingsClient::storeChargeState.
    bool storeChargeState(const std::string& text, std::function<void(bool stored)> done = {}) {
        return persisted_ && settings_ && settings_->storeChargeState(text, std::move(done));
    }
    void publish(std::optional<domain::BatterySnapshot> snapshot, domain::ChargeLimits limits,
                 CommsState comms);
    // The /History figures the owner keeps, published with the next publish() (none set: only
    // the BMS's own counters). A copy: no allocation.
    void setHistory(const domain::HistoryFigures& history) { history_ = history; }
    // A bank's service (config.bank): the combined reading, announced as publish() does.
    void publishBank(domain::BankReading reading);
    // /Bms/Power's value (with a relay configured).
    void setPower(PowerItem power);
    // /Mgmt/SettingsPath (ServiceIdentity::settingsPath), published at once when registered.
    void setSettingsPath(std::string path);
    // Releases the bus name (asynchronously); values stay as they are.
    void release(std::function<void()> done = {});
    // After release(): claims the bus name again (a pack back on the bus).
    void rejoin();

    State state() const { return state_; }
    const std::string& busName() const { return busName_; }
    // The key in localsettings: config.uniqueId, or config.fallbackUid (the identity lock was
    // taken); final once onNegotiated runs.
    const std::string& uniqueId() const { return config_.uniqueId; }
    std::int32_t deviceInstance() const { return config_.identity.deviceInstance; }
    bool instancePersisted() const { return persisted_; }
    const BusItemService& items() const { return *items_; }
    // The paths as last built (empty before the service is Claiming): what a bank reads a
    // member from in this process (dbus::bankMember(name, lookupIn(table()))).
    const PathTable& table() const { return table_; }
    // What the identity paths are built from (device instance and custom name as granted).
    const ServiceIdentity& identity() const { return config_.identity; }
    sdbus::IConnection& connection() { return *connection_; }

private:
    void onSettings(const DeviceSettings& settings);
    void negotiate();
    void refresh();
    void requestName();
    // The identity lock (config.lockIdentity): taken by another process -> the fallback key;
    // an error (the bus busy, a timeout) -> asked again every kIdentityRetry, and after
    // kIdentityAttempts the service fails (a D-Bus failure), never a wrong fallback.
    void claimIdentity(int attempt);
    // The holder's side of a duplicate id (Duplicate() called) and the claimant's (tell the holder).
    void giveUpIdentity();
    void tellHolder();

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
    std::function<void(const DeviceSettings&)> onPersisted_;
    std::function<void()> onDuplicate_;
    std::string lockName_;
    std::unique_ptr<sdbus::IObject> identityObject_;  // /Identity, exported while lockIdentity
    std::unique_ptr<sdbus::IProxy> holder_;            // the holder of a taken lock, told once
    bool gaveUp_ = false;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers posted to io_ check it
    State state_ = State::Idle;
    bool persisted_ = false;
    PathTable table_;  // reused by every refresh
    std::optional<domain::BatterySnapshot> snapshot_;
    domain::ChargeLimits limits_;
    CommsState comms_ = CommsState::Ok;
    std::optional<domain::HistoryFigures> history_;
    domain::BankReading bank_;  // config.bank
    boost::asio::steady_timer identityRetry_{io_};
};

inline constexpr auto kIdentityRetry = std::chrono::seconds(1);
inline constexpr int kIdentityAttempts = 5;

}  // namespace jkbms::dbus
