#include "jkbms/codec/nw.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <vector>

#include "jkbms/util/hex.hpp"
#include "support/frame_builders.hpp"

namespace jkbms::codec::nw {
namespace {

using test::NwReply;
using util::DecodeError;

std::vector<std::uint8_t> hex(std::string_view s) { return util::parseHex(s).value(); }

// ---- request encoders: bytes from jk-protocols.md section 1.2 / 1.3 ----

TEST(NwEncode, ReadAllMatchesTheSpec) {
    EXPECT_EQ(encodeReadAll(), hex("4E 57 00 13 00 00 00 00 06 03 00 00 00 00 00 00 68 00 00 01 29"));
    EXPECT_EQ(encodeReadAll(Source::Gps), hex("4E 57 00 13 00 00 00 00 06 02 00 00 00 00 00 00 68 00 00 01 28"));
}

TEST(NwEncode, SwitchWritesMatchTheJkPcTool) {
    EXPECT_EQ(encodeWrite(id::kChargeSwitch, 1).value(),
              hex("4E 57 00 14 00 00 00 00 02 03 02 AB 01 00 00 00 00 68 00 00 01 D4"));
    EXPECT_EQ(encodeWrite(id::kChargeSwitch, 0).value(),
              hex("4E 57 00 14 00 00 00 00 02 03 02 AB 00 00 00 00 00 68 00 00 01 D3"));
    EXPECT_EQ(encodeWrite(id::kDischargeSwitch, 1).value(),
              hex("4E 57 00 14 00 00 00 00 02 03 02 AC 01 00 00 00 00 68 00 00 01 D5"));
    EXPECT_EQ(encodeWrite(id::kDischargeSwitch, 0).value(),
              hex("4E 57 00 14 00 00 00 00 02 03 02 AC 00 00 00 00 00 68 00 00 01 D4"));
}

TEST(NwEncode, PasswordFrameMatchesEsphome) {
    EXPECT_EQ(encodePassword(), hex("4E 57 00 14 00 00 00 00 05 02 00 00 00 00 00 00 00 68 00 00 01 28"));
}

TEST(NwEncode, WriteRefusesReadOnlyIdsAndOversizeValues) {
    EXPECT_EQ(encodeWrite(id::kTotalVoltage, 1).error().code, DecodeError::OutOfRange);
    EXPECT_EQ(encodeWrite(id::kSoftwareVersion, 1).error().code, DecodeError::OutOfRange);
    EXPECT_EQ(encodeWrite(id::kChargeSwitch, 256).error().code, DecodeError::OutOfRange);
    EXPECT_EQ(encodeWrite(0x88, 0).error().code, DecodeError::OutOfRange);  // undefined id
    // A 2-byte id is written big-endian.
    auto w = encodeWrite(id::kCellOvp, 3650).value();
    EXPECT_EQ(w[11], id::kCellOvp);
    EXPECT_EQ(w[12], 0x0E);
    EXPECT_EQ(w[13], 0x42);
    EXPECT_TRUE(parseFrame(w));
}

TEST(NwEncode, EncodedFramesParseBack) {
    const auto frame = encodeReadId(id::kSoc);
    auto env = parseFrame(frame);
    ASSERT_TRUE(env);
    EXPECT_EQ(env->command, static_cast<std::uint8_t>(Command::ReadId));
    ASSERT_EQ(env->payload.size(), 1U);
    EXPECT_EQ(env->payload[0], id::kSoc);
}

// parseFrame checks sum16 a word at a time: every payload length (each remainder of 8), with
// bytes high and low, parses back; one checksum bit off is refused.
TEST(NwEncode, ChecksumOfEveryLengthAndByte) {
    std::uint32_t x = 2463534242U;  // xorshift: reproducible bytes
    for (std::size_t n = 0; n + kMinFrameSize <= kMaxFrameSize; ++n) {
        std::vector<std::uint8_t> payload(n);
        for (auto& b : payload) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b = n % 3 == 0 ? std::uint8_t{0xFF} : static_cast<std::uint8_t>(x);
        }
        auto frame = encodeFrame(Command::ReadAll, Source::Bms, TransmissionType::Reply, payload);
        ASSERT_TRUE(parseFrame(frame)) << n;
        frame.back() ^= 1U;
        const auto bad = parseFrame(frame);
        ASSERT_FALSE(bad) << n;
        EXPECT_EQ(bad.error().code, util::DecodeError::BadChecksum) << n;
    }
}

// ---- read-all decoder ----

NwReply fullReply() {
    NwReply r;
    r.cells({3300, 3310, 3290, 0})
        .value(id::kMosTemperature, 25)
        .value(id::kTemperature1, 105)  // -5 C
        .value(id::kTemperature2, 100)
        .value(id::kTotalVoltage, 990)
        .value(id::kCurrent, 0x80D0)
        .value(id::kSoc, 57)
        .value(id::kTemperatureSensorCount, 2)
        .value(id::kCycleCount, 12)
        .value(id::kTotalCycleCapacity, 345)
        .value(id::kCellCount, 4)
        .value(id::kAlarms, (1U << 10) | (1U << 0))
        .value(id::kStatus, 0x0005)
        .value(id::kCellOvp, 3650)
        .value(id::kChargeUtp, 0xFFEC)  // -20 C
        .value(id::kNominalCapacity, 280)
        .value(id::kChargeSwitch, 1)
        .value(id::kDischargeSwitch, 0)
        .text(id::kPassword, "123456")
        .text(id::kSoftwareVersion, "11.XW_S11.261__")
        .text(id::kManufacturerId, "Input UserdaJK_B2A24S15P")
        .value(id::kRuntime, 600)
        .value(id::kProtocolVersion, 1);
    return r;
}

TEST(NwDecode, WalksEveryIdOfABuiltReply) {
    auto r = decodeReadAll(fullReply().frame());
    ASSERT_TRUE(r) << util::describe(r.error());
    ASSERT_EQ(r->cellVoltagesV.size(), 4U);
    EXPECT_DOUBLE_EQ(r->cellVoltagesV[1], 3.310);
    EXPECT_DOUBLE_EQ(r->cellVoltagesV[3], 0.0);  // unwired cell reads 0
    EXPECT_DOUBLE_EQ(*r->totalVoltageV(), 9.90);
    EXPECT_DOUBLE_EQ(*r->currentA(), 2.08);
    EXPECT_EQ(*r->temperatureC(id::kMosTemperature), 25.0);
    EXPECT_EQ(*r->temperatureC(id::kTemperature1), -5.0);
    EXPECT_EQ(*r->temperatureC(id::kTemperature2), 100.0);
    EXPECT_EQ(*r->value(id::kSoc), 57U);
    EXPECT_EQ(*r->value(id::kTotalCycleCapacity), 345U);
    EXPECT_EQ(*r->signedValue(id::kChargeUtp), -20);
    EXPECT_EQ(*r->value(id::kNominalCapacity), 280U);
    EXPECT_EQ(*r->textOf(id::kPassword), "123456");
    EXPECT_EQ(*r->textOf(id::kSoftwareVersion), "11.XW_S11.261__");
    EXPECT_EQ(r->protocolVersion(), 1);
    EXPECT_FALSE(r->has(id::kBalancerSwitch));
    EXPECT_FALSE(r->value(id::kBalancerSwitch));
    EXPECT_FALSE(r->unknownId);
    EXPECT_EQ(alarmBitName(10), "cell_overvoltage");
}

TEST(NwDecode, CurrentEncodings) {
    // Protocol version 1: sign-magnitude, bit 15 = charging.
    EXPECT_DOUBLE_EQ(decodeCurrent(0x80D0, 1), 2.08);
    EXPECT_DOUBLE_EQ(decodeCurrent(0x81C5, 1), 4.53);
    EXPECT_DOUBLE_EQ(decodeCurrent(0x0045, 1), -0.69);
    EXPECT_DOUBLE_EQ(decodeCurrent(0xFFFF, 1), 327.67);
    EXPECT_FALSE(std::signbit(decodeCurrent(0x0000, 1))) << "0 A, never -0.0";
    EXPECT_FALSE(std::signbit(decodeCurrent(0x8000, 1)));
    // Protocol version 0: offset binary around 10000.
    EXPECT_DOUBLE_EQ(decodeCurrent(11000, 0), -10.0);
    EXPECT_DOUBLE_EQ(decodeCurrent(9500, 0), 5.0);
    // The reply's 0xC0 selects the rule; absent means version 0.
    auto v0 = decodeReadAll(NwReply{}.value(id::kCurrent, 11000).frame());
    ASSERT_TRUE(v0);
    EXPECT_DOUBLE_EQ(*v0->currentA(), -10.0);
}

TEST(NwDecode, Temperatures) {
    EXPECT_EQ(decodeTemperature(0), 0.0);
    EXPECT_EQ(decodeTemperature(100), 100.0);
    EXPECT_EQ(decodeTemperature(101), -1.0);
    EXPECT_EQ(decodeTemperature(140), -40.0);
    EXPECT_FALSE(decodeTemperature(141)) << "above the documented range: invalid";
}

TEST(NwDecode, UnknownIdStopsTheWalkKeepingWhatCameBefore) {
    auto r = decodeReadAll(NwReply{}.value(id::kSoc, 80).raw({0x88, 0x01, 0x02}).value(id::kCycleCount, 3).frame());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r->value(id::kSoc), 80U);
    ASSERT_TRUE(r->unknownId);
    EXPECT_EQ(*r->unknownId, 0x88);
    EXPECT_FALSE(r->has(id::kCycleCount));
}

