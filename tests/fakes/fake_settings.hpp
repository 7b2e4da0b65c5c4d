#pragma once
// A test-only com.victronenergy.settings that behaves, for what dbus-jkbms uses, as Victron's
// localsettings does (victronenergy/localsettings, localsettings.py at v1.76, read for this;
// victron-dbus.md section 4):
//
//   AddSettings  a list of {path, default, min, max, silent}; the setting's type comes from the
//                default's D-Bus type: int32 / int64 "i", double "f", string "s" (anything else:
//                error -3). A path outside /Settings/ is error -9. For numbers min and max are
//                converted to the type; both 0 means no range; a default outside the range is
//                error -7 and nothing is created. An existing setting of another type is error
//                -5; of the same type it keeps its value - even one the new range would refuse -
//                and takes the new default, min and max. Each result has path, error and, when
//                the setting exists, its value (typed). A ClassAndVrmInstance whose instance is
//                taken by another device of the same class gets the next free one.
//   SetValue     the value converted to the setting's type as Python's int() / float() / str()
//                would ("5" and 5.9 are 5 for "i", "nan" is NaN for "f" - which passes the
//                range check, as in localsettings); a value that does not convert, or is below
//                min or above max, returns -1 and nothing is stored; otherwise 0, and
//                PropertiesChanged {Value (typed), Text} when the value changed.
//   GetValue     the typed value.
//
// Test conveniences: preset() stores a value before the test as text with no type yet (a
// stored file's entry); the first AddSettings of its path gives it the type (a text that does
// not convert is replaced by the default). set() is a change from elsewhere, stored as is and
// signalled. refuseWrites() makes SetValue fail (-2) a number of times.

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <sdbus-c++/sdbus-c++.h>
#include <set>
#include <string>
#include <variant>

#include "fakes/claim_name.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include "jkbms/dbus/names.hpp"

namespace jkbms::test {

class FakeSettings {
public:
    // localsettings' result codes (AddSettingError, DBUS_ERR).
    static constexpr std::int32_t kRefused = -1;
    static constexpr std::int32_t kUnknownType = -3;
    static constexpr std::int32_t kTypeDiffers = -5;
    static constexpr std::int32_t kDefaultOutOfRange = -7;
    static constexpr std::int32_t kNotInSettings = -9;

    FakeSettings(boost::asio::io_context& io, const std::string& address)
        : connection_(sdbus::createSessionBusConnectionWithAddress(address)) {
        root_ = sdbus::createObject(*connection_, sdbus::ObjectPath{"/"});
        root_->addVTable(sdbus::registerMethod("AddSettings").implementedAs([this](const std::vector<Dict>& defs) {
                   const bool matches = failOnly_.empty() || std::any_of(defs.begin(), defs.end(), [&](const Dict& d) {
                       const auto path = d.find("path");
                       return path != d.end() && path->second.containsValueOfType<std::string>() &&
                              path->second.get<std::string>().find(failOnly_) != std::string::npos;
                   });
                   if (failAddSettings_ > 0 && matches) {
                       --failAddSettings_;
                       ++failedAddSettings_;
                       throw sdbus::Error(sdbus::Error::Name{"org.freedesktop.DBus.Error.Failed"}, "not ready");
                   }
                   return addSettings(defs);
               }))
            .forInterface(sdbus::InterfaceName{"com.victronenergy.Settings"});
        claimName(*connection_, "com.victronenergy.settings");
        loop_ = std::make_unique<dbus::AsioSdbusLoop>(io, *connection_);
        loop_->start();
    }

    // The next n AddSettings calls fail with a D-Bus error (localsettings not ready).
    // With `only`: just the calls with a path containing it.
    void failAddSettings(int n, std::string only = {}) {
        failAddSettings_ = n;
        failOnly_ = std::move(only);
    }
    int failedAddSettings() const { return failedAddSettings_; }

