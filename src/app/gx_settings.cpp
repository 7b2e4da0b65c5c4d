#include "jkbms/app/gx_settings.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "jkbms/dbus/names.hpp"

namespace jkbms::app {
namespace {

using dbus::SettingDef;
using dbus::SettingValue;
using Values = dbus::SettingsGroup::Values;
using std::chrono::milliseconds;

// Names below the group (gui-v2 README "Settings" lists them with their units).
constexpr const char* kMaxCharge = "Current/MaxCharge";
constexpr const char* kMaxDischarge = "Current/MaxDischarge";
constexpr const char* kBulk = "Cell/BulkVoltage";
constexpr const char* kFloat = "Cell/FloatVoltage";
constexpr const char* kAbsorptionTime = "Absorption/MaxTime";
constexpr const char* kTail = "Absorption/TailCurrent";
constexpr const char* kRebulkSoc = "Float/RebulkSoc";
constexpr const char* kChargeMin = "Temperature/ChargeMin";
constexpr const char* kChargeMax = "Temperature/ChargeMax";
constexpr const char* kDischargeMin = "Temperature/DischargeMin";
constexpr const char* kDischargeMax = "Temperature/DischargeMax";
constexpr const char* kPressOn = "Relay/PressOn";
constexpr const char* kPressOff = "Relay/PressOff";
constexpr const char* kPressGap = "Relay/PressGap";

bool rising(const charge::Table& t) { return t.points.size() >= 2 && t.points.back().first > t.points.front().first; }

double seconds(milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }
milliseconds millis(double s) { return milliseconds{static_cast<milliseconds::rep>(std::llround(s * 1000.0))}; }

double number(const SettingValue& v) {
    if (const auto* i = std::get_if<std::int32_t>(&v)) return *i;
    if (const auto* d = std::get_if<double>(&v)) return *d;
    return 0;
}

}  // namespace

charge::Table moveTableEnds(const charge::Table& table, double lowX, double highX) {
    charge::Table t = table;
    auto& p = t.points;
    if (p.size() < 2) return t;
    double top = 0;
    for (const auto& [x, y] : p) top = std::max(top, y);
    std::size_t firstTop = 0, lastTop = p.size() - 1;
    while (firstTop < p.size() && p[firstTop].second < top) ++firstTop;
    while (lastTop > 0 && p[lastTop].second < top) --lastTop;
    const double low = lowX - table.points.front().first;
    const double high = highX - table.points.back().first;
    for (std::size_t i = 0; i <= firstTop && i < p.size(); ++i) p[i].first += low;
    for (std::size_t i = lastTop; i < p.size(); ++i) p[i].first = table.points[i].first + high;
    return t;
}

std::vector<SettingDef> gxSettingDefs(const config::Config& config, bool relay) {
    const auto& e = config.charge.engine;
    std::vector<SettingDef> defs;
    auto addNumber = [&](const char* name, double value, double min, double max) {
        if (value >= min && value <= max) defs.push_back(SettingDef{name, SettingValue{value}, min, max});
    };
    auto addWhole = [&](const char* name, double value, double min, double max) {
        const double rounded = std::round(value);
        if (rounded >= min && rounded <= max)
            defs.push_back(SettingDef{name, SettingValue{static_cast<std::int32_t>(rounded)}, min, max});
    };
    addNumber(kMaxCharge, e.maxChargeA, 0, 1000);
    addNumber(kMaxDischarge, e.maxDischargeA, 0, 1000);
    addNumber(kBulk, e.bulkCellV.value_or(0), 0, 4.5);
    addNumber(kFloat, e.floatCellV.value_or(0), 0, 4.5);
    addWhole(kAbsorptionTime, e.absorptionMaxTimeS / 60, 0, 1440);
    addNumber(kTail, e.tailCurrentC, 0, 0.5);
    addWhole(kRebulkSoc, e.rebulkSocPercent, 0, 100);
    if (rising(e.chargeTemperatureC)) {
        addNumber(kChargeMin, e.chargeTemperatureC.points.front().first, -40, 20);
        addNumber(kChargeMax, e.chargeTemperatureC.points.back().first, 20, 80);
    }
    if (rising(e.dischargeTemperatureC)) {
        addNumber(kDischargeMin, e.dischargeTemperatureC.points.front().first, -40, 20);
        addNumber(kDischargeMax, e.dischargeTemperatureC.points.back().first, 20, 80);
    }
    if (relay) {
        // config.yaml's own ranges (relay.press): the BMS tells on from off by the length.
        const auto& p = config.relay.press;
        addNumber(kPressOn, seconds(p.on), 0.2, 2);
        addNumber(kPressOff, seconds(p.off), 1, 10);
        addNumber(kPressGap, seconds(p.gap), 0.2, 10);
    }
    return defs;
}

GxApplied gxTunables(const config::Config& config, bool relay, const Values& values) {
    GxApplied out;
    auto& c = out.tunables.charge;
    auto& press = out.tunables.press;
    c = config.charge.engine;
    press = config.relay.press;
    double chargeLow = 0, chargeHigh = 0, dischargeLow = 0, dischargeHigh = 0;
    if (rising(c.chargeTemperatureC)) {
        chargeLow = c.chargeTemperatureC.points.front().first;
        chargeHigh = c.chargeTemperatureC.points.back().first;
    }
    if (rising(c.dischargeTemperatureC)) {
        dischargeLow = c.dischargeTemperatureC.points.front().first;
        dischargeHigh = c.dischargeTemperatureC.points.back().first;
    }
    bool chargeMoved = false, dischargeMoved = false;
    for (const SettingDef& d : gxSettingDefs(config, relay)) {
        const auto it = values.find(d.name);
        // Equal to its default: config.yaml's value stands exactly (no rounding through minutes).
        if (it == values.end() || it->second == d.defaultValue) continue;
        const double v = number(it->second);
        const std::string_view n = d.name;
        if (n == kMaxCharge) c.maxChargeA = v;
        else if (n == kMaxDischarge) c.maxDischargeA = v;
        else if (n == kBulk) c.bulkCellV = v > 0 ? std::optional{v} : std::nullopt;
        else if (n == kFloat) c.floatCellV = v > 0 ? std::optional{v} : std::nullopt;
        else if (n == kAbsorptionTime) c.absorptionMaxTimeS = v * 60;
        else if (n == kTail) c.tailCurrentC = v;
        else if (n == kRebulkSoc) c.rebulkSocPercent = v;
        else if (n == kChargeMin || n == kChargeMax) {
            (n == kChargeMin ? chargeLow : chargeHigh) = v;
            chargeMoved = true;
        } else if (n == kDischargeMin || n == kDischargeMax) {
            (n == kDischargeMin ? dischargeLow : dischargeHigh) = v;
            dischargeMoved = true;
        } else if (n == kPressOn) press.on = millis(v);
        else if (n == kPressOff) press.off = millis(v);
        else if (n == kPressGap) press.gap = millis(v);
    }
    if (chargeMoved) c.chargeTemperatureC = moveTableEnds(c.chargeTemperatureC, chargeLow, chargeHigh);
    if (dischargeMoved) c.dischargeTemperatureC = moveTableEnds(c.dischargeTemperatureC, dischargeLow, dischargeHigh);
    out.problems = c.validate();
    if (press.on >= press.off)
        out.problems.emplace_back("the on press must be shorter than the off press (the BMS tells them apart by length)");
    if (config.relay.wake.attempts > 0 && config.relay.wake.interval < press.on + press.gap)
        out.problems.emplace_back("relay.wake.interval must be at least the on press plus the gap");
    return out;
}

GxSettings::GxSettings(sdbus::IConnection& connection, const std::string& uid, std::string who,
                       const config::Config& config, bool relay, Apply apply)
    : group_(connection, "/Settings/Devices/" + dbus::settingsUid(uid) + "/" + std::string{kGxSettingsGroup}, who),
      who_(std::move(who)),
      config_(config),
      relay_(relay),
      apply_(std::move(apply)) {
    current_.charge = config.charge.engine;
    current_.press = config.relay.press;
    group_.onChange([this](const std::string& name, const SettingValue& value) { offer(name, value); });
}

namespace {

// The baseline's text: one "name=value" line per setting, values as settingText writes them.
std::string baselineText(const std::vector<SettingDef>& defs) {
    std::string text;
    for (const SettingDef& d : defs) text += d.name + "=" + dbus::settingText(d.defaultValue) + "\n";
    return text;
}

// Read back from localsettings (untrusted: another client may have written anything): lines
// without "=" are skipped; a name not defined is harmless (never looked up).
std::map<std::string, std::string, std::less<>> parseBaseline(const std::string& text) {
    std::map<std::string, std::string, std::less<>> out;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        const std::string_view line{text.data() + at, end - at};
        if (const auto eq = line.find('='); eq != std::string_view::npos)
            out.insert_or_assign(std::string{line.substr(0, eq)}, std::string{line.substr(eq + 1)});
        at = end + 1;
    }
    return out;
}

}  // namespace