TEST(NwDecode, ValueCutShortByTheFrameEndIsAnError) {
    auto r = decodeReadAll(NwReply{}.value(id::kSoc, 1).raw({id::kTotalVoltage, 0x14}).frame());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, DecodeError::TooShort);
    EXPECT_EQ(r.error().offset, 11U + 2U + 2U);  // payload start + SoC pair + 0x83 + 1 byte
}

TEST(NwDecode, CellBlockErrors) {
    EXPECT_EQ(decodeReadAll(NwReply{}.raw({0x79, 4, 1, 0x0C, 0xE4, 2}).frame()).error().code,
              DecodeError::BadLength);
    EXPECT_EQ(decodeReadAll(NwReply{}.raw({0x79, 6, 1, 0x0C, 0xE4, 1, 0x0C, 0xE4}).frame()).error().code,
              DecodeError::OutOfRange) << "duplicate cell index";
    EXPECT_EQ(decodeReadAll(NwReply{}.raw({0x79, 3, 0, 0x0C, 0xE4}).frame()).error().code,
              DecodeError::OutOfRange) << "index 0";
    std::vector<std::uint8_t> many = {0x79, 99};
    for (std::uint8_t i = 1; i <= 33; ++i) many.insert(many.end(), {i, 0x0C, 0xE4});
    auto frame = encodeFrame(Command::ReadAll, Source::Bms, TransmissionType::Reply, many);
    EXPECT_EQ(decodeReadAll(frame).error().code, DecodeError::OutOfRange) << "33 cells";
}

