#pragma once
// From codec output to BatterySnapshot. NW delivers everything in one read-all reply; the
// 55 AA protocols (BLE, JK-PB) deliver device info, settings and cell info as separate
// frames, each merged into the snapshot by its own apply function.

#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/nw.hpp"
#include "jkbms/domain/battery_snapshot.hpp"

namespace jkbms::domain {

BatterySnapshot fromNw(const codec::nw::ReadAll& reply);

void applyCellInfo(BatterySnapshot& snapshot, const codec::ble::CellInfo& info);
void applySettings(BatterySnapshot& snapshot, const codec::ble::Settings& settings);
void applyJk04Settings(BatterySnapshot& snapshot, const codec::ble::Jk04Settings& settings);
void applyDeviceInfo(BatterySnapshot& snapshot, const codec::ble::DeviceInfo& info);

// Alarm bits of each protocol as domain alarms.
AlarmSet alarmsFromNw(std::uint16_t alarmWord);
AlarmSet alarmsFromJk02(std::uint32_t alarmWord);

// NW software version "11.XW_S11.261__" -> hardware "11.XW", software "11.261".
struct NwVersions {
    std::string hardware, software;
};
NwVersions splitNwVersion(std::string_view text);

}  // namespace jkbms::domain
