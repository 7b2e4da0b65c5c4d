#pragma once
// The options the device commands share (read, watch, switch, scan): which BMS, over what, and
// how to print. Parsed without I/O, so every usage mistake is found before a port is opened.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jkbms/cli/frame_json.hpp"  // Protocol

namespace jkbms::cli {

enum class SwitchKind : std::uint8_t { Charge, Discharge, Balance };
std::string_view switchName(SwitchKind kind);  // "charge", "discharge", "balance"

struct DeviceOptions {
    std::string serial;                 // --serial PORT
    std::string ble;                    // --ble MAC (upper case)
    std::optional<Protocol> protocol;   // --protocol; nullopt: serial NW then JK-PB, BLE
    std::uint8_t address = 1;           // --address: JK-PB DIP address
    std::string adapter = "hci0";       // --adapter
    std::optional<std::string> dbusAddress;  // --dbus-address: BlueZ's / the daemon's bus
    std::chrono::milliseconds timeout{0};    // --timeout; 0: per link (serial 1 s, BLE 30 s)
    bool json = false;                  // --json
    // watch
    bool dbus = false;                  // --dbus: a running daemon's service
    std::string service;                // --service
    std::chrono::milliseconds interval{1000};  // --interval
    std::optional<std::uint64_t> count;        // --count: redraws, then exit
    bool plain = false;                 // --plain: lines even on a terminal
    // switch
    std::optional<SwitchKind> switchKind;
    std::optional<bool> on;
    // scan
    bool scanBle = false;
    std::chrono::milliseconds scanTime{std::chrono::seconds(10)};  // --time (BLE scan)

    bool hasDevice() const { return !serial.empty() || !ble.empty(); }
};

enum class Command : std::uint8_t { Read, Watch, Switch, Scan };

struct ParsedOptions {
    DeviceOptions options;
    bool help = false;
    std::string error;  // one line, without the "jkbms <command>: " prefix; empty = fine
};

// Parses a device command's arguments (those after the command's name).
ParsedOptions parseDeviceOptions(Command command, std::span<const std::string_view> args);

// "C8:47:8C:00:00:01" in any case -> upper case; nullopt when it is no MAC.
std::optional<std::string> normalizeMac(std::string_view text);

}  // namespace jkbms::cli
