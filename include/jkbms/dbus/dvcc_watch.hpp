#pragma once
// DvccWatch: whether dbus-systemcalc-py applies DVCC (com.victronenergy.system /Control/Dvcc,
// victron-dbus.md 6.5), followed for a daemon whose service publishes charge limits. Venus OS
// has DVCC off by default for our product id: then no charger follows CVL / CCL / DCL.
//
//   off (0)   one warning line, and one GX notification (a warning with our own text,
//             injected through com.victronenergy.platform /Notifications/Inject, which
//             venus-platform has had since v2.04); a platform without it: the line alone
//   on (1)    one line; the warning is over (an injected notification is history on the GX:
//             there is nothing to take back)
//   unknown   (no systemcalc, an invalid value): nothing said; asked again when systemcalc
//             (re)starts
//
// No /Alarms/* path fits "DVCC is off": each raises a notification with Victron's fixed text
// for a battery fault (README "DVCC must be turned on"). The connection's loop is the caller's.

#include <memory>
#include <optional>
#include <string>

namespace sdbus {
class IConnection;
class IProxy;
}  // namespace sdbus

namespace jkbms::dbus {

class FollowedItem;

inline constexpr std::string_view kSystemService = "com.victronenergy.system";
inline constexpr std::string_view kDvccPath = "/Control/Dvcc";
inline constexpr std::string_view kPlatformService = "com.victronenergy.platform";
inline constexpr std::string_view kInjectPath = "/Notifications/Inject";
// venus-platform's Notification::Type: 0 warning, 1 alarm, 2 information.
inline constexpr int kNotificationWarning = 0;
inline constexpr std::string_view kDvccOffText = "DVCC is off: chargers ignore this battery's limits (Settings > DVCC)";

class DvccWatch {
public:
    // `device`: the notification's device name ("JK BMS (ttyUSB0)").
    DvccWatch(sdbus::IConnection& connection, std::string device);
    ~DvccWatch();
    DvccWatch(const DvccWatch&) = delete;
    DvccWatch& operator=(const DvccWatch&) = delete;

    void start();
    // What systemcalc last said; nullopt while unknown.
    std::optional<bool> enabled() const { return enabled_; }
    // DVCC-off warnings raised so far (one per change to off).
    int warnings() const { return warnings_; }

private:
    void onValue(std::optional<int> value);
    void notify();

    std::string device_;
    std::unique_ptr<FollowedItem> follow_;
    std::unique_ptr<sdbus::IProxy> inject_;
    std::optional<bool> enabled_;
    int warnings_ = 0;
};

}  // namespace jkbms::dbus