    // A value stored before the test starts (another device's reservation, an old name, what a
    // previous run stored): text, typed by the first AddSettings of the path.
    void preset(const std::string& path, const std::string& value) { store(path, value, false); }
    // A change from elsewhere (the GUI): stored and signalled, without a range check.
    void set(const std::string& path, const std::string& value) { store(path, value, true); }
    // SetValue as a D-Bus client's call runs it: 0 stored (or unchanged), else refused.
    std::int32_t write(const std::string& path, const sdbus::Variant& v) { return setValue(path, v); }
    // The value as text (GetText).
    std::optional<std::string> value(const std::string& path) const {
        auto it = values_.find(path);
        if (it == values_.end()) return std::nullopt;
        return it->second;
    }
    // 'i', 'f', 's'; 0 when unknown or not typed yet.
    char type(const std::string& path) const {
        auto it = settings_.find(path);
        return it == settings_.end() ? char{0} : it->second.type;
    }
    std::optional<double> min(const std::string& path) const {
        auto it = settings_.find(path);
        return it == settings_.end() ? std::nullopt : it->second.min;
    }
    std::optional<double> max(const std::string& path) const {
        auto it = settings_.find(path);
        return it == settings_.end() ? std::nullopt : it->second.max;
    }
    // The default as text.
    std::optional<std::string> defaultOf(const std::string& path) const {
        auto it = settings_.find(path);
        return it == settings_.end() ? std::nullopt : it->second.def;
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
    int failAddSettings_ = 0;
    std::string failOnly_;
    int failedAddSettings_ = 0;
    using Dict = std::map<std::string, sdbus::Variant>;
    struct Attributes {
        char type = 0;  // 'i', 'f', 's'; 0: preset, not typed yet
        std::optional<std::string> def;
        std::optional<double> min, max;
    };

    static bool isInstancePath(const std::string& path) { return path.ends_with("/ClassAndVrmInstance"); }

    static std::string textOf(double d) {
        char buf[64];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
        return ec == std::errc{} ? std::string(buf, end) : std::string{"nan"};
    }

    // Python's int(x) / float(x) / str(x) of a D-Bus value; nullopt where Python raises.
    static std::optional<std::string> convert(char type, const sdbus::Variant& v) {
        std::optional<double> n;
        std::optional<std::string> s;
        if (v.containsValueOfType<std::string>()) s = v.get<std::string>();
        else if (v.containsValueOfType<double>()) n = v.get<double>();
        else if (v.containsValueOfType<std::int32_t>()) n = v.get<std::int32_t>();
        else if (v.containsValueOfType<std::int64_t>()) n = static_cast<double>(v.get<std::int64_t>());
        else if (v.containsValueOfType<std::uint32_t>()) n = v.get<std::uint32_t>();
        else if (v.containsValueOfType<bool>()) n = v.get<bool>() ? 1 : 0;
        else return std::nullopt;
        if (type == 's') return s ? *s : textOf(*n);
        if (s) return convertText(type, *s);
        if (type == 'i') {
            if (!std::isfinite(*n)) return std::nullopt;
            return std::to_string(static_cast<long long>(std::trunc(*n)));
        }
        return textOf(*n);
    }
    static std::optional<std::string> convertText(char type, const std::string& text) {
        if (type == 's') return text;
        if (type == 'i') {
            long long i = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
            if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
            return std::to_string(i);
        }
        if (text == "nan" || text == "NaN") return std::string{"nan"};
        double d = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
        return textOf(d);
    }
    static double numberOf(const std::string& text) {
        if (text == "nan") return std::nan("");
        double d = 0;
        std::from_chars(text.data(), text.data() + text.size(), d);
        return d;
    }
    static std::optional<char> typeOfDefault(const sdbus::Variant& v) {
        if (v.containsValueOfType<std::int32_t>() || v.containsValueOfType<std::int64_t>()) return 'i';
        if (v.containsValueOfType<double>()) return 'f';
        if (v.containsValueOfType<std::string>()) return 's';
        return std::nullopt;
    }

    sdbus::Variant typed(const std::string& path) const {
        const std::string& text = values_.at(path);
        switch (type(path)) {
            case 'i': return sdbus::Variant{static_cast<std::int32_t>(numberOf(text))};
            case 'f': return sdbus::Variant{numberOf(text)};
            default: return sdbus::Variant{text};
        }
    }

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
            results.push_back(addSetting(d));
        }
        return results;
    }

