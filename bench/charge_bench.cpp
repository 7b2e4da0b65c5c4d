// Cost of one charge-engine step (goal, issue 13: < 2 us on x86): a pack with noisy JK
// readings (+-5 mV, 1 mV steps), in Bulk with the cell-voltage table and its IR-rise prediction
// at work, and in Absorption with the regulator limiting. 8, 16 and 24 cells.
// Run: build/release/bench/charge_bench

#include <benchmark/benchmark.h>

#include <array>
#include <random>

#include "jkbms/charge/charge_engine.hpp"

namespace {

using namespace jkbms;

domain::BatterySnapshot reading(int cells, double cellV, double currentA) {
    domain::BatterySnapshot s;
    for (int i = 0; i < cells; ++i) s.cellVoltagesV.push_back(cellV);
    s.currentA = currentA;
    s.socPercent = 90;
    s.fullCapacityAh = 280;
    s.temperatures.push_back({"T1", 24});
    s.temperatures.push_back({"T2", 26});
    s.mosfetTemperatureC = 35;
    s.switches.chargeMos = true;
    s.switches.dischargeMos = true;
    s.settings.maxChargeCurrentA = 200;
    s.settings.maxDischargeCurrentA = 200;
    s.settings.cellOvpV = 3.65;
    s.settings.cellUvpV = 2.80;
    s.settings.chargeUtpC = 2;
    s.settings.chargeOtpC = 50;
    return s;
}

// Pre-drawn noise so the benchmark measures the engine, not the random generator.
std::array<double, 4096> noiseTable() {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> d(-5, 5);
    std::array<double, 4096> n{};
    for (double& x : n) x = d(rng) / 1000.0;
    return n;
}

void run(benchmark::State& state, double cellV, double currentA, double topOffsetV) {
    const int cells = static_cast<int>(state.range(0));
    static const auto noise = noiseTable();
    auto s = reading(cells, cellV, currentA);
    charge::ChargeEngine engine{charge::ChargeConfig{}};
    for (int i = 0; i < 600; ++i) engine.step(s, 1.0);  // settled into its mode
    std::size_t k = 0;
    for (auto _ : state) {
        for (int c = 0; c < cells; ++c) s.cellVoltagesV[static_cast<std::size_t>(c)] = cellV + noise[k++ & 4095];
        s.cellVoltagesV[0] += topOffsetV;
        s.currentA = currentA + ((k & 64) ? 20.0 : 0.0);  // current steps: the resistance estimate
        benchmark::DoNotOptimize(engine.step(s, 1.0));
    }
    state.SetLabel(std::string(charge::chargeModeName(engine.state().mode)));
}

void BM_ChargeEngineStepBulk(benchmark::State& state) { run(state, 3.38, 150, 0.02); }
void BM_ChargeEngineStepAbsorption(benchmark::State& state) { run(state, 3.44, 10, 0.012); }
BENCHMARK(BM_ChargeEngineStepBulk)->Arg(8)->Arg(16)->Arg(24);
BENCHMARK(BM_ChargeEngineStepAbsorption)->Arg(8)->Arg(16)->Arg(24);

}  // namespace

BENCHMARK_MAIN();
