#pragma once
// A test-only org.bluez on the private bus, built the way sd-bus serves BlueZ-like trees: an
// object manager on "/" (GetManagedObjects, InterfacesAdded), real properties with
// PropertiesChanged; Adapter1 (discovery), Device1 (Connect / Disconnect, ServicesResolved),
// and one JK FFE1 characteristic (GattCharacteristic1: StartNotify, WriteValue). Commands are answered the way a JK BMS does
// (jk-protocols.md 2.3): 0x97 -> a device-info frame, 0x96 -> a settings frame and then a
// cell-info frame every `period`, each frame sent as 20-byte Value notifications
// (PropertiesChanged), as BlueZ delivers them with the default MTU.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <sdbus-c++/sdbus-c++.h>
#include <string>
#include <vector>

#include "jkbms/codec/ble.hpp"
#include "fakes/claim_name.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"

namespace jkbms::test {

class FakeBluez {
public:
    using Frame = std::vector<std::uint8_t>;
    // What the fake BMS sends: the frames for 0x97, for 0x96, and each cell-info tick.
    struct Frames {
        std::function<Frame()> deviceInfo, settings, cellInfo;
        // Any other command (a switch write): the BMS takes it, then sends a settings frame.
        std::function<void(const codec::ble::DecodedCommand&)> write{};
    };

    FakeBluez(boost::asio::io_context& io, const std::string& address, std::string mac, Frames frames,
              bool knownAtStart = true, std::chrono::milliseconds period = std::chrono::milliseconds(300))
        : connection_(sdbus::createSessionBusConnectionWithAddress(address)),
          mac_(std::move(mac)),
          frames_(std::move(frames)),
          period_(period),
          stream_(io) {
        std::string id = mac_;
        for (char& c : id)
            if (c == ':') c = '_';
        devicePath_ = "/org/bluez/hci0/dev_" + id;
        connection_->addObjectManager(sdbus::ObjectPath{"/"});
        adapter_ = sdbus::createObject(*connection_, sdbus::ObjectPath{"/org/bluez/hci0"});
        adapter_->addVTable(sdbus::registerMethod("StartDiscovery").implementedAs([this] { startDiscovery(); }),
                            sdbus::registerMethod("StopDiscovery").implementedAs([this] { discovering_ = false; }),
                            sdbus::registerProperty("Powered").withGetter([] { return true; }))
            .forInterface(kAdapter);
        if (knownAtStart) addDevice();
        claimName(*connection_, "org.bluez");
        loop_ = std::make_unique<dbus::AsioSdbusLoop>(io, *connection_);
        loop_->start();
    }

    bool connected() const { return connected_; }
    bool discovering() const { return discovering_; }
    int discoveries() const { return discoveries_; }
    int connects() const { return connects_; }
    const std::vector<std::uint8_t>& commands() const { return commands_; }
    void setSilent(bool silent) { silent_ = silent; }
    // The BMS goes out of range: BlueZ reports the disconnect.
    void dropConnection() { disconnect(); }
    // Another device in range (not a JK BMS, or a second one), as discovery reports it.
    void addOtherDevice(const std::string& mac, const std::string& name, std::int16_t rssi) {
        std::string id = mac;
        for (char& c : id)
            if (c == ':') c = '_';
        auto object = sdbus::createObject(*connection_, sdbus::ObjectPath{"/org/bluez/hci0/dev_" + id});
        object->addVTable(sdbus::registerProperty("Address").withGetter([mac] { return mac; }),
                          sdbus::registerProperty("Name").withGetter([name] { return name; }),
                          sdbus::registerProperty("RSSI").withGetter([rssi] { return rssi; }),
                          sdbus::registerProperty("Connected").withGetter([] { return false; }))
            .forInterface(kDevice);
        object->emitInterfacesAddedSignal();
        others_.push_back(std::move(object));
    }

private:
    inline static const sdbus::InterfaceName kAdapter{"org.bluez.Adapter1"};
    inline static const sdbus::InterfaceName kDevice{"org.bluez.Device1"};
    inline static const sdbus::InterfaceName kService{"org.bluez.GattService1"};
    inline static const sdbus::InterfaceName kChar{"org.bluez.GattCharacteristic1"};

