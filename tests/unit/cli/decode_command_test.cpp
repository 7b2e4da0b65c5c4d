#include "jkbms/cli/decode_command.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "jkbms/cli/frame_json.hpp"
#include "jkbms/codec/checksum.hpp"
#include "jkbms/codec/pb_modbus.hpp"
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


// Issue 14 items 12-14: decoders on real byte streams.
std::vector<std::uint8_t> cellInfo24S() {
    test::JkFrame f(codec::ble::FrameType::CellInfo);
    for (std::size_t i = 0; i < 4; ++i) f.u16(6 + 2 * i, 3300);
    f.u32(54, 0xF);  // the 24S enabled-cell mask
    return f.frame();
}

std::vector<std::uint8_t> bytesOf(std::string_view text) { return {text.begin(), text.end()}; }

std::vector<std::uint8_t> ackOf(std::uint8_t address, codec::pb::Trigger t) {
    std::vector<std::uint8_t> f = {address, 0x10, static_cast<std::uint8_t>(static_cast<unsigned>(t) >> 8),
                                   static_cast<std::uint8_t>(static_cast<unsigned>(t) & 0xFF), 0x00, 0x01};
    const auto crc = codec::crc16Modbus(f);
    f.push_back(static_cast<std::uint8_t>(crc & 0xFF));
    f.push_back(static_cast<std::uint8_t>(crc >> 8));
    return f;
}

std::string field(const Json& o, std::string_view key) {
    const Json* v = o.find(key);
    return v ? v->dump(-1) : "<none>";
}

TEST(DecodeStream, AFrameAfterSkippedBytesKeepsItsOwnVariant) {
    // A JK BLE module's "AT\r\n" before a JK02_24S frame is no JK-PB bus capture.
    const auto input = test::concat({bytesOf("AT\r\n"), cellInfo24S()});
    const auto s = decodeStream(input, DecodeOptions{});
    ASSERT_EQ(s.parts.size(), 2U);
    EXPECT_FALSE(s.parts[0].frame);
    EXPECT_EQ(s.parts[0].size, 4U);
    ASSERT_TRUE(s.parts[1].frame);
    EXPECT_EQ(s.parts[1].protocol, Protocol::Ble);
    EXPECT_EQ(field(*s.parts[1].frame, "variant"), "\"JK02_24S\"");
    EXPECT_EQ(field(*s.parts[1].frame, "cell_count"), "4");
    EXPECT_EQ(detectProtocol(input), Protocol::Ble);
    // decodeToJson: the first frame, the same as without the prefix.
    auto first = decodeToJson(input, DecodeOptions{});
    auto plain = decodeToJson(cellInfo24S(), DecodeOptions{});
    ASSERT_TRUE(first && plain);
    EXPECT_EQ(first->dump(-1), plain->dump(-1));
    // The command: an array, the skipped bytes said on stderr too.
    Outcome r = decode({"--compact", util::toHex(input)});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(r.out.starts_with("[{\"offset\":0,\"skipped_bytes\":4,\"hex\":\"41540d0a\"},{\"offset\":4,")) << r.out;
    EXPECT_NE(r.out.find("\"variant\":\"JK02_24S\""), std::string::npos);
    EXPECT_EQ(r.err, "jkbms decode: skipped 4 bytes at offset 0 (41540d0a)\n");
}

TEST(DecodeStream, SettingsFramesAreLabelledByByte287) {
    test::JkFrame f(codec::ble::FrameType::Settings);
    f.u32(18, 3650).u32(114, 16);
    Outcome r24 = decode({"--compact", util::toHex(f.frame())});
    EXPECT_NE(r24.out.find("\"variant\":\"JK02_24S\""), std::string::npos) << r24.out;
    f.u8(287, 0xFE);
    Outcome r32 = decode({"--compact", util::toHex(f.frame())});
    EXPECT_NE(r32.out.find("\"variant\":\"JK02_32S\""), std::string::npos) << r32.out;
}

