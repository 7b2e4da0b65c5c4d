#include "jkbms/app/daemon.hpp"

#include <boost/asio/post.hpp>
#include <sdbus-c++/IConnection.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>

#include "jkbms/app/charge_state_file.hpp"
#include "jkbms/codec/ble.hpp"
#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/dbus/names.hpp"
#include "jkbms/domain/plausible_ranges.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"
#include "jkbms/dbus/venus_relay.hpp"
#include "jkbms/domain/bank.hpp"
#include "jkbms/util/callback_guard.hpp"
#include "jkbms/gpio/gpiod_relay.hpp"
#include "jkbms/sim/simulated_button.hpp"

namespace jkbms::app {
namespace {

namespace ble = codec::ble;

std::string ttyName(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// Protocol auto: how long NW gets before JK-PB is tried, and the JK-PB discovery deadline then.
constexpr auto kNwProbe = std::chrono::seconds(3);
constexpr auto kPbProbeTimeout = std::chrono::milliseconds(200);
// The charge state is written on each mode change (a full charge is one: Float is entered),
// at a clean stop, and this often while a timer runs (Absorption, Equalize): the timers lose
// at most this much at a power cut, and the flash sees a few writes a day.
constexpr auto kTimedSaveEvery = std::chrono::minutes(30);

}  // namespace

Daemon::Daemon(boost::asio::io_context& io, DaemonOptions options)
    : io_(io),
      options_(std::move(options)),
      pb_(options_.config.serial.protocol == "pb"),
      probing_(options_.config.serial.protocol == "auto"),
      startMonitor_(options_.config.comms),
      signals_(io, SIGINT, SIGTERM),
      stopTimer_(io) {}

Daemon::~Daemon() = default;

const dbus::BatteryService* Daemon::service(std::uint8_t address) const {
    auto it = packs_.find(address);
    return it == packs_.end() ? nullptr : it->second.service.get();
}

Daemon::Pack& Daemon::pack(std::uint8_t address) {
    auto it = packs_.find(address);
    if (it == packs_.end()) it = packs_.emplace(address, Pack{options_.config.comms}).first;
    return it->second;
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
    if (pb_) startPb(false);
    else startNw();
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
            if (ble_) pack(0).monitor.start(now);
            if (rediscoverAfterPress_ && pbPoller_) {
                rediscoverAfterPress_ = false;
                pbPoller_->stop();
                pbPoller_->start();
            }
        }
        publishPower();
        for (auto& [a, each] : packs_)
            if (!each.gone && each.service) updateState(a, each);
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

dbus::PowerItem Daemon::powerItem(const Pack& p) const {
    if (auto running = power_->running())
        return *running == power::Press::On ? dbus::PowerItem{1, "pressing on"} : dbus::PowerItem{0, "switching off"};
    if (power_->switchedOff()) return {0, "off"};
    if (p.lastState == domain::CommsState::Lost) return {0, "off (not answering)"};
    if (power_->awaitingAnswer()) return {1, "starting"};
    return {1, "on"};
}

void Daemon::publishPower() {
    if (!power_) return;
    for (auto& [a, p] : packs_)
        if (p.service) p.service->setPower(powerItem(p));
}

void Daemon::startNw() {
    const auto& poll = options_.config.poll;
    nwPoller_ = std::make_unique<NwPoller>(io_, *link_, poll);
    nwPoller_->onReading([this](const codec::nw::ReadAll& r) {
        if (probing_) spdlog::info("{}: a JK BMS answers NW", port_);
        probing_ = false;
        onNwReading(r);
    });
    nwPoller_->onMiss([this](const std::string& why) {
        if (probing_) {
            if (startMonitor_.silentFor(Clock::now()) < kNwProbe) return;
            if (pressOnAtStart()) return;  // NW gets another probe once the press is over
            // No NW answer: maybe JK-PB packs on an RS485 bus.
            probing_ = false;
            nwPoller_->stop();
            spdlog::info("{}: no NW answer; trying JK-PB (RS485, addresses 1-15)", port_);
            startPb(true);
            return;
        }
        onMiss(0, why);
    });
    spdlog::info("{}: polling NW every {} ms{}", port_, poll.interval.count(), probing_ ? " (probing; JK-PB next)" : "");
    nwPoller_->start();
}

void Daemon::startPb(bool probing) {
    pb_ = true;
    const auto& poll = options_.config.poll;
    PbPoller::Options o{options_.config.serial.addresses, poll.interval, probing ? kPbProbeTimeout : poll.timeout,
                        poll.pacing};
    o.goneProbeEvery = poll.goneProbe;
    pbPoller_ = std::make_unique<PbPoller>(io_, *link_, o);
    pbPoller_->onFrame([this](std::uint8_t a, util::ByteView f) { return onJkFrame(a, f); });
    pbPoller_->onMiss([this](std::uint8_t a, const std::string& why) { onMiss(a, why); });
    pbPoller_->onRoundEnd([this] {
        if (bankDirty_) util::guarded("bank", [this] { combineBank(); });
    });
    pbPoller_->onDiscovered([this](const std::vector<std::uint8_t>& found) {
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
    });
    spdlog::info("{}: polling JK-PB {} every {} ms", port_,
                 options_.config.serial.addresses.empty()
                     ? std::string{"(discovering 1-15)"}
                     : std::to_string(options_.config.serial.addresses.size()) + " pack(s)",
                 poll.interval.count());
    pbPoller_->start();
    listenTimer_ = std::make_unique<boost::asio::steady_timer>(io_);
    listenTick();
}

void Daemon::startBle() {
    port_ = "BLE " + options_.config.ble.mac;
    std::optional<std::string> address;
    if (!options_.config.dbus.address.empty()) address = options_.config.dbus.address;
    // BlueZ is on the same bus as the battery services (the system bus on Venus).
    bluezBus_ = dbus::connectBus(address);  // throws: a start-up error
    bluezLoop_ = std::make_unique<dbus::AsioSdbusLoop>(io_, *bluezBus_, [this](const std::string& e) {
        stop(ExitCode::DbusFailed, "BlueZ connection failed: " + e);
    });
    ble_ = std::make_unique<transport::BleLink>(
        io_, *bluezBus_, transport::BleLink::Options{options_.config.ble.mac, options_.config.ble.adapter});
    ble_->onState([this](bool ready, const std::string& detail) {
        if (!ready) {
            spdlog::warn("{}: {}; retrying", port_, detail);
            return;
        }
        spdlog::info("{}: connected; asking for device info and the cell-info stream", port_);
        assembler_.reset();
        bleResends_ = 0;
        lastCellInfo_ = Clock::now();
        const auto deviceInfo = codec::ble::encodeRequestDeviceInfo();
        ble_->send({deviceInfo.begin(), deviceInfo.end()});
        // Some firmware (V19/V20) streams only when 0x96 follows 0x97; the answer to 0x97 is not waited for.
        const auto settings = codec::ble::encodeRequestSettings();
        ble_->send({settings.begin(), settings.end()});
    });
    ble_->onData([this](util::ByteView chunk) {
        const auto ev = assembler_.feed(chunk);
        if (ev.status == codec::FramerStatus::Frame) onJkFrame(0, ev.frame);
        else if (ev.status == codec::FramerStatus::Bad) spdlog::debug("ble: {}", util::describe(ev.error));
    });
    pack(0).monitor.start(Clock::now());
    startMonitor_.start(Clock::now());
    bluezLoop_->start();
    ble_->start();
    bleTimer_ = std::make_unique<boost::asio::steady_timer>(io_);
    bleTick();
    spdlog::info("{}: looking for the BMS through BlueZ ({})", port_, options_.config.ble.adapter);
}

void Daemon::bleTick() {
    bleTimer_->expires_after(options_.config.poll.interval);
    bleTimer_->async_wait([this](const boost::system::error_code& ec) {
        if (ec || exitCode_) return;
        const auto now = Clock::now();
        Pack& p = pack(0);
        if (ble_->ready() && now - lastCellInfo_ >= std::chrono::seconds(10)) {
            // The stream stopped (jk-protocols.md 2.3): ask again, then reconnect.
            if (++bleResends_ > 3) {
                ble_->reconnect("no cell info after asking 3 times");
                bleResends_ = 0;
            } else {
                const auto settings = codec::ble::encodeRequestSettings();
                ble_->send({settings.begin(), settings.end()});
            }
            lastCellInfo_ = now;
        }
        if (!p.monitor.everRead() && p.monitor.silentFor(now) >= options_.config.comms.staleAfter) pressOnAtStart();
        checkWake(now);
        if (p.monitor.silentFor(now) >= options_.config.poll.interval * 2) {
            // No cell info for two intervals counts as a missed poll.
            if (p.snapshot) ++p.missedInRow;
            evaluate(0, p);
        }
        if (!exitCode_) bleTick();
    });
}

void Daemon::startSimulator() {
    // The built-in simulator: a live NW BMS on a pty of this process.
    simBms_ = std::make_unique<sim::SimulatedBms>();
    simResponder_ = std::make_unique<sim::NwResponder>(*simBms_);
    simPty_ = std::make_unique<sim::PtyServer>(io_, *simResponder_, sim::PtyServer::Options{});
    port_ = simPty_->path();
    pb_ = false;
    probing_ = false;
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
    Pack& p = pack(0);
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
    onReading(0, p);
}

bool Daemon::onJkFrame(std::uint8_t address, util::ByteView frame) {
    if (auto it = packs_.find(address); it != packs_.end() && it->second.gone) renew(address);
    Pack& p = pack(address);
    if (!p.frames) p.frames.emplace(ble_ ? domain::Protocol::Ble : domain::Protocol::Pb, pb_);
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
        if (merged.deviceInfo && !p.service && !p.gone && p.monitor.everRead()) serveWhenReady(address, p, Clock::now());
        return true;
    }
    if (p.snapshot->cellVoltagesV.empty() && p.snapshot->packVoltageV.value_or(0) <= 0) {
        spdlog::debug("{}: a cell-info frame with no cells and no pack voltage is no reading", name(address));
        return false;
    }
    if (merged.first)
        spdlog::info("connected: JK BMS on {} ({}), {} cells", name(address), ble::variantName(*merged.variant),
                     p.snapshot->cellVoltagesV.size());
    if (ble_) {
        lastCellInfo_ = Clock::now();
        bleResends_ = 0;
    }
    onReading(address, p);
    return true;
}

void Daemon::onReading(std::uint8_t address, Pack& p) {
    const auto now = Clock::now();
    if (!p.monitor.everRead()) p.firstReading = now;
    p.monitor.onReading(now);
    startMonitor_.onReading(now);
    if (power_) power_->onReading(now);
    if (p.service) updateState(address, p);  // before the reset: the line says how many were missed
    else p.lastState = commsState(p, now);
    p.missedInRow = 0;
    if (!p.service) {
        serveWhenReady(address, p, now);
        return;
    }
    stepCharge(address, p);
    publish(p);
}

bool Daemon::serveWhenReady(std::uint8_t address, Pack& p, Clock::time_point now) {
    // The service steps the charge engine and publishes the first reading; not before the key
    // is known, nor before it is known whether the packs are a bank (members publish
    // differently, and paths are never taken back).
    if (!identify(address, p, now)) return false;
    if (!bank_) {
        bank_ = bankChoice();
        if (!bank_) return false;  // JK-PB discovery still runs: a later reading starts it
        if (*bank_) startBank();
    }
    startService(address, p);
    return true;
}

void Daemon::startCharge(std::uint8_t address, Pack& p, const dbus::DeviceSettings& settings) {
    const auto& cfg = options_.config.charge;
    if (!cfg.enabled) return;
    p.engine.emplace(cfg.engine);
    p.lastStep = p.lastSaved = Clock::now();
    // Keyed by the battery (its settings key), never by the port.
    if (!cfg.stateDir.empty()) p.statePath = cfg.stateDir + "/" + p.service->uniqueId() + ".state";
    const auto wallNow = std::chrono::system_clock::now();
    std::optional<charge::EngineState> restored;
    std::string from;
    if (!settings.chargeState.empty()) {
        restored = readState(address, p, parseChargeState(settings.chargeState, wallNow), "localsettings");
        from = "localsettings";
    }
    if (!restored && !p.statePath.empty()) {
        restored = readState(address, p, loadChargeState(p.statePath, wallNow), p.statePath);
        from = p.statePath;
    }
    if (restored) {
        p.engine->restore(*restored);
        p.restored = true;
        spdlog::info("{}: charge state restored from {}: {}", name(address), from,
                     charge::chargeModeName(restored->mode));
    }
}

std::optional<charge::EngineState> Daemon::readState(std::uint8_t address, const Pack& p, ChargeStateRead read,
                                                     const std::string& source) {
    // One warning per source with every problem in it; an unusable state is replaced at the
    // next save.
    if (!read.problems.empty()) {
        std::string list;
        for (const auto& problem : read.problems) list += (list.empty() ? "" : "; ") + problem;
        spdlog::warn("{}: charge state in {} {}: {}", name(address), source,
                     read.state ? "read, with notes" : "not used (starting in Bulk)", list);
    }
    if (!read.state) return std::nullopt;
    // Never another battery's state (a port swap, a copied setting or file, a state from
    // before the battery= line): Float and its full-charge time belong to one battery.
    const std::string& mine = p.service->uniqueId();
    if (read.battery != mine) {
        spdlog::warn("{}: charge state in {} {}, not to this one ({}): not used (starting in Bulk)", name(address),
                     source, read.battery.empty() ? "does not say which battery it belongs to" : "belongs to battery " + read.battery,
                     mine);
        return std::nullopt;
    }
    // The key may be a fallback (the port, the port and address) or shared by two boards: the
    // state must also look like this battery (cell count, capacity, counters since it was
    // written), else a different pack would inherit Float or a running absorption.
    const auto current = p.snapshot ? fingerprintOf(*p.snapshot) : BatteryFingerprint{};
    if (const std::string why = whyNotThisBattery(read, current, std::chrono::system_clock::now(), p.key && p.key->fromBms);
        !why.empty()) {
        spdlog::warn("{}: charge state in {} not used (starting in Bulk): it may be another battery's: {}", name(address),
                     source, why);
        return std::nullopt;
    }
    return read.state;
}

void Daemon::onPersisted(std::uint8_t address, Pack& p, const dbus::DeviceSettings& settings) {
    if (!p.engine) return;
    // Nothing was restored at start (localsettings was not there) and the engine has not
    // moved on since: its state, when it has one for this battery, is better than a fresh
    // Bulk; otherwise ours goes there now.
    if (!p.restored && !p.modeChanged && !settings.chargeState.empty()) {
        if (auto state = readState(address, p, parseChargeState(settings.chargeState, std::chrono::system_clock::now()),
                                   "localsettings")) {
            p.engine->restore(*state);
            p.restored = true;
            spdlog::info("{}: charge state restored from localsettings: {}", name(address),
                         charge::chargeModeName(state->mode));
            p.lastSavedText = savedStateOf(p);
            return;
        }
    }
    saveCharge(address, p, true);
}

void Daemon::stepCharge(std::uint8_t address, Pack& p) {
    const auto& cfg = options_.config.charge;
    // Limits need a BMS that measures current and reports alarms (not a JK04 balancer), and
    // an engine (started once localsettings has answered).
    if (!cfg.enabled || !p.engine || !p.snapshot || !p.snapshot->currentA || !p.snapshot->alarmsReported) {
        p.limits = {};
        return;
    }
    const auto now = Clock::now();
    const auto before = p.engine->state().mode;
    const auto warnedBefore = p.engine->state().warnings;
    const double dt = std::chrono::duration<double>(now - p.lastStep).count();
    p.lastStep = now;
    p.limits = p.engine->step(*p.snapshot, dt);
    const auto after = p.engine->state().mode;
    for (std::size_t i = 0; i < static_cast<std::size_t>(domain::Alarm::Count_); ++i) {
        const auto a = static_cast<domain::Alarm>(i);
        if (warnedBefore.has(a) != p.limits.warnings.has(a))
            spdlog::info("{}: warning {} {}", name(address), domain::alarmName(a),
                         p.limits.warnings.has(a) ? "raised" : "cleared");
    }
    if (!p.limits.modeChange.empty()) spdlog::info("{}: charge {}", name(address), p.limits.modeChange);
    if (p.limits.notes != p.chargeNotes) {
        p.chargeNotes = p.limits.notes;
        if (!p.chargeNotes.empty()) spdlog::info("{}: charge limits: {}", name(address), p.chargeNotes);
    }
    // Kept on a mode change (a full charge enters Float) and every kTimedSaveEvery while a
    // timer runs (Absorption, Equalize). Bulk and Float keep only times of events (full
    // charge, equalize), which do not age in the text: nothing to write until the next change.
    if (after != before) p.modeChanged = true;
    const bool timed = after == charge::ChargeMode::Absorption || after == charge::ChargeMode::Equalize;
    if (after != before || (timed && now - p.lastSaved >= kTimedSaveEvery)) saveCharge(address, p);
}

std::string Daemon::duplicateMarker(const std::string& uid) const {
    const auto& dir = options_.config.charge.stateDir;
    return dir.empty() ? std::string{} : dir + "/" + uid + ".duplicate";
}

void Daemon::markDuplicate(std::uint8_t address, const std::string& uid) {
    const std::string marker = duplicateMarker(uid);
    if (marker.empty() || std::filesystem::exists(marker)) return;
    std::error_code ec;
    std::filesystem::create_directories(options_.config.charge.stateDir, ec);
    std::string error;
    if (saveChargeState(marker, "two BMSes on this GX report this id; both are keyed by their ports\n", error))
        spdlog::info("{}: {} recorded as shared: from the next start both BMSes are keyed by their ports", name(address),
                     marker);
    else
        spdlog::warn("{}: the shared id cannot be recorded in {}: {}", name(address), marker, error);
}

std::string Daemon::savedStateOf(const Pack& p) const {
    std::string text = formatChargeState(p.engine->state(), std::chrono::system_clock::now(), p.service->uniqueId());
    std::replace(text.begin(), text.end(), '\n', ';');
    return text;
}

void Daemon::saveCharge(std::uint8_t address, Pack& p, bool force) {
    if (!p.engine || !p.service) return;
    p.lastSaved = Clock::now();
    std::optional<BatteryFingerprint> fingerprint;
    if (p.snapshot) fingerprint = fingerprintOf(*p.snapshot);
    std::string text =
        formatChargeState(p.engine->state(), std::chrono::system_clock::now(), p.service->uniqueId(), fingerprint);
    std::string oneLine = text;
    std::replace(oneLine.begin(), oneLine.end(), '\n', ';');
    // Unchanged: no write. Compared without the fingerprint, whose counters and written_at
    // move all the time: older counters only make the check at restore looser, not wrong.
    const std::string state = savedStateOf(p);
    if (state == p.lastSavedText && !force) return;
    // Counted as written only once localsettings has stored it: a refused or failed write is
    // made again at the next save (the stop, the next timed save).
    const bool toSettings = p.service->storeChargeState(oneLine, [this, address, state](bool stored) {
        auto it = packs_.find(address);
        if (stored && it != packs_.end() && it->second.service) it->second.lastSavedText = state;
    });
    if (toSettings || p.statePath.empty()) return;
    std::string error;
    if (saveChargeState(p.statePath, text, error)) p.lastSavedText = state;
    else if (!p.saveWarned) {
        spdlog::warn("{}: charge state cannot be saved to {}: {} (it will not survive a restart)", name(address),
                     p.statePath, error);
        p.saveWarned = true;
    }
}

void Daemon::onMiss(std::uint8_t address, const std::string& why) {
    if (exitCode_) return;
    if (!startMonitor_.everRead()) {
        // The start probe: nothing has answered yet (JK-PB: after discovery).
        if ((!pb_ || (pbPoller_ && !pbPoller_->addresses().empty())) &&
            startMonitor_.state(Clock::now()) != domain::CommsState::Ok && !pressOnAtStart())
            stop(ExitCode::BmsLost, "no JK BMS answered on " + port_ + " (" + (pb_ ? "JK-PB" : "NW") + ", " +
                                        std::to_string(options_.config.serial.baud) + " baud): " + why);
        return;
    }
    Pack& p = pack(address);
    if (!p.snapshot || p.gone) return;
    ++p.missedInRow;
    checkWake(Clock::now());
    evaluate(address, p);
}

void Daemon::evaluate(std::uint8_t address, Pack& p) {
    const auto now = Clock::now();
    // Switched off from here: the service stays, so the BMS can be switched on again. After a
    // press, the BMS gets stale_after to boot and answer.
    const bool holding = power_ && power_->holdsOn(now, options_.config.comms.staleAfter);
    if (p.monitor.shouldExit(now) && !holding) {
        const auto silent = std::chrono::duration_cast<std::chrono::seconds>(p.monitor.silentFor(now)).count();
        bool others = false;
        for (auto& [a, other] : packs_)
            if (a != address && !other.gone) others = true;
        if (!others) {
            stop(ExitCode::BmsLost, "no answer from " + name(address) + " for " + std::to_string(silent) + " s");
            return;
        }
        // Other packs on the bus still answer: only this one leaves the bus.
        spdlog::error("{}: no answer for {} s: its service leaves the bus (asked again every {} s)", name(address),
                      silent, std::chrono::duration_cast<std::chrono::seconds>(options_.config.poll.goneProbe).count());
        p.gone = true;
        if (p.engine) saveCharge(address, p);
        if (p.service) p.service->release();
        if (pbPoller_) pbPoller_->setGone(address, true);
        publishBank();
        return;
    }
    updateState(address, p);
}

domain::CommsState Daemon::commsState(const Pack& p, Clock::time_point now) const {
    if (power_ && (power_->switchedOff() || power_->running() == power::Press::Off)) return domain::CommsState::Off;
    return p.monitor.state(now);
}

void Daemon::updateState(std::uint8_t address, Pack& p) {
    using domain::CommsState;
    const auto state = commsState(p, Clock::now());
    if (state == p.lastState) return;
    if (state == CommsState::Off)
        spdlog::info("{}: switched off on request: values and limits invalidated", name(address));
    else if (state == CommsState::Ok)
        spdlog::info("restored: {} answers again{}", name(address),
                     p.lastState == CommsState::Off ? "" : " after " + std::to_string(p.missedInRow) + " missed polls");
    else if (p.lastState == CommsState::Off)
        spdlog::info("{}: no longer switched off; waiting for its answer", name(address));
    else if (state == CommsState::Stale)
        spdlog::warn("lost contact: no answer from {} for {} polls", name(address), p.missedInRow);
    else if (state == CommsState::Lost)
        spdlog::error("BMS lost: {}: values and limits invalidated after {} missed polls", name(address), p.missedInRow);
    p.lastState = state;
    publish(p);
    publishBank();  // a pack stale, lost, off or back: the bank follows at once, not at the round's end
}

bool Daemon::switchWrite(std::uint8_t address, dbus::BmsSwitch which, bool on) {
    Pack& p = pack(address);
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
    if (nwPoller_) {
        const std::uint8_t dataId = *codec::nw::switchId(sw);
        auto frame = codec::nw::encodeWrite(dataId, on ? 1 : 0);
        if (!frame) return false;
        if (!nwPoller_->write(dataId, std::move(*frame), done)) return full();
        spdlog::info("{}: {} asked on D-Bus", name(address), what);
        return true;
    }
    if (pbPoller_) {
        if (pbPoller_->listening()) {
            spdlog::warn("{}: {} asked on D-Bus refused: a BMS master drives this bus, we only listen", name(address), what);
            return false;
        }
        if (!pbPoller_->write(address, *codec::pb::switchRegister(sw), on ? 1 : 0, done)) return full();
        spdlog::info("{}: {} asked on D-Bus", name(address), what);
        return true;
    }
    if (ble_) {
        if (!ble_->ready()) return false;
        const auto variant = p.frames && p.frames->variant() ? *p.frames->variant() : ble::Variant::Jk02_32S;
        auto command = ble::encodeSwitch(variant, sw, on);
        if (!command) {
            spdlog::warn("{}: {} asked on D-Bus refused: {} has no such switch", name(address), what, ble::variantName(variant));
            return false;
        }
        spdlog::info("{}: {} asked on D-Bus", name(address), what);
        // The BMS answers with a fresh settings frame (jk-protocols.md 2.3): the next reading shows it.
        return ble_->send({command->begin(), command->end()});
    }
    return false;
}

std::string Daemon::place(std::uint8_t address) const {
    if (ble_) return dbus::bleSuffix(options_.config.ble.mac);
    const std::string base = options_.simulate ? "sim_" + ttyName(port_) : ttyName(port_);
    return pb_ ? base + "_" + std::to_string(address) : base;
}

bool Daemon::identify(std::uint8_t address, Pack& p, Clock::time_point now) {
    if (p.key) return true;
    if (!p.snapshot) return false;
    if (auto key = domain::serialKey(p.snapshot->identity.serialNumber)) {
        p.key = std::move(key);
        return true;
    }
    // JK-PB, BLE: the serial comes with the device-info frame, asked first; some firmware
    // answers it only now and then, a BMS master never asks for it.
    const bool seen = p.frames && p.frames->haveDeviceInfo();
    // Listening under a BMS master: only what the master asks for is heard, and it does not
    // ask for device info - no use waiting.
    const bool listening = pbPoller_ && pbPoller_->listening();
    if (!seen && !listening && now - p.firstReading < options_.config.dbus.identityWait) return false;
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(options_.config.dbus.identityWait).count();
    p.key = domain::placeKey(place(address), seen        ? std::string{"its device-info frame has no serial number"}
                                             : listening ? std::string{"a BMS master drives the bus and the serial "
                                                                       "number (device-info frame) was not heard"}
                                                         : "no device-info frame (serial number) within " +
                                                               std::to_string(waited) + " ms");
    if (ble_) p.key->label = "MAC " + options_.config.ble.mac;
    return true;
}

void Daemon::renew(std::uint8_t address) {
    // Whoever answers at this address may be another pack (swapped while it was away): it is
    // identified again from scratch - device info asked again, its key decided anew - and
    // gets a fresh service and engine. Its saved charge state comes back only through the
    // fingerprint check (readState), as at a start; the old state was saved when it left.
    spdlog::info("{}: answers again: identified afresh (it may be another pack), then its service returns",
                 name(address));
    if (pbPoller_) pbPoller_->setGone(address, false);
    packs_.erase(address);  // the old service (already off the bus), engine, key and frames
    publishBank();
}

void Daemon::listenTick() {
    listenTimer_->expires_after(options_.config.poll.interval);
    listenTimer_->async_wait([this](const boost::system::error_code& ec) {
        if (ec || exitCode_) return;
        const auto now = Clock::now();
        if (!pbPoller_ || !pbPoller_->listening()) {
            listenTick();
            return;
        }
        // Under a master each pack is heard once per master cycle: a silence is judged by the
        // comms times alone (the monitor), one miss counted per interval for the log lines.
        for (auto& [a, each] : packs_) {
            if (!each.snapshot || each.gone || each.monitor.silentFor(now) < options_.config.poll.interval * 2) continue;
            ++each.missedInRow;
            evaluate(a, each);
            if (exitCode_) return;
        }
        listenTick();
    });
}

void Daemon::startService(std::uint8_t address, Pack& p) {
    const bool ble = ble_ != nullptr;
    const std::string tty = ble ? dbus::bleSuffix(options_.config.ble.mac) : ttyName(port_);
    dbus::BatteryServiceConfig sc;
    const std::string base = options_.simulate ? "sim_" + tty : tty;
    sc.busNameSuffix = pb_ ? base + "_" + std::to_string(address) : base;
    // localsettings knows the battery by its key (identify()); the bus name stays the port's.
    const domain::BatteryKey& key = *p.key;
    sc.uniqueId = key.uid;
    sc.lockIdentity = key.fromBms;
    sc.fallbackUid = domain::placeKey(sc.busNameSuffix, "").uid;
    // An id seen on two BMSes before (a marker under the state dir): keyed by the port from the
    // start, whichever daemon starts first - the p.key itself stays (it is compared with
    // every NW reading).
    const bool knownDuplicate =
        key.fromBms && (sharedIds_.contains(key.uid) || std::filesystem::exists(duplicateMarker(key.uid)));
    if (knownDuplicate) {
        sc.uniqueId = sc.fallbackUid;
        sc.lockIdentity = false;
        const std::string marker = duplicateMarker(key.uid);
        spdlog::warn("{}: battery {} keyed by its port ({}): another BMS on this GX reported the same id ({})",
                     name(address), key.label, sc.uniqueId, marker.empty() ? key.uid : marker);
    } else if (key.fromBms) {
        spdlog::info("{}: battery {} ({})", name(address), key.label, key.uid);
    } else {
        spdlog::info("{}: battery keyed by {} ({}): {}", name(address), key.label, key.uid, key.why);
    }
    // Two packs tell themselves apart in the GUI and systemcalc's lists without a custom name.
    // A fallback key names the place: packs under one master differ by their address.
    const std::string placeName =
        ble ? "JK BMS (" + options_.config.ble.mac + ")" : "JK BMS (" + tty + (pb_ ? " #" + std::to_string(address) : "") + ")";
    sc.identity.productName = key.fromBms && !knownDuplicate ? "JK BMS (" + key.label + ")" : placeName;
    sc.fallbackProductName = placeName;  // the identity lock taken: keyed by the place
    sc.preferredInstance = options_.config.dbus.deviceInstance + (pb_ ? address - 1 : 0);
    sc.settingsWait = options_.config.dbus.settingsWait;
    sc.settingsRetry = options_.config.dbus.settingsRetry;
    sc.items.propertiesChangedPerLeaf = options_.config.dbus.propertiesChanged;
    sc.identity.processVersion = options_.version;
    sc.identity.connection = ble ? "Bluetooth " + options_.config.ble.mac
                                 : (options_.simulate ? "Simulated serial " : pb_ ? "RS485 " : "Serial ") + tty +
                                       (pb_ ? " address " + std::to_string(address) : "");
    // BLE is not a link systemcalc should trust as the voltage source (SVS).
    sc.identity.insecureConnection = ble;
    sc.identity.bankMember = bank_.value_or(false) || options_.config.bank.member;
    if (bankService_) sc.identity.bankService = bankService_->busName();
    if (power_) {
        sc.identity.power = powerItem(p);
        sc.onPowerWrite = [this](bool on) {
            const auto press = on ? power::Press::On : power::Press::Off;
            const std::string refused = power_->press(press, "asked on D-Bus");
            if (!refused.empty()) {
                spdlog::warn("power: {} press asked on D-Bus refused: {}", power::pressName(press), refused);
                return false;
            }
            publishPower();
            // An off press takes the values and limits out of DVCC now, not when the BMS falls silent.
            for (auto& [a, each] : packs_)
                if (!each.gone) updateState(a, each);
            return true;
        };
    }
    sc.onSwitchWrite = [this, address](dbus::BmsSwitch which, bool on) { return switchWrite(address, which, on); };
    std::optional<std::string> address_;
    if (!options_.config.dbus.address.empty()) address_ = options_.config.dbus.address;
    try {
        p.service = std::make_unique<dbus::BatteryService>(io_, dbus::connectBus(address_), std::move(sc));
    } catch (const std::exception& e) {
        stop(ExitCode::DbusFailed, std::string{"cannot connect to D-Bus: "} + e.what());
        return;
    }
    p.service->onNegotiated([this, address](const dbus::DeviceSettings& settings) {
        Pack& negotiated = packs_.at(address);
        // The identity lock was taken (BatteryService fell back): remember the id as shared,
        // so the next start keys both BMSes by their ports, whatever the start order.
        if (negotiated.key && negotiated.key->fromBms && negotiated.service->uniqueId() != negotiated.key->uid) {
            sharedIds_.insert(negotiated.key->uid);
            markDuplicate(address, negotiated.key->uid);
        }
        startCharge(address, negotiated, settings);
        stepCharge(address, negotiated);
        publish(negotiated);  // the first reading and its limits are in the tree before the name is claimed
    });
    p.service->onPersisted([this, address](const dbus::DeviceSettings& settings) {
        onPersisted(address, packs_.at(address), settings);
    });
    // The holder of the id told that another BMS reports it: the service is dropped once its
    // reply handler has returned.
    p.service->onDuplicate([this, address] {
        boost::asio::post(io_, [this, address, alive = std::weak_ptr<int>{alive_}] {
            if (alive.lock()) rekeyByPort(address);  // not after the daemon is gone
        });
    });
    p.service->start([this](bool ok, const std::string& error) {
        if (!ok) stop(ExitCode::DbusFailed, error);
    });
}

void Daemon::rekeyByPort(std::uint8_t address) {
    auto it = packs_.find(address);
    if (exitCode_ || it == packs_.end() || !it->second.key || !it->second.service) return;
    Pack& p = it->second;
    // The key (who the BMS says it is) stays: an NW reading is still compared with it. The
    // service (its lock and bus name released), the engine and what it saved go; a new
    // service is keyed by the port, its charge state restored only through the fingerprint
    // check, as at a start.
    sharedIds_.insert(p.key->uid);
    markDuplicate(address, p.key->uid);
    p.service.reset();
    p.engine.reset();
    p.limits = {};
    p.restored = p.modeChanged = false;
    p.statePath.clear();
    p.lastSavedText.clear();
    p.saveWarned = false;
    p.chargeNotes.clear();
    if (!p.gone) startService(address, p);
}

void Daemon::publish(Pack& p) {
    if (!p.service) return;
    // Values outside their plausible range are published invalid (batteryPaths); said once
    // when they appear and once when they are back, not at every poll.
    if (p.snapshot && p.monitor.state(Clock::now()) != domain::CommsState::Lost) {
        std::set<std::string> now;
        for (const auto& bad : domain::outOfRangeValues(*p.snapshot)) {
            if (!p.outOfRange.contains(bad.what))
                spdlog::warn("{}: {}: published invalid", p.service->busName(), bad.text());
            now.insert(bad.what);
        }
        for (const auto& was : p.outOfRange)
            if (!now.contains(was)) spdlog::info("{}: {} is back in range", p.service->busName(), was);
        p.outOfRange = std::move(now);
    }
    if (power_) p.service->setPower(powerItem(p));
    // Lost communication invalidates the limits in the mapping itself (one batch).
    p.service->publish(p.snapshot, p.limits, commsState(p, Clock::now()));
    // Polling a JK-PB bus: once per round (onRoundEnd), which is within the poll that brought
    // the reading; listening under a master there are no rounds: once per loop turn.
    if (pbPoller_ && !pbPoller_->listening()) bankDirty_ = true;
    else publishBank();
}

std::optional<bool> Daemon::bankChoice() const {
    const auto& bank = options_.config.bank;
    if (!pb_ || !bank.enabled || bank.member) return false;
    const auto& configured = options_.config.serial.addresses;
    if (!configured.empty()) return configured.size() >= 2;
    // Under a BMS master there are several packs by definition.
    if (pbPoller_ && pbPoller_->listening()) return true;
    if (discovered_) return discovered_->size() >= 2;
    return std::nullopt;
}

void Daemon::startBank() {
    const std::string tty = ttyName(port_);
    const std::string base = options_.simulate ? "sim_" + tty : tty;
    dbus::BatteryServiceConfig sc;
    sc.bank = true;
    sc.busNameSuffix = base + "_bank";
    // Keyed by the port (the packs come and go; the bank stays where they are).
    sc.uniqueId = domain::placeKey(sc.busNameSuffix, "").uid;
    sc.identity.productName = "JK BMS bank (" + tty + ")";
    sc.identity.connection = (options_.simulate ? "Simulated RS485 " : "RS485 ") + tty + " (bank of JK-PB packs)";
    sc.identity.processVersion = options_.version;
    // After the members' instances (the configured one + address - 1).
    sc.preferredInstance = options_.config.dbus.deviceInstance + 15;
    sc.settingsWait = options_.config.dbus.settingsWait;
    sc.settingsRetry = options_.config.dbus.settingsRetry;
    sc.items.propertiesChangedPerLeaf = options_.config.dbus.propertiesChanged;
    std::optional<std::string> address;
    if (!options_.config.dbus.address.empty()) address = options_.config.dbus.address;
    try {
        bankService_ = std::make_unique<dbus::BatteryService>(io_, dbus::connectBus(address), std::move(sc));
    } catch (const std::exception& e) {
        stop(ExitCode::DbusFailed, std::string{"cannot connect to D-Bus: "} + e.what());
        return;
    }
    spdlog::info("{}: the JK-PB packs are one battery for DVCC: {} (their own services without /Info/Max*)", port_,
                 bankService_->busName());
    bankService_->onNegotiated([this](const dbus::DeviceSettings&) { combineBank(); });
    bankService_->start([this](bool ok, const std::string& error) {
        if (!ok) stop(ExitCode::DbusFailed, error);
    });
}

void Daemon::publishBank() {
    if (!bankService_ || bankPosted_ || exitCode_) return;
    // Recombined once the handler that changed a pack has returned: one per loop turn.
    bankPosted_ = true;
    boost::asio::post(io_, [this, alive = std::weak_ptr<int>{alive_}] {
        if (!alive.lock()) return;
        bankPosted_ = false;
        util::guarded("bank", [this] { combineBank(); });
    });
}

void Daemon::combineBank() {
    if (!bankService_ || exitCode_) return;
    bankDirty_ = false;  // every pack's update so far is in this one
    ++bankCombinations_;
    std::vector<domain::BankMember> members;
    members.reserve(packs_.size());
    // Every pack the bus is known to have: configured, discovered, or heard.
    std::set<std::uint8_t> expected(options_.config.serial.addresses.begin(), options_.config.serial.addresses.end());
    if (discovered_) expected.insert(discovered_->begin(), discovered_->end());
    for (const auto& [a, p] : packs_) expected.insert(a);
    for (const std::uint8_t a : expected) {
        const std::string member = "P" + std::to_string(a);
        const auto it = packs_.find(a);
        const Pack* p = it == packs_.end() ? nullptr : &it->second;
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
    const auto& bank = options_.config.bank;
    domain::BankReading reading = domain::combineBank(members, domain::BankRules{bank.shareCurrentA, bank.shareMargin});
    if (reading.status != bankStatus_) {
        if (reading.silent.empty()) spdlog::info("{}: {}", bankService_->busName(), reading.status);
        else spdlog::warn("{}: {}", bankService_->busName(), reading.status);
        bankStatus_ = reading.status;
    }
    bankService_->publishBank(std::move(reading));
}

void Daemon::stop(ExitCode code, const std::string& why) {
    if (exitCode_) return;
    exitCode_ = code;
    if (code == ExitCode::Stopped) spdlog::info("stopping ({})", why);
    else spdlog::error("exiting: {}", why);
    if (power_) power_->shutdown();  // the contact opens, whatever press runs
    // The timers as they are now (sent before the names are released below).
    for (auto& [a, each] : packs_)
        if (each.engine && !each.gone) saveCharge(a, each);
    if (listenTimer_) listenTimer_->cancel();
    if (nwPoller_) nwPoller_->stop();
    if (pbPoller_) pbPoller_->stop();
    if (bleTimer_) bleTimer_->cancel();
    if (ble_) ble_->stop();
    signals_.cancel();
    auto finish = [this] {
        stopTimer_.cancel();
        if (link_) link_->close();
        if (bluezLoop_) bluezLoop_->stop();
        if (relayLoop_) relayLoop_->stop();
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
    if (bankService_ && bankService_->state() == dbus::BatteryService::State::Registered) {
        ++*pending;
        bankService_->release([pending, finish] {
            if (--*pending == 0) finish();
        });
    }
    for (auto& [a, p] : packs_) {
        if (p.service && p.service->state() == dbus::BatteryService::State::Registered) {
            ++*pending;
            p.service->release([pending, finish] {
                if (--*pending == 0) finish();
            });
        }
    }
    if (*pending == 0) finish();
}

}  // namespace jkbms::app
