#include "jkbms/dbus/bus_item_service.hpp"

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-bus.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "jkbms/util/utf8.hpp"

namespace jkbms::dbus {
namespace {

constexpr const char* kInterfaceName = "com.victronenergy.BusItem";
static_assert(kBusItemInterface == std::string_view{"com.victronenergy.BusItem"});
constexpr const char* kFailed = "org.freedesktop.DBus.Error.Failed";

struct Unref {
    void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using MessagePtr = std::unique_ptr<sd_bus_message, Unref>;

// The sd_bus under an sdbus-c++ connection. sdbus-c++ 2.1's IConnection does not hand it out,
// but every sdbus::Message keeps its sd_bus_message in the protected member msg_: a class
// derived from Message may name it, and the pointer to member that gives reads it off any
// Message (no cast of the object). A signal made by an object with nothing registered carries
// the connection's bus (sd_bus_message_get_bus); the object registers nothing and is dropped.
struct MessageAccess : sdbus::Message {
    static sd_bus_message* raw(const sdbus::Message& message) {
        return static_cast<sd_bus_message*>(message.*(&MessageAccess::msg_));
    }
};

sd_bus* busOf(sdbus::IConnection& connection) {
    auto probe = sdbus::createObject(connection, sdbus::ObjectPath{"/"});
    auto signal = probe->createSignal(sdbus::InterfaceName{kInterfaceName}, sdbus::SignalName{"ItemsChanged"});
    sd_bus_message* message = MessageAccess::raw(signal);
    sd_bus* bus = message ? sd_bus_message_get_bus(message) : nullptr;
    if (bus == nullptr) throw sdbus::createError(EINVAL, "BusItemService: no sd_bus under the connection");
    return bus;
}

// Messages are written straight with sd-bus. Its append calls poison the message on the first
// error, so only the send (or seal) is checked.

// Whether every byte of `s` is ASCII and not NUL: such a string is valid UTF-8 as sd-bus
// checks it, and c_str() ends where it does. Eight bytes at a time.
bool plainAscii(std::string_view s) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, s.data() + i, 8);
        // A byte >= 0x80, or a zero byte ((w - 1s) & ~w has its high bit set).
        if ((w & kHighs) != 0 || ((w - kOnes) & ~w & kHighs) != 0) return false;
    }
    for (; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == 0 || c >= 0x80) return false;
    }
    return true;
}

// A string ("s"). sd_bus_message_append_basic runs strlen and a UTF-8 check over the string
// before it copies it; a plain ASCII string (above) needs neither, and is copied straight into
// the space sd_bus_message_append_string_space reserves: the same bytes on the wire. Anything
// else goes through sd-bus's own check, as before (its first NUL ends it there, as c_str() did).
void appendString(sd_bus_message* m, std::string_view s, const char* terminated) {
    if (plainAscii(s)) {
        char* space = nullptr;
        if (sd_bus_message_append_string_space(m, s.size(), &space) >= 0 && space != nullptr)
            std::memcpy(space, s.data(), s.size());
        return;
    }
    sd_bus_message_append_basic(m, 's', terminated);
}
void appendString(sd_bus_message* m, const std::string& s) { appendString(m, s, s.c_str()); }
// A literal known to be plain ASCII ("Value", "Text").
template <std::size_t N>
void appendLiteral(sd_bus_message* m, const char (&literal)[N]) {
    char* space = nullptr;
    if (sd_bus_message_append_string_space(m, N - 1, &space) >= 0 && space != nullptr)
        std::memcpy(space, literal, N - 1);
}

void appendVariant(sd_bus_message* m, const Value& value) {
    if (const auto* i = std::get_if<std::int32_t>(&value)) {
        sd_bus_message_open_container(m, 'v', "i");
        sd_bus_message_append_basic(m, 'i', i);
    } else if (const auto* d = std::get_if<double>(&value)) {
        sd_bus_message_open_container(m, 'v', "d");
        sd_bus_message_append_basic(m, 'd', d);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
        sd_bus_message_open_container(m, 'v', "s");
        appendString(m, *s);
    } else {
        sd_bus_message_open_container(m, 'v', "ai");  // Victron's invalid
        sd_bus_message_open_container(m, 'a', "i");
        sd_bus_message_close_container(m);
    }
    sd_bus_message_close_container(m);
}

