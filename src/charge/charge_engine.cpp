#include "jkbms/charge/charge_engine.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace jkbms::charge {
namespace {

using domain::Alarm;

constexpr double kAbsorptionEntryMarginV = 0.010;  // highest cell within 10 mV of the target
constexpr double kDefaultMaxA = 50;                // nothing known about the BMS's limits

std::string seconds(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}

// A temperature table at the coldest and the warmest sensor: the smaller fraction; 1 without
// sensors.
double temperatureFraction(const Table& table, const domain::BatterySnapshot& s) {
    if (s.temperatures.empty()) return 1;
    auto [lo, hi] = std::minmax_element(s.temperatures.begin(), s.temperatures.end(),
                                        [](const auto& a, const auto& b) { return a.celsius < b.celsius; });
    return std::min(table.at(lo->celsius), table.at(hi->celsius));
}

}  // namespace

std::string_view chargeModeName(ChargeMode mode) {
    switch (mode) {
        case ChargeMode::Bulk: return "Bulk";
        case ChargeMode::Absorption: return "Absorption";
        case ChargeMode::Float: return "Float";
        case ChargeMode::Equalize: return "Equalize";
    }
    return "?";
}

double ChargeEngine::modelRatingA(std::string_view model) {
    // Continuous rating by model (jk-models.md); matched on the part after "JK-" / "JK_".
    static constexpr std::array<std::pair<std::string_view, double>, 24> kRatings = {{
        {"BD4A17S4P", 40}, {"BD4A20S4P", 40}, {"BD4A24S4P", 40}, {"BD6A17S6P", 60}, {"BD6A20S6P", 60},
        {"BD6A24S6P", 60}, {"BD6A17S8P", 80}, {"BD6A20S8P", 80}, {"BD6A24S8P", 80}, {"BD6A20S10P", 100},
        {"BD6A24S10P", 100}, {"B1A17S12P", 120}, {"B1A20S12P", 120}, {"B1A20S15P", 150}, {"B1A24S15P", 150},
        {"B2A24S15P", 150}, {"B2A20S20P", 200}, {"B2A24S20P", 200}, {"BD4A8S4P", 40}, {"B1A8S10P", 100},
        {"B1A8S20P", 200}, {"B2A8S20P", 200}, {"B2A25SRP", 1000}, {"B5A25S60P", 500},
    }};
    for (const auto& [name, amps] : kRatings)
        if (model.find(name) != std::string_view::npos) return amps;
    return 0;
}

domain::ChargeLimits ChargeEngine::step(const domain::BatterySnapshot& s, double dtS) {
    domain::ChargeLimits out;
    const auto stats = s.cellStats();
    if (!stats) return out;  // no cells: nothing to decide on
    dtS = std::max(0.0, dtS);
    const double n = static_cast<double>(s.cellVoltagesV.size());
    if (state_.sinceFullChargeS >= 0) state_.sinceFullChargeS += dtS;
    state_.sinceEqualizeS += dtS;

    std::string modeText;
    out.maxChargeVoltageV = cvl(s, *stats, dtS, modeText) + config_.cvlOffsetV;
    out.batteryLowVoltageV = n * config_.minCellV;
    out.chargeMode = modeText;

    // The maxima: configured, else the BMS's own settings and the model's rating.
    auto maximum = [&](double configured, std::initializer_list<std::optional<double>> known) {
        if (configured > 0) return configured;
        double m = 0;
        for (const auto& k : known)
            if (k && *k > 0) m = m == 0 ? *k : std::min(m, *k);
        const double rating = modelRatingA(s.identity.model);
        if (rating > 0) m = m == 0 ? rating : std::min(m, rating);
        return m > 0 ? m : kDefaultMaxA;
    };
    const double maxCharge = maximum(config_.maxChargeA, {s.settings.maxChargeCurrentA, s.settings.chargeOcpA});
    const double maxDischarge =
        maximum(config_.maxDischargeA, {s.settings.maxDischargeCurrentA, s.settings.dischargeOcpA});
    const Limit charge = chargeLimit(s, *stats, maxCharge);
    const Limit discharge = dischargeLimit(s, *stats, maxDischarge);
    out.maxChargeCurrentA = shape(charge.amps, state_.ccl, state_.cclHoldS, maxCharge, dtS);
    out.maxDischargeCurrentA = shape(discharge.amps, state_.dcl, state_.dclHoldS, maxDischarge, dtS);
    out.chargeLimitation = charge.name;
    out.dischargeLimitation = discharge.name;
    if (state_.sinceFullChargeS >= 0) out.timeSinceFullChargeS = state_.sinceFullChargeS;
    updateWarnings(s, *stats);
    out.warnings = state_.warnings;
    return out;
}

