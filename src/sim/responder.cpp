#include "jkbms/sim/responder.hpp"

#include "jkbms/codec/checksum.hpp"

namespace jkbms::sim {

void NwResponder::feed(util::ByteView bytes, std::vector<Answer>& answers) {
    framer_.push(bytes);
    for (auto ev = framer_.next(); ev.status != codec::FramerStatus::NeedMore; ev = framer_.next()) {
        if (ev.status != codec::FramerStatus::Frame) continue;
        auto env = codec::nw::parseFrame(ev.frame);
        if (!bms_.powered()) continue;  // switched off or asleep: the UART is dead
        if (env && env->command == static_cast<std::uint8_t>(codec::nw::Command::ReadAll))
            answers.push_back(bms_.nwReadAllReply());
    }
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
    // The FC16 ACK: address, 10, register, quantity, CRC.
    const auto reg = static_cast<std::uint16_t>(trigger);
    Answer ack = {address, codec::pb::kFcWriteMultiple, static_cast<std::uint8_t>(reg >> 8),
                  static_cast<std::uint8_t>(reg & 0xFF), 0x00, 0x01};
    const std::uint16_t crc = codec::crc16Modbus(ack);
    ack.push_back(static_cast<std::uint8_t>(crc & 0xFF));
    ack.push_back(static_cast<std::uint8_t>(crc >> 8));
    answer.insert(answer.end(), ack.begin(), ack.end());
    return answer;
}

void PbResponder::feed(util::ByteView bytes, std::vector<Answer>& answers) {
    framer_.push(bytes);
    for (auto ev = framer_.next(); ev.kind != codec::pb::BusEvent::Kind::NeedMore; ev = framer_.next()) {
        if (ev.kind != codec::pb::BusEvent::Kind::Modbus || !ev.modbus.isTrigger()) continue;
        const std::uint8_t address = ev.modbus.address;
        // Nobody at that address, or a silent pack: no answer, as on a real bus.
        if (!packs_.contains(address) || silent(address) || !packs_.at(address)->powered() || masterPresent_)
            continue;
        answers.push_back(answerFor(address, static_cast<codec::pb::Trigger>(ev.modbus.reg)));
    }
}

}  // namespace jkbms::sim
