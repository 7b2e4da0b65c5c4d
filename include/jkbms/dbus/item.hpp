#pragma once
// The values of Victron's com.victronenergy.BusItem paths, free of any D-Bus library: the
// path model is pure, and only the service turns it into sdbus-c++ variants.

#include <cstdint>
#include <map>
#include <optional>
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
    Second,     // "3600s"
    Hex,        // "0xBA77"
};

std::string formatText(const Value& value, Unit unit);
Item makeItem(Value value, Unit unit = Unit::None);
inline Item invalidItem() { return Item{Invalid{}, "---"}; }

// A set of path -> item, ordered by path.
using PathTable = std::map<std::string, Item, std::less<>>;

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
