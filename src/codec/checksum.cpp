#include "jkbms/codec/checksum.hpp"

#include <array>

namespace jkbms::codec {
namespace {

constexpr std::array<std::uint16_t, 256> makeCrcTable() {
    std::array<std::uint16_t, 256> table{};
    for (unsigned i = 0; i < 256; ++i) {
        unsigned crc = i;
        for (int bit = 0; bit < 8; ++bit) crc = (crc & 1U) ? (crc >> 1) ^ 0xA001U : crc >> 1;
        table[i] = static_cast<std::uint16_t>(crc);
    }
    return table;
}

constexpr auto kCrcTable = makeCrcTable();

}  // namespace

std::uint16_t crc16Modbus(util::ByteView bytes) {
    unsigned crc = 0xFFFF;
    for (std::uint8_t b : bytes) crc = (crc >> 8) ^ kCrcTable[(crc ^ b) & 0xFFU];
    return static_cast<std::uint16_t>(crc);
}

}  // namespace jkbms::codec
