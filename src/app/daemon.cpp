#include "jkbms/app/daemon.hpp"

#include <boost/asio/post.hpp>
#include <sdbus-c++/IConnection.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <utility>

#include "jkbms/codec/ble.hpp"
#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/dbus/names.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"
#include "jkbms/dbus/venus_relay.hpp"
#include "jkbms/util/callback_guard.hpp"
#include "jkbms/gpio/gpiod_relay.hpp"
#include "jkbms/sim/simulated_button.hpp"

namespace jkbms::app {
namespace {

namespace ble = codec::ble;

std::string ttyName(const std::string& path) { return std::filesystem::path(path).filename().string(); }

}  // namespace

Daemon::Daemon(boost::asio::io_context& io, DaemonOptions options)
    : io_(io),
      options_(std::move(options)),
      startMonitor_(options_.config.comms),
      signals_(io, SIGINT, SIGTERM),
      stopTimer_(io) {
    // A refused configuration: nothing charges, whatever the defaults would allow. No state
    // file either: where it goes was the refused file's to say (on a GX localsettings keeps it).
    if (!options_.configError.empty()) {
        options_.config.charge.engine.noCharge = true;
        options_.config.charge.stateDir.clear();
    }
}

Daemon::~Daemon() = default;

const dbus::BatteryService* Daemon::service(std::uint8_t address) const {
    auto it = units_.find(address);
    return it == units_.end() ? nullptr : it->second->service.get();
}

const GxSettings* Daemon::gxSettings(std::uint8_t address) const {
    if (pbBank_) return pbBank_->settings();
    auto it = units_.find(address);
    return it == units_.end() ? nullptr : it->second->gxSettings();
}

BatteryUnit& Daemon::unit(std::uint8_t address) {
    auto it = units_.find(address);
    UnitHost& host = *this;  // what a unit may ask of the daemon, nothing more
    if (it == units_.end()) it = units_.emplace(address, std::make_unique<BatteryUnit>(host, unitPlace(address))).first;
    return *it->second;
}

UnitPlace Daemon::unitPlace(std::uint8_t address) const {
    const bool ble = ble_ != nullptr;
    const std::string& mac = options_.config.ble.mac;
    const std::string tty = ble ? dbus::bleSuffix(mac) : ttyName(port_);
    const std::string number = std::to_string(address);
    UnitPlace u;
    u.address = address;
    u.name = name(address);
    u.suffix = place(address);
    u.productName = ble ? "JK BMS (" + mac + ")" : "JK BMS (" + tty + (pb_ ? " #" + number : "") + ")";
    u.connection = ble ? "Bluetooth " + mac
                       : (options_.simulate ? "Simulated serial " : pb_ ? "RS485 " : "Serial ") + tty +
                             (pb_ ? " address " + number : "");
    if (ble) u.keyLabel = "MAC " + mac;
    u.insecure = ble;
    u.preferredInstance = options_.config.dbus.deviceInstance + (pb_ ? address - 1 : 0);
    return u;
}

std::string Daemon::name(std::uint8_t address) const {
    return pb_ ? port_ + " address " + std::to_string(address) : port_;  // BLE: "BLE <mac>"
}

void Daemon::start() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
        if (!ec) stop(ExitCode::Stopped, signal == SIGTERM ? "SIGTERM" : "SIGINT");
    });
    if (!options_.config.ble.mac.empty()) {
        startPower();
        startBle();
        return;
    }
    port_ = options_.config.serial.port;
    if (options_.simulate) startSimulator();
    startPower();

    link_ = std::make_unique<transport::SerialLink>(
        io_, transport::SerialLink::Options{port_, options_.config.serial.baud});
    link_->onState([this](bool open, const std::string& detail) {
        if (open) spdlog::info("{}: reopened", port_);
        else spdlog::warn("{}: port failed ({}); reopening", port_, detail);
    });
    link_->open();  // throws: the caller reports it and exits with PortFailed
    spdlog::info("{}: opened at {} baud", port_, options_.config.serial.baud);
    startMonitor_.start(Clock::now());
    // The simulator plays an NW BMS.
    const auto& protocol = options_.config.serial.protocol;
    if (protocol == "pb" && !options_.simulate) startPb(false);
    else startNw(protocol == "auto" && !options_.simulate);
}

