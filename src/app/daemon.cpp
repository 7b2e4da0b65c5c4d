#include "jkbms/app/daemon.hpp"

#include <sdbus-c++/IConnection.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>

#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/dbus/names.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"

namespace jkbms::app {
namespace {

using Clock = std::chrono::steady_clock;

std::string ttyName(const std::string& path) { return std::filesystem::path(path).filename().string(); }

}  // namespace

Daemon::Daemon(boost::asio::io_context& io, DaemonOptions options)
    : io_(io),
      options_(std::move(options)),
      monitor_(options_.config.comms),
      signals_(io, SIGINT, SIGTERM),
      stopTimer_(io) {}

Daemon::~Daemon() = default;

void Daemon::start() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
        if (!ec) stop(ExitCode::Stopped, signal == SIGTERM ? "SIGTERM" : "SIGINT");
    });

    port_ = options_.config.serial.port;
    if (options_.simulate) {
        // The built-in simulator: a live NW BMS on a pty of this process.
        simBms_ = std::make_unique<sim::SimulatedBms>();
        simResponder_ = std::make_unique<sim::NwResponder>(*simBms_);
        simPty_ = std::make_unique<sim::PtyServer>(io_, *simResponder_, sim::PtyServer::Options{});
        port_ = simPty_->path();
        simTimer_ = std::make_unique<boost::asio::steady_timer>(io_);
        simTick();
        spdlog::info("simulator: JK BMS (NW) on {}", port_);
    }

    link_ = std::make_unique<transport::SerialLink>(
        io_, transport::SerialLink::Options{port_, options_.config.serial.baud});
    link_->onState([this](bool open, const std::string& detail) {
        if (open) spdlog::info("{}: reopened", port_);
        else spdlog::warn("{}: port failed ({}); reopening", port_, detail);
    });
    link_->open();  // throws: the caller reports it and exits with PortFailed
    spdlog::info("{}: opened at {} baud, polling NW every {} ms", port_, options_.config.serial.baud,
                 options_.config.poll.interval.count());

    poller_ = std::make_unique<NwPoller>(io_, *link_, options_.config.poll);
    poller_->onReading([this](const codec::nw::ReadAll& reply) { onReading(reply); });
    poller_->onMiss([this](const std::string& why) { onMiss(why); });
    monitor_.start(Clock::now());
    poller_->start();
}

void Daemon::simTick() {
    simTimer_->expires_after(std::chrono::milliseconds(200));
    simTimer_->async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        simBms_->advance(std::chrono::milliseconds(200));
        simTick();
    });
}

void Daemon::onReading(const codec::nw::ReadAll& reply) {
    const auto now = Clock::now();
    const bool first = !monitor_.everRead();
    monitor_.onReading(now);
    snapshot_ = domain::fromNw(reply);
    if (first) {
        const auto& id = snapshot_->identity;
        spdlog::info("connected: JK BMS (NW protocol v{}) on {}, {} cells, hardware {}, software {}",
                     reply.protocolVersion(), port_, snapshot_->cellVoltagesV.size(),
                     id.hardwareVersion.empty() ? "?" : id.hardwareVersion,
                     id.softwareVersion.empty() ? "?" : id.softwareVersion);
        startService();
    } else if (lastState_ != domain::CommsState::Ok) {
        spdlog::info("restored: the BMS answers again after {} missed polls", missedInRow_);
    }
    missedInRow_ = 0;
    lastState_ = domain::CommsState::Ok;
    publish();
}

void Daemon::onMiss(const std::string& why) {
    ++missedInRow_;
    if (!monitor_.everRead() && monitor_.state(Clock::now()) != domain::CommsState::Ok) {
        stop(ExitCode::BmsLost, "no JK BMS answered on " + port_ + " (NW, " +
                                    std::to_string(options_.config.serial.baud) + " baud): " + why);
        return;
    }
    evaluateComms();
}

void Daemon::evaluateComms() {
    const auto now = Clock::now();
    if (monitor_.shouldExit(now)) {
        stop(ExitCode::BmsLost, "no answer from the BMS for " +
                                    std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                       monitor_.silentFor(now)).count()) + " s");
        return;
    }
    const auto state = monitor_.state(now);
    if (state == lastState_) return;
    if (state == domain::CommsState::Stale)
        spdlog::warn("lost contact: no answer from the BMS for {} polls", missedInRow_);
    else if (state == domain::CommsState::Lost)
        spdlog::error("BMS lost: values and limits invalidated after {} missed polls", missedInRow_);
    lastState_ = state;
    publish();
}

void Daemon::startService() {
    const std::string tty = ttyName(port_);
    dbus::BatteryServiceConfig sc;
    sc.busNameSuffix = options_.simulate ? "sim_" + tty : tty;
    // NW reports no serial number: the tty names the BMS (as serial-starter names ports).
    const std::string serial = snapshot_->identity.serialNumber;
    sc.uniqueId = "jkbms_" + (serial.empty() ? sc.busNameSuffix : serial);
    sc.preferredInstance = options_.config.dbus.deviceInstance;
    sc.settingsWait = options_.config.dbus.settingsWait;
    sc.items.propertiesChangedPerLeaf = options_.config.dbus.propertiesChanged;
    sc.identity.processVersion = options_.version;
    sc.identity.connection = (options_.simulate ? "Simulated serial " : "Serial ") + tty;
    std::optional<std::string> address;
    if (!options_.config.dbus.address.empty()) address = options_.config.dbus.address;
    try {
        service_ = std::make_unique<dbus::BatteryService>(io_, dbus::connectBus(address), std::move(sc));
    } catch (const std::exception& e) {
        stop(ExitCode::DbusFailed, std::string{"cannot connect to D-Bus: "} + e.what());
        return;
    }
    publish();  // the first reading is in the tree before the name is claimed
    service_->start([this](bool ok, const std::string& error) {
        if (!ok) stop(ExitCode::DbusFailed, error);
    });
}

void Daemon::publish() {
    if (!service_) return;
    // The charge-limit engine is not wired in yet: no limits, so /Info/* stay invalid and
    // DVCC does not take this battery as a BMS.
    service_->publish(snapshot_, domain::ChargeLimits{}, monitor_.state(Clock::now()));
}

void Daemon::stop(ExitCode code, const std::string& why) {
    if (exitCode_) return;
    exitCode_ = code;
    if (code == ExitCode::Stopped) spdlog::info("stopping ({})", why);
    else spdlog::error("exiting: {}", why);
    if (poller_) poller_->stop();
    signals_.cancel();
    auto finish = [this] {
        stopTimer_.cancel();
        if (link_) link_->close();
        if (simPty_) simPty_->unplug();
        if (simTimer_) simTimer_->cancel();
        io_.stop();
    };
    // Release the bus name (so systemcalc drops us at once), but never wait more than 500 ms.
    stopTimer_.expires_after(std::chrono::milliseconds(500));
    stopTimer_.async_wait([finish](const boost::system::error_code& ec) {
        if (!ec) finish();
    });
    if (service_ && service_->state() == dbus::BatteryService::State::Registered) service_->release(finish);
    else finish();
}

}  // namespace jkbms::app
