#pragma once
// GxSettings: the settings a user changes on the GX (README "Configuration", gui-v2 README
// "Settings"), in localsettings under the battery's own settings path - or the JK-PB bank's,
// applied to every pack of the bank - below kGxSettingsGroup:
// /Settings/Devices/<uid>/JkBms/Current/MaxCharge, ...
//
//   defaults    config.yaml's values: a setting is created (AddSettings) with the value the
//               YAML gives as its default; localsettings keeps a stored value across starts
//               and only updates the default, so a value changed on the GX stays in force
//               after config.yaml changes. A setting whose value equals its default stands
//               for config.yaml's value exactly (Absorption/MaxTime is in whole minutes).
//   live        each change seen from localsettings: config.yaml's values with every setting
//               accepted so far and the new one (gxTunables()) are checked - the charge config
//               with ChargeConfig::validate(), the press times as the YAML checks them. Usable:
//               applied at once (`apply`); not: one warning naming the setting and why, and
//               the previous values stay (that setting's value is not used).
//   ranges      each setting's min..max (gxSettingDefs) are localsettings' own: it refuses a
//               SetValue outside them. A value of the wrong type, NaN or out of range that
//               reaches us anyway is refused too (dbus::SettingsGroup).
//
// Not settings on the GX (config.yaml only): the relay's type, line and GX relay number. The
// relay is set up at the start, before any battery - and so its settings path - is known
// (ensure_on_at_start presses before a BMS has answered).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "jkbms/charge/charge_config.hpp"
#include "jkbms/config/config.hpp"
#include "jkbms/dbus/settings_group.hpp"
#include "jkbms/power/press_policy.hpp"

namespace sdbus {
class IConnection;
}

namespace jkbms::app {

// Below a battery's /Settings/Devices/<uid>.
inline constexpr std::string_view kGxSettingsGroup = "JkBms";

// What the settings change.
struct Tunables {
    charge::ChargeConfig charge;
    power::PressTimes press;
};

// The settings of a daemon with `config`: names below the group, types, ranges, and defaults
// from config.yaml. `relay`: with the press times (a relay is configured). A temperature
// limit only for a table that rises and has at least two points; a setting whose YAML value
// lies outside its range is left out (its value stays the YAML's).
std::vector<dbus::SettingDef> gxSettingDefs(const config::Config& config, bool relay);

// config.yaml's values with `values` applied (settings not in gxSettingDefs are ignored).
// `problems`: why the result cannot be used, one line each (empty: usable).
struct GxApplied {
    Tunables tunables;
    std::vector<std::string> problems;
};
GxApplied gxTunables(const config::Config& config, bool relay, const dbus::SettingsGroup::Values& values);

// A table whose first point's x is now `lowX` and last point's `highX`: the ramp from the
// first point to the first full-current point (the table's largest fraction) moves as a
// whole, as does the one from the last full-current point to the end; the points between
// stay. An empty or one-point table is returned unchanged.
charge::Table moveTableEnds(const charge::Table& table, double lowX, double highX);

class GxSettings {
public:
    using Apply = std::function<void(const Tunables&)>;

    // The settings of the battery (or bank) keyed `uid` in localsettings, on `connection` (on
    // the loop; outlives this object). `who` names it in log lines. `config` outlives this.
    GxSettings(sdbus::IConnection& connection, const std::string& uid, std::string who, const config::Config& config,
               bool relay, Apply apply);
    // AddSettings; once localsettings answers, the stored values are applied (`apply` runs
    // when they differ from config.yaml's) and changes are followed.
    void start();
    // A failed or timed-out AddSettings is tried again every `interval` until localsettings
    // answers (dbus::SettingsGroup::retryOn); call before start().
    void retryOn(boost::asio::io_context& io, std::chrono::milliseconds interval) { group_.retryOn(io, interval); }
    // In force now: config.yaml's values until the settings are read, then with them.
    const Tunables& current() const { return current_; }
    // "/Settings/Devices/<uid>/JkBms"
    const std::string& basePath() const { return group_.basePath(); }
    // localsettings has answered AddSettings.
    bool created() const { return created_; }
    // Tests: apply a value as if localsettings had sent it.
    void offer(const std::string& name, const dbus::SettingValue& value);

    // The silent string setting that records config.yaml's values as they were at the last
    // start ("name=value" lines): a stored value equal to the one recorded there was never
    // changed on the GX, so config.yaml's current value replaces it.
    static constexpr const char* kBaselineName = "ConfigDefaults";

private:
    void onCreated(const dbus::SettingsGroup::Values& values);
    // accepted_ grows by the values of stored_ that fit with it, in passes until none more do
    // (a value refused before may fit now that another changed). Returns the names added.
    std::vector<std::string> acceptWhatFits();

    dbus::SettingsGroup group_;
    std::string who_;
    const config::Config& config_;
    bool relay_;
    Apply apply_;
    dbus::SettingsGroup::Values accepted_;  // in force
    dbus::SettingsGroup::Values stored_;    // what localsettings holds (refused ones too)
    Tunables current_;
    bool created_ = false;
};

}  // namespace jkbms::app
