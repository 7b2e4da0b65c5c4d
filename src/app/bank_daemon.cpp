#include "jkbms/app/bank_daemon.hpp"

#include <boost/asio/post.hpp>
#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>

#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/dbus/bus_item_service.hpp"
#include "jkbms/dbus/names.hpp"
#include "jkbms/util/callback_guard.hpp"

namespace jkbms::app {
namespace {

constexpr std::string_view kBatteryPrefix = "com.victronenergy.battery.";
const sdbus::InterfaceName kItemInterface{std::string{dbus::kBusItemInterface}};
const sdbus::InterfaceName kBusDaemonInterface{"org.freedesktop.DBus"};
using ItemsDict = std::map<std::string, std::map<std::string, sdbus::Variant>>;

// Victron's invalid (an empty int32 array), booleans and anything else that is no number or
// string are all invalid here: bankMember() reads numbers and strings only.
dbus::Value valueOf(const sdbus::Variant& variant) {
    if (auto v = dbus::BusItemService::fromVariant(variant)) return std::move(*v);
    return dbus::Invalid{};
}

// "ttyUSB0" from "com.victronenergy.battery.ttyUSB0"; "" for any other name.
std::string suffixOf(std::string_view busName) {
    if (!busName.starts_with(kBatteryPrefix)) return {};
    std::string_view rest = busName.substr(kBatteryPrefix.size());
    if (rest.empty() || rest.find('.') != std::string_view::npos) return {};
    return std::string{rest};
}

// "com.victronenergy.battery.ttyUSB0" or the suffix alone -> the bus name; "" for nothing.
std::string memberBusName(const std::string& m) {
    std::string suffix = suffixOf(m);
    if (suffix.empty()) suffix = dbus::busNameElement(m);
    return suffix.empty() ? std::string{} : std::string{kBatteryPrefix} + suffix;
}

// "ttyUSB0, ttyUSB1" (commas, spaces around) -> the names, empty ones left out.
std::vector<std::string> splitMembers(const std::string& text) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at <= text.size()) {
        const std::size_t comma = std::min(text.find(',', at), text.size());
        std::string part = text.substr(at, comma - at);
        const auto first = part.find_first_not_of(" \t");
        const auto last = part.find_last_not_of(" \t");
        if (first != std::string::npos) out.push_back(part.substr(first, last - first + 1));
        at = comma + 1;
    }
    return out;
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

std::string secondsText(std::chrono::milliseconds d) {
    return fmt::format("{:.1f} s", static_cast<double>(d.count()) / 1000.0);
}

std::string limitKey(const domain::BankLimit& limit) {
    // Logged when a limit becomes invalid, stops the bank (0, with who stops it) or allows
    // current again - not when the deciding pack or its share moves (that flips with noise;
    // /Info/ChargeLimitation shows it).
    if (!limit.value) return "invalid: " + limit.reason;
    if (*limit.value <= 0) return "0: " + limit.reason.substr(0, limit.reason.find(' '));
    return "allows";
}

}  // namespace

BankDaemon::Entry::Entry(const domain::CommsTimes& times) : liveness(times) {}
BankDaemon::Entry::~Entry() = default;

BankDaemon::BankDaemon(boost::asio::io_context& io, config::Config config, std::string version)
    : io_(io),
      config_(std::move(config)),
      version_(std::move(version)),
      ownName_(std::string{kBatteryPrefix} + dbus::busNameElement(config_.bank.name)),
      auto_(config_.bank.members.empty()),
      ticker_(io),
      signals_(io, SIGINT, SIGTERM),
      stopTimer_(io) {}

BankDaemon::~BankDaemon() {
    settings_.reset();  // on service_'s connection
    service_.reset();
    entries_.clear();  // their proxies before the connection
    if (loop_) loop_->stop();
}

std::vector<std::string> BankDaemon::members() const { return memberSuffixes(); }

std::vector<std::string> BankDaemon::memberSuffixes() const {
    std::vector<std::string> out;
    for (const auto& [name, e] : entries_)
        if (e.member) out.push_back(e.suffix);
    return out;
}

std::optional<domain::CommsState> BankDaemon::memberComms(const std::string& suffix) const {
    auto it = entries_.find(std::string{kBatteryPrefix} + suffix);
    if (it == entries_.end() || !it->second.member) return std::nullopt;
    return memberOf(it->second, Clock::now()).comms;
}

