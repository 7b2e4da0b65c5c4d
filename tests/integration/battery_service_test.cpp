// The battery service on a private dbus-daemon, checked with clients from outside the
// project: busctl for the wire format, and a Python client that reads the service the way
// Victron's dbusmonitor does. One test per surprise of victron-dbus.md section 7 that shows
// on the bus (the others are in tests/unit/dbus/battery_paths_test.cpp).

#include <gtest/gtest.h>

#include <csignal>

#include <charconv>
#include <map>

#include <sdbus-c++/sdbus-c++.h>

#include "fakes/fake_settings.hpp"
#include "integration/harness.hpp"
#include "jkbms/dbus/battery_service.hpp"
#include "jkbms/dbus/bus_address.hpp"
#include "support/sample_battery.hpp"

namespace jkbms::dbus {
namespace {

using test::busctl;
using test::ChildProcess;
using test::PrivateBus;
using test::pumpUntil;
using namespace std::chrono_literals;

const std::string kClient = JKBMS_TEST_SOURCE_DIR "/integration/victron_client.py";



std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
        out.push_back(text.substr(start, nl - start));
    return out;
}

std::vector<std::string> events(const ChildProcess& client, std::string_view kind) {
    std::vector<std::string> out;
    for (const auto& l : lines(client.out()))
        if (l.find("\"event\": \"" + std::string{kind} + "\"") != std::string::npos) out.push_back(l);
    return out;
}

bool has(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

class BatteryServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
    }

    std::unique_ptr<BatteryService> makeService(const std::string& suffix, const std::string& uid,
                                                std::chrono::milliseconds settingsWait = 5s,
                                                bool propertiesChanged = false) {
        BatteryServiceConfig config;
        config.items.propertiesChangedPerLeaf = propertiesChanged;
        config.busNameSuffix = suffix;
        config.uniqueId = uid;
        config.settingsWait = settingsWait;
        config.identity.connection = "Serial " + suffix;
        config.identity.processVersion = "test";
        return std::make_unique<BatteryService>(io, connectBus(PrivateBus::address()), std::move(config));
    }

    // Starts the service and pumps until it is registered (or failed).
    void startAndWait(BatteryService& service) {
        done = false;
        service.start([this](bool ok, const std::string& error) {
            done = true;
            registered = ok;
            lastError = error;
        });
        ASSERT_TRUE(pumpUntil(io, [this] { return done; })) << "no registration result";
        ASSERT_TRUE(registered) << lastError;
    }

    std::string call(const std::string& service, const std::string& path, const std::string& method,
                     std::vector<std::string> args = {}) {
        std::vector<std::string> argv = {"call", service, path, "com.victronenergy.BusItem", method};
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = busctl(io, argv);
        return r.exitCode == 0 ? r.out : "ERROR " + r.err;
    }

    std::unique_ptr<ChildProcess> startClient(const std::string& service, std::vector<std::string> extra = {}) {
        std::vector<std::string> argv = {"/usr/bin/python3", kClient, "--address", PrivateBus::address(),
                                         "--service", service};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto client = std::make_unique<ChildProcess>(argv);
        EXPECT_TRUE(pumpUntil(io, [&] {
            client->poll();
            return has(client->out(), "\"ready\"");
        }, 10s)) << client->err();
        return client;
    }

    void finish(ChildProcess& client) {
        EXPECT_TRUE(pumpUntil(io, [&] { return client.poll(); }, 15s)) << client.err();
        EXPECT_EQ(client.exitCode(), 0) << client.err();
    }

    boost::asio::io_context io;
    bool done = false;
    bool registered = false;
    std::string lastError;
};

