#pragma once
// BatteryUnit: one BMS as one battery - NW has one (address 0), a JK-PB bus one per DIP
// address, BLE one. It owns what concerns that BMS alone: its readings so far, its key,
// its lost-communication monitor, its charge engine and saved charge state, and its D-Bus
// battery service. The transports (sessions) hand it readings and misses through the
// daemon; what it needs from the rest of the daemon (the relay, the bank, switch writes on
// the transport, giving up) it asks through UnitHost.
//
//   identifying a unit's key (domain::BatteryKey: NW id fields, JK-PB / BLE serial) decides its
//               device instance, custom name and charge state in localsettings. NW has it in
//               every reading; JK-PB and BLE wait for the device-info frame (asked first) up
//               to dbus.identity_wait, then fall back to the port and address (the MAC).
//   serving     the service starts: the instance is negotiated, every path is built from the
//               latest reading, then the name is claimed.
//   stale/lost  per CommsMonitor: a warning, then everything from that BMS invalid in one
//               batch, each change of state logged in one line. After exit_after a JK-PB
//               pack's service leaves the bus (leave()); the daemon decides the rest.
//   charge      one engine per BMS, stepped on each reading once localsettings answered; its
//               state is kept in localsettings (else a file under charge.state_dir) on each
//               mode change, every 30 min while a timer runs, and at a clean stop.
//   shared id   two BMSes report the same id: both are keyed by their ports (rekeyByPort,
//               a marker under charge.state_dir for the next start).
//   history     the /History figures (domain::BatteryHistory), stepped with each reading once
//               served, kept with the charge state (so only with charge.enabled): written at
//               once after an event (a sync, a full discharge, a protection counted), at most
//               hourly for the rest (extremes, energies), and at a clean stop. /History/Clear
//               empties them.
//   GX settings the settings a user changes on the GX (gx_settings.hpp), created under the
//               battery's /Settings/Devices/<uid>/JkBms once localsettings has answered and
//               applied live to its engine (and the relay's press times). A pack of a JK-PB
//               bank has none of its own: the bank's (host.bankSettings()) apply to it.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "jkbms/app/charge_state_file.hpp"
#include "jkbms/app/exit_code.hpp"
#include "jkbms/app/gx_settings.hpp"
#include "jkbms/app/power_control.hpp"
#include "jkbms/charge/charge_engine.hpp"
#include "jkbms/config/config.hpp"
#include "jkbms/dbus/battery_service.hpp"
#include "jkbms/domain/battery_history.hpp"
#include "jkbms/domain/battery_key.hpp"
#include "jkbms/domain/comms_monitor.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"

namespace jkbms::app {

// What a unit asks of the daemon that owns it. All calls come from the io_context's thread.
class UnitHost {
public:
    virtual ~UnitHost() = default;
    virtual boost::asio::io_context& io() = 0;
    virtual const config::Config& config() const = 0;
    virtual const std::string& version() const = 0;
    // The configuration was refused and the daemon runs on the defaults: the text each
    // service publishes (dbus::ServiceIdentity::configError); "" when it is fine.
    virtual const std::string& configError() const = 0;
    // The display-port relay; nullptr without one (no /Bms/Power, never Off).
    virtual const PowerControl* power() const = 0;
    // The daemon has decided to end: a unit starts nothing new.
    virtual bool stopping() const = 0;
    // This battery is a member of a bank (its limits go under /Bank/*), and the bank's bus
    // name when this daemon serves the bank ("" otherwise).
    virtual bool bankMember() const = 0;
    virtual std::string bankServiceName() const = 0;
    // Ids found on another BMS of this GX while running (keyed by the port from then on).
    virtual bool sharedId(const std::string& uid) const = 0;
    virtual void shareId(const std::string& uid) = 0;
    // The unit published: the bank recombines now (a change of state: stale, lost, off, back),
    // or when its poll round ends (a reading).
    virtual void changed(bool now) = 0;
    // A fatal error (D-Bus): the daemon ends with `code`.
    virtual void failed(ExitCode code, const std::string& why) = 0;
    // /Bms/Power written on D-Bus: true when the press was accepted (the daemon publishes it).
    virtual bool powerWrite(bool on) = 0;
    // /Bms/*Switch written on D-Bus: sent on the unit's transport; false when refused.
    virtual bool switchWrite(std::uint8_t address, dbus::BmsSwitch which, bool on) = 0;
    // The GX settings of the JK-PB bank this unit is a pack of (they apply to it, it has none
    // of its own); nullptr without an in-daemon bank, or before the bank's service negotiated.
    virtual const GxSettings* bankSettings() const = 0;
    // A unit's GX settings changed the relay's press times (only called with a relay).
    virtual void setPressTimes(const power::PressTimes& times) = 0;
};

// Where a unit is and how it is named; fixed when the daemon creates it.
struct UnitPlace {
    std::uint8_t address = 0;  // JK-PB DIP address; 0 for NW and BLE
    std::string name;          // in log lines: "ttyUSB0", "ttyUSB0 address 2", "BLE <mac>"
    std::string suffix;        // bus-name suffix and fallback key: "ttyUSB0", "ttyUSB0_2", "sim_pts_3"
    std::string productName;   // without a key from the BMS: "JK BMS (ttyUSB0 #2)"
    std::string connection;    // /Mgmt/Connection: "RS485 ttyUSB0 address 2"
    std::string keyLabel;      // a fallback key's label instead of the place ("MAC <mac>"), or ""
    bool insecure = false;     // BLE: no link systemcalc should trust as the voltage source
    int preferredInstance = 0; // the device instance asked for
};

class BatteryUnit {
public:
    using Clock = std::chrono::steady_clock;
    // The monitor runs on config().comms; the host outlives the unit.
    BatteryUnit(UnitHost& host, UnitPlace place);
    BatteryUnit(const BatteryUnit&) = delete;
    BatteryUnit& operator=(const BatteryUnit&) = delete;

