#include "jkbms/util/utf8.hpp"

#include <gtest/gtest.h>

#include "jkbms/util/callback_guard.hpp"

namespace jkbms::util {
namespace {

TEST(Utf8, ValidTextStaysAsItIs) {
    EXPECT_TRUE(isValidUtf8("ttyUSB0"));
    EXPECT_TRUE(isValidUtf8("25 \xC2\xB0" "C, \xE2\x82\xAC, \xF0\x9F\x94\x8B"));
    EXPECT_EQ(toValidUtf8("ttyUSB0"), "ttyUSB0");
}

TEST(Utf8, EachInvalidByteBecomesAReplacementCharacter) {
    EXPECT_FALSE(isValidUtf8("tty\xff"));
    EXPECT_EQ(toValidUtf8("tty\xff" "0"), "tty\xEF\xBF\xBD" "0");
    EXPECT_EQ(toValidUtf8("\xC2"), "\xEF\xBF\xBD");                          // cut short
    EXPECT_EQ(toValidUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");          // overlong
    EXPECT_EQ(toValidUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    EXPECT_EQ(toValidUtf8("\xF4\x90\x80\x80").size(), 12U);                   // above U+10FFFF
    EXPECT_TRUE(isValidUtf8(toValidUtf8("\x80\x80\xfe abc \xE2\x82")));
}

TEST(CallbackGuard, KeepsTheFirstFailureUntilTaken) {
    EXPECT_FALSE(takeCallbackFailure());
    guarded("here", [] { throw std::runtime_error("first"); });
    guarded("there", [] { throw std::runtime_error("second"); });
    EXPECT_EQ(takeCallbackFailure(), "here: first");
    EXPECT_FALSE(takeCallbackFailure());
    guarded("quiet", [] {});
    EXPECT_FALSE(takeCallbackFailure());
}

}  // namespace
}  // namespace jkbms::util
