// The charge engine in closed loop with a pack plant (charge-control.md section 7,
// tests/support/pack_plant.hpp): cells with different capacities, resistances and
// polarisation, a JK that reads with offsets and noise and protects itself, DVCC's 3 s
// sample-and-hold, chargers with a lagging voltage loop, clouds, loads that follow DCL.
//
// The engine is driven as the daemon drives it: one step per reading that arrives, dt from the
// reading times; the limits are published rounded as Victron shows them.
//
// Matrix (ClosedLoop/Matrix.*): every cells x chemistry x poll at 0.5 C, plus 0.2 C and 1 C at
// 16S (every chemistry and poll; JKBMS_CLOSED_LOOP_FULL=1: all 81 combinations): a charge from
// 20-30 % to Float held 30 min, and a discharge from 30 % at the same rate to the BMS's UVP.
// Scenarios (ClosedLoopScenario): 16S, LFP unless named.
//
// Definitions used by the assertions:
//  - OVP margin: the highest TRUE cell voltage (physics resolution) <= cell OVP - 50 mV.
//  - Float: the engine's mode text starts with "Float"; true pack SoC (stored Ah / capacity) at
//    the first Float step >= 97 %; afterwards no step in "Bulk" while the true SoC >= 85 %
//    (only a real discharge may send it back).
//  - Flapping: direction changes of the published CCL (DCL) ignoring moves smaller than 2 % of
//    the BMS's maximum (a zig-zag filter), <= 4 per hour of run (at least 4).
//  - Settled: from the later of (a) 120 s after the regulator first limits (the start of the
//    first 30 s stretch in which the published CVL stays >= 20 mV below its highest value so far
//    in this charge) and (b) the true highest cell having stayed within +-10 mV of the
//    chemistry's bulk target (3.45 / 4.10 / 2.65 V) for 60 s; until the first Float step. A
//    charge that reaches Float without settling fails.
//  - CVL ripple (a limit cycle, a saw-tooth): the largest peak-to-peak of the published CVL
//    within any 60 s window of the settled span with that window's least-squares line removed;
//    < 50 mV (every pack size). The line is CVL following the pack (the other cells rising
//    towards the top one, the top cell creeping as the balancer works), not an oscillation; its
//    size is bounded separately: the raw peak-to-peak within any such window < 120 mV (CVL
//    never moves faster than 2 mV/s once settled). Windows that overlap the start or end of
//    a cloud, or the 120 s after it, are skipped: following a disturbance is not ripple.
//  - Discharge: the published DCL reaches 0 and no TRUE cell ever reaches the BMS's UVP; the
//    BMS never trips on UVP; and the discharge used the battery: when DCL first reaches 0 the
//    weakest cell holds <= 10 % (DCL = 0 at 30 % proves nothing).
//  - The BMS never opens its charge FET on cell OVP.
//
// JKBMS_CLOSED_LOOP_CSV=<dir> writes one CSV per run (tests/closed_loop/plot_charge_cycle.py).

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "jkbms/charge/charge_engine.hpp"
#include "support/pack_plant.hpp"

