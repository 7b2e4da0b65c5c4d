#include "jkbms/cli/device.hpp"

#include <boost/asio/steady_timer.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <optional>
#include <system_error>
#include <vector>

#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/nw.hpp"
#include "jkbms/codec/pb_modbus.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"
#include "jkbms/transport/ble_link.hpp"
#include "jkbms/transport/serial_link.hpp"

namespace jkbms::cli {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string seconds(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
    return std::to_string(ms) + " ms";
}

// The codec's name for a switch, which each protocol's encoder takes.
codec::ble::Switch bleSwitch(SwitchKind kind) {
    switch (kind) {
        case SwitchKind::Charge: return codec::ble::Switch::Charge;
        case SwitchKind::Discharge: return codec::ble::Switch::Discharge;
        case SwitchKind::Balance: return codec::ble::Switch::Balancer;
    }
    return codec::ble::Switch::Balancer;
}

std::unique_ptr<transport::SerialLink> openSerial(boost::asio::io_context& io, const std::string& path) {
    auto link = std::make_unique<transport::SerialLink>(io, transport::SerialLink::Options{path});
    try {
        link->open();
    } catch (const transport::PortInUse& e) {
        std::string what = path + " is in use";
        what += e.pid > 0 ? " by " + (e.holder.empty() ? std::string{"another process"} : e.holder) + " (pid " +
                                std::to_string(e.pid) + ")"
                          : " by another process";
        if (e.holder == "dbus-jkbms") what += ": use `jkbms watch --dbus` while it runs (or stop it first: svc -d)";
        throw NoAnswer(what);
    } catch (const std::system_error& e) {
        throw NoAnswer("cannot open " + path + ": " + e.code().message());
    }
    return link;
}

// ---------------------------------------------------------------- NW (UART-TTL / RS485 port)

class NwDevice final : public Device {
public:
    NwDevice(boost::asio::io_context& io, std::string path, std::chrono::milliseconds timeout)
        : io_(io), path_(std::move(path)), timeout_(timeout), link_(openSerial(io, path_)) {
        link_->onData([this](util::ByteView bytes) {
            framer_.push(bytes);
            for (auto ev = framer_.next(); ev.status != codec::FramerStatus::NeedMore; ev = framer_.next()) {
                if (ev.status != codec::FramerStatus::Frame) continue;
                // Many RS485 adapters echo what we send: our own request is no answer, nor is a
                // read-all "reply" that carries no reading (as in the daemon's NwPoller).
                if (std::equal(ev.frame.begin(), ev.frame.end(), sent_.begin(), sent_.end())) continue;
                auto env = codec::nw::parseFrame(ev.frame);
                if (!env || !awaited_ || env->command != static_cast<std::uint8_t>(*awaited_)) continue;
                if (*awaited_ == codec::nw::Command::ReadAll) {
                    auto reading = codec::nw::decodeReadAll(ev.frame);
                    if (reading && !codec::nw::whyNotAReading(*reading).empty()) continue;
                }
                reply_.assign(ev.frame.begin(), ev.frame.end());
            }
        });
    }

    domain::BatterySnapshot readAll() override {
        const auto frame = request(codec::nw::encodeReadAll(), codec::nw::Command::ReadAll, "read-all", 2);
        auto decoded = codec::nw::decodeReadAll(frame);
        if (!decoded) throw NoAnswer("NW reply on " + path_ + " does not decode: " + util::describe(decoded.error()));
        return domain::fromNw(*decoded);
    }
    domain::BatterySnapshot poll() override { return readAll(); }

    domain::BatterySnapshot writeSwitch(SwitchKind kind, bool on) override {
        auto frame = codec::nw::encodeWrite(*codec::nw::switchId(bleSwitch(kind)), on ? 1 : 0);
        if (!frame) throw std::invalid_argument(util::describe(frame.error()));
        // One try: a write is not repeated blindly; the read-back tells what happened.
        request(std::move(*frame), codec::nw::Command::Write, "the switch write", 1);
        return readAll();
    }

    // Tries one read-all: does an NW BMS answer here?
    bool probe() {
        try {
            request(codec::nw::encodeReadAll(), codec::nw::Command::ReadAll, "read-all", 1);
            return true;
        } catch (const NoAnswer&) {
            return false;
        }
    }

