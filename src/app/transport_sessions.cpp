#include "jkbms/app/transport_sessions.hpp"

#include <sdbus-c++/IConnection.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "jkbms/dbus/bus_address.hpp"

namespace jkbms::app {
namespace {

namespace ble = codec::ble;

// Protocol auto: how long NW gets before JK-PB is tried, and the JK-PB discovery deadline then.
constexpr auto kNwProbe = std::chrono::seconds(3);
constexpr auto kPbProbeTimeout = std::chrono::milliseconds(200);

}  // namespace

// --- NW ---

NwSession::NwSession(boost::asio::io_context& io, transport::SerialLink& link, const config::PollConfig& poll,
                     std::string port, bool probing, SessionSink& sink)
    : port_(std::move(port)), probing_(probing), sink_(sink), poller_(std::make_unique<NwPoller>(io, link, poll)) {
    poller_->onReading([this](const codec::nw::ReadAll& r) {
        if (probing_) spdlog::info("{}: a JK BMS answers NW", port_);
        probing_ = false;
        sink_.onNwReading(r);
    });
    poller_->onMiss([this](const std::string& why) {
        if (probing_) {
            if (sink_.startSilence(SessionSink::Clock::now()) < kNwProbe) return;
            if (sink_.pressOnAtStart()) return;  // NW gets another probe once the press is over
            // No NW answer: maybe JK-PB packs on an RS485 bus.
            probing_ = false;
            poller_->stop();
            spdlog::info("{}: no NW answer; trying JK-PB (RS485, addresses 1-15)", port_);
            sink_.onNoNwAnswer();
            return;
        }
        sink_.onMiss(0, why);
    });
    spdlog::info("{}: polling NW every {} ms{}", port_, poll.interval.count(), probing_ ? " (probing; JK-PB next)" : "");
}

void NwSession::start() { poller_->start(); }

void NwSession::stop() { poller_->stop(); }

SwitchWrite NwSession::writeSwitch(ble::Switch which, bool on, NwPoller::WriteDone done) {
    if (!poller_->running()) return SwitchWrite::Refused;  // stopped: it would never go out
    const std::uint8_t dataId = *codec::nw::switchId(which);
    auto frame = codec::nw::encodeWrite(dataId, on ? 1 : 0);
    if (!frame) return SwitchWrite::Refused;
    if (!poller_->write(dataId, std::move(*frame), std::move(done))) return SwitchWrite::Full;
    return SwitchWrite::Queued;
}

// --- JK-PB ---

namespace {

PbPoller::Options pbOptions(const config::Config& config, bool probing) {
    const auto& poll = config.poll;
    PbPoller::Options o{config.serial.addresses, poll.interval, probing ? kPbProbeTimeout : poll.timeout, poll.pacing};
    o.goneProbeEvery = poll.goneProbe;
    return o;
}

}  // namespace

PbBusSession::PbBusSession(boost::asio::io_context& io, transport::SerialLink& link, const config::Config& config,
                           std::string port, bool probing, SessionSink& sink)
    : interval_(config.poll.interval),
      sink_(sink),
      poller_(std::make_unique<PbPoller>(io, link, pbOptions(config, probing))),
      listenTimer_(io) {
    poller_->onFrame([this](std::uint8_t a, util::ByteView f) { return sink_.onJkFrame(a, f); });
    poller_->onMiss([this](std::uint8_t a, const std::string& why) { sink_.onMiss(a, why); });
    poller_->onRoundEnd([this] { sink_.onRoundEnd(); });
    poller_->onDiscovered([this](const std::vector<std::uint8_t>& found) { sink_.onDiscovered(found); });
    // The tick runs only under a master (no wake-up a second while we poll ourselves).
    poller_->onListening([this] {
        if (!listenTicking_ && !stopped_) listenTick();
    });
    spdlog::info("{}: polling JK-PB {} every {} ms", port,
                 config.serial.addresses.empty()
                     ? std::string{"(discovering 1-15)"}
                     : std::to_string(config.serial.addresses.size()) + " pack(s)",
                 config.poll.interval.count());
}

void PbBusSession::start() {
    poller_->start();
}

void PbBusSession::stop() {
    stopped_ = true;
    listenTimer_.cancel();
    poller_->stop();
}

void PbBusSession::rediscover() {
    poller_->stop();
    poller_->start();
}

void PbBusSession::listenTick() {
    listenTicking_ = true;
    listenTimer_.expires_after(interval_);
    listenTimer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        // Under a master each pack is heard once per master cycle: the daemon judges silences.
        if (poller_->listening()) sink_.onListenTick(SessionSink::Clock::now());
        if (!stopped_) listenTick();
    });
}