void Daemon::startPower() {
    const auto& cfg = options_.config.relay;
    std::unique_ptr<power::Relay> relay;
    try {
        if (options_.relay) {
            relay = options_.relay();
        } else if (cfg.type == "gpio") {
            // Throws with the line and the reason: the daemon does not start with a dead relay.
            relay = std::make_unique<gpio::GpiodRelay>(gpio::GpioLine{cfg.chip, cfg.offset, cfg.line, cfg.activeLow});
        } else if (cfg.type == "venus") {
            std::optional<std::string> address;
            if (!options_.config.dbus.address.empty()) address = options_.config.dbus.address;
            relayBus_ = dbus::connectBus(address);
            relayLoop_ = std::make_unique<dbus::AsioSdbusLoop>(io_, *relayBus_, [this](const std::string& e) {
                stop(ExitCode::DbusFailed, "D-Bus connection of the relay failed: " + e);
            });
            auto venus = std::make_unique<dbus::VenusRelay>(*relayBus_, cfg.venusRelay);
            venus->start();
            relayLoop_->start();
            relay = std::move(venus);
        } else if (simBms_) {
            relay = std::make_unique<sim::SimulatedButton>(*simBms_);  // so /Bms/Power can be tried
        }
    } catch (const std::exception& e) {
        throw StartError(ExitCode::RelayFailed, e.what());
    }
    if (!relay) return;
    power_ = std::make_unique<PowerControl>(io_, std::move(relay), cfg.press, cfg.wake);
    power_->onPressEnded([this](power::Press, bool) {
        const auto now = Clock::now();
        if (!startMonitor_.everRead()) {
            // The on press at start is over: the BMS gets a whole start probe again.
            startMonitor_.start(now);
            if (ble_) unit(0).monitor.start(now);
            if (rediscoverAfterPress_ && pb_) {
                rediscoverAfterPress_ = false;
                pb_->rediscover();
            }
        }
        publishPower();
        for (auto& [a, each] : units_)
            if (!each->gone && each->service) each->updateState();
    });
    spdlog::info("power: the BMS's display-port button is {}{}", power_->describe(),
                 cfg.wake.attempts > 0 ? " (wakes the BMS when it falls silent)" : "");
}

bool Daemon::pressOnAtStart() {
    if (!power_ || !options_.config.relay.ensureOnAtStart) return false;
    if (power_->busy()) return true;
    if (onPressedAtStart_) return false;
    onPressedAtStart_ = true;
    const std::string refused = power_->press(power::Press::On, "no answer at start");
    if (!refused.empty()) spdlog::warn("power: no on press at start: {}", refused);
    return refused.empty();
}

void Daemon::checkWake(Clock::time_point now) {
    if (!power_ || !startMonitor_.everRead()) return;
    power_->checkWake(now - startMonitor_.silentFor(now), now);
}

bool Daemon::powerWrite(bool on) {
    const auto press = on ? power::Press::On : power::Press::Off;
    const std::string refused = power_->press(press, "asked on D-Bus");
    if (!refused.empty()) {
        spdlog::warn("power: {} press asked on D-Bus refused: {}", power::pressName(press), refused);
        return false;
    }
    publishPower();
    // An off press takes the values and limits out of DVCC now, not when the BMS falls silent.
    for (auto& [a, each] : units_)
        if (!each->gone) each->updateState();
    return true;
}

bool Daemon::bankMember() const { return isBank_.value_or(false) || options_.config.bank.member; }

std::string Daemon::bankServiceName() const { return bankService() ? bankService()->busName() : std::string{}; }

void Daemon::changed(bool now) {
    // Polling a JK-PB bus: a reading is in the bank once per round (onRoundEnd), which is
    // within the poll that brought it; a change of state, or listening under a master (no
    // rounds): once the handler has returned.
    if (!pbBank_) return;
    if (!now && pb_ && !pb_->listening()) pbBank_->changed();
    else pbBank_->post();
}

void Daemon::publishPower() {
    if (!power_) return;
    for (auto& [a, each] : units_)
        if (each->service) each->service->setPower(each->powerItem());
}

