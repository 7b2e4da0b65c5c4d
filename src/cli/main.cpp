// jkbms: the command-line tool for people setting up or debugging a JK-BMS.

#include <sys/ioctl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <iostream>
#include <string_view>
#include <vector>

#include "jkbms/cli/decode_command.hpp"
#include "jkbms/cli/device_commands.hpp"
#include "jkbms/cli/power_command.hpp"

#ifndef JKBMS_VERSION
#define JKBMS_VERSION "dev"
#endif

namespace {

constexpr std::string_view kUsage =
    "usage: jkbms <command> [options]\n"
    "\n"
    "commands:\n"
    "  read     read a BMS once: identity, cells, pack, temperatures, switches, alarms, settings\n"
    "  watch    a live dashboard of a BMS, or of a running dbus-jkbms (--dbus)\n"
    "  switch   switch the BMS's charge, discharge or balance switch on or off\n"
    "  scan     find JK BMSes over Bluetooth (--ble) or on a serial port (--serial PORT)\n"
    "  decode   decode one JK frame given as hex and print it as JSON\n"
    "  power    press the BMS's power button (on / off) through the running dbus-jkbms\n"
    "\n"
    "Run 'jkbms <command> --help' for a command's options and examples.\n"
    "Exit codes: 0 done, 1 a device that does not answer (or a write not taken), 2 bad usage.\n";

jkbms::cli::Screen terminalSize() {
    jkbms::cli::Screen s;
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        s.width = ws.ws_col;
        s.height = ws.ws_row;
    }
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::cerr << kUsage;
        return 2;
    }
    const std::string_view command = args.front();
    const std::span<const std::string_view> rest{args.data() + 1, args.size() - 1};
    if (command == "-h" || command == "--help" || command == "help") {
        std::cout << kUsage;
        return 0;
    }
    if (command == "--version") {
        std::cout << "jkbms " << JKBMS_VERSION << '\n';
        return 0;
    }
    if (command == "decode") return jkbms::cli::runDecode(rest, std::cin, std::cout, std::cerr);
    if (command == "power") return jkbms::cli::runPower(rest, std::cout, std::cerr);
    boost::asio::io_context io;
    jkbms::cli::CliContext ctx{io, std::cout, std::cerr};
    ctx.terminal = ::isatty(STDOUT_FILENO) == 1;
    ctx.screen = terminalSize;
    ctx.handleSignals = true;
    if (command == "read") return jkbms::cli::runRead(rest, ctx);
    if (command == "watch") return jkbms::cli::runWatch(rest, ctx);
    if (command == "switch") return jkbms::cli::runSwitch(rest, ctx);
    if (command == "scan") return jkbms::cli::runScan(rest, ctx);
    std::cerr << "jkbms: unknown command '" << command << "' (see jkbms --help)\n";
    return 2;
}
