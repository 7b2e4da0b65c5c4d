#include "jkbms/dbus/bus_item_service.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <cstring>
#include <optional>

#include "jkbms/util/utf8.hpp"

namespace jkbms::dbus {
namespace {

using Dict = std::map<std::string, sdbus::Variant>;
const sdbus::InterfaceName kInterface{std::string{kBusItemInterface}};
const std::string kValueKey = "Value";
const std::string kTextKey = "Text";

// Signals are written straight into the sd-bus message. (An sdbus::Variant is a message of
// its own; building four of them per changed item made an update several times slower.)
void appendVariant(sdbus::Message& m, const Value& value) {
    if (const auto* i = std::get_if<std::int32_t>(&value)) {
        m.openVariant("i") << *i;
    } else if (const auto* d = std::get_if<double>(&value)) {
        m.openVariant("d") << *d;
    } else if (const auto* s = std::get_if<std::string>(&value)) {
        m.openVariant("s") << *s;
    } else {
        m.openVariant("ai").openContainer("i").closeContainer();  // Victron's invalid
    }
    m.closeVariant();
}

// a{sv} {"Value": v, "Text": s}
void appendProperties(sdbus::Message& m, const Item& item) {
    m.openContainer("{sv}");
    m.openDictEntry("sv") << kValueKey;
    appendVariant(m, item.value);
    m.closeDictEntry();
    m.openDictEntry("sv") << kTextKey;
    m.openVariant("s") << item.text;
    m.closeVariant().closeDictEntry();
    m.closeContainer();
}

// Leaves under `node`: the range of keys that start with node + "/".
auto subtree(const PathTable& items, const std::string& node) {
    const std::string prefix = node == "/" ? "/" : node + "/";
    auto first = items.lowerBound(prefix);
    auto last = items.end();
    if (node != "/") {
        std::string end = node + "0";  // '0' follows '/' in ASCII
        last = items.lowerBound(end);
    }
    return std::pair{first, last};
}

}  // namespace

BusItemService::BusItemService(sdbus::IConnection& connection, Options options)
    : connection_(connection), options_(options) {
    addNode("/");
}

BusItemService::~BusItemService() = default;

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
    for (PathTable::Slot b = 0; b < batch.slotCount(); ++b) {
        if (batch.version(b) == seenVersions_[b]) continue;  // untouched since the last update
        seenVersions_[b] = batch.version(b);
        const auto& [path, raw] = batch.entry(b);
        bool added = false;
        if (slotMap_[b] == kUnmapped) {
            const std::size_t before = items_.slotCount();
            slotMap_[b] = items_.intern(path);
            if (items_.slotCount() != before) {
                added = true;
                ensureObjects(path);
                leaves_.resize(items_.slotCount(), nullptr);
                auto object = objects_.find(path);
                leaves_[slotMap_[b]] = object == objects_.end() ? nullptr : object->second.get();
            }
        }
        const PathTable::Slot mine = slotMap_[b];
        Item& stored = items_.item(mine);
        // sd-bus refuses a string that is not UTF-8 (a port path, a BMS's text): made valid here.
        const auto* text = std::get_if<std::string>(&raw.value);
        if ((text && !util::isValidUtf8(*text)) || !util::isValidUtf8(raw.text)) {
            Item valid = raw;
            if (text) valid.value = util::toValidUtf8(*text);
            valid.text = util::toValidUtf8(raw.text);
            if (!added && stored == valid) continue;
            stored = std::move(valid);
        } else {
            if (!added && stored == raw) continue;
            stored.value = raw.value;  // assignments reuse the stored strings' buffers
            stored.text = raw.text;
        }
        items_.touch(mine);
        changed_.push_back(mine);
    }
    if (!changed_.empty()) announce();
    return changed_.size();
}

void BusItemService::announce() {
    static const sdbus::SignalName kPropertiesChanged{"PropertiesChanged"};
    static const sdbus::SignalName kItemsChanged{"ItemsChanged"};
    if (options_.propertiesChangedPerLeaf) {
        for (const PathTable::Slot slot : changed_) {
            sdbus::IObject* leaf = leaves_[slot];
            if (leaf == nullptr) continue;
            auto signal = leaf->createSignal(kInterface, kPropertiesChanged);
            appendProperties(signal, items_.entry(slot).second);
            leaf->emitSignal(signal);
        }
    }
    // One ItemsChanged on "/" with every changed item: a{sa{sv}}.
    auto batch = root_->createSignal(kInterface, kItemsChanged);
    batch.openContainer("{sa{sv}}");
    for (const PathTable::Slot slot : changed_) {
        const auto& [path, item] = items_.entry(slot);
        batch.openDictEntry("sa{sv}") << path;
        appendProperties(batch, item);
        batch.closeDictEntry();
    }
    batch.closeContainer();
    root_->emitSignal(batch);
}