namespace jkbms::charge {
namespace {

namespace plant = jkbms::charge::testing;
using plant::Chemistry;

constexpr double kOvpMarginV = 0.050;
constexpr double kFloatMinSoc = 0.97;
constexpr double kRealDischargeSoc = 0.85;
constexpr double kFlapBandFraction = 0.02;
constexpr double kFlapsPerHour = 4;
constexpr double kRegulatingBelowV = 0.020;
constexpr double kRegulatingForS = 30;
constexpr double kSettleAfterS = 120;
constexpr double kSettledBandV = 0.010;  // true highest cell around the chemistry's bulk target
constexpr double kSettledHoldS = 60;
constexpr double kDischargeMaxSocLeft = 0.10;  // a discharge to the cut-off takes the weakest cell below 10 %
constexpr double kDisturbanceQuietS = 120;     // ripple windows skip a cloud's start or end and 120 s after it
constexpr double kRippleWindowS = 60;
constexpr double kRippleMaxV = 0.050;  // trend removed
constexpr double kTrendMaxV = 0.120;   // raw, within a minute (2 mV/s)
constexpr double kUtpMarginC = 2;  // CCL stays 0 until the coldest sensor is this far above charge UTP

std::string modeOf(const std::string& text) {
    for (const char* m : {"Bulk", "Absorption", "Float", "Equalize"})
        if (text.rfind(m, 0) == 0) return m;
    return text.empty() ? "?" : text;
}

// "Absorption 512 s left" -> 512, "Absorption 15 min left" -> 900 (resolution: timerUnit).
// (No std::regex: GCC 12 warns falsely inside it in the sanitizer build.)
std::optional<double> secondsLeft(const std::string& text, double* timerUnit = nullptr) {
    const std::size_t left = text.find(" left");
    if (left == std::string::npos) return std::nullopt;
    std::size_t unitStart = text.rfind(' ', left - 1);
    if (unitStart == std::string::npos) return std::nullopt;
    const std::string unitText = text.substr(unitStart + 1, left - unitStart - 1);
    const double unit = unitText == "s" ? 1 : unitText == "min" ? 60 : unitText == "h" ? 3600 : 0;
    if (unit == 0 || unitStart == 0) return std::nullopt;
    std::size_t numberStart = unitStart;
    while (numberStart > 0 && (std::isdigit(static_cast<unsigned char>(text[numberStart - 1])) != 0 ||
                               text[numberStart - 1] == '.'))
        --numberStart;
    if (numberStart == unitStart) return std::nullopt;
    if (timerUnit != nullptr) *timerUnit = std::max(*timerUnit, unit);
    return std::stod(text.substr(numberStart, unitStart - numberStart)) * unit;
}

// Direction changes, ignoring moves smaller than band (a zig-zag filter).
class ZigZag {
public:
    explicit ZigZag(double band) : band_(band) {}
    void add(double v) {
        if (!started_) {
            ref_ = v;
            started_ = true;
            return;
        }
        if (dir_ == 0) {
            if (v - ref_ > band_)
                dir_ = 1, ref_ = v;
            else if (ref_ - v > band_)
                dir_ = -1, ref_ = v;
        } else if (dir_ > 0) {
            if (v > ref_)
                ref_ = v;
            else if (ref_ - v > band_)
                dir_ = -1, ref_ = v, ++changes_;
        } else {
            if (v < ref_)
                ref_ = v;
            else if (v - ref_ > band_)
                dir_ = 1, ref_ = v, ++changes_;
        }
    }
    int changes() const { return changes_; }

private:
    double band_, ref_ = 0;
    int dir_ = 0, changes_ = 0;
    bool started_ = false;
};

int allowedFlaps(double seconds) { return static_cast<int>(std::ceil(kFlapsPerHour * std::max(1.0, seconds / 3600))); }

// The daemon around the engine: a step per reading, publish, metrics, CSV.
class Loop {
public:
    Loop(std::string runName, const plant::PlantOptions& options)
        : name(std::move(runName)),
          plant(options),
          csv_(this->name),
          cclFlaps_(kFlapBandFraction * *plant.settings().maxChargeCurrentA),
          dclFlaps_(kFlapBandFraction * *plant.settings().maxDischargeCurrentA) {
        engine_ = std::make_unique<ChargeEngine>(ChargeConfig{});
    }

    // One poll: false when the reading was lost (no step).
    bool poll() {
        auto r = plant.nextReading();
        if (!r) {
            ++lostReadings;
            return false;
        }
        const double dt = lastStepT_ < 0 ? 0 : plant.time() - lastStepT_;
        lastStepT_ = plant.time();
        limits = engine_->step(*r, dt);
        reading = *r;
        plant.publish(limits);
        ++steps;
        csv_.row(plant::csvRow(plant, &reading, limits));
        observe();
        return true;
    }

    // The daemon restarts: the state is saved, a new engine restores it, readings stop for gapS.
    void restartDaemon(double gapS) {
        const EngineState saved = engine_->state();
        plant.runWithoutPolls(gapS);
        engine_ = std::make_unique<ChargeEngine>(ChargeConfig{});
        engine_->restore(saved);
        lastStepT_ = -1;
        ++restarts;
    }

    ChargeEngine& engine() { return *engine_; }
    double t() const { return plant.time(); }
    std::string mode() const { return modeOf(limits.chargeMode); }
    double cvl() const { return limits.maxChargeVoltageV.value_or(0); }
    double ccl() const { return limits.maxChargeCurrentA.value_or(-1); }
    double dcl() const { return limits.maxDischargeCurrentA.value_or(-1); }

    // The CVL ripple over the settled span (NaN: no settled span).
    double ripple() const {
        if (settledAt < 0) return NAN;
        const double end = floatAt >= 0 ? floatAt : 1e18;
        double worst = 0;
        bool any = false;
        for (std::size_t i = 0; i < cvlSeries_.size(); ++i) {
            const double from = cvlSeries_[i].first;
            if (from < settledAt || from >= end) continue;
            if (std::any_of(disturbances_.begin(), disturbances_.end(),
                            [from](double d) { return from + kRippleWindowS >= d && from <= d + kDisturbanceQuietS; }))
                continue;
            double lo = cvlSeries_[i].second, hi = lo;
            for (std::size_t j = i;
                 j < cvlSeries_.size() && cvlSeries_[j].first <= cvlSeries_[i].first + kRippleWindowS &&
                 cvlSeries_[j].first < end;
                 ++j) {
                lo = std::min(lo, cvlSeries_[j].second);
                hi = std::max(hi, cvlSeries_[j].second);
            }
            worst = std::max(worst, hi - lo);
            any = true;
        }
        return any ? worst : NAN;
    }
    // The same windows with each window's least-squares line removed: oscillation only.
    double detrendedRipple() const {
        if (settledAt < 0) return NAN;
        const double end = floatAt >= 0 ? floatAt : 1e18;
        double worst = NAN;
        for (std::size_t i = 0; i < cvlSeries_.size(); ++i) {
            const double from = cvlSeries_[i].first;
            if (from < settledAt || from >= end) continue;
            if (std::any_of(disturbances_.begin(), disturbances_.end(),
                            [from](double d) { return from + kRippleWindowS >= d && from <= d + kDisturbanceQuietS; }))
                continue;
            std::size_t j = i;
            double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
            for (; j < cvlSeries_.size() && cvlSeries_[j].first <= from + kRippleWindowS && cvlSeries_[j].first < end;
                 ++j) {
                const double x = cvlSeries_[j].first - from, y = cvlSeries_[j].second;
                n += 1, sx += x, sy += y, sxx += x * x, sxy += x * y;
            }
            const double den = n * sxx - sx * sx;
            const double slope = den > 0 ? (n * sxy - sx * sy) / den : 0;
            const double icpt = (sy - slope * sx) / n;
            double lo = 1e9, hi = -1e9;
            for (std::size_t k = i; k < j; ++k) {
                const double r = cvlSeries_[k].second - (icpt + slope * (cvlSeries_[k].first - from));
                lo = std::min(lo, r);
                hi = std::max(hi, r);
            }
            worst = std::isnan(worst) ? hi - lo : std::max(worst, hi - lo);
        }
        return worst;
    }
    int cclChanges() const { return cclFlaps_.changes(); }
    int dclChanges() const { return dclFlaps_.changes(); }

