// Cost of publishing one poll cycle of a 16-cell battery on D-Bus: batteryPaths() (the pure
// mapping), and BusItemService::update() (diff + one ItemsChanged, plus one PropertiesChanged
// per changed leaf with Arg 1, flushed to a private dbus-daemon). Goal (issue 3): < 100 us per
// update; issue 18: poll cycle < 20 us, no heap allocation in the steady state.
// Counters: new_per_cycle (C++ operator new) and malloc_per_cycle (every malloc/calloc/realloc,
// sd-bus's own buffers included) per iteration, counted by this binary's replacements.
// Run: build/release/bench/dbus_bench

#include <benchmark/benchmark.h>

#include <dlfcn.h>

#include <cstdlib>
#include <new>

#include <sdbus-c++/sdbus-c++.h>

#include "integration/harness.hpp"
#include "jkbms/dbus/battery_paths.hpp"
#include "jkbms/dbus/bus_address.hpp"
#include "jkbms/dbus/bus_item_service.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"
#include "jkbms/sim/simulated_bms.hpp"
#include "support/sample_battery.hpp"

// The replacements pair malloc with free on purpose.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Allocation counters: operator new, and malloc itself (glibc lets the executable interpose
// malloc; the real one is __libc_malloc).
extern "C" void* __libc_malloc(std::size_t);
extern "C" void* __libc_calloc(std::size_t, std::size_t);
extern "C" void* __libc_realloc(void*, std::size_t);
namespace {
std::size_t g_news = 0;
std::size_t g_mallocs = 0;
}  // namespace
extern "C" void* malloc(std::size_t size) {
    ++g_mallocs;
    return __libc_malloc(size);
}
extern "C" void* calloc(std::size_t n, std::size_t size) {
    ++g_mallocs;
    return __libc_calloc(n, size);
}
extern "C" void* realloc(void* p, std::size_t size) {
    ++g_mallocs;
    return __libc_realloc(p, size);
}
void* operator new(std::size_t size) {
    ++g_news;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc{};
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace jkbms;

// Counts allocations over the timed loop; reported per iteration.
struct AllocCounter {
    std::size_t news = g_news;
    std::size_t mallocs = g_mallocs;
    void report(benchmark::State& state) const {
        state.counters["new_per_cycle"] =
            benchmark::Counter(static_cast<double>(g_news - news), benchmark::Counter::kAvgIterations);
        state.counters["malloc_per_cycle"] =
            benchmark::Counter(static_cast<double>(g_mallocs - mallocs), benchmark::Counter::kAvgIterations);
    }
};

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

// Arg: 1 = with a display-port relay (/Bms/Power), 0 = without. Every cycle moves cells,
// voltage, current and capacity (as a live pack does).
void BM_BatteryPaths16CellsInPlace(benchmark::State& state) {
    auto id = identity();
    if (state.range(0) != 0) id.power = dbus::PowerItem{1, "on"};
    const auto l = test::sampleLimits();
    std::vector<domain::BatterySnapshot> snapshots;
    for (int tick = 0; tick < 8; ++tick) snapshots.push_back(snapshot(tick));
    dbus::PathTable table;
    dbus::batteryPaths(id, snapshots[0], l, dbus::CommsState::Ok, table);
    std::size_t i = 0;
    AllocCounter allocs;
    for (auto _ : state) {
        dbus::batteryPaths(id, snapshots[i++ % snapshots.size()], l, dbus::CommsState::Ok, table);
        benchmark::DoNotOptimize(table);
    }
    allocs.report(state);
}
BENCHMARK(BM_BatteryPaths16CellsInPlace)->Arg(0)->Arg(1);

// A private-bus connection and a round trip to its daemon (untimed, after each cycle: it
// answers only after it has routed everything we sent before, so each cycle starts with the
// daemon idle, as a 1 Hz poll does; back to back, the socket fills and the figure measures
// backpressure). Allocations during the round trip are not counted.
struct Bus {
    std::unique_ptr<sdbus::IConnection> connection;
    std::unique_ptr<sdbus::IProxy> daemon;
    std::size_t news = 0;
    std::size_t mallocs = 0;
    explicit Bus(const std::string& address)
        : connection(dbus::connectBus(address)),
          daemon(sdbus::createProxy(*connection, sdbus::ServiceName{"org.freedesktop.DBus"},
                                    sdbus::ObjectPath{"/org/freedesktop/DBus"})) {}
    void flush() {
        while (connection->processPendingEvent()) {
        }
    }
    void drain(benchmark::State& state) {
        state.PauseTiming();
        const std::size_t n = g_news;
        const std::size_t m = g_mallocs;
        std::string busId;
        daemon->callMethod("GetId").onInterface("org.freedesktop.DBus").storeResultsTo(busId);
        news += g_news - n;
        mallocs += g_mallocs - m;
        state.ResumeTiming();
    }
    // Allocations counted since `allocs`, less the round trips'.
    void report(benchmark::State& state, const AllocCounter& allocs) const {
        state.counters["new_per_cycle"] = benchmark::Counter(static_cast<double>(g_news - allocs.news - news),
                                                             benchmark::Counter::kAvgIterations);
        state.counters["malloc_per_cycle"] = benchmark::Counter(
            static_cast<double>(g_mallocs - allocs.mallocs - mallocs), benchmark::Counter::kAvgIterations);
    }
};

// One poll cycle as the daemon runs it: map in place, diff, emit, flush. Arg: 1 = also one
// PropertiesChanged per changed leaf (dbus.properties_changed: true), 0 = ItemsChanged only
// (the default).
void BM_BusUpdate16Cells(benchmark::State& state) {
    const std::string& address = test::PrivateBus::address();
    if (address.empty()) {
        state.SkipWithError("dbus-daemon not available");
        return;
    }
    Bus bus(address);
    dbus::BusItemService service(*bus.connection, dbus::BusItemService::Options{state.range(0) != 0});
    const auto id = identity();
    const auto l = test::sampleLimits();
    std::vector<domain::BatterySnapshot> snapshots;
    for (int tick = 0; tick < 8; ++tick) snapshots.push_back(snapshot(tick));
    dbus::PathTable table;
    for (const auto& s : snapshots) {  // every path and buffer exists, as after the first polls
        dbus::batteryPaths(id, s, l, dbus::CommsState::Ok, table);
        service.update(table);
        bus.flush();
    }
    std::size_t i = 0;
    std::size_t changed = 0;
    AllocCounter allocs;
    for (auto _ : state) {
        dbus::batteryPaths(id, snapshots[i++ % snapshots.size()], l, dbus::CommsState::Ok, table);
        changed += service.update(table);
        bus.flush();
        bus.drain(state);
    }
    bus.report(state, allocs);
    state.counters["changed_items"] = benchmark::Counter(static_cast<double>(changed), benchmark::Counter::kAvgIterations);
    state.counters["objects"] = static_cast<double>(service.objectCount());
}
BENCHMARK(BM_BusUpdate16Cells)->Arg(1)->Arg(0);

// The path update (mapping + diff + signal + flush) with 0, 5 or all paths changed between
// two cycles. Arg: 0 = the same reading again; 5 = current, time-to-go, SoH, MOSFET
// temperature and cycle count move; 100 = communication lost and back in turn (every value
// from the BMS goes invalid, then valid).
void BM_PathUpdate(benchmark::State& state) {
    const std::string& address = test::PrivateBus::address();
    if (address.empty()) {
        state.SkipWithError("dbus-daemon not available");
        return;
    }
    Bus bus(address);
    dbus::BusItemService service(*bus.connection);
    const auto id = identity();
    const auto l = test::sampleLimits();
    struct Input {
        domain::BatterySnapshot snapshot;
        dbus::CommsState comms;
    };
    std::vector<Input> inputs;
    const auto a = snapshot(0);
    inputs.push_back({a, dbus::CommsState::Ok});
    if (state.range(0) == 5) {
        auto b = a;
        b.currentA = *a.currentA - 1.0;
        b.sohPercent = *a.sohPercent - 1;
        b.mosfetTemperatureC = *a.mosfetTemperatureC + 1.0;
        b.cycleCount = *a.cycleCount + 1;
        inputs.push_back({b, dbus::CommsState::Ok});
    } else if (state.range(0) != 0) {
        inputs.push_back({a, dbus::CommsState::Lost});
    }
    dbus::PathTable table;
    for (const auto& in : inputs) {
        dbus::batteryPaths(id, in.snapshot, l, in.comms, table);
        service.update(table);
        bus.flush();
    }
    std::size_t i = 0;
    std::size_t changed = 0;
    AllocCounter allocs;
    for (auto _ : state) {
        const auto& in = inputs[i++ % inputs.size()];
        dbus::batteryPaths(id, in.snapshot, l, in.comms, table);
        changed += service.update(table);
        bus.flush();
        bus.drain(state);
    }
    bus.report(state, allocs);
    state.counters["changed_items"] = benchmark::Counter(static_cast<double>(changed), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_PathUpdate)->Arg(0)->Arg(5)->Arg(100);

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
    AllocCounter allocs;
    for (auto _ : state) benchmark::DoNotOptimize(service.update(table));
    allocs.report(state);
}
BENCHMARK(BM_BusUpdateNothingChanged);

// One whole NW poll cycle in the daemon: the reply's bytes in, through the framer, decoder
// and snapshot mapping, to the D-Bus signals out (flushed; daemon idle at each start).
// Arg: 1 = with per-leaf PropertiesChanged, 0 = ItemsChanged only (the default).
// Goals: issue 4 < 50 us, issue 18 < 20 us.
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
    Bus bus(address);
    dbus::BusItemService service(*bus.connection, dbus::BusItemService::Options{state.range(0) != 0});
    const auto id = identity();
    codec::nw::Framer framer;
    dbus::PathTable table;
    std::size_t i = 0;
    auto cycle = [&] {
        framer.push(replies[i++ % replies.size()]);
        const auto ev = framer.next();
        auto reply = codec::nw::decodeReadAll(ev.frame);
        const auto snapshot = domain::fromNw(*reply);
        dbus::batteryPaths(id, snapshot, {}, dbus::CommsState::Ok, table);
        service.update(table);
        bus.flush();
    };
    for (int warm = 0; warm < 64; ++warm) cycle();
    AllocCounter allocs;
    for (auto _ : state) {
        cycle();
        bus.drain(state);
    }
    bus.report(state, allocs);
}
BENCHMARK(BM_NwPollCycle)->Arg(1)->Arg(0);