SwitchWrite PbBusSession::writeSwitch(std::uint8_t address, ble::Switch which, bool on, PbPoller::WriteDone done) {
    if (poller_->listening()) return SwitchWrite::Listening;
    if (!poller_->write(address, *codec::pb::switchRegister(which), on ? 1 : 0, std::move(done))) return SwitchWrite::Full;
    return SwitchWrite::Queued;
}

// --- BLE ---

BleSession::BleSession(boost::asio::io_context& io, const config::Config& config, std::string port, SessionSink& sink)
    : interval_(config.poll.interval), port_(std::move(port)), adapter_(config.ble.adapter), sink_(sink), timer_(io) {
    std::optional<std::string> address;
    if (!config.dbus.address.empty()) address = config.dbus.address;
    // BlueZ is on the same bus as the battery services (the system bus on Venus).
    bus_ = dbus::connectBus(address);  // throws: a start-up error
    loop_ = std::make_unique<dbus::AsioSdbusLoop>(io, *bus_, [this](const std::string& e) {
        sink_.onTransportFailed("BlueZ connection failed: " + e);
    });
    link_ = std::make_unique<transport::BleLink>(io, *bus_, transport::BleLink::Options{config.ble.mac, config.ble.adapter});
    link_->onState([this](bool ready, const std::string& detail) {
        if (!ready) {
            spdlog::warn("{}: {}; retrying", port_, detail);
            return;
        }
        spdlog::info("{}: connected; asking for device info and the cell-info stream", port_);
        assembler_.reset();
        resends_ = 0;
        lastCellInfo_ = SessionSink::Clock::now();
        const auto deviceInfo = ble::encodeRequestDeviceInfo();
        link_->send({deviceInfo.begin(), deviceInfo.end()});
        // Some firmware (V19/V20) streams only when 0x96 follows 0x97; the answer to 0x97 is not waited for.
        const auto settings = ble::encodeRequestSettings();
        link_->send({settings.begin(), settings.end()});
    });
    link_->onData([this](util::ByteView chunk) {
        const auto ev = assembler_.feed(chunk);
        if (ev.status == codec::FramerStatus::Frame) sink_.onJkFrame(0, ev.frame);
        else if (ev.status == codec::FramerStatus::Bad) spdlog::debug("ble: {}", util::describe(ev.error));
    });
}

BleSession::~BleSession() = default;

void BleSession::start() {
    loop_->start();
    link_->start();
    tick();
    spdlog::info("{}: looking for the BMS through BlueZ ({})", port_, adapter_);
}

void BleSession::stop() {
    stopped_ = true;
    timer_.cancel();
    link_->stop();
}

void BleSession::stopBus() { loop_->stop(); }

void BleSession::cellInfoArrived() {
    lastCellInfo_ = SessionSink::Clock::now();
    resends_ = 0;
}

void BleSession::tick() {
    timer_.expires_after(interval_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        const auto now = SessionSink::Clock::now();
        if (link_->ready() && now - lastCellInfo_ >= std::chrono::seconds(10)) {
            // The stream stopped (jk-protocols.md 2.3): ask again, then reconnect.
            if (++resends_ > 3) {
                link_->reconnect("no cell info after asking 3 times");
                resends_ = 0;
            } else {
                const auto settings = ble::encodeRequestSettings();
                link_->send({settings.begin(), settings.end()});
            }
            lastCellInfo_ = now;
        }
        sink_.onBleTick(now);
        if (!stopped_) tick();
    });
}

SwitchWrite BleSession::writeSwitch(ble::Variant variant, ble::Switch which, bool on) {
    if (!link_->ready()) return SwitchWrite::Refused;
    auto command = ble::encodeSwitch(variant, which, on);
    if (!command) return SwitchWrite::NoSuchSwitch;
    // The BMS answers with a fresh settings frame (jk-protocols.md 2.3): the next reading shows it.
    return link_->send({command->begin(), command->end()}) ? SwitchWrite::Sent : SwitchWrite::Unsent;
}

}  // namespace jkbms::app
