#include "jkbms/sim/pb_master.hpp"

#include "jkbms/codec/checksum.hpp"

namespace jkbms::sim {

namespace pb = codec::pb;

PbMaster::PbMaster(boost::asio::io_context& io, PtyServer& pty, PbResponder& slaves, SimulatedBms& self,
                   std::chrono::milliseconds cycle)
    : pty_(pty), slaves_(slaves), self_(self), cycle_(cycle), timer_(io) {}

void PbMaster::start() {
    timer_.expires_after(std::chrono::milliseconds(100));
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) runCycle();
    });
}

void PbMaster::runCycle() {
    // The master's requests and the slaves' answers, as a listener on the bus sees them.
    for (std::uint8_t address : slaves_.addresses()) {
        for (pb::Trigger t : {pb::Trigger::CellInfo, pb::Trigger::Settings}) {
            const auto request = pb::encodeTrigger(address, t);
            pty_.inject({request.begin(), request.end()});
            // A silent or switched-off pack (`pack N` + `power off`) leaves the request unanswered.
            if (slaves_.answers(address)) pty_.inject(slaves_.answerFor(address, t));
        }
    }
    // Its own data: frame + trailer shaped like an ACK from address 0.
    for (pb::Trigger t : {pb::Trigger::CellInfo, pb::Trigger::Settings}) {
        if (!self_.powered()) break;  // the master itself switched off: it stays quiet
        const auto frame = t == pb::Trigger::CellInfo ? self_.jk02CellInfoFrame(0) : self_.jk02SettingsFrame(0, 0);
        std::vector<std::uint8_t> bytes(frame.begin(), frame.end());
        const auto reg = static_cast<std::uint16_t>(t);
        std::vector<std::uint8_t> trailer = {0x00, pb::kFcWriteMultiple, static_cast<std::uint8_t>(reg >> 8),
                                             static_cast<std::uint8_t>(reg & 0xFF), 0x00, 0x01};
        const std::uint16_t crc = codec::crc16Modbus(trailer);
        trailer.push_back(static_cast<std::uint8_t>(crc & 0xFF));
        trailer.push_back(static_cast<std::uint8_t>(crc >> 8));
        bytes.insert(bytes.end(), trailer.begin(), trailer.end());
        pty_.inject(std::move(bytes));
    }
    timer_.expires_after(cycle_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) runCycle();
    });
}

}  // namespace jkbms::sim