    std::string where() const override { return "NW on " + path_; }

private:
    std::vector<std::uint8_t> request(std::vector<std::uint8_t> bytes, codec::nw::Command expect, const char* what, int tries) {
        for (int attempt = 0; attempt < tries; ++attempt) {
            reply_.clear();
            framer_.reset();
            link_->discardInput();
            awaited_ = expect;
            sent_ = bytes;
            link_->send(bytes);
            if (pumpUntil(io_, [this] { return !reply_.empty(); }, timeout_)) {
                awaited_.reset();
                return reply_;
            }
        }
        awaited_.reset();
        throw NoAnswer("no NW answer on " + path_ + " to " + what + " (115200 baud, " + std::to_string(tries) + " x " +
                       seconds(timeout_) + ")");
    }

    boost::asio::io_context& io_;
    std::string path_;
    std::chrono::milliseconds timeout_;
    std::unique_ptr<transport::SerialLink> link_;
    codec::nw::Framer framer_;
    std::vector<std::uint8_t> sent_;  // the request out (its echo is no answer)
    std::optional<codec::nw::Command> awaited_;
    std::vector<std::uint8_t> reply_;
};

// ---------------------------------------------------------------- JK-PB on RS485

class PbDevice final : public Device {
public:
    PbDevice(boost::asio::io_context& io, std::string path, std::uint8_t address, std::chrono::milliseconds timeout)
        : io_(io), path_(std::move(path)), address_(address), timeout_(timeout), link_(openSerial(io, path_)),
          idle_(io), merger_(domain::Protocol::Pb, true) {
        link_->onData([this](util::ByteView bytes) {
            framer_.push(bytes);
            drain(false);
            // A frame still waiting for its ACK is released once the line has gone quiet.
            idle_.expires_after(30ms);
            idle_.async_wait([this](const boost::system::error_code& ec) {
                if (!ec) drain(true);
            });
        });
    }

    domain::BatterySnapshot readAll() override {
        // Cell info first: a pack that is not there is known after its timeout. About is
        // optional: some firmware answers it only now and then (jk-protocols.md 3.2).
        trigger(codec::pb::Trigger::CellInfo, timeout_, true);
        trigger(codec::pb::Trigger::About, std::max(timeout_, std::chrono::milliseconds(1000)), false);
        trigger(codec::pb::Trigger::Settings, std::max(timeout_, std::chrono::milliseconds(1000)), false);
        return *snapshot_;
    }

    domain::BatterySnapshot poll() override {
        trigger(codec::pb::Trigger::CellInfo, timeout_, true);
        return *snapshot_;
    }

    domain::BatterySnapshot writeSwitch(SwitchKind kind, bool on) override {
        const std::uint16_t r = *codec::pb::switchRegister(bleSwitch(kind));
        pace();
        ackFor_ = r;
        acked_ = false;
        exception_.reset();
        framer_.reset();
        link_->discardInput();
        link_->send(codec::pb::encodeWriteU32(address_, r, on ? 1 : 0));
        lastSend_ = Clock::now();
        const auto wait = std::max(timeout_, std::chrono::milliseconds(1000));
        const bool answered = pumpUntil(io_, [this] { return acked_ || exception_.has_value(); }, wait);
        ackFor_.reset();
        if (exception_)
            throw NoAnswer("JK-PB #" + std::to_string(address_) + " on " + path_ + " refused the write to register " +
                           hex(r) + " (Modbus exception " + std::to_string(*exception_) + ")");
        if (!answered)
            throw NoAnswer("no ACK from JK-PB #" + std::to_string(address_) + " on " + path_ + " to the write of register " +
                           hex(r) + " (" + seconds(wait) + ")");
        // Read back: the switches live in the settings frame.
        trigger(codec::pb::Trigger::Settings, std::max(timeout_, std::chrono::milliseconds(1000)), true);
        return *snapshot_;
    }

    std::string where() const override { return "JK-PB #" + std::to_string(address_) + " on " + path_; }