// The D-Bus side of a JK-PB bus with 15 packs: one service (and connection) per pack, as the
// daemon runs them; one iteration is a round of 15 pack updates (mapping, diff, signal, flush).
// Time per iteration / 15 = per pack per poll.
void BM_PbBus15Packs(benchmark::State& state) {
    const std::string& address = test::PrivateBus::address();
    if (address.empty()) {
        state.SkipWithError("dbus-daemon not available");
        return;
    }
    constexpr std::size_t kPacks = 15;
    struct Pack {
        std::unique_ptr<Bus> bus;
        std::unique_ptr<dbus::BusItemService> service;
        dbus::ServiceIdentity id;
        dbus::PathTable table;
    };
    std::vector<Pack> packs(kPacks);
    for (std::size_t p = 0; p < kPacks; ++p) {
        packs[p].bus = std::make_unique<Bus>(address);
        packs[p].service = std::make_unique<dbus::BusItemService>(*packs[p].bus->connection);
        packs[p].id = identity();
        packs[p].id.connection = "Serial ttyUSB0 address " + std::to_string(p + 1);
        packs[p].id.deviceInstance = static_cast<std::int32_t>(p + 1);
    }
    std::vector<domain::BatterySnapshot> snapshots;
    for (int tick = 0; tick < 8; ++tick) snapshots.push_back(snapshot(tick));
    const auto l = test::sampleLimits();
    std::size_t tick = 0;
    auto round = [&] {
        for (std::size_t p = 0; p < kPacks; ++p) {
            auto& pack = packs[p];
            dbus::batteryPaths(pack.id, snapshots[(tick + p) % snapshots.size()], l, dbus::CommsState::Ok, pack.table);
            pack.service->update(pack.table);
            pack.bus->flush();
        }
        ++tick;
    };
    for (int warm = 0; warm < 8; ++warm) round();
    AllocCounter allocs;
    std::size_t drainNews = 0;
    std::size_t drainMallocs = 0;
    for (auto _ : state) {
        round();
        for (auto& pack : packs) pack.bus->drain(state);
    }
    for (auto& pack : packs) {
        drainNews += pack.bus->news;
        drainMallocs += pack.bus->mallocs;
    }
    state.counters["new_per_cycle"] = benchmark::Counter(static_cast<double>(g_news - allocs.news - drainNews),
                                                         benchmark::Counter::kAvgIterations);
    state.counters["malloc_per_cycle"] = benchmark::Counter(
        static_cast<double>(g_mallocs - allocs.mallocs - drainMallocs), benchmark::Counter::kAvgIterations);
    state.counters["packs"] = static_cast<double>(kPacks);
}
BENCHMARK(BM_PbBus15Packs);