// Surprises 3, 4, 9 and 10 as busctl sees them.
TEST_F(BatteryServiceTest, WireFormatAsBusctlSeesIt) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto service = makeService("ttyWire0", "jkbms_wire");
    service->publish(test::sampleSnapshot16(), test::sampleLimits(), CommsState::Ok);
    startAndWait(*service);
    const std::string name = service->busName();
    EXPECT_EQ(name, "com.victronenergy.battery.ttyWire0");

    EXPECT_EQ(call(name, "/Dc/0/Voltage", "GetValue"), "v d 52.92\n");
    EXPECT_EQ(call(name, "/Dc/0/Voltage", "GetText"), "s \"52.92V\"\n");
    EXPECT_EQ(call(name, "/DeviceInstance", "GetValue"), "v i 1\n");
    EXPECT_EQ(call(name, "/ProductId", "GetText"), "s \"0xBA77\"\n");
    EXPECT_EQ(call(name, "/CustomName", "GetValue"), "v s \"\"\n");
    // Surprise 3: invalid is an empty int32 array, and its text "---".
    EXPECT_EQ(call(name, "/Info/ChargeRequest", "GetValue"), "v ai 0\n");
    EXPECT_EQ(call(name, "/Info/ChargeRequest", "GetText"), "s \"---\"\n");
    // Surprise 9: tree nodes answer with variants of dictionaries keyed relative to the node;
    // GetItems keys are absolute.
    const std::string node = call(name, "/Dc/0", "GetValue");
    EXPECT_TRUE(node.starts_with("v a{sv} 4 ")) << node;
    EXPECT_TRUE(has(node, "\"Voltage\" d 52.92")) << node;
    EXPECT_FALSE(has(node, "/Dc")) << node;
    EXPECT_TRUE(call(name, "/Dc/0", "GetText").starts_with("v a{ss} 4 "));
    const std::string items = call(name, "/", "GetItems");
    EXPECT_TRUE(items.starts_with("a{sa{sv}} ")) << items.substr(0, 80);
    EXPECT_TRUE(has(items, "\"/DeviceInstance\" 2 \"Text\" s \"1\" \"Value\" i 1")) << items.substr(0, 200);
    EXPECT_TRUE(has(items, "\"/Info/ChargeRequest\" 2 \"Text\" s \"---\" \"Value\" ai 0"));
    EXPECT_TRUE(has(call(name, "/", "GetValue"), "\"Dc/0/Voltage\" d 52.92"));
    EXPECT_TRUE(has(call(name, "/Nope", "GetValue"), "ERROR")) << "unknown object";
    EXPECT_TRUE(has(call(name, "/Dc", "SetValue", {"v", "d", "1"}), "ERROR")) << "no SetValue on nodes";
    // Surprise 10: a refused write is a non-zero result, not a D-Bus error.
    EXPECT_EQ(call(name, "/Soc", "SetValue", {"v", "d", "50"}), "i 1\n");
    // Surprise 4: /CustomName takes strings only, and a stored name goes to localsettings.
    EXPECT_EQ(call(name, "/CustomName", "SetValue", {"v", "i", "5"}), "i 1\n");
    EXPECT_EQ(call(name, "/CustomName", "SetValue", {"v", "s", "Garage"}), "i 0\n");
    EXPECT_EQ(call(name, "/CustomName", "GetValue"), "v s \"Garage\"\n");
    EXPECT_TRUE(pumpUntil(io, [&] {
        return settings.value("/Settings/Devices/jkbms_wire/CustomName") == std::optional<std::string>{"Garage"};
    }));
}

// The daemon stops while dbus-daemon goes away (a GX shutting down, a test bus killed): the
// ReleaseName that cannot be sent any more is no exception out of release() - the daemon
// aborted there - and `done` still runs, so the stop goes on.
TEST_F(BatteryServiceTest, ReleasingOnADeadBusEndsCleanly) {
    ChildProcess bus({"dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"});
    ASSERT_TRUE(pumpUntil(io, [&] { return bus.poll() || bus.out().find('\n') != std::string::npos; }, 5s));
    const std::string address = bus.out().substr(0, bus.out().find('\n'));
    ASSERT_FALSE(address.empty()) << bus.err();
    BatteryServiceConfig config;
    config.busNameSuffix = "deadbus";
    config.uniqueId = "deadbus";
    config.settingsWait = 100ms;
    config.identity.connection = "Serial deadbus";
    config.identity.processVersion = "test";
    auto service = std::make_unique<BatteryService>(io, connectBus(address), std::move(config));
    ASSERT_NO_FATAL_FAILURE(startAndWait(*service));
    ::kill(bus.pid(), SIGKILL);
    ASSERT_TRUE(pumpUntil(io, [&] { return bus.poll(); }, 5s));
    bool released = false;
    EXPECT_NO_THROW(service->release([&] { released = true; }));
    EXPECT_TRUE(pumpUntil(io, [&] { return released; }, 2s));
}

