#pragma once
// The daemon's configuration: plain structs with the defaults in their member initialisers
// (mirrored, with comments, in config/default.yaml), read once at start-up.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "jkbms/charge/charge_config.hpp"
#include "jkbms/domain/comms_monitor.hpp"
#include "jkbms/power/press_policy.hpp"

namespace jkbms::config {

struct SerialConfig {
    std::string port;             // "" = none (BLE, or --simulate)
    std::uint32_t baud = 115200;
    std::string protocol = "auto";  // auto (NW, then JK-PB), nw, or pb: JK-PB packs on RS485
    std::vector<std::uint8_t> addresses;  // pb: DIP addresses to poll; empty = discover 1..15
};

struct BleConfig {
    std::string mac;               // "" = not BLE; e.g. C8:47:8C:00:00:01
    std::string adapter = "hci0";
};

struct PollConfig {
    std::chrono::milliseconds interval{1000};  // one reading per pack per interval
    std::chrono::milliseconds timeout{500};    // deadline for the answer
    std::chrono::milliseconds pacing{120};     // pb: gap between two commands on the bus
    std::chrono::milliseconds goneProbe{30000};  // pb: a pack that left the bus is asked this often
};

struct DbusConfig {
    std::string address;                           // "" = DBUS_SESSION_BUS_ADDRESS, else system bus
    std::int32_t deviceInstance = 1;               // preferred; localsettings may grant another
    std::chrono::milliseconds settingsWait{10000};  // how long to wait for localsettings
    std::chrono::milliseconds settingsRetry{10000};  // then asked again this often until it answers
    // JK-PB / BLE: how long a pack's service waits for its serial number (device-info frame)
    // before it is keyed by its port and address (or MAC) instead.
    std::chrono::milliseconds identityWait{15000};
    // One PropertiesChanged per changed path besides the batch's ItemsChanged (Victron's
    // consumers need only ItemsChanged; each extra signal is one more message per poll).
    bool propertiesChanged = false;
};

struct ChargeSettings {
    bool enabled = true;          // publish CVL / CCL / DCL (false: /Info/* stay invalid)
    std::string stateDir = "/data/apps/available/dbus-jkbms/state";  // charge state across restarts; "" = none
    charge::ChargeConfig engine;
};

// The display-port power button (K- / K+) through a relay contact.
struct RelayConfig {
    std::string type = "none";  // none, gpio (a GPIO line, libgpiod) or venus (a GX device's relay)
    // gpio: chip (name, path or label) plus offset, or the line's name alone
    std::string chip;
    int offset = -1;
    std::string line;
    bool activeLow = false;
    // venus: com.victronenergy.system /Relay/<n>/State (0 = the GX's relay 1)
    int venusRelay = 0;
    power::PressTimes press;
    power::WakeTimes wake;
    bool ensureOnAtStart = false;  // no answer at start: press on once

    bool enabled() const { return type != "none"; }
};

struct LogConfig {
    std::string level = "info";  // trace, debug, info, warn, error
    bool timestamps = false;     // multilog adds them on Venus
};

// A bank of parallel packs published as one battery (domain/bank.hpp, README "Banks").
struct BankConfig {
    // JK-PB: when more than one pack is on the bus (serial.addresses lists more than one, or
    // discovery finds more), the packs are one battery - the bank's service - and their own
    // services are members (limits under /Bank/*, not /Info/*). false: each pack a battery.
    bool enabled = true;
    // NW / BLE: this daemon's battery is a member of a bank served by a bank daemon
    // (`dbus-jkbms --bank`): its limits go under /Bank/*, so it is no BMS to systemcalc.
    bool member = false;
    // The bank daemon: the member services to follow ("com.victronenergy.battery.ttyUSB0",
    // or the suffix "ttyUSB0"). Empty: every dbus-jkbms member service on the bus.
    std::vector<std::string> members;
    // Its own name on the bus: com.victronenergy.battery.<name>.
    std::string name = "jkbms_bank";
    // Shares (domain::BankRules): measured from this much current per pack, A ...
    double shareCurrentA = 5.0;
    // ... and padded by this fraction of themselves for noise and charger lag.
    double shareMargin = 0.10;
};

struct Config {
    SerialConfig serial;
    BleConfig ble;
    PollConfig poll;
    domain::CommsTimes comms;
    DbusConfig dbus;
    ChargeSettings charge;
    RelayConfig relay;
    LogConfig log;
    BankConfig bank;
};

struct ConfigError {
    std::string file;
    int line = 0;  // 1-based; 0 when the problem is not tied to a line
    std::string message;
    std::string text() const;  // "file:12: message"
};

struct LoadResult {
    Config config;
    std::vector<ConfigError> errors;  // every problem found, not only the first
    bool ok() const { return errors.empty(); }
};

// A configuration file is a few kilobytes: anything larger is refused, unread past this.
inline constexpr std::size_t kMaxConfigBytes = 1024 * 1024;

// Reads and checks a configuration file; never throws. Refused (an error each, with its
// line where there is one): a file that cannot be opened or read (with the OS's reason), a
// directory, more than kMaxConfigBytes, YAML syntax errors, a second YAML document, a key
// that is not a plain name or is given twice in its section, unknown keys, values of the
// wrong shape or out of range (durations too large to represent included).
LoadResult loadConfig(const std::string& path);
// The same for text already read; an empty text means all defaults.
LoadResult parseConfig(const std::string& yamlText, const std::string& fileName = "<config>");

// "C8:47:8C:00:00:01"
bool validMac(const std::string& mac);

// "1s", "500ms", "2m", "1h" (a whole number >= 0 and a unit; "0" alone) -> milliseconds;
// false when malformed or too large for milliseconds in 64 bits (never wraps).
bool parseDuration(const std::string& text, std::chrono::milliseconds& out);

}  // namespace jkbms::config
