#pragma once
// The three checksums JK uses: sum8 (0x55AA frames, BLE commands), sum16 (NW), and
// CRC-16/MODBUS (JK-PB RS485).

#include <cstdint>

#include "jkbms/util/byte_reader.hpp"

namespace jkbms::codec {

constexpr std::uint8_t sum8(util::ByteView bytes) {
    unsigned s = 0;
    for (std::uint8_t b : bytes) s += b;
    return static_cast<std::uint8_t>(s);
}

constexpr std::uint16_t sum16(util::ByteView bytes) {
    unsigned s = 0;
    for (std::uint8_t b : bytes) s += b;
    return static_cast<std::uint16_t>(s);
}

// CRC-16/MODBUS: init 0xFFFF, reflected polynomial 0xA001, transmitted low byte first.
std::uint16_t crc16Modbus(util::ByteView bytes);

}  // namespace jkbms::codec