domain::BankMember BankDaemon::memberOf(const Entry& e, Clock::time_point now) const {
    domain::BankMember m = dbus::bankMember(e.suffix, [&e](std::string_view path) -> const dbus::Value* {
        auto v = e.values.find(path);
        return v == e.values.end() ? nullptr : &v->second;
    });
    // The member's own word, unless its daemon has gone quiet or left: then it is at most as
    // good as its liveness.
    const domain::CommsState live = effective(e, now);
    if (live == domain::CommsState::Lost) m.comms = domain::CommsState::Lost;
    else if (live == domain::CommsState::Stale && m.comms == domain::CommsState::Ok) m.comms = domain::CommsState::Stale;
    // Its BMS already silent and now its daemon too: the two stale windows must not add up
    // past invalidate_after (its held limits would steer for twice as long).
    else if (live == domain::CommsState::Stale && m.comms == domain::CommsState::Stale) m.comms = domain::CommsState::Lost;
    return m;
}

void BankDaemon::start() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
        if (!ec) stop(ExitCode::Stopped, signal == SIGTERM ? "SIGTERM" : "SIGINT");
    });
    std::optional<std::string> address;
    if (!config_.dbus.address.empty()) address = config_.dbus.address;
    try {
        connection_ = dbus::connectBus(address);
        loop_ = std::make_unique<dbus::AsioSdbusLoop>(io_, *connection_, [this](const std::string& error) {
            stop(ExitCode::DbusFailed, "D-Bus connection failed: " + error);
        });
        discoveryDeadline_ = Clock::now() + kDiscoveryWait;  // ListNames may be answered in loop_->start()
        for (const std::string& m : config_.bank.members) {
            // "com.victronenergy.battery.ttyUSB0" or the suffix alone.
            const std::string busName = memberBusName(m);
            if (busName.empty() || busName == ownName_) continue;  // config.cpp refuses it; never follow ourselves
            entry(busName).member = true;
        }
        follow();
    } catch (const std::exception& e) {  // sdbus::Error: no bus at that address
        throw StartError(ExitCode::DbusFailed, std::string{"cannot connect to D-Bus: "} + e.what());
    }
    if (auto_) spdlog::info("bank {}: following every dbus-jkbms bank member on the bus", config_.bank.name);
    else spdlog::info("bank {}: following {}", config_.bank.name, joined(memberSuffixes()));
    loop_->start();
    if (!auto_) startService();
    tick();
}

void BankDaemon::follow() {
    // Every owner change of a battery name, before the names are listed: none is missed.
    nameWatch_ = connection_->addMatch(
        "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
        "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0namespace='com.victronenergy.battery'",
        [this](sdbus::Message message) {
            util::guarded("bank: NameOwnerChanged", [&] {
                std::string name, oldOwner, newOwner;
                message >> name >> oldOwner >> newOwner;
                if (suffixOf(name).empty() || name == ownName_) return;
                if (!auto_ && !entries_.contains(name)) return;
                if (!oldOwner.empty()) left(name);  // a restart is a leave, then an appearance
                if (!newOwner.empty()) appeared(name, newOwner);
            });
        },
        sdbus::return_slot);
    busDaemon_ = sdbus::createProxy(*connection_, sdbus::ServiceName{"org.freedesktop.DBus"},
                                    sdbus::ObjectPath{"/org/freedesktop/DBus"});
    listNames();
}

void BankDaemon::listNames() {
    busDaemon_->callMethodAsync("ListNames")
        .onInterface(kBusDaemonInterface)
        .uponReplyInvoke([this](std::optional<sdbus::Error> error, std::vector<std::string> names) {
            util::guarded("bank: ListNames", [&] {
                listed_ = true;
                if (error) {
                    // NameOwnerChanged still brings every member that (re)starts.
                    spdlog::warn("bank {}: ListNames failed: {}", config_.bank.name, error->getMessage());
                    checkDiscovered();
                    return;
                }
                for (const std::string& name : names) {
                    if (suffixOf(name).empty() || name == ownName_) continue;
                    if (!auto_ && !entries_.contains(name)) continue;
                    if (!entry(name).present) askOwner(name);  // NameOwnerChanged may have been first
                }
                checkDiscovered();
                changed();
            });
        });
}

