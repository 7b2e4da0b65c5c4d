#include "jkbms/cli/json.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace jkbms::cli {
namespace {

TEST(Json, DumpsInInsertionOrder) {
    Json o = Json::object();
    o.set("b", 1);
    o.set("a", Json::array());
    o.set("s", "x\"y\n");
    o.set("d", 3.82);
    o.set("n", nullptr);
    o.set("b", true);  // replaces, keeps position
    EXPECT_EQ(o.dump(), R"({"b":true,"a":[],"s":"x\"y\n","d":3.82,"n":null})");
}

TEST(Json, NonFiniteNumbersBecomeNull) {
    Json a = Json::array();
    a.push(std::numeric_limits<double>::quiet_NaN());
    a.push(std::numeric_limits<double>::infinity());
    EXPECT_EQ(a.dump(), "[null,null]");
}

TEST(Json, HexString) { EXPECT_EQ(hexString(0xd8, 2), "0xd8"); EXPECT_EQ(hexString(0x10, 8), "0x00000010"); }

}  // namespace
}  // namespace jkbms::cli
