#pragma once
// VenusRelay: the display-port relay on a GX device's own relay. Those relays belong to
// dbus-systemcalc-py, so we never touch their GPIO: we write com.victronenergy.system
// /Relay/<n>/State (1 closed, 0 open), as the GUI does when the relay's function is Manual
// (venus-platform.md section 8).
//
//   start()  reads the relay's function from localsettings (/Settings/Relay/Function for
//            relay 0, /Settings/Relay/<n>/Function for the others) and follows its changes;
//            anything but Manual (2) is reported in the log once per change, with what to do
//   set()    closing a relay whose function is known not to be Manual throws; every other
//            write is sent, and a refusal or D-Bus error in the reply reaches onFailure()
//
// The connection's loop is the caller's: replies and signals arrive through it.

#include <memory>
#include <optional>
#include <string>

#include "jkbms/power/relay.hpp"

namespace sdbus {
class IConnection;
class IProxy;
}  // namespace sdbus

namespace jkbms::dbus {

class FollowedItem;

inline constexpr int kRelayFunctionManual = 2;

class VenusRelay final : public power::Relay {
public:
    VenusRelay(sdbus::IConnection& connection, int relay);
    ~VenusRelay() override;
    VenusRelay(const VenusRelay&) = delete;
    VenusRelay& operator=(const VenusRelay&) = delete;

    void start();
    void set(bool closed) override;
    std::string describe() const override;

    // The function localsettings reports; nullopt until it has answered (or when it cannot).
    std::optional<int> function() const { return function_; }
    const std::string& functionPath() const { return functionPath_; }
    const std::string& statePath() const { return statePath_; }

private:
    void onFunction(int function);

    int relay_;
    std::string functionPath_;
    std::string statePath_;
    std::unique_ptr<FollowedItem> functionFollow_;
    std::unique_ptr<sdbus::IProxy> stateProxy_;
    std::optional<int> function_;
};

// "alarm", "generator start/stop", "manual", "tank pump", "disabled", "function 7".
std::string relayFunctionName(int function);

}  // namespace jkbms::dbus