TEST(DecodeStream, APbCaptureFromTheTriggerOnDecodesEveryFrame) {
    using codec::pb::Trigger;
    test::JkFrame answer(codec::ble::FrameType::CellInfo);
    for (std::size_t i = 0; i < 8; ++i) answer.u16(6 + 2 * i, 3357);
    answer.u32(70, 0xFF);
    const auto trigger = codec::pb::encodeTrigger(1, Trigger::CellInfo);
    const auto input = test::concat({{trigger.begin(), trigger.end()}, answer.frame(), ackOf(1, Trigger::CellInfo)});
    const auto s = decodeStream(input, DecodeOptions{});
    ASSERT_EQ(s.parts.size(), 2U);
    ASSERT_TRUE(s.parts[0].frame && s.parts[1].frame);
    EXPECT_EQ(s.parts[0].protocol, Protocol::Pb);
    EXPECT_EQ(field(*s.parts[0].frame, "kind"), "\"trigger\"") << s.parts[0].frame->dump(-1);
    EXPECT_EQ(s.parts[1].protocol, Protocol::Pb);
    EXPECT_EQ(s.parts[1].offset, 11U);
    EXPECT_EQ(s.parts[1].size, 308U) << "the answer and its ACK";
    EXPECT_EQ(field(*s.parts[1].frame, "variant"), "\"JK02_32S\"");
    EXPECT_EQ(field(*s.parts[1].frame, "address"), "1");
    EXPECT_EQ(field(*s.parts[1].frame, "cell_count"), "8");
    EXPECT_NE(s.parts[1].frame->find("pb_ack"), nullptr);
    Outcome r = decode({"--compact", util::toHex(input)});
    EXPECT_EQ(r.code, 0);
    EXPECT_TRUE(r.out.starts_with("[{\"offset\":0,")) << r.out;
    EXPECT_TRUE(r.err.empty()) << "nothing skipped: " << r.err;
    // The answer without its ACK, right after the trigger: still a JK-PB answer.
    const auto noAck = test::concat({{trigger.begin(), trigger.end()}, answer.frame()});
    const auto s2 = decodeStream(noAck, DecodeOptions{});
    ASSERT_EQ(s2.frameCount(), 2U);
    EXPECT_EQ(field(*s2.parts[1].frame, "address"), "1");
}

TEST(DecodeStream, FramesBackToBackAndTrailingBytes) {
    const auto nw1 = test::NwReply{}.cells({3300, 3301}).value(codec::nw::id::kSoc, 42).frame();
    const auto nw2 = test::NwReply{}.cells({3310, 3311, 3312}).value(codec::nw::id::kSoc, 43).frame();
    const auto input = test::concat({{nw1.begin(), nw1.end()}, {nw2.begin(), nw2.end()}, bytesOf("AT\r\n")});
    const auto s = decodeStream(input, DecodeOptions{});
    ASSERT_EQ(s.parts.size(), 3U);
    EXPECT_EQ(field(*s.parts[0].frame, "soc"), "42");
    EXPECT_EQ(field(*s.parts[1].frame, "soc"), "43");
    EXPECT_FALSE(s.parts[2].frame);
    EXPECT_EQ(s.parts[2].offset, nw1.size() + nw2.size());
    // Two 55 AA frames back to back, of different variants, each by its own looks.
    test::JkFrame settings(codec::ble::FrameType::Settings);
    settings.u8(287, 0xFE);
    const auto ble = decodeStream(test::concat({cellInfo24S(), settings.frame()}), DecodeOptions{});
    ASSERT_EQ(ble.frameCount(), 2U);
    EXPECT_EQ(field(*ble.parts[0].frame, "variant"), "\"JK02_24S\"");
    EXPECT_EQ(field(*ble.parts[1].frame, "variant"), "\"JK02_32S\"");
    // A corrupt frame between two good ones is skipped and said why.
    auto bad = cellInfo24S();
    bad[100] ^= 0xFF;
    const auto mixed = decodeStream(test::concat({{nw1.begin(), nw1.end()}, bad, {nw2.begin(), nw2.end()}}), DecodeOptions{});
    ASSERT_EQ(mixed.parts.size(), 3U);
    ASSERT_TRUE(mixed.parts[1].error);
    EXPECT_EQ(mixed.parts[1].error->second.code, util::DecodeError::BadChecksum);
}

}  // namespace
}  // namespace jkbms::cli
