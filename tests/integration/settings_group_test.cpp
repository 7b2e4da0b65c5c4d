// dbus::SettingsGroup against the fake localsettings (which behaves as Victron's does for
// AddSettings and SetValue): what AddSettings is sent and returns, and which values reach the
// owner - wrong types, NaN, out-of-range and fractional integers never do.

#include "jkbms/dbus/settings_group.hpp"

#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>

#include <cmath>
#include <limits>
#include <optional>

#include "fakes/fake_settings.hpp"
#include "integration/harness.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"

namespace jkbms::dbus {
namespace {

using test::PrivateBus;
using test::pumpUntil;
using namespace std::chrono_literals;

class SettingsGroupTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
        settings.emplace(io, PrivateBus::address());
        connection = sdbus::createSessionBusConnectionWithAddress(PrivateBus::address());
        loop = std::make_unique<AsioSdbusLoop>(io, *connection);
        loop->start();
        group = std::make_unique<SettingsGroup>(*connection, base, "test");
        group->onChange([this](const std::string& name, const SettingValue& v) { changes.emplace_back(name, v); });
    }
    void TearDown() override {
        group.reset();
        if (loop) loop->stop();
    }
    std::vector<SettingDef> defs() const {
        return {SettingDef{"Current/Max", SettingValue{50.0}, 0, 1000},
                SettingDef{"Time", SettingValue{std::int32_t{15}}, 0, 1440},
                SettingDef{"Names", SettingValue{std::string{"a,b"}}},
                SettingDef{"Bad", SettingValue{5.0}, 10, 20}};  // default out of range
    }
    bool create() {
        created.reset();
        group->create(defs(), [this](const SettingsGroup::Values& v) { created = v; });
        return pumpUntil(io, [&] { return created.has_value(); }, 3s);
    }

    const std::string base = "/Settings/Devices/test_uid/JkBms";
    boost::asio::io_context io;
    std::optional<test::FakeSettings> settings;
    std::unique_ptr<sdbus::IConnection> connection;
    std::unique_ptr<AsioSdbusLoop> loop;
    std::unique_ptr<SettingsGroup> group;
    std::optional<SettingsGroup::Values> created;
    std::vector<std::pair<std::string, SettingValue>> changes;
};

TEST_F(SettingsGroupTest, CreatedTypedWithRangesAndTheirValuesReturned) {
    ASSERT_TRUE(create());
    EXPECT_EQ(settings->type(base + "/Current/Max"), 'f');
    EXPECT_EQ(settings->type(base + "/Time"), 'i');
    EXPECT_EQ(settings->type(base + "/Names"), 's');
    EXPECT_EQ(settings->min(base + "/Time"), std::optional<double>{0});
    EXPECT_EQ(settings->max(base + "/Time"), std::optional<double>{1440});
    EXPECT_FALSE(settings->min(base + "/Names")) << "strings have no range";
    EXPECT_FALSE(settings->value(base + "/Bad")) << "localsettings refuses a default out of range (-7)";
    EXPECT_EQ(created->at("Current/Max"), SettingValue{50.0});
    EXPECT_EQ(created->at("Time"), SettingValue{std::int32_t{15}});
    EXPECT_EQ(created->at("Names"), SettingValue{std::string{"a,b"}});
    EXPECT_FALSE(created->contains("Bad"));
}

// localsettings refuses (or is not ready for) the first AddSettings calls: the group tries
// again until it answers, and `done` then gets the stored value (25, not the default 50) once.
TEST_F(SettingsGroupTest, AFailedAddSettingsIsTriedAgainUntilLocalsettingsAnswers) {
    settings->preset(base + "/Current/Max", "25");
    settings->failAddSettings(2);
    group->retryOn(io, 50ms);
    int calls = 0;
    group->create(defs(), [&](const SettingsGroup::Values& v) {
        ++calls;
        created = v;
    });
    ASSERT_TRUE(pumpUntil(io, [&] { return created.has_value(); }, 3s)) << "never tried again";
    EXPECT_EQ(settings->failedAddSettings(), 2);
    EXPECT_EQ(created->at("Current/Max"), SettingValue{25.0});
    pumpUntil(io, [] { return false; }, 200ms);
    EXPECT_EQ(calls, 1);
    // A change on the GX afterwards is seen: the group subscribed after the retry.
    settings->write(base + "/Current/Max", sdbus::Variant{30.0});
    ASSERT_TRUE(pumpUntil(io, [&] { return !changes.empty(); }, 3s));
    EXPECT_EQ(changes.back().second, SettingValue{30.0});
}