TEST(NwDecode, CellsArePlacedByTheirIndex) {
    auto r = decodeReadAll(NwReply{}.raw({0x79, 6, 2, 0x0C, 0xE5, 1, 0x0C, 0xE4}).frame());
    ASSERT_TRUE(r);
    EXPECT_DOUBLE_EQ(r->cellVoltagesV[0], 3.300);
    EXPECT_DOUBLE_EQ(r->cellVoltagesV[1], 3.301);
}

TEST(NwDecode, EveryTruncationIsAnErrorNeverACrash) {
    const auto frame = fullReply().frame();
    for (std::size_t n = 0; n < frame.size(); ++n)
        EXPECT_FALSE(decodeReadAll(util::ByteView{frame}.first(n))) << n;
}

TEST(NwParse, RejectsEachBrokenPart) {
    auto good = fullReply().frame();
    auto broken = [&](std::size_t at, std::uint8_t v) {
        auto f = good;
        f[at] = v;
        return parseFrame(f).error().code;
    };
    EXPECT_EQ(broken(0, 0x4F), DecodeError::BadHeader);
    EXPECT_EQ(broken(3, static_cast<std::uint8_t>(good[3] + 1)), DecodeError::BadLength);
    EXPECT_EQ(broken(good.size() - 5, 0x69), DecodeError::BadEndMark);
    EXPECT_EQ(broken(good.size() - 4, 0x01), DecodeError::BadEndMark);
    EXPECT_EQ(broken(20, static_cast<std::uint8_t>(good[20] ^ 0x01)), DecodeError::BadChecksum);
    auto f = good;
    f.back() ^= 0xFF;
    auto e = parseFrame(f).error();
    EXPECT_EQ(e.expected, static_cast<std::uint32_t>((good[good.size() - 2] << 8) | good.back()));
    EXPECT_EQ(e.actual, static_cast<std::uint32_t>((f[f.size() - 2] << 8) | f.back()));
}

