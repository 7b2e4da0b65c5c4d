#pragma once
// BleLink: a JK BMS over Bluetooth LE, through BlueZ on D-Bus (org.bluez: Adapter1, Device1,
// GattCharacteristic1), asynchronously on the daemon's io_context.
//
//   finding      GetManagedObjects: is the device (by MAC) known to BlueZ?
//   discovering  if not: StartDiscovery for at most Options::discoveryTime, then StopDiscovery
//                (the adapter is shared: never an endless scan)
//   connecting   Device1.Connect, then wait for ServicesResolved
//   subscribing  the FFE1 characteristics: StartNotify on the one that notifies, writes to the
//                one that takes writes (newer modules have two FFE1s, older ones one)
//   ready        notifications go to onData; send() writes without response
//   waiting      after a failure or a disconnect: retry with a doubling backoff

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "jkbms/util/byte_reader.hpp"

namespace sdbus {
class IConnection;
class IProxy;
}  // namespace sdbus

namespace jkbms::transport {

inline constexpr std::string_view kJkServiceUuid = "0000ffe0-0000-1000-8000-00805f9b34fb";
inline constexpr std::string_view kJkCharacteristicUuid = "0000ffe1-0000-1000-8000-00805f9b34fb";

class BleLink {
public:
    struct Options {
        std::string mac;  // "C8:47:8C:00:00:01"
        std::string adapter = "hci0";
        std::chrono::milliseconds discoveryTime{std::chrono::seconds(10)};
        std::chrono::milliseconds connectTimeout{std::chrono::seconds(20)};
        std::chrono::milliseconds retryFirst{std::chrono::seconds(2)};
        std::chrono::milliseconds retryMax{std::chrono::seconds(60)};
    };
    using DataHandler = std::function<void(util::ByteView)>;
    using StateHandler = std::function<void(bool ready, const std::string& detail)>;

    BleLink(boost::asio::io_context& io, sdbus::IConnection& bus, Options options);
    ~BleLink();
    BleLink(const BleLink&) = delete;
    BleLink& operator=(const BleLink&) = delete;

    void onData(DataHandler handler) { onData_ = std::move(handler); }
    void onState(StateHandler handler) { onState_ = std::move(handler); }
    void start();
    void stop();
    // Writes without response; false when not ready.
    bool send(const std::vector<std::uint8_t>& bytes);
    // Drops the connection and starts over (after the backoff).
    void reconnect(const std::string& why);
    bool ready() const { return state_ == State::Ready; }
    const std::string& devicePath() const { return devicePath_; }

private:
    enum class State : std::uint8_t { Idle, Finding, Discovering, Connecting, Subscribing, Ready, Waiting };

    void find();
    void discover();
    void connect();
    void afterConnect();
    void subscribe();
    void fail(const std::string& why);
    void setReady();

    boost::asio::io_context& io_;
    sdbus::IConnection& bus_;
    Options options_;
    std::string adapterPath_;
    std::string devicePath_;
    std::string notifyPath_;
    std::string writePath_;
    std::unique_ptr<sdbus::IProxy> root_;
    std::unique_ptr<sdbus::IProxy> adapter_;
    std::unique_ptr<sdbus::IProxy> device_;
    std::unique_ptr<sdbus::IProxy> notify_;
    std::unique_ptr<sdbus::IProxy> write_;
    std::unique_ptr<void, std::function<void(void*)>> discoverySlot_;  // sdbus::Slot: InterfacesAdded while discovering
    boost::asio::steady_timer timer_;
    std::chrono::milliseconds backoff_;
    State state_ = State::Idle;
    std::uint64_t attempt_ = 0;  // replies of an abandoned attempt are ignored
    DataHandler onData_;
    StateHandler onState_;
};

}  // namespace jkbms::transport
