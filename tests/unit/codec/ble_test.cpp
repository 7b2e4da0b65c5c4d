#include "jkbms/codec/ble.hpp"

#include <gtest/gtest.h>

#include "jkbms/util/hex.hpp"
#include "support/frame_builders.hpp"

namespace jkbms::codec::ble {
namespace {

using test::JkFrame;
using util::DecodeError;

std::vector<std::uint8_t> hex(std::string_view s) { return util::parseHex(s).value(); }
std::vector<std::uint8_t> vec(const Command& c) { return {c.begin(), c.end()}; }

// ---- commands: bytes from jk-protocols.md sections 2.2 and 2.12 ----

TEST(BleCommand, RequestsMatchTheSpec) {
    EXPECT_EQ(vec(encodeRequestDeviceInfo()), hex("AA 55 90 EB 97 00 00 00 00 00 00 00 00 00 00 00 00 00 00 11"));
    EXPECT_EQ(vec(encodeRequestSettings()), hex("AA 55 90 EB 96 00 00 00 00 00 00 00 00 00 00 00 00 00 00 10"));
    EXPECT_EQ(vec(encodeCommand(reg::kRequestLogbook)), hex("AA 55 90 EB A1 00 00 00 00 00 00 00 00 00 00 00 00 00 00 1B"));
}

TEST(BleCommand, SwitchWritesMatchTheSpec) {
    const auto charge = [](bool on) { return vec(encodeSwitch(Variant::Jk02_32S, Switch::Charge, on).value()); };
    EXPECT_EQ(charge(true), hex("AA 55 90 EB 1D 04 01 00 00 00 00 00 00 00 00 00 00 00 00 9C"));
    EXPECT_EQ(charge(false), hex("AA 55 90 EB 1D 04 00 00 00 00 00 00 00 00 00 00 00 00 00 9B"));
    EXPECT_EQ(vec(encodeSwitch(Variant::Jk02_24S, Switch::Discharge, true).value()).back(), 0x9D);
    EXPECT_EQ(vec(encodeSwitch(Variant::Jk02_24S, Switch::Discharge, false).value()).back(), 0x9C);
    EXPECT_EQ(vec(encodeSwitch(Variant::Jk02_32S, Switch::Balancer, true).value()).back(), 0x9E);
    EXPECT_EQ(vec(encodeSwitch(Variant::Jk02_32S, Switch::Balancer, false).value()).back(), 0x9D);
    EXPECT_EQ(vec(encodeCommand(reg::kCellOvp, 3650, 4)),
              hex("AA 55 90 EB 04 04 42 0E 00 00 00 00 00 00 00 00 00 00 00 D2"));
    const auto powerOff = vec(encodeFloatCommand(0x20, 3.2F));
    EXPECT_EQ(std::vector<std::uint8_t>(powerOff.begin(), powerOff.begin() + 10),
              hex("AA 55 90 EB 20 04 CD CC 4C 40"));
}

TEST(BleCommand, SwitchesTheVariantDoesNotHaveAreRefused) {
    EXPECT_FALSE(encodeSwitch(Variant::Jk04, Switch::Charge, true));
    EXPECT_FALSE(encodeSwitch(Variant::Jk02_24S, Switch::Heater, true));
    auto jk04 = encodeSwitch(Variant::Jk04, Switch::Balancer, true).value();
    EXPECT_EQ(jk04[4], reg::kJk04BalancerSwitch);
    EXPECT_EQ(jk04[5], 1);
    EXPECT_TRUE(encodeSwitch(Variant::Jk02_32S, Switch::Heater, true));
}

TEST(BleCommand, DecodesTheAppFrameWithStaleBytes) {
    auto c = decodeCommand(hex("AA 55 90 EB 35 04 01 00 00 00 B4 B4 59 CF CE 23 3D 27 DF 78"));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->reg, 0x35);
    EXPECT_EQ(c->length, 4);
    EXPECT_EQ(c->value, 1U);
    auto bad = decodeCommand(hex("AA 55 90 EB 35 04 01 00 00 00 B4 B4 59 CF CE 23 3D 27 DF 79"));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, DecodeError::BadChecksum);
    EXPECT_EQ(bad.error().expected, 0x78U);
    EXPECT_EQ(decodeCommand(hex("AA 55 90 EB 35")).error().code, DecodeError::BadLength);
}

// ---- built frames ----

