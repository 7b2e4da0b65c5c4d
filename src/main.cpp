// dbus-jkbms: JK-BMS battery service for Victron Venus OS.

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <spdlog/cfg/env.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <string_view>
#include <system_error>
#include <vector>

#include "jkbms/app/bank_daemon.hpp"
#include "jkbms/app/daemon.hpp"
#include "jkbms/app/log_sink.hpp"

#ifndef JKBMS_VERSION
#define JKBMS_VERSION "dev"
#endif

namespace {

constexpr std::string_view kUsage =
    "usage: dbus-jkbms [options] [TTY]\n"
    "       dbus-jkbms --bank [--config FILE] [--dbus-address ADDR]\n"
    "\n"
    "Publishes a JK-BMS as com.victronenergy.battery.<tty> on D-Bus.\n"
    "With --bank: publishes the member batteries of a bank (daemons run with bank.member)\n"
    "as one battery, com.victronenergy.battery.<bank.name>.\n"
    "\n"
    "options:\n"
    "  --config FILE        YAML configuration (see config/default.yaml)\n"
    "  --serial PORT        serial port of the BMS (also: the TTY argument, as serial-starter passes it)\n"
    "  --ble MAC            a JK BMS over Bluetooth LE (through BlueZ), e.g. C8:47:8C:00:00:01\n"
    "  --protocol P         auto (default: NW, then JK-PB), nw (the BMS's UART port) or pb (JK-PB packs on RS485)\n"
    "  --dbus-address ADDR  bus address; default DBUS_SESSION_BUS_ADDRESS if set, else the system bus\n"
    "  --simulate           play a JK BMS in this process and publish it (no hardware needed)\n"
    "  --bank               the bank daemon: follow the members (config bank.members, else every\n"
    "                       member on the bus) and publish them as one battery; no port\n"
    "  -v, --verbose        more log output (twice: trace, with frames in hex)\n"
    "  --timestamps         timestamps in the log (multilog adds them on Venus)\n"
    "  --publish-config-errors LOG\n"
    "                       for a supervised run (the Venus run scripts): a refused --config file\n"
    "                       is logged and the daemon runs on the defaults; its battery shows error\n"
    "                       #119 \"Settings invalid\" (see LOG, the log's path) and charges nothing.\n"
    "                       Without it a refused file ends the daemon with exit code 2\n"
    "  --version            print the version\n"
    "\n"
    "exit codes: 0 stopped, 1 BMS not answering, 2 bad options or configuration,\n"
    "            3 serial port failed, 4 D-Bus failed, 5 display-port relay failed\n"
    "\n"
    "examples:\n"
    "  dbus-jkbms /dev/ttyUSB0\n"
    "  dbus-jkbms --simulate --dbus-address unix:path=/tmp/test-bus\n"
    "  dbus-jkbms --bank --config /data/conf/dbus-jkbms-bank.yaml\n";

int usageError(const std::string& message) {
    std::cerr << "dbus-jkbms: " << message << " (see --help)\n";
    return static_cast<int>(jkbms::app::ExitCode::Usage);
}

}  // namespace

