// BusItemService on a private bus (issue 18, memory per pack): the whole tree is served by a
// fixed number of sd-bus registrations, however many paths it has, and every path still
// answers GetValue, GetText and Introspect as an object of its own did.

#include "jkbms/dbus/bus_item_service.hpp"

#include <gtest/gtest.h>

#include <sdbus-c++/sdbus-c++.h>

#include "integration/harness.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include "jkbms/dbus/bus_address.hpp"

namespace jkbms::dbus {
namespace {

using test::busctl;
using test::PrivateBus;
using test::pumpUntil;
using namespace std::chrono_literals;

bool has(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

std::size_t count(const std::string& s, std::string_view part) {
    std::size_t n = 0;
    for (std::size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + 1)) ++n;
    return n;
}

// `packs` x `cells` leaves under /Pack/<p>/Cell<c>, plus /Soc: a tree with nodes at two levels.
PathTable tree(int packs, int cells) {
    PathTable t;
    t.emplace("/Soc", makeItem(50.0, Unit::Percent));
    for (int p = 0; p < packs; ++p)
        for (int c = 0; c < cells; ++c)
            t.emplace("/Pack/" + std::to_string(p) + "/Cell" + std::to_string(c),
                      makeItem(3.0 + 0.001 * (p * cells + c), Unit::CellVolt));
    return t;
}

class BusItemServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        server = connectBus(PrivateBus::address());
        client = connectBus(PrivateBus::address());
        serverLoop = std::make_unique<AsioSdbusLoop>(io, *server);
        clientLoop = std::make_unique<AsioSdbusLoop>(io, *client);
        serverLoop->start();
        clientLoop->start();
    }
    void TearDown() override {
        if (serverLoop) serverLoop->stop();
        if (clientLoop) clientLoop->stop();
    }

    // GetValue and GetText on every path of `items`, asked at once from the client
    // connection; the number of good answers (a number and its text per leaf).
    std::size_t askEveryPath(const PathTable& items) {
        std::size_t good = 0;
        std::size_t replies = 0;
        std::vector<std::unique_ptr<sdbus::IProxy>> proxies;
        for (const auto& [path, item] : items) {
            auto& proxy = proxies.emplace_back(
                sdbus::createProxy(*client, server->getUniqueName(), sdbus::ObjectPath{path}));
            const double expected = std::get<double>(item.value);
            proxy->callMethodAsync("GetValue")
                .onInterface(std::string{kBusItemInterface})
                .uponReplyInvoke([&, expected](std::optional<sdbus::Error> error, sdbus::Variant value) {
                    ++replies;
                    if (!error && value.containsValueOfType<double>() && value.get<double>() == expected) ++good;
                });
            const std::string text = item.text;
            proxy->callMethodAsync("GetText")
                .onInterface(std::string{kBusItemInterface})
                .uponReplyInvoke([&, text](std::optional<sdbus::Error> error, std::string got) {
                    ++replies;
                    if (!error && got == text) ++good;
                });
        }
        EXPECT_TRUE(pumpUntil(io, [&] { return replies == 2 * items.size(); }, 20s)) << replies << " replies";
        return good;
    }

    std::string introspect(const std::string& path) {
        auto r = busctl(io, {"call", server->getUniqueName(), path, "org.freedesktop.DBus.Introspectable", "Introspect"});
        return r.exitCode == 0 ? r.out : "ERROR " + r.err;
    }

    boost::asio::io_context io;
    std::unique_ptr<sdbus::IConnection> server;
    std::unique_ptr<sdbus::IConnection> client;
    std::unique_ptr<AsioSdbusLoop> serverLoop;
    std::unique_ptr<AsioSdbusLoop> clientLoop;
};

TEST_F(BusItemServiceTest, RegistrationsDoNotGrowWithThePaths) {
    BusItemService service(*server);
    const std::size_t empty = service.registrationCount();
    EXPECT_GE(empty, 1U);
    EXPECT_LE(empty, 5U) << "a fixed handful: the tree's vtables, its node enumerator, a filter";

    const auto small = tree(1, 4);
    service.update(small);
    EXPECT_EQ(service.registrationCount(), empty);
    EXPECT_EQ(service.objectCount(), 1U + 2U + 5U) << "/, /Pack, /Pack/0 and five leaves";

    const auto large = tree(16, 32);  // 513 leaves, 18 tree nodes
    service.update(large);
    EXPECT_EQ(service.registrationCount(), empty) << "registrations per path would grow with the tree";
    EXPECT_EQ(service.objectCount(), 1U + 17U + 513U);

    EXPECT_EQ(askEveryPath(large), 2 * large.size()) << "every leaf answers GetValue and GetText";
}