    const UnitPlace& place() const { return place_; }
    const std::string& name() const { return place_.name; }

    // A reading is in `snapshot` (NW: and `key`): the monitor hears it, the state is
    // updated (one line when it changes), and a served unit steps its charge engine and
    // publishes. False: not served yet (the daemon decides when: identify(), the bank).
    bool onReading(Clock::time_point now);
    // The key when it is known or its wait (dbus.identity_wait) is over; false: not yet.
    // `listening`: a BMS master drives the bus (device info is never heard: no waiting).
    bool identify(Clock::time_point now, bool listening);
    // Builds the BatteryServiceConfig from the key and place and starts the service;
    // a bus that cannot be reached is host.failed(DbusFailed).
    void startService();
    // exit_after passed with other BMSes still answering: the charge state is saved and
    // the service leaves the bus (gone).
    void leave();
    // The holder of a shared id gave it up (another BMS reports it): the battery is keyed by
    // its port from now on - a new service and a fresh engine, as for a pack identified afresh.
    void rekeyByPort();
    // The state published: the monitor's, or Off from the moment an off press is accepted
    // until the BMS answers again or is pressed on (power::PowerControl::switchedOff).
    domain::CommsState commsState(Clock::time_point now) const;
    // Logs a change of the published state (one line), publishes it and tells the bank now.
    void updateState();
    // Values, limits and state to the service (out-of-range values logged once each way).
    void publish();
    dbus::PowerItem powerItem() const;
    // Writes the charge state when it changed (force: anyway), to localsettings or the file.
    void saveCharge(bool force = false);
    // A charge config from the GX's settings (its own or the bank's): the engine takes it
    // without losing its state (charge::ChargeEngine::reconfigure); one warning if it refuses
    // it. Without an engine (yet), nothing: a new engine starts from host.bankSettings() or
    // this unit's settings.
    void reconfigure(const charge::ChargeConfig& config);
    // /Mgmt/SettingsPath on this unit's service ("" while none).
    void setSettingsPath(const std::string& path);
    // Its own GX settings; nullptr for a pack of a bank, or before localsettings answered.
    const GxSettings* gxSettings() const { return gx_.get(); }

    // What the sessions and the daemon fill in and read.
    std::optional<domain::BatterySnapshot> snapshot;
    std::optional<domain::JkFrameMerger> frames;  // BLE / JK-PB: the 55 AA frames so far
    domain::CommsMonitor monitor;
    domain::CommsState lastState = domain::CommsState::Ok;
    std::uint64_t missedInRow = 0;                   // polls missed since the last reading
    std::unique_ptr<dbus::BatteryService> service;   // nullptr until served
    bool gone = false;                               // exit_after passed: left the bus
    std::optional<domain::BatteryKey> key;           // who it is, once known
    bool hasEngine() const { return engine_.has_value(); }

private:
    // The engine starts once localsettings has answered: its state comes from there (or from
    // the state file when there is no localsettings, or the setting is still empty).
    void startCharge(const dbus::DeviceSettings& settings);
    // Creates this battery's GX settings (not for a pack of a bank; once).
    void startGxSettings();
    // localsettings answered only after the service registered without it.
    void onPersisted(const dbus::DeviceSettings& settings);
    // A saved state that belongs to this battery (its key), else nullopt with one warning.
    // Its history, when the state has one, goes to history_.
    std::optional<charge::EngineState> readState(ChargeStateRead read, const std::string& source);
    // The reading into the history; saved as the history's change asks.
    void stepHistory(Clock::time_point now);
    void stepCharge();
    // The state as written, without its fingerprint (what decides "unchanged"): one line.
    std::string savedStateOf() const;
    // "<state_dir>/<uid>.duplicate" ("" without a state dir): the id was seen on two BMSes.
    std::string duplicateMarker(const std::string& uid) const;
    void markDuplicate(const std::string& uid);

    UnitHost& host_;
    UnitPlace place_;
    // Charge limits: one engine per BMS, stepped on each reading.
    std::optional<charge::ChargeEngine> engine_;
    domain::ChargeLimits limits_;
    Clock::time_point lastStep_{};
    Clock::time_point firstReading_{};
    bool restored_ = false;     // the engine started from a saved state
    bool modeChanged_ = false;  // the engine changed mode since it started
    std::string statePath_;
    Clock::time_point lastSaved_{};
    std::string lastSavedText_;  // savedStateOf() last written: not written again unchanged
    bool saveWarned_ = false;
    std::string chargeNotes_;          // the engine's notes last logged
    std::set<std::string> outOfRange_;  // what is published invalid as implausible (logged once)
    domain::BatteryHistory history_;
    Clock::time_point lastHistoryStep_{};  // the previous reading stepped into history_
    // The settings on the GX (declared after `service`, whose connection they use: destroyed
    // before it).
    std::unique_ptr<GxSettings> gx_;
    // Expires with the unit: work posted to the io_context for it checks it first.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace jkbms::app
