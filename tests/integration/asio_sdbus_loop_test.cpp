// AsioSdbusLoop on a private bus: everything sd-bus waits for - incoming messages, call
// timeouts, queued output after an emit outside any D-Bus callback - must be driven by the one
// io_context, with no thread of sdbus-c++'s own.

#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <string>
#include <sdbus-c++/sdbus-c++.h>

#include "integration/harness.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include "jkbms/dbus/bus_address.hpp"

namespace jkbms::dbus {
namespace {

using test::PrivateBus;
using test::pumpUntil;
using namespace std::chrono_literals;

const sdbus::InterfaceName kIface{"org.jkbms.Test"};

class AsioSdbusLoopTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        server = connectBus(PrivateBus::address());
        client = connectBus(PrivateBus::address());
        serverLoop = std::make_unique<AsioSdbusLoop>(io, *server);
        clientLoop = std::make_unique<AsioSdbusLoop>(io, *client);
    }

    boost::asio::io_context io;
    std::unique_ptr<sdbus::IConnection> server;
    std::unique_ptr<sdbus::IConnection> client;
    std::unique_ptr<AsioSdbusLoop> serverLoop;
    std::unique_ptr<AsioSdbusLoop> clientLoop;
};

TEST_F(AsioSdbusLoopTest, CallsAndRepliesFlowThroughTheLoop) {
    auto object = sdbus::createObject(*server, sdbus::ObjectPath{"/calc"});
    object->addVTable(sdbus::registerMethod("Twice").implementedAs([](std::int32_t x) { return 2 * x; }))
        .forInterface(kIface);
    serverLoop->start();
    clientLoop->start();
    auto proxy = sdbus::createProxy(*client, sdbus::ServiceName{std::string{server->getUniqueName()}},
                                    sdbus::ObjectPath{"/calc"});
    int replies = 0;
    std::int64_t sum = 0;
    for (std::int32_t i = 0; i < 100; ++i) {
        proxy->callMethodAsync("Twice").onInterface(kIface).withArguments(i).uponReplyInvoke(
            [&](std::optional<sdbus::Error> error, std::int32_t result) {
                EXPECT_FALSE(error);
                ++replies;
                sum += result;
            });
    }
    ASSERT_TRUE(pumpUntil(io, [&] { return replies == 100; }));
    EXPECT_EQ(sum, 2 * (99 * 100 / 2));
}

// The call timeout lives in sd-bus; only the loop's timer on the poll data's timeout makes it
// fire while nothing else happens on the bus.
TEST_F(AsioSdbusLoopTest, CallTimeoutsFireFromTheAsioTimer) {
    auto object = sdbus::createObject(*server, sdbus::ObjectPath{"/silent"});
    std::vector<sdbus::Result<>> pending;  // never answered
    object->addVTable(sdbus::registerMethod("Wait").implementedAs([&](sdbus::Result<>&& result) {
              pending.push_back(std::move(result));
          }))
        .forInterface(kIface);
    serverLoop->start();
    clientLoop->start();
    auto proxy = sdbus::createProxy(*client, sdbus::ServiceName{std::string{server->getUniqueName()}},
                                    sdbus::ObjectPath{"/silent"});
    std::optional<sdbus::Error> failure;
    const auto started = std::chrono::steady_clock::now();
    proxy->callMethodAsync("Wait").onInterface(kIface).withTimeout(200ms).uponReplyInvoke(
        [&](std::optional<sdbus::Error> error) { failure = std::move(error); });
    ASSERT_TRUE(pumpUntil(io, [&] { return failure.has_value(); }, 5s));
    const auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(failure->getName(), "org.freedesktop.DBus.Error.NoReply") << failure->getMessage();
    EXPECT_GE(elapsed, 190ms);
    EXPECT_LT(elapsed, 2s);
    EXPECT_EQ(pending.size(), 1U);
}

// A signal emitted from a timer (not from a D-Bus callback) must leave without any other
// traffic to push it: sdbus-c++ signals its eventfd and the loop flushes.
TEST_F(AsioSdbusLoopTest, SignalsEmittedOutsideCallbacksAreSent) {
    auto object = sdbus::createObject(*server, sdbus::ObjectPath{"/ticker"});
    object->addVTable(sdbus::registerSignal("Tick").withParameters<std::int32_t>()).forInterface(kIface);
    auto proxy = sdbus::createProxy(*client, sdbus::ServiceName{std::string{server->getUniqueName()}},
                                    sdbus::ObjectPath{"/ticker"});
    std::vector<std::int32_t> ticks;
    proxy->uponSignal("Tick").onInterface(kIface).call([&](std::int32_t n) { ticks.push_back(n); });
    serverLoop->start();
    clientLoop->start();
    // Make sure the subscription reached the daemon before emitting.
    std::string id;
    auto bus = sdbus::createProxy(*client, sdbus::ServiceName{"org.freedesktop.DBus"},
                                  sdbus::ObjectPath{"/org/freedesktop/DBus"});
    bus->callMethodAsync("GetId")
        .onInterface("org.freedesktop.DBus")
        .uponReplyInvoke([&](std::optional<sdbus::Error>, std::string busId) { id = busId; });
    ASSERT_TRUE(pumpUntil(io, [&] { return !id.empty(); }));

    boost::asio::steady_timer timer(io);
    int n = 0;
    std::function<void()> tick = [&] {
        timer.expires_after(5ms);
        timer.async_wait([&](const boost::system::error_code& ec) {
            if (ec) return;
            object->emitSignal("Tick").onInterface(kIface).withArguments(++n);
            if (n < 20) tick();
        });
    };
    tick();
    ASSERT_TRUE(pumpUntil(io, [&] { return ticks.size() == 20; }));
    EXPECT_EQ(ticks.front(), 1);
    EXPECT_EQ(ticks.back(), 20);
}

std::string busId(sdbus::IConnection& connection) {
    std::string id;
    sdbus::createProxy(connection, sdbus::ServiceName{"org.freedesktop.DBus"}, sdbus::ObjectPath{"/org/freedesktop/DBus"})
        ->callMethod("GetId")
        .onInterface("org.freedesktop.DBus")
        .storeResultsTo(id);
    return id;
}

// --dbus-address, else DBUS_SESSION_BUS_ADDRESS, else the system bus. Two private daemons,
// told apart by their bus ids.
TEST(BusAddress, ExplicitAddressThenSessionVariable) {
    const std::string& first = PrivateBus::address();
    if (first.empty()) GTEST_SKIP() << "dbus-daemon is not available";
    boost::asio::io_context io;
    test::ChildProcess other({"dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address"});
    ASSERT_TRUE(pumpUntil(io, [&] {
        other.poll();
        return other.out().find('\n') != std::string::npos;
    }));
    const std::string second = other.out().substr(0, other.out().find('\n'));

    ::setenv("DBUS_SESSION_BUS_ADDRESS", second.c_str(), 1);
    auto explicitBus = connectBus(first);
    auto fromEnvironment = connectBus(std::nullopt);
    ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
    auto reference = sdbus::createSessionBusConnectionWithAddress(first);
    EXPECT_EQ(busId(*explicitBus), busId(*reference)) << "an explicit address wins";
    EXPECT_NE(busId(*fromEnvironment), busId(*reference)) << "else DBUS_SESSION_BUS_ADDRESS";
}

}  // namespace
}  // namespace jkbms::dbus
