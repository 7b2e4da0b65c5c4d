#pragma once
// A bank: N JK packs in parallel on one DC bus, published to Victron as ONE battery.
//
// DVCC takes CVL/CCL/DCL from one BMS (dbus-systemcalc-py: the battery service with a valid
// /Info/MaxChargeVoltage and the lowest device instance, /Dvcc/Alarms/MultipleBatteries when
// there are more). So the packs of a bank publish their own limits elsewhere (/Bank/*, see
// dbus/battery_paths.hpp) and the bank combines them here. Each pack's charge engine stays the
// source of truth for that pack: the bank combines, it never re-decides.
//
// Pure: members in, one combined reading out, no time or I/O. The same code serves packs in
// this process (JK-PB bus) and packs followed over D-Bus (other daemons), both of which read
// a member from the paths it publishes (dbus::bankMember()).
//
// Limits (combineLimits):
//   CVL  the lowest CVL of the packs that count (Ok or Stale).
//   CCL  parallel packs share the bank's current by their internal resistance and state of
//        charge, not equally. With every pack answering, pack i's share s_i = I_i / sum(I)
//        is measured when the pack itself carries at least shareCurrentA (charging for CCL,
//        discharging for DCL) with that FET on; it is padded (s_i * (1 + shareMargin) +
//        shareFloor, at most 1) for noise and the charger's lag. Any other pack gets the
//        worst share, 1 (one near 0 A may be nearly full or back-feeding and take far more
//        once the current rises). The bank allows min_i(CCL_i / s_i), so no pack gets more
//        than its own limit, and, when a share was measured, at most shareStretch times the
//        current flowing now (never below min_i(CCL_i)).
//   DCL  the same with discharge currents.
//   A pack whose own CCL (DCL) is 0 or unknown makes the bank's 0 at once, whatever the
//   shares. A pack Lost (maybe still on the bus, its limits unknown) makes CCL 0 until it is
//   back; DCL goes on from the others at their worst share. Off (switched off on request) is
//   not counted. A member that is a BMS of its own (ownBms) makes CCL 0.
//   No pack Ok or Stale: every limit absent (invalid on D-Bus) - the single battery's
//   fail-safe. No pack with any limit (charge engines off): every limit absent too.
//
// Values: voltage the mean of the packs (they are on one bus), current and power the sum,
// SoC capacity-weighted, capacities and consumed Ah summed, temperatures and cells the
// extremes with the pack named ("P2/C5", "P2/T1"), alarms the worst - over the packs that
// count. A Lost pack's values are not used; the sums then cover the packs heard (stated in
// /Bank/Status).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jkbms/domain/comms_monitor.hpp"

namespace jkbms::domain {

// The alarm paths a bank combines (worst level of its members), in victron-dbus.md order.
// (A pack's /Alarms/BmsCable is not among them: the bank raises its own from the members'
// communication.)
inline constexpr std::array<std::string_view, 15> kBankAlarmPaths = {
    "/Alarms/LowVoltage",           "/Alarms/HighVoltage",
    "/Alarms/LowCellVoltage",       "/Alarms/HighCellVoltage",
    "/Alarms/LowSoc",               "/Alarms/HighChargeCurrent",
    "/Alarms/HighDischargeCurrent", "/Alarms/CellImbalance",
    "/Alarms/InternalFailure",      "/Alarms/HighChargeTemperature",
    "/Alarms/LowChargeTemperature", "/Alarms/HighTemperature",
    "/Alarms/LowTemperature",       "/Alarms/BatteryTemperatureSensor",
    "/Alarms/HighInternalTemperature",
};

// One pack as the bank sees it: what its battery service publishes. Absent = invalid there.
struct BankMember {
    std::string name;  // for texts and ids: "P2" (JK-PB address 2), "ttyUSB1"; [A-Za-z0-9_]
    // Ok: fresh values. Stale: no answer for stale_after (values and limits held, with a
    // warning). Lost / Off / gone from the bus: nothing from it is used.
    CommsState comms = CommsState::Lost;

