#include "jkbms/charge/charge_engine.hpp"

#include "jkbms/domain/plausible_ranges.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace jkbms::charge {
namespace {

using domain::Alarm;

constexpr double kAbsorptionEntryMarginV = 0.010;  // highest (filtered) cell this close to the target
constexpr double kDefaultMaxA = 50;                // nothing known about the BMS's limits
constexpr double kMaxPlausibleA = 5000;            // a BMS setting above this is not believed
constexpr double kFilterGapS = 30;                 // a longer gap restarts the filters
constexpr double kUnusableS = 10;                  // unusable readings this long: CCL and DCL 0
constexpr double kCvlOpenCellV = 0.005;            // CVL this far under the sum still lets a charge end
constexpr double kShortfallCellV = 0.040;          // the charger-shortfall band, at most per cell
constexpr double kHardCutCellV = 0.005;            // hard path: CVL this far (per cell) below the sum
constexpr double kRiseFreeCellV = 0.005;           // CVL may rise at once to sum + cells x this
constexpr double kLimitingOnCellV = 0.003;         // "cell N limiting": CVL this far below cells x target
constexpr double kLimitingOffCellV = 0.001;
constexpr double kLimitingSwitchV = 0.002;         // another cell must lead by this to be named
constexpr double kReductionDeadband = 0.01;        // of the maximum: smaller reductions wait
constexpr double kUvpHardBandV = 0.020;            // unfiltered discharge path this close to the table's 0

double round2(double v) { return std::round(v * 100.0) / 100.0; }
double round1(double v) { return std::round(v * 10.0) / 10.0; }

// Moves a table's zero end (the end with the smaller fraction, whichever order the points are
// in) to limitX when it lies beyond it, compressing the points between the full-current end and
// the zero end; shifts the whole table when the full-current end is itself too close.
Table anchorTable(Table t, double limitX) {
    if (t.points.size() < 2) return t;
    const bool zeroAtBack = t.points.back().second <= t.points.front().second;
    const double xf = zeroAtBack ? t.points.front().first : t.points.back().first;
    const double xz = zeroAtBack ? t.points.back().first : t.points.front().first;
    const double dir = xz > xf ? 1.0 : -1.0;  // towards the zero end
    if ((xz - limitX) * dir <= 0) return t;   // already inside
    if ((limitX - xf) * dir >= 0.02) {
        const double factor = (limitX - xf) / (xz - xf);
        for (auto& p : t.points) p.first = xf + (p.first - xf) * factor;
    } else {
        const double shift = limitX - xz;
        for (auto& p : t.points) p.first += shift;
    }
    return t;
}

// A temperature table at every (finite) sensor: the smallest fraction; 1 without sensors.
double temperatureFraction(const Table& table, const domain::BatterySnapshot& s) {
    double f = 1;
    for (const auto& t : s.temperatures)
        if (domain::plausible::kTemperature.contains(t.celsius)) f = std::min(f, table.at(t.celsius));
    return f;
}

// The BMS's own temperature protection with our margin inside it: 0 within `margin` of a
// limit, full `ramp` further in; 1 where the BMS reports no limit or there is no sensor.
double bmsTemperatureFraction(std::optional<double> lowC, std::optional<double> highC, const domain::BatterySnapshot& s,
                              double margin, double ramp) {
    double f = 1;
    for (const auto& t : s.temperatures) {
        if (!domain::plausible::kTemperature.contains(t.celsius)) continue;
        if (lowC) f = std::min(f, std::clamp((t.celsius - (*lowC + margin)) / ramp, 0.0, 1.0));
        if (highC) f = std::min(f, std::clamp(((*highC - margin) - t.celsius) / ramp, 0.0, 1.0));
    }
    return f;
}

// Largest limit L' in [from, to] whose predicted cell voltage keeps the table at or above L':
// table(v + sign x (L' - current) x r) x max >= L'. `sign` +1 for charge (cells rise with
// current), -1 for discharge. Bisection: the left side falls as L' rises.
double predictedIncrease(const Table& table, double maxA, double v, double currentA, double r, double sign,
                         double from, double to) {
    auto ok = [&](double l) { return maxA * table.at(v + sign * (l - currentA) * r) >= l - 1e-9; };
    if (to <= from) return from;
    if (ok(to)) return to;
    if (!ok(from)) return from;
    double lo = from, hi = to;
    for (int i = 0; i < 16 && hi - lo > 0.05; ++i) {
        const double mid = 0.5 * (lo + hi);
        (ok(mid) ? lo : hi) = mid;
    }
    return lo;
}

bool chargeAlarm(const domain::BatterySnapshot& s, bool withCold) {
    return s.alarms.has(Alarm::CellHighVoltage) || s.alarms.has(Alarm::HighVoltage) ||
           s.alarms.has(Alarm::HighChargeCurrent) || s.alarms.has(Alarm::HighChargeTemperature) ||
           (withCold && s.alarms.has(Alarm::LowChargeTemperature)) || s.alarms.has(Alarm::InternalFailure);
}

namespace plausible = domain::plausible;

// The BMS's SoC when it is one (JK's reads 255 now and then).
std::optional<double> socOf(const domain::BatterySnapshot& s) {
    return s.socPercent && plausible::kPercent.contains(*s.socPercent) ? s.socPercent : std::nullopt;
}
std::optional<double> mosfetOf(const domain::BatterySnapshot& s) {
    return s.mosfetTemperatureC && plausible::kTemperature.contains(*s.mosfetTemperatureC) ? s.mosfetTemperatureC
                                                                                          : std::nullopt;
}

// A reading to act on: every cell a voltage a cell can have (above 0: an open sense wire or a
// NaN is no measurement to regulate on) and the current, when there is one, plausible.
bool actionable(const domain::BatterySnapshot& s) {
    for (double v : s.cellVoltagesV)
        if (!plausible::kCellVoltage.contains(v) || v <= 0) return false;
    return !s.currentA || plausible::kCurrent.contains(*s.currentA);
}

double capacityOf(const domain::BatterySnapshot& s) {
    const double c = s.fullCapacityAh.value_or(s.settings.nominalCapacityAh.value_or(0));
    return std::isfinite(c) && c > 0 ? c : 0;
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

std::vector<std::string> ChargeEngine::reconfigure(ChargeConfig config) {
    auto problems = config.validate();
    if (!problems.empty()) return problems;
    config_ = std::move(config);
    anchored_.valid = false;  // the profile, the tables and the targets come from the config
    return {};
}

void ChargeEngine::restore(const EngineState& state) {
    const ChargeMode mode = state.mode;
    state_ = EngineState{};
    state_.mode = mode;
    state_.absorptionS = std::max(0.0, state.absorptionS);
    state_.absorptionTotalS = std::max(0.0, state.absorptionTotalS);
    state_.sinceFullChargeS = state.sinceFullChargeS;
    state_.sinceEqualizeS = std::max(0.0, state.sinceEqualizeS);
    state_.floatS = std::max(0.0, state.floatS);
    state_.tailS = std::max(0.0, state.tailS);
    state_.spreadOk = state.spreadOk;
}

void ChargeEngine::anchor(Chemistry chemistry, const domain::BmsSettings& settings) {
    // Settings a cell can have, else the profile's (a misread value must not move the anchors).
    auto sane = [](std::optional<double> v, double lo, double hi) {
        return v && std::isfinite(*v) && *v >= lo && *v <= hi ? v : std::nullopt;
    };
    const auto ovp = sane(settings.cellOvpV, 2.0, 4.6), uvp = sane(settings.cellUvpV, 1.0, 4.0);
    if (anchored_.valid && anchored_.chemistry == chemistry && anchored_.reportedOvpV == ovp &&
        anchored_.reportedUvpV == uvp)
        return;
    Anchored a;
    a.valid = true;
    a.chemistry = chemistry;
    a.reportedOvpV = ovp;
    a.reportedUvpV = uvp;
    a.profile = config_.resolve(chemistry);
    a.ovpV = ovp.value_or(a.profile.ovpV);
    a.uvpV = uvp.value_or(a.profile.uvpV);
    // Our limits act before the BMS trips: the charge table reaches its end by OVP - margin,
    // the bulk target stays two margins below OVP; the discharge table's end moves up to
    // UVP + margin.
    a.profile.chargeCellV = anchorTable(a.profile.chargeCellV, a.ovpV - config_.ovpMarginV);
    a.profile.dischargeCellV = anchorTable(a.profile.dischargeCellV, a.uvpV + config_.uvpMarginV);
    a.targetV = std::min(a.profile.bulkV, a.ovpV - 2 * config_.ovpMarginV);
    a.floatV = std::min(a.profile.floatV, a.targetV);
    anchored_ = std::move(a);

    char buf[200];
    int len = std::snprintf(buf, sizeof buf, "chemistry %s (%s)", std::string(chemistryName(chemistry)).c_str(),
                            config_.chemistry != Chemistry::Auto ? "configured" : "from the BMS's cell OVP");
    if (anchored_.targetV < anchored_.profile.bulkV - 1e-9 && len > 0 && static_cast<std::size_t>(len) < sizeof buf)
        len += std::snprintf(buf + len, sizeof buf - static_cast<std::size_t>(len),
                             "; bulk %.3f V/cell capped to %.3f V (BMS cell OVP %.3f V)", anchored_.profile.bulkV,
                             anchored_.targetV, anchored_.ovpV);
    notes_ = buf;
}

ChargeEngine::Conditioned ChargeEngine::condition(const domain::BatterySnapshot& s, const domain::CellStats& raw,
                                                  double dtS, double capacityAh) {
    Conditioning& f = state_.filter;
    const std::size_t n = s.cellVoltagesV.size();
    const double current = s.currentA && std::isfinite(*s.currentA) ? *s.currentA : 0.0;
    const double mean = raw.sumV / static_cast<double>(n);
    const bool restart = f.cells != n || dtS > kFilterGapS;
    if (!restart) {
        // Resistance from a current step between two close readings (the mean of the cells
        // carries 1/sqrt(n) of their noise). Only steps large enough to stand out.
        const double dI = current - f.lastCurrentA;
        const double minStep = std::max(5.0, 0.05 * capacityAh);
        if (dtS > 0 && dtS <= 6 && std::fabs(dI) >= minStep) {
            const double sample = (mean - f.lastMeanV) / dI;
            if (sample > 0 && sample < 0.05)
                f.resistanceOhm = f.resistanceOhm == 0 ? sample : f.resistanceOhm + 0.2 * (sample - f.resistanceOhm);
        }
    }
    const double aCell = restart || config_.cellFilterS <= 0 ? 1.0 : 1.0 - std::exp(-dtS / config_.cellFilterS);
    const double aCurrent =
        restart || config_.currentFilterS <= 0 ? 1.0 : 1.0 - std::exp(-dtS / config_.currentFilterS);
    Conditioned c;
    c.topV = -1e9;
    c.minV = 1e9;
    for (std::size_t i = 0; i < n; ++i) {
        double& v = f.cellV[i];
        v = restart ? s.cellVoltagesV[i] : v + aCell * (s.cellVoltagesV[i] - v);
        c.sumV += v;
        if (v > c.topV) {
            c.topV = v;
            c.topIndex = i;
        }
        if (v < c.minV) {
            c.minV = v;
            c.minIndex = i;
        }
    }
    f.currentA = restart ? current : f.currentA + aCurrent * (current - f.currentA);
    f.cells = n;
    f.lastMeanV = mean;
    f.lastCurrentA = current;
    c.avgV = c.sumV / static_cast<double>(n);
    c.spreadV = c.topV - c.minV;
    c.currentA = f.currentA;
    c.rawCurrentA = current;
    // Prediction errs on the safe side: twice the measured average (cells differ up to 2x and
    // polarisation adds to the ohmic part), never below the assumed value.
    const double assumed = capacityAh > 0 ? config_.resistanceOhmAh / capacityAh : 0.002;
    c.resistanceOhm = std::max(assumed, 2 * f.resistanceOhm);
    return c;
}

domain::ChargeLimits ChargeEngine::step(const domain::BatterySnapshot& s, double dtS) {
    domain::ChargeLimits out;
    const auto raw = s.cellStats();
    if (!raw) return out;  // no cells: nothing to decide on
    dtS = std::isfinite(dtS) ? std::clamp(dtS, 0.0, 3600.0) : 0.0;
    if (!actionable(s)) {
        // A misread frame (a cell at 65.535 V, 88 kA): the last limits stand and nothing
        // advances. Readings that stay unusable (an open sense wire reads 0 V, frames keep
        // coming, so the lost-communication timeline never starts) stop charge and discharge.
        state_.unusableS += dtS;
        domain::ChargeLimits held = last_;
        if (state_.unusableS >= kUnusableS && held.maxChargeVoltageV) {
            held.maxChargeCurrentA = 0.0;
            held.maxDischargeCurrentA = 0.0;
            held.chargeLimitation = held.dischargeLimitation = "Cell readings implausible";
        }
        return held;
    }
    state_.unusableS = 0;
    // Timers, holds and rates run on at most the filter gap: after a longer silence nothing
    // may count as if it had been watched (a tail current, a recovery hold).
    const bool gap = dtS > kFilterGapS;
    if (gap) {
        state_.tailS = 0;
        state_.cclHoldS = state_.dclHoldS = 0;
        state_.cclRising = state_.dclRising = false;
    }
    const double n = static_cast<double>(s.cellVoltagesV.size());
    const double capacityAh = capacityOf(s);
    const Conditioned c = condition(s, *raw, dtS, capacityAh);
    dtS = std::min(dtS, kFilterGapS);

    // The chemistry, once implied by the BMS's OVP, stays for this engine (a later odd or
    // missing setting must not switch the targets); the anchors follow the OVP within it.
    std::optional<Chemistry> chemistry =
        config_.chemistry != Chemistry::Auto ? std::optional{config_.chemistry}
        : anchored_.valid                    ? std::optional{anchored_.chemistry}
                                             : impliedChemistry(s.settings.cellOvpV);
    if (!chemistry) {
        out.chargeMode = "Waiting for the BMS's cell OVP setting";
        return out;
    }
    anchor(*chemistry, s.settings);
    if (state_.sinceFullChargeS >= 0) state_.sinceFullChargeS += dtS;
    state_.sinceEqualizeS += dtS;

    // The maxima: the configured value capped by what the BMS allows (its own settings and
    // over-current thresholds, the model's rating); without one, the BMS's.
    std::string capNotes;
    auto maximum = [&](double configured, std::initializer_list<std::optional<double>> known, const char* what) {
        double cap = 0;
        for (const auto& k : known)
            if (k && std::isfinite(*k) && *k > 0 && *k <= kMaxPlausibleA) cap = cap == 0 ? *k : std::min(cap, *k);
        const double rating = modelRatingA(s.identity.model);
        if (rating > 0) cap = cap == 0 ? rating : std::min(cap, rating);
        if (configured > 0) {
            if (cap > 0 && configured > cap) {
                char buf[120];
                std::snprintf(buf, sizeof buf, "; %s %.0f A capped to the BMS's %.0f A", what, configured, cap);
                capNotes += buf;
                return cap;
            }
            return configured;
        }
        return cap > 0 ? cap : kDefaultMaxA;
    };
    const double maxCharge =
        maximum(config_.maxChargeA, {s.settings.maxChargeCurrentA, s.settings.chargeOcpA}, "max charge current");
    const double maxDischarge = maximum(config_.maxDischargeA,
                                        {s.settings.maxDischargeCurrentA, s.settings.dischargeOcpA},
                                        "max discharge current");
    out.notes = notes_ + capNotes;

    transitions(s, c, dtS, capacityAh, out);
    const double cvlV = cvl(s, *raw, c, dtS);
    out.maxChargeVoltageV = round2(cvlV + config_.cvlOffsetV);
    out.batteryLowVoltageV = round2(n * anchored_.profile.minV);
    out.chargeMode = modeText(c, cvlV);

    double chargeUp = 0, dischargeUp = 0;
    Limit charge = chargeLimit(s, *raw, c, maxCharge, chargeUp);
    if (config_.noCharge) {
        charge = Limit{0, "Settings invalid"};
        chargeUp = 0;
    }
    const Limit discharge = dischargeLimit(s, *raw, c, maxDischarge, dischargeUp);
    // After a silence the recovery hold starts now: the gap was not watched.
    const double dtHold = gap ? 0.0 : dtS;
    out.maxChargeCurrentA = shape(charge, chargeUp, maxCharge, dtHold, state_.ccl, state_.cclHoldS, state_.cclRising,
                                  state_.cclCause, out.chargeLimitation);
    out.maxDischargeCurrentA = shape(discharge, dischargeUp, maxDischarge, dtHold, state_.dcl, state_.dclHoldS,
                                     state_.dclRising, state_.dclCause, out.dischargeLimitation);
    if (state_.sinceFullChargeS >= 0) out.timeSinceFullChargeS = state_.sinceFullChargeS;
    updateWarnings(s, c);
    out.warnings = state_.warnings;
    last_ = out;
    last_.modeChange.clear();
    return out;
}

bool ChargeEngine::chargePossible(const domain::BatterySnapshot& s, const Conditioned& c, double tailA) const {
    // The last published CCL and CVL count (the ones the chargers follow); none yet: assume
    // possible. CVL held well under the cells' sum (a runner cell at its target long before the
    // pack is full, the hard cut) blocks the charge as much as a FET off does.
    const double n = static_cast<double>(s.cellVoltagesV.size());
    const bool cvlOpen = state_.cvlV <= 0 || state_.cvlV >= c.sumV - n * kCvlOpenCellV;
    return s.switches.chargeMos != false && !chargeAlarm(s, true) && (state_.ccl < 0 || state_.ccl > tailA) && cvlOpen;
}

void ChargeEngine::transitions(const domain::BatterySnapshot& s, const Conditioned& c, double dtS, double capacityAh,
                               domain::ChargeLimits& out) {
    EngineState& st = state_;
    const auto& p = anchored_.profile;
    const double n = static_cast<double>(s.cellVoltagesV.size());
    const double target = activeTargetV();
    constexpr double kEps = 1e-6;  // readings are whole millivolts
    if (c.spreadV <= p.maxSpreadV + kEps) st.spreadOk = true;
    else if (c.spreadV > p.maxSpreadV + config_.spreadHysteresisV + kEps) st.spreadOk = false;

    const double tailA = config_.tailCurrentC * capacityAh;
    const double timerA = config_.timerCurrentC * capacityAh;
    const bool possible = chargePossible(s, c, tailA);
    // A charger's shortfall is a pack figure, but never more than 40 mV a cell (a 4S pack on
    // its plateau must not look full).
    const double band = std::max(n * p.targetBandV, std::min(config_.chargerShortfallV, n * kShortfallCellV));
    // Tail current: charging, but less than the tail - never a discharge (a load at night).
    const double floorA = -std::max(0.5, 0.005 * capacityAh);
    const bool tailing = c.currentA > floorA && c.currentA < tailA;
    const bool topAtTarget = c.topV >= target - p.targetBandV;
    const bool sumAtTarget = c.sumV >= n * target - band;
    const bool atTarget = topAtTarget || sumAtTarget;
    char why[160];
    why[0] = '\0';
    const ChargeMode before = st.mode;

    switch (st.mode) {
        case ChargeMode::Bulk:
            if (c.topV >= target - kAbsorptionEntryMarginV) {
                std::snprintf(why, sizeof why, "highest cell %.3f V at the target %.3f V", c.topV, target);
            } else if (possible && sumAtTarget && capacityAh > 0 && tailing) {
                // A charger that stops short of CVL (cable drop, calibration): the pack is at
                // its target as far as this charger goes, and takes no more.
                std::snprintf(why, sizeof why,
                              "sum of cells %.2f V within %.2f V of %.2f V at %.1f A: the charger stops short of CVL",
                              c.sumV, band, n * target, c.currentA);
            }
            if (why[0] != '\0') {
                st.mode = ChargeMode::Absorption;
                st.absorptionS = st.absorptionTotalS = st.tailS = 0;
            }
            break;
        case ChargeMode::Absorption: {
            // Everything waits while nothing can charge (FET off, an alarm, our own CCL at the
            // tail current): 0 A then is not a full battery.
            // Without a capacity there is no tail current: the timer runs on the cells alone.
            if (possible && atTarget) {
                st.absorptionTotalS += dtS;
                if (st.spreadOk && (capacityAh <= 0 || c.currentA < timerA)) st.absorptionS += dtS;
                st.tailS = capacityAh > 0 && tailing ? st.tailS + dtS : 0;
            } else {
                st.tailS = 0;  // blocked, below the target (a cloud, a load): the tail starts over
            }
            // A real discharge in Absorption (the evening came first): back to Bulk, the
            // timers start over with the next charge.
            st.rebulkS = c.avgV < p.rebulkV ? st.rebulkS + dtS : 0;
            if (st.rebulkS >= config_.rebulkTimeS) {
                std::snprintf(why, sizeof why, "average cell below the re-bulk voltage for %.0f s", st.rebulkS);
                st.mode = ChargeMode::Bulk;
                st.rebulkS = 0;
                break;
            }
            const bool tail = st.tailS >= config_.tailTimeS;
            if (tail && st.spreadOk)
                std::snprintf(why, sizeof why, "tail current %.1f A < %.1f A for %.0f s", c.currentA, tailA, st.tailS);
            else if (st.absorptionS >= config_.absorptionMaxTimeS)
                std::snprintf(why, sizeof why, "absorption timer %.0f s done", st.absorptionS);
            else if (tail && st.absorptionTotalS >= config_.absorptionMaxTimeS)
                std::snprintf(why, sizeof why, "tail current for %.0f s, spread %.0f mV never closed in %.0f s",
                              st.tailS, c.spreadV * 1000, st.absorptionTotalS);
            if (why[0] != '\0') {
                st.mode = ChargeMode::Float;
                st.sinceFullChargeS = 0;
                st.floatS = st.rebulkS = st.tailS = 0;
            }
            break;
        }
        case ChargeMode::Float: {
            st.floatS += dtS;
            const bool low = c.avgV < p.rebulkV;
            const bool spread = c.spreadV > p.rebulkSpreadV;
            const auto soc = socOf(s);
            const bool socLow = soc && *soc < config_.rebulkSocPercent &&
                                c.avgV < anchored_.floatV - p.targetBandV;
            st.rebulkS = low || spread || socLow ? st.rebulkS + dtS : 0;
            if (st.floatS >= config_.floatMinTimeS && st.rebulkS >= config_.rebulkTimeS) {
                std::snprintf(why, sizeof why, "%s for %.0f s",
                              low      ? "average cell below the re-bulk voltage"
                              : spread ? "cell spread above the re-bulk spread"
                                       : "SoC below re-bulk with the cells below float",
                              st.rebulkS);
                st.mode = ChargeMode::Bulk;
                st.correctionV = 0;
            } else if (config_.equalizeEveryDays > 0 && st.sinceEqualizeS >= config_.equalizeEveryDays * 86400) {
                std::snprintf(why, sizeof why, "%.0f days since the last equalize", st.sinceEqualizeS / 86400);
                st.mode = ChargeMode::Equalize;
                st.absorptionTotalS = 0;
                st.correctionV = 0;
            }
            break;
        }
        case ChargeMode::Equalize:
            // The equalize target for the absorption time (while charging is possible and the
            // top cell is at it), then Float.
            if (possible && topAtTarget) st.absorptionTotalS += dtS;
            if (st.absorptionTotalS >= config_.absorptionMaxTimeS) {
                std::snprintf(why, sizeof why, "equalized for %.0f s", st.absorptionTotalS);
                st.mode = ChargeMode::Float;
                st.sinceEqualizeS = 0;
                st.sinceFullChargeS = 0;
                st.floatS = st.rebulkS = 0;
            }
            break;
    }
    if (st.mode != before) {
        out.modeChange = std::string(chargeModeName(before)) + " -> " + std::string(chargeModeName(st.mode)) + ": " + why;
        st.limitingCell = -1;
    }
}

double ChargeEngine::activeTargetV() const {
    if (state_.mode != ChargeMode::Equalize) return anchored_.targetV;
    return std::max(anchored_.targetV, std::min(config_.equalizeCellV, anchored_.ovpV - 2 * config_.ovpMarginV));
}

double ChargeEngine::cvl(const domain::BatterySnapshot& s, const domain::CellStats& raw, const Conditioned& c,
                         double dtS) {
    EngineState& st = state_;
    const auto& p = anchored_.profile;
    const double n = static_cast<double>(s.cellVoltagesV.size());
    const double floor = n * p.minV;
    const double target = activeTargetV();
    // Wind-up guard: a charger stops once CVL is below the cells' own sum; deeper only winds up.
    const double lowest = std::max(floor, c.sumV - n * config_.windupBandV);
    const bool hard = raw.maxV >= target + config_.hardMarginV;
    double cvl = 0;
    bool slewLimited = false;
    if (st.mode == ChargeMode::Float) {
        // Slew down to the float target; never a jump.
        const double floatTarget = n * anchored_.floatV;
        // From the last CVL - but never from above what this pack's own targets allow (a CVL
        // left from another cell count or chemistry must not be walked down at 1 mV/s).
        const double eqTarget = config_.equalizeEveryDays > 0
                                    ? std::min(config_.equalizeCellV, anchored_.ovpV - 2 * config_.ovpMarginV)
                                    : 0.0;
        const double ceiling = n * std::max(anchored_.targetV, eqTarget);
        const double from = st.cvlV > 0 ? std::min(st.cvlV, ceiling) : floatTarget;
        cvl = from > floatTarget ? std::max(floatTarget, from - config_.floatTransitionVps * dtS) : floatTarget;
        if (hard) cvl = std::min(cvl, raw.sumV - n * kHardCutCellV);
    } else {
        // PI on the highest filtered cell, per cell, normalised to seconds.
        const double error = target - c.topV;  // > 0: below the target
        const double pTerm = config_.regulatorKp * error;
        const double minCorrection = p.minV - target;
        const double unclamped = n * (target + pTerm + st.correctionV);
        // Integrate only while the output is free to follow (conditional integration).
        const bool heldHigh = unclamped >= n * target && error > 0;
        const bool heldLow = unclamped <= lowest && error < 0;
        const bool heldBySlew = st.cvlSlewLimited && error > 0;
        if (!heldHigh && !heldLow && !heldBySlew)
            st.correctionV = std::clamp(st.correctionV + config_.regulatorKiPerS * error * dtS, minCorrection, 0.0);
        double wanted = n * (target + std::clamp(pTerm + st.correctionV, minCorrection, 0.0));
        if (wanted < lowest) {
            // Back-calculation: the integrator continues from what is published.
            wanted = lowest;
            st.correctionV = std::clamp(wanted / n - target - pTerm, minCorrection, 0.0);
        }
        if (hard) {
            // A cell really above the target, unfiltered: stop charging now.
            // The integrator is left alone: once the cause is gone, CVL returns to where the
            // regulation had it (a single glitch must not wind it down).
            wanted = std::min(wanted, raw.sumV - n * kHardCutCellV);
        }
        // Up at most recovery V/s near the operating point - but at once as far as the top cell
        // has headroom: to the cells' own sum plus what the top cell still lacks after the IR
        // rise the present CCL would bring (fast recovery once the cause is gone).
        if (st.cvlV > 0 && wanted > st.cvlV) {
            const double irRiseV = std::max(0.0, st.ccl - std::max(0.0, c.currentA)) * c.resistanceOhm;
            const double headroomV = std::max(kRiseFreeCellV, target - c.topV - kRiseFreeCellV - irRiseV);
            const double rise = std::max(st.cvlV + config_.recoveryVps * dtS, c.sumV + n * headroomV);
            if (wanted > rise) {
                wanted = rise;
                slewLimited = true;
            }
        }
        cvl = wanted;
    }
    // The floor (cells x min voltage) - except against the hard cut: a cell really above its
    // target stops the charge even on a pack far down.
    cvl = hard ? std::min(std::max(cvl, floor), raw.sumV - n * kHardCutCellV) : std::max(cvl, floor);
    st.cvlSlewLimited = slewLimited;
    st.cvlV = cvl;
    return cvl;
}

std::string ChargeEngine::modeText(const Conditioned& c, double cvlV) {
    // Changes only when its meaning does: the mode, the cell that limits (with hysteresis), the
    // whole minutes left.
    EngineState& st = state_;
    const double n = static_cast<double>(st.filter.cells);
    const double target = activeTargetV();
    std::string text{chargeModeName(st.mode)};
    if (st.mode == ChargeMode::Float) {
        st.limitingCell = -1;
        return text;
    }
    const bool wasLimiting = st.limitingCell >= 0;
    const bool limiting = wasLimiting ? cvlV < n * target - n * kLimitingOffCellV : cvlV < n * target - n * kLimitingOnCellV;
    if (!limiting) {
        st.limitingCell = -1;
    } else if (!wasLimiting ||
               c.topV > st.filter.cellV[static_cast<std::size_t>(st.limitingCell)] + kLimitingSwitchV) {
        st.limitingCell = static_cast<int>(c.topIndex);
    }
    if (st.mode == ChargeMode::Absorption || st.mode == ChargeMode::Equalize) {
        const double left = config_.absorptionMaxTimeS - (st.mode == ChargeMode::Absorption ? st.absorptionS
                                                                                           : st.absorptionTotalS);
        text += ' ';
        text += std::to_string(static_cast<long long>(std::ceil(std::max(0.0, left) / 60)));
        text += " min left";
    }
    if (st.limitingCell >= 0) text += " (cell " + std::to_string(st.limitingCell + 1) + " limiting)";
    return text;
}

ChargeEngine::Limit ChargeEngine::chargeLimit(const domain::BatterySnapshot& s, const domain::CellStats& raw,
                                              const Conditioned& c, double maxA, double& increaseA) const {
    const auto& p = anchored_.profile;
    Limit best{maxA, "Max charge current"};
    auto consider = [&best](double amps, std::string_view name) {
        if (amps < best.amps) best = Limit{std::max(0.0, amps), name};
    };
    // Cell voltage: the filtered highest cell (IR included: the BMS trips on what it measures);
    // a cell really above the target, unfiltered.
    double cellA = maxA * p.chargeCellV.at(c.topV);
    if (raw.maxV >= anchored_.targetV + config_.hardMarginV) cellA = std::min(cellA, maxA * p.chargeCellV.at(raw.maxV));
    consider(cellA, "Cell voltage");
    // Temperatures: our table, and the BMS's own limits with a margin inside them.
    const double tableFraction = temperatureFraction(config_.chargeTemperatureC, s);
    const double bmsFraction = bmsTemperatureFraction(s.settings.chargeUtpC, s.settings.chargeOtpC, s,
                                                      config_.temperatureMarginC, config_.temperatureRampC);
    if (!s.temperatures.empty()) consider(maxA * tableFraction, "Temperature");
    consider(maxA * bmsFraction, "BMS temperature limit");
    if (const auto m = mosfetOf(s)) consider(maxA * config_.mosfetTemperatureC.at(*m), "MOSFET temperature");
    if (const auto soc = socOf(s); !config_.chargeSoc.points.empty() && soc)
        consider(maxA * config_.chargeSoc.at(*soc), "SoC");
    // Cold: the table or the BMS's limit at 0 on the cold side, or the BMS's cold alarm.
    bool cold = s.alarms.has(Alarm::LowChargeTemperature);
    if (!s.temperatures.empty()) {
        const double coldest = std::min_element(s.temperatures.begin(), s.temperatures.end(),
                                                [](const auto& a, const auto& b) { return a.celsius < b.celsius; })
                                   ->celsius;
        cold = cold || (coldest < 20 && (config_.chargeTemperatureC.at(coldest) <= 0 ||
                                         (s.settings.chargeUtpC &&
                                          coldest <= *s.settings.chargeUtpC + config_.temperatureMarginC)));
    }
    if (config_.heaterPassthrough && s.heating.value_or(false) && cold) {
        // Cold pack with its heater on: the chargers feed the heater, not the cells - whatever
        // the temperature limits, the BMS's cold alarm or its charge FET (held off while cold)
        // say; any other alarm still stops it.
        const double heaterA = s.heatingCurrentA && *s.heatingCurrentA > 0 ? *s.heatingCurrentA : config_.heaterMaxA;
        const bool temperatureOnly = best.name == "Temperature" || best.name == "BMS temperature limit";
        if (temperatureOnly || best.amps >= heaterA) best = Limit{std::min({heaterA, config_.heaterMaxA, maxA}), "Heater"};
        if (chargeAlarm(s, false)) best = Limit{0, "BMS alarm"};
        increaseA = best.amps;
        return best;
    }
    if (s.switches.chargeMos == false) consider(-1, "BMS charge switch off");
    if (chargeAlarm(s, true)) consider(-1, "BMS alarm");
    // How far an increase may go: where the cells' IR rise at the higher current keeps the
    // cell-voltage table at or above it.
    const double from = std::max(0.0, state_.ccl);
    increaseA = best.amps;
    if (best.amps > from)
        increaseA = std::min(best.amps, predictedIncrease(p.chargeCellV, maxA, c.topV,
                                                          std::max(0.0, std::min(c.currentA, c.rawCurrentA)),
                                                          c.resistanceOhm, +1, from, best.amps));
    return best;
}

ChargeEngine::Limit ChargeEngine::dischargeLimit(const domain::BatterySnapshot& s, const domain::CellStats& raw,
                                                 const Conditioned& c, double maxA, double& increaseA) const {
    const auto& p = anchored_.profile;
    Limit best{maxA, "Max discharge current"};
    auto consider = [&best](double amps, std::string_view name) {
        if (amps < best.amps) best = Limit{std::max(0.0, amps), name};
    };
    // Cell voltage: the filtered lowest cell under load (the BMS trips on what it measures);
    // unfiltered close to the table's end.
    double cellA = maxA * p.dischargeCellV.at(c.minV);
    const double end = p.dischargeCellV.points.empty() ? anchored_.uvpV : p.dischargeCellV.points.back().first;
    if (raw.minV <= end + kUvpHardBandV) cellA = std::min(cellA, maxA * p.dischargeCellV.at(raw.minV));
    consider(cellA, "Cell voltage");
    if (!s.temperatures.empty())
        consider(maxA * temperatureFraction(config_.dischargeTemperatureC, s), "Temperature");
    consider(maxA * bmsTemperatureFraction(s.settings.dischargeUtpC, s.settings.dischargeOtpC, s,
                                           config_.temperatureMarginC, config_.temperatureRampC),
             "BMS temperature limit");
    if (const auto m = mosfetOf(s)) consider(maxA * config_.mosfetTemperatureC.at(*m), "MOSFET temperature");
    if (const auto soc = socOf(s); !config_.dischargeSoc.points.empty() && soc)
        consider(maxA * config_.dischargeSoc.at(*soc), "SoC");
    if (s.switches.dischargeMos == false) consider(-1, "BMS discharge switch off");
    if (s.alarms.has(Alarm::CellLowVoltage) || s.alarms.has(Alarm::LowVoltage) ||
        s.alarms.has(Alarm::HighDischargeCurrent) || s.alarms.has(Alarm::HighTemperature) ||
        s.alarms.has(Alarm::LowTemperature) || s.alarms.has(Alarm::InternalFailure))
        consider(-1, "BMS alarm");
    const double from = std::max(0.0, state_.dcl);
    increaseA = best.amps;
    if (best.amps > from)
        increaseA = std::min(best.amps, predictedIncrease(p.dischargeCellV, maxA, c.minV,
                                                          std::max(0.0, std::min(-c.currentA, -c.rawCurrentA)),
                                                          c.resistanceOhm, -1, from, best.amps));
    return best;
}

void ChargeEngine::updateWarnings(const domain::BatterySnapshot& s, const Conditioned& c) {
    auto& w = state_.warnings;
    // On at `on`, off only once `off` holds (a band between them: no chatter).
    auto latch = [&w](Alarm a, bool on, bool off) {
        if (on) w.set(a);
        else if (off) w.clear(a);
    };
    constexpr double kBandV = 0.05;
    const double target = activeTargetV();
    const double high = std::max(anchored_.ovpV - 0.05, target + 0.05);
    constexpr double kTol = 0.0005;  // filtered values approach whole-millivolt readings from one side
    latch(Alarm::CellHighVoltage, c.topV >= high - kTol, c.topV < high - kBandV);
    const double minV = anchored_.profile.minV;
    const double low = anchored_.reportedUvpV ? std::max(*anchored_.reportedUvpV + 0.10, minV) : minV;
    latch(Alarm::CellLowVoltage, c.minV <= low + kTol, c.minV > low + kBandV);
    const double n = static_cast<double>(s.cellVoltagesV.size());
    latch(Alarm::LowVoltage, c.sumV <= n * (minV + kTol), c.sumV > n * (minV + kBandV));
    if (const auto soc = socOf(s); config_.lowSocPercent > 0 && soc)
        latch(Alarm::LowSoc, *soc <= config_.lowSocPercent, *soc >= config_.lowSocPercent + 5);
    else
        w.clear(Alarm::LowSoc);
}

double ChargeEngine::shape(Limit target, double increaseA, double maxA, double dtS, double& last, double& holdS,
                           bool& rising, std::string_view& cause, std::string& reason) const {
    const double deadband = std::max(kReductionDeadband * maxA, 0.2);
    target.amps = round1(target.amps);
    increaseA = std::min(round1(increaseA), target.amps);
    const bool reduce = last < 0 || (target.amps <= 0 ? last > 0 : target.amps < last - deadband);
    if (reduce) {
        // A reduction: at once (0 always; otherwise when it is more than the deadband).
        last = target.amps;
        cause = target.name;
        holdS = 0;
        rising = false;
    } else if (rising) {
        // An increase under way goes on until it lands exactly on its target.
        if (increaseA > last) last = std::min(increaseA, last + config_.increaseAps * dtS);
        if (last >= increaseA) rising = false;
    } else if (increaseA > last + config_.hysteresisFraction * maxA) {
        // An increase only once the target has stayed above the band for recovery_hold
        // without interruption; then rate-limited. A reduction is never delayed by it.
        holdS += dtS;
        if (holdS >= config_.recoveryHoldS) {
            rising = true;
            last = std::min(increaseA, last + config_.increaseAps * dtS);
            if (last >= increaseA) rising = false;
        }
    } else {
        holdS = 0;
    }
    // Never above the maximum in force (the owner lowered it by less than the deadband):
    // the deadband filters the readings' noise, not a lower maximum. To the 0.1 A step at or
    // below it.
    if (const double cap = std::floor(maxA * 10 + 1e-6) / 10; last > cap) {
        last = cap;
        cause = target.name;
        holdS = 0;
        rising = false;
    }
    last = round1(last);
    // The reason in force: the limiter that sets the value, or - while a limit is held below
    // its target or still rising - what brought it down.
    if ((rising || holdS > 0) && last + 0.05 < increaseA) {
        reason = "Recovery (";
        reason += cause.empty() ? target.name : cause;
        reason += ')';
    } else if (increaseA + 0.05 < target.amps) {
        reason = "Cell voltage";
    } else {
        reason = target.name;
    }
    return last;
}

}  // namespace jkbms::charge