void Daemon::startNw(bool probing) {
    SessionSink& sink = *this;  // what a session may report, nothing more
    nw_ = std::make_unique<NwSession>(io_, *link_, options_.config.poll, port_, probing, sink);
    nw_->start();
}

void Daemon::startPb(bool probing) {
    SessionSink& sink = *this;
    pb_ = std::make_unique<PbBusSession>(io_, *link_, options_.config, port_, probing, sink);
    pb_->start();
}

void Daemon::onDiscovered(const std::vector<std::uint8_t>& found) {
    if (found.empty() && pressOnAtStart()) {
        rediscoverAfterPress_ = true;  // discovery again once the press is over
        return;
    }
    if (found.empty()) {
        stop(ExitCode::BmsLost, "no JK BMS answered on " + port_ + " (NW, and JK-PB addresses 1-15)");
        return;
    }
    discovered_ = found;
    std::string list;
    for (auto a : found) list += (list.empty() ? "" : ", ") + std::to_string(a);
    spdlog::info("{}: JK-PB packs at address {}", port_, list);
    startMonitor_.start(Clock::now());  // the probe window starts after discovery
}

void Daemon::onRoundEnd() {
    if (pbBank_) pbBank_->roundEnded();
}

void Daemon::startBle() {
    port_ = "BLE " + options_.config.ble.mac;
    SessionSink& sink = *this;
    ble_ = std::make_unique<BleSession>(io_, options_.config, port_, sink);  // throws: a start-up error
    unit(0).monitor.start(Clock::now());
    startMonitor_.start(Clock::now());
    ble_->start();
}

void Daemon::onBleTick(Clock::time_point now) {
    BatteryUnit& p = unit(0);
    if (!p.monitor.everRead() && p.monitor.silentFor(now) >= options_.config.comms.staleAfter) pressOnAtStart();
    checkWake(now);
    if (p.monitor.silentFor(now) >= options_.config.poll.interval * 2) {
        // No cell info for two intervals counts as a missed poll.
        if (p.snapshot) ++p.missedInRow;
        evaluate(0);
    }
}

void Daemon::startSimulator() {
    // The built-in simulator: a live NW BMS on a pty of this process.
    simBms_ = std::make_unique<sim::SimulatedBms>();
    simResponder_ = std::make_unique<sim::NwResponder>(*simBms_);
    simPty_ = std::make_unique<sim::PtyServer>(io_, *simResponder_, sim::PtyServer::Options{});
    port_ = simPty_->path();
    simTimer_ = std::make_unique<boost::asio::steady_timer>(io_);
    simTick();
    spdlog::info("simulator: JK BMS (NW) on {}", port_);
}

void Daemon::simTick() {
    simTimer_->expires_after(std::chrono::milliseconds(200));
    simTimer_->async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        simBms_->advance(std::chrono::milliseconds(200));
        simTick();
    });
}

void Daemon::onNwReading(const codec::nw::ReadAll& reply) {
    BatteryUnit& p = unit(0);
    const bool first = !p.snapshot;
    p.snapshot = domain::fromNw(reply);
    // Every reading carries the id fields: the key is known at once (jk-protocols.md 1.4).
    auto key = domain::nwKey(reply.textOf(codec::nw::id::kManufacturerId).value_or(""),
                             reply.textOf(codec::nw::id::kDeviceId).value_or(""));
    if (!key)
        key = domain::placeKey(place(0), "its device id (0xB4) is empty or a factory default (the manufacturer id "
                                         "0xBA alone is not unique)");
    if (p.key && key->uid != p.key->uid) {
        // A different BMS behind the port (swapped while running, or its id rewritten): it is
        // a new battery. The daemon ends so its supervisor starts it afresh - new key, new
        // service, a fresh engine; nothing of the old battery is carried over.
        stop(ExitCode::BmsLost, "a different BMS answers on " + port_ + ": " + key->label + ", was " + p.key->label +
                                    "; restarting as a new battery");
        return;
    }
    if (!p.key) p.key = std::move(key);
    if (first) {
        const auto& id = p.snapshot->identity;
        spdlog::info("connected: JK BMS (NW protocol v{}) on {}, {} cells, hardware {}, software {}",
                     reply.protocolVersion(), port_, p.snapshot->cellVoltagesV.size(),
                     id.hardwareVersion.empty() ? "?" : id.hardwareVersion,
                     id.softwareVersion.empty() ? "?" : id.softwareVersion);
    }
    onReading(0);
}

