#include "jkbms/cli/reading_view.hpp"

#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

namespace jkbms::cli {
namespace {

Json opt(const std::optional<double>& v) { return v ? Json{*v} : Json{}; }
Json opt(const std::optional<bool>& v) { return v ? Json{*v} : Json{}; }
Json opt(const std::optional<std::uint32_t>& v) { return v ? Json{*v} : Json{}; }

// The BMS's protection settings that are present, as (label, value with unit, json key, value).
struct SettingRow {
    std::string_view label;
    std::string_view key;
    const std::optional<double> domain::BmsSettings::*field;
    int decimals;
    std::string_view unit;
};

constexpr SettingRow kSettings[] = {
    {"cell over-voltage protection", "cell_ovp_v", &domain::BmsSettings::cellOvpV, 3, "V"},
    {"cell over-voltage recovery", "cell_ovpr_v", &domain::BmsSettings::cellOvprV, 3, "V"},
    {"cell under-voltage protection", "cell_uvp_v", &domain::BmsSettings::cellUvpV, 3, "V"},
    {"cell under-voltage recovery", "cell_uvpr_v", &domain::BmsSettings::cellUvprV, 3, "V"},
    {"pack over-voltage protection", "pack_ovp_v", &domain::BmsSettings::packOvpV, 2, "V"},
    {"pack under-voltage protection", "pack_uvp_v", &domain::BmsSettings::packUvpV, 2, "V"},
    {"max charge current", "max_charge_current_a", &domain::BmsSettings::maxChargeCurrentA, 1, "A"},
    {"max discharge current", "max_discharge_current_a", &domain::BmsSettings::maxDischargeCurrentA, 1, "A"},
    {"charge over-current protection", "charge_ocp_a", &domain::BmsSettings::chargeOcpA, 1, "A"},
    {"discharge over-current protection", "discharge_ocp_a", &domain::BmsSettings::dischargeOcpA, 1, "A"},
    {"balance start voltage", "balance_start_v", &domain::BmsSettings::balanceStartV, 3, "V"},
    {"balance trigger difference", "balance_trigger_v", &domain::BmsSettings::balanceTriggerV, 3, "V"},
    {"max balance current", "max_balance_current_a", &domain::BmsSettings::maxBalanceCurrentA, 3, "A"},
    {"request charge voltage (RCV)", "request_charge_v", &domain::BmsSettings::requestChargeV, 3, "V"},
    {"request float voltage (RFV)", "request_float_v", &domain::BmsSettings::requestFloatV, 3, "V"},
    {"SoC 100 % voltage", "soc100_v", &domain::BmsSettings::soc100V, 3, "V"},
    {"SoC 0 % voltage", "soc0_v", &domain::BmsSettings::soc0V, 3, "V"},
    {"charge over-temperature", "charge_otp_c", &domain::BmsSettings::chargeOtpC, 1, "°C"},
    {"charge under-temperature", "charge_utp_c", &domain::BmsSettings::chargeUtpC, 1, "°C"},
    {"discharge over-temperature", "discharge_otp_c", &domain::BmsSettings::dischargeOtpC, 1, "°C"},
    {"discharge under-temperature", "discharge_utp_c", &domain::BmsSettings::dischargeUtpC, 1, "°C"},
    {"MOSFET over-temperature", "mosfet_otp_c", &domain::BmsSettings::mosOtpC, 1, "°C"},
    {"nominal capacity", "nominal_capacity_ah", &domain::BmsSettings::nominalCapacityAh, 1, "Ah"},
};

std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}

std::vector<std::string_view> alarmNames(const domain::AlarmSet& alarms) {
    std::vector<std::string_view> out;
    for (std::size_t i = 0; i < static_cast<std::size_t>(domain::Alarm::Count_); ++i) {
        const auto a = static_cast<domain::Alarm>(i);
        if (alarms.has(a)) out.push_back(domain::alarmName(a));
    }
    return out;
}

std::string duration(std::uint32_t s) {
    const std::uint32_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
    if (d) return std::to_string(d) + " d " + std::to_string(h) + " h";
    if (h) return std::to_string(h) + " h " + std::to_string(m) + " min";
    return std::to_string(m) + " min";
}

}  // namespace

std::string fixed(double value, int decimals) {
    if (!std::isfinite(value)) return "-";
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    std::string s = buf;
    if (s.starts_with("-") && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);  // no "-0.00"
    return s;
}

