#include "jkbms/transport/ble_link.hpp"

#include "jkbms/util/callback_guard.hpp"

#include <boost/asio/post.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <cctype>

namespace jkbms::transport {
namespace {

namespace asio = boost::asio;

using Properties = std::map<std::string, sdbus::Variant>;
using Interfaces = std::map<std::string, Properties>;
using ManagedObjects = std::map<sdbus::ObjectPath, Interfaces>;

const sdbus::ServiceName kBluez{"org.bluez"};
const sdbus::InterfaceName kObjectManager{"org.freedesktop.DBus.ObjectManager"};
const sdbus::InterfaceName kProperties{"org.freedesktop.DBus.Properties"};
const sdbus::InterfaceName kAdapter1{"org.bluez.Adapter1"};
const sdbus::InterfaceName kDevice1{"org.bluez.Device1"};
const sdbus::InterfaceName kCharacteristic1{"org.bluez.GattCharacteristic1"};

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

template <class T>
std::optional<T> property(const Properties& props, const std::string& name) {
    auto it = props.find(name);
    if (it == props.end() || !it->second.containsValueOfType<T>()) return std::nullopt;
    return it->second.get<T>();
}

}  // namespace

BleLink::BleLink(boost::asio::io_context& io, sdbus::IConnection& bus, Options options)
    : io_(io),
      bus_(bus),
      options_(std::move(options)),
      adapterPath_("/org/bluez/" + options_.adapter),
      timer_(io),
      backoff_(options_.retryFirst) {}

BleLink::~BleLink() { stop(); }

void BleLink::start() {
    root_ = sdbus::createProxy(bus_, kBluez, sdbus::ObjectPath{"/"});
    adapter_ = sdbus::createProxy(bus_, kBluez, sdbus::ObjectPath{adapterPath_});
    find();
}

void BleLink::stop() {
    ++attempt_;
    timer_.cancel();
    if (state_ == State::Discovering && adapter_)
        adapter_->callMethodAsync("StopDiscovery").onInterface(kAdapter1).uponReplyInvoke([](std::optional<sdbus::Error>) {});
    if (device_ && (state_ == State::Ready || state_ == State::Subscribing || state_ == State::Connecting))
        device_->callMethodAsync("Disconnect").onInterface(kDevice1).uponReplyInvoke([](std::optional<sdbus::Error>) {});
    state_ = State::Idle;
    notify_.reset();
    write_.reset();
}

void BleLink::find() {
    state_ = State::Finding;
    root_->callMethodAsync("GetManagedObjects")
        .onInterface(kObjectManager)
        .uponReplyInvoke([this, attempt = attempt_](std::optional<sdbus::Error> error, ManagedObjects objects) { util::guarded("BlueZ", [&] {
            if (attempt != attempt_) return;
            if (error) {
                fail("BlueZ is not reachable: " + error->getMessage());
                return;
            }
            const std::string mac = lower(options_.mac);
            for (const auto& [path, interfaces] : objects) {
                auto dev = interfaces.find(std::string{kDevice1});
                if (dev == interfaces.end()) continue;
                auto address = property<std::string>(dev->second, "Address");
                if (address && lower(*address) == mac && std::string{path}.starts_with(adapterPath_ + "/")) {
                    devicePath_ = path;
                    connect();
                    return;
                }
            }
            discover();
        });
        });
}

void BleLink::discover() {
    state_ = State::Discovering;
    // Learn about the device when it shows up; give up after discoveryTime. The subscription
    // lives as long as this discovery (a slot), so retries do not pile up handlers.
    discoverySlot_ = root_->uponSignal("InterfacesAdded")
        .onInterface(kObjectManager)
        .call([this, attempt = attempt_](const sdbus::ObjectPath& path, const Interfaces& interfaces) { util::guarded("BlueZ", [&] {
            if (attempt != attempt_ || state_ != State::Discovering) return;
            auto dev = interfaces.find(std::string{kDevice1});
            if (dev == interfaces.end()) return;
            auto address = property<std::string>(dev->second, "Address");
            if (!address || lower(*address) != lower(options_.mac)) return;
            devicePath_ = path;
            timer_.cancel();
            adapter_->callMethodAsync("StopDiscovery").onInterface(kAdapter1).uponReplyInvoke([](std::optional<sdbus::Error>) {});
            asio::post(io_, [this, attempt] {
                if (attempt != attempt_) return;
                discoverySlot_.reset();  // not from inside its own handler
                connect();
            });
        });}, sdbus::return_slot);
    adapter_->callMethodAsync("StartDiscovery")
        .onInterface(kAdapter1)
        .uponReplyInvoke([this, attempt = attempt_](std::optional<sdbus::Error> error) { util::guarded("BlueZ", [&] {
            if (attempt != attempt_) return;
            if (error) fail("discovery failed: " + error->getMessage());
        });
        });
    timer_.expires_after(options_.discoveryTime);
    timer_.async_wait([this, attempt = attempt_](const boost::system::error_code& ec) {
        if (ec || attempt != attempt_ || state_ != State::Discovering) return;
        adapter_->callMethodAsync("StopDiscovery").onInterface(kAdapter1).uponReplyInvoke([](std::optional<sdbus::Error>) {});
        fail(options_.mac + " not seen in " + std::to_string(options_.discoveryTime.count() / 1000) + " s of discovery");
    });
}

void BleLink::connect() {
    state_ = State::Connecting;
    device_ = sdbus::createProxy(bus_, kBluez, sdbus::ObjectPath{devicePath_});
    device_->uponSignal("PropertiesChanged")
        .onInterface(kProperties)
        .call([this, attempt = attempt_](const std::string& iface, const Properties& changed, const std::vector<std::string>&) { util::guarded("BlueZ", [&] {
            if (attempt != attempt_ || iface != kDevice1) return;
            if (auto connected = property<bool>(changed, "Connected"); connected && !*connected &&
                                                                       state_ != State::Waiting) {
                fail("disconnected");
                return;
            }
            if (auto resolved = property<bool>(changed, "ServicesResolved"); resolved && *resolved &&
                                                                             state_ == State::Connecting)
                afterConnect();
        });
        });
    device_->callMethodAsync("Connect")
        .onInterface(kDevice1)
        .withTimeout(options_.connectTimeout)
        .uponReplyInvoke([this, attempt = attempt_](std::optional<sdbus::Error> error) { util::guarded("BlueZ", [&] {
            if (attempt != attempt_) return;
            if (error) {
                fail("connect failed: " + error->getMessage());
                return;
            }
            // ServicesResolved may already be true (no signal then): look.
            root_->callMethodAsync("GetManagedObjects")
                .onInterface(kObjectManager)
                .uponReplyInvoke([this, attempt](std::optional<sdbus::Error> e, ManagedObjects objects) { util::guarded("BlueZ", [&] {
                    if (attempt != attempt_ || e || state_ != State::Connecting) return;
                    auto it = objects.find(sdbus::ObjectPath{devicePath_});
                    if (it == objects.end()) return;
                    auto dev = it->second.find(std::string{kDevice1});
                    if (dev != it->second.end() && property<bool>(dev->second, "ServicesResolved").value_or(false))
                        afterConnect();
                });
                });
        });
        });
    timer_.expires_after(options_.connectTimeout);
    timer_.async_wait([this, attempt = attempt_](const boost::system::error_code& ec) {
        if (!ec && attempt == attempt_ && state_ == State::Connecting) fail("services not resolved in time");
    });
}

void BleLink::afterConnect() {
    state_ = State::Subscribing;
    timer_.cancel();
    root_->callMethodAsync("GetManagedObjects")
        .onInterface(kObjectManager)
        .uponReplyInvoke([this, attempt = attempt_](std::optional<sdbus::Error> error, ManagedObjects objects) { util::guarded("BlueZ", [&] {
            if (attempt != attempt_) return;
            if (error) {
                fail(error->getMessage());
                return;
            }
            notifyPath_.clear();
            writePath_.clear();
            for (const auto& [path, interfaces] : objects) {
                if (!std::string{path}.starts_with(devicePath_ + "/")) continue;
                auto ch = interfaces.find(std::string{kCharacteristic1});
                if (ch == interfaces.end()) continue;
                if (lower(property<std::string>(ch->second, "UUID").value_or("")) != kJkCharacteristicUuid) continue;
                const auto flags = property<std::vector<std::string>>(ch->second, "Flags").value_or(std::vector<std::string>{});
                auto has = [&flags](std::string_view f) { return std::find(flags.begin(), flags.end(), f) != flags.end(); };
                if (notifyPath_.empty() && (has("notify") || has("indicate"))) notifyPath_ = path;
                if (has("write-without-response") || (writePath_.empty() && has("write"))) writePath_ = path;
            }
            if (notifyPath_.empty() || writePath_.empty()) {
                fail("no JK characteristic (FFE1) on " + options_.mac);
                return;
            }
            subscribe();
        });
        });
}

void BleLink::subscribe() {
    notify_ = sdbus::createProxy(bus_, kBluez, sdbus::ObjectPath{notifyPath_});
    write_ = notifyPath_ == writePath_ ? nullptr : sdbus::createProxy(bus_, kBluez, sdbus::ObjectPath{writePath_});
    notify_->uponSignal("PropertiesChanged")
        .onInterface(kProperties)
        .call([this, attempt = attempt_](const std::string& iface, const Properties& changed, const std::vector<std::string>&) { util::guarded("BlueZ", [&] {
            if (attempt != attempt_ || iface != kCharacteristic1 || state_ != State::Ready) return;
            if (auto value = property<std::vector<std::uint8_t>>(changed, "Value"); value && onData_)
                onData_(util::ByteView{*value});
        });
        });
    notify_->callMethodAsync("StartNotify")
        .onInterface(kCharacteristic1)
        .uponReplyInvoke([this, attempt = attempt_](std::optional<sdbus::Error> error) { util::guarded("BlueZ", [&] {
            if (attempt != attempt_) return;
            if (error) fail("StartNotify failed: " + error->getMessage());
            else setReady();
        });
        });
}

void BleLink::setReady() {
    state_ = State::Ready;
    backoff_ = options_.retryFirst;
    if (onState_) onState_(true, "connected");
}

bool BleLink::send(const std::vector<std::uint8_t>& bytes) {
    if (state_ != State::Ready) return false;
    sdbus::IProxy& target = write_ ? *write_ : *notify_;
    const std::map<std::string, sdbus::Variant> options{{"type", sdbus::Variant{std::string{"command"}}}};
    target.callMethodAsync("WriteValue")
        .onInterface(kCharacteristic1)
        .withArguments(bytes, options)
        .uponReplyInvoke([this, attempt = attempt_](std::optional<sdbus::Error> error) { util::guarded("BlueZ", [&] {
            if (attempt == attempt_ && error) fail("write failed: " + error->getMessage());
        });
        });
    return true;
}

void BleLink::reconnect(const std::string& why) { fail(why); }

void BleLink::fail(const std::string& why) {
    if (device_ && state_ != State::Discovering && state_ != State::Finding)
        device_->callMethodAsync("Disconnect").onInterface(kDevice1).uponReplyInvoke([](std::optional<sdbus::Error>) {});
    ++attempt_;
    state_ = State::Waiting;
    notify_.reset();
    write_.reset();
    discoverySlot_.reset();
    if (onState_) onState_(false, why);
    timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, options_.retryMax);
    timer_.async_wait([this, attempt = attempt_](const boost::system::error_code& ec) {
        if (!ec && attempt == attempt_) find();
    });
}

}  // namespace jkbms::transport
