#include "jkbms/sim/simulated_bms.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "jkbms/codec/ble.hpp"
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

void SimulatedBms::setButton(bool closed, std::chrono::steady_clock::time_point now) {
    if (closed) {
        if (!pressedAt_) pressedAt_ = now;
        return;
    }
    if (!pressedAt_) return;
    const auto held = now - *pressedAt_;
    pressedAt_.reset();
    ++buttonPresses_;
    if (!powered_ && held >= kWakeHold) powered_ = true;
    else if (powered_ && held >= kOffHold) powered_ = false;
}

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
        .text(id::kDeviceId, s.deviceId)
        .text(id::kSoftwareVersion, s.softwareVersion)
        .text(id::kManufacturerId, s.manufacturerId)
        .value(id::kProtocolVersion, 1);
    if (s.actualCapacityAh > 0) b.value(id::kActualCapacity, s.actualCapacityAh);
    return b.frame();
}

// JK02_32S cell info (jk-protocols.md 2.6): cells at 6+2i, enabled mask 70, avg/delta 74/76,
// max/min index 78/79, resistances 80+2i, MOS 144, pack mV 150, power mW 154, current mA 158,
// T1/T2 162/164, alarms 166, SoC 173, remaining/full mAh 174/178, cycles 182, cycle Ah 186,
// SoH 190, runtime 194, MOSFETs 198/199, sensor presence 214.
std::array<std::uint8_t, 300> SimulatedBms::jk02CellInfoFrame(std::uint8_t counter) const {
    const BmsState& s = state_;
    codec::ble::FrameBuilder f(codec::ble::FrameType::CellInfo, counter);
    std::uint32_t mask = 0;
    double sum = 0;
    std::size_t maxI = 0;
    std::size_t minI = 0;
    for (std::size_t i = 0; i < s.cellsV.size() && i < 32; ++i) {
        f.u16(6 + 2 * i, static_cast<std::uint16_t>(std::lround(s.cellsV[i] * 1000)));
        f.u16(80 + 2 * i, 60);
        mask |= 1U << i;
        sum += s.cellsV[i];
        if (s.cellsV[i] > s.cellsV[maxI]) maxI = i;
        if (s.cellsV[i] < s.cellsV[minI]) minI = i;
    }
    const double avg = s.cellsV.empty() ? 0 : sum / static_cast<double>(s.cellsV.size());
    const auto packMv = static_cast<std::uint32_t>(std::lround(sum * 1000));
    const auto currentMa = static_cast<std::int32_t>(std::lround(s.currentA * 1000));
    f.u32(70, mask)
        .u16(74, static_cast<std::uint16_t>(std::lround(avg * 1000)))
        .u16(76, static_cast<std::uint16_t>(std::lround((s.cellsV.empty() ? 0 : s.cellsV[maxI] - s.cellsV[minI]) * 1000)))
        .u8(78, static_cast<std::uint8_t>(maxI))
        .u8(79, static_cast<std::uint8_t>(minI))
        .i16(144, static_cast<std::int16_t>(std::lround(s.mosTemperatureC * 10)))
        .u32(150, packMv)
        .u32(154, static_cast<std::uint32_t>(std::llabs(std::llround(sum * s.currentA * 1000))))
        .i32(158, currentMa)
        .i16(162, static_cast<std::int16_t>(std::lround(s.temperature1C * 10)))
        .i16(164, static_cast<std::int16_t>(std::lround(s.temperature2C * 10)))
        .u32(166, s.jk02Alarms)
        .u8(173, static_cast<std::uint8_t>(std::lround(s.socPercent)))
        .i32(174, static_cast<std::int32_t>(std::lround(s.capacityAh * s.socPercent * 10)))
        .u32(178, static_cast<std::uint32_t>(std::lround(s.capacityAh * 1000)))
        .u32(182, s.cycles)
        .u32(186, static_cast<std::uint32_t>(s.cycles * s.capacityAh * 1000))
        .u8(190, 100)
        .u32(194, 86400)
        .u8(198, s.chargeMos ? 1 : 0)
        .u8(199, s.dischargeMos ? 1 : 0)
        .u8(214, 0x07)  // MOS, T1, T2 fitted
        .u16(234, static_cast<std::uint16_t>(packMv / 10));
    return f.frame();
}

// JK02_32S settings (section 2.9), the fields a driver uses.
std::array<std::uint8_t, 300> SimulatedBms::jk02SettingsFrame(std::uint8_t counter, std::uint8_t address) const {
    const BmsState& s = state_;
    codec::ble::FrameBuilder f(codec::ble::FrameType::Settings, counter);
    f.u32(10, 2800).u32(14, 3000).u32(18, 3650).u32(22, 3400).u32(26, 10).u32(38, 3450).u32(42, 3375)
        .u32(46, 2600).u32(50, 100000).u32(62, 150000).u32(78, 2000)
        .i32(82, 450).i32(86, 400).i32(90, 550).i32(94, 500).i32(98, 0).i32(102, 30)
        .u32(114, static_cast<std::uint32_t>(s.cellsV.size()))
        .u32(118, s.chargeMos ? 1 : 0)
        .u32(122, s.dischargeMos ? 1 : 0)
        .u32(126, s.balancer ? 1 : 0)
        .u32(130, static_cast<std::uint32_t>(std::lround(s.capacityAh * 1000)))
        .u32(138, 3400)
        .u32(270, address);
    return f.frame();
}

// Device info (section 2.8): model 6, hardware 22, software 30, uptime 38, power-on count 42,
// name 46, passcode 62, date 78, serial 86.
std::array<std::uint8_t, 300> SimulatedBms::jk02DeviceInfoFrame(std::uint8_t counter) const {
    const BmsState& s = state_;
    codec::ble::FrameBuilder f(codec::ble::FrameType::DeviceInfo, counter);
    f.text(6, s.model.substr(0, 15))
        .text(22, s.hardwareVersion.substr(0, 7))
        .text(30, s.pbSoftwareVersion.substr(0, 7))
        .u32(38, 86400)
        .u32(42, 3)
        .text(46, s.serialNumber.substr(0, 15))
        .text(62, "1234")
        .text(78, "240510")
        .text(86, s.serialNumber.substr(0, 15));
    return f.frame();
}

void SimulatedBms::setSwitch(Switch which, bool on) {
    switch (which) {
        case Switch::Charge: state_.chargeMos = on; break;
        case Switch::Discharge: state_.dischargeMos = on; break;
        case Switch::Balancer: state_.balancer = on; break;
    }
}

bool shareBankCurrent(const std::vector<SimulatedBms*>& packs, double totalA) {
    const bool charging = totalA > 0;
    auto takes = [charging](const SimulatedBms& b) {
        const auto& st = b.state();
        return b.powered() && (charging ? st.chargeMos : st.dischargeMos) && st.resistanceMilliOhm > 0;
    };
    double conductance = 0;
    for (const auto* b : packs)
        if (takes(*b)) conductance += 1.0 / b->state().resistanceMilliOhm;
    if (conductance <= 0 && totalA != 0) return false;
    for (auto* b : packs) {
        auto& st = b->state();
        st.currentA = takes(*b) ? totalA * (1.0 / st.resistanceMilliOhm) / conductance : 0.0;
        b->setLive(false);
    }
    return true;
}

}  // namespace jkbms::sim
