// VenusRelay against a test-only GX (com.victronenergy.system and the relay settings) on the
// private bus: the function check, the writes, and refusals that come back in the reply.

#include "jkbms/dbus/venus_relay.hpp"

#include <gtest/gtest.h>

#include <sdbus-c++/sdbus-c++.h>

#include "fakes/fake_gx.hpp"
#include "integration/harness.hpp"
#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/dbus/followed_item.hpp"

namespace jkbms::dbus {
namespace {

using test::FakeGx;
using test::PrivateBus;
using test::pumpUntil;
using namespace std::chrono_literals;

class VenusRelayTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        bus = connectBus(PrivateBus::address());
        loop = std::make_unique<AsioSdbusLoop>(io, *bus);
        loop->start();
    }
    std::unique_ptr<VenusRelay> make(int n) {
        auto relay = std::make_unique<VenusRelay>(*bus, n);
        relay->onFailure([this](const std::string& why) { failures.push_back(why); });
        relay->start();
        return relay;
    }

    boost::asio::io_context io;
    std::unique_ptr<sdbus::IConnection> bus;
    std::unique_ptr<AsioSdbusLoop> loop;
    std::vector<std::string> failures;
};

TEST_F(VenusRelayTest, ClosesAndOpensAManualRelay) {
    FakeGx gx(io, PrivateBus::address());
    auto relay = make(0);
    ASSERT_TRUE(pumpUntil(io, [&] { return relay->function().has_value(); }));
    EXPECT_EQ(*relay->function(), kRelayFunctionManual);
    EXPECT_EQ(relay->describe(), "GX relay 1 (/Relay/0/State)");
    relay->set(true);
    ASSERT_TRUE(pumpUntil(io, [&] { return gx.state(0) == 1; }));
    relay->set(false);
    ASSERT_TRUE(pumpUntil(io, [&] { return gx.state(0) == 0; }));
    const std::vector<std::pair<int, bool>> expected{{0, true}, {0, false}};
    EXPECT_EQ(gx.writes, expected);
    EXPECT_TRUE(failures.empty());

    // Relay 2 has its function under /Settings/Relay/1/Function.
    auto second = make(1);
    ASSERT_TRUE(pumpUntil(io, [&] { return second->function().has_value(); }));
    second->set(true);
    ASSERT_TRUE(pumpUntil(io, [&] { return gx.state(1) == 1; }));
    EXPECT_EQ(gx.state(0), 0);
}

// The GUI gives the relay another function: closing it is refused at once, with the reason;
// opening it is still sent (a release must never be held back).
TEST_F(VenusRelayTest, ARelayThatIsNotManualIsNotClosed) {
    FakeGx gx(io, PrivateBus::address());
    auto relay = make(0);
    ASSERT_TRUE(pumpUntil(io, [&] { return relay->function() == kRelayFunctionManual; }));
    gx.setFunction(0, 0);  // alarm relay
    ASSERT_TRUE(pumpUntil(io, [&] { return relay->function() == 0; }));
    try {
        relay->set(true);
        FAIL() << "closing an alarm relay must throw";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "GX relay 1 (/Relay/0/State) has the function 'alarm', not manual (Settings > Relay)");
    }
    relay->set(false);
    ASSERT_TRUE(pumpUntil(io, [&] { return gx.writes.size() == 1; }));
    EXPECT_EQ(gx.writes[0], std::make_pair(0, false));
    gx.setFunction(0, 2);
    ASSERT_TRUE(pumpUntil(io, [&] { return relay->function() == kRelayFunctionManual; }));
    relay->set(true);
    ASSERT_TRUE(pumpUntil(io, [&] { return gx.state(0) == 1; }));
}