    Dict addSetting(const Dict& d) {
        const std::string path = d.at("path").get<std::string>();
        Dict r{{"path", sdbus::Variant{path}}};
        auto fail = [&](std::int32_t code) {
            r.emplace("error", sdbus::Variant{code});
            return r;
        };
        const auto def = d.find("default");
        const auto type = def == d.end() ? std::nullopt : typeOfDefault(def->second);
        if (!type) return fail(kUnknownType);
        const std::string defText = *convert(*type, def->second);
        Attributes a{*type, defText, std::nullopt, std::nullopt};
        if (*type != 's') {
            auto bound = [&](const char* key) -> std::optional<double> {
                auto it = d.find(key);
                if (it == d.end()) return std::nullopt;
                auto text = convert(*type, it->second);
                return text ? std::optional{numberOf(*text)} : std::nullopt;
            };
            a.min = bound("min");
            a.max = bound("max");
            if (a.min == 0.0 && a.max == 0.0) a.min = a.max = std::nullopt;
            const double v = numberOf(defText);
            if ((a.min && v < *a.min) || (a.max && v > *a.max)) return fail(kDefaultOutOfRange);
        }
        if (!path.starts_with("/Settings/")) return fail(kNotInSettings);
        if (auto silent = d.find("silent"); silent != d.end()) {
            const bool on = silent->second.containsValueOfType<bool>() ? silent->second.get<bool>()
                            : silent->second.containsValueOfType<std::int32_t>() && silent->second.get<std::int32_t>() != 0;
            if (on) silent_.insert(path);
        }
        auto known = settings_.find(path);
        if (known != settings_.end() && known->second.type != 0 && known->second.type != *type) return fail(kTypeDiffers);
        if (!values_.contains(path)) {
            store(path, isInstancePath(path) ? freeInstance(path, defText) : defText, false);
        } else if (known == settings_.end() || known->second.type == 0) {
            // A preset (stored) value: typed now; one that does not convert is the default.
            values_[path] = convertText(*type, values_[path]).value_or(defText);
        }
        settings_[path] = a;  // the value is kept; default, min and max are the new ones
        r.emplace("error", sdbus::Variant{std::int32_t{0}});
        r.emplace("value", typed(path));
        return r;
    }

    std::int32_t setValue(const std::string& path, const sdbus::Variant& v) {
        const char t = type(path) ? type(path) : 's';
        auto text = convert(t, v);
        if (!text) return kRefused;
        if (t != 's') {
            const double n = numberOf(*text);
            const auto& a = settings_[path];
            if ((a.min && n < *a.min) || (a.max && n > *a.max)) return kRefused;
        }
        if (auto r = refuse_.find(path); r != refuse_.end() && r->second > 0) {
            --r->second;
            return std::int32_t{-2};
        }
        ++writes_[path];
        if (values_.at(path) != *text) store(path, *text, true);
        return std::int32_t{0};
    }

    void store(const std::string& path, const std::string& value, bool signal) {
        const bool fresh = !values_.contains(path);
        values_[path] = isInstancePath(path) ? freeInstance(path, value) : value;
        if (fresh) {
            auto object = sdbus::createObject(*connection_, sdbus::ObjectPath{path});
            object
                ->addVTable(sdbus::registerMethod("GetValue").implementedAs([this, path] { return typed(path); }),
                            sdbus::registerMethod("SetValue").implementedAs([this, path](const sdbus::Variant& v) {
                                return setValue(path, v);
                            }),
                            sdbus::registerSignal("PropertiesChanged").withParameters<Dict>())
                .forInterface(sdbus::InterfaceName{"com.victronenergy.BusItem"});
            objects_.emplace(path, std::move(object));
        }
        if (signal) {
            objects_.at(path)
                ->emitSignal("PropertiesChanged")
                .onInterface(sdbus::InterfaceName{"com.victronenergy.BusItem"})
                .withArguments(Dict{{"Value", typed(path)}, {"Text", sdbus::Variant{values_.at(path)}}});
        }
    }

    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IObject> root_;
    std::map<std::string, std::unique_ptr<sdbus::IObject>> objects_;
    std::map<std::string, std::string> values_;  // as text (GetText)
    std::map<std::string, Attributes> settings_;
    std::set<std::string> silent_;
    std::map<std::string, int> writes_;
    std::map<std::string, int> refuse_;
    std::unique_ptr<dbus::AsioSdbusLoop> loop_;
    int addSettingsCalls_ = 0;
};

}  // namespace jkbms::test