void ChargeEngine::updateWarnings(const domain::BatterySnapshot& s, const domain::CellStats& cells) {
    using domain::Alarm;
    auto& w = state_.warnings;
    // On at `on`, off only once `off` holds (a band between them: no chatter).
    auto latch = [&w](Alarm a, bool on, bool off) {
        if (on) w.set(a);
        else if (off) w.clear(a);
    };
    constexpr double kBandV = 0.05;
    const double target = state_.mode == ChargeMode::Equalize ? config_.equalizeCellV : config_.bulkCellV;
    const double high = std::max(s.settings.cellOvpV.value_or(3.65) - 0.05, target + 0.05);
    latch(Alarm::CellHighVoltage, cells.maxV >= high, cells.maxV < high - kBandV);
    const double low = s.settings.cellUvpV ? std::max(*s.settings.cellUvpV + 0.10, config_.minCellV) : config_.minCellV;
    latch(Alarm::CellLowVoltage, cells.minV <= low, cells.minV > low + kBandV);
    const double n = static_cast<double>(s.cellVoltagesV.size());
    latch(Alarm::LowVoltage, cells.sumV <= n * config_.minCellV, cells.sumV > n * (config_.minCellV + kBandV));
    if (config_.lowSocPercent > 0 && s.socPercent)
        latch(Alarm::LowSoc, *s.socPercent <= config_.lowSocPercent, *s.socPercent >= config_.lowSocPercent + 5);
    else
        w.clear(Alarm::LowSoc);
}

double ChargeEngine::cvl(const domain::BatterySnapshot& s, const domain::CellStats& stats, double dtS,
                         std::string& modeText) {
    const double n = static_cast<double>(s.cellVoltagesV.size());
    const double floor = n * config_.minCellV;
    EngineState& st = state_;

    // Spread with hysteresis (readings are whole millivolts: compare with a tolerance).
    constexpr double kEps = 1e-6;
    if (stats.deltaV <= config_.maxCellSpreadV + kEps) st.spreadOk = true;
    else if (stats.deltaV > config_.maxCellSpreadV + config_.spreadHysteresisV + kEps) st.spreadOk = false;

    // Transitions, on the cells (never on the pack-voltage reading alone).
    switch (st.mode) {
        case ChargeMode::Bulk:
            if (stats.maxV >= config_.bulkCellV - kAbsorptionEntryMarginV) {
                st.mode = ChargeMode::Absorption;
                st.absorptionS = st.absorptionTotalS = st.tailS = 0;
            }
            break;
        case ChargeMode::Absorption: {
            st.absorptionTotalS += dtS;
            if (st.spreadOk) st.absorptionS += dtS;
            const double capacity = s.fullCapacityAh.value_or(s.settings.nominalCapacityAh.value_or(0));
            const double tailA = config_.tailCurrentC * capacity;
            const bool belowTail = capacity > 0 && s.currentA && *s.currentA < tailA;
            st.tailS = belowTail && st.spreadOk ? st.tailS + dtS : 0;
            // Full: the timer ran out, or the current tailed off with balanced cells, or - for
            // a pack whose spread never closes - the whole absorption time passed at tail current.
            if (st.absorptionS >= config_.absorptionMaxTimeS || st.tailS >= config_.tailTimeS ||
                (st.absorptionTotalS >= config_.absorptionMaxTimeS && belowTail)) {
                st.mode = ChargeMode::Float;
                st.sinceFullChargeS = 0;
            }
            break;
        }
        case ChargeMode::Float:
            if ((s.socPercent && *s.socPercent < config_.rebulkSocPercent) || stats.deltaV > config_.rebulkCellSpreadV) {
                st.mode = ChargeMode::Bulk;
                st.correctionV = 0;
            } else if (config_.equalizeEveryDays > 0 && st.sinceEqualizeS >= config_.equalizeEveryDays * 86400) {
                st.mode = ChargeMode::Equalize;
                st.absorptionTotalS = 0;
                st.correctionV = 0;
            }
            break;
        case ChargeMode::Equalize:
            // The equalize target for the absorption time, then Float again.
            st.absorptionTotalS += dtS;
            if (st.absorptionTotalS >= config_.absorptionMaxTimeS) {
                st.mode = ChargeMode::Float;
                st.sinceEqualizeS = 0;
                st.sinceFullChargeS = 0;
            }
            break;
    }

    double cvl = 0;
    if (st.mode == ChargeMode::Float) {
        // Slew down to the float target; never a jump.
        const double target = n * config_.floatCellV;
        const double from = st.cvlV > 0 ? st.cvlV : target;
        cvl = from > target ? std::max(target, from - config_.floatTransitionVps * dtS) : target;
        modeText = "Float";
    } else {
        // PI on the highest cell, per cell, normalised to seconds.
        const double target = st.mode == ChargeMode::Equalize ? config_.equalizeCellV : config_.bulkCellV;
        const double error = target - stats.maxV;  // > 0: below target
        const double lowest = config_.minCellV - target;
        double correction = config_.regulatorKp * error + st.correctionV;
        const bool clampedHigh = correction >= 0;
        const bool clampedLow = correction <= lowest;
        // Anti-windup: integrate only while the output is free, or when the error leads it back.
        if ((!clampedHigh || error < 0) && (!clampedLow || error > 0))
            st.correctionV = std::clamp(st.correctionV + config_.regulatorKiPerS * error * dtS, lowest, 0.0);
        correction = std::clamp(config_.regulatorKp * error + st.correctionV, lowest, 0.0);
        double wanted = n * (target + correction);
        // Down at once; up at most recovery V/s.
        if (st.cvlV > 0 && wanted > st.cvlV) wanted = std::min(wanted, st.cvlV + config_.recoveryVps * dtS);
        cvl = wanted;
        const bool limiting = cvl < n * target - 0.010;
        if (st.mode == ChargeMode::Absorption) {
            modeText = "Absorption " + seconds(std::max(0.0, config_.absorptionMaxTimeS - st.absorptionS)) + " s left";
        } else if (st.mode == ChargeMode::Equalize) {
            modeText = "Equalize " + seconds(std::max(0.0, config_.absorptionMaxTimeS - st.absorptionTotalS)) + " s left";
        } else {
            modeText = "Bulk";
        }
        if (limiting) modeText += " (cell " + std::to_string(stats.maxIndex + 1) + " limiting)";
    }
    cvl = std::max(cvl, floor);
    st.cvlV = cvl;
    return cvl;
}