BankDaemon::Entry& BankDaemon::entry(const std::string& busName) {
    auto it = entries_.find(busName);
    if (it == entries_.end()) {
        it = entries_.try_emplace(busName, config_.comms).first;
        it->second.suffix = suffixOf(busName);
        it->second.liveness.start(Clock::now());
    }
    return it->second;
}

void BankDaemon::askOwner(const std::string& busName) {
    ++askingOwners_;
    busDaemon_->callMethodAsync("GetNameOwner")
        .onInterface(kBusDaemonInterface)
        .withArguments(busName)
        .uponReplyInvoke([this, busName](std::optional<sdbus::Error> error, std::string uniqueName) {
            util::guarded("bank: GetNameOwner", [&] {
                --askingOwners_;
                // Gone meanwhile (an error), or NameOwnerChanged was first: nothing to do. Nor
                // for a name taken off the members meanwhile (the Members setting).
                const bool wanted = auto_ || entries_.contains(busName);
                if (!error && wanted && !entry(busName).present) appeared(busName, uniqueName);
                checkDiscovered();
            });
        });
}

void BankDaemon::appeared(const std::string& busName, const std::string& uniqueName) {
    Entry& e = entry(busName);
    ++e.owner;
    e.present = true;
    e.loaded = e.loading = e.pinging = false;
    e.values.clear();
    e.liveness.start(Clock::now());  // a new owner is silent from now, not since the old one left
    // Called from NameOwnerChanged or a GetNameOwner reply, never from these proxies' own
    // handlers: replacing them here is safe (their calls still out are dropped).
    const sdbus::ServiceName service{uniqueName};
    e.root = sdbus::createProxy(*connection_, service, sdbus::ObjectPath{"/"});
    // Victron's batch of changes: {path: {Value, Text}}, from the whole service, on "/".
    e.root->uponSignal("ItemsChanged").onInterface(kItemInterface).call(
        [this, busName, owner = e.owner](const ItemsDict& changes) {
            util::guarded("bank: ItemsChanged", [&] {
                auto it = entries_.find(busName);
                if (it == entries_.end() || !it->second.present || it->second.owner != owner) return;
                Entry& m = it->second;
                for (const auto& [path, item] : changes) {
                    auto value = item.find("Value");
                    if (value != item.end()) m.values.insert_or_assign(path, valueOf(value->second));
                }
                heard(m);
                if (m.member) changed();
            });
        });
    e.connected = sdbus::createProxy(*connection_, service, sdbus::ObjectPath{"/Connected"});
    load(busName);
    changed();
}

void BankDaemon::left(const std::string& busName) {
    auto it = entries_.find(busName);
    if (it == entries_.end()) return;
    Entry& e = it->second;
    ++e.owner;  // replies still out belong to the old owner
    e.present = e.loaded = e.loading = e.pinging = false;
    e.values.clear();
    e.root.reset();  // called from NameOwnerChanged: not from their own handlers
    e.connected.reset();
    changed();
}

void BankDaemon::load(const std::string& busName) {
    Entry& e = entries_.at(busName);
    if (!e.root || e.loading) return;
    e.loading = true;
    const auto timeout = std::clamp(config_.comms.staleAfter, std::chrono::milliseconds{1000}, std::chrono::milliseconds{10000});
    e.root->callMethodAsync("GetItems")
        .onInterface(kItemInterface)
        .withTimeout(timeout)
        .uponReplyInvoke([this, busName, owner = e.owner](std::optional<sdbus::Error> error, ItemsDict items) {
            util::guarded("bank: GetItems", [&] {
                auto it = entries_.find(busName);
                if (it == entries_.end() || it->second.owner != owner) return;  // another owner meanwhile
                Entry& m = it->second;
                m.loading = false;
                if (error) {
                    // Asked again at the next tick; liveness decides meanwhile.
                    spdlog::debug("bank: GetItems of {} failed: {}", busName, error->getMessage());
                    checkDiscovered();
                    return;
                }
                m.values.clear();
                for (const auto& [path, item] : items) {
                    auto value = item.find("Value");
                    m.values.emplace(path, value == item.end() ? dbus::Value{dbus::Invalid{}} : valueOf(value->second));
                }
                m.loaded = true;
                heard(m);
                if (!m.member) {
                    // A member of a bank inside its own daemon (a JK-PB bus: /Bank/Service names
                    // that bank) belongs to it, not here: taking it would make two BMSes.
                    const auto inOther = m.values.find("/Bank/Service");
                    const bool served = inOther != m.values.end() &&
                                        std::holds_alternative<std::string>(inOther->second) &&
                                        !std::get<std::string>(inOther->second).empty();
                    if (m.values.contains("/Bank/MaxChargeVoltage") && !served) {
                        m.member = true;
                        spdlog::info("bank {}: found member {}", config_.bank.name, busName);
                    } else {
                        // A battery of its own (no bank member): not followed any further.
                        m.values.clear();
                        boost::asio::post(io_, [this, busName, owner, alive = std::weak_ptr<int>{alive_}] {
                            if (alive.expired()) return;
                            auto at = entries_.find(busName);
                            if (at == entries_.end() || at->second.owner != owner || at->second.member) return;
                            at->second.root.reset();  // not from within its own reply handler
                            at->second.connected.reset();
                        });
                    }
                }
                checkDiscovered();
                if (m.member) changed();
            });
        });
}

