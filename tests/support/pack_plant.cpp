#include "support/pack_plant.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <utility>

namespace jkbms::charge::testing {
namespace {

using Curve = std::vector<std::pair<double, double>>;

// Open-circuit voltage curves (SoC 0..1 -> V), each with the chemistry's bulk target at ~99 %.
const Curve& curve(Chemistry chemistry) {
    static const Curve kLfp = {{0.00, 2.50}, {0.01, 2.80}, {0.03, 3.00}, {0.05, 3.10}, {0.10, 3.20},
                               {0.20, 3.25}, {0.40, 3.28}, {0.60, 3.30}, {0.80, 3.33}, {0.90, 3.35},
                               {0.95, 3.38}, {0.98, 3.42}, {0.99, 3.45}, {1.00, 3.55}};
    static const Curve kNmc = {{0.00, 3.00}, {0.03, 3.30}, {0.10, 3.45}, {0.20, 3.55}, {0.40, 3.66}, {0.60, 3.80},
                               {0.80, 3.93}, {0.90, 4.00}, {0.95, 4.05}, {0.99, 4.10}, {1.00, 4.13}};
    static const Curve kLto = {{0.00, 1.70}, {0.02, 1.85}, {0.05, 2.05}, {0.10, 2.18}, {0.20, 2.25}, {0.50, 2.32},
                               {0.80, 2.40}, {0.90, 2.46}, {0.95, 2.53}, {0.98, 2.60}, {0.99, 2.65}, {1.00, 2.72}};
    switch (chemistry) {
        case Chemistry::Lfp:
            return kLfp;
        case Chemistry::Nmc:
            return kNmc;
        case Chemistry::Lto:
            return kLto;
    }
    return kLfp;
}

// Slopes beyond the ends (V per unit SoC): overcharge and over-discharge are steep.
double overchargeSlope(Chemistry chemistry) {
    switch (chemistry) {
        case Chemistry::Lfp:
            return 30;  // +0.3 V per % above full
        case Chemistry::Nmc:
            return 10;
        case Chemistry::Lto:
            return 8;
    }
    return 30;
}

double round(double v, double unit) { return std::round(v / unit) * unit; }

}  // namespace

std::string_view chemistryName(Chemistry chemistry) {
    switch (chemistry) {
        case Chemistry::Lfp:
            return "LFP";
        case Chemistry::Nmc:
            return "NMC";
        case Chemistry::Lto:
            return "LTO";
    }
    return "?";
}

const ChemistryProfile& chemistryProfile(Chemistry chemistry) {
    static const ChemistryProfile kLfp{3.45, 3.375, 3.65, 3.55, 2.80, 3.00, 3.40, 2};
    static const ChemistryProfile kNmc{4.10, 4.00, 4.20, 4.10, 3.00, 3.20, 4.00, 0};
    static const ChemistryProfile kLto{2.65, 2.55, 2.80, 2.70, 1.80, 1.95, 2.55, -20};
    switch (chemistry) {
        case Chemistry::Lfp:
            return kLfp;
        case Chemistry::Nmc:
            return kNmc;
        case Chemistry::Lto:
            return kLto;
    }
    return kLfp;
}

double openCircuitV(Chemistry chemistry, double soc) {
    const Curve& c = curve(chemistry);
    if (soc >= 1.0) return c.back().second + (soc - 1.0) * overchargeSlope(chemistry);
    if (soc <= 0.0) return c.front().second + soc * 30.0;
    // Few points: a linear scan is as fast as a binary search.
    for (std::size_t i = 1; i < c.size(); ++i)
        if (soc <= c[i].first) {
            const auto [s0, v0] = c[i - 1];
            const auto [s1, v1] = c[i];
            return v0 + (v1 - v0) * (soc - s0) / (s1 - s0);
        }
    return c.back().second;
}

PackPlant::PackPlant(PlantOptions options) : opt_(std::move(options)), rng_(opt_.seed) {
    const ChemistryProfile& p = profile();
    const auto n =
        static_cast<std::size_t>(std::clamp(opt_.cells, 1, static_cast<int>(domain::BatterySnapshot::kMaxCells)));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    cells_.resize(n);
    // Top-balanced with +-1 % of imbalance; one cell (a seeded one) 10 % small and 1 % ahead.
    const std::size_t weak = static_cast<std::size_t>(rng_() % n);
    const double missingAh = (1.0 - opt_.startSoc) * opt_.capacityAh;
    for (std::size_t i = 0; i < n; ++i) {
        Cell& c = cells_[i];
        const double capFactor = !opt_.spread ? 1.0 : i == weak ? 0.90 : 0.92 + 0.08 * unit(rng_);
        c.capacityAh = opt_.capacityAh * capFactor;
        const double topOffset = !opt_.spread ? 0.0 : i == weak ? 0.01 : 0.02 * unit(rng_) - 0.01;
        c.soc = 1.0 - missingAh / c.capacityAh + topOffset;
        const double rScale = 280.0 / opt_.capacityAh;
        c.r0 = 0.25e-3 * rScale * (opt_.spread ? 1.0 + unit(rng_) : 1.4);
        c.r1 = 0.5 * c.r0;
        c.tauS = 30 + 30 * unit(rng_);
        c.decay = std::exp(-opt_.physicsStepS / c.tauS);
        c.polV = 0;
        c.offsetV = opt_.noise ? (unit(rng_) * 4 - 2) * 1e-3 : 0;  // fixed per-cell offset, +-2 mV
    }
    // The pack mean at startSoc exactly (the imbalance shifts it a little).
    {
        double ah = 0, cap = 0;
        for (const Cell& c : cells_) {
            ah += c.soc * c.capacityAh;
            cap += c.capacityAh;
        }
        const double shift = opt_.startSoc - ah / cap;
        for (Cell& c : cells_) c.soc += shift * opt_.capacityAh / c.capacityAh;
    }
    if (opt_.noise) {
        currentOffsetA_ = (unit(rng_) * 2 - 1) * 0.1;
        packOffsetV_ = (unit(rng_) * 2 - 1) * 0.05;
        t1OffsetC_ = (unit(rng_) * 2 - 1) * 0.5;
        t2OffsetC_ = (unit(rng_) * 2 - 1) * 0.5;
    }
    temperatureC_ = opt_.startTemperatureC;

    const double maxCharge = opt_.maxChargeCurrentA > 0 ? opt_.maxChargeCurrentA : opt_.capacityAh;
    const double maxDischarge = opt_.maxDischargeCurrentA > 0 ? opt_.maxDischargeCurrentA : opt_.capacityAh;
    settings_.cellOvpV = p.ovpV;
    settings_.cellOvprV = p.ovprV;
    // LFP packs: UVP anywhere in 2.80..2.90 (users' choice).
    settings_.cellUvpV = opt_.chemistry == Chemistry::Lfp ? 2.80 + 0.05 * static_cast<double>(rng_() % 3) : p.uvpV;
    settings_.cellUvprV = *settings_.cellUvpV + (p.uvprV - p.uvpV);
    settings_.maxChargeCurrentA = maxCharge;
    settings_.maxDischargeCurrentA = maxDischarge;
    settings_.chargeOcpA = std::round(maxCharge * 1.25);
    settings_.dischargeOcpA = std::round(maxDischarge * 1.25);
    settings_.balanceStartV = p.balanceStartV;
    settings_.balanceTriggerV = opt_.balanceTriggerV;
    settings_.maxBalanceCurrentA = opt_.balanceCurrentA;
    settings_.chargeUtpC = opt_.chargeUtpC.value_or(p.chargeUtpC);
    settings_.chargeOtpC = opt_.chargeOtpC;
    settings_.dischargeUtpC = opt_.dischargeUtpC;
    settings_.dischargeOtpC = opt_.dischargeOtpC;
    settings_.mosOtpC = 90;
    settings_.cellCount = static_cast<std::uint32_t>(n);
    settings_.nominalCapacityAh = opt_.capacityAh;

    bmsSocAh_ = std::clamp(trueSoc() - opt_.bmsSocLowPercent / 100, 0.0, 1.0) * opt_.capacityAh;
    setpointV_ = packV();
    nextDvccT_ = unit(rng_) * opt_.dvccPeriodS;  // random phase of systemcalc's cycle
    nextPollT_ = 0;
    nextCloudT_ = opt_.clouds ? std::exponential_distribution<double>(1 / opt_.cloudMeanIntervalS)(rng_) : 1e18;
    resetExtremes();
    protect(0);
    record();
}

double PackPlant::noise(double halfWidth) {
    // Triangular on [-halfWidth, halfWidth]: bounded, most readings near the truth.
    std::uniform_real_distribution<double> u(-0.5, 0.5);
    return (u(rng_) + u(rng_)) * halfWidth;
}

double PackPlant::trueCellV(std::size_t i) const {
    const Cell& c = cells_[i];
    return openCircuitV(opt_.chemistry, c.soc) + currentA_ * c.r0 + c.polV;
}

double PackPlant::maxTrueCellV() const {
    double m = -1e9;
    for (std::size_t i = 0; i < cells_.size(); ++i) m = std::max(m, trueCellV(i));
    return m;
}

double PackPlant::minTrueCellV() const {
    double m = 1e9;
    for (std::size_t i = 0; i < cells_.size(); ++i) m = std::min(m, trueCellV(i));
    return m;
}

double PackPlant::packV() const {
    double v = 0;
    for (std::size_t i = 0; i < cells_.size(); ++i) v += trueCellV(i);
    return v;
}

double PackPlant::trueSoc() const {
    double ah = 0, cap = 0;
    for (const Cell& c : cells_) {
        ah += c.soc * c.capacityAh;
        cap += c.capacityAh;
    }
    return ah / cap;
}

double PackPlant::minCellSoc() const {
    double m = 1e9;
    for (const Cell& c : cells_) m = std::min(m, c.soc);
    return m;
}

double PackPlant::maxCellSoc() const {
    double m = -1e9;
    for (const Cell& c : cells_) m = std::max(m, c.soc);
    return m;
}

double PackPlant::bmsSocPercent() const {
    return std::clamp(std::round(bmsSocAh_ / opt_.capacityAh * 100), 0.0, 100.0);
}

double PackPlant::solarFraction() const {
    if (!solar_) return 0;
    return t_ < cloudUntilT_ ? cloudFraction_ : 1.0;
}

double PackPlant::ocvSum() const {
    double v = 0;
    for (const Cell& c : cells_) v += openCircuitV(opt_.chemistry, c.soc) + c.polV;
    return v;
}

void PackPlant::resetExtremes() {
    maxCellSeen_ = maxTrueCellV();
    minCellSeen_ = minTrueCellV();
    maxChargeBelowUtp_ = 0;
    maxChargeAboveOtp_ = 0;
}

void PackPlant::publish(const domain::ChargeLimits& limits) {
    if (limits.maxChargeVoltageV) published_.cvl = round(*limits.maxChargeVoltageV, 0.01);
    if (limits.maxChargeCurrentA) published_.ccl = round(*limits.maxChargeCurrentA, 0.1);
    if (limits.maxDischargeCurrentA) published_.dcl = round(*limits.maxDischargeCurrentA, 0.1);
    if (limits.maxChargeVoltageV && limits.maxChargeCurrentA && limits.maxDischargeCurrentA) published_.any = true;
}

void PackPlant::setUserChargeSwitch(bool on) {
    userChargeSwitch_ = on;
    protect(0);
}

void PackPlant::restartBms() { bmsSocAh_ = opt_.bmsRestartSocPercent / 100 * opt_.capacityAh; }

void PackPlant::forceCloud(double durationS, double fraction) {
    cloudUntilT_ = t_ + durationS;
    cloudFraction_ = fraction;
}

void PackPlant::setSolar(bool on) { solar_ = on; }

// The BMS's own protection, on its (true) measurements.
void PackPlant::protect(double dt) {
    const double hi = maxTrueCellV(), lo = minTrueCellV();
    const double tLo = std::min(temperatureC_ + t1OffsetC_, temperatureC_ + t2OffsetC_);
    const double tHi = std::max(temperatureC_ + t1OffsetC_, temperatureC_ + t2OffsetC_);
    constexpr double kDelayS = 2;
    // Cell OVP: 2 s above, released below OVPR.
    ovpTimerS_ = hi > *settings_.cellOvpV ? ovpTimerS_ + dt : 0;
    if (!ovpLatched_ && ovpTimerS_ >= kDelayS) {
        ovpLatched_ = true;
        ++trips_.cellOvp;
    } else if (ovpLatched_ && hi < *settings_.cellOvprV) {
        ovpLatched_ = false;
    }
    uvpTimerS_ = lo < *settings_.cellUvpV ? uvpTimerS_ + dt : 0;
    if (!uvpLatched_ && uvpTimerS_ >= kDelayS) {
        uvpLatched_ = true;
        ++trips_.cellUvp;
    } else if (uvpLatched_ && lo > *settings_.cellUvprV) {
        uvpLatched_ = false;
    }
    // Charge temperature (immediate, with a release band).
    const double rel = opt_.temperatureReleaseC;
    const bool utpNow = tLo < *settings_.chargeUtpC;
    const bool otpNow = tHi > *settings_.chargeOtpC;
    if (!chargeTempLatched_ && (utpNow || otpNow)) {
        chargeTempLatched_ = true;
        chargeUtpLatched_ = utpNow;
        ++(utpNow ? trips_.chargeUtp : trips_.chargeOtp);
    } else if (chargeTempLatched_ && tLo >= *settings_.chargeUtpC + rel && tHi <= *settings_.chargeOtpC - rel) {
        chargeTempLatched_ = false;
    }
    const bool dUtp = tLo<*settings_.dischargeUtpC, dOtp = tHi> * settings_.dischargeOtpC;
    if (!dischargeTempLatched_ && (dUtp || dOtp)) {
        dischargeTempLatched_ = true;
        ++(dUtp ? trips_.dischargeUtp : trips_.dischargeOtp);
    } else if (dischargeTempLatched_ && tLo >= *settings_.dischargeUtpC + rel &&
               tHi <= *settings_.dischargeOtpC - rel) {
        dischargeTempLatched_ = false;
    }
    // Over-current: 2 s above OCP opens the FET for 30 s.
    ocpOffS_ = std::max(0.0, ocpOffS_ - dt);
    ocpTimerS_ = currentA_ > *settings_.chargeOcpA ? ocpTimerS_ + dt : 0;
    if (ocpTimerS_ >= kDelayS && ocpOffS_ <= 0) {
        ocpOffS_ = 30;
        ++trips_.chargeOcp;
    }
    docpOffS_ = std::max(0.0, docpOffS_ - dt);
    docpTimerS_ = -currentA_ > *settings_.dischargeOcpA ? docpTimerS_ + dt : 0;
    if (docpTimerS_ >= kDelayS && docpOffS_ <= 0) {
        docpOffS_ = 30;
        ++trips_.dischargeOcp;
    }
    chargeFet_ = userChargeSwitch_ && !ovpLatched_ && !chargeTempLatched_ && ocpOffS_ <= 0;
    dischargeFet_ = !uvpLatched_ && !dischargeTempLatched_ && docpOffS_ <= 0;
}

void PackPlant::step(double dt) {
    t_ += dt;
    // systemcalc: sample and hold of what we publish.
    while (t_ >= nextDvccT_) {
        if (published_.any) applied_ = published_;
        nextDvccT_ += opt_.dvccPeriodS;
    }
    // Clouds.
    if (opt_.clouds && t_ >= nextCloudT_) {
        std::uniform_real_distribution<double> dur(60, 600), frac(0.1, 0.3);
        cloudUntilT_ = t_ + dur(rng_);
        cloudFraction_ = frac(rng_);
        nextCloudT_ = cloudUntilT_ + std::exponential_distribution<double>(1 / opt_.cloudMeanIntervalS)(rng_);
    }
    // The chargers' voltage set-point: second order towards (CVL - shortfall).
    const double n = static_cast<double>(cells_.size());
    const double cvl = applied_.any ? applied_.cvl : n * profile().bulkCellV;
    const double ccl = applied_.any ? applied_.ccl : opt_.chargerMaxA;
    const double dcl = applied_.any ? applied_.dcl : opt_.inverterDemandA;
    const double target = cvl - opt_.chargerShortfallV;
    const double zeta = opt_.chargerDamping;
    const double wn = 4.0 / (zeta * std::max(opt_.chargerSettleS, 0.5));
    setpointRate_ += dt * (wn * wn * (target - setpointV_) - 2 * zeta * wn * setpointRate_);
    setpointV_ += dt * setpointRate_;

    // The inverter follows DCL (and its own demand), with a lag.
    const double inverterWant = dischargeFet_ ? std::min(opt_.inverterDemandA, std::max(0.0, dcl)) : 0.0;
    inverterA_ += (inverterWant - inverterA_) * (1 - std::exp(-dt / opt_.inverterTauS));
    const double loadA = inverterA_ + opt_.dcLoadA;

    // The chargers: the current their set-point drives into the pack, capped.
    double r0 = 0;
    for (const Cell& c : cells_) r0 += c.r0;
    const double wantBattery = (setpointV_ - ocvSum()) / r0;
    const double cap = std::min(opt_.chargerMaxA * solarFraction(), std::max(0.0, ccl) + loadA);
    double chargerWant = std::clamp(wantBattery + loadA, 0.0, std::max(0.0, cap));
    if (!chargeFet_) chargerWant = std::min(chargerWant, loadA);  // nothing flows into the cells
    chargerA_ += (chargerWant - chargerA_) * (1 - std::exp(-dt / opt_.chargerCurrentTauS));
    double battery = chargerA_ - loadA;
    if (!chargeFet_) battery = std::min(battery, 0.0);     // discharge through the body diode only
    if (!dischargeFet_) battery = std::max(battery, 0.0);  // loads go dark
    currentA_ = battery;

    // Cells: charge, polarisation, the balancer (moves charge from the highest to the lowest).
    for (Cell& c : cells_) {
        c.soc += currentA_ * dt / 3600.0 / c.capacityAh;
        const double ss = currentA_ * c.r1;
        c.polV = ss + (c.polV - ss) * c.decay;
    }
    std::size_t hiI = 0, loI = 0;
    double hiV = -1e9, loV = 1e9;
    for (std::size_t i = 0; i < cells_.size(); ++i) {
        const double v = trueCellV(i);
        if (v > hiV) {
            hiV = v;
            hiI = i;
        }
        if (v < loV) {
            loV = v;
            loI = i;
        }
    }
    balancing_ = hiV > *settings_.balanceStartV && hiV - loV > opt_.balanceTriggerV;
    balanceA_ = balancing_ ? opt_.balanceCurrentA : 0;
    if (balancing_) {
        cells_[hiI].soc -= balanceA_ * dt / 3600.0 / cells_[hiI].capacityAh;
        cells_[loI].soc += 0.9 * balanceA_ * dt / 3600.0 / cells_[loI].capacityAh;
    }
    // The BMS's coulomb counter (on its measured current).
    bmsSocAh_ = std::clamp(bmsSocAh_ + (currentA_ + currentOffsetA_) * dt / 3600.0, 0.0, opt_.capacityAh);
    // Temperature: towards the ambient, plus I^2 heating (+12 K steady state at 1 C).
    const double c = currentA_ / opt_.capacityAh;
    temperatureC_ += dt * ((opt_.ambientC - temperatureC_) / opt_.thermalTauS + 12.0 / opt_.thermalTauS * c * c);

    protect(dt);
    maxCellSeen_ = std::max(maxCellSeen_, hiV);
    minCellSeen_ = std::min(minCellSeen_, loV);
    const double tLo = temperatureC_ + std::min(t1OffsetC_, t2OffsetC_);
    const double tHi = temperatureC_ + std::max(t1OffsetC_, t2OffsetC_);
    if (tLo < *settings_.chargeUtpC) maxChargeBelowUtp_ = std::max(maxChargeBelowUtp_, currentA_);
    if (tHi > *settings_.chargeOtpC) maxChargeAboveOtp_ = std::max(maxChargeAboveOtp_, currentA_);
    record();
}

void PackPlant::record() {
    PlantFrame f;
    f.t = t_;
    for (std::size_t i = 0; i < cells_.size(); ++i) f.cellV[i] = trueCellV(i);
    f.currentA = currentA_;
    f.t1C = temperatureC_ + t1OffsetC_;
    f.t2C = temperatureC_ + t2OffsetC_;
    f.mosC = temperatureC_ + 3 + 15 * std::pow(currentA_ / std::max(1.0, *settings_.maxChargeCurrentA), 2);
    f.chargeFet = chargeFet_;
    f.dischargeFet = dischargeFet_;
    f.balancing = balancing_;
    f.balanceA = balanceA_;
    if (ovpLatched_) f.alarms.set(domain::Alarm::CellHighVoltage);
    if (uvpLatched_) f.alarms.set(domain::Alarm::CellLowVoltage);
    if (chargeTempLatched_)
        f.alarms.set(chargeUtpLatched_ ? domain::Alarm::LowChargeTemperature : domain::Alarm::HighChargeTemperature);
    if (dischargeTempLatched_) f.alarms.set(f.t1C < 0 ? domain::Alarm::LowTemperature : domain::Alarm::HighTemperature);
    if (ocpOffS_ > 0) f.alarms.set(domain::Alarm::HighChargeCurrent);
    if (docpOffS_ > 0) f.alarms.set(domain::Alarm::HighDischargeCurrent);
    f.bmsSocAh = bmsSocAh_;
    history_.push_back(f);
    while (history_.size() > 2 && history_.front().t < t_ - 2.5) history_.pop_front();
}

domain::BatterySnapshot PackPlant::readingOf(const PlantFrame& f) {
    domain::BatterySnapshot s;
    double sum = 0;
    for (std::size_t i = 0; i < cells_.size(); ++i) {
        const double v = f.cellV[i] + cells_[i].offsetV + (opt_.noise ? noise(6e-3) : 0.0);  // +-3 mV noise
        s.cellVoltagesV.push_back(round(v, 0.001));
        sum += f.cellV[i];
    }
    s.packVoltageV = round(sum + packOffsetV_, 0.01);
    s.currentA = round(f.currentA + currentOffsetA_ + (opt_.noise ? noise(0.1) : 0.0), 0.01);
    s.powerW = *s.packVoltageV * *s.currentA;
    const double soc = std::clamp(std::round(f.bmsSocAh / opt_.capacityAh * 100), 0.0, 100.0);
    s.socPercent = soc;
    s.sohPercent = 100;
    s.remainingCapacityAh = round(f.bmsSocAh, 0.001);
    s.fullCapacityAh = opt_.capacityAh;
    s.cycleCount = 12;
    s.temperatures.push_back({"T1", round(f.t1C, 0.1)});
    s.temperatures.push_back({"T2", round(f.t2C, 0.1)});
    s.mosfetTemperatureC = round(f.mosC, 0.1);
    s.switches.chargeMos = f.chargeFet;
    s.switches.dischargeMos = f.dischargeFet;
    s.switches.chargeEnabled = userChargeSwitch_;
    s.switches.dischargeEnabled = true;
    s.switches.balancerEnabled = true;
    s.balancing = f.balancing;
    s.balanceCurrentA = f.balanceA;
    s.alarms = f.alarms;
    s.alarmsReported = true;
    s.settings = settings_;
    s.identity.protocol = domain::Protocol::Nw;
    s.identity.variant = "NW";
    s.identity.model = "JK_PB2A16S20P";
    s.identity.softwareVersion = "15.36";
    s.identity.hardwareVersion = "15A";
    return s;
}

std::optional<domain::BatterySnapshot> PackPlant::nextReading() {
    const double dt = opt_.physicsStepS;
    while (t_ + dt * 0.5 < nextPollT_) step(dt);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    nextPollT_ += opt_.pollS * (1 + (u(rng_) * 2 - 1) * opt_.pollJitter);
    if (u(rng_) < opt_.missingProbability) return std::nullopt;
    const PlantFrame* frame = &history_.back();
    if (u(rng_) < opt_.lateProbability) {
        const double when = t_ - (0.5 + 1.5 * u(rng_));
        for (const PlantFrame& f : history_)
            if (f.t <= when + dt * 0.5)
                frame = &f;
            else
                break;
    }
    return readingOf(*frame);
}

void PackPlant::runWithoutPolls(double seconds) {
    const double end = t_ + seconds;
    while (t_ + opt_.physicsStepS * 0.5 < end) step(opt_.physicsStepS);
    nextPollT_ = std::max(nextPollT_, t_);
}

CsvLog::CsvLog(const std::string& runName) {
    const char* dir = std::getenv("JKBMS_CLOSED_LOOP_CSV");
    if (dir == nullptr || *dir == '\0') return;
    std::filesystem::create_directories(dir);
    std::string file = runName;
    for (char& ch : file)
        if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.')) ch = '_';
    out_ = std::make_unique<std::ofstream>(std::filesystem::path(dir) / (file + ".csv"));
    *out_ << "t_s,mode,cvl_v,ccl_a,dcl_a,current_a,pack_v,charger_setpoint_v,true_max_cell_v,true_min_cell_v,"
             "reported_max_cell_v,reported_min_cell_v,target_cell_v,true_soc_pct,bms_soc_pct,temperature_c,"
             "solar_fraction,charge_fet,discharge_fet\n";
}

void CsvLog::row(const CsvRow& r) {
    if (!out_) return;
    std::string mode = r.mode;
    std::replace(mode.begin(), mode.end(), '"', '\'');
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%.2f,\"%s\",%.3f,%.1f,%.1f,%.2f,%.3f,%.3f,%.4f,%.4f,%.3f,%.3f,%.3f,%.2f,%.0f,%.1f,%.2f,%d,%d\n", r.t,
                  mode.c_str(), r.cvl, r.ccl, r.dcl, r.currentA, r.packV, r.setpointV, r.trueMaxCellV, r.trueMinCellV,
                  r.reportedMaxCellV, r.reportedMinCellV, r.targetCellV, r.trueSocPercent, r.bmsSocPercent,
                  r.temperatureC, r.solarFraction, r.chargeFet ? 1 : 0, r.dischargeFet ? 1 : 0);
    *out_ << buf;
}

