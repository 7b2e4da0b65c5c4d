#include "jkbms/dbus/settings_group.hpp"

#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>

#include "jkbms/dbus/bus_item_service.hpp"
#include "jkbms/dbus/settings_client.hpp"
#include "jkbms/util/callback_guard.hpp"

namespace jkbms::dbus {
namespace {

using Dict = std::map<std::string, sdbus::Variant>;
const sdbus::InterfaceName kSettingsInterface{"com.victronenergy.Settings"};
const sdbus::InterfaceName kItemInterface{std::string{kBusItemInterface}};
constexpr auto kCallTimeout = std::chrono::seconds(5);

sdbus::Variant toVariant(const SettingValue& v) {
    return std::visit([](const auto& x) { return sdbus::Variant{x}; }, v);
}

// A number in a variant of any of the types a client may have stored.
std::optional<double> numberOf(const sdbus::Variant& v) {
    if (v.containsValueOfType<double>()) return v.get<double>();
    if (v.containsValueOfType<std::int32_t>()) return static_cast<double>(v.get<std::int32_t>());
    if (v.containsValueOfType<std::int64_t>()) return static_cast<double>(v.get<std::int64_t>());
    if (v.containsValueOfType<std::uint32_t>()) return static_cast<double>(v.get<std::uint32_t>());
    if (v.containsValueOfType<std::int16_t>()) return static_cast<double>(v.get<std::int16_t>());
    if (v.containsValueOfType<std::uint16_t>()) return static_cast<double>(v.get<std::uint16_t>());
    if (v.containsValueOfType<std::uint8_t>()) return static_cast<double>(v.get<std::uint8_t>());
    return std::nullopt;
}

}  // namespace

std::string settingText(const SettingValue& value) {
    if (const auto* s = std::get_if<std::string>(&value)) return "'" + *s + "'";
    if (const auto* i = std::get_if<std::int32_t>(&value)) return std::to_string(*i);
    return fmt::format("{:g}", std::get<double>(value));
}

SettingsGroup::SettingsGroup(sdbus::IConnection& connection, std::string basePath, std::string who)
    : connection_(connection), basePath_(std::move(basePath)), who_(std::move(who)) {}

SettingsGroup::~SettingsGroup() = default;

const SettingDef* SettingsGroup::def(std::string_view name) const {
    for (const auto& d : defs_)
        if (d.name == name) return &d;
    return nullptr;
}

std::optional<SettingValue> SettingsGroup::check(const SettingDef& d, const sdbus::Variant& value,
                                                 std::string& why) const {
    if (std::holds_alternative<std::string>(d.defaultValue)) {
        if (!value.containsValueOfType<std::string>()) {
            why = "not a string";
            return std::nullopt;
        }
        return SettingValue{value.get<std::string>()};
    }
    const auto n = numberOf(value);
    if (!n) {
        why = "not a number";
        return std::nullopt;
    }
    if (!std::isfinite(*n)) {
        why = "not a finite number";
        return std::nullopt;
    }
    const bool ranged = d.min != 0 || d.max != 0;
    if (ranged && (*n < d.min || *n > d.max)) {
        why = fmt::format("{:g} is outside {:g}..{:g}", *n, d.min, d.max);
        return std::nullopt;
    }
    if (std::holds_alternative<std::int32_t>(d.defaultValue)) {
        if (*n != std::floor(*n) || *n < std::numeric_limits<std::int32_t>::min() ||
            *n > std::numeric_limits<std::int32_t>::max()) {
            why = fmt::format("{:g} is not a whole number", *n);
            return std::nullopt;
        }
        return SettingValue{static_cast<std::int32_t>(*n)};
    }
    return SettingValue{*n};
}

void SettingsGroup::retryOn(boost::asio::io_context& io, std::chrono::milliseconds interval) {
    io_ = &io;
    retryInterval_ = interval;
}

void SettingsGroup::create(std::vector<SettingDef> defs, std::function<void(const Values&)> done) {
    defs_ = std::move(defs);
    if (retry_) retry_->cancel();  // a new create() replaces a retry still due
    std::vector<Dict> request;
    request.reserve(defs_.size());
    for (const auto& d : defs_) {
        Dict entry{{"path", sdbus::Variant{pathOf(d.name)}}, {"default", toVariant(d.defaultValue)}};
        if (!std::holds_alternative<std::string>(d.defaultValue) && (d.min != 0 || d.max != 0)) {
            // The bounds in the setting's own type: localsettings converts them to it anyway.
            if (std::holds_alternative<std::int32_t>(d.defaultValue)) {
                entry.emplace("min", sdbus::Variant{static_cast<std::int32_t>(d.min)});
                entry.emplace("max", sdbus::Variant{static_cast<std::int32_t>(d.max)});
            } else {
                entry.emplace("min", sdbus::Variant{d.min});
                entry.emplace("max", sdbus::Variant{d.max});
            }
        }
        if (d.silent) entry.emplace("silent", sdbus::Variant{true});
        request.push_back(std::move(entry));
    }
    auto root = sdbus::createProxy(connection_, sdbus::ServiceName{std::string{kSettingsService}},
                                   sdbus::ObjectPath{"/"});
    root->callMethodAsync("AddSettings")
        .onInterface(kSettingsInterface)
        .withTimeout(kCallTimeout)
        .withArguments(request)
        .uponReplyInvoke([this, alive = std::weak_ptr<int>{alive_}, done = std::move(done)](
                             std::optional<sdbus::Error> error, std::vector<Dict> results) {
            if (!alive.lock()) return;
            util::guarded("localsettings", [&] {
                if (error) {
                    if (!io_) {
                        spdlog::warn("{}: the settings under {} cannot be created ({}): config.yaml's values stay",
                                     who_, basePath_, error->getMessage());
                        return;
                    }
                    spdlog::warn("{}: the settings under {} cannot be created ({}): config.yaml's values meanwhile, "
                                 "again in {} ms",
                                 who_, basePath_, error->getMessage(), retryInterval_.count());
                    if (!retry_) retry_ = std::make_unique<boost::asio::steady_timer>(*io_);
                    retry_->expires_after(retryInterval_);
                    retry_->async_wait([this, alive, done](const boost::system::error_code& ec) {
                        if (ec || !alive.lock()) return;
                        util::guarded("localsettings", [&] { create(defs_, done); });
                    });
                    return;
                }
                Values values;
                for (const Dict& r : results) {
                    const auto path = r.find("path");
                    if (path == r.end() || !path->second.containsValueOfType<std::string>()) continue;
                    const std::string p = path->second.get<std::string>();
                    if (!p.starts_with(basePath_ + "/")) continue;
                    const SettingDef* d = def(std::string_view{p}.substr(basePath_.size() + 1));
                    if (!d) continue;
                    const auto code = r.find("error");
                    const std::int32_t err = code != r.end() && code->second.containsValueOfType<std::int32_t>()
                                                 ? code->second.get<std::int32_t>()
                                                 : 0;
                    const auto value = r.find("value");
                    if (err != 0 || value == r.end()) {
                        spdlog::warn("{}: localsettings refused the setting {} (error {}): config.yaml's value stays",
                                     who_, p, err);
                        continue;
                    }
                    std::string why;
                    if (auto v = check(*d, value->second, why)) {
                        values.emplace(d->name, std::move(*v));
                        subscribe(*d);
                    } else {
                        spdlog::warn("{}: setting {} not used: {}", who_, p, why);
                        subscribe(*d);  // a valid value written later is used
                    }
                }
                if (done) done(values);
            });
        });
    root_ = std::move(root);
}

void SettingsGroup::store(const std::string& name, const SettingValue& value) {
    const SettingDef* d = def(name);
    if (!d) return;
    subscribe(*d);  // the setting's proxy, kept with the others (replies never outlive it)
    proxies_.at(d->name)
        ->callMethodAsync("SetValue")
        .onInterface(kItemInterface)
        .withTimeout(kCallTimeout)
        .withArguments(toVariant(value))
        .uponReplyInvoke([this, alive = std::weak_ptr<int>{alive_}, name](std::optional<sdbus::Error> error,
                                                                         std::int32_t result) {
            if (!alive.lock()) return;
            util::guarded("localsettings", [&] {
                if (error || result != 0)
                    spdlog::warn("{}: setting {} could not be written ({})", who_, pathOf(name),
                                 error ? error->getMessage() : "result " + std::to_string(result));
            });
        });
}

void SettingsGroup::subscribe(const SettingDef& d) {
    if (proxies_.contains(d.name)) return;
    auto proxy = sdbus::createProxy(connection_, sdbus::ServiceName{std::string{kSettingsService}},
                                    sdbus::ObjectPath{pathOf(d.name)});
    proxy->uponSignal("PropertiesChanged").onInterface(kItemInterface).call([this, name = d.name](const Dict& changes) {
        util::guarded("localsettings", [&] {
            const auto value = changes.find("Value");
            const SettingDef* known = def(name);
            if (value == changes.end() || !known) return;
            std::string why;
            auto v = check(*known, value->second, why);
            if (!v) {
                spdlog::warn("{}: setting {} refused: {}", who_, pathOf(name), why);
                return;
            }
            if (onChange_) onChange_(name, *v);
        });
    });
    proxies_.emplace(d.name, std::move(proxy));
}

}  // namespace jkbms::dbus