TEST_F(BatteryServiceTest, BadWritesAreRefusedAndTheServiceKeepsServing) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto service = makeService("ttyBad0", "jkbms_bad");
    startAndWait(*service);
    const std::string name = service->busName();
    EXPECT_EQ(call(name, "/CustomName", "SetValue", {"v", "ai", "2", "1", "2"}), "i 1\n");
    EXPECT_EQ(call(name, "/CustomName", "SetValue", {"v", "b", "true"}), "i 1\n");
    EXPECT_EQ(call(name, "/CustomName", "SetValue", {"v", "(is)", "1", "x"}), "i 1\n");
    EXPECT_EQ(call(name, "/CustomName", "SetValue", {"v", "s", std::string(200, 'x')}), "i 1\n");
    EXPECT_EQ(call(name, "/CustomName", "SetValue", {"v", "s", "two\nlines"}), "i 1\n");
    EXPECT_EQ(call(name, "/DeviceInstance", "SetValue", {"v", "i", "9"}), "i 1\n");
    EXPECT_TRUE(has(call(name, "/CustomName", "SetValue", {"s", "bare"}), "ERROR")) << "bad signature";
    EXPECT_EQ(call(name, "/CustomName", "GetValue"), "v s \"\"\n");
}

TEST_F(BatteryServiceTest, IntrospectionListsTheChildNodes) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto service = makeService("ttyIntro0", "jkbms_intro");
    service->publish(test::sampleSnapshot16(), test::sampleLimits(), CommsState::Ok);
    startAndWait(*service);
    auto r = busctl(io, {"call", service->busName(), "/", "org.freedesktop.DBus.Introspectable", "Introspect"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_TRUE(has(r.out, "<node name=\\\"Dc\\\"/>") || has(r.out, "<node name=\"Dc\"/>")) << r.out.substr(0, 400);
    EXPECT_TRUE(has(r.out, "Voltages"));
}

// The way systemcalc reads us: GetItems, then one ItemsChanged per update carrying only what
// changed - and, by default, no PropertiesChanged (issue 18: one message per update).
TEST_F(BatteryServiceTest, DbusmonitorClientSeesOneBatchPerUpdate) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto service = makeService("ttyMon0", "jkbms_mon");
    service->publish(test::sampleSnapshot16(), test::sampleLimits(), CommsState::Ok);
    startAndWait(*service);
    auto client = startClient(service->busName(), {"--updates", "1"});
    const auto items = events(*client, "items");
    ASSERT_EQ(items.size(), 1U);
    EXPECT_TRUE(has(items[0], "\"/DeviceInstance\": 1"));
    EXPECT_TRUE(has(items[0], "\"/Dc/0/Voltage\": 52.92"));
    EXPECT_TRUE(has(items[0], "\"/Info/ChargeRequest\": null")) << "invalid reads as None";

    service->publish(test::sampleSnapshot16(53.01), test::sampleLimits(), CommsState::Ok);
    finish(*client);
    const auto batches = events(*client, "ItemsChanged");
    ASSERT_EQ(batches.size(), 1U) << client->out();
    EXPECT_TRUE(has(batches[0], "\"/Dc/0/Voltage\": 53.01"));
    EXPECT_TRUE(has(batches[0], "\"/Dc/0/Power\": "));
    EXPECT_FALSE(has(batches[0], "/DeviceInstance")) << "only changed items";
    EXPECT_FALSE(has(batches[0], "/Voltages/Cell1"));
    EXPECT_TRUE(events(*client, "PropertiesChanged").empty()) << "off by default: " << client->out();
}

// dbus.properties_changed: true - every path in the batch also gets its own PropertiesChanged,
// with the same value and text.
TEST_F(BatteryServiceTest, PropertiesChangedOptionSendsOnePerChangedPath) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto service = makeService("ttyProps0", "jkbms_props", 5s, true);
    service->publish(test::sampleSnapshot16(), test::sampleLimits(), CommsState::Ok);
    startAndWait(*service);
    auto client = startClient(service->busName(), {"--updates", "1"});
    service->publish(test::sampleSnapshot16(53.01), test::sampleLimits(), CommsState::Ok);
    finish(*client);
    const auto batches = events(*client, "ItemsChanged");
    ASSERT_EQ(batches.size(), 1U) << client->out();
    // The client prints a batch before the PropertiesChanged that follow it: pump until all arrived.
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"/Dc/0/Voltage", "\"text\": \"53.01V\""}, {"/Dc/0/Power", "\"text\": \"-663W\""}};
    auto props = events(*client, "PropertiesChanged");
    for (const auto& [path, text] : expected) {
        EXPECT_TRUE(has(batches[0], "\"" + path + "\": ")) << path;
        EXPECT_TRUE(std::any_of(props.begin(), props.end(), [&](const std::string& l) {
            return has(l, "\"path\": \"" + path + "\"") && has(l, text);
        })) << path << "\n" << client->out();
    }
    EXPECT_FALSE(std::any_of(props.begin(), props.end(), [](const std::string& l) {
        return has(l, "\"path\": \"/DeviceInstance\"");
    })) << "only changed paths";
}