std::vector<std::uint8_t> cellInfo32() {
    JkFrame f(FrameType::CellInfo, 7);
    for (std::size_t i = 0; i < 16; ++i) {
        f.u16(6 + 2 * i, static_cast<std::uint16_t>(3300 + i));
        f.u16(80 + 2 * i, 60);
    }
    f.u32(70, 0xFFFF)
        .u16(74, 3307)
        .u16(76, 15)
        .u8(78, 15)
        .u8(79, 0)
        .i16(144, -52)
        .u32(150, 52920)
        .u32(154, 2116800)
        .i32(158, 40000)  // above 32.767 A: needs the full i32
        .i16(162, 215)
        .i16(164, -2000)  // T2 absent (presence bit clear)
        .u32(166, (1U << 4) | (1U << 19))
        .i16(170, -1500)
        .u8(172, 2)
        .u8(173, 77)
        .i32(174, 123456)
        .u32(178, 280000)
        .u32(182, 5)
        .u32(186, 1400000)
        .u8(190, 99)
        .u32(194, 86400)
        .u8(198, 1)
        .u8(199, 0)
        .u8(214, 0x13)  // MOS, T1, T4
        .u8(215, 1)
        .i16(236, 1500)
        .i16(254, -52)
        .i16(256, 181)
        .i16(258, 190)
        .u8(275, 0)
        .u8(280, 2)
        .u8(281, 0x04);
    return f.frame();
}

TEST(BleCellInfo, Jk02_32S) {
    const auto frame = cellInfo32();
    EXPECT_EQ(detectCellInfoVariant(frame), Variant::Jk02_32S);
    auto ci = decodeCellInfo(frame, Variant::Jk02_32S);
    ASSERT_TRUE(ci) << util::describe(ci.error());
    EXPECT_EQ(ci->counter, 7);
    ASSERT_EQ(ci->cellVoltagesV.size(), 16U);
    EXPECT_DOUBLE_EQ(ci->cellVoltagesV[15], 3.315);
    EXPECT_DOUBLE_EQ(ci->cellResistancesOhm[0], 0.060);
    EXPECT_DOUBLE_EQ(ci->packVoltageV, 52.920);
    EXPECT_DOUBLE_EQ(ci->balanceCurrentA, -1.5);
    EXPECT_EQ(ci->balancingAction, 2);
    EXPECT_EQ(ci->runtimeS, 86400U);
    ASSERT_TRUE(ci->jk02);
    const Jk02Status& st = *ci->jk02;
    EXPECT_DOUBLE_EQ(st.currentA, 40.0);
    EXPECT_DOUBLE_EQ(st.mosTemperatureC, -5.2);
    EXPECT_DOUBLE_EQ(st.temperature1C, 21.5);
    EXPECT_EQ(st.alarms, (1U << 4) | (1U << 19));
    EXPECT_EQ(st.socPercent, 77);
    EXPECT_DOUBLE_EQ(st.remainingCapacityAh, 123.456);
    EXPECT_DOUBLE_EQ(st.fullCapacityAh, 280.0);
    EXPECT_EQ(st.cycleCount, 5U);
    EXPECT_EQ(st.sohPercent, 99);
    EXPECT_TRUE(st.chargeMos);
    EXPECT_FALSE(st.dischargeMos);
    ASSERT_TRUE(ci->jk02Ext);
    EXPECT_TRUE(ci->jk02Ext->heating);
    EXPECT_DOUBLE_EQ(ci->jk02Ext->heatingCurrentA, 1.5);
    EXPECT_TRUE(ci->jk02Ext->sensorPresent(4));
    EXPECT_FALSE(ci->jk02Ext->sensorPresent(2));
    EXPECT_DOUBLE_EQ(ci->jk02Ext->temperatureOffset256C, 18.1);
    EXPECT_EQ(ci->jk02Ext->chargeStatus, 2);
    EXPECT_EQ(ci->jk02Ext->dryContactsMask, 0x04);
    EXPECT_EQ(alarmBitName(19), "modify_password_in_time");
}

TEST(BleCellInfo, NegativeCurrentAboveTheInt16Range) {
    JkFrame f(FrameType::CellInfo);
    f.u16(6, 3300).u32(70, 0x1).i32(158, -45000);
    auto ci = decodeCellInfo(f.frame(), Variant::Jk02_32S);
    ASSERT_TRUE(ci);
    EXPECT_DOUBLE_EQ(ci->jk02->currentA, -45.0);
}