void BusItemService::ensureObjects(const std::string& leaf) {
    // Tree nodes for every parent ("/Dc", "/Dc/0" for "/Dc/0/Voltage"), then the leaf.
    for (std::size_t slash = leaf.find('/', 1); slash != std::string::npos; slash = leaf.find('/', slash + 1)) {
        const std::string node = leaf.substr(0, slash);
        if (!objects_.contains(node)) addNode(node);
    }
    if (!objects_.contains(leaf)) addLeaf(leaf);
}

sdbus::IObject* BusItemService::addLeaf(const std::string& path) {
    auto object = sdbus::createObject(connection_, sdbus::ObjectPath{path});
    object
        ->addVTable(
            sdbus::registerMethod("GetValue").withOutputParamNames("value").implementedAs([this, path] {
                const Item* item = find(path);
                return toVariant(item ? item->value : Value{Invalid{}});
            }),
            sdbus::registerMethod("GetText").withOutputParamNames("text").implementedAs([this, path] {
                const Item* item = find(path);
                return item ? item->text : std::string{"---"};
            }),
            sdbus::registerMethod("SetValue")
                .withInputParamNames("value")
                .withOutputParamNames("result")
                .implementedAs([this, path](const sdbus::Variant& value) { return setValue(path, value); }),
            sdbus::registerMethod("GetDescription")
                .withInputParamNames("language", "length")
                .withOutputParamNames("description")
                .implementedAs([](const std::string&, std::int32_t) { return std::string{}; }),
            sdbus::registerSignal("PropertiesChanged").withParameters<Dict>("changes"))
        .forInterface(kInterface);
    return objects_.emplace(path, std::move(object)).first->second.get();
}

void BusItemService::addNode(const std::string& node) {
    auto object = sdbus::createObject(connection_, sdbus::ObjectPath{node});
    const std::size_t strip = node == "/" ? 1 : node.size() + 1;  // relative keys, no leading '/'
    auto getValue = [this, node, strip] {
        Dict out;
        auto [first, last] = subtree(items_, node);
        for (auto it = first; it != last; ++it) out.emplace(it->first.substr(strip), toVariant(it->second.value));
        return sdbus::Variant{out};
    };
    auto getText = [this, node, strip] {
        std::map<std::string, std::string> out;
        auto [first, last] = subtree(items_, node);
        for (auto it = first; it != last; ++it) out.emplace(it->first.substr(strip), it->second.text);
        return sdbus::Variant{out};  // a variant holding a{ss}, as velib answers
    };
    if (node == "/") {
        auto getItems = [this] {
            std::map<std::string, Dict> out;
            for (const auto& [path, item] : items_)
                out.emplace(path, Dict{{"Value", toVariant(item.value)}, {"Text", sdbus::Variant{item.text}}});
            return out;
        };
        object
            ->addVTable(sdbus::registerMethod("GetValue").withOutputParamNames("value").implementedAs(std::move(getValue)),
                        sdbus::registerMethod("GetText").withOutputParamNames("text").implementedAs(std::move(getText)),
                        sdbus::registerMethod("GetItems").withOutputParamNames("items").implementedAs(std::move(getItems)),
                        sdbus::registerSignal("ItemsChanged").withParameters<std::map<std::string, Dict>>("changes"))
            .forInterface(kInterface);
        root_ = object.get();
    } else {
        object
            ->addVTable(sdbus::registerMethod("GetValue").withOutputParamNames("value").implementedAs(std::move(getValue)),
                        sdbus::registerMethod("GetText").withOutputParamNames("text").implementedAs(std::move(getText)))
            .forInterface(kInterface);
    }
    objects_.emplace(node, std::move(object));
}

std::int32_t BusItemService::setValue(const std::string& path, const sdbus::Variant& variant) {
    auto w = writable_.find(path);
    if (w == writable_.end()) return static_cast<std::int32_t>(WriteResult::NotWritable);
    auto value = fromVariant(variant);
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
