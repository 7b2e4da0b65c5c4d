#include "jkbms/dbus/venus_relay.hpp"

#include "jkbms/util/callback_guard.hpp"

#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "jkbms/dbus/bus_item_service.hpp"
#include "jkbms/dbus/followed_item.hpp"
#include "jkbms/dbus/settings_client.hpp"

namespace jkbms::dbus {
namespace {

const sdbus::InterfaceName kItemInterface{std::string{kBusItemInterface}};
constexpr auto kCallTimeout = std::chrono::seconds(5);

}  // namespace

std::string relayFunctionName(int function) {
    switch (function) {
        case 0: return "alarm";
        case 1: return "generator start/stop";
        case 2: return "manual";
        case 3: return "tank pump";
        default: return function < 0 ? "disabled" : "function " + std::to_string(function);
    }
}

VenusRelay::VenusRelay(sdbus::IConnection& connection, int relay)
    : relay_(relay),
      functionPath_(relay == 0 ? "/Settings/Relay/Function" : "/Settings/Relay/" + std::to_string(relay) + "/Function"),
      statePath_("/Relay/" + std::to_string(relay) + "/State") {
    functionFollow_ = std::make_unique<FollowedItem>(connection, std::string{kSettingsService}, functionPath_, "GX relay");
    stateProxy_ = sdbus::createProxy(connection, sdbus::ServiceName{"com.victronenergy.system"},
                                      sdbus::ObjectPath{statePath_});
}

VenusRelay::~VenusRelay() = default;

std::string VenusRelay::describe() const { return "GX relay " + std::to_string(relay_ + 1) + " (" + statePath_ + ")"; }

void VenusRelay::start() {
    functionFollow_->start([this](std::optional<int> function, const std::string& error) {
        if (function) onFunction(*function);
        else if (!error.empty())
            spdlog::warn("power: cannot read the function of {} ({} in localsettings: {}); checked again "
                         "when it changes",
                         describe(), functionPath_, error);
    });
    // Is the relay there at all (systemcalc publishes one path per relay it found)?
    stateProxy_->callMethodAsync("GetValue")
        .onInterface(kItemInterface)
        .withTimeout(kCallTimeout)
        .uponReplyInvoke([this](std::optional<sdbus::Error> error, sdbus::Variant) { util::guarded("GX relay", [&] {
            if (error)
                spdlog::warn("power: {} is not available from com.victronenergy.system yet: {}", describe(),
                             error->getMessage());
        });
        });
}

void VenusRelay::onFunction(int function) {
    if (function_ == function) return;
    function_ = function;
    if (function == kRelayFunctionManual)
        spdlog::info("power: {} is set to manual: it switches the BMS", describe());
    else
        spdlog::warn("power: {} has the function '{}', not manual: the BMS cannot be switched until it is set "
                     "to manual (Settings > Relay)",
                     describe(), relayFunctionName(function));
}

void VenusRelay::set(bool closed) {
    if (closed && function_ && *function_ != kRelayFunctionManual)
        throw std::runtime_error(describe() + " has the function '" + relayFunctionName(*function_) +
                                 "', not manual (Settings > Relay)");
    const std::int32_t value = closed ? 1 : 0;
    stateProxy_->callMethodAsync("SetValue")
        .onInterface(kItemInterface)
        .withTimeout(kCallTimeout)
        .withArguments(sdbus::Variant{value})
        .uponReplyInvoke([this, value](std::optional<sdbus::Error> error, std::int32_t result) { util::guarded("GX relay", [&] {
            if (error)
                failed(describe() + ": com.victronenergy.system: " + error->getMessage());
            else if (result != 0)
                failed(describe() + ": com.victronenergy.system refused " + statePath_ + " = " + std::to_string(value) +
                       " (result " + std::to_string(result) + ")");
        });
        });
}

}  // namespace jkbms::dbus
