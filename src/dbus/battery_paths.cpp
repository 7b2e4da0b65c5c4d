#include "jkbms/dbus/battery_paths.hpp"

#include "jkbms/domain/plausible_ranges.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace jkbms::dbus {
namespace {

using domain::Alarm;
using domain::BatterySnapshot;

template <class T>
Value opt(const std::optional<T>& v) {
    if (!v) return Invalid{};
    if constexpr (std::is_same_v<T, bool>) return static_cast<std::int32_t>(*v ? 1 : 0);
    else if constexpr (std::is_integral_v<T>) return static_cast<std::int32_t>(*v);
    else return static_cast<double>(*v);
}

// A value from the BMS, absent when outside its plausible range (domain/plausible_ranges.hpp):
// published invalid, never as a number.
template <class T>
std::optional<T> ranged(const std::optional<T>& v, const domain::PlausibleRange& range) {
    if (v && range.contains(static_cast<double>(*v))) return v;
    return std::nullopt;
}

// The same value: what Value's operator== says (a double by ==, so a NaN is never the same),
// without the variant visit.
inline bool sameValue(const Value& a, const Value& b) {
    if (a.index() != b.index()) return false;
    switch (a.index()) {
        case 1: return std::get<std::int32_t>(a) == std::get<std::int32_t>(b);
        case 2: return std::get<double>(a) == std::get<double>(b);
        case 3: return std::get<std::string>(a) == std::get<std::string>(b);
        default: return true;  // Invalid
    }
}

// Writes one cycle's puts into the table: each path's slot and item found by its position in
// the sequence of puts (PathTable::placeAt - no path strings compared while the shape of the
// table stays the same), each value compared with the stored one and formatted only when it
// changed. Paths must be literals or static strings (their address identifies them).
//
// The check that a put changes nothing (most puts of a poll) is inlined at each put; only a
// change (or a new path) calls out.
class Builder {
public:
    explicit Builder(PathTable& t) : t_(t) {}
    // A number (or invalid) with a text of its own.
    [[gnu::always_inline]] void put(std::string_view path, const Value& v, std::string_view text) {
        const auto [slot, item] = t_.placeAt(n_++, path);
        if (sameValue(item->value, v) && item->text == text) return;
        store(slot, *item, v, text);
    }
    // A number or invalid, its text by `unit`.
    [[gnu::always_inline]] void put(std::string_view path, const Value& v, Unit unit = Unit::None) {
        const auto [slot, item] = t_.placeAt(n_++, path);
        // A new slot is "---"/invalid: an invalid put still formats once.
        if (sameValue(item->value, v) && t_.version(slot) > 1) return;
        store(slot, *item, v, unit);
    }
    // A string value, its text the same; nullopt: invalid.
    [[gnu::always_inline]] void putString(std::string_view path, std::optional<std::string_view> v) {
        if (!v) {
            put(path, Invalid{});
            return;
        }
        const auto [slot, item] = t_.placeAt(n_++, path);
        const auto* current = std::get_if<std::string>(&item->value);
        if (current && *current == *v && item->text == *v) return;
        storeString(slot, *item, *v);
    }

private:
    [[gnu::noinline]] void store(PathTable::Slot slot, Item& item, const Value& v, std::string_view text) {
        item.value = v;
        item.text.assign(text);
        t_.touch(slot);
    }
    [[gnu::noinline]] void store(PathTable::Slot slot, Item& item, const Value& v, Unit unit) {
        item.value = v;
        formatText(v, unit, item.text);
        t_.touch(slot);
    }
    [[gnu::noinline]] void storeString(PathTable::Slot slot, Item& item, std::string_view v) {
        if (auto* current = std::get_if<std::string>(&item.value)) current->assign(v);
        else item.value.emplace<std::string>(v);
        item.text.assign(v);
        t_.touch(slot);
    }