    std::optional<double> voltageV;            // /Dc/0/Voltage, V
    std::optional<double> currentA;            // /Dc/0/Current, A (+ = charging)
    std::optional<double> powerW;              // /Dc/0/Power, W
    std::optional<double> temperatureC;        // /Dc/0/Temperature, degC
    std::optional<double> socPercent;          // /Soc, %
    std::optional<double> sohPercent;          // /Soh, %
    std::optional<double> installedCapacityAh; // /InstalledCapacity, Ah
    std::optional<double> capacityAh;          // /Capacity (remaining), Ah
    std::optional<double> consumedAh;          // /ConsumedAmphours, Ah (<= 0)
    std::optional<double> minCellV, maxCellV;  // /System/Min|MaxCellVoltage, V
    std::string minCellId, maxCellId;          // /System/Min|MaxVoltageCellId: "C5"
    std::optional<double> minCellTemperatureC, maxCellTemperatureC;  // degC
    std::string minTemperatureId, maxTemperatureId;                  // "T1", "MOS"
    std::optional<std::int32_t> cellsPerBattery;  // /System/NrOfCellsPerBattery
    std::optional<bool> allowToCharge, allowToDischarge, allowToBalance;  // /Io/*
    std::optional<bool> balancing;                // /Balancing
    std::optional<std::int32_t> chargeCycles;     // /History/ChargeCycles
    std::array<std::optional<std::int32_t>, kBankAlarmPaths.size()> alarms{};  // 0 / 1 / 2

    // The pack's own limits, from its charge engine (/Bank/* on a member service).
    std::optional<double> cvlV;        // V
    std::optional<double> cclA;        // A, >= 0
    std::optional<double> dclA;        // A, >= 0
    std::optional<double> lowVoltageV; // V (/Info/BatteryLowVoltage of a single battery)
    std::optional<bool> chargeRequest;
    std::string chargeMode;            // "Bulk", "Absorption 12 min left", ...
    // It publishes a valid /Info/MaxChargeVoltage itself: a BMS of its own to systemcalc (a
    // daemon followed by `--bank` without bank.member). The bank allows no charging then.
    bool ownBms = false;
};

struct BankRules {
    // A pack's share is measured only while it carries at least this much (A) that way: with
    // JK's +-0.5 A noise and the 10 % margin, 5 A keeps a share's error within its padding.
    double shareCurrentA = 5.0;
    double shareMargin = 0.10;  // a measured share is padded by this fraction of itself ...
    double shareFloor = 0.02;   // ... plus this absolute share, at most 1
    // Shares measured at I amps hold near I only: a limit from measured shares is at most
    // this times I (and never below the weakest pack's own limit).
    double shareStretch = 1.25;
};

// A limit with what decided it, for /Info/ChargeLimitation and the log.
struct BankLimit {
    std::optional<double> value;  // V or A; absent: invalid
    std::string reason;           // "P2: CCL 40 A at 52% share", "P3 silent: worst share"
};

struct BankLimits {
    BankLimit cvl;  // V
    BankLimit ccl;  // A
    BankLimit dcl;  // A
    std::optional<double> lowVoltageV;  // the highest of the packs', V
    std::optional<bool> chargeRequest;  // any pack asking
    // The measured share per member (same order), 0..1; absent when not measured.
    std::vector<std::optional<double>> chargeShares, dischargeShares;
};

// Pure: the limits the bank publishes. Shares and limits as the header comment says.
BankLimits combineLimits(const std::vector<BankMember>& members, const BankRules& rules = {});

// The bank's values (besides its limits).
struct BankReading {
    CommsState comms = CommsState::Lost;  // the best of the members' (Ok > Stale > Lost/Off)
    std::int32_t packs = 0;               // members configured or found
    std::int32_t online = 0;              // members Ok
    std::int32_t offline = 0;             // the rest
    std::vector<std::string> silent;      // names of the members not Ok (Stale, Lost, Off, gone)
    bool commsFault = false;              // a member Stale or Lost (Off is no fault)

    std::optional<double> voltageV, currentA, powerW, temperatureC;
    std::optional<double> socPercent, sohPercent;   // capacity-weighted, %
    std::optional<double> installedCapacityAh, capacityAh, consumedAh;
    std::optional<double> minCellV, maxCellV;
    std::string minCellId, maxCellId;               // "P2/C5"
    std::optional<double> minCellTemperatureC, maxCellTemperatureC;
    std::string minTemperatureId, maxTemperatureId; // "P1/T2"
    std::optional<std::int32_t> cellsPerBattery;    // when every pack counted has the same
    std::int32_t blockingCharge = 0, blockingDischarge = 0;  // packs with that FET off
    std::optional<bool> allowToCharge, allowToDischarge, allowToBalance, balancing;
    std::optional<std::int32_t> chargeCycles;       // the most of any pack
    std::array<std::optional<std::int32_t>, kBankAlarmPaths.size()> alarms{};
    std::string chargeMode;                         // the packs' modes: "Bulk", "P1 Float, P2 Bulk"
    std::string status;                             // "2 packs answering", "1 of 2 answering: P2 silent"

    BankLimits limits;
};

// Pure: everything the bank publishes. A member counts when its comms are Ok or Stale.
BankReading combineBank(const std::vector<BankMember>& members, const BankRules& rules = {});

// The member's name as a cell/temperature id prefix: "P2/C5" from ("P2", "C5").
std::string bankId(std::string_view member, std::string_view id);

}  // namespace jkbms::domain
