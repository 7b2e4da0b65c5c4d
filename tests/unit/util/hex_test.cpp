#include "jkbms/util/hex.hpp"

#include <gtest/gtest.h>

namespace jkbms::util {
namespace {

TEST(Hex, ParsesWithSeparatorsAndPrefix) {
    auto r = parseHex("0x4E 57:00,13\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, (std::vector<std::uint8_t>{0x4E, 0x57, 0x00, 0x13}));
    EXPECT_EQ(toHex(*r), "4e570013");
}

TEST(Hex, OddDigitsAreAnError) {
    auto r = parseHex("4e5");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, DecodeError::BadHex);
    EXPECT_EQ(describe(r.error()), "bad hex at character 2 (odd number of hex digits)");
    EXPECT_FALSE(parseHex("4 e"));
}

TEST(Hex, NonHexCharacterIsNamed) {
    auto r = parseHex("4e5g");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().offset, 3U);
}

}  // namespace
}  // namespace jkbms::util
