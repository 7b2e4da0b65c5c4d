// BatteryKey: the identity of a BMS from its own (untrusted) fields.

#include <gtest/gtest.h>

#include <string>

#include "jkbms/domain/battery_key.hpp"
#include "jkbms/util/utf8.hpp"

namespace jkbms::domain {
namespace {

using namespace std::string_literals;

bool onlyPathCharacters(const std::string& s) {
    for (char c : s)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

TEST(BatteryKey, NwKeyFromAUserSetDeviceId) {
    auto key = nwKey("Input UserdaJK_B2A24S15P", "PackA\0\0\0"s);
    ASSERT_TRUE(key);
    EXPECT_EQ(key->uid, "jkbms_nw_PackA");
    EXPECT_EQ(key->label, "id 'PackA'");
    EXPECT_TRUE(key->fromBms);
}

TEST(BatteryKey, NwKeyFromAUserSetManufacturerIdAndDeviceId) {
    auto key = nwKey("Garage rack 1\0\0\0"s, "Left");
    ASSERT_TRUE(key);
    EXPECT_EQ(key->uid, "jkbms_nw_Garage_rack_1_Left");
    // Different boards, different keys.
    EXPECT_NE(nwKey("Garage rack 1", "Right")->uid, key->uid);
}

TEST(BatteryKey, NwFactoryDefaultsAreNoIdentity) {
    EXPECT_FALSE(nwKey("Input UserdaJK_B2A24S15P", "Input Us"));
    EXPECT_FALSE(nwKey("Input UserdaJK_B1A20S15P", ""));
    EXPECT_FALSE(nwKey("", ""));
    EXPECT_FALSE(nwKey("\0\0\0\0\0\0"s, "\0\0\0\0"s));
    EXPECT_FALSE(nwKey("                        ", "        "));
    EXPECT_FALSE(nwKey("000000000000", "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF"));
    EXPECT_FALSE(nwKey("????????", "?/?/")) << "nothing a settings path can hold";
}

// 0xBA is not unique: two different boards in the public captures (nw_14s_charging.yaml,
// nw_16s_bd6a17s6p_v7.yaml) both report this one, with 0xB4 at its default.
TEST(BatteryKey, NwManufacturerIdAloneIsNoIdentity) {
    EXPECT_FALSE(nwKey("BT3072020120000200521001", "Input Us"));
    EXPECT_FALSE(nwKey("BT3072020120000200521001", ""));
    EXPECT_FALSE(nwKey("Garage rack 1", "\0\0\0\0"s));
    auto key = nwKey("BT3072020120000200521001", "PackA");
    ASSERT_TRUE(key);
    EXPECT_EQ(key->uid, "jkbms_nw_BT3072020120000200521001_PackA");
}

TEST(BatteryKey, GarbageIsCleanedCappedAndFitForAPath) {
    const std::string garbage = "\x01\x02Pack\xC3\x28/..\x7F\xFE\xFE" + std::string(200, 'x');
    auto key = nwKey(garbage, "x\xE2\x82");
    ASSERT_TRUE(key);
    EXPECT_TRUE(onlyPathCharacters(key->uid)) << key->uid;
    EXPECT_LE(key->uid.size(), kMaxUidBytes);
    EXPECT_TRUE(key->uid.starts_with("jkbms_nw_Pack")) << key->uid;
    EXPECT_TRUE(util::isValidUtf8(key->label));
    EXPECT_LE(key->label.size(), 2 * kMaxFieldBytes * 3 + 10);

    const std::string cleaned = cleanField(garbage);
    EXPECT_TRUE(util::isValidUtf8(cleaned));
    EXPECT_LE(cleaned.size(), kMaxFieldBytes);
    EXPECT_EQ(cleaned.find('\x01'), std::string::npos);
    EXPECT_EQ(cleanField("  JK \0 PB  "s), "JK  PB");
    // A cut never splits a UTF-8 sequence.
    const std::string euros = std::string(31, 'a') + "\xE2\x82\xAC";
    EXPECT_TRUE(util::isValidUtf8(cleanField(euros)));
    EXPECT_EQ(cleanField(euros), std::string(31, 'a'));
}

TEST(BatteryKey, SerialKey) {
    auto key = serialKey("SIM0000002\0\0\0\0\0"s);
    ASSERT_TRUE(key);
    EXPECT_EQ(key->uid, "jkbms_SIM0000002");
    EXPECT_EQ(key->label, "serial SIM0000002");
    EXPECT_FALSE(serialKey(""));
    EXPECT_FALSE(serialKey("\0\0\0"s));
    EXPECT_FALSE(serialKey("00000000"));
    EXPECT_FALSE(serialKey("\xFF\xFF\xFF\xFF"));
    EXPECT_FALSE(serialKey("-.-.-"));
    auto odd = serialKey("AB-12 34\xC0");
    ASSERT_TRUE(odd);
    EXPECT_TRUE(odd->uid.starts_with("jkbms_AB_12_34_")) << odd->uid;
    std::string longSerial;
    for (int i = 0; i < 250; ++i) longSerial += "Z.";
    auto capped = serialKey(longSerial);
    ASSERT_TRUE(capped);
    EXPECT_TRUE(onlyPathCharacters(capped->uid)) << capped->uid;
    EXPECT_LE(capped->uid.size(), kMaxUidBytes);
}

TEST(BatteryKey, PlaceKeyIsTheOldPortKey) {
    auto key = placeKey("ttyUSB0_2", "no serial within 15 s");
    EXPECT_EQ(key.uid, "jkbms_ttyUSB0_2");
    EXPECT_FALSE(key.fromBms);
    EXPECT_EQ(key.why, "no serial within 15 s");
    EXPECT_TRUE(onlyPathCharacters(placeKey("tty\xFFUSB/0", "").uid));
    // Long port names are not cut: two of them must not share a key.
    const std::string longName(80, 'p');
    EXPECT_NE(placeKey(longName + "-a", "").uid, placeKey(longName + "-b", "").uid);
    EXPECT_EQ(placeKey("ttyUSB0", "").label, "port ttyUSB0");
}

}  // namespace
}  // namespace jkbms::domain
