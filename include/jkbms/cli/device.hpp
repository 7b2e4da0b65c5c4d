#pragma once
// A JK BMS for the CLI, reached directly (not through the daemon): NW or JK-PB on a serial
// port, or BLE through BlueZ. Request by request, on an io_context the caller owns (the tests
// run their simulator and fake BlueZ on the same one): each call pumps it until the answer is
// in or the time is up. Shares the codecs, transports and snapshot mapping with the daemon.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "jkbms/cli/device_options.hpp"
#include "jkbms/domain/battery_snapshot.hpp"

namespace sdbus {
class IConnection;
}

namespace jkbms::cli {

// The device did not answer (or could not be reached): what was tried, one line.
struct NoAnswer : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Device {
public:
    virtual ~Device() = default;
    // Identity, settings, cells: everything the BMS tells. Throws NoAnswer.
    virtual domain::BatterySnapshot readAll() = 0;
    // A fresh reading of cells and pack; identity and settings as last read. Throws NoAnswer.
    virtual domain::BatterySnapshot poll() = 0;
    // Writes the switch (jk-protocols.md 1.3, 2.12, 3.4), waits for the BMS's answer and
    // reads the switches back. Throws NoAnswer; std::invalid_argument when this BMS has no
    // such switch.
    virtual domain::BatterySnapshot writeSwitch(SwitchKind kind, bool on) = 0;
    // "NW on /dev/ttyUSB0", "JK-PB #1 on /dev/ttyUSB0", "BLE C8:47:8C:00:00:01".
    virtual std::string where() const = 0;
};

// Opens the port or connects BlueZ's bus; with options.protocol unset on a serial port, NW is
// tried first, then JK-PB at options.address. Throws NoAnswer.
std::unique_ptr<Device> openDevice(boost::asio::io_context& io, const DeviceOptions& options);

// `jkbms scan --serial`: first listens (a bus master's traffic means: transmit nothing), then
// one NW read-all, then a JK-PB cell-info trigger to each address 0-15.
struct SerialScan {
    std::size_t strayBytes = 0;           // heard while listening
    std::set<std::uint8_t> busAddresses;  // packs seen in that traffic
    std::optional<domain::BatterySnapshot> nw;
    std::map<std::uint8_t, domain::BatterySnapshot> pb;
};
inline constexpr std::chrono::milliseconds kListenFirst{600};
SerialScan scanSerial(boost::asio::io_context& io, const std::string& path, std::chrono::milliseconds timeout);

// BlueZ's bus: `address`, else the system bus. Throws NoAnswer.
std::unique_ptr<sdbus::IConnection> bluezBus(const std::optional<std::string>& address);

// Pumps `io` until `done()` or `timeout`; true when done.
bool pumpUntil(boost::asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds timeout);

}  // namespace jkbms::cli
