#pragma once
// PackPlant: the world around the charge engine in the closed-loop tests
// (charge-control.md section 7). Deterministic from a seed.
//
//  - Cells (8S/16S/24S, LFP/NMC/LTO): an open-circuit-voltage curve per chemistry (each shaped
//    so the chemistry's usual bulk target is ~99 % at rest, steep above 100 %), capacities up
//    to ~10 % apart, R0 up to 2x apart, one RC polarisation branch per cell (tau 30-60 s), SoC
//    imbalance at the top of about +-1 % plus one runner cell.
//  - The JK BMS: readings quantised like a JK (1 mV cells with a fixed offset and noise, +-5 mV
//    in total; 0.01 A current with offset and noise; a coulomb-counted SoC that can read low;
//    T1/T2/MOSFET temperatures; live FET states; alarms; the protection settings), its own
//    protection (cell OVP/UVP with a 2 s delay and release voltages, charge/discharge OTP/UTP,
//    over-current), the active balancer, restarts, late and missing readings.
//  - Victron DVCC: the published limits rounded as Victron shows them and copied to the
//    chargers on a 3 s systemcalc cycle (sample and hold, random phase); the chargers' voltage
//    set-point follows as a second-order response (damping 0.78: ~2 % overshoot) settling in
//    chargerSettleS; the current is what that set-point drives into the pack, capped by the
//    applied CCL, the chargers' maximum and the solar available (clouds); a charger may stop
//    short of CVL; an inverter load follows DCL the same way.

#include <array>
#include <cstdint>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "jkbms/domain/battery_snapshot.hpp"
#include "jkbms/domain/charge_limits.hpp"

namespace jkbms::charge::testing {

enum class Chemistry : std::uint8_t { Lfp, Nmc, Lto };
std::string_view chemistryName(Chemistry chemistry);  // "LFP", "NMC", "LTO"

// The chemistry's usual targets and a JK's protection settings for it.
struct ChemistryProfile {
    double bulkCellV;    // the usual bulk/absorption target (~99 % at rest)
    double floatCellV;   // the usual float target
    double ovpV, ovprV;  // BMS cell over-voltage protection and its release
    double uvpV, uvprV;  // BMS cell under-voltage protection and its release
    double balanceStartV;
    double chargeUtpC;  // BMS charge under-temperature protection
};
const ChemistryProfile& chemistryProfile(Chemistry chemistry);

// Open-circuit voltage of one cell at a state of charge (0..1; outside it the curve continues
// steeply: overcharge and over-discharge).
double openCircuitV(Chemistry chemistry, double soc);

struct PlantOptions {
    std::uint32_t seed = 1;
    int cells = 16;
    Chemistry chemistry = Chemistry::Lfp;
    double capacityAh = 280;  // nominal (what the BMS is set to)
    double startSoc = 0.25;   // pack mean
    bool spread = true;       // capacity, resistance and SoC differences between cells
    bool noise = true;        // reading offsets and noise
    double physicsStepS = 0.2;

    // The BMS link.
    double pollS = 1;
    double pollJitter = 0.1;           // fraction of the poll interval, uniform +-
    double lateProbability = 0.02;     // a reading that describes the plant 0.5-2 s in the past
    double missingProbability = 0.02;  // a poll without a reading
    double bmsSocLowPercent = 0;       // the BMS's SoC reads this much low
    double bmsRestartSocPercent = 60;  // where the BMS's SoC counter restarts after a reboot

    // BMS settings (NaN: the chemistry's defaults / derived from the capacity).
    double maxChargeCurrentA = 0;      // 0: 1 C
    double maxDischargeCurrentA = 0;   // 0: 1 C
    std::optional<double> chargeUtpC;  // default: the chemistry's
    double chargeOtpC = 55;
    double dischargeUtpC = -20;
    double dischargeOtpC = 65;
    double temperatureReleaseC = 2;  // the BMS re-enables 2 C inside the limit
    double balanceCurrentA = 1.5;
    double balanceTriggerV = 0.005;

    // Temperatures: first-order towards the ambient, plus I^2 heating (+12 K steady at 1 C).
    double startTemperatureC = 25;
    double ambientC = 25;
    double thermalTauS = 3600;

    // Victron side.
    double dvccPeriodS = 3;
    double chargerMaxA = 140;       // the chargers' own maximum (0: no charger)
    double chargerSettleS = 10;     // 2 % settling time of the chargers' voltage loop
    double chargerDamping = 0.78;   // ~2 % overshoot
    double chargerShortfallV = 0;   // the chargers stop this far short of CVL (cable, calibration)
    double chargerCurrentTauS = 1;  // current response of the chargers
    bool clouds = true;             // solar comes and goes
    double cloudMeanIntervalS = 1800;
    double dcLoadA = 0;          // a DC load, always on, fed by the chargers first
    double inverterDemandA = 0;  // an inverter load that follows DCL
    double inverterTauS = 2;
};

// One cell-level instant of the plant, kept for late readings.
struct PlantFrame {
    double t = 0;
    std::array<double, domain::BatterySnapshot::kMaxCells> cellV{};
    double currentA = 0;
    double t1C = 0, t2C = 0, mosC = 0;
    bool chargeFet = true, dischargeFet = true;
    bool balancing = false;
    double balanceA = 0;
    domain::AlarmSet alarms;
    double bmsSocAh = 0;
};

// The BMS's own protection events (true = it happened at least once; counts of trips).
struct ProtectionCounts {
    int cellOvp = 0, cellUvp = 0, chargeUtp = 0, chargeOtp = 0, dischargeUtp = 0, dischargeOtp = 0, chargeOcp = 0,
        dischargeOcp = 0;
};

class PackPlant {
public:
    explicit PackPlant(PlantOptions options);