void GxSettings::start() {
    auto defs = gxSettingDefs(config_, relay_);
    const std::string baseline = baselineText(defs);
    defs.push_back(SettingDef{kBaselineName, SettingValue{std::string{}}, 0, 0, true});
    group_.create(std::move(defs), [this, baseline](const Values& values) {
        // Settings still at the value config.yaml had when it was last recorded were never
        // changed on the GX: config.yaml's value now stands, and localsettings is told so the
        // GX shows it. Without a record (the first start): what is stored stands.
        Values kept = values;
        const auto b = values.find(kBaselineName);
        const auto previous =
            parseBaseline(b != values.end() && std::holds_alternative<std::string>(b->second) ? std::get<std::string>(b->second) : "");
        for (const SettingDef& d : gxSettingDefs(config_, relay_)) {
            const auto it = kept.find(d.name);
            const auto was = previous.find(d.name);
            if (it == kept.end() || was == previous.end() || it->second == d.defaultValue) continue;
            if (dbus::settingText(it->second) != was->second) continue;  // changed on the GX
            spdlog::info("{}: setting {} follows config.yaml: {} (was {}, never changed on the GX)", who_,
                         group_.pathOf(d.name), dbus::settingText(d.defaultValue), was->second);
            group_.store(d.name, d.defaultValue);
            it->second = d.defaultValue;
        }
        kept.erase(std::string{kBaselineName});
        if (b == values.end() || b->second != SettingValue{baseline}) group_.store(kBaselineName, SettingValue{baseline});
        onCreated(kept);
    });
}

