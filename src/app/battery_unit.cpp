#include "jkbms/app/battery_unit.hpp"

#include <boost/asio/post.hpp>
#include <sdbus-c++/IConnection.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/domain/plausible_ranges.hpp"

namespace jkbms::app {
namespace {

// The charge state is written on each mode change (a full charge is one: Float is entered),
// at a clean stop, and this often while a timer runs (Absorption, Equalize): the timers lose
// at most this much at a power cut, and the flash sees a few writes a day.
constexpr auto kTimedSaveEvery = std::chrono::minutes(30);
// The history's extremes and energies move all the time: written at most this often (its
// events - a sync, a full discharge, a protection counted - at once).
constexpr auto kHistorySaveEvery = std::chrono::hours(1);

// The longest gap between two readings the history's energies count: beyond it the BMS was
// not answering (stale), or at least two poll intervals.
double historyGapS(const config::Config& c) {
    return std::max(std::chrono::duration<double>(c.comms.staleAfter).count(),
                    2 * std::chrono::duration<double>(c.poll.interval).count());
}

}  // namespace

BatteryUnit::BatteryUnit(UnitHost& host, UnitPlace place)
    : monitor(host.config().comms), host_(host), place_(std::move(place)), history_(historyGapS(host.config())) {}

bool BatteryUnit::onReading(Clock::time_point now) {
    if (!monitor.everRead()) firstReading_ = now;
    monitor.onReading(now);
    if (service) updateState();  // before the reset: the line says how many were missed
    else lastState = commsState(now);
    missedInRow = 0;
    if (!service) return false;
    stepCharge();
    stepHistory(now);
    publish();
    return true;
}

bool BatteryUnit::identify(Clock::time_point now, bool listening) {
    if (key) return true;
    if (!snapshot) return false;
    if (auto serial = domain::serialKey(snapshot->identity.serialNumber)) {
        key = std::move(serial);
        return true;
    }
    // JK-PB, BLE: the serial comes with the device-info frame, asked first; some firmware
    // answers it only now and then, a BMS master never asks for it.
    const bool seen = frames && frames->haveDeviceInfo();
    // Listening under a BMS master: only what the master asks for is heard, and it does not
    // ask for device info - no use waiting.
    const auto wait = host_.config().dbus.identityWait;
    if (!seen && !listening && now - firstReading_ < wait) return false;
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count();
    key = domain::placeKey(place_.suffix, seen        ? std::string{"its device-info frame has no serial number"}
                                          : listening ? std::string{"a BMS master drives the bus and the serial "
                                                                    "number (device-info frame) was not heard"}
                                                      : "no device-info frame (serial number) within " +
                                                            std::to_string(waited) + " ms");
    if (!place_.keyLabel.empty()) key->label = place_.keyLabel;
    return true;
}

void BatteryUnit::startService() {
    const auto& config = host_.config();
    dbus::BatteryServiceConfig sc;
    sc.busNameSuffix = place_.suffix;
    // localsettings knows the battery by its key (identify()); the bus name stays the port's.
    const domain::BatteryKey& k = *key;
    sc.uniqueId = k.uid;
    sc.lockIdentity = k.fromBms;
    sc.fallbackUid = domain::placeKey(sc.busNameSuffix, "").uid;
    // An id seen on two BMSes before (a marker under the state dir): keyed by the port from the
    // start, whichever daemon starts first - the key itself stays (it is compared with every
    // NW reading).
    const bool knownDuplicate =
        k.fromBms && (host_.sharedId(k.uid) || std::filesystem::exists(duplicateMarker(k.uid)));
    if (knownDuplicate) {
        sc.uniqueId = sc.fallbackUid;
        sc.lockIdentity = false;
        const std::string marker = duplicateMarker(k.uid);
        spdlog::warn("{}: battery {} keyed by its port ({}): another BMS on this GX reported the same id ({})",
                     name(), k.label, sc.uniqueId, marker.empty() ? k.uid : marker);
    } else if (k.fromBms) {
        spdlog::info("{}: battery {} ({})", name(), k.label, k.uid);
    } else {
        spdlog::info("{}: battery keyed by {} ({}): {}", name(), k.label, k.uid, k.why);
    }
    // Two packs tell themselves apart in the GUI and systemcalc's lists without a custom name.
    // A fallback key names the place: packs under one master differ by their address.
    sc.identity.productName = k.fromBms && !knownDuplicate ? "JK BMS (" + k.label + ")" : place_.productName;
    sc.fallbackProductName = place_.productName;  // the identity lock taken: keyed by the place
    sc.preferredInstance = place_.preferredInstance;
    sc.settingsWait = config.dbus.settingsWait;
    sc.settingsRetry = config.dbus.settingsRetry;
    sc.items.propertiesChangedPerLeaf = config.dbus.propertiesChanged;
    sc.identity.processVersion = host_.version();
    sc.identity.connection = place_.connection;
    // BLE is not a link systemcalc should trust as the voltage source (SVS).
    sc.identity.insecureConnection = place_.insecure;
    sc.identity.bankMember = host_.bankMember();
    sc.identity.bankService = host_.bankServiceName();
    if (const GxSettings* bank = host_.bankSettings(); bank && bank->created()) sc.identity.settingsPath = bank->basePath();
    sc.identity.configError = host_.configError();
    if (host_.power()) {
        sc.identity.power = powerItem();
        sc.onPowerWrite = [this](bool on) { return host_.powerWrite(on); };
    }
    sc.onSwitchWrite = [this](dbus::BmsSwitch which, bool on) { return host_.switchWrite(place_.address, which, on); };
    if (host_.config().charge.enabled)  // the history is kept with the charge state
        sc.onHistoryClear = [this] {
            history_.clear();
            service->setHistory(history_.figures());
            saveCharge();
        };
    std::optional<std::string> address;
    if (!config.dbus.address.empty()) address = config.dbus.address;
    try {
        service = std::make_unique<dbus::BatteryService>(host_.io(), dbus::connectBus(address), std::move(sc));
    } catch (const std::exception& e) {
        host_.failed(ExitCode::DbusFailed, std::string{"cannot connect to D-Bus: "} + e.what());
        return;
    }
    service->onNegotiated([this](const dbus::DeviceSettings& settings) {
        // The identity lock was taken (BatteryService fell back): remember the id as shared,
        // so the next start keys both BMSes by their ports, whatever the start order.
        if (key && key->fromBms && service->uniqueId() != key->uid) {
            host_.shareId(key->uid);
            markDuplicate(key->uid);
        }
        startCharge(settings);
        if (settings.persisted) startGxSettings();
        stepCharge();
        publish();  // the first reading and its limits are in the tree before the name is claimed
    });
    service->onPersisted([this](const dbus::DeviceSettings& settings) { onPersisted(settings); });
    // The holder of the id told that another BMS reports it: the service is dropped once its
    // reply handler has returned.
    service->onDuplicate([this] {
        boost::asio::post(host_.io(), [this, alive = std::weak_ptr<int>{alive_}] {
            if (alive.lock()) rekeyByPort();  // not after the unit (or the daemon) is gone
        });
    });
    service->start([this](bool ok, const std::string& error) {
        if (!ok) host_.failed(ExitCode::DbusFailed, error);
    });
}

void BatteryUnit::leave() {
    gone = true;
    if (engine_) saveCharge();
    if (service) service->release();
}

void BatteryUnit::rekeyByPort() {
    if (host_.stopping() || !key || !service) return;
    // The key (who the BMS says it is) stays: an NW reading is still compared with it. The
    // service (its lock and bus name released), the engine and what it saved go; a new
    // service is keyed by the port, its charge state restored only through the fingerprint
    // check, as at a start.
    host_.shareId(key->uid);
    markDuplicate(key->uid);
    gx_.reset();  // keyed by the old uid; on the service's connection
    service.reset();
    engine_.reset();
    limits_ = {};
    restored_ = modeChanged_ = false;
    statePath_.clear();
    lastSavedText_.clear();
    saveWarned_ = false;
    chargeNotes_.clear();
    history_ = domain::BatteryHistory(historyGapS(host_.config()));  // restored with the state, if it is this battery's
    lastHistoryStep_ = {};
    if (!gone) startService();
}

domain::CommsState BatteryUnit::commsState(Clock::time_point now) const {
    const PowerControl* power = host_.power();
    if (power && (power->switchedOff() || power->running() == power::Press::Off)) return domain::CommsState::Off;
    return monitor.state(now);
}

void BatteryUnit::updateState() {
    using domain::CommsState;
    const auto state = commsState(Clock::now());
    if (state == lastState) return;
    if (state == CommsState::Off)
        spdlog::info("{}: switched off on request: values and limits invalidated", name());
    else if (state == CommsState::Ok)
        spdlog::info("restored: {} answers again{}", name(),
                     lastState == CommsState::Off ? "" : " after " + std::to_string(missedInRow) + " missed polls");
    else if (lastState == CommsState::Off)
        spdlog::info("{}: no longer switched off; waiting for its answer", name());
    else if (state == CommsState::Stale)
        spdlog::warn("lost contact: no answer from {} for {} polls", name(), missedInRow);
    else if (state == CommsState::Lost)
        spdlog::error("BMS lost: {}: values and limits invalidated after {} missed polls", name(), missedInRow);
    lastState = state;
    publish();
    host_.changed(true);  // a pack stale, lost, off or back: the bank follows at once, not at the round's end
}

void BatteryUnit::publish() {
    if (!service) return;
    // Values outside their plausible range are published invalid (batteryPaths); said once
    // when they appear and once when they are back, not at every poll.
    if (snapshot && monitor.state(Clock::now()) != domain::CommsState::Lost) {
        std::set<std::string> now;
        for (const auto& bad : domain::outOfRangeValues(*snapshot)) {
            if (!outOfRange_.contains(bad.what))
                spdlog::warn("{}: {}: published invalid", service->busName(), bad.text());
            now.insert(bad.what);
        }
        for (const auto& was : outOfRange_)
            if (!now.contains(was)) spdlog::info("{}: {} is back in range", service->busName(), was);
        outOfRange_ = std::move(now);
    }
    if (host_.power()) service->setPower(powerItem());
    if (engine_) service->setHistory(history_.figures());
    // Lost communication invalidates the limits in the mapping itself (one batch).
    service->publish(snapshot, limits_, commsState(Clock::now()));
    host_.changed(false);
}

dbus::PowerItem BatteryUnit::powerItem() const {
    const PowerControl& power = *host_.power();
    if (auto running = power.running())
        return *running == power::Press::On ? dbus::PowerItem{1, "pressing on"} : dbus::PowerItem{0, "switching off"};
    if (power.switchedOff()) return {0, "off"};
    if (lastState == domain::CommsState::Lost) return {0, "off (not answering)"};
    if (power.awaitingAnswer()) return {1, "starting"};
    return {1, "on"};
}

void BatteryUnit::startCharge(const dbus::DeviceSettings& settings) {
    const auto& cfg = host_.config().charge;
    if (!cfg.enabled) return;
    // A pack of a bank: the bank's GX settings; else config.yaml's until this battery's own
    // settings have been read (startGxSettings).
    const GxSettings* bank = host_.bankSettings();
    engine_.emplace(bank ? bank->current().charge : cfg.engine);
    lastStep_ = lastSaved_ = Clock::now();
    // Keyed by the battery (its settings key), never by the port.
    if (!cfg.stateDir.empty()) statePath_ = cfg.stateDir + "/" + service->uniqueId() + ".state";
    const auto wallNow = std::chrono::system_clock::now();
    std::optional<charge::EngineState> restored;
    std::string from;
    if (!settings.chargeState.empty()) {
        restored = readState(parseChargeState(settings.chargeState, wallNow), "localsettings");
        from = "localsettings";
    }
    if (!restored && !statePath_.empty()) {
        restored = readState(loadChargeState(statePath_, wallNow), statePath_);
        from = statePath_;
    }
    if (restored) {
        engine_->restore(*restored);
        restored_ = true;
        spdlog::info("{}: charge state restored from {}: {}", name(), from, charge::chargeModeName(restored->mode));
    }
}

std::optional<charge::EngineState> BatteryUnit::readState(ChargeStateRead read, const std::string& source) {
    // One warning per source with every problem in it; an unusable state is replaced at the
    // next save.
    if (!read.problems.empty()) {
        std::string list;
        for (const auto& problem : read.problems) list += (list.empty() ? "" : "; ") + problem;
        spdlog::warn("{}: charge state in {} {}: {}", name(), source,
                     read.state ? "read, with notes" : "not used (starting in Bulk)", list);
    }
    if (!read.state) return std::nullopt;
    // Never another battery's state (a port swap, a copied setting or file, a state from
    // before the battery= line): Float and its full-charge time belong to one battery.
    const std::string& mine = service->uniqueId();
    if (read.battery != mine) {
        spdlog::warn("{}: charge state in {} {}, not to this one ({}): not used (starting in Bulk)", name(), source,
                     read.battery.empty() ? "does not say which battery it belongs to" : "belongs to battery " + read.battery,
                     mine);
        return std::nullopt;
    }
    // The key may be a fallback (the port, the port and address) or shared by two boards: the
    // state must also look like this battery (cell count, capacity, counters since it was
    // written), else a different pack would inherit Float or a running absorption.
    const auto current = snapshot ? fingerprintOf(*snapshot) : BatteryFingerprint{};
    if (const std::string why = whyNotThisBattery(read, current, std::chrono::system_clock::now(), key && key->fromBms);
        !why.empty()) {
        spdlog::warn("{}: charge state in {} not used (starting in Bulk): it may be another battery's: {}", name(),
                     source, why);
        return std::nullopt;
    }
    if (read.history) history_.restore(*read.history);
    return read.state;
}

void BatteryUnit::startGxSettings() {
    if (gx_ || !service || !host_.bankServiceName().empty()) return;  // a pack of a bank: the bank's
    gx_ = std::make_unique<GxSettings>(service->connection(), service->uniqueId(), name(), host_.config(),
                                       host_.power() != nullptr, [this](const Tunables& tunables) {
                                           reconfigure(tunables.charge);
                                           if (host_.power()) host_.setPressTimes(tunables.press);
                                           if (gx_) setSettingsPath(gx_->basePath());
                                       });
    gx_->retryOn(host_.io(), host_.config().dbus.settingsRetry);
    gx_->start();
}

void BatteryUnit::reconfigure(const charge::ChargeConfig& config) {
    if (!engine_) return;
    if (const auto problems = engine_->reconfigure(config); !problems.empty())
        spdlog::warn("{}: charge settings not applied: {}", name(), problems.front());
}

void BatteryUnit::setSettingsPath(const std::string& path) {
    if (service) service->setSettingsPath(path);
}

void BatteryUnit::onPersisted(const dbus::DeviceSettings& settings) {
    startGxSettings();  // localsettings is there now
    if (!engine_) return;
    // Nothing was restored at start (localsettings was not there) and the engine has not
    // moved on since: its state, when it has one for this battery, is better than a fresh
    // Bulk; otherwise ours goes there now.
    if (!restored_ && !modeChanged_ && !settings.chargeState.empty()) {
        if (auto state = readState(parseChargeState(settings.chargeState, std::chrono::system_clock::now()),
                                   "localsettings")) {
            engine_->restore(*state);
            restored_ = true;
            spdlog::info("{}: charge state restored from localsettings: {}", name(), charge::chargeModeName(state->mode));
            lastSavedText_ = savedStateOf();
            return;
        }
    }
    saveCharge(true);
}

void BatteryUnit::stepCharge() {
    const auto& cfg = host_.config().charge;
    // Limits need a BMS that measures current and reports alarms (not a JK04 balancer), and
    // an engine (started once localsettings has answered).
    if (!cfg.enabled || !engine_ || !snapshot || !snapshot->currentA || !snapshot->alarmsReported) {
        limits_ = {};
        return;
    }
    const auto now = Clock::now();
    const auto before = engine_->state().mode;
    const auto warnedBefore = engine_->state().warnings;
    const double dt = std::chrono::duration<double>(now - lastStep_).count();
    lastStep_ = now;
    limits_ = engine_->step(*snapshot, dt);
    const auto after = engine_->state().mode;
    for (std::size_t i = 0; i < static_cast<std::size_t>(domain::Alarm::Count_); ++i) {
        const auto a = static_cast<domain::Alarm>(i);
        if (warnedBefore.has(a) != limits_.warnings.has(a))
            spdlog::info("{}: warning {} {}", name(), domain::alarmName(a), limits_.warnings.has(a) ? "raised" : "cleared");
    }
    if (!limits_.modeChange.empty()) spdlog::info("{}: charge {}", name(), limits_.modeChange);
    if (limits_.notes != chargeNotes_) {
        chargeNotes_ = limits_.notes;
        if (!chargeNotes_.empty()) spdlog::info("{}: charge limits: {}", name(), chargeNotes_);
    }
    // Kept on a mode change (a full charge enters Float) and every kTimedSaveEvery while a
    // timer runs (Absorption, Equalize). Bulk and Float keep only times of events (full
    // charge, equalize), which do not age in the text: nothing to write until the next change.
    if (after != before) modeChanged_ = true;
    const bool timed = after == charge::ChargeMode::Absorption || after == charge::ChargeMode::Equalize;
    if (after != before || (timed && now - lastSaved_ >= kTimedSaveEvery)) saveCharge();
}

std::string BatteryUnit::duplicateMarker(const std::string& uid) const {
    const auto& dir = host_.config().charge.stateDir;
    return dir.empty() ? std::string{} : dir + "/" + uid + ".duplicate";
}

void BatteryUnit::markDuplicate(const std::string& uid) {
    const std::string marker = duplicateMarker(uid);
    if (marker.empty() || std::filesystem::exists(marker)) return;
    std::error_code ec;
    std::filesystem::create_directories(host_.config().charge.stateDir, ec);
    std::string error;
    if (saveChargeState(marker, "two BMSes on this GX report this id; both are keyed by their ports\n", error))
        spdlog::info("{}: {} recorded as shared: from the next start both BMSes are keyed by their ports", name(), marker);
    else
        spdlog::warn("{}: the shared id cannot be recorded in {}: {}", name(), marker, error);
}

void BatteryUnit::stepHistory(Clock::time_point now) {
    if (!engine_ || !snapshot) return;  // kept with the charge state, from its restore on
    const double dtS = lastHistoryStep_ == Clock::time_point{} ? 0.0
                                                                : std::chrono::duration<double>(now - lastHistoryStep_).count();
    lastHistoryStep_ = now;
    const auto change = history_.update(*snapshot, dtS);
    if (change == domain::BatteryHistory::Change::Event ||
        (change == domain::BatteryHistory::Change::Figure && now - lastSaved_ >= kHistorySaveEvery))
        saveCharge();
}

std::string BatteryUnit::savedStateOf() const {
    std::string text = formatChargeState(engine_->state(), std::chrono::system_clock::now(), service->uniqueId(),
                                         std::nullopt, &history_.figures());
    std::replace(text.begin(), text.end(), '\n', ';');
    return text;
}

void BatteryUnit::saveCharge(bool force) {
    if (!engine_ || !service) return;
    lastSaved_ = Clock::now();
    std::optional<BatteryFingerprint> fingerprint;
    if (snapshot) fingerprint = fingerprintOf(*snapshot);
    std::string text = formatChargeState(engine_->state(), std::chrono::system_clock::now(), service->uniqueId(), fingerprint,
                                         &history_.figures());
    std::string oneLine = text;
    std::replace(oneLine.begin(), oneLine.end(), '\n', ';');
    // Unchanged: no write. Compared without the fingerprint, whose counters and written_at
    // move all the time: older counters only make the check at restore looser, not wrong.
    const std::string state = savedStateOf();
    if (state == lastSavedText_ && !force) return;
    // Counted as written only once localsettings has stored it: a refused or failed write is
    // made again at the next save (the stop, the next timed save).
    const bool toSettings = service->storeChargeState(oneLine, [this, state, alive = std::weak_ptr<int>{alive_}](bool stored) {
        if (stored && alive.lock() && service) lastSavedText_ = state;
    });
    if (toSettings || statePath_.empty()) return;
    std::string error;
    if (saveChargeState(statePath_, text, error)) lastSavedText_ = state;
    else if (!saveWarned_) {
        spdlog::warn("{}: charge state cannot be saved to {}: {} (it will not survive a restart)", name(), statePath_,
                     error);
        saveWarned_ = true;
    }
}

}  // namespace jkbms::app
