#include "jkbms/util/byte_reader.hpp"

#include <gtest/gtest.h>

#include <array>

#include "jkbms/util/fixed_vector.hpp"

namespace jkbms::util {
namespace {

TEST(ByteReader, ReadsBigAndLittleEndian) {
    const std::array<std::uint8_t, 8> data = {0x12, 0x34, 0x56, 0x78, 0xFF, 0xEC, 0x00, 0x80};
    ByteReader r(data);
    EXPECT_EQ(r.u16be(), 0x1234);
    EXPECT_EQ(r.u16be(), 0x5678);
    EXPECT_EQ(r.i16be(), -20);
    EXPECT_EQ(r.u16leAt(0), 0x3412);
    EXPECT_EQ(r.u32leAt(0), 0x78563412U);
    EXPECT_EQ(r.u32be(), 0U);  // cursor at 6: only 2 bytes left
    EXPECT_FALSE(r.ok());
}

TEST(ByteReader, ErrorIsStickyAndNamesTheOffset) {
    const std::array<std::uint8_t, 3> data = {1, 2, 3};
    ByteReader r(data);
    EXPECT_EQ(r.u16leAt(2), 0);  // needs bytes 2..3
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, DecodeError::TooShort);
    EXPECT_EQ(r.error().offset, 3U);
    EXPECT_EQ(r.u8At(0), 0) << "reads after a failure return 0";
    EXPECT_EQ(describe(r.error()), "truncated at byte 3");
}

TEST(ByteReader, HugeOffsetsDoNotWrap) {
    const std::array<std::uint8_t, 4> data = {1, 2, 3, 4};
    ByteReader r(data);
    EXPECT_EQ(r.u32leAt(SIZE_MAX - 1), 0U);
    EXPECT_FALSE(r.ok());
    ByteReader r2(data);
    EXPECT_TRUE(r2.bytesAt(2, SIZE_MAX).empty());
    EXPECT_FALSE(r2.ok());
}

TEST(ByteReader, AsciiStopsAtNulAndMasksControlBytes) {
    const std::array<std::uint8_t, 8> data = {'J', 'K', 0x07, 'B', 0, 'x', 'y', 'z'};
    ByteReader r(data);
    EXPECT_EQ(r.asciiAt(0, 8), "JK?B");
    EXPECT_TRUE(r.ok());
}

TEST(FixedVector, RefusesPastCapacity) {
    FixedVector<int, 2> v;
    EXPECT_TRUE(v.push_back(1));
    EXPECT_TRUE(v.push_back(2));
    EXPECT_FALSE(v.push_back(3));
    EXPECT_EQ(v.size(), 2U);
    EXPECT_EQ(v[1], 2);
}

}  // namespace
}  // namespace jkbms::util