bool Daemon::onJkFrame(std::uint8_t address, util::ByteView frame) {
    if (auto it = units_.find(address); it != units_.end() && it->second->gone) renew(address);
    BatteryUnit& p = unit(address);
    if (!p.frames) p.frames.emplace(ble_ ? domain::Protocol::Ble : domain::Protocol::Pb, pb_ != nullptr);
    const auto merged = p.frames->merge(p.snapshot, frame);
    if (!merged.applied) {
        if (merged.type) spdlog::debug("{}: {}", name(address), util::describe(merged.error));
        return false;
    }
    if (merged.deviceInfo && merged.first) {
        const auto& di = *merged.deviceInfo;
        spdlog::info("{}: {} hardware {}, software {}, serial {}{}", name(address), di.model, di.hardwareVersion,
                     di.softwareVersion, di.serialNumber,
                     pb_ ? "" : std::string{", "} + (di.variant ? std::string{ble::variantName(*di.variant)} : "unknown") + " frames");
    }
    if (*merged.type != ble::FrameType::CellInfo) {
        // The serial came after the first readings: the service can start now.
        if (merged.deviceInfo && !p.service && !p.gone && p.monitor.everRead()) serveWhenReady(address, Clock::now());
        return true;
    }
    if (p.snapshot->cellVoltagesV.empty() && p.snapshot->packVoltageV.value_or(0) <= 0) {
        spdlog::debug("{}: a cell-info frame with no cells and no pack voltage is no reading", name(address));
        return false;
    }
    if (merged.first)
        spdlog::info("connected: JK BMS on {} ({}), {} cells", name(address), ble::variantName(*merged.variant),
                     p.snapshot->cellVoltagesV.size());
    if (ble_) ble_->cellInfoArrived();
    onReading(address);
    return true;
}

void Daemon::onReading(std::uint8_t address) {
    const auto now = Clock::now();
    startMonitor_.onReading(now);
    if (power_) power_->onReading(now);
    if (!unit(address).onReading(now)) serveWhenReady(address, now);
}

bool Daemon::serveWhenReady(std::uint8_t address, Clock::time_point now) {
    BatteryUnit& p = unit(address);
    // The service steps the charge engine and publishes the first reading; not before the key
    // is known, nor before it is known whether the packs are a bank (members publish
    // differently, and paths are never taken back).
    if (!p.identify(now, pb_ && pb_->listening())) return false;
    if (!isBank_) {
        isBank_ = PbBank::choose(options_.config, pb_ != nullptr, pb_ && pb_->listening(), discovered_);
        if (!isBank_) return false;  // JK-PB discovery still runs: a later reading starts it
        if (*isBank_) startBank();
    }
    p.startService();
    startDvccWatch();
    return true;
}

void Daemon::startDvccWatch() {
    const auto& cfg = options_.config;
    // A member of a `--bank` daemon publishes no /Info/Max*: the bank daemon warns.
    if (dvcc_ || !cfg.charge.enabled || cfg.bank.member) return;
    std::optional<std::string> address;
    if (!cfg.dbus.address.empty()) address = cfg.dbus.address;
    try {
        dvccBus_ = dbus::connectBus(address);
    } catch (const std::exception& e) {
        stop(ExitCode::DbusFailed, std::string{"cannot connect to D-Bus: "} + e.what());
        return;
    }
    dvccLoop_ = std::make_unique<dbus::AsioSdbusLoop>(io_, *dvccBus_, [this](const std::string& e) {
        stop(ExitCode::DbusFailed, "D-Bus connection of the DVCC watch failed: " + e);
    });
    const std::string device = ble_ ? "JK BMS (" + cfg.ble.mac + ")" : "JK BMS (" + ttyName(port_) + ")";
    dvcc_ = std::make_unique<dbus::DvccWatch>(*dvccBus_, device);
    dvcc_->start();
    dvccLoop_->start();
}

