#include "jkbms/dbus/item.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace jkbms::dbus {

namespace {

// "%.<precision>f" of `v` (precision 0..3) without std::to_chars's exact decimal expansion,
// when that gives the same text: false (nothing written) otherwise.
// |v| x 10^precision below 2^31 is computed with one rounding, so it is within 2.4e-7 of the
// exact product; unless its fraction is within 1e-6 of one half, the exact product rounds to
// the same integer (printf rounds the exact binary value to nearest). Ties, NaN, infinities
// and large values are left to to_chars. The sign is printed as printf does ("-0.00").
bool fixedFast(double v, int precision, char*& p, char* end) {
    static constexpr double kScale[] = {1.0, 10.0, 100.0, 1000.0};
    static constexpr std::uint32_t kPower[] = {1, 10, 100, 1000};
    const double r = std::fabs(v) * kScale[precision];
    if (!(r < 2147483648.0)) return false;  // NaN too
    const double whole = std::floor(r);
    const double fraction = r - whole;  // exact
    if (std::fabs(fraction - 0.5) < 1e-6) return false;
    const auto n = static_cast<std::uint32_t>(whole) + (fraction > 0.5 ? 1U : 0U);
    if (std::signbit(v)) *p++ = '-';
    p = std::to_chars(p, end, n / kPower[precision]).ptr;
    if (precision > 0) {
        *p++ = '.';
        std::uint32_t digits = n % kPower[precision];
        for (int i = precision - 1; i >= 0; --i) {
            p[i] = static_cast<char>('0' + digits % 10);
            digits /= 10;
        }
        p += precision;
    }
    return true;
}

}  // namespace

void formatText(const Value& value, Unit unit, std::string& out) {
    if (!isValid(value)) {
        out.assign("---");
        return;
    }
    if (const auto* s = std::get_if<std::string>(&value)) {
        out.assign(*s);
        return;
    }
    const auto* integer = std::get_if<std::int32_t>(&value);
    const double v = integer ? static_cast<double>(*integer) : std::get<double>(value);
    // std::to_chars with a precision rounds as printf does ("%.2f", "%g"), without its format
    // parsing and locale. 330 characters hold any double in fixed notation.
    char buf[330];
    char* const end = buf + sizeof buf;
    char* p = buf;
    auto fixed = [&](int precision) {
        if (!fixedFast(v, precision, p, end)) p = std::to_chars(p, end, v, std::chars_format::fixed, precision).ptr;
    };
    auto general = [&] { p = std::to_chars(p, end, v, std::chars_format::general, 6).ptr; };  // "%g"
    auto suffix = [&](std::string_view s) {
        std::memcpy(p, s.data(), s.size());
        p += s.size();
    };
    switch (unit) {
        case Unit::Volt: fixed(2); suffix("V"); break;
        case Unit::CellVolt: fixed(3); suffix("V"); break;
        case Unit::Amp: fixed(2); suffix("A"); break;
        case Unit::Watt: fixed(0); suffix("W"); break;
        case Unit::Celsius: fixed(1); suffix("\u00b0C"); break;
        case Unit::Percent: fixed(1); suffix("%"); break;
        case Unit::AmpHour: fixed(1); suffix("Ah"); break;
        case Unit::KiloWattHour: fixed(2); suffix("kWh"); break;
        case Unit::Second: fixed(0); suffix("s"); break;
        case Unit::Hex:
            // Only what an unsigned int holds (a cast of anything else is undefined).
            if (v >= 0 && v <= 4294967295.0) {
                suffix("0x");
                char* digits = p;
                p = std::to_chars(p, end, static_cast<unsigned>(v), 16).ptr;
                for (char* c = digits; c != p; ++c)
                    if (*c >= 'a' && *c <= 'f') *c = static_cast<char>(*c - 'a' + 'A');  // "%X"
            } else {
                general();
            }
            break;
        case Unit::None:
            if (integer) p = std::to_chars(p, end, *integer).ptr;
            else general();
            break;
    }
    out.assign(buf, static_cast<std::size_t>(p - buf));
}