ChargeEngine::Limit ChargeEngine::chargeLimit(const domain::BatterySnapshot& s, const domain::CellStats& stats,
                                              double maxA) const {
    Limit best{maxA, "Max charge current"};
    auto consider = [&best](double amps, std::string name) {
        if (amps < best.amps) best = Limit{std::max(0.0, amps), std::move(name)};
    };
    consider(maxA * config_.chargeCellV.at(stats.maxV), "Cell voltage");
    const double tempFraction = temperatureFraction(config_.chargeTemperatureC, s);
    if (!s.temperatures.empty()) consider(maxA * tempFraction, "Temperature");
    if (s.mosfetTemperatureC) consider(maxA * config_.mosfetTemperatureC.at(*s.mosfetTemperatureC), "MOSFET temperature");
    if (!config_.chargeSoc.points.empty() && s.socPercent) consider(maxA * config_.chargeSoc.at(*s.socPercent), "SoC");
    if (s.switches.chargeMos == false) consider(-1, "BMS charge switch off");
    if (s.alarms.has(Alarm::CellHighVoltage) || s.alarms.has(Alarm::HighVoltage) ||
        s.alarms.has(Alarm::HighChargeCurrent) || s.alarms.has(Alarm::HighChargeTemperature) ||
        s.alarms.has(Alarm::LowChargeTemperature) || s.alarms.has(Alarm::InternalFailure))
        consider(-1, "BMS alarm");
    // Cold pack with its heater on: let the chargers feed the heater, not the cells.
    if (config_.heaterPassthrough && s.heating.value_or(false) && tempFraction <= 0 &&
        best.name == "Temperature") {
        const double heaterA = s.heatingCurrentA && *s.heatingCurrentA > 0 ? *s.heatingCurrentA : config_.heaterMaxA;
        best = Limit{std::min({heaterA, config_.heaterMaxA, maxA}), "Heater"};
    }
    return best;
}

ChargeEngine::Limit ChargeEngine::dischargeLimit(const domain::BatterySnapshot& s, const domain::CellStats& stats,
                                                 double maxA) const {
    Limit best{maxA, "Max discharge current"};
    auto consider = [&best](double amps, std::string name) {
        if (amps < best.amps) best = Limit{std::max(0.0, amps), std::move(name)};
    };
    consider(maxA * config_.dischargeCellV.at(stats.minV), "Cell voltage");
    if (!s.temperatures.empty())
        consider(maxA * temperatureFraction(config_.dischargeTemperatureC, s), "Temperature");
    if (s.mosfetTemperatureC) consider(maxA * config_.mosfetTemperatureC.at(*s.mosfetTemperatureC), "MOSFET temperature");
    if (!config_.dischargeSoc.points.empty() && s.socPercent) consider(maxA * config_.dischargeSoc.at(*s.socPercent), "SoC");
    if (s.switches.dischargeMos == false) consider(-1, "BMS discharge switch off");
    if (s.alarms.has(Alarm::CellLowVoltage) || s.alarms.has(Alarm::LowVoltage) ||
        s.alarms.has(Alarm::HighDischargeCurrent) || s.alarms.has(Alarm::HighTemperature) ||
        s.alarms.has(Alarm::LowTemperature) || s.alarms.has(Alarm::InternalFailure))
        consider(-1, "BMS alarm");
    return best;
}

double ChargeEngine::shape(double target, double& last, double& holdS, double maxA, double dtS) const {
    // A reduction: at once, whatever its size. (holdS restarts: see below.)
    if (last < 0 || target < last) {
        last = target;
        holdS = 0;
        return last;
    }
    // An increase only once the target has stayed above the hysteresis band for recovery_hold
    // without interruption; then rate-limited. Cell voltages move with the current's IR drop
    // and hover around table breakpoints, so without this the limit and the load chase each
    // other (flapping). A reduction is never delayed by it.
    if (target > last + config_.hysteresisFraction * maxA) holdS += dtS;
    else holdS = 0;
    if (holdS >= config_.recoveryHoldS) last = std::min(target, last + config_.increaseAps * dtS);
    return last;
}

}  // namespace jkbms::charge
