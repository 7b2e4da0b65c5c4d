#include "jkbms/sim/responder.hpp"

#include <gtest/gtest.h>

#include "jkbms/codec/ble.hpp"

namespace jkbms::sim {
namespace {

namespace ble = codec::ble;
namespace pb = codec::pb;

TEST(PbResponder, AnswersItsAddressesWithFrameAndAck) {
    SimulatedBms one(16);
    SimulatedBms two(8);
    one.setLive(false);
    one.state().currentA = -45.678;  // beyond the i16 range in mA
    one.state().socPercent = 81;
    two.state().serialNumber = "PACK2";
    PbResponder responder;
    responder.addPack(1, one);
    responder.addPack(2, two);

    std::vector<Answer> answers;
    const auto t1 = pb::encodeTrigger(1, pb::Trigger::CellInfo);
    const auto t3 = pb::encodeTrigger(3, pb::Trigger::CellInfo);  // nobody there
    const auto t2 = pb::encodeTrigger(2, pb::Trigger::About);
    responder.feed(t1, answers);
    responder.feed(t3, answers);
    responder.feed(t2, answers);
    ASSERT_EQ(answers.size(), 2U);

    // What a client's bus framer makes of the answers.
    pb::BusFramer framer;
    framer.push(answers[0]);
    auto ev = framer.next();
    ASSERT_EQ(ev.kind, pb::BusEvent::Kind::JkFrame);
    EXPECT_EQ(ev.address, 1);
    ASSERT_TRUE(ev.ack);
    auto ci = ble::decodeCellInfo(ev.frame, ble::detectCellInfoVariant(ev.frame));
    ASSERT_TRUE(ci) << util::describe(ci.error());
    EXPECT_EQ(ci->variant, ble::Variant::Jk02_32S);
    EXPECT_EQ(ci->cellVoltagesV.size(), 16U);
    EXPECT_DOUBLE_EQ(ci->jk02->currentA, -45.678);
    EXPECT_EQ(ci->jk02->socPercent, 81);
    EXPECT_NEAR(ci->packVoltageV, one.packVoltageV(), 0.001);

    framer.push(answers[1]);
    ev = framer.next();
    ASSERT_EQ(ev.kind, pb::BusEvent::Kind::JkFrame);
    EXPECT_EQ(ev.address, 2);
    auto di = ble::decodeDeviceInfo(ev.frame);
    ASSERT_TRUE(di);
    EXPECT_EQ(di->serialNumber, "PACK2");
    EXPECT_EQ(di->variant, ble::Variant::Jk02_32S);
}

TEST(PbResponder, SettingsCarryTheAddress) {
    SimulatedBms bms(16);
    PbResponder responder;
    responder.addPack(5, bms);
    std::vector<Answer> answers;
    responder.feed(pb::encodeTrigger(5, pb::Trigger::Settings), answers);
    ASSERT_EQ(answers.size(), 1U);
    auto st = ble::decodeSettings(util::ByteView{answers[0]}.first(300), ble::Variant::Jk02_32S);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->ext->deviceAddress, 5U);
    EXPECT_DOUBLE_EQ(st->cellOvpV, 3.65);
    EXPECT_DOUBLE_EQ(st->maxChargeCurrentA, 100.0);
}

TEST(NwResponder, AnswersReadAllOnly) {
    SimulatedBms bms(16);
    NwResponder responder(bms);
    std::vector<Answer> answers;
    responder.feed(codec::nw::encodeReadId(codec::nw::id::kSoc), answers);
    EXPECT_TRUE(answers.empty());
    const auto request = codec::nw::encodeReadAll();
    for (std::uint8_t b : request) responder.feed(util::ByteView{&b, 1}, answers);  // byte by byte
    ASSERT_EQ(answers.size(), 1U);
    auto reply = codec::nw::decodeReadAll(answers[0]);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->cellVoltagesV.size(), 16U);
}

// NW switch writes (jk-protocols.md 1.3): the id is echoed; charge and discharge are taken,
// the balancer write is ignored as v11 firmware does, unless the simulated firmware takes it.
TEST(NwResponder, TakesSwitchWritesAndEchoesTheId) {
    SimulatedBms bms(16);
    NwResponder responder(bms);
    std::vector<Answer> answers;
    responder.feed(*codec::nw::encodeWrite(codec::nw::id::kChargeSwitch, 0), answers);
    ASSERT_EQ(answers.size(), 1U);
    auto env = codec::nw::parseFrame(answers[0]);
    ASSERT_TRUE(env);
    EXPECT_EQ(env->command, static_cast<std::uint8_t>(codec::nw::Command::Write));
    ASSERT_EQ(env->payload.size(), 1U);
    EXPECT_EQ(env->payload[0], codec::nw::id::kChargeSwitch);
    EXPECT_FALSE(bms.state().chargeMos);
    responder.feed(*codec::nw::encodeWrite(codec::nw::id::kBalancerSwitch, 0), answers);
    EXPECT_EQ(answers.size(), 2U);
    EXPECT_TRUE(bms.state().balancer) << "ignored, as v11 firmware does";
    bms.state().nwBalancerWritable = true;
    responder.feed(*codec::nw::encodeWrite(codec::nw::id::kBalancerSwitch, 0), answers);
    EXPECT_FALSE(bms.state().balancer);
    EXPECT_EQ(bms.switchWrites(), 3U);
    // The read-all reply carries the new state.
    responder.feed(codec::nw::encodeReadAll(), answers);
    auto reply = codec::nw::decodeReadAll(answers.back());
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->value(codec::nw::id::kChargeSwitch), 0U);
}

// JK-PB FC16 switch writes (jk-protocols.md 3.4): the plain ACK, and the settings frame after.
TEST(PbResponder, TakesSwitchWritesWithThePlainAck) {
    SimulatedBms one(16);
    SimulatedBms two(8);
    PbResponder responder;
    responder.addPack(1, one);
    responder.addPack(2, two);
    std::vector<Answer> answers;
    responder.feed(pb::encodeWriteU32(2, pb::reg::kDischargeEnable, 0), answers);
    ASSERT_EQ(answers.size(), 1U);
    auto ack = pb::decodeModbus(answers[0]);
    ASSERT_TRUE(ack) << util::describe(ack.error());
    EXPECT_EQ(ack->kind, pb::ModbusKind::WriteAck);
    EXPECT_EQ(ack->address, 2);
    EXPECT_EQ(ack->reg, pb::reg::kDischargeEnable);
    EXPECT_EQ(ack->quantity, 2);
    EXPECT_FALSE(two.state().dischargeMos);
    EXPECT_TRUE(one.state().dischargeMos);
    responder.feed(pb::encodeWriteU32(2, 0x1004, 2800), answers);  // a protection setting: not modelled
    EXPECT_EQ(answers.size(), 1U);
    responder.feed(pb::encodeTrigger(2, pb::Trigger::Settings), answers);
    ASSERT_EQ(answers.size(), 2U);
    auto st = ble::decodeSettings(util::ByteView{answers[1]}.first(300), ble::Variant::Jk02_32S);
    ASSERT_TRUE(st);
    EXPECT_FALSE(st->dischargeSwitch);
    EXPECT_TRUE(st->chargeSwitch);
}

}  // namespace
}  // namespace jkbms::sim