void BankDaemon::ping(const std::string& busName) {
    Entry& e = entries_.at(busName);
    if (!e.connected || e.pinging) return;
    e.pinging = true;
    // GetValue on /Connected rather than GetItems: it proves the member's loop is turning
    // (what a wedged daemon no longer does) for one small reply instead of ~110 items; the
    // values themselves come with ItemsChanged. Its timeout is stale_after, so at most one
    // is out per member, answered or failed before the next Stale decision.
    e.connected->callMethodAsync("GetValue")
        .onInterface(kItemInterface)
        .withTimeout(std::max(config_.comms.staleAfter, std::chrono::milliseconds{100}))
        .uponReplyInvoke([this, busName, owner = e.owner](std::optional<sdbus::Error> error, sdbus::Variant value) {
            util::guarded("bank: GetValue", [&] {
                auto it = entries_.find(busName);
                if (it == entries_.end() || it->second.owner != owner) return;
                Entry& m = it->second;
                m.pinging = false;
                if (error) return;  // no answer: liveness runs on
                m.values.insert_or_assign("/Connected", valueOf(value));
                heard(m);
            });
        });
}

void BankDaemon::heard(Entry& e) {
    const bool wasSilent = e.liveness.state(Clock::now()) != domain::CommsState::Ok;
    e.liveness.onReading(Clock::now());
    if (wasSilent && e.member) changed();
}

void BankDaemon::tick() {
    if (exitCode_) return;
    for (auto& [busName, e] : entries_) {
        if (!e.present) continue;
        if (!e.loaded) load(busName);  // an earlier GetItems failed
        else if (e.member) ping(busName);
    }
    checkDiscovered();
    changed();  // liveness moves with time alone
    const auto period = std::min(kLivenessPeriod, std::max(config_.comms.staleAfter / 2, std::chrono::milliseconds{50}));
    ticker_.expires_after(period);
    ticker_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        try {
            tick();
        } catch (const std::exception& e) {  // sdbus::Error: a call could not be sent
            stop(ExitCode::DbusFailed, std::string{"D-Bus failed: "} + e.what());
        }
    });
}

void BankDaemon::checkDiscovered() {
    if (service_ || !auto_ || exitCode_) return;
    const bool settled = listed_ && askingOwners_ == 0 && std::none_of(entries_.begin(), entries_.end(), [](const auto& kv) {
        return kv.second.present && kv.second.loading;
    });
    if (!settled && Clock::now() < discoveryDeadline_) return;
    const auto found = memberSuffixes();
    if (found.empty()) spdlog::warn("bank {}: no member on the bus yet", config_.bank.name);
    else spdlog::info("bank {}: members found: {}", config_.bank.name, joined(found));
    startService();
}

