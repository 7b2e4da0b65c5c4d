#include "jkbms/domain/snapshot_mapping.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "support/frame_builders.hpp"

namespace jkbms::domain {
namespace {

namespace nw = codec::nw;
namespace ble = codec::ble;
using test::JkFrame;
using test::NwReply;

TEST(FromNw, MapsMeasurementsSwitchesAlarmsSettingsAndIdentity) {
    const auto frame = NwReply{}
                           .cells({3300, 3350, 3290})
                           .value(nw::id::kMosTemperature, 30)
                           .value(nw::id::kTemperature1, 102)  // -2 C
                           .value(nw::id::kTotalVoltage, 994)
                           .value(nw::id::kCurrent, 0x0045)    // discharging 0.69 A
                           .value(nw::id::kSoc, 50)
                           .value(nw::id::kCycleCount, 7)
                           .value(nw::id::kAlarms, (1U << 10) | (1U << 5) | (1U << 12))
                           .value(nw::id::kStatus, 0x0006)
                           .value(nw::id::kCellOvp, 3650)
                           .value(nw::id::kChargeOcp, 50)
                           .value(nw::id::kChargeUtp, 0xFFFB)
                           .value(nw::id::kNominalCapacity, 280)
                           .value(nw::id::kChargeSwitch, 1)
                           .value(nw::id::kDischargeSwitch, 1)
                           .value(nw::id::kBalancerSwitch, 0)
                           .value(nw::id::kRuntime, 10)
                           .text(nw::id::kSoftwareVersion, "11.XW_S11.261__")
                           .text(nw::id::kManufacturerId, "Input UserdaJK_B2A24S15P")
                           .value(nw::id::kProtocolVersion, 1)
                           .frame();
    auto reply = nw::decodeReadAll(frame);
    ASSERT_TRUE(reply);
    const BatterySnapshot s = fromNw(*reply);
    ASSERT_EQ(s.cellVoltagesV.size(), 3U);
    EXPECT_DOUBLE_EQ(*s.packVoltageV, 9.94);
    EXPECT_DOUBLE_EQ(*s.currentA, -0.69);
    EXPECT_NEAR(*s.powerW, -6.8586, 1e-9);
    EXPECT_DOUBLE_EQ(*s.socPercent, 50);
    EXPECT_DOUBLE_EQ(*s.fullCapacityAh, 280);
    EXPECT_DOUBLE_EQ(*s.remainingCapacityAh, 140);
    EXPECT_EQ(*s.runtimeS, 600U);
    EXPECT_DOUBLE_EQ(*s.mosfetTemperatureC, 30);
    ASSERT_EQ(s.temperatures.size(), 1U) << "T2 not in the reply";
    EXPECT_EQ(s.temperatures[0].name, "T1");
    EXPECT_DOUBLE_EQ(s.temperatures[0].celsius, -2);
    EXPECT_FALSE(*s.switches.chargeMos);
    EXPECT_TRUE(*s.switches.dischargeMos);
    EXPECT_TRUE(s.balancing);
    EXPECT_TRUE(*s.switches.chargeEnabled);
    EXPECT_FALSE(*s.switches.balancerEnabled);
    EXPECT_TRUE(s.alarmsReported);
    EXPECT_TRUE(s.alarms.has(Alarm::CellHighVoltage));
    EXPECT_TRUE(s.alarms.has(Alarm::HighChargeCurrent));
    EXPECT_FALSE(s.alarms.has(Alarm::InternalFailure)) << "309_A has no documented meaning";
    EXPECT_DOUBLE_EQ(*s.settings.cellOvpV, 3.65);
    EXPECT_DOUBLE_EQ(*s.settings.chargeOcpA, 50);
    EXPECT_DOUBLE_EQ(*s.settings.chargeUtpC, -5);
    EXPECT_FALSE(s.settings.maxChargeCurrentA) << "NW has OCP thresholds, not continuous limits";
    EXPECT_EQ(s.identity.protocol, Protocol::Nw);
    EXPECT_EQ(s.identity.hardwareVersion, "11.XW");
    EXPECT_EQ(s.identity.softwareVersion, "11.261");
    EXPECT_EQ(s.identity.model, "JK_B2A24S15P");

    auto stats = s.cellStats();
    ASSERT_TRUE(stats);
    EXPECT_DOUBLE_EQ(stats->minV, 3.290);
    EXPECT_EQ(stats->minIndex, 2U);
    EXPECT_DOUBLE_EQ(stats->maxV, 3.350);
    EXPECT_EQ(stats->maxIndex, 1U);
    EXPECT_NEAR(stats->deltaV, 0.060, 1e-12);
    EXPECT_NEAR(stats->averageV, 3.31333333, 1e-6);
}

// Issue 17: NW has no serial or SoH field; /Serial is what tells the board apart (its key's
// text), /Soh the actual capacity (0xB9) against the nominal one (0xAA).
TEST(FromNw, SerialFromTheIdsAndSohFromTheCapacities) {
    auto map = [](std::string_view deviceId, std::uint32_t nominal, std::uint32_t actual) {
        NwReply r;
        r.cells({3300}).value(nw::id::kNominalCapacity, nominal).value(nw::id::kActualCapacity, actual);
        r.text(nw::id::kManufacturerId, "Input UserdaJK_B2A24S15P").text(nw::id::kDeviceId, deviceId);
        const auto reply = nw::decodeReadAll(r.frame());
        EXPECT_TRUE(reply);
        return fromNw(*reply);
    };
    const auto s = map("Pack A", 280, 266);
    EXPECT_EQ(s.identity.serialNumber, "Pack A") << "a model after the factory filler is every board of it";
    EXPECT_EQ(s.identity.deviceName, "Pack A");
    ASSERT_TRUE(s.sohPercent);
    EXPECT_DOUBLE_EQ(*s.sohPercent, 95.0);
    EXPECT_DOUBLE_EQ(*s.fullCapacityAh, 266) << "the actual capacity is what 100 % holds";
    // The factory default id tells nothing (every board has it): no serial.
    EXPECT_EQ(map("Input Us", 280, 266).identity.serialNumber, "");
    EXPECT_EQ(map("Input Us", 280, 266).identity.deviceName, "") << "the factory default names nothing";
    // No actual capacity (firmware < 10.10 reads 0): no SoH; more than nominal: 100 %.
    EXPECT_FALSE(map("Pack A", 280, 0).sohPercent);
    EXPECT_DOUBLE_EQ(*map("Pack A", 280, 300).sohPercent, 100.0);
    EXPECT_FALSE(map("Pack A", 0, 266).sohPercent);
}

// fromNw keeps the identity it derived from a reply's ASCII ids (per thread, a few sets): a
// reply whose ids changed, or a pack after others, must never get another reply's identity.
TEST(FromNw, IdentityFollowsTheIdsOfEachReply) {
    auto map = [](std::optional<std::string_view> deviceId, std::string_view maker, std::string_view software) {
        NwReply r;
        r.cells({3300}).text(nw::id::kManufacturerId, maker).text(nw::id::kSoftwareVersion, software);
        if (deviceId) r.text(nw::id::kDeviceId, *deviceId);
        const auto reply = nw::decodeReadAll(r.frame());
        EXPECT_TRUE(reply);
        return fromNw(*reply).identity;
    };
    auto id = map("Pack A", "Input UserdaJK_B2A24S15P", "11.XW_S11.261__");
    EXPECT_EQ(id.serialNumber, "Pack A");
    EXPECT_EQ(id.deviceName, "Pack A");
    EXPECT_EQ(id.model, "JK_B2A24S15P");
    EXPECT_EQ(id.softwareVersion, "11.261");
    // The same again, then one id changed at a time: each text follows at once.
    EXPECT_EQ(map("Pack A", "Input UserdaJK_B2A24S15P", "11.XW_S11.261__").deviceName, "Pack A");
    id = map("Pack B", "Input UserdaJK_B2A24S15P", "11.XW_S11.261__");
    EXPECT_EQ(id.serialNumber, "Pack B");
    EXPECT_EQ(id.deviceName, "Pack B");
    id = map("Pack B", "BT3072020120000200521001", "11.XW_S11.261__");
    EXPECT_EQ(id.serialNumber, "BT3072020120000200521001_Pack B");
    EXPECT_EQ(id.model, "BT3072020120000200521001");
    id = map("Pack B", "BT3072020120000200521001", "11.XW_S11.262__");
    EXPECT_EQ(id.softwareVersion, "11.262");
    EXPECT_EQ(id.serialNumber, "BT3072020120000200521001_Pack B");
    // An absent device id is not an empty one that was read: no name, no serial either way.
    id = map(std::nullopt, "Input UserdaJK_B2A24S15P", "11.XW_S11.261__");
    EXPECT_EQ(id.serialNumber, "");
    EXPECT_EQ(id.deviceName, "");
    id = map("Input Us", "Input UserdaJK_B2A24S15P", "11.XW_S11.261__");
    EXPECT_EQ(id.deviceName, "") << "the factory default names nothing";
    // More packs in turn than the identities kept: each gets its own, round after round.
    for (int round = 0; round < 3; ++round) {
        for (int pack = 0; pack < 7; ++pack) {
            const std::string name = "Pack " + std::to_string(pack);
            const auto each = map(name, "Input UserdaJK_B2A24S15P", "11.XW_S11.261__");
            EXPECT_EQ(each.serialNumber, name);
            EXPECT_EQ(each.deviceName, name);
        }
    }
}

TEST(SplitNwVersion, KnownShapes) {
    EXPECT_EQ(splitNwVersion("H6.X__S6.1.3S__").hardware, "6.X");
    EXPECT_EQ(splitNwVersion("H6.X__S6.1.3S__").software, "6.1.3S");
    EXPECT_EQ(splitNwVersion("10.XW_S10.07___").software, "10.07");
    EXPECT_EQ(splitNwVersion("7.1.0H").software, "7.1.0H");
}

TEST(ApplyCellInfo, AbsentSensorsAreNotPublished) {
    JkFrame f(ble::FrameType::CellInfo);
    f.u16(6, 3300).u16(8, 3310).u32(70, 0x3).u32(150, 6610).i32(158, -2000).i16(144, -2000)
        .i16(162, 215).i16(164, -2000).u32(166, (1U << 19) | (1U << 16)).u8(173, 90)
        .u8(214, 0x12)  // T1 and T4 present; MOS and T2 absent
        .i16(256, 180).u8(215, 1);
    auto ci = ble::decodeCellInfo(f.frame(), ble::Variant::Jk02_32S);
    ASSERT_TRUE(ci);
    BatterySnapshot s;
    applyCellInfo(s, *ci);
    EXPECT_FALSE(s.mosfetTemperatureC);
    ASSERT_EQ(s.temperatures.size(), 2U);
    EXPECT_EQ(s.temperatures[0].name, "T1");
    EXPECT_EQ(s.temperatures[1].name, "T4");
    EXPECT_DOUBLE_EQ(s.temperatures[1].celsius, 18.0);
    EXPECT_DOUBLE_EQ(*s.currentA, -2.0);
    EXPECT_NEAR(*s.powerW, -13.22, 1e-9);
    EXPECT_TRUE(s.alarms.has(Alarm::InternalFailure));
    EXPECT_FALSE(s.alarms.has(Alarm::CellHighVoltage));
    EXPECT_TRUE(*s.heating);
    EXPECT_EQ(s.identity.variant, "JK02_32S");
}

TEST(ApplyCellInfo, Jk04ReportsNoAlarms) {
    JkFrame f(ble::FrameType::CellInfo);
    f.f32(6, 3.3F).f32(10, 3.31F);
    auto ci = ble::decodeCellInfo(f.frame(), ble::Variant::Jk04);
    ASSERT_TRUE(ci);
    BatterySnapshot s;
    applyCellInfo(s, *ci);
    EXPECT_FALSE(s.alarmsReported);
    EXPECT_FALSE(s.currentA);
    EXPECT_FALSE(s.socPercent);
    EXPECT_NEAR(*s.packVoltageV, 6.61, 1e-6);
}

TEST(ApplySettingsAndDeviceInfo, FillLimitsAndIdentity) {
    JkFrame st(ble::FrameType::Settings);
    st.u32(18, 3650).u32(38, 3450).u32(42, 3350).u32(50, 100000).u32(62, 150000).u32(118, 1).u32(122, 0);
    JkFrame di(ble::FrameType::DeviceInfo);
    di.text(6, "JK-PB2A16S20P").text(22, "19A").text(30, "19.27").text(86, "506177F49000674");
    BatterySnapshot s;
    applySettings(s, ble::decodeSettings(st.frame(), ble::Variant::Jk02_32S).value());
    applyDeviceInfo(s, ble::decodeDeviceInfo(di.frame()).value());
    EXPECT_DOUBLE_EQ(*s.settings.maxChargeCurrentA, 100);
    EXPECT_DOUBLE_EQ(*s.settings.maxDischargeCurrentA, 150);
    EXPECT_DOUBLE_EQ(*s.settings.requestChargeV, 3.45);
    EXPECT_DOUBLE_EQ(*s.settings.requestFloatV, 3.35);
    EXPECT_TRUE(*s.switches.chargeEnabled);
    EXPECT_FALSE(*s.switches.dischargeEnabled);
    EXPECT_EQ(s.identity.model, "JK-PB2A16S20P");
    EXPECT_EQ(s.identity.serialNumber, "506177F49000674");
    EXPECT_EQ(s.identity.variant, "JK02_32S");
}

TEST(Alarms, EveryAlarmHasAName) {
    for (std::size_t i = 0; i < static_cast<std::size_t>(Alarm::Count_); ++i)
        EXPECT_NE(alarmName(static_cast<Alarm>(i)), "?") << i;
}

}  // namespace
}  // namespace jkbms::domain
