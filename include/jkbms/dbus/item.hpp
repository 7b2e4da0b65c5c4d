#pragma once
// The values of Victron's com.victronenergy.BusItem paths, free of any D-Bus library: the
// path model is pure, and only the service turns it into sdbus-c++ variants.

#include <cassert>
#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jkbms::dbus {

// Victron's "no value": on the wire a variant holding an empty int32 array.
struct Invalid {
    friend bool operator==(Invalid, Invalid) { return true; }
};

using Value = std::variant<Invalid, std::int32_t, double, std::string>;

inline bool isValid(const Value& v) { return !std::holds_alternative<Invalid>(v); }

struct Item {
    Value value;
    std::string text;  // GetText: "53.20V", "---" when invalid
    friend bool operator==(const Item&, const Item&) = default;
};

// How GetText renders a value.
enum class Unit : std::uint8_t {
    None,       // str(value)
    Volt,       // "53.20V"
    CellVolt,   // "3.325V"
    Amp,        // "-12.50A"
    Watt,       // "-665W"
    Celsius,    // "24.5°C"
    Percent,    // "67.0%"
    AmpHour,    // "280.0Ah"
    KiloWattHour,  // "12.35kWh"
    Second,     // "3600s"
    Hex,        // "0xBA77"
};

std::string formatText(const Value& value, Unit unit);
// The same into `out`, reusing its storage (std::to_chars, no printf): no allocation once
// `out` has held a text as long (texts of numbers fit the short-string buffer).
void formatText(const Value& value, Unit unit, std::string& out);
Item makeItem(Value value, Unit unit = Unit::None);
inline Item invalidItem() { return Item{Invalid{}, "---"}; }

// A set of path -> item, iterated and found in path order.
//
// Paths are interned: a path gets a slot the first time it is added, and keeps it for the
// table's life (slots are 0, 1, 2, ... in the order paths were added; an item's address never
// changes). Each slot has a version, bumped whenever its item may have changed, so a consumer
// that remembers the versions it has seen (BusItemService) compares only what changed.
// A producer that puts the same paths in the same order every cycle (batteryPaths) finds each
// slot by its position in that order with slotAt(), without comparing path strings.
// Only at() and slotAt() give write access; both count as a change.
class PathTable {
public:
    using value_type = std::pair<const std::string, Item>;
    using Slot = std::uint32_t;

    // Iterates in path order; read-only.
    class const_iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = PathTable::value_type;
        using difference_type = std::ptrdiff_t;
        using pointer = const value_type*;
        using reference = const value_type&;
        const_iterator() = default;
        reference operator*() const { return (*entries_)[*at_]; }
        pointer operator->() const { return &(*entries_)[*at_]; }
        const_iterator& operator++() { ++at_; return *this; }
        const_iterator operator++(int) { auto old = *this; ++at_; return old; }
        const_iterator& operator--() { --at_; return *this; }
        difference_type operator-(const const_iterator& o) const { return at_ - o.at_; }
        friend bool operator==(const const_iterator& a, const const_iterator& b) { return a.at_ == b.at_; }
        Slot slot() const { return *at_; }