std::string fixedOr(const std::optional<double>& value, int decimals, std::string_view unit) {
    if (!value) return "-";
    return fixed(*value, decimals) + (unit.empty() ? "" : " ") + std::string{unit};
}

std::string onOff(const std::optional<bool>& value) {
    if (!value) return "-";
    return *value ? "on" : "off";
}

std::string readingTable(const domain::BatterySnapshot& s, const std::string& where) {
    const auto& id = s.identity;
    std::string out;
    auto line = [&](std::string_view label, const std::string& text) {
        out += pad(std::string{label}, 14) + text + "\n";
    };
    line("BMS", (id.model.empty() ? std::string{"JK BMS"} : id.model) + (id.variant.empty() ? "" : " (" + id.variant + ")") +
                    ", " + where);
    std::string ident;
    if (!id.hardwareVersion.empty()) ident += "hardware " + id.hardwareVersion + "  ";
    if (!id.softwareVersion.empty()) ident += "software " + id.softwareVersion + "  ";
    if (!id.serialNumber.empty()) ident += "serial " + id.serialNumber + "  ";
    if (!id.manufacturingDate.empty()) ident += "made " + id.manufacturingDate + "  ";
    if (!id.deviceName.empty()) ident += "name " + id.deviceName;
    while (ident.ends_with(' ')) ident.pop_back();
    if (!ident.empty()) line("", ident);

    line("Pack", fixedOr(s.packVoltageV, 2, "V") + "   " + fixedOr(s.currentA, 2, "A") + "   " + fixedOr(s.powerW, 0, "W"));
    line("SoC", fixedOr(s.socPercent, 0, "%") + (s.sohPercent ? "   SoH " + fixedOr(s.sohPercent, 0, "%") : ""));
    if (s.remainingCapacityAh || s.fullCapacityAh)
        line("Capacity", fixedOr(s.remainingCapacityAh, 1, "Ah") + " of " + fixedOr(s.fullCapacityAh, 1, "Ah"));
    std::string history;
    if (s.cycleCount) history += std::to_string(*s.cycleCount) + " cycles";
    if (s.cycleCapacityAh) history += (history.empty() ? "" : ", ") + fixed(*s.cycleCapacityAh, 0) + " Ah through";
    if (s.runtimeS) history += (history.empty() ? "" : ", ") + std::string{"running "} + duration(*s.runtimeS);
    if (!history.empty()) line("History", history);

    if (auto st = s.cellStats()) {
        line("Cells", std::to_string(s.cellVoltagesV.size()) + " cells, min " + fixed(st->minV, 3) + " V (#" +
                          std::to_string(st->minIndex + 1) + "), max " + fixed(st->maxV, 3) + " V (#" +
                          std::to_string(st->maxIndex + 1) + "), delta " + fixed(st->deltaV * 1000, 0) + " mV");
        std::string row;
        for (std::size_t i = 0; i < s.cellVoltagesV.size(); ++i) {
            std::string cell = (i + 1 < 10 ? " " : "") + std::to_string(i + 1) + " " + fixed(s.cellVoltagesV[i], 3);
            cell += i == st->maxIndex ? "^" : i == st->minIndex ? "v" : " ";
            row += pad(cell, 11);
            if ((i + 1) % 6 == 0 || i + 1 == s.cellVoltagesV.size()) {
                while (row.ends_with(' ')) row.pop_back();
                line("", row);
                row.clear();
            }
        }
    } else {
        line("Cells", "-");
    }
    std::string balance = s.balancing ? "balancing" : "not balancing";
    if (s.balanceCurrentA) balance += ", " + fixed(*s.balanceCurrentA, 3) + " A";
    line("Balancer", balance);

    std::string temps;
    if (s.mosfetTemperatureC) temps += "MOSFET " + fixed(*s.mosfetTemperatureC, 1) + " °C  ";
    for (const auto& t : s.temperatures) temps += std::string{t.name} + " " + fixed(t.celsius, 1) + " °C  ";
    while (temps.ends_with(' ')) temps.pop_back();
    line("Temperatures", temps.empty() ? "-" : temps);
    if (s.heating) line("Heater", onOff(s.heating) + (s.heatingCurrentA ? ", " + fixed(*s.heatingCurrentA, 2) + " A" : ""));

    const auto& sw = s.switches;
    line("Switches", "charge " + onOff(sw.chargeEnabled) + " (MOSFET " + onOff(sw.chargeMos) + ")   discharge " +
                         onOff(sw.dischargeEnabled) + " (MOSFET " + onOff(sw.dischargeMos) + ")   balance " +
                         onOff(sw.balancerEnabled));
    if (!s.alarmsReported) {
        line("Alarms", "not reported by this BMS");
    } else {
        std::string alarms;
        for (auto name : alarmNames(s.alarms)) alarms += (alarms.empty() ? "" : ", ") + std::string{name};
        line("Alarms", alarms.empty() ? "none" : alarms);
    }

    bool first = true;
    for (const auto& row : kSettings) {
        const auto& v = s.settings.*(row.field);
        if (!v) continue;
        line(first ? "Settings" : "", pad(std::string{row.label}, 36) + fixed(*v, row.decimals) + " " + std::string{row.unit});
        first = false;
    }
    if (s.settings.cellCount) line(first ? "Settings" : "", pad("cell count", 36) + std::to_string(*s.settings.cellCount));
    return out;
}