    PathTable& t_;
    std::size_t n_ = 0;  // puts so far in this cycle
};

// victron-dbus.md 5.1: what a service says about itself (a battery's and a bank's alike).
void putIdentity(Builder& b, const ServiceIdentity& id) {
    b.putString("/Mgmt/ProcessName", id.processName);
    b.putString("/Mgmt/ProcessVersion", id.processVersion);
    b.putString("/Mgmt/Connection", id.connection);
    if (id.insecureConnection) b.put("/Mgmt/InsecureConnection", std::int32_t{1});
    b.put("/DeviceInstance", id.deviceInstance);
    b.put("/ProductId", kProductId, Unit::Hex);
    b.putString("/ProductName", id.productName);
    b.putString(kCustomNamePath, id.customName);
    b.putString("/Mgmt/SettingsPath",
                id.settingsPath.empty() ? std::nullopt : std::optional<std::string_view>{id.settingsPath});
}

// "/Voltages/Cell<N>" and "/Balances/Cell<N>", built once.
enum class CellGroup : std::uint8_t { Voltages, Balances };
struct CellPaths {
    std::array<std::array<std::string, domain::BatterySnapshot::kMaxCells>, 2> paths;
    CellPaths() {
        for (std::size_t i = 0; i < domain::BatterySnapshot::kMaxCells; ++i) {
            paths[0][i] = "/Voltages/Cell" + std::to_string(i + 1);
            paths[1][i] = "/Balances/Cell" + std::to_string(i + 1);
        }
    }
    const std::string& operator()(CellGroup group, std::size_t index0) const {
        return paths[static_cast<std::size_t>(group)][index0];
    }
};
const CellPaths& cellPaths() {
    static const CellPaths paths;
    return paths;
}

// Victron alarm paths and the domain alarms behind them. JK reports tripped protections:
// those are alarms (2); a low-capacity flag is a warning (1).
struct AlarmRow {
    std::string_view path;
    std::initializer_list<Alarm> sources;
    std::int32_t level;
};

const AlarmRow kAlarmRows[] = {
    {"/Alarms/LowVoltage", {Alarm::LowVoltage}, 2},
    {"/Alarms/HighVoltage", {Alarm::HighVoltage}, 2},
    {"/Alarms/LowCellVoltage", {Alarm::CellLowVoltage}, 2},
    {"/Alarms/HighCellVoltage", {Alarm::CellHighVoltage}, 2},
    {"/Alarms/LowSoc", {Alarm::LowSoc}, 1},
    {"/Alarms/HighChargeCurrent", {Alarm::HighChargeCurrent}, 2},
    {"/Alarms/HighDischargeCurrent", {Alarm::HighDischargeCurrent}, 2},
    {"/Alarms/CellImbalance", {Alarm::CellImbalance}, 2},
    {"/Alarms/InternalFailure", {Alarm::InternalFailure, Alarm::CellCountMismatch}, 2},
    {"/Alarms/HighChargeTemperature", {Alarm::HighChargeTemperature}, 2},
    {"/Alarms/LowChargeTemperature", {Alarm::LowChargeTemperature}, 2},
    {"/Alarms/HighTemperature", {Alarm::HighTemperature}, 2},
    {"/Alarms/LowTemperature", {Alarm::LowTemperature}, 2},
    {"/Alarms/BatteryTemperatureSensor", {Alarm::TemperatureSensorFault}, 2},
    {"/Alarms/HighInternalTemperature", {Alarm::MosfetOverTemperature}, 2},
};

// Victron alarms a JK BMS has no source for: on the bus, always invalid ("not supported" to
// the GUI's alarm page, victron-dbus.md 5.6). A JK reports no fuse, and no health alarm of its
// own (its SoH is published as /Soh; a threshold of ours would be a guess).
constexpr std::string_view kUnsupportedAlarms[] = {"/Alarms/StateOfHealth", "/Alarms/FuseBlown"};

// /Info/ChargeLimitation while the configuration is refused (the engine's limiter of that name).
constexpr std::string_view kSettingsInvalid = "Settings invalid";

// "C1" .. "C32", built once.
std::string_view cellId(std::size_t index0) {
    static const auto ids = [] {
        std::array<std::string, domain::BatterySnapshot::kMaxCells> p;
        for (std::size_t i = 0; i < p.size(); ++i) p[i] = "C" + std::to_string(i + 1);
        return p;
    }();
    return ids[index0];
}

}  // namespace

WritableSpec bmsPowerSpec() { return WritableSpec{WritableSpec::Type::Int, 0, 1, 0}; }

WritableSpec bmsSwitchSpec() { return WritableSpec{WritableSpec::Type::Int, 0, 1, 0}; }

WritableSpec historyClearSpec() { return WritableSpec{WritableSpec::Type::Int, 1, 1, 0}; }

std::string_view bmsSwitchName(BmsSwitch which) {
    switch (which) {
        case BmsSwitch::Charge: return "charge";
        case BmsSwitch::Discharge: return "discharge";
        case BmsSwitch::Balance: return "balance";
    }
    return "?";
}

WritableSpec customNameSpec() { return WritableSpec{WritableSpec::Type::String, 0, 0, 64}; }

PathTable batteryPaths(const ServiceIdentity& id, const std::optional<BatterySnapshot>& snap,
                       const domain::ChargeLimits& limits, CommsState comms, const domain::HistoryFigures* history) {
    PathTable t;
    batteryPaths(id, snap, limits, comms, t, history);
    return t;
}

