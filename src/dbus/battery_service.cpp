#include "jkbms/dbus/battery_service.hpp"

#include "jkbms/util/callback_guard.hpp"

#include <boost/asio/post.hpp>
#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>

#include "jkbms/dbus/names.hpp"

namespace jkbms::dbus {
namespace {

const sdbus::InterfaceName kBusDaemonInterface{"org.freedesktop.DBus"};
constexpr std::uint32_t kDoNotQueue = 4;     // DBUS_NAME_FLAG_DO_NOT_QUEUE
constexpr std::uint32_t kPrimaryOwner = 1;   // DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
constexpr std::uint32_t kAlreadyOwner = 4;   // DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER

}  // namespace

BatteryService::BatteryService(boost::asio::io_context& io, std::unique_ptr<sdbus::IConnection> connection,
                               BatteryServiceConfig config)
    : io_(io),
      connection_(std::move(connection)),
      config_(std::move(config)),
      busName_("com.victronenergy.battery." + busNameElement(config_.busNameSuffix)) {
    config_.identity.historyClearable = static_cast<bool>(config_.onHistoryClear);
    items_ = std::make_unique<BusItemService>(*connection_, config_.items);
    busDaemon_ = sdbus::createProxy(*connection_, sdbus::ServiceName{"org.freedesktop.DBus"},
                                    sdbus::ObjectPath{"/org/freedesktop/DBus"});
    loop_ = std::make_unique<AsioSdbusLoop>(io_, *connection_, [this](const std::string& error) {
        state_ = State::Failed;
        if (onRegistered_) onRegistered_(false, "D-Bus failed: " + error);
    });
}

BatteryService::~BatteryService() {
    loop_->stop();
}

void BatteryService::start(Callback onRegistered) {
    onRegistered_ = std::move(onRegistered);
    state_ = State::Negotiating;
    loop_->start();
    if (!config_.lockIdentity) {
        negotiate();
        return;
    }
    lockName_ = std::string{kIdentityLockPrefix} + busNameElement(settingsUid(config_.uniqueId));
    // Exported before the lock is asked for: a second claimant that finds it taken can tell us.
    identityObject_ = sdbus::createObject(*connection_, sdbus::ObjectPath{std::string{kIdentityObject}});
    identityObject_
        ->addVTable(sdbus::registerMethod("Duplicate").implementedAs([this] {
            util::guarded("identity", [&] {
                // Not from within the method call: its reply goes out first.
                boost::asio::post(io_, [this, alive = std::weak_ptr<int>{alive_}] {
                    if (alive.expired()) return;  // dropped meanwhile
                    util::guarded("identity", [&] { giveUpIdentity(); });
                });
            });
        }))
        .forInterface(sdbus::InterfaceName{std::string{kIdentityInterface}});
    claimIdentity(1);
}

void BatteryService::giveUpIdentity() {
    if (gaveUp_ || config_.uniqueId == config_.fallbackUid) return;
    gaveUp_ = true;
    spdlog::warn("{}: another BMS on this GX reports the same id ({}): keyed by its port instead ({})", busName_,
                 config_.uniqueId, config_.fallbackUid);
    // The lock, then the bus name (one connection: answered in that order); then the owner
    // re-keys the battery with a new service.
    busDaemon_->callMethodAsync("ReleaseName")
        .onInterface(kBusDaemonInterface)
        .withArguments(lockName_)
        .uponReplyInvoke([this](std::optional<sdbus::Error> error, std::uint32_t) { util::guarded("identity", [&] {
            if (error) spdlog::warn("{}: releasing the identity lock failed: {}", busName_, error->getMessage());
            release([this] {
                state_ = State::Idle;
                if (onDuplicate_) onDuplicate_();
            });
        });
        });
}

void BatteryService::tellHolder() {
    // The holder gives the key up as well (giveUpIdentity): both batteries keyed by their ports.
    holder_ = sdbus::createProxy(*connection_, sdbus::ServiceName{lockName_},
                                 sdbus::ObjectPath{std::string{kIdentityObject}});
    holder_->callMethodAsync("Duplicate")
        .onInterface(sdbus::InterfaceName{std::string{kIdentityInterface}})
        .withTimeout(std::chrono::seconds(2))
        .uponReplyInvoke([this](std::optional<sdbus::Error> error) { util::guarded("identity", [&] {
            if (error)
                spdlog::warn("{}: the daemon holding {} could not be told to give it up: {}", busName_, lockName_,
                             error->getMessage());
        });
        });
}

void BatteryService::claimIdentity(int attempt) {
    // The key is claimed as a bus name: held for as long as this connection lives (a crash
    // frees it), so a second BMS reporting the same id on another port is seen at once.
    const std::string lock = lockName_;
    busDaemon_->callMethodAsync("RequestName")
        .onInterface(kBusDaemonInterface)
        .withArguments(lock, kDoNotQueue)
        .uponReplyInvoke([this, attempt, lock](std::optional<sdbus::Error> error, std::uint32_t reply) { util::guarded("identity", [&] {
            if (error) {
                // Not an answer about the name: nothing says another BMS has this id.
                if (attempt >= kIdentityAttempts) {
                    state_ = State::Failed;
                    if (onRegistered_)
                        onRegistered_(false, "the identity lock " + lock + " cannot be requested: " + error->getMessage());
                    return;
                }
                spdlog::warn("{}: requesting the identity lock failed ({}); asking again (attempt {} of {})", busName_,
                             error->getMessage(), attempt + 1, kIdentityAttempts);
                identityRetry_.expires_after(kIdentityRetry);
                identityRetry_.async_wait([this, attempt](const boost::system::error_code& ec) {
                    if (!ec) claimIdentity(attempt + 1);
                });
                return;
            }
            if (reply != kPrimaryOwner && reply != kAlreadyOwner) {
                spdlog::warn("{}: another BMS on this GX reports the same id ({}): keyed by {} instead", busName_,
                             config_.uniqueId, config_.fallbackUid);
                config_.uniqueId = config_.fallbackUid;
                if (!config_.fallbackProductName.empty()) config_.identity.productName = config_.fallbackProductName;
                identityObject_.reset();  // not the holder
                util::guarded("identity", [&] { tellHolder(); });
            }
            negotiate();
        });
        });
}

void BatteryService::negotiate() {
    settings_ = std::make_unique<SettingsClient>(io_, *connection_, config_.uniqueId);
    settings_->onChange([this](const DeviceSettings& s) { onSettings(s); });
    settings_->onAppeared([this](const DeviceSettings& s) {
        persisted_ = true;
        onSettings(s);  // the instance granted (re-registering when it differs), the name kept
        if (onPersisted_) onPersisted_(s);
    });
    settings_->negotiate(config_.preferredInstance, config_.settingsWait, [this](const DeviceSettings& s) {
        persisted_ = s.persisted;
        config_.identity.deviceInstance = s.instance;
        config_.identity.customName = s.customName;
        if (onNegotiated_) onNegotiated_(s);
        refresh();  // every path exists before the name is claimed
        items_->setWritable(std::string{kCustomNamePath}, customNameSpec(), Unit::None,
                            [this](const std::string&, const Value& v) {
                                config_.identity.customName = std::get<std::string>(v);
                                settings_->storeCustomName(config_.identity.customName);
                                return true;
                            });
        if (config_.onPowerWrite)
            items_->setWritable(std::string{kBmsPowerPath}, bmsPowerSpec(), Unit::None,
                                [this](const std::string&, const Value& v) {
                                    return config_.onPowerWrite(std::get<std::int32_t>(v) == 1);
                                });
        if (config_.onSwitchWrite)
            for (const auto& [which, path] : kBmsSwitchPaths)
                items_->setWritable(std::string{path}, bmsSwitchSpec(), Unit::None,
                                    [this, which = which](const std::string&, const Value& v) {
                                        return config_.onSwitchWrite(which, std::get<std::int32_t>(v) == 1);
                                    },
                                    /*echo=*/false);
        if (config_.onHistoryClear)
            items_->setWritable(std::string{kHistoryClearPath}, historyClearSpec(), Unit::None,
                                [this](const std::string&, const Value&) {
                                    spdlog::info("{}: history cleared on request", busName_);
                                    config_.onHistoryClear();
                                    refresh();
                                    return true;
                                },
                                /*echo=*/false);
        requestName();
    }, config_.settingsRetry);
}

void BatteryService::onSettings(const DeviceSettings& s) {
    const bool instanceChanged = s.instance != config_.identity.deviceInstance;
    config_.identity.customName = s.customName;
    if (!instanceChanged) {
        refresh();
        return;
    }
    spdlog::info("{}: device instance changed to {} in localsettings; re-registering", busName_, s.instance);
    release([this, instance = s.instance] {
        config_.identity.deviceInstance = instance;
        refresh();
        requestName();
    });
}

void BatteryService::publish(std::optional<domain::BatterySnapshot> snapshot, domain::ChargeLimits limits,
                             CommsState comms) {
    snapshot_ = std::move(snapshot);
    limits_ = std::move(limits);
    comms_ = comms;
    if (state_ == State::Claiming || state_ == State::Registered) refresh();
}

void BatteryService::setPower(PowerItem power) {
    if (config_.identity.power == power) return;
    config_.identity.power = std::move(power);
    if (state_ == State::Claiming || state_ == State::Registered) refresh();
}

void BatteryService::setSettingsPath(std::string path) {
    if (config_.identity.settingsPath == path) return;
    config_.identity.settingsPath = std::move(path);
    if (state_ == State::Claiming || state_ == State::Registered) refresh();
}

void BatteryService::publishBank(domain::BankReading reading) {
    bank_ = std::move(reading);
    if (state_ == State::Claiming || state_ == State::Registered) refresh();
}

void BatteryService::refresh() {
    if (config_.bank) bankPaths(config_.identity, bank_, table_);
    else batteryPaths(config_.identity, snapshot_, limits_, comms_, table_, history_ ? &*history_ : nullptr);
    items_->update(table_);
}

void BatteryService::requestName() {
    state_ = State::Claiming;
    busDaemon_->callMethodAsync("RequestName")
        .onInterface(kBusDaemonInterface)
        .withArguments(busName_, kDoNotQueue)
        .uponReplyInvoke([this](std::optional<sdbus::Error> error, std::uint32_t reply) { util::guarded("bus name", [&] {
            if (error || (reply != kPrimaryOwner && reply != kAlreadyOwner)) {
                state_ = State::Failed;
                const std::string why = error ? error->getMessage() : "the name is owned by another process";
                if (onRegistered_) onRegistered_(false, busName_ + ": " + why);
                return;
            }
            state_ = State::Registered;
            spdlog::info("{} registered as device instance {}{}", busName_, config_.identity.deviceInstance,
                         persisted_ ? "" : " (not persisted: no localsettings)");
            if (onRegistered_) onRegistered_(true, {});
        });
        });
}

void BatteryService::rejoin() {
    if (state_ == State::Registered || state_ == State::Negotiating || state_ == State::Idle) return;
    refresh();
    requestName();
}

void BatteryService::release(std::function<void()> done) {
    state_ = State::Claiming;
    try {
        busDaemon_->callMethodAsync("ReleaseName")
            .onInterface(kBusDaemonInterface)
            .withArguments(busName_)
            .uponReplyInvoke([done](std::optional<sdbus::Error> error, std::uint32_t) { util::guarded("bus name", [&] {
                if (error) spdlog::warn("releasing the bus name failed: {}", error->getMessage());
                if (done) done();
            });
            });
    } catch (const sdbus::Error& e) {
        // The bus is gone (dbus-daemon stopped or restarted while we stop): so is the name.
        spdlog::warn("releasing the bus name failed: {}", e.getMessage());
        if (done) done();
    }
}

}  // namespace jkbms::dbus
