// The BusItem SetValue handler's pure part: a value off the bus (any type code and content)
// turned into a Value, checked against a writable path's spec (any type, range and length),
// and, when accepted, rendered as the path's text in every unit. What is accepted must be of
// the spec's type, within its range and length, and free of control characters.

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "jkbms/dbus/battery_paths.hpp"
#include "jkbms/dbus/item.hpp"

using namespace jkbms;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    dbus::WritableSpec spec;
    switch (in.ConsumeIntegralInRange<int>(0, 5)) {
        case 0: spec = dbus::customNameSpec(); break;
        case 1: spec = dbus::bmsPowerSpec(); break;
        case 2: spec = dbus::bmsSwitchSpec(); break;
        default:
            spec.type = static_cast<dbus::WritableSpec::Type>(in.ConsumeIntegralInRange<int>(0, 2));
            spec.min = in.ConsumeFloatingPoint<double>();
            spec.max = in.ConsumeFloatingPoint<double>();
            spec.maxLength = in.ConsumeIntegralInRange<std::size_t>(0, 256);
    }
    dbus::WireValue wire;
    static constexpr char kTypes[] = {'s', 'd', 'i', 'n', 'q', 'y', 'u', 'x', 't', 'b', 'a', 'v', 'h', 0};
    wire.type = kTypes[in.ConsumeIntegralInRange<std::size_t>(0, sizeof kTypes - 1)];
    wire.integer = in.ConsumeIntegral<std::int64_t>();
    wire.unsignedInteger = in.ConsumeIntegral<std::uint64_t>();
    wire.real = in.ConsumeFloatingPoint<double>();
    wire.text = in.ConsumeRemainingBytesAsString();

    const auto value = dbus::valueFromWire(wire);
    if (!value) return 0;
    if (const auto* i = std::get_if<std::int32_t>(&*value); i && wire.type == 't' && static_cast<std::uint64_t>(*i) != wire.unsignedInteger)
        std::abort();
    for (const dbus::Unit unit : {dbus::Unit::None, dbus::Unit::Volt, dbus::Unit::CellVolt, dbus::Unit::Amp, dbus::Unit::Watt,
                                  dbus::Unit::Celsius, dbus::Unit::Percent, dbus::Unit::AmpHour, dbus::Unit::Second, dbus::Unit::Hex})
        (void)dbus::formatText(*value, unit);
    const auto accepted = dbus::acceptWrite(spec, *value);
    if (!accepted) return 0;
    switch (spec.type) {
        case dbus::WritableSpec::Type::String: {
            const auto* s = std::get_if<std::string>(&*accepted);
            if (!s || s->size() > spec.maxLength) std::abort();
            for (char c : *s)
                if (static_cast<unsigned char>(c) < 0x20) std::abort();
            break;
        }
        case dbus::WritableSpec::Type::Int: {
            const auto* i = std::get_if<std::int32_t>(&*accepted);
            if (!i || *i < spec.min || *i > spec.max) std::abort();
            break;
        }
        case dbus::WritableSpec::Type::Double: {
            const auto* d = std::get_if<double>(&*accepted);
            if (!d || !std::isfinite(*d) || *d < spec.min || *d > spec.max) std::abort();
            break;
        }
    }
    // A number always has a text ("" is a valid string, e.g. /CustomName cleared).
    if (spec.type != dbus::WritableSpec::Type::String)
        for (const dbus::Unit unit : {dbus::Unit::None, dbus::Unit::Volt, dbus::Unit::Hex, dbus::Unit::Percent})
            if (dbus::makeItem(*accepted, unit).text.empty()) std::abort();
    return 0;
}