void batteryPaths(const ServiceIdentity& id, const std::optional<BatterySnapshot>& snap,
                  const domain::ChargeLimits& limits, CommsState comms, PathTable& t,
                  const domain::HistoryFigures* history) {
    Builder b(t);
    // Everything read from the BMS is published only while communication is not lost and the
    // BMS was not switched off on request; then the same paths exist but are invalid, so DVCC
    // stops using stale values.
    const BatterySnapshot* s = snap && comms != CommsState::Lost && comms != CommsState::Off ? &*snap : nullptr;

    // 5.1 identity
    putIdentity(b, id);
    const domain::Identity* bms = snap ? &snap->identity : nullptr;
    auto text = [](const std::string* v) -> std::optional<std::string_view> {
        if (!v || v->empty()) return std::nullopt;
        return *v;
    };
    b.putString("/FirmwareVersion", text(bms ? &bms->softwareVersion : nullptr));
    b.putString("/HardwareVersion", text(bms ? &bms->hardwareVersion : nullptr));
    b.putString("/Serial", text(bms ? &bms->serialNumber : nullptr));
    b.put("/Connected", std::int32_t{s ? 1 : 0});
    b.putString("/DeviceName", text(bms ? &bms->deviceName : nullptr));
    // Victron's BMS state: 9 "running" while the BMS answers; not meaningful otherwise.
    b.put("/State", s && comms == CommsState::Ok ? Value{std::int32_t{9}} : Value{Invalid{}});
    // The link as the GUI's device page shows it (one text per comms state, not per poll).
    b.putString("/ConnectionInformation", !snap                       ? "waiting for the first reading"
                                          : comms == CommsState::Ok    ? "answering"
                                          : comms == CommsState::Stale ? "not answering: values held"
                                          : comms == CommsState::Off   ? "switched off on request"
                                                                       : "not answering: values invalid");
    if (id.power) b.put(kBmsPowerPath, id.power->on, id.power->text);
    for (const auto& [which, path] : kBmsSwitchPaths) {
        std::optional<bool> state;
        if (s) {
            const auto& sw = s->switches;
            state = which == BmsSwitch::Charge ? sw.chargeEnabled : which == BmsSwitch::Discharge ? sw.dischargeEnabled : sw.balancerEnabled;
        }
        if (state) b.put(path, std::int32_t{*state ? 1 : 0}, *state ? "on" : "off");
        else b.put(path, Invalid{});
    }

    // 5.2 measurements
    // Every value from the BMS within its plausible range, or absent; what is derived from an
    // implausible value is absent too.
    namespace plausible = domain::plausible;
    const auto none = std::optional<double>{};
    const auto packV = s ? ranged(s->packVoltageV, plausible::kPackVoltage) : none;
    const auto current = s ? ranged(s->currentA, plausible::kCurrent) : none;
    const auto power = s && packV && current ? ranged(s->powerW, plausible::kPower) : none;
    const auto fullAh = s ? ranged(s->fullCapacityAh, plausible::kCapacity) : none;
    const auto remainingAh = s ? ranged(s->remainingCapacityAh, plausible::kCapacity) : none;
    b.put("/Dc/0/Voltage", opt(packV), Unit::Volt);
    b.put("/Dc/0/Current", opt(current), Unit::Amp);
    // systemcalc does not derive the power; without it /Dc/Battery/Power stays null.
    b.put("/Dc/0/Power", opt(power), Unit::Watt);
    // Battery temperature sensors: an implausible one is left out (the others still count).
    util::FixedVector<const domain::Temperature*, BatterySnapshot::kMaxTemperatures> temps;
    if (s)
        for (const auto& tmp : s->temperatures)
            if (plausible::kTemperature.contains(tmp.celsius)) temps.push_back(&tmp);
    std::optional<double> batteryTemp;
    if (!temps.empty()) {
        double sum = 0;
        for (const auto* tmp : temps) sum += tmp->celsius;
        batteryTemp = sum / static_cast<double>(temps.size());
    }
    b.put("/Dc/0/Temperature", opt(batteryTemp), Unit::Celsius);
    b.put("/Soc", opt(s ? ranged(s->socPercent, plausible::kPercent) : none), Unit::Percent);
    b.put("/Soh", opt(s ? ranged(s->sohPercent, plausible::kPercent) : none), Unit::Percent);
    b.put("/InstalledCapacity", opt(fullAh), Unit::AmpHour);
    b.put("/Capacity", opt(remainingAh), Unit::AmpHour);
    std::optional<double> consumed;
    if (fullAh && remainingAh) consumed = std::min(0.0, *remainingAh - *fullAh);  // Victron: <= 0
    b.put("/ConsumedAmphours", opt(consumed), Unit::AmpHour);
    std::optional<double> timeToGo;
    if (current && remainingAh && *current < -0.1) timeToGo = std::round(*remainingAh / -*current * 3600.0);
    b.put("/TimeToGo", opt(timeToGo), Unit::Second);
    // JK faults are published as alarms; a raw code here would raise Victron's BMS error
    // notifications with unrelated texts.
    // A refused configuration is ours, not the BMS's: published whatever the comms state.
    if (!id.configError.empty()) b.put("/ErrorCode", kConfigErrorCode, id.configError);
    else b.put("/ErrorCode", s ? Value{std::int32_t{0}} : Value{Invalid{}});
    b.putString(kConfigErrorPath, id.configError.empty() ? std::nullopt : std::optional<std::string_view>{id.configError});

    // 5.3 DVCC limits: invalid unless communication is live.
    const bool limitsLive = s != nullptr;
    auto lim = [limitsLive](const std::optional<double>& v) {
        return limitsLive ? opt(v) : Value{Invalid{}};
    };
    // A bank member's limits are for its bank only (not a BMS to systemcalc).
    const bool member = id.bankMember;
    b.put(member ? "/Bank/MaxChargeVoltage" : "/Info/MaxChargeVoltage", lim(limits.maxChargeVoltageV), Unit::Volt);
    // A refused configuration: no charging, whatever the engine says (it is told too).
    const bool noCharge = !id.configError.empty();
    b.put(member ? "/Bank/MaxChargeCurrent" : "/Info/MaxChargeCurrent",
          noCharge && limitsLive ? Value{0.0} : lim(limits.maxChargeCurrentA), Unit::Amp);
    b.put(member ? "/Bank/MaxDischargeCurrent" : "/Info/MaxDischargeCurrent", lim(limits.maxDischargeCurrentA),
          Unit::Amp);
    b.put(member ? "/Bank/BatteryLowVoltage" : "/Info/BatteryLowVoltage", lim(limits.batteryLowVoltageV), Unit::Volt);
    b.put(member ? "/Bank/ChargeRequest" : "/Info/ChargeRequest",
          limitsLive ? opt(limits.chargeRequest) : Value{Invalid{}});
    // The bank this member belongs to when it is served in the same daemon (a JK-PB bus), so a
    // `--bank` daemon looking for members does not take it into a second bank.
    if (member) b.putString("/Bank/Service", id.bankService);
    auto reason = [limitsLive](std::string_view r) -> std::optional<std::string_view> {
        if (!limitsLive || r.empty()) return std::nullopt;
        return r;
    };
    b.putString("/Info/ChargeMode", reason(limits.chargeMode));
    b.putString("/Info/ChargeLimitation", reason(noCharge ? kSettingsInvalid : std::string_view{limits.chargeLimitation}));
    b.putString("/Info/DischargeLimitation", reason(limits.dischargeLimitation));

    // 5.4 I/O and switches
    // charge-control.md section 4: the FET is on and our limit lets current through.
    auto allow = [](std::optional<bool> fet, const std::optional<double>& limit) -> std::optional<bool> {
        if (!fet) return std::nullopt;
        return *fet && (!limit || *limit > 0);
    };
    b.put("/Io/AllowToCharge", noCharge && s ? Value{std::int32_t{0}}
                                             : opt(s ? allow(s->switches.chargeMos, limits.maxChargeCurrentA) : std::nullopt));
    b.put("/Io/AllowToDischarge", opt(s ? allow(s->switches.dischargeMos, limits.maxDischargeCurrentA) : std::nullopt));
    b.put("/Io/AllowToBalance", opt(s ? s->switches.balancerEnabled : std::nullopt));
    b.put("/Io/AllowToHeat", opt(s ? s->heating : std::nullopt));
    b.put("/Balancing", s ? Value{std::int32_t{s->balancing ? 1 : 0}} : Value{Invalid{}});

    // 5.5 cells and modules
    // A plain value and a flag rather than std::optional<CellStats>: GCC 12 reports a false
    // maybe-uninitialized on the optional's members at -O2. One implausible cell makes the
    // statistics (min, max, sum, spread) meaningless: they are invalid with it.
    const bool cellsPlausible =
        s != nullptr && std::all_of(s->cellVoltagesV.begin(), s->cellVoltagesV.end(),
                                    [](double v) { return plausible::kCellVoltage.contains(v); });
    const bool haveStats = cellsPlausible && !s->cellVoltagesV.empty();
    const domain::CellStats stats = s ? s->cellStats().value_or(domain::CellStats{}) : domain::CellStats{};
    b.put("/System/MinCellVoltage", haveStats ? Value{stats.minV} : Value{Invalid{}}, Unit::CellVolt);
    b.put("/System/MaxCellVoltage", haveStats ? Value{stats.maxV} : Value{Invalid{}}, Unit::CellVolt);
    using OptText = std::optional<std::string_view>;
    b.putString("/System/MinVoltageCellId", haveStats ? OptText{cellId(stats.minIndex)} : std::nullopt);
    b.putString("/System/MaxVoltageCellId", haveStats ? OptText{cellId(stats.maxIndex)} : std::nullopt);
    const domain::Temperature* tmin = nullptr;
    const domain::Temperature* tmax = nullptr;
    for (const auto* tmp : temps) {
        if (!tmin || tmp->celsius < tmin->celsius) tmin = tmp;
        if (!tmax || tmp->celsius > tmax->celsius) tmax = tmp;
    }
    b.put("/System/MinCellTemperature", tmin ? Value{tmin->celsius} : Value{Invalid{}}, Unit::Celsius);
    b.put("/System/MaxCellTemperature", tmax ? Value{tmax->celsius} : Value{Invalid{}}, Unit::Celsius);
    b.putString("/System/MinTemperatureCellId", tmin ? OptText{tmin->name} : std::nullopt);
    b.putString("/System/MaxTemperatureCellId", tmax ? OptText{tmax->name} : std::nullopt);
    // dbus-serialbattery convention (its GUI add-on shows it); no Victron component reads it.
    b.put("/System/MOSTemperature", opt(s ? ranged(s->mosfetTemperatureC, plausible::kTemperature) : none),
          Unit::Celsius);
    b.put("/System/NrOfModulesOnline", std::int32_t{s ? 1 : 0});
    b.put("/System/NrOfModulesOffline", std::int32_t{s ? 0 : 1});
    auto blocking = [s](const std::optional<bool>& mos) -> Value {
        if (!s || !mos) return Invalid{};
        return std::int32_t{*mos ? 0 : 1};
    };
    b.put("/System/NrOfModulesBlockingCharge", blocking(s ? s->switches.chargeMos : std::nullopt));
    b.put("/System/NrOfModulesBlockingDischarge", blocking(s ? s->switches.dischargeMos : std::nullopt));
    b.put("/System/NrOfCellsPerBattery",
          snap && !snap->cellVoltagesV.empty() ? Value{static_cast<std::int32_t>(snap->cellVoltagesV.size())}
                                               : Value{Invalid{}});

    // Per-cell paths (dbus-serialbattery convention). They exist for every cell of the last
    // reading, so they stay on the bus (invalid) when communication is lost. An implausible
    // cell is invalid on its own.
    const std::size_t cells = snap ? snap->cellVoltagesV.size() : 0;
    const CellPaths& cellPath = cellPaths();
    if (snap) {
        // The JK balancer moves charge from the highest to the lowest cell.
        const bool balancerActive = s && haveStats && s->balancing;
        const std::size_t lowest = haveStats ? stats.minIndex : SIZE_MAX;
        const std::size_t highest = haveStats ? stats.maxIndex : SIZE_MAX;
        for (std::size_t i = 0; i < cells; ++i) {
            const bool plausibleCell = s && plausible::kCellVoltage.contains(s->cellVoltagesV[i]);
            b.put(cellPath(CellGroup::Voltages, i), plausibleCell ? Value{s->cellVoltagesV[i]} : Value{Invalid{}}, Unit::CellVolt);
            const bool balancing = balancerActive && (i == lowest || i == highest);
            b.put(cellPath(CellGroup::Balances, i), s ? Value{std::int32_t{balancing ? 1 : 0}} : Value{Invalid{}});
        }
    }
    // Cells a previous reading had and this one has not (32 -> 16 cells, or none): their paths
    // stay on the bus, invalid, never with the old values. (The table's mark keeps the most
    // cells ever put, so this costs no lookup.)
    for (std::size_t i = cells; i < t.producerMark; ++i)
        for (CellGroup group : {CellGroup::Voltages, CellGroup::Balances}) b.put(cellPath(group, i), Invalid{});
    t.producerMark = std::max<std::uint32_t>(t.producerMark, static_cast<std::uint32_t>(cells));
    b.put("/Voltages/Sum", haveStats ? Value{stats.sumV} : Value{Invalid{}}, Unit::Volt);
    b.put("/Voltages/Diff", haveStats ? Value{stats.deltaV} : Value{Invalid{}}, Unit::CellVolt);

    // 5.6 alarms: valid only for what this BMS can report. A tripped BMS protection is the
    // row's level; our own early warning (charge engine, with hysteresis) is 1.
    const bool alarmsKnown = s && s->alarmsReported;
    for (const AlarmRow& row : kAlarmRows) {
        Value v = Invalid{};
        if (alarmsKnown) {
            auto any = [&row](const domain::AlarmSet& set) {
                for (const Alarm a : row.sources)
                    if (set.has(a)) return true;
                return false;
            };
            v = std::int32_t{any(s->alarms) ? row.level : any(limits.warnings) ? 1 : 0};
        }
        b.put(row.path, v);
    }
    // Switched off on request is no communication fault.
    const std::int32_t cable = comms == CommsState::Ok || comms == CommsState::Off ? 0 : comms == CommsState::Stale ? 1 : 2;
    b.put("/Alarms/BmsCable", snap ? Value{cable} : Value{Invalid{}});
    for (std::string_view path : kUnsupportedAlarms) b.put(path, Invalid{});

    // 5.7 history from the BMS's own counters (Ah values negative, Victron convention).
    b.put("/History/ChargeCycles", opt(s ? ranged(s->cycleCount, plausible::kCycleCount) : std::nullopt));
    std::optional<double> drawn;
    if (const auto throughput = s ? ranged(s->cycleCapacityAh, plausible::kCycleCapacity) : none) drawn = -*throughput;
    b.put("/History/TotalAhDrawn", opt(drawn), Unit::AmpHour);
    // Victron's average discharge: the Ah drawn over the cycles counted.
    const auto cycles = s ? ranged(s->cycleCount, plausible::kCycleCount) : std::nullopt;
    b.put("/History/AverageDischarge", drawn && cycles && *cycles > 0 ? Value{*drawn / *cycles} : Value{Invalid{}},
          Unit::AmpHour);
    b.put("/History/TimeSinceLastFullCharge", limitsLive ? opt(limits.timeSinceFullChargeS) : Value{Invalid{}}, Unit::Second);
    if (history) {
        const domain::HistoryFigures& h = *history;
        b.put("/History/MinimumVoltage", opt(h.minVoltageV), Unit::Volt);
        b.put("/History/MaximumVoltage", opt(h.maxVoltageV), Unit::Volt);
        b.put("/History/MinimumCellVoltage", opt(h.minCellVoltageV), Unit::CellVolt);
        b.put("/History/MaximumCellVoltage", opt(h.maxCellVoltageV), Unit::CellVolt);
        b.put("/History/MinimumTemperature", opt(h.minTemperatureC), Unit::Celsius);
        b.put("/History/MaximumTemperature", opt(h.maxTemperatureC), Unit::Celsius);
        b.put("/History/ChargedEnergy", h.chargedKWh, Unit::KiloWattHour);
        b.put("/History/DischargedEnergy", h.dischargedKWh, Unit::KiloWattHour);
        b.put("/History/DeepestDischarge", opt(h.deepestDischargeAh), Unit::AmpHour);
        b.put("/History/LastDischarge", opt(h.lastDischargeAh), Unit::AmpHour);
        b.put("/History/AutomaticSyncs", static_cast<std::int32_t>(h.automaticSyncs));
        b.put("/History/FullDischarges", static_cast<std::int32_t>(h.fullDischarges));
        b.put("/History/LowVoltageAlarms", static_cast<std::int32_t>(h.lowVoltageAlarms));
        b.put("/History/HighVoltageAlarms", static_cast<std::int32_t>(h.highVoltageAlarms));
    }
    // The temperature rows of the History page only with a battery sensor.
    // From the last reading, whatever the comms: the history's temperature rows stay.
    b.put("/Settings/HasTemperature",
          snap ? Value{std::int32_t{snap->temperatures.empty() ? 0 : 1}} : Value{Invalid{}});
    b.put("/History/CanBeCleared", std::int32_t{id.historyClearable ? 1 : 0});
    if (id.historyClearable) b.put(kHistoryClearPath, std::int32_t{0});
}

