#pragma once
// SettingsGroup: settings a user changes on the GX, kept by Victron's localsettings
// (com.victronenergy.settings, victron-dbus.md section 4) under one base path, e.g.
// /Settings/Devices/<uid>/JkBms. Everything is asynchronous: the loop never waits for
// localsettings, and nothing thrown in a reply or signal handler leaves it.
//
//   create()    one AddSettings call with every definition: its type ("i" int32, "f" double,
//               "s" string - localsettings takes the type from the default's D-Bus type), its
//               default and, for numbers, its min / max. localsettings keeps a setting's
//               stored value across calls (only the default, min and max are updated), and
//               itself refuses a SetValue outside min..max. `done` gets the values it
//               returned; a setting it refused (an error code) is logged and absent.
//   onChange()  each later change of one of them (the GUI, dbus-spy), seen in the setting's
//               PropertiesChanged.
//
// Values are untrusted (another client may have stored anything, and localsettings keeps a
// value that a narrower range from a later AddSettings no longer allows): a value of another
// type (a whole-number double for "i" and an integer for "f" are taken), NaN or infinite, or
// outside the definition's min..max is refused with one log line naming the setting, and is
// not passed on.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sdbus {
class IConnection;
class IProxy;
class Variant;
}  // namespace sdbus

namespace jkbms::dbus {

// A setting's value: "i" (std::int32_t), "f" (double) or "s" (std::string).
using SettingValue = std::variant<std::int32_t, double, std::string>;

struct SettingDef {
    std::string name;           // below the base path: "Current/MaxCharge"
    SettingValue defaultValue;  // its type is the setting's type
    double min = 0, max = 0;    // numbers only; both 0: no range (localsettings' convention)
    bool silent = false;        // localsettings does not log its changes
};

// "50", "0.02", "GPIO17": a value as text for log lines.
std::string settingText(const SettingValue& value);

class SettingsGroup {
public:
    using Values = std::map<std::string, SettingValue, std::less<>>;  // by SettingDef::name
    using Changed = std::function<void(const std::string& name, const SettingValue& value)>;

    // `basePath` starts with "/Settings/" and has no trailing slash; `who` names the owner in
    // log lines. The connection must be on the io_context's loop and outlive this object.
    SettingsGroup(sdbus::IConnection& connection, std::string basePath, std::string who);
    ~SettingsGroup();
    SettingsGroup(const SettingsGroup&) = delete;
    SettingsGroup& operator=(const SettingsGroup&) = delete;

    // Creates (or re-announces) the settings. `done` runs once with the values localsettings
    // returned, each checked as above; when the call fails (logged) not at all - the caller
    // keeps its defaults - unless retryOn() was called, then once a later try succeeds. A second call replaces the definitions.
    void create(std::vector<SettingDef> defs, std::function<void(const Values&)> done);
    // When the AddSettings call fails (localsettings refuses it, times out or is not on the
    // bus yet), create() is tried again every `interval` on `io`'s loop until localsettings
    // answers; then `done` runs as usual. Without this call a failure is final. Call before
    // create(); `io` must outlive this object.
    static constexpr std::chrono::milliseconds kRetryInterval{10000};
    void retryOn(boost::asio::io_context& io, std::chrono::milliseconds interval = kRetryInterval);
    void onChange(Changed handler) { onChange_ = std::move(handler); }
    // Writes `value` to the setting `name` (one of the definitions) with SetValue, without
    // waiting; a refusal or failure is logged. Its PropertiesChanged comes back as a change.
    void store(const std::string& name, const SettingValue& value);

    const std::string& basePath() const { return basePath_; }
    std::string pathOf(const std::string& name) const { return basePath_ + "/" + name; }
    // The definition of `name`, nullptr if there is none.
    const SettingDef* def(std::string_view name) const;
    // A value as received, converted to the definition's type and checked; nullopt (logged
    // with `why` filled in) when refused.
    std::optional<SettingValue> check(const SettingDef& def, const sdbus::Variant& value, std::string& why) const;

private:
    void subscribe(const SettingDef& def);

    sdbus::IConnection& connection_;
    std::string basePath_;
    std::string who_;
    std::vector<SettingDef> defs_;
    std::unique_ptr<sdbus::IProxy> root_;  // "/" of localsettings: AddSettings
    std::map<std::string, std::unique_ptr<sdbus::IProxy>, std::less<>> proxies_;
    boost::asio::io_context* io_ = nullptr;
    std::chrono::milliseconds retryInterval_{kRetryInterval};
    std::unique_ptr<boost::asio::steady_timer> retry_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
    Changed onChange_;
};

}  // namespace jkbms::dbus