    // Scans: one cell-info trigger (one try) to `address`; the snapshot when it answered.
    std::optional<domain::BatterySnapshot> probe(std::uint8_t address) {
        address_ = address;
        merger_.reset();
        snapshot_.reset();
        if (!trigger(codec::pb::Trigger::CellInfo, timeout_, false, 1)) return std::nullopt;
        trigger(codec::pb::Trigger::About, timeout_, false, 1);
        return snapshot_;
    }

private:
    static std::string hex(std::uint16_t v) {
        static constexpr char kDigits[] = "0123456789abcdef";
        std::string s = "0x";
        for (int shift = 12; shift >= 0; shift -= 4) s.push_back(kDigits[(v >> shift) & 0xF]);
        return s;
    }

    void drain(bool idle) {
        for (auto ev = idle ? framer_.flush() : framer_.next(); ev.kind != codec::pb::BusEvent::Kind::NeedMore;
             ev = framer_.next()) {
            using Kind = codec::pb::BusEvent::Kind;
            if (ev.kind == Kind::JkFrame && awaitedType_ && ev.address.value_or(address_) == address_) {
                auto merged = merger_.merge(snapshot_, ev.frame);
                if (merged.applied && merged.type == awaitedType_) got_ = true;
            } else if (ev.kind == Kind::Modbus && ev.modbus.address == address_) {
                if (ev.modbus.kind == codec::pb::ModbusKind::WriteAck && ackFor_ && ev.modbus.reg == *ackFor_) acked_ = true;
                if (ev.modbus.kind == codec::pb::ModbusKind::Exception && ackFor_) exception_ = ev.modbus.exceptionCode;
            }
        }
    }

    // At least 120 ms between commands on the bus (jk-protocols.md 3.2).
    void pace() {
        const auto ready = lastSend_ + 120ms;
        if (Clock::now() < ready)
            pumpUntil(io_, [ready] { return Clock::now() >= ready; }, std::chrono::duration_cast<std::chrono::milliseconds>(ready - Clock::now()) + 1ms);
    }

    bool trigger(codec::pb::Trigger t, std::chrono::milliseconds wait, bool required, int tries = 2) {
        const auto type = t == codec::pb::Trigger::CellInfo   ? codec::ble::FrameType::CellInfo
                          : t == codec::pb::Trigger::Settings ? codec::ble::FrameType::Settings
                                                              : codec::ble::FrameType::DeviceInfo;
        for (int attempt = 0; attempt < tries; ++attempt) {
            pace();
            got_ = false;
            awaitedType_ = type;
            framer_.reset();
            link_->discardInput();
            const auto bytes = codec::pb::encodeTrigger(address_, t);
            link_->send({bytes.begin(), bytes.end()});
            lastSend_ = Clock::now();
            const bool ok = pumpUntil(io_, [this] { return got_; }, wait);
            awaitedType_.reset();
            if (ok) return true;
        }
        if (!required) return false;
        throw NoAnswer("no answer from JK-PB address " + std::to_string(address_) + " on " + path_ + " to the " +
                       (t == codec::pb::Trigger::CellInfo ? "cell-info trigger 0x1620" : "settings trigger 0x161e") +
                       " (115200 baud, " + std::to_string(tries) + " x " + seconds(wait) + ")");
    }

    boost::asio::io_context& io_;
    std::string path_;
    std::uint8_t address_;
    std::chrono::milliseconds timeout_;
    std::unique_ptr<transport::SerialLink> link_;
    boost::asio::steady_timer idle_;
    codec::pb::BusFramer framer_;
    domain::JkFrameMerger merger_;
    std::optional<domain::BatterySnapshot> snapshot_;
    std::optional<codec::ble::FrameType> awaitedType_;
    bool got_ = false;
    std::optional<std::uint16_t> ackFor_;
    bool acked_ = false;
    std::optional<std::uint8_t> exception_;
    Clock::time_point lastSend_{};
};

// ---------------------------------------------------------------- BLE through BlueZ

class BleDevice final : public Device {
public:
    BleDevice(boost::asio::io_context& io, const DeviceOptions& options)
        : io_(io), mac_(options.ble), timeout_(options.timeout), merger_(domain::Protocol::Ble, false) {
        bus_ = bluezBus(options.dbusAddress);
        loop_ = std::make_unique<dbus::AsioSdbusLoop>(io, *bus_, [this](const std::string& e) { problem_ = "D-Bus failed: " + e; });
        link_ = std::make_unique<transport::BleLink>(io, *bus_, transport::BleLink::Options{mac_, options.adapter});
        link_->onState([this](bool ready, const std::string& detail) {
            if (!ready) {
                problem_ = detail;
                return;
            }
            assembler_.reset();
            send(codec::ble::encodeRequestDeviceInfo());
            send(codec::ble::encodeRequestSettings());
        });
        link_->onData([this](util::ByteView chunk) {
            const auto ev = assembler_.feed(chunk);
            if (ev.status == codec::FramerStatus::Frame) merger_.merge(snapshot_, ev.frame);
        });
        loop_->start();
        link_->start();
    }

