#include "jkbms/cli/dashboard.hpp"

#include <algorithm>
#include <cmath>

#include "jkbms/cli/reading_view.hpp"

namespace jkbms::cli {
namespace {

constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kRed = "\x1b[31m";
constexpr std::string_view kBlue = "\x1b[34m";
constexpr std::string_view kYellow = "\x1b[33m";
constexpr std::string_view kBold = "\x1b[1m";

// Cuts `text` to `width` columns (escapes kept, a reset added when one was cut off).
std::string fit(const std::string& text, std::size_t width) {
    std::string out;
    std::size_t cols = 0;
    bool escaped = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == 0x1b) {
            const auto end = text.find('m', i);
            if (end == std::string::npos) break;
            out.append(text, i, end - i + 1);
            escaped = true;
            i = end;
            continue;
        }
        if ((c & 0xC0) != 0x80) {
            if (cols == width) break;
            ++cols;
        }
        out.push_back(text[i]);
    }
    if (escaped && displayWidth(text) > width) out += kReset;
    return out;
}

std::string paint(std::string_view colour, const std::string& text, bool color) {
    if (!color) return text;
    return std::string{colour} + text + std::string{kReset};
}

std::string padTo(std::string s, std::size_t width) {
    const std::size_t w = displayWidth(s);
    if (w < width) s.append(width - w, ' ');
    return s;
}

std::string limitText(const std::optional<double>& v, int decimals, std::string_view unit, const std::string& why) {
    if (!v) return "-";
    std::string s = fixed(*v, decimals) + " " + std::string{unit};
    if (!why.empty()) s += " (" + why + ")";
    return s;
}

}  // namespace

std::size_t displayWidth(std::string_view text) {
    std::size_t cols = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == 0x1b) {
            const auto end = text.find('m', i);
            if (end == std::string_view::npos) break;
            i = end;
            continue;
        }
        if ((c & 0xC0) != 0x80) ++cols;
    }
    return cols;
}

