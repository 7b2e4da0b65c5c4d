// Cost of publishing one poll cycle of a 16-cell battery on D-Bus: batteryPaths() (the pure
// mapping), and BusItemService::update() (diff + one ItemsChanged + one PropertiesChanged per
// changed leaf, flushed to a private dbus-daemon). Goal (issue 3): < 100 us per update.
// Run: build/release/bench/dbus_bench

#include <benchmark/benchmark.h>

#include <sdbus-c++/sdbus-c++.h>

#include "integration/harness.hpp"
#include "jkbms/dbus/battery_paths.hpp"
#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/dbus/bus_item_service.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"
#include "jkbms/sim/simulated_bms.hpp"
#include "support/sample_battery.hpp"

namespace {

using namespace jkbms;

// The sample pack with cells, voltage, current and remaining capacity moving each tick.
domain::BatterySnapshot snapshot(int tick) {
    auto s = test::sampleSnapshot16(52.90 + 0.01 * (tick % 5));
    for (std::size_t i = 0; i < s.cellVoltagesV.size(); ++i)
        s.cellVoltagesV[i] = 3.300 + 0.001 * static_cast<double>((static_cast<int>(i) + tick) % 7);
    s.currentA = -12.5 + 0.1 * (tick % 3);
    s.powerW = *s.packVoltageV * *s.currentA;
    s.remainingCapacityAh = 187.6 - 0.001 * tick;
    return s;
}

dbus::ServiceIdentity identity() {
    dbus::ServiceIdentity id;
    id.connection = "Serial ttyUSB0";
    id.deviceInstance = 1;
    return id;
}

void BM_BatteryPaths16Cells(benchmark::State& state) {
    const auto s = snapshot(0);
    const auto id = identity();
    const auto l = test::sampleLimits();
    for (auto _ : state) benchmark::DoNotOptimize(dbus::batteryPaths(id, s, l, dbus::CommsState::Ok));
}
BENCHMARK(BM_BatteryPaths16Cells);

// Arg: 1 = with a display-port relay (/Bms/Power), 0 = without.
void BM_BatteryPaths16CellsInPlace(benchmark::State& state) {
    const auto s = snapshot(0);
    auto id = identity();
    if (state.range(0) != 0) id.power = dbus::PowerItem{1, "on"};
    const auto l = test::sampleLimits();
    dbus::PathTable table;
    for (auto _ : state) {
        dbus::batteryPaths(id, s, l, dbus::CommsState::Ok, table);
        benchmark::DoNotOptimize(table);
    }
}
BENCHMARK(BM_BatteryPaths16CellsInPlace)->Arg(0)->Arg(1);

// One poll cycle as the daemon runs it: map in place, diff, emit, flush. Arg: 1 = also one
// PropertiesChanged per changed leaf (the default), 0 = ItemsChanged only.
void BM_BusUpdate16Cells(benchmark::State& state) {
    const std::string& address = test::PrivateBus::address();
    if (address.empty()) {
        state.SkipWithError("dbus-daemon not available");
        return;
    }
    auto connection = dbus::connectBus(address);
    dbus::BusItemService service(*connection, dbus::BusItemService::Options{state.range(0) != 0});
    const auto id = identity();
    const auto l = test::sampleLimits();
    dbus::PathTable table;
    dbus::batteryPaths(id, snapshot(0), l, dbus::CommsState::Ok, table);
    service.update(table);
    while (connection->processPendingEvent()) {
    }
    // A round trip to the daemon, untimed, after each cycle: it answers only after it has
    // routed everything we sent before, so each cycle starts with the daemon idle, as a 1 Hz
    // poll does. (Back to back, the socket fills and the figure measures backpressure.)
    auto daemon = sdbus::createProxy(*connection, sdbus::ServiceName{"org.freedesktop.DBus"},
                                     sdbus::ObjectPath{"/org/freedesktop/DBus"});
    auto drain = [&] {
        std::string busId;
        daemon->callMethod("GetId").onInterface("org.freedesktop.DBus").storeResultsTo(busId);
    };
    int tick = 1;
    std::size_t changed = 0;
    for (auto _ : state) {
        dbus::batteryPaths(id, snapshot(tick++), l, dbus::CommsState::Ok, table);
        changed += service.update(table);
        while (connection->processPendingEvent()) {  // send everything out
        }
        state.PauseTiming();
        drain();
        state.ResumeTiming();
    }
    state.counters["changed_items"] = benchmark::Counter(static_cast<double>(changed), benchmark::Counter::kAvgIterations);
    state.counters["objects"] = static_cast<double>(service.objectCount());
}
BENCHMARK(BM_BusUpdate16Cells)->Arg(1)->Arg(0);

void BM_BusUpdateNothingChanged(benchmark::State& state) {
    const std::string& address = test::PrivateBus::address();
    if (address.empty()) {
        state.SkipWithError("dbus-daemon not available");
        return;
    }
    auto connection = dbus::connectBus(address);
    dbus::BusItemService service(*connection);
    const auto table = dbus::batteryPaths(identity(), snapshot(0), test::sampleLimits(), dbus::CommsState::Ok);
    service.update(table);
    for (auto _ : state) benchmark::DoNotOptimize(service.update(table));
}
BENCHMARK(BM_BusUpdateNothingChanged);

// One whole NW poll cycle in the daemon: the reply's bytes in, through the framer, decoder
// and snapshot mapping, to the D-Bus signals out (flushed; daemon idle at each start).
// Arg: 1 = with per-leaf PropertiesChanged (the default), 0 = ItemsChanged only.
// Goal (issue 4): < 50 us.
void BM_NwPollCycle(benchmark::State& state) {
    const std::string& address = test::PrivateBus::address();
    if (address.empty()) {
        state.SkipWithError("dbus-daemon not available");
        return;
    }
    sim::SimulatedBms bms(16);
    std::vector<std::vector<std::uint8_t>> replies;
    for (int i = 0; i < 64; ++i) {  // a minute of a live pack
        bms.advance(std::chrono::seconds(1));
        replies.push_back(bms.nwReadAllReply());
    }
    auto connection = dbus::connectBus(address);
    dbus::BusItemService service(*connection, dbus::BusItemService::Options{state.range(0) != 0});
    auto daemon = sdbus::createProxy(*connection, sdbus::ServiceName{"org.freedesktop.DBus"},
                                     sdbus::ObjectPath{"/org/freedesktop/DBus"});
    const auto id = identity();
    codec::nw::Framer framer;
    dbus::PathTable table;
    std::size_t i = 0;
    for (auto _ : state) {
        framer.push(replies[i++ % replies.size()]);
        const auto ev = framer.next();
        auto reply = codec::nw::decodeReadAll(ev.frame);
        const auto snapshot = domain::fromNw(*reply);
        dbus::batteryPaths(id, snapshot, {}, dbus::CommsState::Ok, table);
        service.update(table);
        while (connection->processPendingEvent()) {
        }
        state.PauseTiming();
        std::string busId;
        daemon->callMethod("GetId").onInterface("org.freedesktop.DBus").storeResultsTo(busId);
        state.ResumeTiming();
    }
}
BENCHMARK(BM_NwPollCycle)->Arg(1)->Arg(0);

}  // namespace

BENCHMARK_MAIN();