// Issue 18: a consumer that follows ItemsChanged alone (no PropertiesChanged subscription)
// holds, after every update, exactly what a fresh path table of that update says - values and
// texts of every path, through measurements moving, cells changing, the cell count shrinking
// and growing, a text-only change, the limits changing, communication going stale, lost
// (everything invalid) and back. The reference is built from the step's inputs, not read from
// the service, so a stale slot in the service cannot hide behind agreeing signals.
TEST_F(BatteryServiceTest, ItemsChangedOnlyConsumerSeesEveryChange) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto service = makeService("ttyOnly0", "jkbms_only");
    service->publish(test::sampleSnapshot16(), test::sampleLimits(), CommsState::Ok);
    startAndWait(*service);

    struct Step {
        domain::BatterySnapshot snapshot;
        domain::ChargeLimits limits;
        CommsState comms;
    };
    std::vector<Step> steps;
    for (int i = 1; i <= 6; ++i) {
        auto s = test::sampleSnapshot16(52.92 + 0.01 * i);
        s.currentA = -12.5 + 0.3 * i;
        s.cellVoltagesV[static_cast<std::size_t>(i)] += 0.002 * i;
        auto l = test::sampleLimits();
        if (i % 2 == 0) l.maxChargeCurrentA = 10.0 * i;
        steps.push_back({s, l, CommsState::Ok});
    }
    auto eight = test::sampleSnapshot16(26.4);  // a board that now reports 8 cells
    eight.cellVoltagesV.clear();
    for (int i = 0; i < 8; ++i) eight.cellVoltagesV.push_back(3.300 + 0.001 * i);
    steps.push_back({eight, test::sampleLimits(), CommsState::Ok});
    auto textOnly = eight;  // only a string value (and so its text) changes
    auto absorption = test::sampleLimits();
    absorption.chargeMode = "Absorption 12 min left";
    steps.push_back({textOnly, absorption, CommsState::Ok});
    steps.push_back({test::sampleSnapshot16(53.1), absorption, CommsState::Ok});  // 16 cells again
    steps.push_back({test::sampleSnapshot16(53.5), test::sampleLimits(), CommsState::Stale});
    steps.push_back({test::sampleSnapshot16(53.5), test::sampleLimits(), CommsState::Lost});
    auto back = test::sampleSnapshot16(51.0);
    back.socPercent.reset();
    steps.push_back({back, test::sampleLimits(), CommsState::Ok});

    // The reference model: a table of our own, fed the same inputs (so cells a step no longer
    // has are invalidated as the mapping promises), never the service's store.
    dbus::PathTable reference;
    dbus::batteryPaths(service->identity(), test::sampleSnapshot16(), test::sampleLimits(), CommsState::Ok, reference);
    auto canon = [&] {
        std::map<std::string, const dbus::Item*> sorted;
        for (const auto& [path, item] : reference) sorted[std::string(path)] = &item;
        std::string out;
        for (const auto& [path, itemPtr] : sorted) {
            const dbus::Item& item = *itemPtr;
            if (!out.empty()) out += ';';
            out += path + '=';
            if (const auto* i = std::get_if<std::int32_t>(&item.value)) {
                out += std::to_string(*i);
            } else if (const auto* d = std::get_if<double>(&item.value)) {
                char buf[32];
                auto r = std::to_chars(buf, buf + sizeof buf, *d);
                out.append(buf, r.ptr);
            } else if (const auto* t = std::get_if<std::string>(&item.value)) {
                out += "s:" + *t;
            } else {
                out += "null";
            }
            out += '|' + item.text;
        }
        return out;
    };

    auto client = startClient(service->busName(),
                              {"--items-only", "--updates", std::to_string(steps.size()), "--timeout", "20"});
    std::vector<std::string> expected;
    for (const auto& step : steps) {
        const std::string before = canon();
        service->publish(step.snapshot, step.limits, step.comms);
        dbus::batteryPaths(service->identity(), step.snapshot, step.limits, step.comms, reference);
        expected.push_back(canon());
        ASSERT_NE(expected.back(), before) << "every step must change something";
        // The next step only once the client has this one (it keeps up, but a test that
        // publishes everything at once would check nothing about ordering).
        ASSERT_TRUE(pumpUntil(io, [&] {
            client->poll();
            return events(*client, "model").size() == expected.size();
        }, 10s)) << client->out() << client->err();
    }
    finish(*client);
    const auto models = events(*client, "model");
    ASSERT_EQ(models.size(), steps.size()) << client->out();
    EXPECT_TRUE(events(*client, "PropertiesChanged").empty());
    for (std::size_t i = 0; i < steps.size(); ++i)
        EXPECT_TRUE(has(models[i], "\"canon\": \"" + expected[i] + "\"")) << "after step " << i << "\nclient:  "
                                                                          << models[i] << "\nservice: " << expected[i];
}

