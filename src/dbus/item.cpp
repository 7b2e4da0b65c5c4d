#include "jkbms/dbus/item.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>

namespace jkbms::dbus {

std::string formatText(const Value& value, Unit unit) {
    if (!isValid(value)) return "---";
    if (const auto* s = std::get_if<std::string>(&value)) return *s;
    const double v = std::holds_alternative<double>(value)
                         ? std::get<double>(value)
                         : static_cast<double>(std::get<std::int32_t>(value));
    char buf[48];
    switch (unit) {
        case Unit::Volt: std::snprintf(buf, sizeof buf, "%.2fV", v); break;
        case Unit::CellVolt: std::snprintf(buf, sizeof buf, "%.3fV", v); break;
        case Unit::Amp: std::snprintf(buf, sizeof buf, "%.2fA", v); break;
        case Unit::Watt: std::snprintf(buf, sizeof buf, "%.0fW", v); break;
        case Unit::Celsius: std::snprintf(buf, sizeof buf, "%.1f\u00b0C", v); break;
        case Unit::Percent: std::snprintf(buf, sizeof buf, "%.1f%%", v); break;
        case Unit::AmpHour: std::snprintf(buf, sizeof buf, "%.1fAh", v); break;
        case Unit::Second: std::snprintf(buf, sizeof buf, "%.0fs", v); break;
        case Unit::Hex:
            // Only what an unsigned int holds (a cast of anything else is undefined).
            if (v >= 0 && v <= 4294967295.0) std::snprintf(buf, sizeof buf, "0x%X", static_cast<unsigned>(v));
            else std::snprintf(buf, sizeof buf, "%g", v);
            break;
        case Unit::None:
            if (std::holds_alternative<std::int32_t>(value))
                std::snprintf(buf, sizeof buf, "%d", std::get<std::int32_t>(value));
            else
                std::snprintf(buf, sizeof buf, "%g", v);
            break;
    }
    return buf;
}

Item makeItem(Value value, Unit unit) {
    std::string text = formatText(value, unit);
    return Item{std::move(value), std::move(text)};
}

std::optional<Value> acceptWrite(const WritableSpec& spec, const Value& value) {
    switch (spec.type) {
        case WritableSpec::Type::String: {
            const auto* s = std::get_if<std::string>(&value);
            if (!s || s->size() > spec.maxLength) return std::nullopt;
            for (char c : *s)
                if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;  // no control chars
            return value;
        }
        case WritableSpec::Type::Int: {
            const auto* i = std::get_if<std::int32_t>(&value);
            if (!i || *i < spec.min || *i > spec.max) return std::nullopt;
            return value;
        }
        case WritableSpec::Type::Double: {
            double d = 0;
            if (const auto* i = std::get_if<std::int32_t>(&value)) d = *i;
            else if (const auto* x = std::get_if<double>(&value)) d = *x;
            else return std::nullopt;
            if (!std::isfinite(d) || d < spec.min || d > spec.max) return std::nullopt;
            return Value{d};
        }
    }
    return std::nullopt;
}

std::optional<Value> valueFromWire(const WireValue& wire) {
    auto integer = [](auto v) -> std::optional<Value> {
        if (v < INT32_MIN || v > INT32_MAX) return std::nullopt;
        return Value{static_cast<std::int32_t>(v)};
    };
    switch (wire.type) {
        case 's': return Value{wire.text};
        case 'd': return Value{wire.real};
        case 'y':
        case 'n':
        case 'q':
        case 'i':
        case 'u':
        case 'x': return integer(wire.integer);
        case 't':
            if (wire.unsignedInteger > static_cast<std::uint64_t>(INT32_MAX)) return std::nullopt;
            return Value{static_cast<std::int32_t>(wire.unsignedInteger)};
        default: return std::nullopt;  // booleans, arrays (invalid), structures: not a value we store
    }
}

}  // namespace jkbms::dbus