std::vector<std::string> renderDashboard(const DashboardView& view, const Screen& screen) {
    const std::size_t width = std::max<std::size_t>(screen.width, 20);
    const std::size_t height = std::max<std::size_t>(screen.height, 6);
    const bool color = screen.color;
    std::vector<std::string> lines;
    const std::string status = view.status;
    std::string title = view.title;
    if (displayWidth(title) + displayWidth(status) + 2 <= width)
        title = padTo(title, width - displayWidth(status)) + status;
    lines.push_back(paint(kBold, fit(title, width), color));

    if (!view.snapshot) {
        lines.push_back("");
        lines.push_back("waiting for the first reading ...");
    } else {
        const auto& s = *view.snapshot;
        lines.push_back("Pack " + fixedOr(s.packVoltageV, 2, "V") + "  " + fixedOr(s.currentA, 2, "A") + "  " +
                        fixedOr(s.powerW, 0, "W") + "  SoC " + fixedOr(s.socPercent, 0, "%") +
                        (s.remainingCapacityAh ? "  " + fixedOr(s.remainingCapacityAh, 1, "Ah") : ""));
        std::string temps = "Temp";
        if (s.mosfetTemperatureC) temps += " MOS " + fixed(*s.mosfetTemperatureC, 1);
        for (const auto& t : s.temperatures) temps += " " + std::string{t.name} + " " + fixed(t.celsius, 1);
        if (temps == "Temp") temps += " -";
        else temps += " °C";
        const auto& sw = s.switches;
        auto flag = [&](std::string_view name, const std::optional<bool>& v) {
            return std::string{name} + " " + onOff(v);
        };
        temps += "   " + flag("CHG", sw.chargeMos ? sw.chargeMos : sw.chargeEnabled) + " " +
                 flag("DSG", sw.dischargeMos ? sw.dischargeMos : sw.dischargeEnabled) + " " + flag("BAL", sw.balancerEnabled);
        lines.push_back(temps);
        if (view.limits) {
            const auto& l = *view.limits;
            lines.push_back("Charge " + (l.chargeMode.empty() ? std::string{"-"} : l.chargeMode) + "  CVL " +
                            limitText(l.maxChargeVoltageV, 2, "V", ""));
            lines.push_back("CCL " + limitText(l.maxChargeCurrentA, 1, "A", l.chargeLimitation) + "  DCL " +
                            limitText(l.maxDischargeCurrentA, 1, "A", l.dischargeLimitation));
        }
        std::string alarms;
        if (s.alarmsReported)
            for (std::size_t i = 0; i < static_cast<std::size_t>(domain::Alarm::Count_); ++i)
                if (s.alarms.has(static_cast<domain::Alarm>(i)))
                    alarms += (alarms.empty() ? "" : ", ") + std::string{domain::alarmName(static_cast<domain::Alarm>(i))};
        const std::string alarmLine = "Alarms " + (alarms.empty() ? std::string{"none"} : alarms);

        // Cells: as many columns as the rows left need, each "NN 3.301 [bar]m".
        const auto stats = s.cellStats();
        const std::size_t n = s.cellVoltagesV.size();
        const std::size_t rowsLeft = height > lines.size() + 2 ? height - lines.size() - 2 : 1;
        if (stats && n > 0) {
            std::size_t columns = std::max<std::size_t>(1, (n + rowsLeft - 1) / rowsLeft);
            const std::size_t minColumn = 14;  // "NN 3.301 " + a bar of 4 + marker
            columns = std::min(columns, std::max<std::size_t>(1, width / minColumn));
            const std::size_t rows = (n + columns - 1) / columns;
            const std::size_t columnWidth = width / columns;
            const std::size_t barWidth = columnWidth > 12 ? columnWidth - 12 : 1;
            // The bars span the cells' spread with some room, so differences show.
            const double lo = stats->minV - std::max(0.02, stats->deltaV);
            const double span = std::max(1e-6, stats->maxV - lo);
            for (std::size_t r = 0; r < rows && lines.size() < height - 1; ++r) {
                std::string row;
                for (std::size_t c = 0; c < columns; ++c) {
                    const std::size_t i = c * rows + r;
                    if (i >= n) break;
                    const double v = s.cellVoltagesV[i];
                    const auto filled = static_cast<std::size_t>(
                        std::clamp(std::lround((v - lo) / span * static_cast<double>(barWidth)), 1L,
                                   static_cast<long>(barWidth)));
                    std::string bar;
                    for (std::size_t b = 0; b < barWidth; ++b)
                        bar += b < filled ? (color ? "█" : "#") : (color ? "░" : ".");
                    const bool balancing = view.balancingCells.test(i);
                    const char* mark = i == stats->maxIndex ? "^" : i == stats->minIndex ? "v" : balancing ? "~" : " ";
                    std::string_view colour = i == stats->maxIndex ? kRed : i == stats->minIndex ? kBlue : kYellow;
                    std::string cell = (i + 1 < 10 ? " " : "") + std::to_string(i + 1) + " " + fixed(v, 3) + " " + bar + mark;
                    if (i == stats->maxIndex || i == stats->minIndex || balancing) cell = paint(colour, cell, color);
                    row += padTo(cell, columnWidth - 1) + (c + 1 < columns ? " " : "");
                }
                lines.push_back(row);
            }
            const std::string summary = "delta " + fixed(stats->deltaV * 1000, 0) + " mV  min " + fixed(stats->minV, 3) +
                                        " (#" + std::to_string(stats->minIndex + 1) + ")  max " + fixed(stats->maxV, 3) +
                                        " (#" + std::to_string(stats->maxIndex + 1) + ")" + (s.balancing ? "  balancing" : "");
            if (lines.size() < height - 1) lines.push_back(summary);
        }
        while (lines.size() < height - 1) lines.emplace_back();
        lines.push_back(alarms.empty() ? alarmLine : paint(kRed, alarmLine, color));
    }
    while (lines.size() < height) lines.emplace_back();
    lines.resize(height);
    for (auto& l : lines) l = fit(l, width);
    return lines;
}

std::string plainLine(const DashboardView& view) {
    std::string out = view.status;
    if (!view.snapshot) return out + " " + view.title + ": no reading";
    const auto& s = *view.snapshot;
    out += " " + fixedOr(s.packVoltageV, 2, "V") + " " + fixedOr(s.currentA, 2, "A") + " " + fixedOr(s.powerW, 0, "W") +
           " SoC " + fixedOr(s.socPercent, 0, "%");
    if (auto st = s.cellStats())
        out += " cells " + fixed(st->minV, 3) + "-" + fixed(st->maxV, 3) + " V (" + fixed(st->deltaV * 1000, 0) + " mV)" +
               (s.balancing ? " balancing" : "");
    if (s.mosfetTemperatureC) out += " MOS " + fixed(*s.mosfetTemperatureC, 1) + " °C";
    if (view.limits) {
        const auto& l = *view.limits;
        out += " " + (l.chargeMode.empty() ? std::string{"-"} : l.chargeMode) + " CVL " + limitText(l.maxChargeVoltageV, 2, "V", "") +
               " CCL " + limitText(l.maxChargeCurrentA, 1, "A", l.chargeLimitation) + " DCL " +
               limitText(l.maxDischargeCurrentA, 1, "A", l.dischargeLimitation);
    }
    bool any = false;
    for (std::size_t i = 0; i < static_cast<std::size_t>(domain::Alarm::Count_); ++i)
        if (s.alarms.has(static_cast<domain::Alarm>(i))) {
            out += (any ? "," : " alarms ") + std::string{domain::alarmName(static_cast<domain::Alarm>(i))};
            any = true;
        }
    return out;
}

}  // namespace jkbms::cli