    ~BleDevice() override {
        // A JK BMS takes one BLE connection: leave it free for the daemon or the app. Asked
        // asynchronously and waited for on the loop (BlueZ may share our io_context in tests).
        if (link_->ready()) {
            bool answered = false;
            try {
                auto device = sdbus::createProxy(*bus_, sdbus::ServiceName{"org.bluez"}, sdbus::ObjectPath{link_->devicePath()});
                device->callMethodAsync("Disconnect").onInterface("org.bluez.Device1").withTimeout(2s).uponReplyInvoke(
                    [&answered](std::optional<sdbus::Error>) { answered = true; });
                pumpUntil(io_, [&answered] { return answered; }, 2s);
            } catch (const sdbus::Error&) {
            }
        }
        link_->stop();
        loop_->stop();
    }

    domain::BatterySnapshot readAll() override {
        connect();
        pumpUntil(io_, [this] { return merger_.haveCellInfo() && merger_.haveSettings() && merger_.haveDeviceInfo(); }, timeout_);
        if (!merger_.haveCellInfo())
            throw NoAnswer("BLE " + mac_ + " is connected but sent no cell info within " + seconds(timeout_) +
                           " (asked with 0x97 and 0x96)");
        return *snapshot_;
    }

    domain::BatterySnapshot poll() override {
        connect();
        const auto seen = merger_.cellInfoSeen();
        // The stream comes by itself (about once a second); when it stopped, ask again once.
        if (!pumpUntil(io_, [&] { return merger_.cellInfoSeen() > seen; }, std::min(timeout_, std::chrono::milliseconds(5000)))) {
            send(codec::ble::encodeRequestSettings());
            if (!pumpUntil(io_, [&] { return merger_.cellInfoSeen() > seen; }, std::min(timeout_, std::chrono::milliseconds(5000))))
                throw NoAnswer("BLE " + mac_ + ": the cell-info stream stopped (asked again with 0x96)");
        }
        return *snapshot_;
    }

    domain::BatterySnapshot writeSwitch(SwitchKind kind, bool on) override {
        if (!merger_.haveCellInfo()) readAll();
        const auto variant = merger_.variant().value_or(
            snapshot_->identity.variant == "JK04" ? codec::ble::Variant::Jk04
            : snapshot_->identity.variant == "JK02_24S" ? codec::ble::Variant::Jk02_24S : codec::ble::Variant::Jk02_32S);
        auto command = codec::ble::encodeSwitch(variant, bleSwitch(kind), on);
        if (!command)
            throw std::invalid_argument(std::string{codec::ble::variantName(variant)} + " has no " +
                                        std::string{switchName(kind)} + " switch");
        const auto seen = merger_.settingsSeen();
        send(*command);
        // The BMS answers a write with a fresh settings frame (jk-protocols.md 2.3); when it
        // does not, ask for one.
        if (!pumpUntil(io_, [&] { return merger_.settingsSeen() > seen; }, 3s)) {
            send(codec::ble::encodeRequestSettings());
            if (!pumpUntil(io_, [&] { return merger_.settingsSeen() > seen; }, 3s))
                throw NoAnswer("BLE " + mac_ + " sent no settings after the switch write (asked again with 0x96)");
        }
        return *snapshot_;
    }

    std::string where() const override { return "BLE " + mac_; }

private:
    void send(const codec::ble::Command& command) { link_->send({command.begin(), command.end()}); }

    void connect() {
        if (link_->ready()) return;
        if (!pumpUntil(io_, [this] { return link_->ready(); }, timeout_))
            throw NoAnswer("BLE " + mac_ + " not connected within " + seconds(timeout_) +
                           (problem_.empty() ? std::string{" (BlueZ has not found it)"} : " (" + problem_ + ")"));
    }