std::vector<std::string> GxSettings::acceptWhatFits() {
    std::vector<std::string> added;
    // All at once first: settings that only fit together (bulk and float lowered together).
    Values all = accepted_;
    for (const auto& [name, value] : stored_) all.insert_or_assign(name, value);
    if (all != accepted_ && gxTunables(config_, relay_, all).problems.empty()) {
        for (const auto& [name, value] : stored_)
            if (auto it = accepted_.find(name); it == accepted_.end() || it->second != value) added.push_back(name);
        accepted_ = std::move(all);
        return added;
    }
    // Else one by one, in passes: one that fits only after another is taken in the next pass.
    const auto defs = gxSettingDefs(config_, relay_);
    for (bool more = true; more;) {
        more = false;
        for (const SettingDef& d : defs) {
            const auto it = stored_.find(d.name);
            if (it == stored_.end()) continue;
            if (auto in = accepted_.find(d.name); in != accepted_.end() && in->second == it->second) continue;
            Values candidate = accepted_;
            candidate.insert_or_assign(d.name, it->second);
            if (!gxTunables(config_, relay_, candidate).problems.empty()) continue;
            accepted_ = std::move(candidate);
            added.push_back(d.name);
            more = true;
        }
    }
    return added;
}

void GxSettings::onCreated(const Values& values) {
    created_ = true;
    stored_ = values;
    accepted_.clear();
    acceptWhatFits();
    // A stored value that fits with no choice of the others (config.yaml changed since it was
    // stored) is named.
    for (const auto& [name, value] : stored_)
        if (auto it = accepted_.find(name); it == accepted_.end() || it->second != value) {
            Values alone = accepted_;
            alone.insert_or_assign(name, value);
            const auto applied = gxTunables(config_, relay_, alone);
            spdlog::warn("{}: setting {} = {} not used: {}", who_, group_.pathOf(name), dbus::settingText(value),
                         applied.problems.empty() ? std::string{"does not fit with the others"} : applied.problems.front());
        }
    current_ = gxTunables(config_, relay_, accepted_).tunables;
    std::string changed;
    for (const SettingDef& d : gxSettingDefs(config_, relay_))
        if (auto it = accepted_.find(d.name); it != accepted_.end() && it->second != d.defaultValue)
            changed += (changed.empty() ? "" : ", ") + d.name + " " + dbus::settingText(it->second);
    spdlog::info("{}: settings on the GX under {}{}", who_, group_.basePath(),
                 changed.empty() ? " (all as config.yaml)" : ", in place of config.yaml: " + changed);
    if (apply_) apply_(current_);
}

void GxSettings::offer(const std::string& name, const SettingValue& value) {
    const auto defs = gxSettingDefs(config_, relay_);
    if (std::none_of(defs.begin(), defs.end(), [&](const SettingDef& d) { return d.name == name; })) return;
    stored_.insert_or_assign(name, value);
    if (auto it = accepted_.find(name); it != accepted_.end() && it->second == value) return;
    // The new value with what is in force; then whatever was refused before and fits now.
    Values candidate = accepted_;
    candidate.insert_or_assign(name, value);
    const auto alone = gxTunables(config_, relay_, candidate);
    const Values before = accepted_;
    if (alone.problems.empty()) accepted_ = std::move(candidate);
    const auto added = acceptWhatFits();
    if (accepted_ == before) {
        spdlog::warn("{}: setting {} = {} refused, the previous values stay: {}", who_, group_.pathOf(name),
                     dbus::settingText(value), alone.problems.empty() ? std::string{"-"} : alone.problems.front());
        return;
    }
    current_ = gxTunables(config_, relay_, accepted_).tunables;
    std::string also;
    for (const auto& n : added)
        if (n != name) also += (also.empty() ? ", with " : ", ") + group_.pathOf(n) + " now that it fits";
    if (auto it = accepted_.find(name); it != accepted_.end() && it->second == value)
        spdlog::info("{}: setting {} = {} applied{}", who_, group_.pathOf(name), dbus::settingText(value), also);
    else
        spdlog::warn("{}: setting {} = {} refused{}", who_, group_.pathOf(name), dbus::settingText(value), also);
    if (apply_) apply_(current_);
}

}  // namespace jkbms::app