// What only the reply can tell: systemcalc refuses the write, or there is no such relay.
TEST_F(VenusRelayTest, RefusalsArriveAsFailures) {
    FakeGx gx(io, PrivateBus::address(), 1, 1);  // one relay, generator start/stop
    auto relay = make(0);
    relay->set(true);  // before the function is known: sent, and refused by the system
    ASSERT_TRUE(pumpUntil(io, [&] { return failures.size() == 1; }));
    EXPECT_EQ(failures[0], "GX relay 1 (/Relay/0/State): com.victronenergy.system refused /Relay/0/State = 1 (result 2)");
    EXPECT_EQ(relay->function(), 1);

    auto missing = make(3);  // a GX with one relay has no /Relay/3/State
    missing->set(true);
    ASSERT_TRUE(pumpUntil(io, [&] { return failures.size() == 2; }));
    EXPECT_NE(failures[1].find("GX relay 4 (/Relay/3/State): com.victronenergy.system: "), std::string::npos)
        << failures[1];
    EXPECT_FALSE(missing->function().has_value()) << "no such setting either";
}

// Issue 17: DVCC on or off, as systemcalc publishes it, followed from start and on change;
// an invalid value and a missing service are "not known", with the reason.
TEST_F(VenusRelayTest, FollowedItemSeesDvccAndItsChanges) {
    FakeGx gx(io, PrivateBus::address());
    gx.setSystem("/Control/Dvcc", std::int32_t{0});
    std::vector<std::optional<int>> seen;
    std::string lastError;
    FollowedItem dvcc(*bus, "com.victronenergy.system", "/Control/Dvcc", "DVCC");
    dvcc.start([&](std::optional<int> v, const std::string& error) {
        seen.push_back(v);
        lastError = error;
    });
    ASSERT_TRUE(pumpUntil(io, [&] { return seen.size() == 1; }));
    EXPECT_EQ(seen[0], 0);
    gx.setSystem("/Control/Dvcc", std::int32_t{1});
    ASSERT_TRUE(pumpUntil(io, [&] { return seen.size() == 2; }));
    EXPECT_EQ(seen[1], 1);
    gx.setSystem("/Control/Dvcc", dbus::Invalid{});
    ASSERT_TRUE(pumpUntil(io, [&] { return seen.size() == 3; }));
    EXPECT_FALSE(seen[2]);
    EXPECT_TRUE(lastError.empty());

    // A service that starts after us (boot order) is asked once it is on the bus.
    std::vector<std::optional<int>> late;
    FollowedItem early(*bus, "com.victronenergy.latecomer", "/Control/Dvcc", "DVCC");
    early.start([&](std::optional<int> v, const std::string&) { late.push_back(v); });
    ASSERT_TRUE(pumpUntil(io, [&] { return late.size() == 1; }));
    EXPECT_FALSE(late[0]) << "not on the bus yet";
    auto latecomerBus = sdbus::createSessionBusConnectionWithAddress(PrivateBus::address());
    BusItemService latecomer(*latecomerBus, BusItemService::Options{true});
    PathTable dvccOn;
    dvccOn.emplace("/Control/Dvcc", makeItem(std::int32_t{1}));
    latecomer.update(dvccOn);
    AsioSdbusLoop latecomerLoop(io, *latecomerBus);
    latecomerLoop.start();
    test::claimName(*latecomerBus, "com.victronenergy.latecomer");
    ASSERT_TRUE(pumpUntil(io, [&] { return late.size() == 2; }));
    EXPECT_EQ(late[1], 1);

    FollowedItem absent(*bus, "com.victronenergy.nothing", "/Control/Dvcc", "DVCC");
    std::optional<std::string> why;
    absent.start([&](std::optional<int> v, const std::string& error) {
        EXPECT_FALSE(v);
        why = error;
    });
    ASSERT_TRUE(pumpUntil(io, [&] { return why.has_value(); }));
    EXPECT_FALSE(why->empty());
}

TEST(RelayFunctionName, NamesTheFunctions) {
    EXPECT_EQ(relayFunctionName(0), "alarm");
    EXPECT_EQ(relayFunctionName(2), "manual");
    EXPECT_EQ(relayFunctionName(-1), "disabled");
    EXPECT_EQ(relayFunctionName(9), "function 9");
}

}  // namespace
}  // namespace jkbms::dbus
