#pragma once
// The transport sessions: each turns the bytes of one transport into readings for the battery
// units and sends their switch writes. A session knows nothing of D-Bus battery services,
// charge engines or the bank; it reports to a SessionSink (the Daemon, the mediator), which
// routes what it hears to the unit by address. Exactly one of them polls a port at a time
// (protocol auto: NwSession first, then PbBusSession on the same SerialLink).
//
//   NwSession     NwPoller on a SerialLink: one NW BMS (address 0). protocol auto: the NW probe
//                 (kNwProbe, 3 s without an answer) and the hand-off to JK-PB.
//   PbBusSession  PbPoller on a SerialLink: JK-PB packs 1-15 on RS485, their discovery (probing:
//                 200 ms deadlines), listening under a BMS master, packs gone, round ends.
//   BleSession    BleLink through BlueZ (its own connection and loop) and the 55 AA frame
//                 assembler: device info, settings and the cell-info stream (address 0); no
//                 cell info for 10 s -> 0x96 again; three times in vain -> reconnect.
//
// Lifetime: the sink, the io_context and a SerialLink passed in must outlive the session. No
// sink call is made after stop(). Sink calls come from the io_context's thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jkbms/app/nw_poller.hpp"
#include "jkbms/app/pb_poller.hpp"
#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/nw.hpp"
#include "jkbms/config/config.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include "jkbms/transport/ble_link.hpp"
#include "jkbms/transport/serial_link.hpp"
#include "jkbms/util/byte_reader.hpp"

namespace sdbus {
class IConnection;
}

namespace jkbms::app {

// What the sessions report; the Daemon implements it. Addresses: NW and BLE 0, JK-PB 1-15.
class SessionSink {
public:
    using Clock = std::chrono::steady_clock;

    // NW: a decoded read-all answer of the BMS (address 0).
    virtual void onNwReading(const codec::nw::ReadAll& reply) = 0;
    // JK-PB, BLE: a checksum-valid 55 AA frame from the pack at `address`; false when it is no
    // reading (it did not decode, or a cell-info frame without cells and pack voltage).
    virtual bool onJkFrame(std::uint8_t address, util::ByteView frame) = 0;
    // A poll of the pack at `address` was not answered; `why` is for the log.
    virtual void onMiss(std::uint8_t address, const std::string& why) = 0;
    // NW probe: how long nothing on the port has answered since the start probe began.
    virtual Clock::duration startSilence(Clock::time_point now) const = 0;
    // ensure_on_at_start: true while the one on press at start runs (the session waits).
    virtual bool pressOnAtStart() = 0;
    // NW probe over without an answer (the NW session has stopped): JK-PB comes next.
    virtual void onNoNwAnswer() = 0;
    // JK-PB: a discovery ended; the addresses that answered (maybe none), ascending.
    virtual void onDiscovered(const std::vector<std::uint8_t>& found) = 0;
    // JK-PB: every polled pack was asked once (a poll round).
    virtual void onRoundEnd() = 0;
    // JK-PB listening under a BMS master: once per poll.interval (nobody reports misses then).
    virtual void onListenTick(Clock::time_point now) = 0;
    // BLE: once per poll.interval, after the stream check.
    virtual void onBleTick(Clock::time_point now) = 0;
    // The transport cannot go on (BlueZ's connection failed); `why` is for the log.
    virtual void onTransportFailed(const std::string& why) = 0;

protected:
    ~SessionSink() = default;
};

// A /Bms/*Switch write handed to a session.
enum class SwitchWrite {
    Queued,        // sent between polls; the done callback tells whether it was answered
    Sent,          // BLE: written; the next settings frame shows it
    Unsent,        // BLE: the link did not take the command
    Full,          // refused: too many writes waiting
    Listening,     // refused: a BMS master drives the JK-PB bus, we only listen
    NoSuchSwitch,  // refused: the BLE frame variant has no such switch
    Refused,       // refused without a log line (no frame for it, BLE not connected or not written)
};

class NwSession {
public:
    // Polls NW on `link` (opened, not owned) every poll.interval; `port` names the port in the
    // log. probing: protocol auto - no answer for kNwProbe (3 s) -> sink.onNoNwAnswer().
    NwSession(boost::asio::io_context& io, transport::SerialLink& link, const config::PollConfig& poll,
              std::string port, bool probing, SessionSink& sink);
    void start();
    // Stops polling; no sink call after it. Idempotent.
    void stop();
    const NwPoller& poller() const { return *poller_; }
    // Queues a switch write (data id per jk-protocols.md 1.x); `done` runs when it is answered
    // or given up (never after stop()).
    SwitchWrite writeSwitch(codec::ble::Switch which, bool on, NwPoller::WriteDone done);

private:
    std::string port_;
    bool probing_;
    SessionSink& sink_;
    std::unique_ptr<NwPoller> poller_;
};

class PbBusSession {
public:
    // Polls the JK-PB packs (serial.addresses, or discovers 1-15) on `link` (opened, not owned)
    // at serial.poll's interval, timeout (probing: 200 ms for discovery), pacing and goneProbe.
    PbBusSession(boost::asio::io_context& io, transport::SerialLink& link, const config::Config& config,
                 std::string port, bool probing, SessionSink& sink);
    void start();
    // Stops polling and the listen timer; no sink call after it. Idempotent.
    void stop();
    // Discovery from the start again (after the on press at start).
    void rediscover();
    const PbPoller& poller() const { return *poller_; }
    bool listening() const { return poller_->listening(); }
    // A pack that left the bus is asked only every goneProbe (gone), or polled again.
    void setGone(std::uint8_t address, bool gone) { poller_->setGone(address, gone); }
    // Queues a register write to the pack at `address`; `done` runs when it is acked or given
    // up. Listening / Full: refused, `done` never runs.
    SwitchWrite writeSwitch(std::uint8_t address, codec::ble::Switch which, bool on, PbPoller::WriteDone done);

private:
    void listenTick();