// ---- framer ----

// Event views die with the next call into the framer: keep copies of their bytes.
std::deque<std::vector<std::uint8_t>> kept;

std::vector<FramerEvent> drain(Framer& f) {
    std::vector<FramerEvent> out;
    for (FramerEvent ev = f.next(); ev.status != FramerStatus::NeedMore; ev = f.next()) {
        ev.frame = kept.emplace_back(ev.frame.begin(), ev.frame.end());
        out.push_back(ev);
    }
    return out;
}

TEST(NwFramer, ByteAtATime) {
    const auto frame = fullReply().frame();
    Framer f;
    int frames = 0;
    for (std::size_t i = 0; i < frame.size(); ++i) {
        f.push(util::ByteView{frame}.subspan(i, 1));
        for (const FramerEvent& ev : drain(f)) {
            ASSERT_EQ(ev.status, FramerStatus::Frame);
            EXPECT_EQ(i, frame.size() - 1);
            EXPECT_TRUE(std::equal(ev.frame.begin(), ev.frame.end(), frame.begin(), frame.end()));
            ++frames;
        }
    }
    EXPECT_EQ(frames, 1);
    EXPECT_EQ(f.buffered(), 0U);
}

TEST(NwFramer, SplitAtEveryBoundary) {
    const auto frame = fullReply().frame();
    for (std::size_t cut = 0; cut <= frame.size(); ++cut) {
        Framer f;
        f.push(util::ByteView{frame}.first(cut));
        auto first = drain(f);
        f.push(util::ByteView{frame}.subspan(cut));
        auto second = drain(f);
        ASSERT_EQ(first.size() + second.size(), 1U) << cut;
        const auto& ev = first.empty() ? second[0] : first[0];
        EXPECT_EQ(ev.status, FramerStatus::Frame) << cut;
        EXPECT_EQ(ev.frame.size(), frame.size());
    }
}

TEST(NwFramer, GarbageBeforeTheHeaderIsSkippedAndCounted) {
    Framer f;
    f.push(test::concat({{0x00, 0xFF, 0x4E, 0x00, 0x57}, fullReply().frame()}));
    auto events = drain(f);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].status, FramerStatus::Frame);
    EXPECT_EQ(events[0].skippedBytes, 5U);
}