    private:
        friend class PathTable;
        const_iterator(const std::deque<value_type>* entries, const Slot* at) : entries_(entries), at_(at) {}
        const std::deque<value_type>* entries_ = nullptr;
        const Slot* at_ = nullptr;
    };
    using iterator = const_iterator;

    PathTable();
    PathTable(const PathTable& other);
    PathTable(PathTable&& other) noexcept;
    PathTable& operator=(const PathTable& other);
    PathTable& operator=(PathTable&& other) noexcept;
    ~PathTable() = default;

    const_iterator begin() const { return {&entries_, order_.data()}; }
    const_iterator end() const { return {&entries_, order_.data() + order_.size()}; }
    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }

    // By path (binary search): end() / false when absent. at() throws std::out_of_range.
    const_iterator find(std::string_view path) const;
    const_iterator lowerBound(std::string_view path) const;  // the first path >= `path`
    bool contains(std::string_view path) const { return find(path) != end(); }
    const Item& at(std::string_view path) const;
    Item& at(std::string_view path);  // counts as a change of that path
    // Adds `path` unless it is there (then leaves the item as it is, like std::map::emplace).
    std::pair<const_iterator, bool> emplace(std::string path, Item item);

    // Slots: 0 .. slotCount() - 1.
    std::size_t slotCount() const { return entries_.size(); }
    const value_type& entry(Slot slot) const { return entries_[slot]; }
    std::uint32_t version(Slot slot) const { return versions_[slot]; }
    // Every slot's version, by slot (slotCount() of them; valid until a path is added).
    std::span<const std::uint32_t> versions() const { return versions_; }
    // The slot of `path`, added (invalid, "---") when new.
    Slot intern(std::string_view path);
    // The producer's side: the slot of its `n`-th put in a cycle. `path` must live as long as
    // the table (a literal, a static table): its address identifies it, so the slot is found
    // without comparing strings while the order of puts stays the same (a debug build checks
    // the text too). Another path at that position: looked up and remembered.
    Slot slotAt(std::size_t n, std::string_view path) { return placeAt(n, path).slot; }
    // The same with the slot's item (whose address never changes): the producer's per-put fast
    // path, a few loads and compares while the order of puts stays the same. Change the item,
    // then touch(slot).
    struct Place {
        Slot slot;
        Item* item;
    };
    Place placeAt(std::size_t n, std::string_view path) {
        if (n < sequence_.size()) {
            const Put& put = sequence_[n];
            if (put.path == path.data() && put.length == path.size()) {
                assert(entries_[put.slot].first == path);  // `path` had static storage
                return {put.slot, put.item};
            }
        }
        return placeNew(n, path);
    }
    Item& item(Slot slot) { return entries_[slot].second; }  // change it, then touch()
    void touch(Slot slot) { ++versions_[slot]; }

    // Identifies this table object (a copy is another table): what a consumer's slot map is for.
    std::uint64_t id() const { return id_; }

    // Free for the producer to keep one number across cycles (batteryPaths: the most cells it
    // has published, whose paths it keeps invalid when fewer are read).
    std::uint32_t producerMark = 0;

private:
    // One put of the producer's sequence: the path's address and length (its identity), its
    // slot and item.
    struct Put {
        const char* path = nullptr;
        std::size_t length = 0;
        Slot slot = 0;
        Item* item = nullptr;
    };
    void index(Slot slot);
    Place placeNew(std::size_t n, std::string_view path);  // placeAt() when the sequence differs
    void rebindSequence();  // after a copy: the items are this table's

    std::deque<value_type> entries_;     // by slot; a deque, so items never move
    std::vector<std::uint32_t> versions_;  // by slot
    std::vector<Slot> order_;            // slots sorted by path
    std::vector<Put> sequence_;  // the producer's puts, in order
    std::uint64_t id_;
};

// Writable paths: what SetValue accepts. Anything else is refused with a non-zero result.
struct WritableSpec {
    enum class Type : std::uint8_t { String, Int, Double };
    Type type = Type::String;
    double min = 0;   // numbers: inclusive range
    double max = 0;
    std::size_t maxLength = 64;  // strings
};

// Checks `value` against `spec`; the value to store (ints given for a double path are
// widened) or nullopt when refused.
std::optional<Value> acceptWrite(const WritableSpec& spec, const Value& value);

// A SetValue argument as it came off the bus, free of any D-Bus library: its signature code
// and its content read as that type (the service fills it from the sdbus::Variant).
struct WireValue {
    char type = 0;              // 's', 'd', 'i', 'n', 'q', 'y', 'u', 'x', 't', 'b', ...; 0: none
    std::int64_t integer = 0;   // y n q i u x b
    std::uint64_t unsignedInteger = 0;  // t
    double real = 0;            // d
    std::string text;           // s
};

// The Value a SetValue argument stands for: strings, doubles, and integers that fit an int32
// (y n q i, u and x and t within range); nullopt for anything else (booleans, arrays,
// structures, 64-bit values beyond int32). Then acceptWrite() decides.
std::optional<Value> valueFromWire(const WireValue& wire);

}  // namespace jkbms::dbus