CsvRow csvRow(const PackPlant& plant, const domain::BatterySnapshot* reading, const domain::ChargeLimits& limits) {
    CsvRow r;
    r.t = plant.time();
    r.mode = limits.chargeMode;
    r.cvl = limits.maxChargeVoltageV.value_or(0);
    r.ccl = limits.maxChargeCurrentA.value_or(0);
    r.dcl = limits.maxDischargeCurrentA.value_or(0);
    r.currentA = plant.currentA();
    r.packV = plant.packV();
    r.setpointV = plant.chargerSetpointV();
    r.trueMaxCellV = plant.maxTrueCellV();
    r.trueMinCellV = plant.minTrueCellV();
    if (reading != nullptr) {
        if (const auto stats = reading->cellStats()) {
            r.reportedMaxCellV = stats->maxV;
            r.reportedMinCellV = stats->minV;
        }
    }
    r.targetCellV = plant.profile().bulkCellV;
    r.trueSocPercent = plant.trueSoc() * 100;
    r.bmsSocPercent = plant.bmsSocPercent();
    r.temperatureC = plant.temperatureC();
    r.solarFraction = plant.solarFraction();
    r.chargeFet = plant.chargeFet();
    r.dischargeFet = plant.dischargeFet();
    return r;
}

}  // namespace jkbms::charge::testing
