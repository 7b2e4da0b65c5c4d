// The bank (issue 16) on whatever its members publish: a bank daemon reads other processes'
// battery services, so every path a member is read from may be absent, invalid, of the wrong
// type, not finite, out of range or a hostile string. Each member is read back (bankMember),
// all are combined (combineBank) and the bank's path table is updated in place (bankPaths),
// as after every member update. What the bank publishes must be finite, its CCL/DCL never
// above what the members that count allow, its CVL never above theirs, and texts printable.

#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "jkbms/dbus/battery_paths.hpp"

using namespace jkbms;

namespace {

constexpr std::array<std::string_view, 36> kPaths = {
    "/Connected", "/Alarms/BmsCable", "/Dc/0/Voltage", "/Dc/0/Current", "/Dc/0/Power", "/Dc/0/Temperature",
    "/Soc", "/Soh", "/InstalledCapacity", "/Capacity", "/ConsumedAmphours", "/System/MinCellVoltage",
    "/System/MaxCellVoltage", "/System/MinVoltageCellId", "/System/MaxVoltageCellId",
    "/System/MinCellTemperature", "/System/MaxCellTemperature", "/System/MinTemperatureCellId",
    "/System/MaxTemperatureCellId", "/System/NrOfCellsPerBattery", "/Io/AllowToCharge", "/Io/AllowToDischarge",
    "/Io/AllowToBalance", "/Balancing", "/History/ChargeCycles", "/Alarms/HighCellVoltage", "/Alarms/LowVoltage",
    "/Bank/MaxChargeVoltage", "/Bank/MaxChargeCurrent", "/Bank/MaxDischargeCurrent", "/Bank/BatteryLowVoltage",
    "/Bank/ChargeRequest", "/Info/MaxChargeVoltage", "/Info/MaxChargeCurrent", "/Info/MaxDischargeCurrent",
    "/Info/ChargeMode",
};

dbus::Value anyValue(FuzzedDataProvider& in) {
    switch (in.ConsumeIntegralInRange<int>(0, 5)) {
        case 0: return dbus::Invalid{};
        case 1: return in.ConsumeIntegral<std::int32_t>();
        case 2: return in.ConsumeFloatingPoint<double>();
        case 3: return in.ConsumeFloatingPointInRange<double>(-5.0, 400.0);  // plausible-ish
        case 4: return static_cast<double>(in.ConsumeIntegralInRange<int>(0, 2));
        default: return in.ConsumeRandomLengthString(80);
    }
}

std::optional<double> number(const dbus::PathTable& t, std::string_view path) {
    const auto it = t.find(path);
    if (it == t.end()) return std::nullopt;
    if (const auto* d = std::get_if<double>(&it->second.value)) return *d;
    return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    domain::BankRules rules;
    rules.shareCurrentA = in.ConsumeFloatingPointInRange<double>(0.1, 100.0);
    rules.shareMargin = in.ConsumeFloatingPointInRange<double>(0.0, 1.0);
    const int count = in.ConsumeIntegralInRange<int>(0, 16);
    std::vector<domain::BankMember> members;
    for (int i = 0; i < count; ++i) {
        std::map<std::string, dbus::Value, std::less<>> items;
        const int paths = in.ConsumeIntegralInRange<int>(0, 40);
        for (int k = 0; k < paths; ++k) {
            const auto path = kPaths[in.ConsumeIntegralInRange<std::size_t>(0, kPaths.size() - 1)];
            items[std::string{path}] = anyValue(in);
        }
        members.push_back(dbus::bankMember("P" + std::to_string(i + 1), [&items](std::string_view p) -> const dbus::Value* {
            const auto it = items.find(p);
            return it == items.end() ? nullptr : &it->second;
        }));
        if (in.ConsumeBool()) members.back().comms = static_cast<domain::CommsState>(in.ConsumeIntegralInRange<int>(0, 3));
    }
    const auto reading = domain::combineBank(members, rules);
    // The bank's limits, checked against the members that count.
    auto countsOf = [](const domain::BankMember& m) {
        return m.comms == domain::CommsState::Ok || m.comms == domain::CommsState::Stale;
    };
    bool anyLimit = false, anyLost = false;
    for (const auto& m : members) {
        if (countsOf(m) && (m.cvlV || m.cclA || m.dclA)) anyLimit = true;
        if (m.comms == domain::CommsState::Lost) anyLost = true;
    }
    // A lost member (maybe still on the bus, its limits unknown) allows no charging.
    if (anyLost && reading.limits.ccl.value && *reading.limits.ccl.value != 0) std::abort();
    bool anyCounts = false;
    for (const auto& m : members) {
        const bool counts = m.comms == domain::CommsState::Ok || m.comms == domain::CommsState::Stale;
        if (!counts) continue;
        anyCounts = true;
        const auto& l = reading.limits;
        if (l.cvl.value && m.cvlV && *l.cvl.value > *m.cvlV) std::abort();
        // CCL: with shares assumed (1), never above any member's own; measured, never above
        // what the member's share of it allows.
        for (const auto& [bankLimit, own, shares] :
             {std::tuple{l.ccl.value, m.cclA, &l.chargeShares}, std::tuple{l.dcl.value, m.dclA, &l.dischargeShares}}) {
            // A member counts and has limits: the bank's are decided (0 at worst). No member
            // with any limit (charge engines off): none, as for one battery.
            if (!bankLimit) {
                if (anyLimit) std::abort();
                continue;
            }
            if (!std::isfinite(*bankLimit) || *bankLimit < 0) std::abort();
            if (!own && *bankLimit != 0) std::abort();
            const auto index = static_cast<std::size_t>(&m - members.data());
            const auto& share = (*shares)[index];
            if (own && !share && *bankLimit > *own + 1e-9) std::abort();
            if (own && share && *bankLimit * *share > *own + 1e-6) std::abort();
        }
    }
    if (!anyCounts && (reading.limits.ccl.value || reading.limits.dcl.value || reading.limits.cvl.value)) std::abort();

    static dbus::PathTable table;
    static const dbus::ServiceIdentity identity;
    dbus::bankPaths(identity, reading, table);
    for (const auto& [path, item] : table) {
        if (const auto* d = std::get_if<double>(&item.value); d && !std::isfinite(*d)) std::abort();
        if (const auto* s = std::get_if<std::string>(&item.value))
            for (char ch : *s)
                if (static_cast<unsigned char>(ch) < 0x20) std::abort();
    }
    if (const auto soc = number(table, "/Soc"); soc && (*soc < 0 || *soc > 100)) std::abort();
    return 0;
}