std::string formatText(const Value& value, Unit unit) {
    std::string out;
    formatText(value, unit, out);
    return out;
}

// PathTable

namespace {
std::uint64_t nextTableId() {
    static std::uint64_t next = 0;
    return ++next;
}
}  // namespace

PathTable::PathTable() : id_(nextTableId()) {}

PathTable::PathTable(const PathTable& other)
    : entries_(other.entries_), versions_(other.versions_), order_(other.order_), sequence_(other.sequence_),
      id_(nextTableId()) {
    producerMark = other.producerMark;
    rebindSequence();
}

void PathTable::rebindSequence() {
    for (Put& put : sequence_) put.item = &entries_[put.slot].second;
}

PathTable::PathTable(PathTable&& other) noexcept
    : entries_(std::move(other.entries_)), versions_(std::move(other.versions_)), order_(std::move(other.order_)),
      sequence_(std::move(other.sequence_)), id_(nextTableId()) {
    producerMark = other.producerMark;
    other.id_ = nextTableId();  // emptied: another table now
    other.entries_.clear();
    other.versions_.clear();
    other.order_.clear();
    other.sequence_.clear();
}

PathTable& PathTable::operator=(const PathTable& other) {
    if (this == &other) return *this;
    PathTable copy(other);
    return *this = std::move(copy);
}

PathTable& PathTable::operator=(PathTable&& other) noexcept {
    if (this == &other) return *this;
    // std::pair<const std::string, Item> cannot be assigned: the deques are swapped.
    entries_.swap(other.entries_);
    versions_ = std::move(other.versions_);
    order_ = std::move(other.order_);
    sequence_ = std::move(other.sequence_);
    producerMark = other.producerMark;
    id_ = nextTableId();
    other.id_ = nextTableId();
    other.entries_.clear();
    other.versions_.clear();
    other.order_.clear();
    other.sequence_.clear();
    return *this;
}

PathTable::const_iterator PathTable::lowerBound(std::string_view path) const {
    auto it = std::lower_bound(order_.begin(), order_.end(), path,
                               [this](Slot s, std::string_view p) { return std::string_view{entries_[s].first} < p; });
    return {&entries_, order_.data() + (it - order_.begin())};
}

PathTable::const_iterator PathTable::find(std::string_view path) const {
    auto it = lowerBound(path);
    if (it == end() || it->first != path) return end();
    return it;
}

const Item& PathTable::at(std::string_view path) const {
    auto it = find(path);
    if (it == end()) throw std::out_of_range("no path " + std::string{path});
    return it->second;
}

Item& PathTable::at(std::string_view path) {
    auto it = find(path);
    if (it == end()) throw std::out_of_range("no path " + std::string{path});
    touch(it.slot());
    return entries_[it.slot()].second;
}

void PathTable::index(Slot slot) {
    auto it = std::lower_bound(order_.begin(), order_.end(), slot, [this](Slot a, Slot b) {
        return entries_[a].first < entries_[b].first;
    });
    order_.insert(it, slot);
}

std::pair<PathTable::const_iterator, bool> PathTable::emplace(std::string path, Item item) {
    if (auto it = find(path); it != end()) return {it, false};
    const auto slot = static_cast<Slot>(entries_.size());
    entries_.emplace_back(std::move(path), std::move(item));
    versions_.push_back(1);
    index(slot);
    return {find(entries_[slot].first), true};
}

PathTable::Slot PathTable::intern(std::string_view path) {
    if (auto it = find(path); it != end()) return it.slot();
    return emplace(std::string{path}, invalidItem()).first.slot();
}

PathTable::Place PathTable::placeNew(std::size_t n, std::string_view path) {
    const Slot slot = intern(path);
    if (n >= sequence_.size()) sequence_.resize(n + 1);
    sequence_[n] = Put{path.data(), path.size(), slot, &entries_[slot].second};
    return {slot, sequence_[n].item};
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
