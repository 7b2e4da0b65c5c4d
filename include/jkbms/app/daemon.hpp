#pragma once
// Daemon: the whole of dbus-jkbms on one port (serial, or BLE) on one io_context - the
// mediator between the transports, the battery units (battery_unit.hpp: one per BMS, with
// its monitor, key, charge engine and service) and the bank over them (pb_bank.hpp). It owns
// the port's SerialLink and its transport session (transport_sessions.hpp: NwSession,
// PbBusSession or BleSession; which one exists is the mode), routes their readings and misses
// to the unit by address (SessionSink), and owns what concerns the whole port: the start
// probe, power, signals and the stop.
//
//   probing     protocol auto: NW read-alls for kNwProbe (3 s); no answer -> JK-PB discovery
//               of addresses 1-15 with short deadlines (200 ms); nothing -> exit code 1.
//   starting    the port is open and polled; nothing is on D-Bus yet. If no BMS answers
//               within comms.stale_after (after discovery, for JK-PB), the daemon ends with
//               exit code 1, so serial-starter can try the next driver on this tty.
//   per unit    identifying, serving, stale/lost, charge: see BatteryUnit. A unit is served
//               once identified and once it is known whether the packs are a bank.
//   lost        after exit_after a JK-PB pack's service leaves the bus; when no pack is left
//               (always, for NW) the daemon exits with code 1. A pack that left is asked again
//               every poll.gone_probe (listening: heard again); when it answers it is
//               identified afresh (it may be another pack) and gets a new unit. NW: a reading
//               with another id ends the daemon (BmsLost): a new battery.
//   exiting     SIGTERM/SIGINT (names released within a second), or a D-Bus failure.
//
// Power (relay.type, or the simulator's own button): the BMS's display-port button through a
// relay (PowerControl). A silence of every BMS on the port brings wake presses (on, never
// off) before exit_after; with ensure_on_at_start, a start without an answer brings one on
// press, after which the start probe begins again. /Bms/Power on each service shows the
// state and takes presses (1 on, 0 off); after an off press the daemon neither wakes the BMS
// nor gives up on it (it stays on the bus, values invalid, so it can be switched on again).
//
// Settings on the GX (gx_settings.hpp): each served battery's own, or the JK-PB bank's for its
// packs; press times changed there reach the relay (setPressTimes).
//
// Bank: see PbBank. bank.member (NW / BLE): this battery is a member of a bank served by
// `dbus-jkbms --bank` (bank_daemon.hpp).
//
// BLE (ble.mac): see BleSession. No start probe (a BLE daemon is no serial-starter candidate):
// exit_after without any reading ends it.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "jkbms/app/battery_unit.hpp"
#include "jkbms/app/exit_code.hpp"
#include "jkbms/app/nw_poller.hpp"
#include "jkbms/app/pb_bank.hpp"
#include "jkbms/app/pb_poller.hpp"
#include "jkbms/app/power_control.hpp"
#include "jkbms/app/transport_sessions.hpp"
#include "jkbms/charge/charge_engine.hpp"
#include "jkbms/config/config.hpp"
#include "jkbms/dbus/battery_service.hpp"
#include "jkbms/dbus/dvcc_watch.hpp"
#include "jkbms/domain/battery_key.hpp"
#include "jkbms/domain/comms_monitor.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"
#include "jkbms/sim/pty_server.hpp"
#include "jkbms/codec/ble.hpp"
#include "jkbms/transport/ble_link.hpp"
#include "jkbms/transport/serial_link.hpp"

namespace jkbms::app {

struct DaemonOptions {
    config::Config config;
    bool simulate = false;  // play a BMS on a pty in this process and poll it
    std::string version = "dev";
    // Set (dbus-jkbms --publish-config-errors with a refused file): `config` is the defaults,
    // and this is the text each battery publishes with /ErrorCode 119 ("Settings invalid: see
    // <log>"); the engines charge nothing (charge::ChargeConfig::noCharge). "" = the file is fine.
    std::string configError;
    // Tests: the display-port relay to use instead of the one relay.type configures.
    std::function<std::unique_ptr<power::Relay>()> relay{};
};

class Daemon : private UnitHost, private SessionSink {
public:
    Daemon(boost::asio::io_context& io, DaemonOptions options);
    ~Daemon();