// A retry still due when the group goes away does nothing.
TEST_F(SettingsGroupTest, ARetryDueAfterTheGroupIsGoneDoesNothing) {
    settings->failAddSettings(1);
    group->retryOn(io, 50ms);
    bool called = false;
    group->create(defs(), [&](const SettingsGroup::Values&) { called = true; });
    ASSERT_TRUE(pumpUntil(io, [&] { return settings->failedAddSettings() == 1; }, 3s));
    pumpUntil(io, [] { return false; }, 20ms);
    group.reset();
    pumpUntil(io, [] { return false; }, 300ms);
    EXPECT_FALSE(called);
}

TEST_F(SettingsGroupTest, AStoredValueIsKeptAndOneOutsideTheRangeNotPassedOn) {
    settings->preset(base + "/Current/Max", "20");
    settings->preset(base + "/Time", "2000");  // stored under a wider range once
    ASSERT_TRUE(create());
    EXPECT_EQ(created->at("Current/Max"), SettingValue{20.0}) << "kept, not the default";
    EXPECT_EQ(settings->defaultOf(base + "/Current/Max"), std::optional<std::string>{"50"});
    EXPECT_EQ(settings->value(base + "/Time"), std::optional<std::string>{"2000"}) << "localsettings keeps it";
    EXPECT_FALSE(created->contains("Time")) << "outside 0..1440: not used";
}

TEST_F(SettingsGroupTest, OnlyCheckedValuesReachTheOwner) {
    ASSERT_TRUE(create());
    // Refused by localsettings itself: nothing stored, nothing signalled.
    EXPECT_EQ(settings->write(base + "/Current/Max", sdbus::Variant{2000.0}), test::FakeSettings::kRefused);
    EXPECT_EQ(settings->write(base + "/Time", sdbus::Variant{std::string{"soon"}}), test::FakeSettings::kRefused);
    // Taken by localsettings: converted to the setting's type ("7" and 7.9 are 7).
    EXPECT_EQ(settings->write(base + "/Time", sdbus::Variant{7.9}), 0);
    ASSERT_TRUE(pumpUntil(io, [&] { return !changes.empty(); }, 2s));
    EXPECT_EQ(changes.back(), (std::pair<std::string, SettingValue>{"Time", SettingValue{std::int32_t{7}}}));
    // NaN passes localsettings' range check; the group refuses it.
    EXPECT_EQ(settings->write(base + "/Current/Max", sdbus::Variant{std::nan("")}), 0);
    EXPECT_EQ(settings->write(base + "/Names", sdbus::Variant{std::string{"c"}}), 0);
    ASSERT_TRUE(pumpUntil(io, [&] { return changes.size() >= 2; }, 2s));
    EXPECT_EQ(changes.back(), (std::pair<std::string, SettingValue>{"Names", SettingValue{std::string{"c"}}}));
    EXPECT_EQ(changes.size(), 2u) << "NaN was passed on";

    // The checks themselves.
    std::string why;
    const SettingDef time{"Time", SettingValue{std::int32_t{15}}, 0, 1440};
    EXPECT_FALSE(group->check(time, sdbus::Variant{7.5}, why)) << "an integer setting";
    EXPECT_EQ(why, "7.5 is not a whole number");
    EXPECT_FALSE(group->check(time, sdbus::Variant{std::string{"7"}}, why));
    EXPECT_EQ(why, "not a number");
    EXPECT_FALSE(group->check(time, sdbus::Variant{std::int32_t{-1}}, why));
    EXPECT_EQ(why, "-1 is outside 0..1440");
    EXPECT_EQ(group->check(time, sdbus::Variant{std::int64_t{60}}, why), SettingValue{std::int32_t{60}});
    const SettingDef names{"Names", SettingValue{std::string{}}};
    EXPECT_FALSE(group->check(names, sdbus::Variant{std::int32_t{1}}, why));
    EXPECT_EQ(why, "not a string");
    const SettingDef open{"Open", SettingValue{1.0}};  // no range
    EXPECT_EQ(group->check(open, sdbus::Variant{std::int32_t{-3000}}, why), SettingValue{-3000.0});
    EXPECT_FALSE(group->check(open, sdbus::Variant{std::numeric_limits<double>::infinity()}, why));
}

TEST_F(SettingsGroupTest, NoLocalsettingsNoCallbackAndNoWait) {
    settings.reset();
    bool called = false;
    group->create(defs(), [&](const SettingsGroup::Values&) { called = true; });
    // The call fails (no such name) and is logged; nothing more happens.
    pumpUntil(io, [&] { return false; }, 300ms);
    EXPECT_FALSE(called);
}

}  // namespace
}  // namespace jkbms::dbus
