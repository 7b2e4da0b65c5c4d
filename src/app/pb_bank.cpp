#include "jkbms/app/pb_bank.hpp"

#include <boost/asio/post.hpp>
#include <sdbus-c++/IConnection.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <set>

#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/domain/bank.hpp"
#include "jkbms/util/callback_guard.hpp"

namespace jkbms::app {

std::optional<bool> PbBank::choose(const config::Config& config, bool pb, bool listening,
                                   const std::optional<std::vector<std::uint8_t>>& discovered) {
    const auto& bank = config.bank;
    if (!pb || !bank.enabled || bank.member) return false;
    const auto& configured = config.serial.addresses;
    if (!configured.empty()) return configured.size() >= 2;
    // Under a BMS master there are several packs by definition.
    if (listening) return true;
    if (discovered) return discovered->size() >= 2;
    return std::nullopt;
}

PbBank::PbBank(UnitHost& host, const BatteryUnits& units, std::vector<std::uint8_t> expected)
    : host_(host), units_(units), expected_(std::move(expected)) {}

void PbBank::start(const std::string& port, bool simulate) {
    const auto& config = host_.config();
    const std::string tty = std::filesystem::path(port).filename().string();
    const std::string base = simulate ? "sim_" + tty : tty;
    dbus::BatteryServiceConfig sc;
    sc.bank = true;
    sc.busNameSuffix = base + "_bank";
    // Keyed by the port (the packs come and go; the bank stays where they are).
    sc.uniqueId = domain::placeKey(sc.busNameSuffix, "").uid;
    sc.identity.productName = "JK BMS bank (" + tty + ")";
    sc.identity.connection = (simulate ? "Simulated RS485 " : "RS485 ") + tty + " (bank of JK-PB packs)";
    sc.identity.processVersion = host_.version();
    sc.identity.configError = host_.configError();
    // After the members' instances (the configured one + address - 1).
    sc.preferredInstance = config.dbus.deviceInstance + 15;
    sc.settingsWait = config.dbus.settingsWait;
    sc.settingsRetry = config.dbus.settingsRetry;
    sc.items.propertiesChangedPerLeaf = config.dbus.propertiesChanged;
    std::optional<std::string> address;
    if (!config.dbus.address.empty()) address = config.dbus.address;
    try {
        service_ = std::make_unique<dbus::BatteryService>(host_.io(), dbus::connectBus(address), std::move(sc));
    } catch (const std::exception& e) {
        host_.failed(ExitCode::DbusFailed, std::string{"cannot connect to D-Bus: "} + e.what());
        return;
    }
    spdlog::info("{}: the JK-PB packs are one battery for DVCC: {} (their own services without /Info/Max*)", port,
                 service_->busName());
    service_->onNegotiated([this](const dbus::DeviceSettings& settings) {
        if (settings.persisted) startSettings();
        combine();
    });
    service_->onPersisted([this](const dbus::DeviceSettings&) { startSettings(); });
    service_->start([this](bool ok, const std::string& error) {
        if (!ok) host_.failed(ExitCode::DbusFailed, error);
    });
}

void PbBank::startSettings() {
    if (settings_ || !service_) return;
    settings_ = std::make_unique<GxSettings>(
        service_->connection(), service_->uniqueId(), service_->busName(), host_.config(), host_.power() != nullptr,
        [this](const Tunables& tunables) {
            const std::string& path = settings_->basePath();
            service_->setSettingsPath(path);
            for (const auto& [a, unit] : units_) {
                unit->reconfigure(tunables.charge);
                unit->setSettingsPath(path);
            }
            if (host_.power()) host_.setPressTimes(tunables.press);
        });
    settings_->retryOn(host_.io(), host_.config().dbus.settingsRetry);
    settings_->start();
}

void PbBank::roundEnded() {
    if (dirty_) util::guarded("bank", [this] { combine(); });
}

void PbBank::post() {
    if (!service_ || posted_ || host_.stopping()) return;
    posted_ = true;
    boost::asio::post(host_.io(), [this, alive = std::weak_ptr<int>{alive_}] {
        if (!alive.lock()) return;
        posted_ = false;
        util::guarded("bank", [this] { combine(); });
    });
}

void PbBank::combine() {
    if (!service_ || host_.stopping()) return;
    dirty_ = false;  // every unit's update so far is in this one
    ++combinations_;
    std::vector<domain::BankMember> members;
    members.reserve(units_.size());
    // Every pack the bus is known to have: configured, discovered, or heard.
    std::set<std::uint8_t> expected(expected_.begin(), expected_.end());
    for (const auto& [a, each] : units_) expected.insert(a);
    for (const std::uint8_t a : expected) {
        const std::string member = "P" + std::to_string(a);
        const auto it = units_.find(a);
        const BatteryUnit* p = it == units_.end() ? nullptr : it->second.get();
        if (!p || !p->service || p->service->table().empty()) {
            // Expected but not served (never heard, identifying, negotiating, identified
            // afresh): its limits are unknown, so it counts as lost - no charging until it is.
            domain::BankMember unknown;
            unknown.name = member;
            unknown.comms = domain::CommsState::Lost;
            members.push_back(std::move(unknown));
            continue;
        }
        auto m = dbus::bankMember(member, dbus::lookupIn(p->service->table()));
        if (p->gone) m.comms = domain::CommsState::Lost;  // its service left the bus
        members.push_back(std::move(m));
    }
    const auto& bank = host_.config().bank;
    domain::BankReading reading = domain::combineBank(members, domain::BankRules{bank.shareCurrentA, bank.shareMargin});
    if (reading.status != status_) {
        if (reading.silent.empty()) spdlog::info("{}: {}", service_->busName(), reading.status);
        else spdlog::warn("{}: {}", service_->busName(), reading.status);
        status_ = reading.status;
    }
    service_->publishBank(std::move(reading));
}

}  // namespace jkbms::app
