#pragma once
// The ranges a value from a JK BMS must be in to be believed. A value outside its range (SoC
// 255, a cell at 65.535 V = 0xFFFF, a current of 88 kA) is a misread frame or a firmware
// quirk, not a measurement: the D-Bus model publishes it invalid (never as a number) and the
// daemon logs it once. The bounds are wide on purpose - they catch impossible values, not
// unusual ones (the BMS's own protections and our charge limits handle those):
//
//   cell voltage        0 .. 5 V        LTO to NMC at their limits; 0 V is an open sense wire (real)
//   pack voltage        0 .. 200 V      32 cells x 5 V = 160 V is the most a JK BMS can see
//   current             -2000 .. 2000 A the largest JK models are rated 600 A (JK-PB 200 A)
//   power               -400 .. 400 kW  200 V x 2000 A
//   SoC, SoH            0 .. 100 %
//   capacity            0 .. 10000 Ah   nominal, remaining, full
//   temperature         -50 .. 150 C    battery sensors and the MOSFET (JK's own range is -40 .. 120)
//   cycle count         0 .. 100000
//   cycle capacity      0 .. 1e8 Ah     lifetime throughput
// A NaN or an infinity is never in range.

#include <string>
#include <string_view>
#include <vector>

#include "jkbms/domain/battery_snapshot.hpp"

namespace jkbms::domain {

struct PlausibleRange {
    double min = 0, max = 0;  // inclusive
    std::string_view unit;    // for messages: "V", "A", "%"
    bool contains(double v) const { return v >= min && v <= max; }  // false for NaN
};

namespace plausible {
inline constexpr PlausibleRange kCellVoltage{0.0, 5.0, "V"};
inline constexpr PlausibleRange kPackVoltage{0.0, 200.0, "V"};
inline constexpr PlausibleRange kCurrent{-2000.0, 2000.0, "A"};
inline constexpr PlausibleRange kPower{-400000.0, 400000.0, "W"};
inline constexpr PlausibleRange kPercent{0.0, 100.0, "%"};
inline constexpr PlausibleRange kCapacity{0.0, 10000.0, "Ah"};
inline constexpr PlausibleRange kTemperature{-50.0, 150.0, "C"};
inline constexpr PlausibleRange kCycleCount{0.0, 100000.0, ""};
inline constexpr PlausibleRange kCycleCapacity{0.0, 1e8, "Ah"};
}  // namespace plausible

struct OutOfRange {
    std::string what;  // "SoC", "cell 3 voltage", "temperature T2"
    double value = 0;
    PlausibleRange range;
    std::string text() const;  // "cell 3 voltage 65.535 V is outside 0 to 5 V"
};

// Every value of `snapshot` outside its range, in a fixed order (cells, pack, current, power,
// SoC, SoH, capacities, temperatures, MOSFET, cycles); empty when all are plausible. Absent
// values are not checked.
std::vector<OutOfRange> outOfRangeValues(const BatterySnapshot& snapshot);

}  // namespace jkbms::domain