    std::chrono::milliseconds interval_;
    SessionSink& sink_;
    std::unique_ptr<PbPoller> poller_;
    boost::asio::steady_timer listenTimer_;
    bool listenTicking_ = false;  // listenTimer_ runs: the poller listens to another master
    bool stopped_ = false;
};

class BleSession {
public:
    // Connects to the bus of `config.dbus.address` (BlueZ is on the battery services' bus);
    // throws sdbus::Error / std::runtime_error when it cannot (a start-up error). `port` ("BLE
    // <mac>") names the link in the log.
    BleSession(boost::asio::io_context& io, const config::Config& config, std::string port, SessionSink& sink);
    ~BleSession();
    // Starts BlueZ's loop, the link (it looks for ble.mac on ble.adapter) and the tick.
    void start();
    // Stops the tick and the link; no sink call after it. Idempotent.
    void stop();
    // After stop(), once the names are released: the BlueZ connection's loop ends.
    void stopBus();
    const transport::BleLink& link() const { return *link_; }
    // A cell-info reading arrived: the stream is alive (no resend for 10 s).
    void cellInfoArrived();
    // Writes the switch command of frame variant `variant`: Sent, Unsent, NoSuchSwitch, or
    // Refused while not connected.
    SwitchWrite writeSwitch(codec::ble::Variant variant, codec::ble::Switch which, bool on);

private:
    void tick();

    std::chrono::milliseconds interval_;
    std::string port_;
    std::string adapter_;
    SessionSink& sink_;
    std::unique_ptr<sdbus::IConnection> bus_;
    std::unique_ptr<dbus::AsioSdbusLoop> loop_;
    std::unique_ptr<transport::BleLink> link_;
    codec::ble::Assembler assembler_;
    boost::asio::steady_timer timer_;
    std::chrono::steady_clock::time_point lastCellInfo_{};
    int resends_ = 0;
    bool stopped_ = false;
};

}  // namespace jkbms::app
