#pragma once
// FollowedItem: one integer path of another service's com.victronenergy.BusItem tree,
// followed: GetValue at start() and whenever the service gets a new owner (it started after
// us, or restarted), and every PropertiesChanged of that path (Victron's services send one
// per changed path, victron-dbus.md section 2). Used for a GX relay's
// function in localsettings and for com.victronenergy.system /Control/Dvcc.
//
// The connection's loop is the caller's: the reply and the signals arrive through it. The
// handler runs inside a D-Bus callback, guarded (util::guarded): what it throws is logged,
// never lost.

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace sdbus {
class IConnection;
class IProxy;
}  // namespace sdbus

namespace jkbms::dbus {

class FollowedItem {
public:
    // `value`: the path's value as an integer (a double is truncated); nullopt when the path is
    // invalid, not a number, or the service could not be asked (`error` then says why).
    using Handler = std::function<void(std::optional<int> value, const std::string& error)>;

    // `what`: for log lines ("GX relay", "DVCC").
    FollowedItem(sdbus::IConnection& connection, std::string service, std::string path, std::string what);
    ~FollowedItem();
    FollowedItem(const FollowedItem&) = delete;
    FollowedItem& operator=(const FollowedItem&) = delete;

    // Subscribes, then asks once; `handler` gets the answer and every change after it.
    void start(Handler handler);
    const std::string& service() const { return service_; }
    const std::string& path() const { return path_; }

private:
    void ask();

    sdbus::IConnection& connection_;
    std::string service_, path_, what_;
    std::unique_ptr<sdbus::IProxy> proxy_;
    // NameOwnerChanged of service_ (an sdbus::Slot, spelled out: no sdbus-c++ include here).
    std::unique_ptr<void, std::function<void(void*)>> ownerWatch_;
    Handler handler_;
};

}  // namespace jkbms::dbus