void BankDaemon::startService() {
    const auto names = memberSuffixes();
    dbus::BatteryServiceConfig sc;
    sc.bank = true;
    sc.busNameSuffix = config_.bank.name;
    sc.uniqueId = dbus::settingsUid("jkbms_bank_" + config_.bank.name);
    sc.preferredInstance = config_.dbus.deviceInstance;
    sc.settingsWait = config_.dbus.settingsWait;
    sc.settingsRetry = config_.dbus.settingsRetry;
    sc.items.propertiesChangedPerLeaf = config_.dbus.propertiesChanged;
    sc.identity.processVersion = version_;
    sc.identity.productName = "JK BMS bank (" + std::to_string(names.size()) + (names.size() == 1 ? " pack)" : " packs)");
    sc.identity.connection = names.empty() ? std::string{"Bank (no member yet)"} : "Bank of " + joined(names);
    std::optional<std::string> address;
    if (!config_.dbus.address.empty()) address = config_.dbus.address;
    try {
        service_ = std::make_unique<dbus::BatteryService>(io_, dbus::connectBus(address), std::move(sc));
    } catch (const std::exception& e) {
        stop(ExitCode::DbusFailed, std::string{"cannot connect to D-Bus: "} + e.what());
        return;
    }
    service_->onNegotiated([this](const dbus::DeviceSettings& settings) {
        if (settings.persisted) startSettings();
        combine();  // the paths are built with the members as they are now
    });
    service_->onPersisted([this](const dbus::DeviceSettings&) { startSettings(); });
    service_->start([this](bool ok, const std::string& error) {
        if (!ok) stop(ExitCode::DbusFailed, error);
    });
    if (!dvcc_ && config_.charge.enabled) {
        dvcc_ = std::make_unique<dbus::DvccWatch>(*connection_, "JK BMS bank (" + config_.bank.name + ")");
        dvcc_->start();
    }
}

void BankDaemon::startSettings() {
    if (settings_ || !service_) return;
    const std::string base = "/Settings/Devices/" + dbus::settingsUid(service_->uniqueId()) + "/" +
                             std::string{kGxSettingsGroup};
    settings_ = std::make_unique<dbus::SettingsGroup>(service_->connection(), base, "bank " + config_.bank.name);
    settings_->retryOn(io_);  // localsettings not ready or refusing: tried again until it answers
    std::string configured;
    for (const auto& m : config_.bank.members) configured += (configured.empty() ? "" : ",") + m;
    settings_->onChange([this](const std::string&, const dbus::SettingValue& value) {
        if (const auto* text = std::get_if<std::string>(&value)) setMembers(*text);
    });
    settings_->create({dbus::SettingDef{std::string{kMembersSetting}, dbus::SettingValue{configured}}},
                      [this, base](const dbus::SettingsGroup::Values& values) {
                          service_->setSettingsPath(base);
                          const auto it = values.find(kMembersSetting);
                          if (it == values.end()) return;
                          spdlog::info("bank {}: members setting {}/{}", config_.bank.name, base, kMembersSetting);
                          if (const auto* text = std::get_if<std::string>(&it->second)) setMembers(*text);
                      });
}

void BankDaemon::setMembers(const std::string& text) {
    std::vector<std::string> names;  // bus names, in the order given, each once
    for (const std::string& m : splitMembers(text)) {
        const std::string busName = memberBusName(m);
        if (busName.empty() || busName == ownName_) {
            spdlog::warn("bank {}: member '{}' in the Members setting left out: {}", config_.bank.name, m,
                         busName.empty() ? "not a bus name" : "the bank itself");
            continue;
        }
        if (std::find(names.begin(), names.end(), busName) == names.end()) names.push_back(busName);
    }
    std::vector<std::string> now;
    for (const auto& [busName, e] : entries_)
        if (e.member) now.push_back(busName);
    std::vector<std::string> sortedNames = names;
    std::sort(sortedNames.begin(), sortedNames.end());
    if (!names.empty() && !auto_ && sortedNames == now) return;  // the members followed already
    if (names.empty() && auto_) return;
    auto_ = names.empty();
    if (auto_) {
        // Every dbus-jkbms bank member on the bus: those followed stay, the others are found.
        spdlog::info("bank {}: Members setting empty: following every dbus-jkbms bank member on the bus",
                     config_.bank.name);
        if (busDaemon_) listNames();
        changed();
        return;
    }
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + suffixOf(n);
    spdlog::info("bank {}: members from the Members setting: {}", config_.bank.name, list);
    // Called from the setting's signal, never from a member's own proxy handlers: dropping
    // an entry (and its proxies) here is safe; its replies still out find no entry.
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (std::find(names.begin(), names.end(), it->first) == names.end()) it = entries_.erase(it);
        else ++it;
    }
    for (const std::string& busName : names) {
        Entry& e = entry(busName);
        const bool followed = e.member && e.root;
        e.member = true;
        if (!followed && busDaemon_) askOwner(busName);  // on the bus: followed from now on
    }
    changed();
}