TEST_F(BusItemServiceTest, EveryPathIntrospectsAsAnObjectOfItsOwn) {
    BusItemService service(*server);
    service.update(tree(2, 3));

    const std::string root = introspect("/");
    EXPECT_TRUE(has(root, "<node name=\\\"Soc\\\"/>")) << root;
    EXPECT_TRUE(has(root, "<node name=\\\"Pack\\\"/>")) << root;
    EXPECT_FALSE(has(root, "<node name=\\\"Pack/")) << "only direct children: " << root;
    EXPECT_EQ(count(root, "<interface name=\\\"com.victronenergy.BusItem\\\">"), 1U) << root;
    EXPECT_TRUE(has(root, "GetItems") && has(root, "ItemsChanged") && has(root, "GetValue")) << root;
    EXPECT_FALSE(has(root, "SetValue")) << root;

    const std::string node = introspect("/Pack");
    EXPECT_TRUE(has(node, "<node name=\\\"0\\\"/>") && has(node, "<node name=\\\"1\\\"/>")) << node;
    EXPECT_EQ(count(node, "<interface name=\\\"com.victronenergy.BusItem\\\">"), 1U) << node;
    EXPECT_TRUE(has(node, "GetValue") && has(node, "GetText")) << node;
    EXPECT_FALSE(has(node, "GetItems") || has(node, "SetValue")) << node;

    const std::string pack = introspect("/Pack/1");
    EXPECT_EQ(count(pack, "<node name="), 3U) << pack;
    EXPECT_TRUE(has(pack, "<node name=\\\"Cell2\\\"/>")) << pack;

    const std::string leaf = introspect("/Pack/1/Cell2");
    EXPECT_EQ(count(leaf, "<interface name=\\\"com.victronenergy.BusItem\\\">"), 1U) << leaf;
    for (const char* member : {"GetValue", "GetText", "SetValue", "GetDescription", "PropertiesChanged"})
        EXPECT_TRUE(has(leaf, member)) << member << ": " << leaf;
    EXPECT_FALSE(has(leaf, "GetItems") || has(leaf, "ItemsChanged")) << leaf;
    EXPECT_FALSE(has(leaf, "<node name=")) << leaf;

    EXPECT_TRUE(has(introspect("/Pack/7"), "ERROR")) << "unknown paths are unknown objects";
}

TEST_F(BusItemServiceTest, MembersAPathDidNotHaveAreUnknown) {
    BusItemService service(*server);
    service.update(tree(1, 1));
    const std::string name = server->getUniqueName();
    auto call = [&](const std::string& path, const std::string& method, std::vector<std::string> args = {}) {
        std::vector<std::string> argv = {"call", name, path, std::string{kBusItemInterface}, method};
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = busctl(io, argv);
        return r.exitCode == 0 ? r.out : "ERROR " + r.err;
    };
    EXPECT_TRUE(has(call("/Pack/0/Cell0", "GetItems"), "ERROR"));
    EXPECT_TRUE(has(call("/Pack", "SetValue", {"v", "i", "1"}), "ERROR"));
    EXPECT_TRUE(has(call("/Pack", "GetDescription", {"si", "en", "0"}), "ERROR"));
    EXPECT_EQ(call("/Pack/0/Cell0", "GetDescription", {"si", "en", "0"}), "s \"\"\n");
    EXPECT_EQ(call("/Pack/0/Cell0", "SetValue", {"v", "d", "3.1"}), "i 1\n") << "not writable: a result, not an error";
    EXPECT_TRUE(has(call("/Nope", "GetValue"), "ERROR"));
    EXPECT_TRUE(call("/", "GetItems").starts_with("a{sa{sv}} 2 ")) << call("/", "GetItems");
    // GetText: a variant of the subtree's texts on a node, a string on a leaf.
    EXPECT_EQ(call("/Pack/0", "GetText"), "v a{ss} 1 \"Cell0\" \"3.000V\"\n");
    EXPECT_EQ(call("/", "GetText"), "v a{ss} 2 \"Pack/0/Cell0\" \"3.000V\" \"Soc\" \"50.0%\"\n");
    EXPECT_EQ(call("/Pack/0/Cell0", "GetText"), "s \"3.000V\"\n");
    EXPECT_TRUE(has(call("/Pack", "GetText", {"s", "x"}), "ERROR")) << "arguments where none are taken";
}

}  // namespace
}  // namespace jkbms::dbus