void Daemon::onMiss(std::uint8_t address, const std::string& why) {
    if (exitCode_) return;
    if (!startMonitor_.everRead()) {
        // The start probe: nothing has answered yet (JK-PB: after discovery).
        if ((!pb_ || !pb_->poller().addresses().empty()) &&
            startMonitor_.state(Clock::now()) != domain::CommsState::Ok && !pressOnAtStart())
            stop(ExitCode::BmsLost, "no JK BMS answered on " + port_ + " (" + (pb_ ? "JK-PB" : "NW") + ", " +
                                        std::to_string(options_.config.serial.baud) + " baud): " + why);
        return;
    }
    BatteryUnit& p = unit(address);
    if (!p.snapshot || p.gone) return;
    ++p.missedInRow;
    checkWake(Clock::now());
    evaluate(address);
}

void Daemon::evaluate(std::uint8_t address) {
    BatteryUnit& p = unit(address);
    const auto now = Clock::now();
    // Switched off from here: the service stays, so the BMS can be switched on again. After a
    // press, the BMS gets stale_after to boot and answer.
    const bool holding = power_ && power_->holdsOn(now, options_.config.comms.staleAfter);
    if (p.monitor.shouldExit(now) && !holding) {
        const auto silent = std::chrono::duration_cast<std::chrono::seconds>(p.monitor.silentFor(now)).count();
        bool others = false;
        for (auto& [a, other] : units_)
            if (a != address && !other->gone) others = true;
        if (!others) {
            stop(ExitCode::BmsLost, "no answer from " + name(address) + " for " + std::to_string(silent) + " s");
            return;
        }
        // Other packs on the bus still answer: only this one leaves the bus.
        spdlog::error("{}: no answer for {} s: its service leaves the bus (asked again every {} s)", name(address),
                      silent, std::chrono::duration_cast<std::chrono::seconds>(options_.config.poll.goneProbe).count());
        p.leave();
        if (pb_) pb_->setGone(address, true);
        changed(true);
        return;
    }
    p.updateState();
}

bool Daemon::switchWrite(std::uint8_t address, dbus::BmsSwitch which, bool on) {
    BatteryUnit& p = unit(address);
    const std::string what = fmt::format("{} switch {}", dbus::bmsSwitchName(which), on ? "on" : "off");
    if (!p.snapshot || p.gone || p.lastState != domain::CommsState::Ok) {
        spdlog::warn("{}: {} asked on D-Bus refused: the BMS is not connected", name(address), what);
        return false;
    }
    const auto sw = which == dbus::BmsSwitch::Charge      ? ble::Switch::Charge
                    : which == dbus::BmsSwitch::Discharge ? ble::Switch::Discharge
                                                          : ble::Switch::Balancer;
    auto done = [this, address, what](bool answered, const std::string& why) {
        if (answered) spdlog::info("{}: {} sent; the BMS answered", name(address), what);
        else if (why.starts_with("replaced")) spdlog::debug("{}: {} {}", name(address), what, why);
        else spdlog::warn("{}: {} not answered: {}", name(address), what, why);
    };
    auto full = [&] {
        spdlog::warn("{}: {} asked on D-Bus refused: too many writes waiting", name(address), what);
        return false;
    };
    const auto variant = p.frames && p.frames->variant() ? *p.frames->variant() : ble::Variant::Jk02_32S;
    // pb_ first: after protocol auto's hand-off the stopped NW session is still there.
    const SwitchWrite sent = pb_    ? pb_->writeSwitch(address, sw, on, done)
                             : nw_  ? nw_->writeSwitch(sw, on, done)
                             : ble_ ? ble_->writeSwitch(variant, sw, on)
                                    : SwitchWrite::Refused;
    switch (sent) {
    case SwitchWrite::Queued:
    case SwitchWrite::Sent:
    case SwitchWrite::Unsent:
        spdlog::info("{}: {} asked on D-Bus", name(address), what);
        return sent != SwitchWrite::Unsent;
    case SwitchWrite::Full: return full();
    case SwitchWrite::Listening:
        spdlog::warn("{}: {} asked on D-Bus refused: a BMS master drives this bus, we only listen", name(address), what);
        return false;
    case SwitchWrite::NoSuchSwitch:
        spdlog::warn("{}: {} asked on D-Bus refused: {} has no such switch", name(address), what, ble::variantName(variant));
        return false;
    case SwitchWrite::Refused: return false;
    }
    return false;
}

