#include "jkbms/codec/pb_modbus.hpp"

#include <gtest/gtest.h>

#include <deque>

#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/nw.hpp"
#include "jkbms/codec/checksum.hpp"
#include "jkbms/util/hex.hpp"
#include "support/frame_builders.hpp"

namespace jkbms::codec::pb {
namespace {

using test::JkFrame;
using util::DecodeError;

std::vector<std::uint8_t> hex(std::string_view s) { return util::parseHex(s).value(); }
template <std::size_t N>
std::vector<std::uint8_t> vec(const std::array<std::uint8_t, N>& a) { return {a.begin(), a.end()}; }

std::vector<std::uint8_t> ack(std::uint8_t address, Trigger t) {
    const auto r = static_cast<std::uint16_t>(t);
    std::vector<std::uint8_t> f = {address, 0x10, static_cast<std::uint8_t>(r >> 8),
                                   static_cast<std::uint8_t>(r & 0xFF), 0x00, 0x01};
    const std::uint16_t crc = crc16Modbus(f);
    f.push_back(static_cast<std::uint8_t>(crc & 0xFF));
    f.push_back(static_cast<std::uint8_t>(crc >> 8));
    return f;
}

std::vector<std::uint8_t> cellFrame(std::uint8_t counter) {
    JkFrame f(ble::FrameType::CellInfo, counter);
    f.u16(6, 3300).u32(70, 1);
    return f.frame();
}

// The ready-made triggers of jk-protocols.md section 3.2 (CRC bytes per address 1..15).
TEST(PbEncode, TriggerTableFromTheSpec) {
    const char* cell[] = {"D6 F1", "C2 01", "CF 91", "E9 A1", "E4 31", "F0 C1", "FD 51", "BC A1",
                          "B1 31", "A5 C1", "A8 51", "8E 61", "83 F1", "97 01", "9A 91"};
    const char* settings[] = {"D2 2F", "C6 DF", "CB 4F", "ED 7F", "E0 EF", "F4 1F", "F9 8F", "B8 7F",
                              "B5 EF", "A1 1F", "AC 8F", "8A BF", "87 2F", "93 DF", "9E 4F"};
    const char* about[] = {"D3 CD", "C7 3D", "CA AD", "EC 9D", "E1 0D", "F5 FD", "F8 6D", "B9 9D",
                           "B4 0D", "A0 FD", "AD 6D", "8B 5D", "86 CD", "92 3D", "9F AD"};
    for (std::uint8_t a = 1; a <= kMaxAddress; ++a) {
        const auto tail = [](const std::array<std::uint8_t, 11>& f) {
            return std::vector<std::uint8_t>{f[9], f[10]};
        };
        EXPECT_EQ(tail(encodeTrigger(a, Trigger::CellInfo)), hex(cell[a - 1])) << int{a};
        EXPECT_EQ(tail(encodeTrigger(a, Trigger::Settings)), hex(settings[a - 1])) << int{a};
        EXPECT_EQ(tail(encodeTrigger(a, Trigger::About)), hex(about[a - 1])) << int{a};
    }
    EXPECT_EQ(vec(encodeTrigger(1, Trigger::CellInfo)), hex("01 10 16 20 00 01 02 00 00 D6 F1"));
}

TEST(PbEncode, StandardModbusFramesFromCaptures) {
    EXPECT_EQ(vec(encodeReadHolding(1, reg::kCellVoltages, 0x20)), hex("01 03 12 00 00 20 41 6A"));
    EXPECT_EQ(vec(encodeReadHolding(1, reg::kPackVoltage, 2)), hex("01 03 12 90 00 02 C1 5E"));
    EXPECT_EQ(vec(encodeReadHolding(1, reg::kModel, 0x14)), hex("01 03 14 00 00 14 40 35"));
    EXPECT_EQ(encodeWriteU32(2, reg::kBalancerEnable, 1), hex("02 10 10 78 00 02 04 00 00 00 01 F6 69"));
    EXPECT_EQ(encodeWriteU32(2, reg::kBalancerEnable, 0), hex("02 10 10 78 00 02 04 00 00 00 00 37 A9"));
    EXPECT_EQ(encodeWriteU32(1, reg::kChargeEnable, 1), hex("01 10 10 70 00 02 04 00 00 00 01 F8 8B"));
    EXPECT_EQ(encodeWriteU32(1, reg::kChargeEnable, 0), hex("01 10 10 70 00 02 04 00 00 00 00 39 4B"));
    EXPECT_EQ(encodeWriteU32(1, reg::kDischargeEnable, 0), hex("01 10 10 74 00 02 04 00 00 00 00 38 B8"));
    EXPECT_EQ(encodeWriteU32(2, 0x1084, 3440), hex("02 10 10 84 00 02 04 00 00 0D 70 3D CC"));
    const std::uint8_t control[] = {0x02, 0x10};
    EXPECT_EQ(encodeWriteRegisters(2, reg::kControlBitmask, control).value(),
              hex("02 10 11 14 00 01 02 02 10 B0 19"));
    EXPECT_FALSE(encodeWriteRegisters(1, 0x1000, hex("01")));  // odd byte count
    EXPECT_FALSE(encodeWriteRegisters(1, 0x1000, {}));
}

TEST(PbDecode, EachForm) {
    const auto triggerBytes = hex("01 10 16 20 00 01 02 00 00 D6 F1");
    auto trigger = decodeModbus(triggerBytes);
    ASSERT_TRUE(trigger);
    EXPECT_EQ(trigger->kind, ModbusKind::WriteRequest);
    EXPECT_TRUE(trigger->isTrigger());
    EXPECT_EQ(trigger->reg, 0x1620);
    EXPECT_EQ(trigger->dataValue(), 0U);

    auto a = decodeModbus(hex("01 10 16 20 00 01 04 4B"));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->kind, ModbusKind::WriteAck);
    EXPECT_EQ(a->address, 1);
    EXPECT_EQ(a->quantity, 1);