// a{sv} {"Value": v, "Text": s}; GetItems has always answered "Text" first (a sorted map).
enum class Order { ValueFirst, TextFirst };
void appendProperties(sd_bus_message* m, const Item& item, Order order = Order::ValueFirst) {
    auto value = [&] {
        sd_bus_message_open_container(m, 'e', "sv");
        appendLiteral(m, "Value");
        appendVariant(m, item.value);
        sd_bus_message_close_container(m);
    };
    auto text = [&] {
        sd_bus_message_open_container(m, 'e', "sv");
        appendLiteral(m, "Text");
        sd_bus_message_open_container(m, 'v', "s");
        appendString(m, item.text);
        sd_bus_message_close_container(m);
        sd_bus_message_close_container(m);
    };
    sd_bus_message_open_container(m, 'a', "{sv}");
    if (order == Order::ValueFirst) {
        value();
        text();
    } else {
        text();
        value();
    }
    sd_bus_message_close_container(m);
}

// Leaves under `node`: the range of keys that start with node + "/".
auto subtree(const PathTable& items, std::string_view node) {
    const std::string prefix = node == "/" ? "/" : std::string{node} + "/";
    auto first = items.lowerBound(prefix);
    auto last = items.end();
    if (node != "/") {
        std::string end = std::string{node} + "0";  // '0' follows '/' in ASCII
        last = items.lowerBound(end);
    }
    return std::pair{first, last};
}

// The SetValue argument, a variant, as a Value (nullopt: not one basic type we take).
std::optional<Value> readSetValue(sd_bus_message* m) {
    char type = 0;
    const char* contents = nullptr;
    if (sd_bus_message_peek_type(m, &type, &contents) <= 0 || type != 'v' || contents == nullptr) return std::nullopt;
    if (contents[0] == '\0' || contents[1] != '\0') return std::nullopt;  // one basic type only
    if (sd_bus_message_enter_container(m, 'v', contents) <= 0) return std::nullopt;
    WireValue wire;
    wire.type = contents[0];
    int r = 0;
    switch (wire.type) {
        case 's': {
            const char* text = nullptr;
            r = sd_bus_message_read_basic(m, 's', &text);
            if (r > 0 && text) wire.text = text;
            break;
        }
        case 'd': r = sd_bus_message_read_basic(m, 'd', &wire.real); break;
        case 'i': { std::int32_t v = 0; r = sd_bus_message_read_basic(m, 'i', &v); wire.integer = v; break; }
        case 'n': { std::int16_t v = 0; r = sd_bus_message_read_basic(m, 'n', &v); wire.integer = v; break; }
        case 'q': { std::uint16_t v = 0; r = sd_bus_message_read_basic(m, 'q', &v); wire.integer = v; break; }
        case 'y': { std::uint8_t v = 0; r = sd_bus_message_read_basic(m, 'y', &v); wire.integer = v; break; }
        case 'u': { std::uint32_t v = 0; r = sd_bus_message_read_basic(m, 'u', &v); wire.integer = v; break; }
        case 'x': { std::int64_t v = 0; r = sd_bus_message_read_basic(m, 'x', &v); wire.integer = v; break; }
        case 't': r = sd_bus_message_read_basic(m, 't', &wire.unsignedInteger); break;
        default: return std::nullopt;  // booleans, arrays (invalid), structures
    }
    if (r <= 0) return std::nullopt;
    return valueFromWire(wire);  // the checks themselves are pure (item.hpp), and fuzzed
}

// Runs a method handler; an exception becomes a D-Bus error reply (none may reach sd-bus).
template <typename F>
int guarded(sd_bus_error* error, F&& f) {
    try {
        return f();
    } catch (const sdbus::Error& e) {
        return sd_bus_error_set(error, e.getName().c_str(), e.getMessage().c_str());
    } catch (const std::exception& e) {
        return sd_bus_error_set(error, kFailed, e.what());
    } catch (...) {
        return sd_bus_error_set(error, kFailed, "unknown exception");
    }
}

int sendReply(const MessagePtr& reply) { return sd_bus_send(nullptr, reply.get(), nullptr); }

}  // namespace

// The sd-bus callbacks: userdata is the service.
struct BusItemService::Callbacks {
    static BusItemService& self(void* userdata) { return *static_cast<BusItemService*>(userdata); }