// Surprise 1: a client that scans us the moment the name appears already finds
// /DeviceInstance (systemcalc skips a service without it, forever).
TEST_F(BatteryServiceTest, Surprise1_DeviceInstanceExistsBeforeTheNameIsClaimed) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto service = makeService("ttyEarly0", "jkbms_early");
    auto client = startClient(service->busName(), {"--wait-for-name", "--updates", "0", "--timeout", "10"});
    service->publish(test::sampleSnapshot16(), test::sampleLimits(), CommsState::Ok);
    startAndWait(*service);
    ASSERT_TRUE(pumpUntil(io, [&] {
        client->poll();
        return !events(*client, "items").empty();
    }, 10s)) << client->err();
    const std::string first = events(*client, "items")[0];
    EXPECT_TRUE(has(first, "\"/DeviceInstance\": 1")) << first.substr(0, 300);
    EXPECT_TRUE(has(first, "\"/Dc/0/Voltage\": 52.92"));
    EXPECT_TRUE(has(first, "\"/Connected\": 1"));
}

// Surprise 2: on lost communication, /Info/*, the measurements and /Connected = 0 change in
// one ItemsChanged, so DVCC never sees the battery disconnected with limits still valid.
TEST_F(BatteryServiceTest, Surprise2_LostCommunicationIsOneBatch) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto service = makeService("ttyLost0", "jkbms_lost");
    service->publish(test::sampleSnapshot16(), test::sampleLimits(), CommsState::Ok);
    startAndWait(*service);
    auto client = startClient(service->busName(), {"--updates", "1"});
    service->publish(test::sampleSnapshot16(), test::sampleLimits(), CommsState::Lost);
    finish(*client);
    const auto batches = events(*client, "ItemsChanged");
    ASSERT_EQ(batches.size(), 1U);
    for (const char* part : {"\"/Info/MaxChargeVoltage\": null", "\"/Info/MaxChargeCurrent\": null",
                             "\"/Info/MaxDischargeCurrent\": null", "\"/Dc/0/Voltage\": null", "\"/Soc\": null",
                             "\"/Connected\": 0", "\"/Alarms/BmsCable\": 2"})
        EXPECT_TRUE(has(batches[0], part)) << part;
    EXPECT_EQ(call(service->busName(), "/Info/MaxChargeVoltage", "GetValue"), "v ai 0\n");
}

