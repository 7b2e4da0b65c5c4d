#include "jkbms/dbus/dvcc_watch.hpp"

#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "jkbms/dbus/bus_item_service.hpp"
#include "jkbms/dbus/followed_item.hpp"
#include "jkbms/util/callback_guard.hpp"

namespace jkbms::dbus {
namespace {

const sdbus::InterfaceName kItemInterface{std::string{kBusItemInterface}};
constexpr auto kCallTimeout = std::chrono::seconds(5);

}  // namespace

DvccWatch::DvccWatch(sdbus::IConnection& connection, std::string device) : device_(std::move(device)) {
    follow_ = std::make_unique<FollowedItem>(connection, std::string{kSystemService}, std::string{kDvccPath}, "DVCC");
    inject_ = sdbus::createProxy(connection, sdbus::ServiceName{std::string{kPlatformService}},
                                 sdbus::ObjectPath{std::string{kInjectPath}});
}

DvccWatch::~DvccWatch() = default;

void DvccWatch::start() {
    follow_->start([this](std::optional<int> value, const std::string& error) {
        if (!error.empty()) spdlog::debug("DVCC: {} {} not read: {}", kSystemService, kDvccPath, error);
        onValue(value);
    });
}

void DvccWatch::onValue(std::optional<int> value) {
    if (!value) return;  // unknown: whatever was said stands
    const bool on = *value != 0;
    if (enabled_ == on) return;
    const bool first = !enabled_;
    enabled_ = on;
    if (on) {
        // Said at start too: the log then shows that the limits reach the chargers.
        spdlog::info("DVCC is on{}: the chargers follow this battery's limits", first ? "" : " again");
        return;
    }
    ++warnings_;
    spdlog::warn("DVCC is off (com.victronenergy.system /Control/Dvcc 0): no charger follows this battery's "
                 "CVL/CCL/DCL until it is turned on (Settings > DVCC)");
    notify();
}

void DvccWatch::notify() {
    // "<type>\t<device>\t<description>": venus-platform adds it to the GX's notifications.
    const std::string text = std::to_string(kNotificationWarning) + "\t" + device_ + "\t" + std::string{kDvccOffText};
    inject_->callMethodAsync("SetValue")
        .onInterface(kItemInterface)
        .withTimeout(kCallTimeout)
        .withArguments(sdbus::Variant{text})
        .uponReplyInvoke([](std::optional<sdbus::Error> error, std::int32_t result) {
            util::guarded("DVCC notification", [&] {
                if (error)
                    spdlog::info("DVCC: no GX notification ({} {}: {}); the warning is in this log and on the "
                                 "battery's JK BMS details page",
                                 kPlatformService, kInjectPath, error->getMessage());
                else if (result != 0)
                    spdlog::info("DVCC: the GX refused the notification (result {})", result);
            });
        });
}

}  // namespace jkbms::dbus
