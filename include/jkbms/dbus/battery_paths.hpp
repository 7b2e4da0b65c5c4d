#pragma once
// batteryPaths(): a BatterySnapshot plus the charge limits as the full path table of a
// com.victronenergy.battery service (victron-dbus.md section 5). Pure: the D-Bus layer only
// stores, diffs and emits what this returns.

#include <cstdint>
#include <array>
#include <functional>
#include <optional>
#include <string>

#include "jkbms/dbus/item.hpp"
#include "jkbms/domain/bank.hpp"
#include "jkbms/domain/battery_history.hpp"
#include "jkbms/domain/battery_snapshot.hpp"
#include "jkbms/domain/charge_limits.hpp"
#include "jkbms/domain/comms_monitor.hpp"

namespace jkbms::dbus {

// Third-party BMS product id: in no Victron quirk table, so DVCC behaves by default.
constexpr std::int32_t kProductId = 0xBA77;

// /Bms/Power, when the BMS's display-port button is wired to a relay: 1 = on (answering),
// 0 = off (switched off here, or not answering); the text says what the button is doing.
struct PowerItem {
    std::int32_t on = 0;
    std::string text;  // "on", "off", "pressing on", "switching off"
    friend bool operator==(const PowerItem&, const PowerItem&) = default;
};

// What the service knows about itself, independent of the BMS reading.
struct ServiceIdentity {
    std::string processName = "dbus-jkbms";
    std::string processVersion;
    std::string connection;           // "Serial ttyUSB0", "Bluetooth C8:47:8C:00:00:01"
    bool insecureConnection = false;  // BLE: SC will not use it as voltage source (SVS)
    std::int32_t deviceInstance = -1;
    std::string customName;
    std::string productName = "JK BMS";
    std::optional<PowerItem> power;  // absent: no relay, no /Bms/Power
    // A pack served by a bank (domain/bank.hpp): its limits are published under /Bank/*
    // (MaxChargeVoltage, MaxChargeCurrent, MaxDischargeCurrent, BatteryLowVoltage,
    // ChargeRequest) instead of /Info/*, so systemcalc does not take it for a BMS: only the
    // bank has /Info/MaxChargeVoltage. Fixed for a service's life (paths are never removed).
    bool bankMember = false;
    // A member's bank when it runs in the same daemon: published as /Bank/Service ("" for a
    // member of a `--bank` daemon, which a bank daemon in auto mode may take).
    std::string bankService;
    // /History/Clear is writable (the owner keeps a domain::BatteryHistory and clears it):
    // /History/CanBeCleared 1, so the GUI offers "Clear history" while /Connected is 1.
    bool historyClearable = false;
    // Where the settings a user changes on the GX for this battery live in localsettings
    // (com.victronenergy.settings), e.g. "/Settings/Devices/<uid>/JkBms" - the bank's path for
    // a member of a JK-PB bank: published as /Mgmt/SettingsPath so the GUI pages find them.
    // "" (invalid on D-Bus) until they have been created.
    std::string settingsPath;
    // The configuration file was refused and the daemon runs on the defaults (dbus-jkbms
    // --publish-config-errors): the text for the GX ("Settings invalid: see <log>"), "" when the
    // configuration is fine. Set: /ErrorCode is kConfigErrorCode, /ConfigError this text, and
    // no charging (CCL 0, /Io/AllowToCharge 0) whatever the limits say. Fixed for a service's
    // life.
    std::string configError;
};

// /ErrorCode while the configuration is refused: Victron's BMS error #119, "Settings invalid"
// (veutil ve_regs_payload.h VE_VDATA_BMS_ERROR_SETTINGS_DATA_INVALID; gui-v2 shows
// "#119 Settings invalid" on the battery page, venus-platform raises an alarm notification
// with that text while it stands). None of the codes a JK fault would map to.
inline constexpr std::int32_t kConfigErrorCode = 119;
inline constexpr std::string_view kConfigErrorPath = "/ConfigError";

// Communication with the BMS (domain::CommsMonitor): Stale sets /Alarms/BmsCable = 1 and
// keeps the values; Lost makes everything from the BMS invalid, /Connected = 0 and
// /Alarms/BmsCable = 2 - in one batch. Off (switched off on request) invalidates the same,
// with /Alarms/BmsCable = 0: no fault.
using domain::CommsState;

// `snapshot` absent: no reading yet (all BMS values invalid, /Connected = 0).
// `history`: the figures the owner keeps (domain::BatteryHistory) for /History/* - the
// extremes, energies, discharges and counts, published whatever the comms state (they are
// our records, not the BMS's values). nullptr: only the BMS's own counters (ChargeCycles,
// TotalAhDrawn, AverageDischarge) and TimeSinceLastFullCharge.
PathTable batteryPaths(const ServiceIdentity& identity,
                       const std::optional<domain::BatterySnapshot>& snapshot,
                       const domain::ChargeLimits& limits, CommsState comms,
                       const domain::HistoryFigures* history = nullptr);
// The same, written into `table` in place: a poll cycle reuses the previous cycle's entries
// instead of allocating ~110 new ones. Paths already in `table` that the mapping no longer
// produces are left as they are.
void batteryPaths(const ServiceIdentity& identity,
                  const std::optional<domain::BatterySnapshot>& snapshot,
                  const domain::ChargeLimits& limits, CommsState comms, PathTable& table,
                  const domain::HistoryFigures* history = nullptr);

// The paths a battery service lets clients write, with their checks.
inline constexpr std::string_view kCustomNamePath = "/CustomName";
WritableSpec customNameSpec();
// Write 1: an on press, 0: an off press (refused while a press runs).
inline constexpr std::string_view kBmsPowerPath = "/Bms/Power";
WritableSpec bmsPowerSpec();
// The BMS's own switches (its settings, read back from every reading; text "on" / "off").
// Write 1 / 0: the daemon sends the write to the BMS between polls; the value follows the
// BMS's answer at the next reading. Refused while the BMS is not connected.
enum class BmsSwitch : std::uint8_t { Charge, Discharge, Balance };
inline constexpr std::array<std::pair<BmsSwitch, std::string_view>, 3> kBmsSwitchPaths = {{
    {BmsSwitch::Charge, "/Bms/ChargeSwitch"},
    {BmsSwitch::Discharge, "/Bms/DischargeSwitch"},
    {BmsSwitch::Balance, "/Bms/BalanceSwitch"},
}};
std::string_view bmsSwitchName(BmsSwitch which);  // "charge", "discharge", "balance"
WritableSpec bmsSwitchSpec();
// Write 1: every /History figure we keep back to nothing (ServiceIdentity::historyClearable).
inline constexpr std::string_view kHistoryClearPath = "/History/Clear";
WritableSpec historyClearSpec();

// --- Banks (domain/bank.hpp) ---

// A path's value as a member publishes it: nullptr when the path is not there.
using ItemLookup = std::function<const Value*(std::string_view path)>;
// A lookup into a table (in this process: the member's own PathTable; it must outlive the lookup).
ItemLookup lookupIn(const PathTable& table);

// A member read back from the paths its battery service publishes - the same whether the pack
// is served in this process or by another daemon (GetItems / ItemsChanged). Its comms:
// /Connected 1 with /Alarms/BmsCable 0 -> Ok, 1 -> Stale; /Connected 0 with /Alarms/BmsCable
// 0 -> Off; anything else -> Lost. Its limits from /Bank/* (a member service), else /Info/*.
// A service gone from the bus is the caller's: a member with comms Lost.
domain::BankMember bankMember(std::string name, const ItemLookup& get);

// The bank's service: a com.victronenergy.battery with the combined values and limits, and
// /System/NrOfBatteries, /System/BatteriesParallel, /System/NrOfModulesOnline|Offline, ...
// (victron-dbus.md 5.5), /Bank/Status ("1 of 2 answering: P2 silent") and
// /Alarms/BmsCable 1 while a member is not answering, 2 when none is.
void bankPaths(const ServiceIdentity& identity, const domain::BankReading& bank, PathTable& table);

}  // namespace jkbms::dbus