void BankDaemon::changed() {
    if (combinePosted_ || exitCode_) return;
    combinePosted_ = true;
    // However many members changed in this turn of the loop: one combination.
    boost::asio::post(io_, [this, alive = std::weak_ptr<int>{alive_}] {
        if (alive.expired()) return;
        combinePosted_ = false;
        util::guarded("bank: combine", [&] { combine(); });
    });
}

domain::CommsState BankDaemon::effective(const Entry& e, Clock::time_point now) const {
    if (!e.present || !e.loaded) return domain::CommsState::Lost;
    return e.liveness.state(now);
}

void BankDaemon::combine() {
    if (exitCode_) return;
    const auto now = Clock::now();
    std::vector<domain::BankMember> members;
    for (const auto& [busName, e] : entries_)
        if (e.member) members.push_back(memberOf(e, now));
    logStates(members);
    reading_ = domain::combineBank(members, domain::BankRules{config_.bank.shareCurrentA, config_.bank.shareMargin});
    const auto& l = reading_.limits;
    auto logLimit = [this](std::string_view what, const domain::BankLimit& limit, std::string& last, std::string_view unit) {
        const std::string key = limitKey(limit);
        if (key == last) return;
        last = key;
        if (limit.value) spdlog::info("bank {}: {} {:.1f} {}: {}", config_.bank.name, what, *limit.value, unit, limit.reason);
        else spdlog::warn("bank {}: {} invalid: {}", config_.bank.name, what, limit.reason);
    };
    logLimit("CVL", l.cvl, cvlKey_, "V");
    logLimit("CCL", l.ccl, cclKey_, "A");
    logLimit("DCL", l.dcl, dclKey_, "A");
    if (service_) service_->publishBank(reading_);
}

void BankDaemon::logStates(const std::vector<domain::BankMember>& members) {
    const auto now = Clock::now();
    std::size_t i = 0;
    for (auto& [busName, e] : entries_) {
        if (!e.member) continue;
        const domain::CommsState state = members[i++].comms;
        if (e.logged == state) continue;
        const bool first = !e.logged;
        e.logged = state;
        using domain::CommsState;
        const std::string& name = config_.bank.name;
        std::string why;
        if (!e.present) why = "not on the bus";
        else if (!e.loaded) why = "no answer to GetItems yet";
        else if (e.liveness.state(now) != CommsState::Ok)
            why = "its daemon has not answered for " +
                  secondsText(std::chrono::duration_cast<std::chrono::milliseconds>(e.liveness.silentFor(now)));
        else why = "its BMS is not answering";
        switch (state) {
            case CommsState::Ok:
                spdlog::info("bank {}: member {} {}", name, e.suffix, first ? "joined" : "is back");
                break;
            case CommsState::Stale: spdlog::warn("bank {}: member {} stale: {}", name, e.suffix, why); break;
            case CommsState::Lost: spdlog::warn("bank {}: member {} lost: {}", name, e.suffix, why); break;
            case CommsState::Off: spdlog::info("bank {}: member {} switched off", name, e.suffix); break;
        }
    }
}

void BankDaemon::stop(ExitCode code, const std::string& why) {
    if (exitCode_) return;
    exitCode_ = code;
    if (code == ExitCode::Stopped) spdlog::info("stopping ({})", why);
    else spdlog::error("exiting: {}", why);
    ticker_.cancel();
    signals_.cancel();
    auto finish = [this] {
        stopTimer_.cancel();
        if (loop_) loop_->stop();
        io_.stop();
    };
    // Release the bus name (systemcalc drops the bank at once), but never wait more than 500 ms.
    stopTimer_.expires_after(std::chrono::milliseconds(500));
    stopTimer_.async_wait([finish](const boost::system::error_code& ec) {
        if (!ec) finish();
    });
    if (service_ && service_->state() == dbus::BatteryService::State::Registered) service_->release(finish);
    else finish();
}

}  // namespace jkbms::app