    // Opens the port and starts polling; throws std::system_error when the port cannot be
    // opened, StartError when the relay cannot be set up (start-up errors).
    void start();
    // Set once the daemon has decided to end; run() returns soon after.
    std::optional<ExitCode> exitCode() const { return exitCode_; }

    const std::string& port() const { return port_; }
    const transport::BleLink* bleLink() const { return ble_ ? &ble_->link() : nullptr; }
    // The battery service of a pack (NW: address 0); nullptr before its first reading.
    const dbus::BatteryService* service(std::uint8_t address = 0) const;
    sim::SimulatedBms* simulatedBms() { return simBms_.get(); }
    const PbPoller* pbPoller() const { return pb_ ? &pb_->poller() : nullptr; }
    const NwPoller* nwPoller() const { return nw_ ? &nw_->poller() : nullptr; }
    const PowerControl* power() const override { return power_.get(); }
    // The bank's service (JK-PB packs as one battery); nullptr when the packs are not a bank
    // (or before the first pack's service starts).
    const dbus::BatteryService* bankService() const { return pbBank_ ? pbBank_->service() : nullptr; }
    // The settings on the GX that apply to the pack at `address` (NW, BLE: 0): the JK-PB
    // bank's when there is one, else the pack's own; nullptr before localsettings answered.
    const GxSettings* gxSettings(std::uint8_t address = 0) const;
    // Tests: how often the bank's values were combined and published (domain::combineBank).
    std::uint64_t bankCombinations() const { return pbBank_ ? pbBank_->combinations() : 0; }
    // DVCC as systemcalc applies it (dbus::DvccWatch), followed once a service that publishes
    // limits is up (not for a member of a `--bank` daemon, nor with charge.enabled false);
    // nullopt until then and while unknown.
    std::optional<bool> dvccEnabled() const { return dvcc_ ? dvcc_->enabled() : std::nullopt; }
    // Tests: DVCC-off warnings raised (one per change to off).
    int dvccWarnings() const { return dvcc_ ? dvcc_->warnings() : 0; }

private:
    using Clock = std::chrono::steady_clock;

    // SessionSink: what the transport sessions report.
    void onNwReading(const codec::nw::ReadAll& reply) override;
    // A 55 AA frame from a JK-PB on RS485 or a BMS over BLE; false when it is no reading (it
    // did not decode, or a cell-info frame without cells and pack voltage).
    bool onJkFrame(std::uint8_t address, util::ByteView frame) override;
    void onMiss(std::uint8_t address, const std::string& why) override;
    Clock::duration startSilence(Clock::time_point now) const override { return startMonitor_.silentFor(now); }
    // ensure_on_at_start: true while the one on press runs (the caller does not give up yet).
    bool pressOnAtStart() override;
    void onNoNwAnswer() override { startPb(true); }
    void onDiscovered(const std::vector<std::uint8_t>& found) override;
    void onRoundEnd() override;
    // Listening under a BMS master: nobody reports misses, so silences are checked here.
    void onListenTick(Clock::time_point now) override;
    // BLE: no cell info for two intervals counts as a missed poll.
    void onBleTick(Clock::time_point now) override;
    void onTransportFailed(const std::string& why) override { stop(ExitCode::DbusFailed, why); }

    // UnitHost: what the battery units ask of the daemon.
    boost::asio::io_context& io() override { return io_; }
    const config::Config& config() const override { return options_.config; }
    const std::string& version() const override { return options_.version; }
    const std::string& configError() const override { return options_.configError; }
    bool stopping() const override { return exitCode_.has_value(); }
    bool bankMember() const override;
    std::string bankServiceName() const override;
    bool sharedId(const std::string& uid) const override { return sharedIds_.contains(uid); }
    void shareId(const std::string& uid) override { sharedIds_.insert(uid); }
    void changed(bool now) override;
    void failed(ExitCode code, const std::string& why) override { stop(code, why); }
    bool powerWrite(bool on) override;
    const GxSettings* bankSettings() const override { return pbBank_ ? pbBank_->settings() : nullptr; }
    void setPressTimes(const power::PressTimes& times) override {
        if (power_) power_->setTimes(times);
    }