    static int findAny(sd_bus*, const char* path, const char*, void* userdata, void** found, sd_bus_error*) {
        if (self(userdata).kindOf(path) == Kind::None) return 0;
        *found = userdata;
        return 1;
    }
    static int findLeaf(sd_bus*, const char* path, const char*, void* userdata, void** found, sd_bus_error*) {
        if (self(userdata).kindOf(path) != Kind::Leaf) return 0;
        *found = userdata;
        return 1;
    }
    static int findRoot(sd_bus*, const char* path, const char*, void* userdata, void** found, sd_bus_error*) {
        if (std::strcmp(path, "/") != 0) return 0;
        *found = userdata;
        return 1;
    }

    // The children of `prefix` (direct ones: Introspect lists one level).
    static int enumerate(sd_bus*, const char* prefix, void* userdata, char*** nodes, sd_bus_error* error) {
        return guarded(error, [&] {
            const auto& s = self(userdata);
            const std::string under = std::strcmp(prefix, "/") == 0 ? std::string{"/"} : std::string{prefix} + "/";
            std::vector<std::string_view> children;
            auto take = [&](std::string_view path) {
                if (path.size() > under.size() && path.find('/', under.size()) == std::string_view::npos)
                    children.push_back(path);
            };
            for (auto it = s.nodes_.lower_bound(under); it != s.nodes_.end() && it->starts_with(under); ++it) take(*it);
            for (auto it = s.items_.lowerBound(under); it != s.items_.end() && it->first.starts_with(under); ++it)
                take(it->first);
            std::sort(children.begin(), children.end());
            children.erase(std::unique(children.begin(), children.end()), children.end());
            auto** strv = static_cast<char**>(std::calloc(children.size() + 1, sizeof(char*)));
            if (strv == nullptr) return -ENOMEM;
            for (std::size_t i = 0; i < children.size(); ++i) {
                strv[i] = strndup(children[i].data(), children[i].size());
                if (strv[i] == nullptr) {
                    for (std::size_t j = 0; j < i; ++j) std::free(strv[j]);
                    std::free(static_cast<void*>(strv));
                    return -ENOMEM;
                }
            }
            *nodes = strv;
            return 0;
        });
    }

    static int getValue(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        return guarded(error, [&] {
            const auto& s = self(userdata);
            const char* path = sd_bus_message_get_path(m);
            sd_bus_message* raw = nullptr;
            if (int r = sd_bus_message_new_method_return(m, &raw); r < 0) return r;
            const MessagePtr reply{raw};
            if (s.kindOf(path) == Kind::Node) {
                // A variant holding a{sv}: the subtree's values, keys relative to the node.
                const std::size_t strip = std::strcmp(path, "/") == 0 ? 1 : std::strlen(path) + 1;
                sd_bus_message_open_container(raw, 'v', "a{sv}");
                sd_bus_message_open_container(raw, 'a', "{sv}");
                auto [first, last] = subtree(s.items_, path);
                for (auto it = first; it != last; ++it) {
                    sd_bus_message_open_container(raw, 'e', "sv");
                    sd_bus_message_append_basic(raw, 's', it->first.c_str() + strip);
                    appendVariant(raw, it->second.value);
                    sd_bus_message_close_container(raw);
                }
                sd_bus_message_close_container(raw);
                sd_bus_message_close_container(raw);
            } else {
                const Item* item = s.find(path);
                appendVariant(raw, item ? item->value : Value{Invalid{}});
            }
            return sendReply(reply);
        });
    }

    static int getText(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        return guarded(error, [&] {
            const Item* item = self(userdata).find(sd_bus_message_get_path(m));
            return sd_bus_reply_method_return(m, "s", item ? item->text.c_str() : "---");
        });
    }