TEST(NwFramer, BadChecksumThenAGoodFrame) {
    auto bad = fullReply().frame();
    bad[30] ^= 0x10;
    Framer f;
    f.push(test::concat({bad, encodeReadAll()}));
    auto events = drain(f);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[0].status, FramerStatus::Bad);
    EXPECT_EQ(events[0].error.code, DecodeError::BadChecksum);
    EXPECT_EQ(events[1].status, FramerStatus::Frame);
    EXPECT_EQ(events[1].frame.size(), encodeReadAll().size());
}

TEST(NwFramer, ImpossibleLengthsAreRejectedWithoutWaiting) {
    Framer f;
    f.push(hex("4E 57 04 00"));  // 1026 bytes: over the limit
    auto events = drain(f);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].error.code, DecodeError::BadLength);
    f.push(hex("4E 57 00 05"));  // shorter than an empty frame
    events = drain(f);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].error.code, DecodeError::BadLength);
    f.push(encodeReadAll());
    events = drain(f);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].status, FramerStatus::Frame);
}

TEST(NwFramer, AFalseHeaderInsideGarbageDoesNotHideTheRealFrame) {
    // "4E 57 00 20" claims a 34-byte frame that swallows the real one's start; after it fails
    // the framer rescans from the byte after the false 4E and finds the real header.
    Framer f;
    const auto good = encodeReadAll();
    f.push(test::concat({hex("4E 57 00 20 11"), good, std::vector<std::uint8_t>(20, 0)}));
    auto events = drain(f);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[0].status, FramerStatus::Bad);
    EXPECT_EQ(events[1].status, FramerStatus::Frame);
    EXPECT_EQ(events[1].frame.size(), good.size());
}

TEST(NwFramer, AFalseHeaderClaimingMoreDoesNotHoldBackTheFrameBehindIt) {
    // "4E 57 01 00" claims 258 bytes; the real reply follows at once and nothing after it.
    Framer f;
    const auto good = NwReply().cells({3300, 3301}).value(id::kTotalVoltage, 660).frame();
    f.push(test::concat({hex("4E 57 01 00"), good}));
    auto events = drain(f);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[0].status, FramerStatus::Bad);
    EXPECT_EQ(events[1].status, FramerStatus::Frame);
    EXPECT_EQ(events[1].frame.size(), good.size());
}

// An echoing adapter hands back our own request; other frames carry nothing to publish.
TEST(NwReading, RequestsAndEmptyFramesAreNoReading) {
    auto why = [](const std::vector<std::uint8_t>& frame) {
        auto r = decodeReadAll(frame);
        EXPECT_TRUE(r.ok());
        return r ? std::string{whyNotAReading(*r)} : std::string{"?"};
    };
    EXPECT_NE(why(encodeReadAll()).find("request"), std::string::npos);
    EXPECT_NE(why(NwReply().frame()).find("empty payload"), std::string::npos);
    EXPECT_NE(why(NwReply().raw({0x01, 0x02, 0x03}).frame()).find("first data id is unknown"), std::string::npos);
    EXPECT_NE(why(NwReply().value(id::kSoc, 50).frame()).find("no cells and no pack voltage"), std::string::npos);
    EXPECT_EQ(why(NwReply().cells({3300}).frame()), "");
    EXPECT_EQ(why(NwReply().value(id::kTotalVoltage, 5280).frame()), "");
}

TEST(NwFramer, TwoFramesInOnePush) {
    Framer f;
    f.push(test::concat({encodeReadAll(), fullReply().frame()}));
    auto events = drain(f);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[0].status, FramerStatus::Frame);
    EXPECT_EQ(events[1].status, FramerStatus::Frame);
    EXPECT_TRUE(decodeReadAll(events[1].frame));
}

TEST(NwFramer, BufferStaysBoundedWhenFedNoise) {
    Framer f;
    const std::vector<std::uint8_t> noise(10000, 0x4E);
    f.push(noise);
    drain(f);
    EXPECT_LE(f.buffered(), 1U);
}

}  // namespace
}  // namespace jkbms::codec::nw