ItemLookup lookupIn(const PathTable& table) {
    return [&table](std::string_view path) -> const Value* {
        const auto it = table.find(path);
        return it == table.end() ? nullptr : &it->second.value;
    };
}

domain::BankMember bankMember(std::string name, const ItemLookup& get) {
    domain::BankMember m;
    m.name = std::move(name);
    // Another process's values: a number of the wrong type, not finite or outside the range a
    // battery service can mean is absent (so sums over 15 packs stay finite too).
    auto anyNumber = [&get](std::string_view path) -> std::optional<double> {
        const Value* v = get(path);
        if (!v) return std::nullopt;
        if (const auto* d = std::get_if<double>(v); d && std::isfinite(*d)) return *d;
        if (const auto* i = std::get_if<std::int32_t>(v)) return static_cast<double>(*i);
        return std::nullopt;
    };
    auto inRange = [&anyNumber](std::string_view path, double lo, double hi) -> std::optional<double> {
        const auto d = anyNumber(path);
        if (!d || *d < lo || *d > hi) return std::nullopt;
        return d;
    };
    namespace plausible = domain::plausible;
    auto number = [&inRange](std::string_view path, const domain::PlausibleRange& range) {
        return inRange(path, range.min, range.max);
    };
    auto integer = [&inRange](std::string_view path) -> std::optional<std::int32_t> {
        const auto d = inRange(path, -2147483648.0, 2147483647.0);
        if (!d) return std::nullopt;
        return static_cast<std::int32_t>(*d);
    };
    auto flag = [&integer](std::string_view path) -> std::optional<bool> {
        const auto i = integer(path);
        if (!i) return std::nullopt;
        return *i != 0;
    };
    // Texts the bank republishes (cell ids, the charge mode): printable ASCII, at most 48 bytes.
    auto text = [&get](std::string_view path) -> std::string {
        const Value* v = get(path);
        const auto* s = v ? std::get_if<std::string>(v) : nullptr;
        std::string out;
        if (!s) return out;
        for (char ch : *s) {
            if (out.size() >= 48) break;
            if (ch >= 0x20 && ch <= 0x7E) out += ch;
        }
        return out;
    };
    const auto connected = integer("/Connected");
    const auto cable = integer("/Alarms/BmsCable");
    using domain::CommsState;
    if (connected == 1) m.comms = cable.value_or(0) == 0 ? CommsState::Ok : cable == 1 ? CommsState::Stale : CommsState::Lost;
    else m.comms = connected == 0 && cable == 0 ? CommsState::Off : CommsState::Lost;

    m.voltageV = number("/Dc/0/Voltage", plausible::kPackVoltage);
    m.currentA = number("/Dc/0/Current", plausible::kCurrent);
    m.powerW = number("/Dc/0/Power", plausible::kPower);
    m.temperatureC = number("/Dc/0/Temperature", plausible::kTemperature);
    m.socPercent = number("/Soc", plausible::kPercent);
    m.sohPercent = number("/Soh", plausible::kPercent);
    m.installedCapacityAh = number("/InstalledCapacity", plausible::kCapacity);
    m.capacityAh = number("/Capacity", plausible::kCapacity);
    m.consumedAh = inRange("/ConsumedAmphours", -plausible::kCapacity.max, 0.0);
    m.minCellV = number("/System/MinCellVoltage", plausible::kCellVoltage);
    m.maxCellV = number("/System/MaxCellVoltage", plausible::kCellVoltage);
    m.minCellId = text("/System/MinVoltageCellId");
    m.maxCellId = text("/System/MaxVoltageCellId");
    m.minCellTemperatureC = number("/System/MinCellTemperature", plausible::kTemperature);
    m.maxCellTemperatureC = number("/System/MaxCellTemperature", plausible::kTemperature);
    m.minTemperatureId = text("/System/MinTemperatureCellId");
    m.maxTemperatureId = text("/System/MaxTemperatureCellId");
    m.cellsPerBattery = integer("/System/NrOfCellsPerBattery");
    m.allowToCharge = flag("/Io/AllowToCharge");
    m.allowToDischarge = flag("/Io/AllowToDischarge");
    m.allowToBalance = flag("/Io/AllowToBalance");
    m.balancing = flag("/Balancing");
    m.chargeCycles = integer("/History/ChargeCycles");
    for (std::size_t a = 0; a < domain::kBankAlarmPaths.size(); ++a) m.alarms[a] = integer(domain::kBankAlarmPaths[a]);
    // A member service has /Bank/*; a plain battery service followed as a member, /Info/*
    // (then it is a BMS of its own to systemcalc when its CVL is valid).
    const bool member = get("/Bank/MaxChargeVoltage") != nullptr;
    if (!member) {
        const Value* cvl = get("/Info/MaxChargeVoltage");
        m.ownBms = cvl && isValid(*cvl);
    }
    // A limit outside its range is no limit: CCL/DCL absent counts as 0 in the bank.
    m.cvlV = number(member ? "/Bank/MaxChargeVoltage" : "/Info/MaxChargeVoltage", plausible::kPackVoltage);
    m.cclA = inRange(member ? "/Bank/MaxChargeCurrent" : "/Info/MaxChargeCurrent", 0.0, plausible::kCurrent.max);
    m.dclA = inRange(member ? "/Bank/MaxDischargeCurrent" : "/Info/MaxDischargeCurrent", 0.0, plausible::kCurrent.max);
    m.lowVoltageV = number(member ? "/Bank/BatteryLowVoltage" : "/Info/BatteryLowVoltage", plausible::kPackVoltage);
    m.chargeRequest = flag(member ? "/Bank/ChargeRequest" : "/Info/ChargeRequest");
    m.chargeMode = text("/Info/ChargeMode");
    return m;
}

