// BatteryHistory (see battery_history.hpp): the figures from the readings, and their text form
// written and read from one table of fields.

#include "jkbms/domain/battery_history.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "jkbms/domain/plausible_ranges.hpp"

namespace jkbms::domain {
namespace {

using Figures = HistoryFigures;

// The saved fields: an optional value, a total or a counter, with the range it must be in.
struct Field {
    std::string_view key;  // after kHistoryKeyPrefix
    std::optional<double> Figures::*optional = nullptr;
    double Figures::*total = nullptr;
    std::uint32_t Figures::*counter = nullptr;
    double min = 0, max = 0;
};

constexpr double kMaxKWh = 1e7;         // 10 GWh: no battery on a GX gets there
constexpr double kMaxCount = 1e6;
constexpr double kMaxDischargeAh = 1e4;  // plausible::kCapacity

constexpr std::array kFields = {
    Field{"min_v", &Figures::minVoltageV, nullptr, nullptr, plausible::kPackVoltage.min, plausible::kPackVoltage.max},
    Field{"max_v", &Figures::maxVoltageV, nullptr, nullptr, plausible::kPackVoltage.min, plausible::kPackVoltage.max},
    Field{"min_cell_v", &Figures::minCellVoltageV, nullptr, nullptr, plausible::kCellVoltage.min, plausible::kCellVoltage.max},
    Field{"max_cell_v", &Figures::maxCellVoltageV, nullptr, nullptr, plausible::kCellVoltage.min, plausible::kCellVoltage.max},
    Field{"min_temp_c", &Figures::minTemperatureC, nullptr, nullptr, plausible::kTemperature.min, plausible::kTemperature.max},
    Field{"max_temp_c", &Figures::maxTemperatureC, nullptr, nullptr, plausible::kTemperature.min, plausible::kTemperature.max},
    Field{"charged_kwh", nullptr, &Figures::chargedKWh, nullptr, 0, kMaxKWh},
    Field{"discharged_kwh", nullptr, &Figures::dischargedKWh, nullptr, 0, kMaxKWh},
    Field{"deepest_ah", &Figures::deepestDischargeAh, nullptr, nullptr, -kMaxDischargeAh, 0},
    Field{"last_ah", &Figures::lastDischargeAh, nullptr, nullptr, -kMaxDischargeAh, 0},
    Field{"syncs", nullptr, nullptr, &Figures::automaticSyncs, 0, kMaxCount},
    Field{"full_discharges", nullptr, nullptr, &Figures::fullDischarges, 0, kMaxCount},
    Field{"low_v_alarms", nullptr, nullptr, &Figures::lowVoltageAlarms, 0, kMaxCount},
    Field{"high_v_alarms", nullptr, nullptr, &Figures::highVoltageAlarms, 0, kMaxCount},
};

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// Widens [lo, hi] to take `v`; true when it moved.
bool extend(std::optional<double>& lo, std::optional<double>& hi, double v) {
    bool moved = false;
    if (!lo || v < *lo) lo = v, moved = true;
    if (!hi || v > *hi) hi = v, moved = true;
    return moved;
}

std::optional<double> plausibleOr(const std::optional<double>& v, const PlausibleRange& range) {
    if (v && range.contains(*v)) return v;
    return std::nullopt;
}

}  // namespace

BatteryHistory::Change BatteryHistory::update(const BatterySnapshot& s, double dtS) {
    Figures& f = figures_;
    bool figure = false, event = false;

    const auto packV = plausibleOr(s.packVoltageV, plausible::kPackVoltage);
    // A pack powering its BMS: every cell above kMinCellForExtremesV and plausible, and the pack
    // voltage no less than that per cell. One 0 V frame would otherwise set the minimum for good.
    const bool cellsLive = !s.cellVoltagesV.empty() &&
                           std::all_of(s.cellVoltagesV.begin(), s.cellVoltagesV.end(), [](double v) {
                               return plausible::kCellVoltage.contains(v) && v >= kMinCellForExtremesV;
                           });
    const double minPackV = kMinCellForExtremesV * static_cast<double>(std::max<std::size_t>(1, s.cellVoltagesV.size()));
    if (packV && *packV >= minPackV && (cellsLive || s.cellVoltagesV.empty()))
        figure |= extend(f.minVoltageV, f.maxVoltageV, *packV);
    if (cellsLive)
        for (double v : s.cellVoltagesV) figure |= extend(f.minCellVoltageV, f.maxCellVoltageV, v);
    for (const auto& t : s.temperatures)
        if (plausible::kTemperature.contains(t.celsius)) figure |= extend(f.minTemperatureC, f.maxTemperatureC, t.celsius);

    // Energy over the time since the previous reading, at this reading's power.
    const auto current = plausibleOr(s.currentA, plausible::kCurrent);
    if (!first_ && packV && current && std::isfinite(dtS) && dtS > 0 && std::fabs(*current) > kIdleCurrentA) {
        const double kWh = *packV * std::fabs(*current) * std::min(dtS, maxGapS_) / 3.6e6;
        double& total = *current > 0 ? f.chargedKWh : f.dischargedKWh;
        total = std::min(total + kWh, kMaxKWh);
        figure = true;
    }

    // Consumed Ah as /ConsumedAmphours shows it.
    const auto fullAh = plausibleOr(s.fullCapacityAh, plausible::kCapacity);
    const auto remainingAh = plausibleOr(s.remainingCapacityAh, plausible::kCapacity);
    if (fullAh && remainingAh) {
        const double consumed = std::min(0.0, *remainingAh - *fullAh);
        if (!f.lastDischargeAh || consumed < *f.lastDischargeAh) f.lastDischargeAh = consumed, figure = true;
        if (!f.deepestDischargeAh || consumed < *f.deepestDischargeAh) f.deepestDischargeAh = consumed, figure = true;
    }

    if (const auto soc = plausibleOr(s.socPercent, plausible::kPercent)) {
        if (*soc >= 100.0 && syncArmed_) {
            // The BMS set itself to full: a new discharge cycle starts here.
            ++f.automaticSyncs;
            f.lastDischargeAh = 0.0;
            syncArmed_ = false;
            event = true;
        } else if (*soc < kSyncRearmSoc) {
            syncArmed_ = true;
        }
        if (*soc <= 0.0 && emptyArmed_) {
            ++f.fullDischarges;
            emptyArmed_ = false;
            event = true;
        } else if (*soc > kEmptyRearmSoc) {
            emptyArmed_ = true;
        }
    }

    // A protection counts when it trips (not while it stays tripped, nor at the first reading
    // after a start: it may be the same trip as before the restart).
    if (s.alarmsReported) {
        const bool low = s.alarms.has(Alarm::LowVoltage) || s.alarms.has(Alarm::CellLowVoltage);
        const bool high = s.alarms.has(Alarm::HighVoltage) || s.alarms.has(Alarm::CellHighVoltage);
        if (low && !lowVoltage_ && alarmsSeen_) ++f.lowVoltageAlarms, event = true;
        if (high && !highVoltage_ && alarmsSeen_) ++f.highVoltageAlarms, event = true;
        lowVoltage_ = low;
        highVoltage_ = high;
        alarmsSeen_ = true;
    }
    first_ = false;
    return event ? Change::Event : figure ? Change::Figure : Change::None;
}

void BatteryHistory::clear() { figures_ = Figures{}; }

void BatteryHistory::restore(const HistoryFigures& figures) {
    figures_ = figures;
    syncArmed_ = emptyArmed_ = alarmsSeen_ = false;
    first_ = true;
}

std::string formatHistory(const HistoryFigures& f) {
    std::string out;
    for (const Field& field : kFields) {
        double v = 0;
        if (field.optional) {
            const auto& o = f.*field.optional;
            if (!o) continue;
            v = *o;
        } else if (field.total) {
            v = f.*field.total;
        } else {
            v = static_cast<double>(f.*field.counter);
        }
        if (!std::isfinite(v)) continue;
        v = std::clamp(v, field.min, field.max);
        out += std::string{kHistoryKeyPrefix} + std::string{field.key} + '=' +
               (field.counter ? std::to_string(static_cast<std::uint32_t>(v)) : number(v)) + '\n';
    }
    return out;
}

HistoryItem readHistoryItem(std::string_view key, std::string_view value, HistoryFigures& f, std::string& why) {
    if (!key.starts_with(kHistoryKeyPrefix)) {
        why = "is not a history key";
        return HistoryItem::Bad;
    }
    key.remove_prefix(kHistoryKeyPrefix.size());
    const auto field = std::find_if(kFields.begin(), kFields.end(), [&](const Field& fd) { return fd.key == key; });
    if (field == kFields.end()) {
        why = "is not a history key this version knows";
        return HistoryItem::Unknown;
    }
    double v = 0;
    if (field->counter) {
        std::uint32_t n = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc{} || ptr != value.data() + value.size()) {
            why = "is not a whole number";
            return HistoryItem::Bad;
        }
        v = n;
    } else {
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec != std::errc{} || ptr != value.data() + value.size() || !std::isfinite(v)) {
            why = "is not a number";
            return HistoryItem::Bad;
        }
    }
    if (v < field->min || v > field->max) {
        why = "is out of range (" + number(field->min) + " to " + number(field->max) + ")";
        return HistoryItem::Bad;
    }
    if (field->optional) f.*field->optional = v;
    else if (field->total) f.*field->total = v;
    else f.*field->counter = static_cast<std::uint32_t>(v);
    return HistoryItem::Read;
}

}  // namespace jkbms::domain