    // Advances the physics to the next poll and returns the reading the daemon receives then;
    // std::nullopt when that poll is lost. time() is then the time of that poll.
    std::optional<domain::BatterySnapshot> nextReading();
    // Runs the physics for a while without polls (a daemon or BMS restart).
    void runWithoutPolls(double seconds);
    double time() const { return t_; }

    // What the daemon publishes: rounded as Victron shows it (CVL 0.01 V, CCL/DCL 0.1 A) and
    // copied to the chargers at the next systemcalc cycle. An absent value leaves the previous.
    void publish(const domain::ChargeLimits& limits);

    // Events.
    void setUserChargeSwitch(bool on);  // the user's charge switch in the BMS
    void restartBms();                  // the BMS reboots: its SoC counter restarts
    void forceCloud(double durationS, double fraction);
    void setSolar(bool on);  // the sun (false: night, no charger current)
    void setInverterDemand(double amps) { opt_.inverterDemandA = amps; }
    void setDcLoad(double amps) { opt_.dcLoadA = amps; }
    void setAmbient(double celsius) { opt_.ambientC = celsius; }

    // Truth.
    std::size_t cells() const { return cells_.size(); }
    double trueCellV(std::size_t i) const;
    double maxTrueCellV() const;
    double minTrueCellV() const;
    double trueSoc() const;  // pack: stored Ah / capacity Ah, 0..1
    double cellSoc(std::size_t i) const { return cells_[i].soc; }
    double minCellSoc() const;
    double maxCellSoc() const;
    double currentA() const { return currentA_; }  // battery current, > 0 charging
    double packV() const;
    double temperatureC() const { return temperatureC_; }
    double bmsSocPercent() const;
    bool chargeFet() const { return chargeFet_; }
    bool dischargeFet() const { return dischargeFet_; }
    double chargerSetpointV() const { return setpointV_; }
    double solarFraction() const;
    double appliedCvl() const { return applied_.cvl; }
    double appliedCcl() const { return applied_.ccl; }
    double appliedDcl() const { return applied_.dcl; }
    const ProtectionCounts& trips() const { return trips_; }
    const domain::BmsSettings& settings() const { return settings_; }
    const ChemistryProfile& profile() const { return chemistryProfile(opt_.chemistry); }
    const PlantOptions& options() const { return opt_; }

    // Extremes since the last resetExtremes(), at physics resolution.
    double maxTrueCellSeenV() const { return maxCellSeen_; }
    double minTrueCellSeenV() const { return minCellSeen_; }
    double maxChargeCurrentBelowUtpA() const { return maxChargeBelowUtp_; }
    double maxChargeCurrentAboveOtpA() const { return maxChargeAboveOtp_; }
    void resetExtremes();

private:
    struct Cell {
        double capacityAh, soc, r0, r1, tauS, decay, polV, offsetV;
    };
    struct Applied {
        double cvl = 0, ccl = 0, dcl = 0;
        bool any = false;
    };
    void step(double dt);
    void protect(double dt);
    void record();
    domain::BatterySnapshot readingOf(const PlantFrame& frame);
    double ocvSum() const;
    double noise(double halfWidth);

    PlantOptions opt_;
    std::mt19937 rng_;
    std::vector<Cell> cells_;
    domain::BmsSettings settings_;
    double t_ = 0, nextPollT_ = 0, nextDvccT_ = 0;
    double currentA_ = 0, chargerA_ = 0, inverterA_ = 0;
    double setpointV_ = 0, setpointRate_ = 0;
    double temperatureC_ = 25, t1OffsetC_ = 0, t2OffsetC_ = 0;
    double currentOffsetA_ = 0, packOffsetV_ = 0;
    double bmsSocAh_ = 0;
    bool userChargeSwitch_ = true;
    bool chargeFet_ = true, dischargeFet_ = true;
    bool ovpLatched_ = false, uvpLatched_ = false, chargeTempLatched_ = false, dischargeTempLatched_ = false;
    bool chargeUtpLatched_ = false;
    double ovpTimerS_ = 0, uvpTimerS_ = 0, ocpTimerS_ = 0, ocpOffS_ = 0, docpTimerS_ = 0, docpOffS_ = 0;
    bool balancing_ = false;
    double balanceA_ = 0;
    bool solar_ = true;
    double cloudUntilT_ = -1, cloudFraction_ = 1, nextCloudT_ = 0;
    Applied published_, applied_;
    std::deque<PlantFrame> history_;
    ProtectionCounts trips_;
    double maxCellSeen_ = 0, minCellSeen_ = 1e9, maxChargeBelowUtp_ = 0, maxChargeAboveOtp_ = 0;
};

// One row of the closed-loop CSV.
struct CsvRow {
    double t = 0;
    std::string mode;
    double cvl = 0, ccl = 0, dcl = 0;
    double currentA = 0, packV = 0, setpointV = 0;
    double trueMaxCellV = 0, trueMinCellV = 0, reportedMaxCellV = 0, reportedMinCellV = 0;
    double targetCellV = 0;
    double trueSocPercent = 0, bmsSocPercent = 0, temperatureC = 0, solarFraction = 0;
    bool chargeFet = true, dischargeFet = true;
};

// Writes one CSV per run into $JKBMS_CLOSED_LOOP_CSV (nothing when it is unset).
class CsvLog {
public:
    explicit CsvLog(const std::string& runName);
    bool enabled() const { return out_ != nullptr; }
    void row(const CsvRow& r);

private:
    std::unique_ptr<std::ofstream> out_;
};

// Fills a CsvRow from the plant's truth, a reading (may be null) and the published limits.
CsvRow csvRow(const PackPlant& plant, const domain::BatterySnapshot* reading, const domain::ChargeLimits& limits);

}  // namespace jkbms::charge::testing