TEST(BleCellInfo, Jk02_24S) {
    JkFrame f(FrameType::CellInfo);
    for (std::size_t i = 0; i < 8; ++i) f.u16(6 + 2 * i, 3400);
    f.u32(54, 0xFF).u32(118, 27200).i32(126, -12345).i16(130, -31).i16(132, 20).i16(134, 255)
        .u16(136, 1U << 11).u8(141, 40).u8(166, 1).u8(167, 1);
    const auto frame = f.frame();
    EXPECT_EQ(detectCellInfoVariant(frame), Variant::Jk02_24S);
    auto ci = decodeCellInfo(frame, Variant::Jk02_24S);
    ASSERT_TRUE(ci);
    EXPECT_EQ(ci->cellVoltagesV.size(), 8U);
    EXPECT_DOUBLE_EQ(ci->jk02->currentA, -12.345);
    EXPECT_DOUBLE_EQ(ci->jk02->temperature1C, -3.1);
    EXPECT_DOUBLE_EQ(ci->jk02->mosTemperatureC, 25.5);
    EXPECT_EQ(ci->jk02->alarms, 1U << 11);
    EXPECT_EQ(ci->jk02->socPercent, 40);
    EXPECT_FALSE(ci->jk02Ext);
}

TEST(BleCellInfo, Jk04FloatLayout) {
    JkFrame f(FrameType::CellInfo);
    for (std::size_t i = 0; i < 4; ++i) {
        f.f32(6 + 4 * i, 3.25F + 0.01F * static_cast<float>(i));
        f.f32(102 + 4 * i, 0.07F);
    }
    f.f32(202, 3.265F).f32(206, 0.03F).u8(220, 1).f32(222, 1.5F).u32(286, 1234);
    const auto frame = f.frame();
    EXPECT_EQ(detectCellInfoVariant(frame), Variant::Jk04);
    auto ci = decodeCellInfo(frame, Variant::Jk04);
    ASSERT_TRUE(ci);
    ASSERT_EQ(ci->cellVoltagesV.size(), 4U);
    EXPECT_NEAR(ci->packVoltageV, 13.06, 1e-5);
    EXPECT_NEAR(ci->balanceCurrentA, 1.5, 1e-6);
    EXPECT_FALSE(ci->jk02);
    // A NaN cell is rejected, not published.
    f.u32(6, 0x7FC00000);
    EXPECT_EQ(decodeCellInfo(f.frame(), Variant::Jk04).error().code, DecodeError::OutOfRange);
}

TEST(BleCellInfo, Errors) {
    auto frame = cellInfo32();
    EXPECT_EQ(decodeCellInfo(util::ByteView{frame}.first(299), Variant::Jk02_32S).error().code,
              DecodeError::TooShort);
    frame[100] ^= 1;
    auto bad = decodeCellInfo(frame, Variant::Jk02_32S);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, DecodeError::BadChecksum);
    EXPECT_EQ(bad.error().offset, 299U);
    const auto settings = JkFrame(FrameType::Settings).frame();
    EXPECT_EQ(decodeCellInfo(settings, Variant::Jk02_32S).error().code, DecodeError::UnknownType);
    auto header = settings;
    header[0] = 0x56;
    EXPECT_EQ(checkFrame(header).error().code, DecodeError::BadHeader);
}

TEST(BleCellInfo, TrailingBytesAfterTheFrameAreIgnored) {
    auto frame = cellInfo32();
    frame.insert(frame.end(), {'A', 'T', '\r', '\n'});
    EXPECT_TRUE(decodeCellInfo(frame, Variant::Jk02_32S));
}

