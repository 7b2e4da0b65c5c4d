#pragma once
// A test-only com.victronenergy.settings: AddSettings as victron-dbus.md section 4.1
// describes it (existing settings keep their value; a ClassAndVrmInstance whose instance is
// taken by another device of the same class gets the next free one), per-setting objects with
// GetValue / SetValue, and PropertiesChanged on change - enough for the battery service's
// negotiation and change handling.

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <sdbus-c++/sdbus-c++.h>
#include <set>
#include <string>

#include "fakes/claim_name.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include "jkbms/dbus/names.hpp"

namespace jkbms::test {

class FakeSettings {
public:
    FakeSettings(boost::asio::io_context& io, const std::string& address)
        : connection_(sdbus::createSessionBusConnectionWithAddress(address)) {
        root_ = sdbus::createObject(*connection_, sdbus::ObjectPath{"/"});
        root_->addVTable(sdbus::registerMethod("AddSettings").implementedAs([this](const std::vector<Dict>& defs) {
                   return addSettings(defs);
               }))
            .forInterface(sdbus::InterfaceName{"com.victronenergy.Settings"});
        claimName(*connection_, "com.victronenergy.settings");
        loop_ = std::make_unique<dbus::AsioSdbusLoop>(io, *connection_);
        loop_->start();
    }

    // A value stored before the test starts (another device's reservation, an old name).
    void preset(const std::string& path, const std::string& value) { store(path, value, false); }
    // A change from elsewhere (the GUI): stored and signalled.
    void set(const std::string& path, const std::string& value) { store(path, value, true); }
    std::optional<std::string> value(const std::string& path) const {
        auto it = values_.find(path);
        if (it == values_.end()) return std::nullopt;
        return it->second;
    }
    int addSettingsCalls() const { return addSettingsCalls_; }
    // The next `count` SetValue calls on `path` are refused (a result other than 0, nothing stored).
    void refuseWrites(const std::string& path, int count) { refuse_[path] = count; }
    // Added with "silent" set (changes not logged); SetValue calls that stored a value.
    bool silent(const std::string& path) const { return silent_.contains(path); }
    int writes(const std::string& path) const {
        auto it = writes_.find(path);
        return it == writes_.end() ? 0 : it->second;
    }
    const std::map<std::string, std::string>& values() const { return values_; }

private:
    using Dict = std::map<std::string, sdbus::Variant>;

    static bool isInstancePath(const std::string& path) { return path.ends_with("/ClassAndVrmInstance"); }

    // "battery:N" moved to the next instance no other device of the class holds.
    std::string freeInstance(const std::string& path, const std::string& wanted) const {
        const auto colon = wanted.find(':');
        auto n = dbus::parseClassAndVrmInstance(wanted);
        if (!n) return wanted;
        const std::string cls = wanted.substr(0, colon);
        for (;; ++*n) {
            const std::string candidate = cls + ":" + std::to_string(*n);
            bool taken = false;
            for (const auto& [p, v] : values_)
                if (p != path && isInstancePath(p) && v == candidate) taken = true;
            if (!taken) return candidate;
        }
    }

    std::vector<Dict> addSettings(const std::vector<Dict>& defs) {
        ++addSettingsCalls_;
        std::vector<Dict> results;
        for (const Dict& d : defs) {
            const std::string path = d.at("path").get<std::string>();
            Dict r{{"path", sdbus::Variant{path}}};
            if (!path.starts_with("/Settings/")) {
                r.emplace("error", sdbus::Variant{std::int32_t{-9}});
            } else {
                if (auto silent = d.find("silent"); silent != d.end()) {
                    const bool on = silent->second.containsValueOfType<bool>() ? silent->second.get<bool>()
                                    : silent->second.containsValueOfType<std::int32_t>() && silent->second.get<std::int32_t>() != 0;
                    if (on) silent_.insert(path);
                }
                if (!values_.contains(path)) {
                    std::string def = d.at("default").get<std::string>();
                    store(path, isInstancePath(path) ? freeInstance(path, def) : def, false);
                }
                r.emplace("error", sdbus::Variant{std::int32_t{0}});
                r.emplace("value", sdbus::Variant{values_.at(path)});
            }
            results.push_back(std::move(r));
        }
        return results;
    }

    void store(const std::string& path, const std::string& value, bool signal) {
        const bool fresh = !values_.contains(path);
        values_[path] = isInstancePath(path) ? freeInstance(path, value) : value;
        if (fresh) {
            auto object = sdbus::createObject(*connection_, sdbus::ObjectPath{path});
            object
                ->addVTable(sdbus::registerMethod("GetValue").implementedAs([this, path] {
                                return sdbus::Variant{values_.at(path)};
                            }),
                            sdbus::registerMethod("SetValue").implementedAs([this, path](const sdbus::Variant& v) {
                                if (!v.containsValueOfType<std::string>()) return std::int32_t{-1};
                                if (auto r = refuse_.find(path); r != refuse_.end() && r->second > 0) {
                                    --r->second;
                                    return std::int32_t{-2};
                                }
                                ++writes_[path];
                                store(path, v.get<std::string>(), true);
                                return std::int32_t{0};
                            }),
                            sdbus::registerSignal("PropertiesChanged").withParameters<Dict>())
                .forInterface(sdbus::InterfaceName{"com.victronenergy.BusItem"});
            objects_.emplace(path, std::move(object));
        }
        if (signal) {
            objects_.at(path)
                ->emitSignal("PropertiesChanged")
                .onInterface(sdbus::InterfaceName{"com.victronenergy.BusItem"})
                .withArguments(Dict{{"Value", sdbus::Variant{values_.at(path)}},
                                    {"Text", sdbus::Variant{values_.at(path)}}});
        }
    }

    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IObject> root_;
    std::map<std::string, std::unique_ptr<sdbus::IObject>> objects_;
    std::map<std::string, std::string> values_;
    std::set<std::string> silent_;
    std::map<std::string, int> writes_;
    std::map<std::string, int> refuse_;
    std::unique_ptr<dbus::AsioSdbusLoop> loop_;
    int addSettingsCalls_ = 0;
};

}  // namespace jkbms::test