void bankPaths(const ServiceIdentity& id, const domain::BankReading& r, PathTable& t) {
    Builder b(t);
    using domain::CommsState;
    const bool live = r.comms == CommsState::Ok || r.comms == CommsState::Stale;
    putIdentity(b, id);
    b.put("/Connected", std::int32_t{live ? 1 : 0});
    b.putString("/Bank/Status", r.status);

    auto v = [live](const std::optional<double>& x) { return live ? opt(x) : Value{Invalid{}}; };
    b.put("/Dc/0/Voltage", v(r.voltageV), Unit::Volt);
    b.put("/Dc/0/Current", v(r.currentA), Unit::Amp);
    b.put("/Dc/0/Power", v(r.powerW), Unit::Watt);
    b.put("/Dc/0/Temperature", v(r.temperatureC), Unit::Celsius);
    b.put("/Soc", v(r.socPercent), Unit::Percent);
    b.put("/Soh", v(r.sohPercent), Unit::Percent);
    b.put("/InstalledCapacity", v(r.installedCapacityAh), Unit::AmpHour);
    b.put("/Capacity", v(r.capacityAh), Unit::AmpHour);
    b.put("/ConsumedAmphours", v(r.consumedAh), Unit::AmpHour);
    std::optional<double> timeToGo;
    if (live && r.currentA && r.capacityAh && *r.currentA < -0.1) timeToGo = std::round(*r.capacityAh / -*r.currentA * 3600.0);
    b.put("/TimeToGo", opt(timeToGo), Unit::Second);
    if (!id.configError.empty()) b.put("/ErrorCode", kConfigErrorCode, id.configError);
    else b.put("/ErrorCode", live ? Value{std::int32_t{0}} : Value{Invalid{}});
    b.putString(kConfigErrorPath, id.configError.empty() ? std::nullopt : std::optional<std::string_view>{id.configError});

    const auto& l = r.limits;
    const bool noCharge = !id.configError.empty();
    b.put("/Info/MaxChargeVoltage", v(l.cvl.value), Unit::Volt);
    b.put("/Info/MaxChargeCurrent", noCharge && live ? Value{0.0} : v(l.ccl.value), Unit::Amp);
    b.put("/Info/MaxDischargeCurrent", v(l.dcl.value), Unit::Amp);
    b.put("/Info/BatteryLowVoltage", v(l.lowVoltageV), Unit::Volt);
    b.put("/Info/ChargeRequest", live ? opt(l.chargeRequest) : Value{Invalid{}});
    auto reason = [live](std::string_view x) -> std::optional<std::string_view> {
        if (!live || x.empty()) return std::nullopt;
        return x;
    };
    b.putString("/Info/ChargeMode", reason(r.chargeMode));
    b.putString("/Info/ChargeLimitation", reason(noCharge ? kSettingsInvalid : std::string_view{l.ccl.reason}));
    b.putString("/Info/DischargeLimitation", reason(l.dcl.reason));

    auto flag = [live](const std::optional<bool>& x) { return live ? opt(x) : Value{Invalid{}}; };
    b.put("/Io/AllowToCharge", noCharge && live ? Value{std::int32_t{0}} : flag(r.allowToCharge));
    b.put("/Io/AllowToDischarge", flag(r.allowToDischarge));
    b.put("/Io/AllowToBalance", flag(r.allowToBalance));
    b.put("/Balancing", flag(r.balancing));

    b.put("/System/MinCellVoltage", v(r.minCellV), Unit::CellVolt);
    b.put("/System/MaxCellVoltage", v(r.maxCellV), Unit::CellVolt);
    b.putString("/System/MinVoltageCellId", reason(r.minCellId));
    b.putString("/System/MaxVoltageCellId", reason(r.maxCellId));
    b.put("/System/MinCellTemperature", v(r.minCellTemperatureC), Unit::Celsius);
    b.put("/System/MaxCellTemperature", v(r.maxCellTemperatureC), Unit::Celsius);
    b.putString("/System/MinTemperatureCellId", reason(r.minTemperatureId));
    b.putString("/System/MaxTemperatureCellId", reason(r.maxTemperatureId));
    b.put("/System/NrOfBatteries", r.packs);
    b.put("/System/BatteriesParallel", r.packs);
    b.put("/System/BatteriesSeries", std::int32_t{1});
    b.put("/System/NrOfModulesOnline", r.online);
    b.put("/System/NrOfModulesOffline", r.offline);
    b.put("/System/NrOfModulesBlockingCharge", live ? Value{r.blockingCharge} : Value{Invalid{}});
    b.put("/System/NrOfModulesBlockingDischarge", live ? Value{r.blockingDischarge} : Value{Invalid{}});
    b.put("/System/NrOfCellsPerBattery", live ? opt(r.cellsPerBattery) : Value{Invalid{}});
    std::optional<double> diff;
    if (r.minCellV && r.maxCellV) diff = *r.maxCellV - *r.minCellV;
    b.put("/Voltages/Diff", v(diff), Unit::CellVolt);

    for (std::size_t a = 0; a < domain::kBankAlarmPaths.size(); ++a)
        b.put(domain::kBankAlarmPaths[a], live ? opt(r.alarms[a]) : Value{Invalid{}});
    // A member not answering is a warning; none answering, the alarm (as one battery's cable).
    const std::int32_t cable = r.comms == CommsState::Off ? 0 : !live ? 2 : r.commsFault ? 1 : 0;
    b.put("/Alarms/BmsCable", r.packs > 0 ? Value{cable} : Value{Invalid{}});
    b.put("/History/ChargeCycles", live ? opt(r.chargeCycles) : Value{Invalid{}});
    b.put("/History/CanBeCleared", std::int32_t{0});
}

}  // namespace jkbms::dbus