TEST(BleSettings, Jk02_32S) {
    JkFrame f(FrameType::Settings);
    f.u32(18, 3650).u32(10, 2800).u32(38, 3450).u32(50, 100000).i32(82, 450).i32(98, -50)
        .u32(114, 16).u32(118, 1).u32(122, 0).u32(126, 1).u32(130, 280000).u32(138, 3400)
        .u32(270, 3).u16(282, (1U << 9) | (1U << 0)).u8(284, static_cast<std::uint8_t>(-5))
        .u8(296, static_cast<std::uint8_t>(-10)).u8(287, 0xFE);
    const auto frame = f.frame();
    EXPECT_EQ(detectSettingsVariant(frame), Variant::Jk02_32S);
    auto st = decodeSettings(frame, Variant::Jk02_32S);
    ASSERT_TRUE(st);
    EXPECT_DOUBLE_EQ(st->cellOvpV, 3.65);
    EXPECT_DOUBLE_EQ(st->cellUvpV, 2.8);
    EXPECT_DOUBLE_EQ(st->requestChargeV, 3.45);
    EXPECT_DOUBLE_EQ(st->maxChargeCurrentA, 100.0);
    EXPECT_DOUBLE_EQ(st->chargeOtpC, 45.0);
    EXPECT_DOUBLE_EQ(st->chargeUtpC, -5.0);
    EXPECT_EQ(st->cellCount, 16U);
    EXPECT_TRUE(st->chargeSwitch);
    EXPECT_FALSE(st->dischargeSwitch);
    EXPECT_DOUBLE_EQ(st->nominalCapacityAh, 280.0);
    ASSERT_TRUE(st->ext);
    EXPECT_EQ(st->ext->deviceAddress, 3U);
    EXPECT_EQ(st->ext->controlBitmask, (1U << 9) | 1U);
    EXPECT_EQ(st->ext->heatingStartC, -5);
    EXPECT_EQ(st->ext->dischargeUtpC, -10);
    EXPECT_FALSE(decodeSettings(frame, Variant::Jk02_24S)->ext);
    EXPECT_FALSE(decodeSettings(frame, Variant::Jk04));
}

// Issue 14 item 13: byte 287 tells JK02_24S settings from JK02_32S ones.
TEST(BleSettings, VariantFromByte287) {
    JkFrame f(FrameType::Settings);
    f.u32(18, 3650).u32(114, 16);
    EXPECT_EQ(detectSettingsVariant(f.frame()), Variant::Jk02_24S) << "0x00: JK02_24S";
    f.u8(287, 0xFE);
    EXPECT_EQ(detectSettingsVariant(f.frame()), Variant::Jk02_32S);
    f.u8(287, 0x7C);  // B2A8S20P firmware
    EXPECT_EQ(detectSettingsVariant(f.frame()), Variant::Jk02_32S);
    EXPECT_FALSE(detectSettingsVariant(std::vector<std::uint8_t>(100, 0)));
}

TEST(BleSettings, Jk04) {
    JkFrame f(FrameType::Settings);
    f.u8(34, 16).f32(38, 3.0F).f32(74, 3.03F).f32(98, 4.0F).f32(106, 0.005F).f32(110, 2.0F).u8(114, 1);
    const auto frame = f.frame();
    EXPECT_EQ(detectSettingsVariant(frame), Variant::Jk04);
    auto st = decodeJk04Settings(frame);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->cellCount, 16);
    EXPECT_NEAR(st->powerOffV, 3.0, 1e-6);
    EXPECT_NEAR(st->maxBalanceCurrentA, 2.0, 1e-6);
    EXPECT_TRUE(st->balancerSwitch);
}

TEST(BleDeviceInfo, VariantFromVersions) {
    EXPECT_EQ(variantFromVersions("JK-B2A24S20P", "10.XG", "10.07"), Variant::Jk02_24S);
    EXPECT_EQ(variantFromVersions("JK_B2A25SRP", "11A", "11.55"), Variant::Jk02_32S);
    EXPECT_EQ(variantFromVersions("JK-PB2A16S20P", "19A", "19.27"), Variant::Jk02_32S);
    EXPECT_EQ(variantFromVersions("JK-B2A16S", "3.0", "3.3.0"), Variant::Jk04);
    EXPECT_EQ(variantFromVersions("JK-B5A24S", "8.x", "8.0.3M"), Variant::Jk04);
    EXPECT_EQ(variantFromVersions("", "", "6.1.3S"), Variant::Jk02_24S) << "software as fallback";
    EXPECT_FALSE(variantFromVersions("", "5.0", ""));
    EXPECT_FALSE(variantFromVersions("", "", ""));
}

TEST(BleDeviceInfo, Jk02_32SFields) {
    JkFrame f(FrameType::DeviceInfo);
    f.text(6, "JK_PB2A16S15P").text(22, "15A").text(30, "15.38").u32(38, 3600).u32(42, 9)
        .text(46, "pack-1").text(62, "1234").text(78, "240510").text(86, "506177F490006741")
        .u8(184, 14).u8(218, 21).u8(266, 5).u8(267, 50);
    auto di = decodeDeviceInfo(f.frame());
    ASSERT_TRUE(di);
    EXPECT_EQ(di->model, "JK_PB2A16S15P");
    EXPECT_EQ(di->variant, Variant::Jk02_32S);
    EXPECT_EQ(di->serialNumber, "506177F490006741") << "16 characters with no NUL";
    EXPECT_EQ(di->uptimeS, 3600U);
    ASSERT_TRUE(di->ext);
    EXPECT_EQ(di->ext->uart1Protocol, 14);
    EXPECT_DOUBLE_EQ(di->ext->rcvTimeH, 0.5);
    EXPECT_DOUBLE_EQ(di->ext->rfvTimeH, 5.0);
}

