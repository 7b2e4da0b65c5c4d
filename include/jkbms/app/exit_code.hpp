#pragma once
// How dbus-jkbms ends: the exit codes supervisors and serial-starter act on, and the start-up
// failure that carries one.

#include <stdexcept>
#include <string>

namespace jkbms::app {

// Exit codes, for supervisors and serial-starter.
enum class ExitCode : int {
    Stopped = 0,     // SIGTERM / SIGINT
    BmsLost = 1,     // no BMS answered at start, or none is left after exit_after
    Usage = 2,       // bad options or configuration
    PortFailed = 3,  // the serial port could not be opened
    DbusFailed = 4,  // the bus could not be reached, or our name is taken
    RelayFailed = 5, // the display-port relay could not be set up
};

// A start-up failure with the exit code it calls for.
struct StartError : std::runtime_error {
    StartError(ExitCode c, const std::string& what) : std::runtime_error(what), code(c) {}
    ExitCode code;
};

}  // namespace jkbms::app