    auto read = decodeModbus(hex("01 03 12 90 00 02 C1 5E"));
    ASSERT_TRUE(read);
    EXPECT_EQ(read->kind, ModbusKind::ReadRequest);
    EXPECT_EQ(read->quantity, 2);

    const auto writeBytes = hex("02 10 10 78 00 02 04 00 00 00 01 F6 69");
    auto write = decodeModbus(writeBytes);
    ASSERT_TRUE(write);
    EXPECT_FALSE(write->isTrigger());
    EXPECT_EQ(write->dataValue(), 1U);

    std::vector<std::uint8_t> response = {0x01, 0x03, 0x04, 0x00, 0x00, 0xCE, 0xD8};
    const std::uint16_t crc = crc16Modbus(response);
    response.insert(response.end(), {static_cast<std::uint8_t>(crc & 0xFF), static_cast<std::uint8_t>(crc >> 8)});
    auto resp = decodeModbus(response);
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->kind, ModbusKind::ReadResponse);
    EXPECT_EQ(resp->dataValue(), 52952U);

    std::vector<std::uint8_t> exception = {0x01, 0x83, 0x02};
    const std::uint16_t ecrc = crc16Modbus(exception);
    exception.insert(exception.end(), {static_cast<std::uint8_t>(ecrc & 0xFF), static_cast<std::uint8_t>(ecrc >> 8)});
    auto ex = decodeModbus(exception);
    ASSERT_TRUE(ex);
    EXPECT_EQ(ex->kind, ModbusKind::Exception);
    EXPECT_EQ(ex->exceptionCode, 2);
}

TEST(PbDecode, Errors) {
    auto bad = decodeModbus(hex("01 10 16 20 00 01 02 00 00 D6 F2"));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, DecodeError::BadChecksum);
    EXPECT_EQ(bad.error().expected, 0xF1D6U);
    EXPECT_EQ(bad.error().actual, 0xF2D6U);
    EXPECT_EQ(decodeModbus(hex("01 10 16")).error().code, DecodeError::TooShort);
}

// ---- bus framer ----

// Event views die with the next call into the framer: keep copies of their bytes.
std::deque<std::vector<std::uint8_t>> kept;

std::vector<BusEvent> drain(BusFramer& f, bool idle = false) {
    std::vector<BusEvent> out;
    for (BusEvent ev = idle ? f.flush() : f.next(); ev.kind != BusEvent::Kind::NeedMore;
         ev = idle ? f.flush() : f.next()) {
        ev.frame = kept.emplace_back(ev.frame.begin(), ev.frame.end());
        ev.modbus.data = kept.emplace_back(ev.modbus.data.begin(), ev.modbus.data.end());
        out.push_back(ev);
    }
    return out;
}

// Two packs polled by us, with the adapter echoing our requests and one pack padding its ACK.
std::vector<std::uint8_t> twoPackPoll() {
    return test::concat({vec(encodeTrigger(1, Trigger::CellInfo)), cellFrame(1), ack(1, Trigger::CellInfo),
                         vec(encodeTrigger(2, Trigger::CellInfo)), cellFrame(2), {0x00},
                         ack(2, Trigger::CellInfo), {0x00}});
}

void expectTwoPackEvents(const std::vector<BusEvent>& ev) {
    ASSERT_EQ(ev.size(), 4U);
    EXPECT_EQ(ev[0].kind, BusEvent::Kind::Modbus);
    EXPECT_TRUE(ev[0].modbus.isTrigger());
    EXPECT_EQ(ev[1].kind, BusEvent::Kind::JkFrame);
    EXPECT_EQ(ev[1].address, 1);
    ASSERT_TRUE(ev[1].ack);
    EXPECT_EQ(ev[1].padBytes, 0U);
    EXPECT_EQ(ev[1].frame[5], 1);  // counter of pack 1's frame
    EXPECT_EQ(ev[2].modbus.address, 2);
    EXPECT_EQ(ev[3].kind, BusEvent::Kind::JkFrame);
    EXPECT_EQ(ev[3].address, 2);
    EXPECT_EQ(ev[3].padBytes, 1U);
    EXPECT_EQ(ev[3].frame[5], 2);
}