// Surprise 11: one connection per service; each service's signals come from its own name owner.
TEST_F(BatteryServiceTest, Surprise11_TwoBatteriesTwoConnections) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto a = makeService("ttyPackA", "jkbms_pack_a");
    auto b = makeService("ttyPackB", "jkbms_pack_b");
    a->publish(test::sampleSnapshot16(), test::sampleLimits(), CommsState::Ok);
    b->publish(test::sampleSnapshot16(51.0), test::sampleLimits(), CommsState::Ok);
    startAndWait(*a);
    startAndWait(*b);
    EXPECT_NE(a->deviceInstance(), b->deviceInstance()) << "localsettings keeps instances unique";
    EXPECT_NE(a->connection().getUniqueName(), b->connection().getUniqueName());
    EXPECT_EQ(call(a->busName(), "/Dc/0/Voltage", "GetValue"), "v d 52.92\n");
    EXPECT_EQ(call(b->busName(), "/Dc/0/Voltage", "GetValue"), "v d 51\n");
    auto client = startClient(b->busName(), {"--updates", "1"});
    a->publish(test::sampleSnapshot16(40.0), test::sampleLimits(), CommsState::Ok);  // not b's: the client ignores it
    b->publish(test::sampleSnapshot16(51.5), test::sampleLimits(), CommsState::Ok);
    finish(*client);
    const auto batches = events(*client, "ItemsChanged");
    ASSERT_EQ(batches.size(), 1U);
    EXPECT_TRUE(has(batches[0], "\"/Dc/0/Voltage\": 51.5"));
    EXPECT_TRUE(has(batches[0], "\"sender\": \"" + std::string{b->connection().getUniqueName()} + "\""));
}

// Surprise 12: a BLE MAC becomes a valid bus-name element.
TEST_F(BatteryServiceTest, Surprise12_BleMacAsBusName) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto service = makeService(bleSuffix("C8:47:8C:00:00:01"), "jkbms_C8:47:8C:00:00:01");
    startAndWait(*service);
    EXPECT_EQ(service->busName(), "com.victronenergy.battery.ble_c8478c000001");
    EXPECT_TRUE(settings.value("/Settings/Devices/jkbms_C8_47_8C_00_00_01/ClassAndVrmInstance"));
}

// Surprise 13: the instance localsettings grants may differ from the one asked for.
TEST_F(BatteryServiceTest, Surprise13_TakenInstanceMovesToTheNextFreeOne) {
    test::FakeSettings settings(io, PrivateBus::address());
    settings.preset("/Settings/Devices/some_other_bms/ClassAndVrmInstance", "battery:1");
    auto service = makeService("ttyNext0", "jkbms_next");
    startAndWait(*service);
    EXPECT_EQ(service->deviceInstance(), 2);
    EXPECT_TRUE(service->instancePersisted());
    EXPECT_EQ(call(service->busName(), "/DeviceInstance", "GetValue"), "v i 2\n");
    EXPECT_EQ(settings.value("/Settings/Devices/jkbms_next/ClassAndVrmInstance"), std::optional<std::string>{"battery:2"});
}

TEST_F(BatteryServiceTest, StoredInstanceAndNameAreKept) {
    test::FakeSettings settings(io, PrivateBus::address());
    settings.preset("/Settings/Devices/jkbms_kept/ClassAndVrmInstance", "battery:7");
    settings.preset("/Settings/Devices/jkbms_kept/CustomName", "Shed");
    auto service = makeService("ttyKept0", "jkbms_kept");
    startAndWait(*service);
    EXPECT_EQ(call(service->busName(), "/DeviceInstance", "GetValue"), "v i 7\n");
    EXPECT_EQ(call(service->busName(), "/CustomName", "GetValue"), "v s \"Shed\"\n");
}

TEST_F(BatteryServiceTest, ChangesInLocalsettingsReachTheService) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto service = makeService("ttyChg0", "jkbms_chg");
    startAndWait(*service);
    settings.set("/Settings/Devices/jkbms_chg/CustomName", "Boat");
    EXPECT_TRUE(pumpUntil(io, [&] {
        const Item* item = service->items().find("/CustomName");
        return item && item->value == Value{std::string{"Boat"}};
    }));
    // A new instance: the service leaves the bus and comes back under it.
    settings.set("/Settings/Devices/jkbms_chg/ClassAndVrmInstance", "battery:9");
    EXPECT_TRUE(pumpUntil(io, [&] {
        return service->deviceInstance() == 9 && service->state() == BatteryService::State::Registered;
    }));
    EXPECT_EQ(call(service->busName(), "/DeviceInstance", "GetValue"), "v i 9\n");
}

