#include "jkbms/dbus/settings_client.hpp"

#include "jkbms/util/callback_guard.hpp"

#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>

#include "jkbms/dbus/bus_item_service.hpp"
#include "jkbms/dbus/names.hpp"

namespace jkbms::dbus {
namespace {

using Dict = std::map<std::string, sdbus::Variant>;
const sdbus::InterfaceName kSettingsInterface{"com.victronenergy.Settings"};
const sdbus::InterfaceName kItemInterface{std::string{kBusItemInterface}};
constexpr auto kRetryPeriod = std::chrono::seconds(1);
constexpr auto kCallTimeout = std::chrono::seconds(5);

std::optional<std::string> stringOf(const Dict& d, const std::string& key) {
    auto it = d.find(key);
    if (it == d.end() || !it->second.containsValueOfType<std::string>()) return std::nullopt;
    return it->second.get<std::string>();
}

}  // namespace

SettingsClient::SettingsClient(boost::asio::io_context& io, sdbus::IConnection& connection,
                               std::string uid, std::string deviceClass)
    : io_(io), connection_(connection), uid_(settingsUid(uid)), class_(std::move(deviceClass)), retry_(io) {}

SettingsClient::~SettingsClient() = default;

std::string SettingsClient::settingPath(std::string_view name) const {
    return "/Settings/Devices/" + uid_ + "/" + std::string{name};
}

void SettingsClient::negotiate(std::int32_t preferred, std::chrono::milliseconds wait, Done done,
                               std::chrono::milliseconds retry) {
    preferred_ = preferred;
    retryEvery_ = retry;
    done_ = std::move(done);
    giveUpAt_ = std::chrono::steady_clock::now() + wait;
    root_ = sdbus::createProxy(connection_, sdbus::ServiceName{std::string{kSettingsService}},
                               sdbus::ObjectPath{"/"});
    callAddSettings();
}

void SettingsClient::callAddSettings() {
    std::vector<Dict> defs = {
        {{"path", sdbus::Variant{settingPath("ClassAndVrmInstance")}},
         {"default", sdbus::Variant{class_ + ":" + std::to_string(preferred_)}}},
        {{"path", sdbus::Variant{settingPath("CustomName")}}, {"default", sdbus::Variant{std::string{}}}},
        // Silent: localsettings does not log its changes (it is rewritten now and then).
        {{"path", sdbus::Variant{settingPath("ChargeState")}},
         {"default", sdbus::Variant{std::string{}}},
         {"silent", sdbus::Variant{true}}},
    };
    root_->callMethodAsync("AddSettings")
        .onInterface(kSettingsInterface)
        .withTimeout(kCallTimeout)
        .withArguments(defs)
        .uponReplyInvoke([this](std::optional<sdbus::Error> error, std::vector<Dict> results) { util::guarded("localsettings", [&] {
            if (error) {
                if (done_ && std::chrono::steady_clock::now() + kRetryPeriod < giveUpAt_) {
                    retryLater(kRetryPeriod);
                    return;
                }
                if (!absentLogged_) {
                    absentLogged_ = true;
                    spdlog::warn("{}: localsettings not available ({}): using device instance {}, not persisted; "
                                 "asking again every {} s",
                                 uid_, error->getMessage(), preferred_,
                                 std::chrono::duration_cast<std::chrono::seconds>(retryEvery_).count());
                }
                // Later tries go on in the background: the service is registered meanwhile.
                if (done_) finish(DeviceSettings{preferred_, current_.customName, "", false});
                retryLater(retryEvery_);
                return;
            }
            DeviceSettings s{preferred_, "", "", true};
            for (const Dict& r : results) {
                auto path = stringOf(r, "path");
                auto value = stringOf(r, "value");
                if (!path || !value) continue;
                if (*path == settingPath("ClassAndVrmInstance")) {
                    if (auto n = parseClassAndVrmInstance(*value)) s.instance = *n;
                } else if (*path == settingPath("CustomName")) {
                    s.customName = *value;
                } else if (*path == settingPath("ChargeState")) {
                    s.chargeState = *value;
                }
            }
            subscribe();
            if (done_) {
                finish(std::move(s));
                return;
            }
            // Late: what was written while localsettings was away is not lost.
            if (pendingName_) {
                s.customName = *pendingName_;
                current_ = s;
                storeCustomName(*pendingName_);
                pendingName_.reset();
            }
            current_ = s;
            spdlog::info("{}: localsettings appeared: device instance {}{}", uid_, s.instance,
                         s.customName.empty() ? "" : ", custom name '" + s.customName + "'");
            if (onAppeared_) onAppeared_(current_);
        });
        });
}

void SettingsClient::retryLater(std::chrono::milliseconds after) {
    retry_.expires_after(after);
    retry_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) callAddSettings();
    });
}

