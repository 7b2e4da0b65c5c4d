// The charge engine on any sequence of readings: cell counts 1-32, any voltages (plausible or
// not), currents, temperatures, FET states, alarms, BMS protection settings and time steps
// (0, huge, NaN). Nothing may abort or trap (ASan/UBSan), and whatever is published must be a
// finite value in its range: CVL at or above the floor, CCL/DCL within 0..the maximum in use
// (a traps here means a charger could be handed a nonsense limit).

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>

#include "jkbms/charge/charge_engine.hpp"

using namespace jkbms;

namespace {

class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool empty() const { return pos_ >= size_; }
    std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
    std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
    // A value in [lo, hi] from 16 bits, or now and then something wild.
    double in(double lo, double hi) {
        const std::uint8_t k = u8();
        if (k == 0xFF) return std::nan("");
        if (k == 0xFE) return 1e300;
        if (k == 0xFD) return -1e300;
        return lo + (hi - lo) * u16() / 65535.0;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

void check(bool ok, int line) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_charge: invariant at line %d broken\n", line);
    std::abort();
}
#define CHECK(x) check((x), __LINE__)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Input in(data, size);
    charge::ChargeConfig config;
    const std::uint8_t flags = in.u8();
    config.chemistry = static_cast<charge::Chemistry>(flags % 4);
    if (flags & 0x10) config.maxChargeA = in.in(0, 6000);
    if (flags & 0x20) config.tableStepMode = true;
    if (!config.validate().empty()) return 0;  // the engine's contract: a validated config
    charge::ChargeEngine engine{config};
    const std::size_t cells = 1 + in.u8() % domain::BatterySnapshot::kMaxCells;
    while (!in.empty()) {
        domain::BatterySnapshot s;
        const double base = in.in(0, 5);
        for (std::size_t i = 0; i < cells; ++i) s.cellVoltagesV.push_back(base + (in.u8() - 128) * 0.001);
        const std::uint8_t what = in.u8();
        if (what & 0x01) s.currentA = in.in(-500, 500);
        if (what & 0x02) s.socPercent = in.in(0, 110);
        if (what & 0x04) s.fullCapacityAh = in.in(0, 1000);
        if (what & 0x08) s.temperatures.push_back({"T1", in.in(-40, 90)});
        if (what & 0x10) s.mosfetTemperatureC = in.in(-40, 120);
        if (what & 0x20) s.settings.cellOvpV = in.in(1.5, 4.5);
        if (what & 0x40) s.settings.cellUvpV = in.in(1.0, 4.0);
        if (what & 0x80) {
            s.settings.maxChargeCurrentA = in.in(0, 600);
            s.settings.chargeOcpA = in.in(0, 600);
            s.settings.chargeUtpC = in.in(-40, 20);
            s.settings.chargeOtpC = in.in(20, 90);
            s.settings.dischargeOcpA = in.in(0, 600);
        }
        const std::uint8_t state = in.u8();
        s.switches.chargeMos = (state & 1) != 0;
        s.switches.dischargeMos = (state & 2) != 0;
        if (state & 4) s.heating = true;
        if (state & 8) s.alarms.set(static_cast<domain::Alarm>(in.u8() % static_cast<int>(domain::Alarm::Count_)));
        const double dt = in.in(0, 120);
        const auto l = engine.step(s, dt);
        if (l.maxChargeVoltageV) CHECK(std::isfinite(*l.maxChargeVoltageV) && *l.maxChargeVoltageV > 0);
        for (const auto& a : {l.maxChargeCurrentA, l.maxDischargeCurrentA})
            if (a) CHECK(std::isfinite(*a) && *a >= 0 && *a <= 1e6);
        if (l.maxChargeVoltageV) CHECK(l.maxChargeCurrentA && l.maxDischargeCurrentA && l.batteryLowVoltageV);
    }
    return 0;
}
