#pragma once
// BusItemService: Victron's com.victronenergy.BusItem object tree on one sdbus-c++
// connection (victron-dbus.md section 2), the way velib_python's VeDbusService serves it.
//
//   every path (leaf)   GetValue, GetText, SetValue, GetDescription; signal PropertiesChanged
//   every tree node     GetValue / GetText: dictionaries of its subtree (relative keys)
//   the root "/"        additionally GetItems; signal ItemsChanged
//
// update() stores a batch of items; what changed is announced in one ItemsChanged on "/" (each
// changed path with its value and text), and - only with Options::propertiesChangedPerLeaf -
// also one PropertiesChanged per changed leaf. SetValue is accepted only on paths declared
// writable, after type and range checks; a refusal is a non-zero result, never a D-Bus error.
//
// How it is served (issue 18, memory per pack): the whole tree is ONE set of sd-bus fallback
// registrations on "/", not one object per path. An sdbus-c++ IObject per path cost ~1.5 KB
// of vtables and closures plus an sd-bus node each (~137 paths per battery), and sdbus-c++ 2.1
// has no fallback or enumerator API. So the service registers with sd-bus directly, on the
// sd_bus underneath the sdbus-c++ connection (IConnection does not hand it out; it is read off a
// signal message the connection creates, see bus_item_service.cpp):
//
//   sd_bus_add_fallback_vtable "/"  GetValue, GetText                    find: every known path
//   sd_bus_add_fallback_vtable "/"  SetValue, GetDescription; PropertiesChanged   find: leaves
//   sd_bus_add_fallback_vtable "/"  GetItems; ItemsChanged                find: "/" only
//   sd_bus_add_node_enumerator "/"  the children of a path, for Introspect
//   sd_bus_add_filter               GetText on a tree node (below)
//
// Five registrations per service whatever the number of paths; a new path costs only its item.
// sd-bus merges same-interface vtables into one <interface> when introspecting, so each path
// introspects with the members it had (and its child nodes), and a member a path did not have
// (SetValue on a tree node, GetItems on a leaf) is still UnknownMethod; an unknown path is
// UnknownObject. One difference: a registration declares a member once, with one result
// signature that sd-bus enforces on the reply, but GetText answers a string on a leaf and a
// variant (a{ss}) on a tree node. The filter answers the nodes' GetText before the object
// dispatch, so the answers are as before; a tree node's Introspect now declares GetText's result
// as "s" (it said "v"). Victron's clients (velib's dbusmonitor, veutil behind dbus-spy and
// gui-v2) read only the interface and the child nodes from Introspect, never the signatures.
// The connection must outlive the service, and nothing else on it may register the BusItem
// interface (sd-bus also refuses an ordinary object at "/" next to a fallback one).

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "jkbms/dbus/item.hpp"

namespace sdbus {
class IConnection;
class Variant;
}  // namespace sdbus

struct sd_bus;
struct sd_bus_slot;
struct sd_bus_message;

namespace jkbms::dbus {

inline constexpr std::string_view kBusItemInterface = "com.victronenergy.BusItem";

// SetValue results (velib's): 0 accepted, 1 not writable or wrong type/range, 2 refused by
// the application.
enum class WriteResult : std::int32_t { Accepted = 0, NotWritable = 1, Refused = 2 };

class BusItemService {
public:
    // Called for a write that passed the path's checks; return false to refuse it. An accepted
    // value is stored and announced, unless the handler has already published it (through
    // update(), with a text of its own).
    using WriteHandler = std::function<bool(const std::string& path, const Value& value)>;

    struct Options {
        // One PropertiesChanged per changed leaf besides the batch's ItemsChanged. Off by
        // default: Victron's consumers (systemcalc and the VRM logger through velib_python's
        // dbusmonitor, gui-v2 through veutil, dbus-flashmq) all follow ItemsChanged (README,
        // "What goes out on D-Bus"). Each PropertiesChanged is one more message per changed item.
        bool propertiesChangedPerLeaf = false;
    };

    explicit BusItemService(sdbus::IConnection& connection) : BusItemService(connection, Options{}) {}
    BusItemService(sdbus::IConnection& connection, Options options);
    ~BusItemService();
    BusItemService(const BusItemService&) = delete;
    BusItemService& operator=(const BusItemService&) = delete;

    // echo = false: an accepted write leaves the value as it is (it follows the device, which
    // reports the outcome later).
    void setWritable(std::string path, WritableSpec spec, Unit unit, WriteHandler handler, bool echo = true);

    // Stores `items` (serving new paths at once) and announces what changed, in one
    // ItemsChanged. Returns the number of changed items.
    // Given the same table again (as BatteryService does every poll), it looks only at the
    // slots whose version moved, through a slot map built once: no path strings compared, and
    // no heap allocation once every path exists (sd-bus builds the message in its own buffer).
    std::size_t update(const PathTable& items);

    const Item* find(std::string_view path) const;
    const PathTable& items() const { return items_; }
    // D-Bus objects served (tree nodes and leaves), and the sd-bus registrations serving them
    // (constant: the four above).
    std::size_t objectCount() const { return nodes_.size() + leafCount_; }
    std::size_t registrationCount() const { return slots_.size(); }

    // Conversions between our values and D-Bus variants (exposed for tests).
    static sdbus::Variant toVariant(const Value& value);
    static std::optional<Value> fromVariant(const sdbus::Variant& variant);

private:
    struct Writable {
        WritableSpec spec;
        Unit unit;
        WriteHandler handler;
        bool echo = true;
    };
    // What a path is served as: the first of the two it was added as wins, as it did when
    // each path was an object of its own.
    enum class Kind : std::uint8_t {
        None,  // not served
        Node,  // a tree node ("/" included): GetValue / GetText of the subtree
        Leaf,  // an item
    };
    struct Callbacks;  // the sd-bus callbacks (bus_item_service.cpp)

    // Stores slot `b` of `batch` (its version moved) when it changed; notes it in changed_.
    void take(const PathTable& batch, PathTable::Slot b);
    void addPath(const std::string& leaf, PathTable::Slot slot);
    Kind kindOf(std::string_view path) const;
    std::int32_t setValue(const std::string& path, std::optional<Value> value);
    void announce();
    void send(sd_bus_message* message);

    static constexpr PathTable::Slot kUnmapped = UINT32_MAX;

    sd_bus* bus_ = nullptr;  // the connection's; not owned
    Options options_;
    PathTable items_;
    std::vector<bool> leaf_;  // by slot of items_: served as a leaf (not shadowed by a node)
    std::size_t leafCount_ = 0;
    // The last table given to update(): its slots -> ours, and the versions seen.
    std::uint64_t mappedTable_ = 0;
    std::vector<PathTable::Slot> slotMap_;
    std::vector<std::uint32_t> seenVersions_;
    std::vector<PathTable::Slot> changed_;  // slots of items_, reused by every update
    std::map<std::string, Writable, std::less<>> writable_;
    std::set<std::string, std::less<>> nodes_;  // tree nodes, "/" included
    std::vector<sd_bus_slot*> slots_;           // the registrations; unreferenced last
};

}  // namespace jkbms::dbus