void SettingsClient::finish(DeviceSettings settings) {
    current_ = settings;
    if (done_) {
        auto done = std::move(done_);
        done_ = nullptr;
        done(current_);
    }
}

void SettingsClient::subscribe() {
    const sdbus::ServiceName service{std::string{kSettingsService}};
    instanceProxy_ = sdbus::createProxy(connection_, service, sdbus::ObjectPath{settingPath("ClassAndVrmInstance")});
    nameProxy_ = sdbus::createProxy(connection_, service, sdbus::ObjectPath{settingPath("CustomName")});
    chargeStateProxy_ = sdbus::createProxy(connection_, service, sdbus::ObjectPath{settingPath("ChargeState")});
    instanceProxy_->uponSignal("PropertiesChanged").onInterface(kItemInterface).call([this](const Dict& changes) { util::guarded("localsettings", [&] {
        auto value = stringOf(changes, "Value");
        if (!value) return;
        auto n = parseClassAndVrmInstance(*value);
        if (!n || *n == current_.instance) return;
        current_.instance = *n;
        if (onChange_) onChange_(current_);
    });
    });
    nameProxy_->uponSignal("PropertiesChanged").onInterface(kItemInterface).call([this](const Dict& changes) { util::guarded("localsettings", [&] {
        auto value = stringOf(changes, "Value");
        if (!value || *value == current_.customName) return;
        current_.customName = *value;
        if (onChange_) onChange_(current_);
    });
    });
}

void SettingsClient::storeCustomName(const std::string& name) {
    current_.customName = name;
    if (!nameProxy_) {  // no localsettings (yet): written there when it appears
        pendingName_ = name;
        return;
    }
    try {
        nameProxy_->callMethodAsync("SetValue")
            .onInterface(kItemInterface)
            .withTimeout(kCallTimeout)
            .withArguments(sdbus::Variant{name})
            .uponReplyInvoke([](std::optional<sdbus::Error> error, std::int32_t result) { util::guarded("localsettings", [&] {
                if (error) spdlog::warn("storing the custom name failed: {}", error->getMessage());
                else if (result != 0) spdlog::warn("localsettings refused the custom name ({})", result);
            });
            });
    } catch (const sdbus::Error& e) {  // the bus connection is gone
        spdlog::warn("storing the custom name failed: {}", e.getMessage());
    }
}

bool SettingsClient::storeChargeState(const std::string& text, std::function<void(bool stored)> done) {
    if (!chargeStateProxy_) return false;
    current_.chargeState = text;
    try {
        chargeStateProxy_->callMethodAsync("SetValue")
            .onInterface(kItemInterface)
            .withTimeout(kCallTimeout)
            .withArguments(sdbus::Variant{text})
            .uponReplyInvoke([this, done = std::move(done)](std::optional<sdbus::Error> error, std::int32_t result) { util::guarded("localsettings", [&] {
                const bool stored = !error && result == 0;
                if (!stored && !chargeStateWarned_) {
                    chargeStateWarned_ = true;
                    spdlog::warn("storing the charge state in localsettings failed: {}",
                                 error ? error->getMessage() : "refused (" + std::to_string(result) + ")");
                }
                if (done) done(stored);
            });
            });
    } catch (const sdbus::Error& e) {
        // The bus connection is gone (the daemon stops as dbus-daemon does): the caller keeps
        // the state elsewhere (the state file).
        if (!chargeStateWarned_) spdlog::warn("storing the charge state in localsettings failed: {}", e.getMessage());
        chargeStateWarned_ = true;
        return false;
    }
    return true;
}

}  // namespace jkbms::dbus