    std::string name;
    plant::PackPlant plant;
    domain::ChargeLimits limits;
    domain::BatterySnapshot reading;
    int steps = 0, lostReadings = 0, restarts = 0;
    double absorptionAt = -1, regulatingAt = -1, settledAt = -1, floatAt = -1;
    double socAtFloat = NAN, minCellSocAtFloat = NAN, maxCellSocAtFloat = NAN;
    double bulkAfterFloatAt = -1, socAtBulkAfterFloat = NAN;
    double dclZeroAt = -1, minCellAtDclZero = NAN, minCellSocAtDclZero = NAN;
    std::string dclZeroLimitation;
    double topMinV = 1e9, topMaxV = -1e9;  // true highest cell over the settled span
    std::string firstModeAfterRestart;
    double bulkAfterRestartAt = -1;

private:
    void observe() {
        const std::string m = mode();
        if (restarts > 0 && firstModeAfterRestart.empty()) firstModeAfterRestart = limits.chargeMode;
        if (restarts > 0 && floatAt < 0 && m == "Bulk" && bulkAfterRestartAt < 0) bulkAfterRestartAt = t();
        if (m == "Absorption" && absorptionAt < 0) absorptionAt = t();
        if (floatAt < 0) {
            maxCvl_ = std::max(maxCvl_, cvl());
            // The regulator limits: CVL 20 mV or more below its highest value so far, for 30 s
            // on end (a single noisy reading does not count).
            if (cvl() <= maxCvl_ - kRegulatingBelowV) {
                if (belowSince_ < 0) belowSince_ = t();
            } else {
                belowSince_ = -1;
            }
            if (regulatingAt < 0 && belowSince_ >= 0 && t() - belowSince_ >= kRegulatingForS)
                regulatingAt = belowSince_;
            // Settled: 120 s after the regulator first limits AND once the true highest cell has
            // stayed within +-10 mV of the chemistry's bulk target for 60 s.
            if (regulatingAt >= 0) {
                const bool near = std::fabs(plant.maxTrueCellV() - plant.profile().bulkCellV) <= kSettledBandV;
                nearSince_ = near ? (nearSince_ < 0 ? t() : nearSince_) : -1;
                if (settledAt < 0 && t() >= regulatingAt + kSettleAfterS && nearSince_ >= 0 &&
                    t() - nearSince_ >= kSettledHoldS)
                    settledAt = t();
            }
            if (settledAt >= 0 && m != "Float") {
                topMinV = std::min(topMinV, plant.maxTrueCellV());
                topMaxV = std::max(topMaxV, plant.maxTrueCellV());
            }
            cvlSeries_.emplace_back(t(), cvl());
            if (lastSolar_ >= 0 && plant.solarFraction() != lastSolar_) disturbances_.push_back(t());
            lastSolar_ = plant.solarFraction();
        }
        if (m == "Float" && floatAt < 0) {
            floatAt = t();
            socAtFloat = plant.trueSoc();
            minCellSocAtFloat = plant.minCellSoc();
            maxCellSocAtFloat = plant.maxCellSoc();
        }
        if (floatAt >= 0 && m == "Bulk" && plant.trueSoc() >= kRealDischargeSoc && bulkAfterFloatAt < 0) {
            bulkAfterFloatAt = t();
            socAtBulkAfterFloat = plant.trueSoc();
        }
        if (limits.maxDischargeCurrentA && *limits.maxDischargeCurrentA <= 0 && dclZeroAt < 0) {
            dclZeroAt = t();
            minCellAtDclZero = plant.minTrueCellV();
            minCellSocAtDclZero = plant.minCellSoc();
            dclZeroLimitation = limits.dischargeLimitation;
        }
        if (limits.maxChargeCurrentA) cclFlaps_.add(*limits.maxChargeCurrentA);
        if (limits.maxDischargeCurrentA) dclFlaps_.add(*limits.maxDischargeCurrentA);
    }