TEST(PbBusFramer, TagsEachPacksAnswerByAddress) {
    BusFramer f;
    f.push(twoPackPoll());
    expectTwoPackEvents(drain(f));
    EXPECT_EQ(f.buffered(), 1U) << "a trailing 00 may start an address-0 frame";
    EXPECT_TRUE(drain(f, true).empty());
    EXPECT_EQ(f.buffered(), 0U);
}

TEST(PbBusFramer, ByteAtATimeGivesTheSameEvents) {
    BusFramer f;
    std::vector<BusEvent> events;
    for (std::uint8_t b : twoPackPoll()) {
        f.push(util::ByteView{&b, 1});
        for (BusEvent& ev : drain(f)) events.push_back(ev);
    }
    expectTwoPackEvents(events);
}

TEST(PbBusFramer, MasterBroadcastCarriesAddressZero) {
    BusFramer f;
    f.push(test::concat({cellFrame(9), ack(0, Trigger::CellInfo)}));
    auto ev = drain(f);
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_EQ(ev[0].address, 0);
}

TEST(PbBusFramer, AFrameWithoutAckWaitsForTheIdleLine) {
    BusFramer f;
    f.push(test::concat({vec(encodeTrigger(3, Trigger::Settings)), cellFrame(4)}));
    auto ev = drain(f);
    ASSERT_EQ(ev.size(), 1U) << "only the trigger; the frame may still get its ACK";
    ev = drain(f, true);
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_EQ(ev[0].kind, BusEvent::Kind::JkFrame);
    EXPECT_EQ(ev[0].address, 3) << "attributed by the preceding trigger";
    EXPECT_FALSE(ev[0].ack);
}

TEST(PbBusFramer, GarbageIsSkippedAndCounted) {
    BusFramer f;
    f.push(test::concat({{0xFF, 0xFE, 0x55, 0xAA, 0x00}, cellFrame(1), ack(5, Trigger::CellInfo)}));
    auto ev = drain(f);
    ASSERT_EQ(ev.size(), 1U);
    EXPECT_EQ(ev[0].kind, BusEvent::Kind::JkFrame);
    EXPECT_EQ(ev[0].skippedBytes, 5U);
    EXPECT_EQ(ev[0].address, 5);
}

TEST(PbBusFramer, CorruptFrameThenRecovery) {
    auto bad = cellFrame(1);
    bad[200] ^= 0x01;
    BusFramer f;
    f.push(test::concat({bad, ack(1, Trigger::CellInfo), cellFrame(2), ack(1, Trigger::CellInfo)}));
    auto ev = drain(f);
    ASSERT_EQ(ev.size(), 3U);
    EXPECT_EQ(ev[0].kind, BusEvent::Kind::Bad);
    EXPECT_EQ(ev[0].error.code, DecodeError::BadChecksum);
    EXPECT_EQ(ev[1].kind, BusEvent::Kind::Modbus) << "the orphan ACK";
    EXPECT_EQ(ev[1].modbus.kind, ModbusKind::WriteAck);
    EXPECT_EQ(ev[2].kind, BusEvent::Kind::JkFrame);
    EXPECT_EQ(ev[2].frame[5], 2);
}

TEST(PbBusFramer, TruncatedFrameIsReportedWhenTheLineGoesIdle) {
    BusFramer f;
    const auto frame = cellFrame(1);
    f.push(util::ByteView{frame}.first(150));
    EXPECT_TRUE(drain(f).empty());
    auto ev = drain(f, true);
    ASSERT_FALSE(ev.empty());
    EXPECT_EQ(ev[0].kind, BusEvent::Kind::Bad);
    EXPECT_EQ(ev[0].error.code, DecodeError::TooShort);
    EXPECT_EQ(f.buffered(), 0U);
}

}  // namespace
}  // namespace jkbms::codec::pb

namespace jkbms::codec::pb {
namespace {

// The switch registers of jk-protocols.md 3.5, by the codec's switch names.
TEST(PbSwitches, RegisterPerSwitch) {
    EXPECT_EQ(switchRegister(ble::Switch::Charge), 0x1070);
    EXPECT_EQ(switchRegister(ble::Switch::Discharge), 0x1074);
    EXPECT_EQ(switchRegister(ble::Switch::Balancer), 0x1078);
    EXPECT_EQ(switchRegister(ble::Switch::Heater), std::nullopt);
    EXPECT_EQ(nw::switchId(ble::Switch::Charge), 0xAB);
    EXPECT_EQ(nw::switchId(ble::Switch::Discharge), 0xAC);
    EXPECT_EQ(nw::switchId(ble::Switch::Balancer), 0x9D);
    EXPECT_EQ(nw::switchId(ble::Switch::Heater), std::nullopt);
}

}  // namespace
}  // namespace jkbms::codec::pb
