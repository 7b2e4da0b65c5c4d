#pragma once
// One sample battery for the D-Bus tests and benchmark: a 16-cell LiFePO4 pack discharging
// 12.5 A, with the limits a charge engine might publish for it.

#include "jkbms/domain/battery_snapshot.hpp"
#include "jkbms/domain/charge_limits.hpp"

namespace jkbms::test {

// Cells 3.300 .. 3.315 V (cell 1 lowest, cell 16 highest), T1 24 C, T2 26 C, balancing.
inline domain::BatterySnapshot sampleSnapshot16(double packVoltageV = 52.92) {
    domain::BatterySnapshot s;
    for (int i = 0; i < 16; ++i) s.cellVoltagesV.push_back(3.300 + 0.001 * i);
    s.packVoltageV = packVoltageV;
    s.currentA = -12.5;
    s.powerW = packVoltageV * -12.5;
    s.socPercent = 67;
    s.sohPercent = 98;
    s.fullCapacityAh = 280;
    s.remainingCapacityAh = 187.6;
    s.cycleCount = 41;
    s.cycleCapacityAh = 11500;
    s.temperatures.push_back({"T1", 24.0});
    s.temperatures.push_back({"T2", 26.0});
    s.mosfetTemperatureC = 31.0;
    s.switches.chargeMos = true;
    s.switches.dischargeMos = false;
    s.switches.balancerEnabled = true;
    s.balancing = true;
    s.alarmsReported = true;
    s.identity.softwareVersion = "11.261";
    s.identity.hardwareVersion = "11.XW";
    s.identity.serialNumber = "2041803028";
    return s;
}

inline domain::ChargeLimits sampleLimits() {
    domain::ChargeLimits l;
    l.maxChargeVoltageV = 55.2;
    l.maxChargeCurrentA = 100;
    l.maxDischargeCurrentA = 150;
    l.batteryLowVoltageV = 48;
    l.chargeMode = "Bulk";
    l.chargeLimitation = "Max charge current";
    l.dischargeLimitation = "Max discharge current";
    return l;
}

}  // namespace jkbms::test