TEST_F(BatteryServiceTest, WithoutLocalsettingsThePreferredInstanceIsUsed) {
    // No settings service on the bus (an earlier test's fake may still be leaving).
    ASSERT_TRUE(pumpUntil(io, [&] {
        auto r = busctl(io, {"call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                             "NameHasOwner", "s", "com.victronenergy.settings"});
        return r.out == "b false\n";
    }));
    auto service = makeService("ttyAlone0", "jkbms_alone", 300ms);
    startAndWait(*service);
    EXPECT_EQ(service->deviceInstance(), 1);
    EXPECT_FALSE(service->instancePersisted());
    EXPECT_EQ(call(service->busName(), "/DeviceInstance", "GetValue"), "v i 1\n");
}

TEST_F(BatteryServiceTest, ATakenNameIsReported) {
    test::FakeSettings settings(io, PrivateBus::address());
    auto first = makeService("ttyTwice0", "jkbms_twice_a");
    startAndWait(*first);
    auto second = makeService("ttyTwice0", "jkbms_twice_b");
    bool finished = false;
    bool ok = true;
    std::string error;
    second->start([&](bool result, const std::string& e) {
        finished = true;
        ok = result;
        error = e;
    });
    ASSERT_TRUE(pumpUntil(io, [&] { return finished; }));
    EXPECT_FALSE(ok);
    EXPECT_TRUE(has(error, "owned by another process")) << error;
    EXPECT_EQ(second->state(), BatteryService::State::Failed);
}

// Issue 15 L3: only "taken" means another BMS has this id; an error of the request (here a
// name the bus refuses, 300 bytes) is asked again and finally fails the service - it never
// moves the battery to its fallback key as if it were a duplicate.
TEST_F(BatteryServiceTest, AnIdentityLockErrorIsNoDuplicate) {
    test::FakeSettings settings(io, PrivateBus::address());
    BatteryServiceConfig config;
    config.busNameSuffix = "ttyLock0";
    config.uniqueId = "jkbms_" + std::string(300, 'x');
    config.lockIdentity = true;
    config.fallbackUid = "jkbms_ttyLock0";
    config.settingsWait = 1s;
    config.identity.processVersion = "test";
    BatteryService service(io, connectBus(PrivateBus::address()), std::move(config));
    bool finished = false;
    bool ok = true;
    std::string error;
    service.start([&](bool result, const std::string& e) {
        finished = true;
        ok = result;
        error = e;
    });
    ASSERT_TRUE(pumpUntil(io, [&] { return finished; }, 10s));
    EXPECT_FALSE(ok) << "registered as " << service.uniqueId();
    EXPECT_NE(service.uniqueId(), "jkbms_ttyLock0") << "an error taken for a duplicate id";
    EXPECT_TRUE(has(error, "cannot be requested")) << error;
}

// What a callback run by sdbus-c++ throws must not vanish (sdbus-c++ hands it to sd-bus, which
// drops it): the service fails at once with the reason, so the daemon exits (issue 14 item 9).
TEST_F(BatteryServiceTest, AnExceptionInACallbackFailsTheServiceWithItsReason) {
    test::FakeSettings settings(io, PrivateBus::address());  // its reply runs the callback
    auto service = makeService("ttyThrows0", "jkbms_throws");
    service->onNegotiated([](const DeviceSettings&) { throw std::runtime_error("a bad value from the BMS"); });
    bool finished = false;
    bool ok = true;
    std::string error;
    service->start([&](bool result, const std::string& e) {
        finished = true;
        ok = result;
        error = e;
    });
    ASSERT_TRUE(pumpUntil(io, [&] { return finished; }, 3s)) << "the exception vanished";
    EXPECT_FALSE(ok);
    EXPECT_TRUE(has(error, "a bad value from the BMS")) << error;
    EXPECT_EQ(service->state(), BatteryService::State::Failed);
}

// Text that is not UTF-8 (a port path, a BMS's ASCII field with stray bytes) goes on the bus
// made valid, instead of failing inside sd-bus.
TEST_F(BatteryServiceTest, TextThatIsNotUtf8IsMadeValid) {
    BatteryServiceConfig config;
    config.busNameSuffix = "ttyBytes0";
    config.uniqueId = "jkbms_bytes";
    config.settingsWait = 300ms;
    config.identity.connection = "Serial tty\xff\xfe" "0";
    config.identity.processVersion = "test";
    auto service = std::make_unique<BatteryService>(io, connectBus(PrivateBus::address()), std::move(config));
    startAndWait(*service);
    EXPECT_EQ(call(service->busName(), "/Mgmt/Connection", "GetValue"), "v s \"Serial tty\\357\\277\\275\\357\\277\\2750\"\n");
}

}  // namespace
}  // namespace jkbms::dbus
