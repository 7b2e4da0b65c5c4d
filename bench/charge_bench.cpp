// Cost of one charge-engine step for a 16-cell pack (goal, issue 5: < 2 us).
// Run: build/release/bench/charge_bench

#include <benchmark/benchmark.h>

#include "jkbms/charge/charge_engine.hpp"

namespace {

using namespace jkbms;

void BM_ChargeEngineStep(benchmark::State& state) {
    domain::BatterySnapshot s;
    for (int i = 0; i < 16; ++i) s.cellVoltagesV.push_back(3.40 + 0.001 * i);
    s.currentA = 40;
    s.socPercent = 90;
    s.fullCapacityAh = 280;
    s.temperatures.push_back({"T1", 24});
    s.temperatures.push_back({"T2", 26});
    s.mosfetTemperatureC = 35;
    s.switches.chargeMos = true;
    s.switches.dischargeMos = true;
    s.settings.maxChargeCurrentA = 100;
    s.settings.maxDischargeCurrentA = 150;
    charge::ChargeEngine engine{charge::ChargeConfig{}};
    int i = 0;
    for (auto _ : state) {
        s.cellVoltagesV[0] = 3.40 + 0.0001 * (i++ % 500);  // the top cell moving
        benchmark::DoNotOptimize(engine.step(s, 1.0));
    }
}
BENCHMARK(BM_ChargeEngineStep);

}  // namespace

BENCHMARK_MAIN();
