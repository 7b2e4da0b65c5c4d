#pragma once
// Daemon: the whole of dbus-jkbms for one NW BMS on a serial port - serial link, poller,
// lost-communication monitor, D-Bus battery service - on one io_context.
//
//   starting    the port is open; polls run; nothing is on D-Bus yet. A BMS that does not
//               answer within comms.stale_after ends the daemon with exit code 1, so
//               serial-starter can try the next driver on this tty.
//   serving     first answer: the battery service negotiates its instance, builds every path
//               from that reading and claims its name; every reading is published.
//   stale/lost  per CommsMonitor: warnings, then everything from the BMS invalid in one batch.
//   exiting     exit_after without an answer, SIGTERM/SIGINT, or a D-Bus failure.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>

#include "jkbms/app/nw_poller.hpp"
#include "jkbms/config/config.hpp"
#include "jkbms/dbus/battery_service.hpp"
#include "jkbms/domain/comms_monitor.hpp"
#include "jkbms/sim/pty_server.hpp"
#include "jkbms/transport/serial_link.hpp"

namespace jkbms::app {

// Exit codes, for supervisors and serial-starter.
enum class ExitCode : int {
    Stopped = 0,       // SIGTERM / SIGINT
    BmsLost = 1,       // no BMS answered at start, or exit_after without an answer
    Usage = 2,         // bad options or configuration
    PortFailed = 3,    // the serial port could not be opened
    DbusFailed = 4,    // the bus could not be reached, or our name is taken
};

struct DaemonOptions {
    config::Config config;
    bool simulate = false;  // play a BMS on a pty in this process and poll it
    std::string version = "dev";
};

class Daemon {
public:
    Daemon(boost::asio::io_context& io, DaemonOptions options);
    ~Daemon();

    // Opens the port and starts polling; throws std::system_error when the port cannot be
    // opened (start-up error).
    void start();
    // Set once the daemon has decided to end; run() returns soon after.
    std::optional<ExitCode> exitCode() const { return exitCode_; }

    const std::string& port() const { return port_; }
    const dbus::BatteryService* service() const { return service_.get(); }
    sim::SimulatedBms* simulatedBms() { return simBms_.get(); }

private:
    void simTick();
    void onReading(const codec::nw::ReadAll& reply);
    void onMiss(const std::string& why);
    void evaluateComms();
    void startService();
    void publish();
    void stop(ExitCode code, const std::string& why);

    boost::asio::io_context& io_;
    DaemonOptions options_;
    std::string port_;
    std::unique_ptr<sim::SimulatedBms> simBms_;
    std::unique_ptr<sim::NwResponder> simResponder_;
    std::unique_ptr<sim::PtyServer> simPty_;
    std::unique_ptr<boost::asio::steady_timer> simTimer_;
    std::unique_ptr<transport::SerialLink> link_;
    std::unique_ptr<NwPoller> poller_;
    std::unique_ptr<dbus::BatteryService> service_;
    domain::CommsMonitor monitor_;
    domain::CommsState lastState_ = domain::CommsState::Ok;
    std::optional<domain::BatterySnapshot> snapshot_;
    std::uint64_t missedInRow_ = 0;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer stopTimer_;
    std::optional<ExitCode> exitCode_;
};

}  // namespace jkbms::app
