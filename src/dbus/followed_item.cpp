#include "jkbms/dbus/followed_item.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <map>

#include "jkbms/dbus/bus_item_service.hpp"
#include "jkbms/util/callback_guard.hpp"

namespace jkbms::dbus {
namespace {

const sdbus::InterfaceName kItemInterface{std::string{kBusItemInterface}};
constexpr auto kCallTimeout = std::chrono::seconds(5);
using Dict = std::map<std::string, sdbus::Variant>;

std::optional<int> intOf(const sdbus::Variant& v) {
    auto value = BusItemService::fromVariant(v);
    if (!value) return std::nullopt;
    if (auto* i = std::get_if<std::int32_t>(&*value)) return *i;
    // Only what an int holds (a cast of anything else is undefined).
    if (auto* d = std::get_if<double>(&*value); d && *d > -2147483649.0 && *d < 2147483648.0)
        return static_cast<int>(*d);
    return std::nullopt;
}

}  // namespace

FollowedItem::FollowedItem(sdbus::IConnection& connection, std::string service, std::string path, std::string what)
    : connection_(connection), service_(std::move(service)), path_(std::move(path)), what_(std::move(what)) {
    proxy_ = sdbus::createProxy(connection, sdbus::ServiceName{service_}, sdbus::ObjectPath{path_});
}

FollowedItem::~FollowedItem() = default;

void FollowedItem::start(Handler handler) {
    handler_ = std::move(handler);
    proxy_->uponSignal("PropertiesChanged").onInterface(kItemInterface).call([this](const Dict& changes) {
        util::guarded(what_, [&] {
            auto it = changes.find("Value");
            if (it != changes.end()) handler_(intOf(it->second), {});
        });
    });
    // The service starting (boot order) or restarting after us: asked again, since a value
    // that never changes would otherwise stay unknown.
    ownerWatch_ = connection_.addMatch(
        "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
        "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" + service_ + "'",
        [this](sdbus::Message message) {
            util::guarded(what_, [&] {
                std::string name, oldOwner, newOwner;
                message >> name >> oldOwner >> newOwner;
                if (name == service_ && !newOwner.empty()) ask();
            });
        },
        sdbus::return_slot);
    ask();
}

void FollowedItem::ask() {
    proxy_->callMethodAsync("GetValue")
        .onInterface(kItemInterface)
        .withTimeout(kCallTimeout)
        .uponReplyInvoke([this](std::optional<sdbus::Error> error, sdbus::Variant value) {
            util::guarded(what_, [&] {
                if (error) handler_(std::nullopt, error->getMessage());
                else handler_(intOf(value), {});
            });
        });
}

}  // namespace jkbms::dbus