TEST(BleLogbook, EntriesFromOffset11) {
    JkFrame f(FrameType::Logbook);
    f.u32(6, 2).u32(11, 0).u8(15, 0x01).u32(16, 238).u8(20, 0x44);
    auto log = decodeLogbook(f.frame());
    ASSERT_TRUE(log);
    ASSERT_EQ(log->entries.size(), 2U);
    EXPECT_EQ(log->entries[1].timeS, 238U);
    EXPECT_EQ(log->entries[1].code, 0x44);
    // A count larger than the frame can hold is clamped, not trusted.
    f.u32(6, 0xFFFFFFFF);
    EXPECT_EQ(decodeLogbook(f.frame())->entries.size(), 57U);
}

// ---- assembler ----

std::vector<std::vector<std::uint8_t>> chunks(const std::vector<std::uint8_t>& bytes, std::size_t size) {
    std::vector<std::vector<std::uint8_t>> out;
    for (std::size_t i = 0; i < bytes.size(); i += size)
        out.emplace_back(bytes.begin() + static_cast<std::ptrdiff_t>(i),
                         bytes.begin() + static_cast<std::ptrdiff_t>(std::min(bytes.size(), i + size)));
    return out;
}

TEST(BleAssembler, TwentyByteNotifications) {
    const auto frame = cellInfo32();
    Assembler a;
    int frames = 0;
    const auto parts = chunks(frame, 20);
    for (std::size_t i = 0; i < parts.size(); ++i) {
        FramerEvent ev = a.feed(parts[i]);
        if (ev.status == FramerStatus::Frame) {
            ++frames;
            EXPECT_EQ(i, parts.size() - 1);
            EXPECT_TRUE(std::equal(ev.frame.begin(), ev.frame.end(), frame.begin(), frame.end()));
        } else {
            EXPECT_EQ(ev.status, FramerStatus::NeedMore);
        }
    }
    EXPECT_EQ(frames, 1);
}

TEST(BleAssembler, TrailingAtChatterAndStrayChunksAreDropped) {
    Assembler a;
    EXPECT_EQ(a.feed(hex("41 54 0D 0A")).skippedBytes, 4U) << "belongs to no frame";
    auto frame = cellInfo32();
    frame.insert(frame.end(), {'A', 'T', '\r', '\n'});
    const auto parts = chunks(frame, 244);  // larger MTU: 244 + 60 bytes
    EXPECT_EQ(a.feed(parts[0]).status, FramerStatus::NeedMore);
    FramerEvent ev = a.feed(parts[1]);
    EXPECT_EQ(ev.status, FramerStatus::Frame);
    EXPECT_EQ(ev.skippedBytes, 4U);
    EXPECT_EQ(ev.frame.size(), kFrameSize);
    EXPECT_EQ(a.feed(hex("41 54 0D 0A")).status, FramerStatus::NeedMore);
}

TEST(BleAssembler, ANewHeaderAbandonsAnUnfinishedFrame) {
    Assembler a;
    const auto frame = cellInfo32();
    a.feed(util::ByteView{frame}.first(100));
    FramerEvent ev{};
    for (const auto& part : chunks(frame, 20)) ev = a.feed(part);
    EXPECT_EQ(ev.status, FramerStatus::Frame);
}

TEST(BleAssembler, CorruptFrameIsReportedAndTheNextOneDecodes) {
    Assembler a;
    auto bad = cellInfo32();
    bad[150] ^= 0xFF;
    FramerEvent ev{};
    for (const auto& part : chunks(bad, 20)) ev = a.feed(part);
    EXPECT_EQ(ev.status, FramerStatus::Bad);
    EXPECT_EQ(ev.error.code, DecodeError::BadChecksum);
    for (const auto& part : chunks(cellInfo32(), 20)) ev = a.feed(part);
    EXPECT_EQ(ev.status, FramerStatus::Frame);
}

}  // namespace
}  // namespace jkbms::codec::ble
