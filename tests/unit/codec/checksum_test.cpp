#include "jkbms/codec/checksum.hpp"

#include <gtest/gtest.h>

#include <array>

namespace jkbms::codec {
namespace {

TEST(Checksum, Sum16OfTheNwReadAllRequest) {
    const std::array<std::uint8_t, 17> bytes = {0x4E, 0x57, 0x00, 0x13, 0, 0, 0, 0, 0x06,
                                                0x03, 0x00, 0x00, 0, 0, 0, 0, 0x68};
    EXPECT_EQ(sum16(bytes), 0x0129);
}

TEST(Checksum, Sum8WrapsAt256) {
    const std::array<std::uint8_t, 5> bytes = {0xAA, 0x55, 0x90, 0xEB, 0x97};
    EXPECT_EQ(sum8(bytes), 0x11);
}

TEST(Checksum, Crc16ModbusWorkedExamples) {
    const std::array<std::uint8_t, 9> trigger = {0x01, 0x10, 0x16, 0x20, 0x00, 0x01, 0x02, 0x00, 0x00};
    EXPECT_EQ(crc16Modbus(trigger), 0xF1D6);
    const std::array<std::uint8_t, 6> ack = {0x01, 0x10, 0x16, 0x20, 0x00, 0x01};
    EXPECT_EQ(crc16Modbus(ack), 0x4B04);
    EXPECT_EQ(crc16Modbus({}), 0xFFFF);
}

}  // namespace
}  // namespace jkbms::codec
