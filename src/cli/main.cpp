// jkbms: the command-line tool for people setting up or debugging a JK-BMS.

#include <iostream>
#include <string_view>
#include <vector>

#include "jkbms/cli/decode_command.hpp"
#include "jkbms/cli/power_command.hpp"

#ifndef JKBMS_VERSION
#define JKBMS_VERSION "dev"
#endif

namespace {

constexpr std::string_view kUsage =
    "usage: jkbms <command> [options]\n"
    "\n"
    "commands:\n"
    "  decode   decode one JK frame given as hex and print it as JSON\n"
    "  power    press the BMS's power button (on / off) through the running dbus-jkbms\n"
    "\n"
    "Run 'jkbms <command> --help' for a command's options and examples.\n";

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
    std::cerr << "jkbms: unknown command '" << command << "' (see jkbms --help)\n";
    return 2;
}