    // GetText on a tree node answers a variant (a{ss}, as velib does), GetText on a leaf a
    // string. sd-bus holds one declaration of a member per interface under a registration and
    // enforces its result signature on the reply, so the nodes' GetText is answered here,
    // before the object dispatch; 0 leaves every other message to it.
    static int filter(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        if (sd_bus_message_is_method_call(m, kInterfaceName, "GetText") <= 0) return 0;
        const auto& s = self(userdata);
        const char* path = sd_bus_message_get_path(m);
        if (path == nullptr || s.kindOf(path) != Kind::Node || sd_bus_message_has_signature(m, "") <= 0) return 0;
        const int answered = guarded(error, [&] {
            sd_bus_message* raw = nullptr;
            if (int r = sd_bus_message_new_method_return(m, &raw); r < 0) return r;
            const MessagePtr reply{raw};
            const std::size_t strip = std::strcmp(path, "/") == 0 ? 1 : std::strlen(path) + 1;
            sd_bus_message_open_container(raw, 'v', "a{ss}");
            sd_bus_message_open_container(raw, 'a', "{ss}");
            auto [first, last] = subtree(s.items_, path);
            for (auto it = first; it != last; ++it) {
                sd_bus_message_open_container(raw, 'e', "ss");
                sd_bus_message_append_basic(raw, 's', it->first.c_str() + strip);
                sd_bus_message_append_basic(raw, 's', it->second.text.c_str());
                sd_bus_message_close_container(raw);
            }
            sd_bus_message_close_container(raw);
            sd_bus_message_close_container(raw);
            return sendReply(reply);
        });
        return answered < 0 ? answered : 1;  // answered (an error sd-bus replies)
    }

    static int setValue(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        return guarded(error, [&] {
            const std::string path = sd_bus_message_get_path(m);
            const std::int32_t result = self(userdata).setValue(path, readSetValue(m));
            return sd_bus_reply_method_return(m, "i", result);
        });
    }

    static int getDescription(sd_bus_message* m, void*, sd_bus_error* error) {
        return guarded(error, [&] { return sd_bus_reply_method_return(m, "s", ""); });
    }

    // a{sa{sv}}: every path with its value and text.
    static int getItems(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        return guarded(error, [&] {
            const auto& s = self(userdata);
            sd_bus_message* raw = nullptr;
            if (int r = sd_bus_message_new_method_return(m, &raw); r < 0) return r;
            const MessagePtr reply{raw};
            sd_bus_message_open_container(raw, 'a', "{sa{sv}}");
            for (const auto& [path, item] : s.items_) {
                sd_bus_message_open_container(raw, 'e', "sa{sv}");
                sd_bus_message_append_basic(raw, 's', path.c_str());
                appendProperties(raw, item, Order::TextFirst);
                sd_bus_message_close_container(raw);
            }
            sd_bus_message_close_container(raw);
            return sendReply(reply);
        });
    }
};

BusItemService::BusItemService(sdbus::IConnection& connection, Options options)
    : bus_(busOf(connection)), options_(options) {
    nodes_.emplace("/");
    // The members and argument names sdbus-c++ registered per object before; the flag it set
    // by default (callers need no privilege).
    constexpr std::uint64_t kOpen = SD_BUS_VTABLE_UNPRIVILEGED;
    static const sd_bus_vtable kEveryPath[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("GetValue", "", "", "v", SD_BUS_PARAM(value), &Callbacks::getValue, kOpen),
        SD_BUS_METHOD_WITH_NAMES("GetText", "", "", "s", SD_BUS_PARAM(text), &Callbacks::getText, kOpen),
        SD_BUS_VTABLE_END,
    };
    static const sd_bus_vtable kLeaves[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("SetValue", "v", SD_BUS_PARAM(value), "i", SD_BUS_PARAM(result), &Callbacks::setValue,
                                 kOpen),
        SD_BUS_METHOD_WITH_NAMES("GetDescription", "si", SD_BUS_PARAM(language) SD_BUS_PARAM(length), "s",
                                 SD_BUS_PARAM(description), &Callbacks::getDescription, kOpen),
        SD_BUS_SIGNAL_WITH_NAMES("PropertiesChanged", "a{sv}", SD_BUS_PARAM(changes), 0),
        SD_BUS_VTABLE_END,
    };
    static const sd_bus_vtable kRoot[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("GetItems", "", "", "a{sa{sv}}", SD_BUS_PARAM(items), &Callbacks::getItems, kOpen),
        SD_BUS_SIGNAL_WITH_NAMES("ItemsChanged", "a{sa{sv}}", SD_BUS_PARAM(changes), 0),
        SD_BUS_VTABLE_END,
    };
    auto add = [this](int r, sd_bus_slot* slot) {
        if (r < 0) {
            for (sd_bus_slot* s : slots_) sd_bus_slot_unref(s);
            slots_.clear();
            throw sdbus::createError(-r, "BusItemService: registering the BusItem tree failed");
        }
        slots_.push_back(slot);
    };
    // In this order: sd-bus keeps one interface's vtables together, and introspects them as one.
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_add_fallback_vtable(bus_, &slot, "/", kInterfaceName, kEveryPath, &Callbacks::findAny, this);
    add(r, slot);
    r = sd_bus_add_fallback_vtable(bus_, &slot, "/", kInterfaceName, kLeaves, &Callbacks::findLeaf, this);
    add(r, slot);
    r = sd_bus_add_fallback_vtable(bus_, &slot, "/", kInterfaceName, kRoot, &Callbacks::findRoot, this);
    add(r, slot);
    r = sd_bus_add_node_enumerator(bus_, &slot, "/", &Callbacks::enumerate, this);
    add(r, slot);
    r = sd_bus_add_filter(bus_, &slot, &Callbacks::filter, this);
    add(r, slot);
}

