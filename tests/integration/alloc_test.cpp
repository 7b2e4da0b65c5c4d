// Issue 18: the steady-state update path allocates nothing. This binary replaces the global
// operator new with one that counts (and otherwise uses malloc), then checks that a poll cycle -
// batteryPaths() in place and BusItemService::update() emitting one ItemsChanged on a private
// dbus-daemon - makes no C++ heap allocation once every path exists. (sd-bus builds the message
// in buffers of its own, with malloc: bench/dbus_bench counts those too.)

#include <gtest/gtest.h>

#include <sdbus-c++/sdbus-c++.h>

#include <cstdlib>
#include <new>

#include "integration/harness.hpp"
#include "jkbms/dbus/battery_paths.hpp"
#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/dbus/bus_item_service.hpp"
#include "support/sample_battery.hpp"

// The replacements pair malloc with free on purpose.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::size_t g_news = 0;
}  // namespace

void* operator new(std::size_t size) {
    ++g_news;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc{};
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace jkbms::dbus {
namespace {

using namespace std::chrono_literals;

// The sample pack with cells, voltage, current and remaining capacity moving each tick.
domain::BatterySnapshot moving(int tick) {
    auto s = test::sampleSnapshot16(52.90 + 0.01 * (tick % 5));
    for (std::size_t i = 0; i < s.cellVoltagesV.size(); ++i)
        s.cellVoltagesV[i] = 3.300 + 0.001 * static_cast<double>((static_cast<int>(i) + tick) % 7);
    s.currentA = -12.5 + 0.1 * (tick % 3);
    s.powerW = *s.packVoltageV * *s.currentA;
    s.remainingCapacityAh = 187.6 - 0.001 * tick;
    return s;
}

ServiceIdentity identity() {
    ServiceIdentity id;
    id.processVersion = "0.1.0-issue18-a-version-longer-than-sso";
    id.connection = "Serial /dev/serial/by-id/usb-a-long-port-name";
    id.deviceInstance = 1;
    return id;
}

// The counter counts: a sanity check, so a zero below means something.
TEST(SteadyStateAllocation, CounterCounts) {
    const std::size_t before = g_news;
    auto* p = new std::string(100, 'x');
    delete p;
    EXPECT_GE(g_news - before, 1U);
}

TEST(SteadyStateAllocation, BatteryPathsInPlaceAllocatesNothing) {
    const auto id = identity();
    auto limits = test::sampleLimits();
    limits.chargeLimitation = "a limitation text longer than the short-string buffer";
    std::vector<domain::BatterySnapshot> snapshots;
    for (int tick = 0; tick < 8; ++tick) snapshots.push_back(moving(tick));
    PathTable table;
    for (const auto& s : snapshots) batteryPaths(id, s, limits, CommsState::Ok, table);  // warm up
    const std::size_t before = g_news;
    std::uint64_t versions = 0;
    for (int round = 0; round < 10; ++round)
        for (const auto& s : snapshots) {
            batteryPaths(id, s, limits, CommsState::Ok, table);
            for (PathTable::Slot slot = 0; slot < table.slotCount(); ++slot) versions += table.version(slot);
        }
    EXPECT_EQ(g_news - before, 0U) << "operator new calls in 80 cycles";
    EXPECT_GT(versions, 0U);
}

TEST(SteadyStateAllocation, BusUpdateAllocatesNothing) {
    if (test::PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
    auto connection = connectBus(test::PrivateBus::address());
    BusItemService service(*connection);
    const auto id = identity();
    const auto limits = test::sampleLimits();
    std::vector<domain::BatterySnapshot> snapshots;
    for (int tick = 0; tick < 8; ++tick) snapshots.push_back(moving(tick));
    PathTable table;
    auto cycle = [&](const domain::BatterySnapshot& s) {
        batteryPaths(id, s, limits, CommsState::Ok, table);
        const std::size_t changed = service.update(table);
        while (connection->processPendingEvent()) {
        }
        return changed;
    };
    for (const auto& s : snapshots) cycle(s);  // every path exists, every buffer grown
    const std::size_t before = g_news;
    std::size_t changed = 0;
    for (int round = 0; round < 5; ++round)
        for (const auto& s : snapshots) changed += cycle(s);
    EXPECT_EQ(g_news - before, 0U) << "operator new calls in 40 updates";
    EXPECT_GT(changed, 40U * 5) << "values did change (each update announced some)";
}

// Issue 18, memory per pack: a new path costs its item, not an object of its own (an sdbus-c++
// object per path took dozens of allocations, ~1.5 KB). 600 leaves under 21 tree nodes.
TEST(PathCost, ANewPathTakesAFewAllocations) {
    if (test::PrivateBus::address().empty()) GTEST_SKIP() << "dbus-daemon is not available";
    auto connection = connectBus(test::PrivateBus::address());
    BusItemService service(*connection);
    PathTable table;
    for (int p = 0; p < 20; ++p)
        for (int c = 0; c < 30; ++c)
            table.emplace("/Pack/" + std::to_string(p) + "/Cell" + std::to_string(c), makeItem(3.3, Unit::CellVolt));
    const std::size_t before = g_news;
    EXPECT_EQ(service.update(table), table.size());
    while (connection->processPendingEvent()) {
    }
    const std::size_t perPath = (g_news - before) / table.size();
    EXPECT_LE(perPath, 6U) << "operator new calls per new path";
    EXPECT_NE(service.find("/Pack/19/Cell29"), nullptr);
}

}  // namespace
}  // namespace jkbms::dbus