    std::unique_ptr<ChargeEngine> engine_;
    plant::CsvLog csv_;
    ZigZag cclFlaps_, dclFlaps_;
    double lastStepT_ = -1;
    double maxCvl_ = 0, belowSince_ = -1, lastSolar_ = -1, nearSince_ = -1;
    std::vector<double> disturbances_;
    std::vector<std::pair<double, double>> cvlSeries_;
};

std::string fmt(double v, int precision = 3) {
    if (std::isnan(v)) return "n/a";
    std::ostringstream o;
    o << std::fixed << std::setprecision(precision) << v;
    return o.str();
}

double physicsStepFor(double pollS) { return pollS <= 0.5 ? 0.1 : pollS <= 1 ? 0.2 : 0.25; }

double capacityFor(int cells) { return cells == 8 ? 100 : cells == 16 ? 280 : 50; }

plant::PlantOptions optionsFor(int cells, Chemistry chem, double pollS, double rateC, std::uint32_t seed) {
    plant::PlantOptions o;
    o.seed = seed;
    o.cells = cells;
    o.chemistry = chem;
    o.capacityAh = capacityFor(cells);
    o.pollS = pollS;
    o.physicsStepS = physicsStepFor(pollS);
    o.chargerMaxA = rateC * o.capacityAh;
    o.startSoc = 0.20 + 0.10 * static_cast<double>(seed % 11) / 10.0;
    // Charger settling 5..15 s and a shortfall 0..0.1 V by seed (the 0.3 V case is a scenario).
    o.chargerSettleS = 5 + static_cast<double>(seed % 3) * 5;
    o.chargerShortfallV = 0.05 * static_cast<double>(seed % 3);
    return o;
}

// ---- Charge ------------------------------------------------------------------------------------

struct ChargeSpec {
    ChargeSpec(std::string runName, plant::PlantOptions plantOptions)
        : name(std::move(runName)), options(std::move(plantOptions)) {}
    std::string name;
    plant::PlantOptions options;
    double holdFloatS = 1800;
    double extraTimeoutS = 0;
    bool checkRipple = true;
    std::function<void(Loop&)> hook;  // after every poll (events, extra checks)
};

void runCharge(Loop& loop, const ChargeSpec& spec) {
    const auto& o = spec.options;
    const double timeout =
        (1 - o.startSoc) / (o.chargerMaxA / o.capacityAh) * 3600 * 1.5 + 5400 + spec.holdFloatS + spec.extraTimeoutS;
    while (loop.t() < timeout) {
        loop.poll();
        if (spec.hook) spec.hook(loop);
        if (loop.floatAt >= 0 && loop.t() - loop.floatAt >= spec.holdFloatS) break;
    }
}

void expectCharge(const Loop& loop, const ChargeSpec& spec) {
    SCOPED_TRACE(loop.name);
    const auto& p = loop.plant;
    const double ovp = *p.settings().cellOvpV;
    EXPECT_LE(p.maxTrueCellSeenV(), ovp - kOvpMarginV)
        << loop.name << ": highest true cell " << fmt(p.maxTrueCellSeenV()) << " V, OVP " << ovp << " V";
    EXPECT_EQ(p.trips().cellOvp, 0) << loop.name << ": the BMS opened its charge FET on cell OVP";
    EXPECT_GE(loop.floatAt, 0) << loop.name << ": Float not reached in " << fmt(loop.t() / 3600, 2) << " h; last mode '"
                               << loop.limits.chargeMode << "', true SoC " << fmt(p.trueSoc() * 100, 1) << " %, CVL "
                               << fmt(loop.cvl(), 2) << " V, current " << fmt(p.currentA(), 1) << " A";
    if (loop.floatAt >= 0) {
        EXPECT_GE(loop.socAtFloat, kFloatMinSoc)
            << loop.name << ": Float entered at true SoC " << fmt(loop.socAtFloat * 100, 1) << " % (cells "
            << fmt(loop.minCellSocAtFloat * 100, 1) << ".." << fmt(loop.maxCellSocAtFloat * 100, 1) << " %) at "
            << fmt(loop.floatAt / 60, 1) << " min";
    }
    EXPECT_LT(loop.bulkAfterFloatAt, 0) << loop.name << ": back to Bulk at " << fmt(loop.bulkAfterFloatAt / 60, 1)
                                        << " min with true SoC " << fmt(loop.socAtBulkAfterFloat * 100, 1)
                                        << " % (no real discharge)";
    EXPECT_LE(loop.cclChanges(), allowedFlaps(loop.t())) << loop.name << ": CCL changed direction " << loop.cclChanges()
                                                         << " times in " << fmt(loop.t() / 3600, 2) << " h";
    if (loop.floatAt >= 0 && loop.regulatingAt >= 0 && loop.regulatingAt < loop.floatAt) {
        EXPECT_TRUE(loop.settledAt >= 0 && loop.settledAt < loop.floatAt)
            << loop.name << ": the regulator never settled (true highest cell within " << kSettledBandV * 1000
            << " mV of " << p.profile().bulkCellV << " V for " << kSettledHoldS << " s) between limiting at "
            << fmt(loop.regulatingAt / 60, 1) << " min and Float at " << fmt(loop.floatAt / 60, 1) << " min";
    }
    if (spec.checkRipple) {
        const double d = loop.detrendedRipple();
        if (!std::isnan(d)) {
            EXPECT_LT(d, kRippleMaxV) << loop.name << ": CVL ripple " << fmt(d * 1000, 0)
                                      << " mV peak-to-peak within a minute after settling (trend removed)";
        }
        const double r = loop.ripple();
        if (!std::isnan(r)) {
            EXPECT_LT(r, kTrendMaxV) << loop.name << ": CVL moved " << fmt(r * 1000, 0)
                                     << " mV within a minute after settling";
        }
    }
    std::cout << "[charge] " << loop.name << ": float "
              << (loop.floatAt >= 0 ? fmt(loop.floatAt / 60, 1) + " min" : "NEVER") << " at SoC "
              << fmt(loop.socAtFloat * 100, 1) << " % | absorption " << fmt(loop.absorptionAt / 60, 1)
              << " min | max cell " << fmt(p.maxTrueCellSeenV()) << " V (limit " << fmt(ovp - kOvpMarginV)
              << ") | settled " << fmt(loop.settledAt / 60, 1) << " min | ripple " << fmt(loop.ripple() * 1000, 0)
              << " mV raw (detrended " << fmt(loop.detrendedRipple() * 1000, 0) << ") | top cell settled "
              << (loop.settledAt >= 0 ? fmt(loop.topMinV) + ".." + fmt(loop.topMaxV) + " V" : "n/a")
              << " | CCL changes " << loop.cclChanges() << "/" << allowedFlaps(loop.t()) << " | OVP trips "
              << p.trips().cellOvp << " | rebulk " << (loop.bulkAfterFloatAt >= 0 ? "YES" : "no") << " | end "
              << fmt(loop.t() / 3600, 2) << " h '" << loop.limits.chargeMode << "' SoC " << fmt(p.trueSoc() * 100, 1)
              << " % BMS " << p.bmsSocPercent() << " % | steps " << loop.steps << " lost " << loop.lostReadings << '\n';
}

// ---- Discharge ---------------------------------------------------------------------------------

void runDischarge(Loop& loop, double rateC) {
    const auto& o = loop.plant.options();
    loop.plant.setSolar(false);
    loop.plant.setInverterDemand(rateC * o.capacityAh);
    const double timeout = o.startSoc / rateC * 3600 * 1.5 + 3600;
    double zeroSince = -1, fetOffSince = -1;
    while (loop.t() < timeout) {
        if (!loop.poll()) continue;
        zeroSince = loop.dcl() <= 0 ? (zeroSince < 0 ? loop.t() : zeroSince) : -1;
        fetOffSince = !loop.plant.dischargeFet() ? (fetOffSince < 0 ? loop.t() : fetOffSince) : -1;
        if (zeroSince >= 0 && loop.t() - zeroSince >= 120) break;
        if (fetOffSince >= 0 && loop.t() - fetOffSince >= 60) break;
    }
}

void expectDischarge(const Loop& loop) {
    SCOPED_TRACE(loop.name);
    const auto& p = loop.plant;
    const double uvp = *p.settings().cellUvpV;
    EXPECT_GE(loop.dclZeroAt, 0) << loop.name << ": DCL never reached 0 (last " << fmt(loop.dcl(), 1) << " A, '"
                                 << loop.limits.dischargeLimitation << "', lowest true cell " << fmt(p.minTrueCellV())
                                 << " V, UVP " << uvp << " V)";
    EXPECT_GT(p.minTrueCellSeenV(), uvp) << loop.name << ": a true cell reached " << fmt(p.minTrueCellSeenV())
                                         << " V, at or below the BMS's UVP " << uvp << " V";
    EXPECT_EQ(p.trips().cellUvp, 0) << loop.name << ": the BMS opened its discharge FET on cell UVP";
    if (loop.dclZeroAt >= 0) {
        EXPECT_LE(loop.minCellSocAtDclZero, kDischargeMaxSocLeft)
            << loop.name << ": DCL 0 at " << fmt(loop.dclZeroAt / 60, 1) << " min with the weakest cell still at "
            << fmt(loop.minCellSocAtDclZero * 100, 1) << " % (its voltage " << fmt(loop.minCellAtDclZero)
            << " V; limiter '" << loop.dclZeroLimitation << "')";
    }
    EXPECT_LE(loop.dclChanges(), allowedFlaps(loop.t())) << loop.name << ": DCL changed direction " << loop.dclChanges()
                                                         << " times in " << fmt(loop.t() / 3600, 2) << " h";
    std::cout << "[discharge] " << loop.name << ": DCL 0 at "
              << (loop.dclZeroAt >= 0 ? fmt(loop.dclZeroAt / 60, 1) + " min" : "NEVER") << " (lowest cell then "
              << fmt(loop.minCellAtDclZero) << " V, '" << loop.dclZeroLimitation << "', weakest cell "
              << fmt(loop.minCellSocAtDclZero * 100, 1) << " %) | lowest true cell " << fmt(p.minTrueCellSeenV())
              << " V (UVP " << uvp << ") | UVP trips " << p.trips().cellUvp << " | DCL changes " << loop.dclChanges()
              << "/" << allowedFlaps(loop.t()) << " | end SoC " << fmt(p.trueSoc() * 100, 1) << " % | steps "
              << loop.steps << '\n';
}

// ---- The matrix ------------------------------------------------------------------------------------

struct MatrixCase {
    int cells;
    Chemistry chemistry;
    double pollS;
    double rateC;
};

std::string caseName(const MatrixCase& c) {
    std::ostringstream o;
    o << plant::chemistryName(c.chemistry) << '_' << c.cells << "S_poll"
      << (c.pollS < 1 ? "0p5" : std::to_string(static_cast<int>(c.pollS))) << "s_"
      << (c.rateC == 0.2   ? "0p2"
          : c.rateC == 0.5 ? "0p5"
                           : "1p0")
      << 'C';
    return o.str();
}

std::uint32_t seedOf(const MatrixCase& c) {
    return static_cast<std::uint32_t>(c.cells * 1000 + static_cast<int>(c.chemistry) * 100 +
                                      static_cast<int>(c.pollS * 10) + static_cast<int>(c.rateC * 10) * 7);
}

// Pruned for CI time: every cells x chemistry x poll at 0.5 C, and every rate at 16S (45 cases).
// JKBMS_CLOSED_LOOP_FULL=1 runs all 81.
std::vector<MatrixCase> matrix() {
    const char* full = std::getenv("JKBMS_CLOSED_LOOP_FULL");
    const bool all = full != nullptr && *full != '\0' && *full != '0';
    std::vector<MatrixCase> out;
    for (Chemistry chem : {Chemistry::Lfp, Chemistry::Nmc, Chemistry::Lto})
        for (int cells : {8, 16, 24})
            for (double poll : {0.5, 1.0, 5.0})
                for (double rate : {0.2, 0.5, 1.0})
                    if (all || rate == 0.5 || cells == 16) out.push_back({cells, chem, poll, rate});
    return out;
}

class Matrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(Matrix, ChargeToFloat) {
    const MatrixCase c = GetParam();
    ChargeSpec spec{"charge_" + caseName(c), optionsFor(c.cells, c.chemistry, c.pollS, c.rateC, seedOf(c))};
    Loop loop(spec.name, spec.options);
    runCharge(loop, spec);
    expectCharge(loop, spec);
}

TEST_P(Matrix, DischargeToUvp) {
    const MatrixCase c = GetParam();
    auto o = optionsFor(c.cells, c.chemistry, c.pollS, c.rateC, seedOf(c) + 1);
    o.startSoc = 0.30;
    o.clouds = false;
    Loop loop("discharge_" + caseName(c), o);
    runDischarge(loop, c.rateC);
    expectDischarge(loop);
}

INSTANTIATE_TEST_SUITE_P(ClosedLoop, Matrix, ::testing::ValuesIn(matrix()),
                         [](const ::testing::TestParamInfo<MatrixCase>& p) { return caseName(p.param); });

// ---- Scenarios (16S) -----------------------------------------------------------------------------

plant::PlantOptions scenario(Chemistry chem = Chemistry::Lfp, double pollS = 1, std::uint32_t seed = 7) {
    auto o = optionsFor(16, chem, pollS, 0.5, seed);
    o.chargerShortfallV = 0;
    o.chargerSettleS = 10;
    o.startSoc = 0.30;
    return o;
}

class ChargerShortOfCvl : public ::testing::TestWithParam<Chemistry> {};

TEST_P(ChargerShortOfCvl, StillReachesFloat) {
    auto o = scenario(GetParam());
    o.chargerShortfallV = 0.3;
    ChargeSpec spec{std::string("scenario_short_0p3V_") + std::string(plant::chemistryName(GetParam())), o};
    Loop loop(spec.name, o);
    runCharge(loop, spec);
    expectCharge(loop, spec);
}

INSTANTIATE_TEST_SUITE_P(ClosedLoopScenario, ChargerShortOfCvl,
                         ::testing::Values(Chemistry::Lfp, Chemistry::Nmc, Chemistry::Lto),
                         [](const auto& p) { return std::string(plant::chemistryName(p.param)); });

TEST(ClosedLoopScenario, ChargeFetOffMidAbsorption) {
    auto o = scenario();
    ChargeSpec spec{"scenario_fet_off_mid_absorption", o};
    spec.checkRipple = false;  // the block and the restart of the charge are disturbances
    double offAt = -1, onAt = -1;
    bool floatWhileOff = false, cclWhileOff = false;
    std::optional<double> leftAtOff, leftMinWhileOff;
    double timerUnit = 1;
    std::string textAtOff;
    std::optional<double> sinceFullAtOff;
    bool sinceFullReset = false;
    double lastSinceFull = -1;
    spec.hook = [&](Loop& loop) {
        if (offAt < 0 && loop.absorptionAt >= 0 && loop.t() >= loop.absorptionAt + 120) {
            offAt = loop.t();
            loop.plant.setUserChargeSwitch(false);
            leftAtOff = secondsLeft(loop.limits.chargeMode, &timerUnit);
            textAtOff = loop.limits.chargeMode;
        } else if (offAt >= 0 && onAt < 0) {
            if (loop.t() >= offAt + 600) {
                onAt = loop.t();
                loop.plant.setUserChargeSwitch(true);
            } else if (loop.reading.switches.chargeMos == false) {
                // Blocked (as the daemon sees it).
                if (loop.mode() == "Float") floatWhileOff = true;
                if (loop.ccl() > 0) cclWhileOff = true;
                if (auto left = secondsLeft(loop.limits.chargeMode, &timerUnit))
                    leftMinWhileOff = std::min(leftMinWhileOff.value_or(*left), *left);
                if (loop.limits.timeSinceFullChargeS) {
                    if (!sinceFullAtOff) sinceFullAtOff = *loop.limits.timeSinceFullChargeS;
                    if (*loop.limits.timeSinceFullChargeS < lastSinceFull) sinceFullReset = true;
                    lastSinceFull = *loop.limits.timeSinceFullChargeS;
                } else if (lastSinceFull >= 0) {
                    sinceFullReset = true;  // was known, now gone
                }
            }
        }
    };
    Loop loop(spec.name, o);
    // The last full charge was 3 days ago (as restored after a restart), so TimeSinceLastFullCharge
    // is known and must keep counting through the block.
    EngineState st = loop.engine().state();
    st.sinceFullChargeS = 3 * 86400.0;
    loop.engine().restore(st);
    runCharge(loop, spec);
    ASSERT_GE(offAt, 0) << "Absorption never reached: the FET event did not happen";
    EXPECT_TRUE(sinceFullAtOff.has_value()) << "TimeSinceLastFullCharge absent during the block (restored as 3 days)";
    if (sinceFullAtOff) {
        EXPECT_GE(*sinceFullAtOff, 3 * 86400.0) << "TimeSinceLastFullCharge reset before the block";
    }
    EXPECT_FALSE(floatWhileOff) << "Float entered while the charge FET was off";
    EXPECT_FALSE(cclWhileOff) << "CCL above 0 while the BMS's charge FET was off";
    EXPECT_FALSE(sinceFullReset) << "TimeSinceLastFullCharge reset while the charge FET was off";
    if (leftAtOff && leftMinWhileOff) {
        EXPECT_GE(*leftMinWhileOff, *leftAtOff - timerUnit - 5)
            << "absorption timer ran while blocked: " << *leftAtOff << " s left at the block, " << *leftMinWhileOff
            << " s left during it";
    } else {
        ADD_FAILURE() << "the mode text carries no 'N s|min left' absorption timer at the block ('" << textAtOff
                      << "'): cannot check that it pauses";
    }
    if (loop.floatAt >= 0) {
        EXPECT_GT(loop.floatAt, onAt) << "Float before the FET came back";
    }
    expectCharge(loop, spec);
    std::cout << "[scenario] FET off " << fmt(offAt / 60, 1) << ".." << fmt(onAt / 60, 1) << " min: timer "
              << (leftAtOff ? fmt(*leftAtOff, 0) : "n/a") << " s left at the block, min during it "
              << (leftMinWhileOff ? fmt(*leftMinWhileOff, 0) : "n/a") << " s; float while off "
              << (floatWhileOff ? "YES" : "no") << "; since-full at block "
              << (sinceFullAtOff ? fmt(*sinceFullAtOff, 0) : "absent") << (sinceFullReset ? " RESET" : "") << '\n';
}

TEST(ClosedLoopScenario, RestartMidAbsorption) {
    auto o = scenario();
    o.bmsRestartSocPercent = 60;
    ChargeSpec spec{"scenario_restart_mid_absorption", o};
    spec.checkRipple = false;
    double restartAt = -1;
    spec.hook = [&](Loop& loop) {
        if (restartAt < 0 && loop.absorptionAt >= 0 && loop.t() >= loop.absorptionAt + 300) {
            restartAt = loop.t();
            loop.plant.restartBms();
            loop.restartDaemon(20);
        }
    };
    Loop loop(spec.name, o);
    runCharge(loop, spec);
    ASSERT_GE(restartAt, 0) << "Absorption never reached: no restart happened";
    EXPECT_EQ(modeOf(loop.firstModeAfterRestart), "Absorption")
        << "after the restart the engine is in '" << loop.firstModeAfterRestart << "'";
    EXPECT_LT(loop.bulkAfterRestartAt, 0) << "Bulk again " << fmt((loop.bulkAfterRestartAt - restartAt) / 60, 1)
                                          << " min after the restart, before Float";
    expectCharge(loop, spec);
    std::cout << "[scenario] restart at " << fmt(restartAt / 60, 1) << " min, first mode after it '"
              << loop.firstModeAfterRestart << "'\n";
}

TEST(ClosedLoopScenario, CloudsDuringAbsorption) {
    auto o = scenario();
    o.clouds = false;
    ChargeSpec spec{"scenario_clouds_in_absorption", o};
    spec.checkRipple = false;
    double cloudAt = -1;
    spec.hook = [&](Loop& loop) {
        if (cloudAt < 0 && loop.absorptionAt >= 0 && loop.t() >= loop.absorptionAt + 60) {
            cloudAt = loop.t();
            loop.plant.forceCloud(1200, 0.03);  // heavy overcast: 0.015 C, below the tail current
        }
    };
    Loop loop(spec.name, o);
    runCharge(loop, spec);
    expectCharge(loop, spec);
    std::cout << "[scenario] cloud from " << fmt(cloudAt / 60, 1) << " min for 20 min\n";
}

TEST(ClosedLoopScenario, BmsSocReads20PercentLowInFloat) {
    auto o = scenario();
    o.bmsSocLowPercent = 20;
    o.dcLoadA = 0.02 * o.capacityAh;
    ChargeSpec spec{"scenario_bms_soc_20pct_low_float_4h", o};
    spec.holdFloatS = 4 * 3600;
    spec.checkRipple = true;
    Loop loop(spec.name, o);
    runCharge(loop, spec);
    expectCharge(loop, spec);
    EXPECT_EQ(loop.mode(), "Float") << "after 4 h of Float with a small load: '" << loop.limits.chargeMode << "'";
}

TEST(ClosedLoopScenario, ColdMorning) {
    auto o = scenario();
    o.startTemperatureC = 3;
    o.ambientC = 15;
    o.chargeUtpC = 5;
    o.startSoc = 0.40;
    Loop loop("scenario_cold_morning", o);
    const double utp = 5;
    bool cclWhileCold = false, chargedWhenWarm = false;
    double firstCclAtC = NAN, cclWhileColdAtC = NAN;
    while (loop.t() < 2.5 * 3600) {
        if (!loop.poll()) continue;
        double coldest = 1e9;
        for (const auto& s : loop.reading.temperatures) coldest = std::min(coldest, s.celsius);
        if (coldest < utp + kUtpMarginC && loop.ccl() > 0 && !cclWhileCold) {
            cclWhileCold = true;
            cclWhileColdAtC = coldest;
        }
        if (loop.ccl() > 0 && std::isnan(firstCclAtC)) firstCclAtC = coldest;
        if (coldest >= utp + 5 && loop.plant.currentA() > 0.05 * o.chargerMaxA) chargedWhenWarm = true;
    }
    EXPECT_FALSE(cclWhileCold) << "CCL above 0 at " << fmt(cclWhileColdAtC, 1) << " C (charge UTP " << utp << " C + "
                               << kUtpMarginC << " C margin)";
    EXPECT_LE(loop.plant.maxChargeCurrentBelowUtpA(), 0.5) << "charge current below the charge UTP";
    EXPECT_TRUE(chargedWhenWarm) << "no charge once warm (" << fmt(loop.plant.temperatureC(), 1) << " C at the end)";
    std::cout << "[scenario] cold morning: first CCL > 0 at " << fmt(firstCclAtC, 1)
              << " C, max charge current below UTP " << fmt(loop.plant.maxChargeCurrentBelowUtpA(), 2)
              << " A, UTP trips " << loop.plant.trips().chargeUtp << ", end " << fmt(loop.plant.temperatureC(), 1)
              << " C\n";
}

TEST(ClosedLoopScenario, HotPackAboveChargeOtp) {
    auto o = scenario();
    o.startTemperatureC = 50;
    o.ambientC = 44;
    o.chargeOtpC = 45;
    o.startSoc = 0.40;
    Loop loop("scenario_hot_pack", o);
    bool cclWhileHot = false;
    double hotCclA = 0;
    while (loop.t() < 3600) {
        if (!loop.poll()) continue;
        double hottest = -1e9;
        for (const auto& s : loop.reading.temperatures) hottest = std::max(hottest, s.celsius);
        if (hottest > 45 && loop.ccl() > 0 && !cclWhileHot) {
            cclWhileHot = true;
            hotCclA = loop.ccl();
        }
    }
    EXPECT_FALSE(cclWhileHot) << "CCL " << hotCclA << " A above the charge OTP (45 C)";
    EXPECT_LE(loop.plant.maxChargeCurrentAboveOtpA(), 0.5) << "charge current above the charge OTP";
    std::cout << "[scenario] hot pack: CCL while hot " << (cclWhileHot ? fmt(hotCclA, 1) + " A" : "0")
              << ", max charge current above OTP " << fmt(loop.plant.maxChargeCurrentAboveOtpA(), 2) << " A, end "
              << fmt(loop.plant.temperatureC(), 1) << " C\n";
}

TEST(ClosedLoopScenario, LateAndMissingReadingsAt5sPolls) {
    auto o = scenario(Chemistry::Lfp, 5, 11);
    o.lateProbability = 0.10;
    o.missingProbability = 0.10;
    ChargeSpec spec{"scenario_late_missing_5s_charge", o};
    Loop loop(spec.name, o);
    runCharge(loop, spec);
    expectCharge(loop, spec);

    auto d = o;
    d.startSoc = 0.30;
    d.clouds = false;
    Loop discharge("scenario_late_missing_5s_discharge", d);
    runDischarge(discharge, 0.5);
    expectDischarge(discharge);
}

}  // namespace
}  // namespace jkbms::charge
