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

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "jkbms/dbus/item.hpp"

namespace sdbus {
class IConnection;
class IObject;
class Variant;
}  // namespace sdbus

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

    // Stores `items` (adding objects for new paths) and announces what changed, in one
    // ItemsChanged. Returns the number of changed items.
    // Given the same table again (as BatteryService does every poll), it looks only at the
    // slots whose version moved, through a slot map built once: no path strings compared, and
    // no heap allocation once every path exists (sd-bus builds the message in its own buffer).
    std::size_t update(const PathTable& items);

    const Item* find(std::string_view path) const;
    const PathTable& items() const { return items_; }
    std::size_t objectCount() const { return objects_.size(); }

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

    void ensureObjects(const std::string& leaf);
    sdbus::IObject* addLeaf(const std::string& path);
    void addNode(const std::string& path);
    std::int32_t setValue(const std::string& path, const sdbus::Variant& value);
    void announce();

    static constexpr PathTable::Slot kUnmapped = UINT32_MAX;

    sdbus::IConnection& connection_;
    Options options_;
    PathTable items_;
    std::vector<sdbus::IObject*> leaves_;  // by slot of items_
    // The last table given to update(): its slots -> ours, and the versions seen.
    std::uint64_t mappedTable_ = 0;
    std::vector<PathTable::Slot> slotMap_;
    std::vector<std::uint32_t> seenVersions_;
    std::vector<PathTable::Slot> changed_;  // slots of items_, reused by every update
    std::map<std::string, Writable, std::less<>> writable_;
    std::map<std::string, std::unique_ptr<sdbus::IObject>, std::less<>> objects_;
    sdbus::IObject* root_ = nullptr;
};

}  // namespace jkbms::dbus
