#include "jkbms/sim/responder.hpp"

#include "jkbms/codec/checksum.hpp"

namespace jkbms::sim {

void NwResponder::feed(util::ByteView bytes, std::vector<Answer>& answers) {
    framer_.push(bytes);
    for (auto ev = framer_.next(); ev.status != codec::FramerStatus::NeedMore; ev = framer_.next()) {
        if (ev.status != codec::FramerStatus::Frame) continue;
        auto env = codec::nw::parseFrame(ev.frame);
        if (!bms_.powered()) continue;  // switched off or asleep: the UART is dead
        if (!env) continue;
        if (env->command == static_cast<std::uint8_t>(codec::nw::Command::ReadAll))
            answers.push_back(bms_.nwReadAllReply());
        else if (env->command == static_cast<std::uint8_t>(codec::nw::Command::Write))
            answers.push_back(write(env->payload));
    }
}

Answer NwResponder::write(util::ByteView payload) {
    // id + value (jk-protocols.md 1.3); the reply echoes the id, taken or not.
    if (payload.empty()) return {};
    const std::uint8_t dataId = payload[0];
    const bool on = payload.size() > 1 && payload[1] != 0;
    namespace id = codec::nw::id;
    using Switch = SimulatedBms::Switch;
    bms_.countSwitchWrite();
    if (dataId == id::kChargeSwitch) bms_.setSwitch(Switch::Charge, on);
    else if (dataId == id::kDischargeSwitch) bms_.setSwitch(Switch::Discharge, on);
    else if (dataId == id::kBalancerSwitch && bms_.state().nwBalancerWritable) bms_.setSwitch(Switch::Balancer, on);
    const std::uint8_t echo[] = {dataId};
    return codec::nw::encodeFrame(codec::nw::Command::Write, codec::nw::Source::Bms,
                                  codec::nw::TransmissionType::Reply, echo);
}

Answer PbResponder::answerFor(std::uint8_t address, codec::pb::Trigger trigger) {
    const SimulatedBms& bms = *packs_.at(address);
    std::array<std::uint8_t, 300> frame{};
    switch (trigger) {
        case codec::pb::Trigger::CellInfo: frame = bms.jk02CellInfoFrame(counter_++); break;
        case codec::pb::Trigger::Settings: frame = bms.jk02SettingsFrame(counter_++, address); break;
        case codec::pb::Trigger::About: frame = bms.jk02DeviceInfoFrame(counter_++); break;
    }
    Answer answer(frame.begin(), frame.end());
    const Answer ack = ackFor(address, static_cast<std::uint16_t>(trigger), 1);
    answer.insert(answer.end(), ack.begin(), ack.end());
    return answer;
}

Answer PbResponder::ackFor(std::uint8_t address, std::uint16_t reg, std::uint16_t quantity) {
    // The FC16 ACK: address, 10, register, quantity, CRC.
    Answer ack = {address, codec::pb::kFcWriteMultiple, static_cast<std::uint8_t>(reg >> 8),
                  static_cast<std::uint8_t>(reg & 0xFF), static_cast<std::uint8_t>(quantity >> 8),
                  static_cast<std::uint8_t>(quantity & 0xFF)};
    const std::uint16_t crc = codec::crc16Modbus(ack);
    ack.push_back(static_cast<std::uint8_t>(crc & 0xFF));
    ack.push_back(static_cast<std::uint8_t>(crc >> 8));
    return ack;
}

void PbResponder::noteRequest() {
    const auto now = std::chrono::steady_clock::now();
    if (lastRequestAt_ && (!minGap_ || now - *lastRequestAt_ < *minGap_)) minGap_ = now - *lastRequestAt_;
    lastRequestAt_ = now;
    ++requestsSeen_;
}

void PbResponder::feed(util::ByteView bytes, std::vector<Answer>& answers) {
    framer_.push(bytes);
    for (auto ev = framer_.next(); ev.kind != codec::pb::BusEvent::Kind::NeedMore; ev = framer_.next()) {
        if (ev.kind != codec::pb::BusEvent::Kind::Modbus || ev.modbus.kind != codec::pb::ModbusKind::WriteRequest)
            continue;
        noteRequest();
        const std::uint8_t address = ev.modbus.address;
        // Nobody at that address, or a silent pack: no answer, as on a real bus.
        if (!packs_.contains(address) || silent(address) || !packs_.at(address)->powered() || masterPresent_)
            continue;
        if (ev.modbus.isTrigger()) {
            if (ev.modbus.reg == static_cast<std::uint16_t>(codec::pb::Trigger::About) && aboutSilent_[address]) continue;
            answers.push_back(answerFor(address, static_cast<codec::pb::Trigger>(ev.modbus.reg)));
            continue;
        }
        // FC16 to the switch registers (jk-protocols.md 3.4): one u32, then the plain ACK.
        using Switch = SimulatedBms::Switch;
        namespace reg = codec::pb::reg;
        SimulatedBms& bms = *packs_.at(address);
        const auto value = ev.modbus.dataValue();
        const std::uint16_t r = ev.modbus.reg;
        if (!value || ev.modbus.quantity != 2 ||
            (r != reg::kChargeEnable && r != reg::kDischargeEnable && r != reg::kBalancerEnable))
            continue;  // what the simulator does not model goes unanswered
        bms.countSwitchWrite();
        bms.setSwitch(r == reg::kChargeEnable ? Switch::Charge : r == reg::kDischargeEnable ? Switch::Discharge : Switch::Balancer,
                      *value != 0);
        answers.push_back(ackFor(address, r, ev.modbus.quantity));
    }
}

}  // namespace jkbms::sim