// A bank of N packs (issue 16): what the daemon does after each pack's update - every member
// read back from its path table (bankMember), combined (combineBank), the bank's table
// updated (bankPaths). One iteration = one recombination; the daemon runs one per pack
// update, so a poll round of N packs costs N x this.
void BM_BankCombine(benchmark::State& state) {
    const auto packs = static_cast<std::size_t>(state.range(0));
    std::vector<dbus::PathTable> members(packs);
    dbus::ServiceIdentity memberId = identity();
    memberId.bankMember = true;
    for (std::size_t p = 0; p < packs; ++p) {
        auto snap = snapshot(static_cast<int>(p));
        snap.currentA = 5.0 + static_cast<double>(p);  // charging: shares are measured
        dbus::batteryPaths(memberId, snap, test::sampleLimits(), dbus::CommsState::Ok, members[p]);
    }
    std::vector<std::string> names;
    for (std::size_t p = 0; p < packs; ++p) names.push_back("P" + std::to_string(p + 1));
    dbus::PathTable bank;
    dbus::ServiceIdentity bankId = identity();
    std::vector<domain::BankMember> combined;
    for (auto _ : state) {
        combined.clear();
        for (std::size_t p = 0; p < packs; ++p) combined.push_back(dbus::bankMember(names[p], dbus::lookupIn(members[p])));
        dbus::bankPaths(bankId, domain::combineBank(combined), bank);
        benchmark::DoNotOptimize(bank.size());
    }
    state.counters["packs"] = static_cast<double>(packs);
}
BENCHMARK(BM_BankCombine)->Arg(1)->Arg(8)->Arg(15);

}  // namespace

BENCHMARK_MAIN();