int main(int argc, char** argv) {
    using jkbms::app::ExitCode;
    std::vector<std::string_view> args(argv + 1, argv + argc);
    std::string configPath, serial, address, protocol, mac, errorLog;
    bool publishConfigErrors = false;
    bool simulate = false, timestamps = false, bank = false;
    int verbosity = 0;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= args.size()) return false;
            out = std::string{args[++i]};
            return true;
        };
        if (a == "-h" || a == "--help") {
            std::cout << kUsage;
            return 0;
        } else if (a == "--version") {
            std::cout << "dbus-jkbms " << JKBMS_VERSION << '\n';
            return 0;
        } else if (a == "--config") {
            if (!value(configPath)) return usageError("--config needs a file");
        } else if (a == "--serial") {
            if (!value(serial)) return usageError("--serial needs a port");
        } else if (a == "--ble") {
            if (!value(mac)) return usageError("--ble needs a MAC address");
            if (!jkbms::config::validMac(mac)) return usageError("--ble: '" + mac + "' is not a Bluetooth address");
        } else if (a == "--protocol") {
            if (!value(protocol)) return usageError("--protocol needs auto, nw or pb");
            if (protocol != "auto" && protocol != "nw" && protocol != "pb")
                return usageError("--protocol takes auto, nw or pb");
        } else if (a == "--dbus-address") {
            if (!value(address)) return usageError("--dbus-address needs an address");
        } else if (a == "--publish-config-errors") {
            if (!value(errorLog)) return usageError("--publish-config-errors needs the log's path");
            publishConfigErrors = true;
        } else if (a == "--simulate") {
            simulate = true;
        } else if (a == "--bank") {
            bank = true;
        } else if (a == "-v" || a == "--verbose") {
            ++verbosity;
        } else if (a == "-vv") {
            verbosity += 2;
        } else if (a == "--timestamps") {
            timestamps = true;
        } else if (a.starts_with("-")) {
            return usageError("unknown option '" + std::string{a} + "'");
        } else if (serial.empty()) {
            serial = std::string{a};
        } else {
            return usageError("more than one port given");
        }
    }

    jkbms::config::Config config;
    // A refused file under --publish-config-errors (not for --bank: a bank has no BMS of its
    // own to publish the error with): logged below, the defaults used.
    std::vector<jkbms::config::ConfigError> refused;
    if (!configPath.empty()) {
        auto loaded = jkbms::config::loadConfig(configPath);
        if (!loaded.ok() && (!publishConfigErrors || bank)) {
            for (const auto& e : loaded.errors) std::cerr << "dbus-jkbms: " << e.text() << '\n';
            return static_cast<int>(ExitCode::Usage);
        }
        if (loaded.ok()) config = loaded.config;
        else refused = std::move(loaded.errors);
    }
    if (!serial.empty()) config.serial.port = serial.find('/') == std::string::npos ? "/dev/" + serial : serial;
    if (!address.empty()) config.dbus.address = address;
    if (!protocol.empty()) config.serial.protocol = protocol;
    if (!mac.empty()) config.ble.mac = mac;
    if (bank && (!serial.empty() || !mac.empty() || simulate || !protocol.empty()))
        return usageError("--bank follows other daemons: no --serial, TTY, --ble, --protocol or --simulate with it");
    if (!bank && config.serial.port.empty() && config.ble.mac.empty() && !simulate) {
        // The port may have been in the refused file: its errors are what to fix.
        for (const auto& e : refused) std::cerr << "dbus-jkbms: " << e.text() << '\n';
        return usageError("no serial port or BLE address given (or use --simulate)");
    }

    // Logging: one line per state change, for a person reading multilog output.
    // Never blocks the loop: a stalled reader makes it drop lines, counted (log_sink.hpp).
    auto sink = std::make_shared<jkbms::app::NonBlockingSink>(STDOUT_FILENO);
    auto logger = std::make_shared<spdlog::logger>("dbus-jkbms", sink);
    spdlog::set_default_logger(logger);
    spdlog::set_pattern(timestamps || config.log.timestamps ? "%Y-%m-%d %H:%M:%S.%e %l %v" : "%l %v");
    spdlog::set_level(spdlog::level::from_str(config.log.level));
    if (verbosity == 1) spdlog::set_level(spdlog::level::debug);
    if (verbosity >= 2) spdlog::set_level(spdlog::level::trace);
    spdlog::cfg::load_env_levels();
    spdlog::flush_on(spdlog::level::trace);  // multilog reads a pipe: no buffering

    std::string configError;
    if (!refused.empty()) {
        for (const auto& e : refused) spdlog::error("{}", e.text());
        spdlog::error("{}: refused ({} problem{}); running on the defaults with charging not allowed "
                      "(CCL 0) until it is fixed and the service restarted",
                      configPath, refused.size(), refused.size() == 1 ? "" : "s");
        configError = "Settings invalid: see " + errorLog;
    }

    boost::asio::io_context io;
    sink->attach(io);
    struct Detach {
        jkbms::app::NonBlockingSink& sink;
        ~Detach() { sink.detach(); }  // before io goes
    } detach{*sink};
    if (bank) {
        jkbms::app::BankDaemon bankDaemon(io, config, JKBMS_VERSION);
        try {
            bankDaemon.start();
        } catch (const jkbms::app::StartError& e) {
            spdlog::error("cannot start: {}", e.what());
            return static_cast<int>(e.code);
        }
        io.run();
        return static_cast<int>(bankDaemon.exitCode().value_or(ExitCode::Stopped));
    }
    jkbms::app::DaemonOptions options;
    options.config = config;
    options.simulate = simulate;
    options.version = JKBMS_VERSION;
    options.configError = configError;
    jkbms::app::Daemon daemon(io, std::move(options));
    try {
        daemon.start();
    } catch (const jkbms::app::StartError& e) {
        spdlog::error("cannot start: {}", e.what());
        return static_cast<int>(e.code);
    } catch (const jkbms::transport::PortInUse& e) {
        spdlog::error("cannot start: {}", e.what());  // "<port> is in use by <name> (pid N): ..."
        return static_cast<int>(ExitCode::PortFailed);
    } catch (const std::system_error& e) {
        spdlog::error("cannot open {}: {}", config.serial.port.empty() ? std::string{"the simulator"} : config.serial.port,
                      e.code().message());
        return static_cast<int>(ExitCode::PortFailed);
    } catch (const std::exception& e) {  // sdbus::Error: the bus for BlueZ
        spdlog::error("cannot start: {}", e.what());
        return static_cast<int>(ExitCode::DbusFailed);
    }
    io.run();
    return static_cast<int>(daemon.exitCode().value_or(ExitCode::Stopped));
}