    boost::asio::io_context& io_;
    std::string mac_;
    std::chrono::milliseconds timeout_;
    std::unique_ptr<sdbus::IConnection> bus_;
    std::unique_ptr<dbus::AsioSdbusLoop> loop_;
    std::unique_ptr<transport::BleLink> link_;
    codec::ble::Assembler assembler_;
    domain::JkFrameMerger merger_;
    std::optional<domain::BatterySnapshot> snapshot_;
    std::string problem_;
};

}  // namespace

std::unique_ptr<sdbus::IConnection> bluezBus(const std::optional<std::string>& address) {
    try {
        // BlueZ lives on the system bus, also where a desktop session has a bus of its own.
        if (!address) return sdbus::createSystemBusConnection();
        return dbus::connectBus(address);
    } catch (const sdbus::Error& e) {
        throw NoAnswer("cannot reach BlueZ's D-Bus: " + e.getMessage());
    }
}

SerialScan scanSerial(boost::asio::io_context& io, const std::string& path, std::chrono::milliseconds timeout) {
    SerialScan scan;
    {
        // Listen first: on a bus with a BMS master (address 0) a driver must not transmit.
        auto link = openSerial(io, path);
        codec::pb::BusFramer framer;
        link->onData([&](util::ByteView bytes) {
            scan.strayBytes += bytes.size();
            framer.push(bytes);
            for (auto ev = framer.next(); ev.kind != codec::pb::BusEvent::Kind::NeedMore; ev = framer.next()) {
                if (ev.kind == codec::pb::BusEvent::Kind::JkFrame && ev.address) scan.busAddresses.insert(*ev.address);
                if (ev.kind == codec::pb::BusEvent::Kind::Modbus && ev.modbus.isTrigger()) scan.busAddresses.insert(ev.modbus.address);
            }
        });
        pumpUntil(io, [] { return false; }, kListenFirst);
        if (scan.strayBytes > 0) return scan;
    }
    {
        NwDevice nw(io, path, timeout);
        try {
            scan.nw = nw.readAll();
            return scan;
        } catch (const NoAnswer&) {
        }
    }
    PbDevice pb(io, path, 1, timeout);
    for (std::uint8_t a = 0; a <= codec::pb::kMaxAddress; ++a)
        if (auto s = pb.probe(a)) scan.pb.emplace(a, std::move(*s));
    return scan;
}

bool pumpUntil(boost::asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    // Keeps the context from running out of work while we wait.
    boost::asio::steady_timer guard(io, until);
    guard.async_wait([](const boost::system::error_code&) {});
    bool ok = done();
    while (!ok && Clock::now() < until) {
        if (io.stopped()) io.restart();
        io.run_one_until(until);
        ok = done();
    }
    return ok;  // the guard's wait completes as cancelled, later, holding nothing
}

std::unique_ptr<Device> openDevice(boost::asio::io_context& io, const DeviceOptions& options) {
    DeviceOptions o = options;
    if (!o.ble.empty()) {
        if (o.timeout.count() == 0) o.timeout = 30s;
        return std::make_unique<BleDevice>(io, o);
    }
    if (o.timeout.count() == 0) o.timeout = 1s;
    if (o.protocol == Protocol::Nw) return std::make_unique<NwDevice>(io, o.serial, o.timeout);
    if (o.protocol == Protocol::Pb) return std::make_unique<PbDevice>(io, o.serial, o.address, o.timeout);
    // Not said: NW first (one read-all), then JK-PB at the address.
    {
        auto nw = std::make_unique<NwDevice>(io, o.serial, o.timeout);
        if (nw->probe()) return nw;
    }
    auto pb = std::make_unique<PbDevice>(io, o.serial, o.address, std::min(o.timeout, std::chrono::milliseconds(500)));
    try {
        pb->poll();
    } catch (const NoAnswer&) {
        throw NoAnswer("no answer on " + o.serial + ": tried NW (read-all, 115200 baud, " + seconds(o.timeout) +
                       ") and JK-PB address " + std::to_string(o.address) + " (cell-info trigger, 2 x " +
                       seconds(std::min(o.timeout, std::chrono::milliseconds(500))) + "); see jkbms scan --serial " + o.serial);
    }
    return pb;
}

}  // namespace jkbms::cli