BusItemService::~BusItemService() {
    for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) sd_bus_slot_unref(*it);
}

sdbus::Variant BusItemService::toVariant(const Value& value) {
    if (const auto* i = std::get_if<std::int32_t>(&value)) return sdbus::Variant{*i};
    if (const auto* d = std::get_if<double>(&value)) return sdbus::Variant{*d};
    if (const auto* s = std::get_if<std::string>(&value)) return sdbus::Variant{*s};
    return sdbus::Variant{std::vector<std::int32_t>{}};  // Victron's invalid
}

std::optional<Value> BusItemService::fromVariant(const sdbus::Variant& v) {
    const char* type = v.peekValueType();
    if (type == nullptr || type[0] == '\0' || type[1] != '\0') return std::nullopt;  // one basic type only
    WireValue wire;
    wire.type = type[0];
    try {
        switch (wire.type) {
            case 's': wire.text = v.get<std::string>(); break;
            case 'd': wire.real = v.get<double>(); break;
            case 'i': wire.integer = v.get<std::int32_t>(); break;
            case 'n': wire.integer = v.get<std::int16_t>(); break;
            case 'q': wire.integer = v.get<std::uint16_t>(); break;
            case 'y': wire.integer = v.get<std::uint8_t>(); break;
            case 'u': wire.integer = v.get<std::uint32_t>(); break;
            case 'x': wire.integer = v.get<std::int64_t>(); break;
            case 't': wire.unsignedInteger = v.get<std::uint64_t>(); break;
            default: return std::nullopt;  // booleans, arrays (invalid), structures
        }
    } catch (const sdbus::Error&) {
        return std::nullopt;
    }
    return valueFromWire(wire);  // the checks themselves are pure (item.hpp), and fuzzed
}

void BusItemService::setWritable(std::string path, WritableSpec spec, Unit unit, WriteHandler handler, bool echo) {
    writable_.insert_or_assign(std::move(path), Writable{spec, unit, std::move(handler), echo});
}

const Item* BusItemService::find(std::string_view path) const {
    auto it = items_.find(path);
    return it == items_.end() ? nullptr : &it->second;
}

std::size_t BusItemService::update(const PathTable& batch) {
    if (batch.id() != mappedTable_) {  // another table: its slots are mapped anew
        mappedTable_ = batch.id();
        slotMap_.clear();
        seenVersions_.clear();
    }
    if (slotMap_.size() < batch.slotCount()) {
        slotMap_.resize(batch.slotCount(), kUnmapped);
        seenVersions_.resize(batch.slotCount(), 0);
    }
    changed_.clear();
    // The versions side by side, scanned without touching anything else; a slot whose version
    // moved is taken in out of line.
    const auto slots = static_cast<PathTable::Slot>(batch.slotCount());
    const std::uint32_t* const versions = batch.versions().data();
    std::uint32_t* const seen = seenVersions_.data();
    for (PathTable::Slot b = 0; b < slots; ++b) {
        if (versions[b] == seen[b]) continue;  // untouched since the last update
        seen[b] = versions[b];
        take(batch, b);
    }
    if (!changed_.empty()) announce();
    return changed_.size();
}

