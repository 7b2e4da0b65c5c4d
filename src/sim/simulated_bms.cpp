#include "jkbms/sim/simulated_bms.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "jkbms/codec/nw.hpp"

namespace jkbms::sim {
namespace {

namespace id = codec::nw::id;

// LiFePO4 open-circuit voltage by SoC, coarse but monotonic.
double ocvForSoc(double soc) {
    constexpr double kSoc[] = {0, 5, 10, 20, 40, 60, 80, 90, 95, 100};
    constexpr double kV[] = {2.80, 3.10, 3.20, 3.25, 3.28, 3.30, 3.33, 3.35, 3.40, 3.45};
    soc = std::clamp(soc, 0.0, 100.0);
    for (std::size_t i = 1; i < std::size(kSoc); ++i)
        if (soc <= kSoc[i]) return kV[i - 1] + (kV[i] - kV[i - 1]) * (soc - kSoc[i - 1]) / (kSoc[i] - kSoc[i - 1]);
    return kV[std::size(kV) - 1];
}

std::uint16_t temperatureRaw(double c) {  // section 1.6: 0..100 as is, -1..-40 as 101..140
    const double t = std::clamp(std::round(c), -40.0, 100.0);
    return static_cast<std::uint16_t>(t >= 0 ? t : 100 - t);
}

}  // namespace

SimulatedBms::SimulatedBms(std::size_t cells) { state_.cellsV.assign(cells, ocvForSoc(state_.socPercent)); }

void SimulatedBms::advance(std::chrono::duration<double> dt) {
    if (!live_) return;
    const double seconds = dt.count();
    phase_ += seconds * 2 * std::numbers::pi / 600.0;  // a ten-minute charge/discharge cycle
    state_.currentA = std::round(20.0 * std::sin(phase_) * 100.0) / 100.0;
    state_.socPercent = std::clamp(state_.socPercent + state_.currentA * seconds / 3600.0 / state_.capacityAh * 100.0,
                                   0.0, 100.0);
    const double base = ocvForSoc(state_.socPercent) + state_.currentA * 0.0005;  // 0.5 mOhm per cell
    for (std::size_t i = 0; i < state_.cellsV.size(); ++i)
        state_.cellsV[i] = base + 0.002 * std::sin(phase_ * 3 + static_cast<double>(i));
}

double SimulatedBms::packVoltageV() const {
    double sum = 0;
    for (double v : state_.cellsV) sum += v;
    return sum;
}

std::vector<std::uint8_t> SimulatedBms::nwReadAllReply() const {
    const BmsState& s = state_;
    std::vector<std::uint16_t> mv;
    for (double v : s.cellsV) mv.push_back(static_cast<std::uint16_t>(std::lround(v * 1000)));
    // Protocol version 1 current: sign-magnitude in 10 mA, bit 15 set = charging.
    const auto magnitude = static_cast<std::uint32_t>(std::min(std::lround(std::fabs(s.currentA) * 100), 0x7FFFL));
    const std::uint32_t current = magnitude | (s.currentA > 0 ? 0x8000U : 0U);
    const std::uint32_t status = (s.chargeMos ? 1U : 0U) | (s.dischargeMos ? 2U : 0U) | (s.balancer ? 4U : 0U);
    codec::nw::ReplyBuilder b;
    b.cells(mv)
        .value(id::kMosTemperature, temperatureRaw(s.mosTemperatureC))
        .value(id::kTemperature1, temperatureRaw(s.temperature1C))
        .value(id::kTemperature2, temperatureRaw(s.temperature2C))
        .value(id::kTotalVoltage, static_cast<std::uint32_t>(std::lround(packVoltageV() * 100)))
        .value(id::kCurrent, current)
        .value(id::kSoc, static_cast<std::uint32_t>(std::lround(s.socPercent)))
        .value(id::kTemperatureSensorCount, 2)
        .value(id::kCycleCount, s.cycles)
        .value(id::kTotalCycleCapacity, static_cast<std::uint32_t>(s.cycles * s.capacityAh))
        .value(id::kCellCount, static_cast<std::uint32_t>(s.cellsV.size()))
        .value(id::kAlarms, s.alarms)
        .value(id::kStatus, status)
        .value(id::kCellOvp, 3650)
        .value(id::kCellOvpRecovery, 3400)
        .value(id::kCellUvp, 2800)
        .value(id::kCellUvpRecovery, 3000)
        .value(id::kDischargeOcp, 200)
        .value(id::kChargeOcp, 150)
        .value(id::kBalanceStartVoltage, 3400)
        .value(id::kBalanceTriggerDelta, 10)
        .value(id::kBalancerSwitch, s.balancer ? 1 : 0)
        .value(id::kChargeUtp, static_cast<std::uint32_t>(static_cast<std::uint16_t>(-5)))
        .value(id::kCellCountSetting, static_cast<std::uint32_t>(s.cellsV.size()))
        .value(id::kNominalCapacity, static_cast<std::uint32_t>(s.capacityAh))
        .value(id::kChargeSwitch, s.chargeMos ? 1 : 0)
        .value(id::kDischargeSwitch, s.dischargeMos ? 1 : 0)
        .text(id::kSoftwareVersion, s.softwareVersion)
        .text(id::kManufacturerId, s.manufacturerId)
        .value(id::kProtocolVersion, 1);
    return b.frame();
}

}  // namespace jkbms::sim
