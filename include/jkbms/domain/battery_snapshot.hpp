#pragma once
// BatterySnapshot: one protocol-independent reading of a battery, the value every layer above
// the codecs works with (D-Bus paths, charge limits, the CLI). Conventions: SI units in the
// names, current > 0 = charging, absent = std::nullopt (the BMS did not report it).

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "jkbms/util/fixed_vector.hpp"

namespace jkbms::domain {

enum class Protocol : std::uint8_t { Nw, Ble, Pb };
std::string_view protocolName(Protocol protocol);  // "nw", "ble", "pb"

// Alarm conditions, named for what they mean to a battery monitor rather than by bit.
enum class Alarm : std::uint8_t {
    CellHighVoltage,
    CellLowVoltage,
    HighVoltage,             // pack over-voltage
    LowVoltage,              // pack under-voltage
    HighChargeCurrent,       // charge over-current or short circuit
    HighDischargeCurrent,    // discharge over-current or short circuit
    HighChargeTemperature,
    LowChargeTemperature,
    HighTemperature,         // battery / box / discharge over-temperature
    LowTemperature,          // battery / discharge under-temperature
    MosfetOverTemperature,
    CellImbalance,
    LowSoc,
    InternalFailure,         // MOSFET fault, sensor error, co-processor communication
    WireResistance,          // balance-wire resistance too high (a warning)
    CellCountMismatch,
    TemperatureSensorFault,
    Count_,
};

std::string_view alarmName(Alarm alarm);  // snake_case, e.g. "cell_high_voltage"

class AlarmSet {
public:
    void set(Alarm a) { bits_.set(static_cast<std::size_t>(a)); }
    void clear(Alarm a) { bits_.reset(static_cast<std::size_t>(a)); }
    bool has(Alarm a) const { return bits_.test(static_cast<std::size_t>(a)); }
    bool any() const { return bits_.any(); }
    friend bool operator==(const AlarmSet&, const AlarmSet&) = default;

private:
    std::bitset<static_cast<std::size_t>(Alarm::Count_)> bits_;
};

struct Temperature {
    std::string_view name;  // "T1", "T2", ... (static strings)
    double celsius = 0;
    friend bool operator==(const Temperature&, const Temperature&) = default;
};

struct Switches {
    std::optional<bool> chargeMos;        // live MOSFET state
    std::optional<bool> dischargeMos;
    std::optional<bool> chargeEnabled;    // the user's switch setting in the BMS
    std::optional<bool> dischargeEnabled;
    std::optional<bool> balancerEnabled;
};

// The BMS's own protection settings (what it will do), for limits and display.
struct BmsSettings {
    std::optional<double> cellOvpV, cellOvprV, cellUvpV, cellUvprV;
    std::optional<double> packOvpV, packUvpV;
    std::optional<double> maxChargeCurrentA, maxDischargeCurrentA;  // configured continuous
    std::optional<double> chargeOcpA, dischargeOcpA;                // NW protection thresholds
    std::optional<double> balanceStartV, balanceTriggerV, maxBalanceCurrentA;
    std::optional<double> requestChargeV, requestFloatV;            // JK-PB RCV / RFV per cell
    std::optional<double> soc100V, soc0V;
    std::optional<double> chargeOtpC, chargeUtpC, dischargeOtpC, dischargeUtpC, mosOtpC;
    std::optional<std::uint32_t> cellCount;
    std::optional<double> nominalCapacityAh;
};

struct Identity {
    Protocol protocol = Protocol::Nw;
    std::string variant;  // "NW", "JK02_24S", "JK02_32S", "JK04"
    std::string model, hardwareVersion, softwareVersion, serialNumber, manufacturingDate,
        deviceName;
};

struct CellStats {
    double minV = 0, maxV = 0, averageV = 0, deltaV = 0, sumV = 0;
    std::size_t minIndex = 0, maxIndex = 0;  // 0-based
};

struct BatterySnapshot {
    static constexpr std::size_t kMaxCells = 32;
    static constexpr std::size_t kMaxTemperatures = 6;

    util::FixedVector<double, kMaxCells> cellVoltagesV;
    std::optional<double> packVoltageV;
    std::optional<double> currentA;
    std::optional<double> powerW;
    std::optional<double> socPercent;
    std::optional<double> sohPercent;
    std::optional<double> remainingCapacityAh;
    std::optional<double> fullCapacityAh;      // what the BMS counts as 100 %
    std::optional<std::uint32_t> cycleCount;
    std::optional<double> cycleCapacityAh;     // cumulative throughput
    std::optional<std::uint32_t> runtimeS;
    util::FixedVector<Temperature, kMaxTemperatures> temperatures;  // battery sensors only
    std::optional<double> mosfetTemperatureC;
    Switches switches;
    bool balancing = false;
    std::optional<double> balanceCurrentA;
    std::optional<bool> heating;
    std::optional<double> heatingCurrentA;
    std::optional<std::uint8_t> bmsChargeStatus;  // JK02_32S: 0 bulk, 1 absorption, 2 float
    AlarmSet alarms;
    bool alarmsReported = false;  // false: this BMS cannot report alarms (JK04)
    BmsSettings settings;
    Identity identity;

    // Recomputed from the cells (the BMS's own min/max/avg fields lag one update).
    std::optional<CellStats> cellStats() const;
};

}  // namespace jkbms::domain