void BusItemService::take(const PathTable& batch, PathTable::Slot b) {
    const auto& [path, raw] = batch.entry(b);
    bool added = false;
    if (slotMap_[b] == kUnmapped) {
        const std::size_t before = items_.slotCount();
        slotMap_[b] = items_.intern(path);
        if (items_.slotCount() != before) {
            added = true;
            addPath(path, slotMap_[b]);
        }
    }
    const PathTable::Slot mine = slotMap_[b];
    Item& stored = items_.item(mine);
    // sd-bus refuses a string that is not UTF-8 (a port path, a BMS's text): made valid here.
    const auto* text = std::get_if<std::string>(&raw.value);
    auto valid = [](const std::string& s) { return plainAscii(s) || util::isValidUtf8(s); };  // ASCII: at once
    if ((text && !valid(*text)) || !valid(raw.text)) {
        Item mended = raw;
        if (text) mended.value = util::toValidUtf8(*text);
        mended.text = util::toValidUtf8(raw.text);
        if (!added && stored == mended) return;
        stored = std::move(mended);
    } else {
        if (!added && stored == raw) return;
        stored.value = raw.value;  // assignments reuse the stored strings' buffers
        stored.text = raw.text;
    }
    items_.touch(mine);
    changed_.push_back(mine);
}

void BusItemService::send(sd_bus_message* message) {
    const MessagePtr owned{message};
    if (int r = sd_bus_send(bus_, message, nullptr); r < 0) throw sdbus::createError(-r, "Failed to emit signal");
}

void BusItemService::announce() {
    if (options_.propertiesChangedPerLeaf) {
        for (const PathTable::Slot slot : changed_) {
            if (!leaf_[slot]) continue;  // served as a tree node
            const auto& [path, item] = items_.entry(slot);
            sd_bus_message* signal = nullptr;
            if (int r = sd_bus_message_new_signal(bus_, &signal, path.c_str(), kInterfaceName, "PropertiesChanged"); r < 0)
                throw sdbus::createError(-r, "Failed to create signal");
            appendProperties(signal, item);
            send(signal);
        }
    }
    // One ItemsChanged on "/" with every changed item: a{sa{sv}}.
    sd_bus_message* batch = nullptr;
    if (int r = sd_bus_message_new_signal(bus_, &batch, "/", kInterfaceName, "ItemsChanged"); r < 0)
        throw sdbus::createError(-r, "Failed to create signal");
    sd_bus_message_open_container(batch, 'a', "{sa{sv}}");
    for (const PathTable::Slot slot : changed_) {
        const auto& [path, item] = items_.entry(slot);
        sd_bus_message_open_container(batch, 'e', "sa{sv}");
        appendString(batch, path);
        appendProperties(batch, item);
        sd_bus_message_close_container(batch);
    }
    sd_bus_message_close_container(batch);
    send(batch);
}

BusItemService::Kind BusItemService::kindOf(std::string_view path) const {
    if (nodes_.contains(path)) return Kind::Node;
    auto it = items_.find(path);
    return it != items_.end() && it.slot() < leaf_.size() && leaf_[it.slot()] ? Kind::Leaf : Kind::None;
}

void BusItemService::addPath(const std::string& leaf, PathTable::Slot slot) {
    leaf_.resize(items_.slotCount(), false);
    // Tree nodes for every parent ("/Dc", "/Dc/0" for "/Dc/0/Voltage"), then the leaf; a path
    // already served keeps its kind.
    for (std::size_t slash = leaf.find('/', 1); slash != std::string::npos; slash = leaf.find('/', slash + 1)) {
        const std::string_view node{leaf.data(), slash};
        if (kindOf(node) == Kind::None) nodes_.emplace(node);
    }
    if (kindOf(leaf) == Kind::None) {
        leaf_[slot] = true;
        ++leafCount_;
    }
}

std::int32_t BusItemService::setValue(const std::string& path, std::optional<Value> value) {
    auto w = writable_.find(path);
    if (w == writable_.end()) return static_cast<std::int32_t>(WriteResult::NotWritable);
    if (!value) return static_cast<std::int32_t>(WriteResult::NotWritable);
    auto accepted = acceptWrite(w->second.spec, *value);
    if (!accepted) return static_cast<std::int32_t>(WriteResult::NotWritable);
    if (w->second.handler && !w->second.handler(path, *accepted))
        return static_cast<std::int32_t>(WriteResult::Refused);
    if (!w->second.echo) return static_cast<std::int32_t>(WriteResult::Accepted);
    // The handler may have published the value itself, with a text of its own.
    if (const Item* now = find(path); now && now->value == *accepted) return static_cast<std::int32_t>(WriteResult::Accepted);
    PathTable one;
    one.emplace(path, makeItem(std::move(*accepted), w->second.unit));
    update(one);
    return static_cast<std::int32_t>(WriteResult::Accepted);
}

}  // namespace jkbms::dbus
