// JK-PB RS485: the bus framer fed in fuzzer-chosen chunks with idle flushes, and the Modbus
// decoder on the raw input and on the input with a valid CRC appended.

#include <cstdint>
#include <vector>

#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/checksum.hpp"
#include "jkbms/codec/pb_modbus.hpp"

using namespace jkbms;
namespace pb = codec::pb;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const util::ByteView input{data, size};
    pb::BusFramer framer;
    std::size_t pos = 0;
    while (pos < size) {
        const std::size_t chunk = 1 + data[pos] % 128;
        const std::size_t n = std::min(chunk, size - pos);
        framer.push(input.subspan(pos, n));
        pos += n;
        const bool idle = (data[pos - 1] & 0x0F) == 0;
        for (auto ev = idle ? framer.flush() : framer.next(); ev.kind != pb::BusEvent::Kind::NeedMore;
             ev = idle ? framer.flush() : framer.next()) {
            if (ev.kind == pb::BusEvent::Kind::JkFrame)
                (void)codec::ble::decodeCellInfo(ev.frame, codec::ble::Variant::Jk02_32S);
            if (ev.kind == pb::BusEvent::Kind::Modbus) (void)ev.modbus.dataValue();
        }
    }
    for (auto ev = framer.flush(); ev.kind != pb::BusEvent::Kind::NeedMore; ev = framer.flush()) {
    }
    (void)pb::decodeModbus(input);

    std::vector<std::uint8_t> sealed(data, data + size);
    const std::uint16_t crc = codec::crc16Modbus(sealed);
    sealed.push_back(static_cast<std::uint8_t>(crc & 0xFF));
    sealed.push_back(static_cast<std::uint8_t>(crc >> 8));
    if (auto m = pb::decodeModbus(sealed)) (void)m->dataValue();
    return 0;
}