std::string Daemon::place(std::uint8_t address) const {
    if (ble_) return dbus::bleSuffix(options_.config.ble.mac);
    const std::string base = options_.simulate ? "sim_" + ttyName(port_) : ttyName(port_);
    return pb_ ? base + "_" + std::to_string(address) : base;
}

void Daemon::renew(std::uint8_t address) {
    // Whoever answers at this address may be another pack (swapped while it was away): it is
    // identified again from scratch - device info asked again, its key decided anew - and
    // gets a fresh service and engine. Its saved charge state comes back only through the
    // fingerprint check (readState), as at a start; the old state was saved when it left.
    spdlog::info("{}: answers again: identified afresh (it may be another pack), then its service returns",
                 name(address));
    if (pb_) pb_->setGone(address, false);
    units_.erase(address);  // the old service (already off the bus), engine, key and frames
    changed(true);
}

void Daemon::onListenTick(Clock::time_point now) {
    // Under a master each pack is heard once per master cycle: a silence is judged by the
    // comms times alone (the monitor), one miss counted per interval for the log lines.
    for (auto& [a, each] : units_) {
        if (!each->snapshot || each->gone || each->monitor.silentFor(now) < options_.config.poll.interval * 2) continue;
        ++each->missedInRow;
        evaluate(a);
        if (exitCode_) return;
    }
}

void Daemon::startBank() {
    std::vector<std::uint8_t> expected = options_.config.serial.addresses;
    if (discovered_) expected.insert(expected.end(), discovered_->begin(), discovered_->end());
    UnitHost& host = *this;
    pbBank_ = std::make_unique<PbBank>(host, units_, std::move(expected));
    pbBank_->start(port_, options_.simulate);
}

void Daemon::stop(ExitCode code, const std::string& why) {
    if (exitCode_) return;
    exitCode_ = code;
    if (code == ExitCode::Stopped) spdlog::info("stopping ({})", why);
    else spdlog::error("exiting: {}", why);
    if (power_) power_->shutdown();  // the contact opens, whatever press runs
    // The timers as they are now (sent before the names are released below).
    for (auto& [a, each] : units_)
        if (each->hasEngine() && !each->gone) each->saveCharge();
    if (nw_) nw_->stop();
    if (pb_) pb_->stop();
    if (ble_) ble_->stop();
    signals_.cancel();
    auto finished = std::make_shared<bool>(false);
    auto finish = [this, finished] {
        if (std::exchange(*finished, true)) return;  // once: a release may end at once (bus gone)
        stopTimer_.cancel();
        if (link_) link_->close();
        if (ble_) ble_->stopBus();
        if (relayLoop_) relayLoop_->stop();
        if (dvccLoop_) dvccLoop_->stop();
        if (simPty_) simPty_->unplug();
        if (simTimer_) simTimer_->cancel();
        io_.stop();
    };
    // Release the bus names (so systemcalc drops us at once), but never wait more than 500 ms.
    stopTimer_.expires_after(std::chrono::milliseconds(500));
    stopTimer_.async_wait([finish](const boost::system::error_code& ec) {
        if (!ec) finish();
    });
    auto pending = std::make_shared<int>(0);
    if (auto* bank = pbBank_ ? pbBank_->service() : nullptr; bank && bank->state() == dbus::BatteryService::State::Registered) {
        ++*pending;
        bank->release([pending, finish] {
            if (--*pending == 0) finish();
        });
    }
    for (auto& [a, each] : units_) {
        if (each->service && each->service->state() == dbus::BatteryService::State::Registered) {
            ++*pending;
            each->service->release([pending, finish] {
                if (--*pending == 0) finish();
            });
        }
    }
    if (*pending == 0) finish();
}

}  // namespace jkbms::app