    void addDevice() {
        device_ = sdbus::createObject(*connection_, sdbus::ObjectPath{devicePath_});
        device_->addVTable(sdbus::registerMethod("Connect").implementedAs([this] { connect(); }),
                           sdbus::registerMethod("Disconnect").implementedAs([this] { disconnect(); }),
                           sdbus::registerProperty("Address").withGetter([this] { return mac_; }),
                           sdbus::registerProperty("Name").withGetter([] { return std::string{"JK_B2A8S20P"}; }),
                           sdbus::registerProperty("RSSI").withGetter([] { return std::int16_t{-67}; }),
                           sdbus::registerProperty("Connected").withGetter([this] { return connected_; }),
                           sdbus::registerProperty("ServicesResolved").withGetter([this] { return connected_; }))
            .forInterface(kDevice);
        device_->emitInterfacesAddedSignal();
    }

    void addGatt() {
        service_ = sdbus::createObject(*connection_, sdbus::ObjectPath{devicePath_ + "/service000c"});
        service_->addVTable(sdbus::registerProperty("UUID").withGetter([] {
                      return std::string{"0000ffe0-0000-1000-8000-00805f9b34fb"};
                  }))
            .forInterface(kService);
        characteristic_ = sdbus::createObject(*connection_, sdbus::ObjectPath{devicePath_ + "/service000c/char000d"});
        characteristic_
            ->addVTable(sdbus::registerMethod("StartNotify").implementedAs([this] { notifying_ = true; }),
                        sdbus::registerMethod("StopNotify").implementedAs([this] { notifying_ = false; }),
                        sdbus::registerMethod("WriteValue").implementedAs(
                            [this](const std::vector<std::uint8_t>& v, const std::map<std::string, sdbus::Variant>&) { write(v); }),
                        sdbus::registerProperty("UUID").withGetter([] {
                            return std::string{"0000ffe1-0000-1000-8000-00805f9b34fb"};
                        }),
                        sdbus::registerProperty("Flags").withGetter([] {
                            return std::vector<std::string>{"read", "write-without-response", "write", "notify"};
                        }),
                        sdbus::registerProperty("Value").withGetter([this] { return value_; }))
            .forInterface(kChar);
        service_->emitInterfacesAddedSignal();
        characteristic_->emitInterfacesAddedSignal();
    }

    void startDiscovery() {
        discovering_ = true;
        ++discoveries_;
        if (!device_) addDevice();  // the device is in range: BlueZ reports it
    }

    void connect() {
        ++connects_;
        connected_ = true;
        if (!characteristic_) addGatt();
        device_->emitPropertiesChangedSignal(kDevice, {sdbus::PropertyName{"Connected"}, sdbus::PropertyName{"ServicesResolved"}});
    }

    void disconnect() {
        if (!connected_) return;
        connected_ = false;
        notifying_ = false;
        stream_.cancel();
        device_->emitPropertiesChangedSignal(kDevice, {sdbus::PropertyName{"Connected"}, sdbus::PropertyName{"ServicesResolved"}});
    }

    void write(const std::vector<std::uint8_t>& command) {
        auto c = codec::ble::decodeCommand(command);
        if (!c) return;
        commands_.push_back(c->reg);
        if (c->reg == codec::ble::reg::kRequestDeviceInfo) notifyFrame(frames_.deviceInfo());
        if (c->reg == codec::ble::reg::kRequestSettings) {
            notifyFrame(frames_.settings());
            tick();
        } else if (c->reg != codec::ble::reg::kRequestDeviceInfo && frames_.write) {
            frames_.write(*c);
            notifyFrame(frames_.settings());
        }
    }

    void tick() {
        stream_.expires_after(period_);
        stream_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || !connected_) return;
            notifyFrame(frames_.cellInfo());
            tick();
        });
    }

    void notifyFrame(const Frame& frame) {
        if (!notifying_ || silent_) return;
        for (std::size_t i = 0; i < frame.size(); i += 20) {
            value_.assign(frame.begin() + static_cast<std::ptrdiff_t>(i),
                          frame.begin() + static_cast<std::ptrdiff_t>(std::min(frame.size(), i + 20)));
            characteristic_->emitPropertiesChangedSignal(kChar, {sdbus::PropertyName{"Value"}});
        }
    }

    std::unique_ptr<sdbus::IConnection> connection_;
    std::string mac_;
    Frames frames_;
    std::chrono::milliseconds period_;
    boost::asio::steady_timer stream_;
    std::string devicePath_;
    std::unique_ptr<sdbus::IObject> adapter_, device_, service_, characteristic_;
    std::vector<std::unique_ptr<sdbus::IObject>> others_;
    std::unique_ptr<dbus::AsioSdbusLoop> loop_;
    std::vector<std::uint8_t> value_;
    bool connected_ = false, notifying_ = false, discovering_ = false, silent_ = false;
    int discoveries_ = 0, connects_ = 0;
    std::vector<std::uint8_t> commands_;
};

}  // namespace jkbms::test