    // The unit at `address` (NW, BLE: 0), created on first use.
    BatteryUnit& unit(std::uint8_t address);
    UnitPlace unitPlace(std::uint8_t address) const;
    void startSimulator();
    void startPower();
    // Every missed poll: wake presses when the whole port has gone silent.
    void checkWake(Clock::time_point now);
    void publishPower();
    void startNw(bool probing);
    void startPb(bool probing);
    void startBle();

    void simTick();
    void onReading(std::uint8_t address);
    // After a miss: exit_after passed -> the unit leaves the bus, or the daemon ends when no
    // other is left; else its state is updated.
    void evaluate(std::uint8_t address);
    // Starts the pack's service once it is identified and the bank question is decided.
    bool serveWhenReady(std::uint8_t address, Clock::time_point now);
    std::string place(std::uint8_t address) const;  // the bus-name suffix: "ttyUSB0", "ttyUSB0_2"
    // A pack that left the bus answers again: it is forgotten (service, engine, key) so that it
    // is identified again and served as whatever battery it turns out to be.
    void renew(std::uint8_t address);
    // A /Bms/*Switch write: sent on the transport between polls; false when refused.
    bool switchWrite(std::uint8_t address, dbus::BmsSwitch which, bool on) override;
    // The packs are one battery (PbBank::choose): the bank over the units, with its service.
    void startBank();
    // Follows DVCC for the services that publish limits (once, at the first one).
    void startDvccWatch();
    std::string name(std::uint8_t address) const;
    void stop(ExitCode code, const std::string& why);

    boost::asio::io_context& io_;
    DaemonOptions options_;
    std::string port_;
    std::unique_ptr<sim::SimulatedBms> simBms_;
    std::unique_ptr<sim::NwResponder> simResponder_;
    std::unique_ptr<sim::PtyServer> simPty_;
    std::unique_ptr<boost::asio::steady_timer> simTimer_;
    // The transport: the port's link (serial) and the session on it; which session exists is
    // the daemon's mode. protocol auto: nw_ (stopped) stays when pb_ takes over.
    std::unique_ptr<transport::SerialLink> link_;
    std::unique_ptr<NwSession> nw_;
    std::unique_ptr<PbBusSession> pb_;
    std::unique_ptr<BleSession> ble_;
    BatteryUnits units_;                                   // by address
    std::optional<std::vector<std::uint8_t>> discovered_;  // JK-PB discovery's result
    std::optional<bool> isBank_;                           // decided: the packs are one battery (or not)
    std::unique_ptr<PbBank> pbBank_;                       // after units_: it reads them
    // Ids this daemon found on another BMS of this GX while running (its lock was taken, or it
    // was told so as the holder): keyed by the port, with or without a state dir.
    std::set<std::string> sharedIds_;
    // The display-port relay (before power_: a Venus relay's proxies live on relayBus_).
    std::unique_ptr<sdbus::IConnection> relayBus_;
    std::unique_ptr<dbus::AsioSdbusLoop> relayLoop_;
    std::unique_ptr<PowerControl> power_;
    // DVCC followed on a connection of its own (its replies and signals through dvccLoop_).
    std::unique_ptr<sdbus::IConnection> dvccBus_;
    std::unique_ptr<dbus::AsioSdbusLoop> dvccLoop_;
    std::unique_ptr<dbus::DvccWatch> dvcc_;
    bool onPressedAtStart_ = false;
    bool rediscoverAfterPress_ = false;
    domain::CommsMonitor startMonitor_;  // "did anything answer at all" at start
    boost::asio::signal_set signals_;
    boost::asio::steady_timer stopTimer_;
    std::optional<ExitCode> exitCode_;
    // Expires with the daemon: work posted to io_ that needs the daemon checks it first.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace jkbms::app