Json readingJson(const domain::BatterySnapshot& s, const std::string& where) {
    const auto& id = s.identity;
    Json j = Json::object();
    j.set("link", where);
    j.set("protocol", domain::protocolName(id.protocol));
    Json identity = Json::object();
    identity.set("variant", id.variant);
    identity.set("model", id.model);
    identity.set("hardware_version", id.hardwareVersion);
    identity.set("software_version", id.softwareVersion);
    identity.set("serial_number", id.serialNumber);
    identity.set("manufacturing_date", id.manufacturingDate);
    identity.set("device_name", id.deviceName);
    j.set("identity", std::move(identity));

    Json pack = Json::object();
    pack.set("voltage_v", opt(s.packVoltageV));
    pack.set("current_a", opt(s.currentA));
    pack.set("power_w", opt(s.powerW));
    pack.set("soc_percent", opt(s.socPercent));
    pack.set("soh_percent", opt(s.sohPercent));
    pack.set("remaining_capacity_ah", opt(s.remainingCapacityAh));
    pack.set("full_capacity_ah", opt(s.fullCapacityAh));
    pack.set("cycle_count", opt(s.cycleCount));
    pack.set("cycle_capacity_ah", opt(s.cycleCapacityAh));
    pack.set("runtime_s", opt(s.runtimeS));
    j.set("pack", std::move(pack));

    Json cells = Json::object();
    Json voltages = Json::array();
    for (double v : s.cellVoltagesV) voltages.push(v);
    cells.set("voltages_v", std::move(voltages));
    const auto st = s.cellStats();
    cells.set("min_v", st ? Json{st->minV} : Json{});
    cells.set("min_cell", st ? Json{st->minIndex + 1} : Json{});
    cells.set("max_v", st ? Json{st->maxV} : Json{});
    cells.set("max_cell", st ? Json{st->maxIndex + 1} : Json{});
    cells.set("delta_v", st ? Json{st->deltaV} : Json{});
    cells.set("average_v", st ? Json{st->averageV} : Json{});
    cells.set("balancing", s.balancing);
    cells.set("balance_current_a", opt(s.balanceCurrentA));
    j.set("cells", std::move(cells));

    Json temps = Json::object();
    temps.set("mosfet", opt(s.mosfetTemperatureC));
    for (const auto& t : s.temperatures) temps.set(t.name, t.celsius);
    j.set("temperatures_c", std::move(temps));
    if (s.heating) j.set("heating", *s.heating);

    Json sw = Json::object();
    sw.set("charge", opt(s.switches.chargeEnabled));
    sw.set("discharge", opt(s.switches.dischargeEnabled));
    sw.set("balance", opt(s.switches.balancerEnabled));
    sw.set("charge_mosfet", opt(s.switches.chargeMos));
    sw.set("discharge_mosfet", opt(s.switches.dischargeMos));
    j.set("switches", std::move(sw));

    if (s.alarmsReported) {
        Json alarms = Json::array();
        for (auto name : alarmNames(s.alarms)) alarms.push(name);
        j.set("alarms", std::move(alarms));
    } else {
        j.set("alarms", nullptr);
    }

    Json settings = Json::object();
    for (const auto& row : kSettings)
        if (const auto& v = s.settings.*(row.field)) settings.set(row.key, *v);
    if (s.settings.cellCount) settings.set("cell_count", *s.settings.cellCount);
    j.set("settings", std::move(settings));
    return j;
}

}  // namespace jkbms::cli
