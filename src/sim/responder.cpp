#include "jkbms/sim/responder.hpp"

#include "jkbms/codec/checksum.hpp"

namespace jkbms::sim {

void NwResponder::feed(util::ByteView bytes, std::vector<Answer>& answers) {
    framer_.push(bytes);
    for (auto ev = framer_.next(); ev.status != codec::FramerStatus::NeedMore; ev = framer_.next()) {
        if (ev.status != codec::FramerStatus::Frame) continue;
        auto env = codec::nw::parseFrame(ev.frame);
        if (env && env->command == static_cast<std::uint8_t>(codec::nw::Command::ReadAll))
            answers.push_back(bms_.nwReadAllReply());
    }
}

void PbResponder::feed(util::ByteView bytes, std::vector<Answer>& answers) {
    framer_.push(bytes);
    for (auto ev = framer_.next(); ev.kind != codec::pb::BusEvent::Kind::NeedMore; ev = framer_.next()) {
        if (ev.kind != codec::pb::BusEvent::Kind::Modbus || !ev.modbus.isTrigger()) continue;
        auto pack = packs_.find(ev.modbus.address);
        if (pack == packs_.end()) continue;  // nobody at that address: silence, as on a real bus
        const SimulatedBms& bms = *pack->second;
        std::array<std::uint8_t, 300> frame{};
        switch (static_cast<codec::pb::Trigger>(ev.modbus.reg)) {
            case codec::pb::Trigger::CellInfo: frame = bms.jk02CellInfoFrame(counter_++); break;
            case codec::pb::Trigger::Settings: frame = bms.jk02SettingsFrame(counter_++, ev.modbus.address); break;
            case codec::pb::Trigger::About: frame = bms.jk02DeviceInfoFrame(counter_++); break;
        }
        Answer answer(frame.begin(), frame.end());
        // The FC16 ACK: address, 10, register, quantity, CRC.
        Answer ack = {ev.modbus.address, codec::pb::kFcWriteMultiple, static_cast<std::uint8_t>(ev.modbus.reg >> 8),
                      static_cast<std::uint8_t>(ev.modbus.reg & 0xFF), 0x00, 0x01};
        const std::uint16_t crc = codec::crc16Modbus(ack);
        ack.push_back(static_cast<std::uint8_t>(crc & 0xFF));
        ack.push_back(static_cast<std::uint8_t>(crc >> 8));
        answer.insert(answer.end(), ack.begin(), ack.end());
        answers.push_back(std::move(answer));
    }
}

}  // namespace jkbms::sim
