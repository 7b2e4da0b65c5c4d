#include "jkbms/cli/decode_command.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "jkbms/util/hex.hpp"
#include "support/frame_builders.hpp"

namespace jkbms::cli {
namespace {

struct Outcome {
    int code = 0;
    std::string out, err;
};

Outcome decode(std::vector<std::string_view> args, const std::string& stdinText = "") {
    std::istringstream in(stdinText);
    std::ostringstream out;
    std::ostringstream err;
    Outcome r;
    r.code = runDecode(args, in, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
}

TEST(DecodeCommand, DecodesAFrameBuiltHere) {
    const auto frame = test::NwReply{}.cells({3300, 3301}).value(codec::nw::id::kSoc, 42).frame();
    const std::string hex = util::toHex(frame);
    Outcome r = decode({"--compact", hex});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("\"cell_voltages\":[3.3,3.301]"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"soc\":42"), std::string::npos);
    EXPECT_TRUE(r.err.empty());
}

TEST(DecodeCommand, ReadsHexFromStdin) {
    Outcome r = decode({"--compact"}, "aa5590eb970000000000\n00000000000000000011\n");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "{\"family\":\"ble\",\"register\":151,\"length\":0,\"value_u32_le\":0,"
                     "\"checksum_calc\":17,\"checksum_ok\":true}\n");
}

TEST(DecodeCommand, BadInputGivesOneLineAndExitCode2) {
    struct Case {
        std::vector<std::string_view> args;
        std::string message;
    } cases[] = {
        {{"4e5"}, "jkbms decode: bad hex at character 2 (odd number of hex digits)\n"},
        {{"4e5700130000000006030000000000006800000128"},
         "jkbms decode: nw: bad checksum: computed 0x129, frame has 0x128\n"},
        {{"55aaeb9002"}, "jkbms decode: ble: truncated at byte 5\n"},
        {{"--protocol", "can", "00"}, "jkbms decode: unknown protocol 'can' (nw, ble or pb)\n"},
        {{"--bogus"}, "jkbms decode: unknown option '--bogus' (see --help)\n"},
        {{"0102030405"}, "jkbms decode: not a JK frame: starts with 01020304 (expected 4e57, 55aaeb90, aa5590eb or a Modbus frame)\n"},
        {{}, "jkbms decode: no input (give the frame as hex)\n"},
    };
    for (const Case& c : cases) {
        Outcome r = decode(c.args);
        EXPECT_EQ(r.code, 2) << c.message;
        EXPECT_EQ(r.err, c.message);
        EXPECT_TRUE(r.out.empty());
    }
}

TEST(DecodeCommand, VariantOverride) {
    test::JkFrame f(codec::ble::FrameType::CellInfo);
    for (std::size_t i = 0; i < 4; ++i) f.u16(6 + 2 * i, 3300);
    f.u32(54, 0xF);
    const std::string hex = util::toHex(f.frame());
    Outcome detected = decode({"--compact", hex});
    EXPECT_NE(detected.out.find("\"variant\":\"JK02_24S\""), std::string::npos) << detected.out;
    Outcome forced = decode({"--compact", "--variant", "jk02_32s", hex});
    EXPECT_NE(forced.out.find("\"variant\":\"JK02_32S\""), std::string::npos);
    EXPECT_EQ(decode({"--variant", "JK05", hex}).code, 2);
}

TEST(DecodeCommand, Help) {
    Outcome r = decode({"--help"});
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("examples:"), std::string::npos);
}

}  // namespace
}  // namespace jkbms::cli
