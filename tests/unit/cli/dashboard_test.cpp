#include "jkbms/cli/dashboard.hpp"

#include <gtest/gtest.h>

#include "jkbms/cli/reading_view.hpp"
#include "support/sample_battery.hpp"

namespace jkbms::cli {
namespace {

DashboardView sampleView(std::size_t cells = 16) {
    DashboardView v;
    auto s = test::sampleSnapshot16();
    s.cellVoltagesV.clear();
    for (std::size_t i = 0; i < cells; ++i) s.cellVoltagesV.push_back(3.300 + 0.001 * static_cast<double>(i % 16));
    s.cellVoltagesV[4] = 3.290;  // cell 5 lowest
    s.identity.model = "JK_B2A24S15P";
    v.snapshot = s;
    v.limits = test::sampleLimits();
    v.title = "JK_B2A24S15P - NW on /dev/ttyUSB0";
    v.status = "12:00:01";
    v.balancingCells.set(15);
    return v;
}

std::string find(const std::vector<std::string>& lines, std::string_view what) {
    for (const auto& l : lines)
        if (l.find(what) != std::string::npos) return l;
    return {};
}

TEST(Dashboard, FitsAn80x24Terminal) {
    for (std::size_t cells : {4U, 16U, 24U, 32U}) {
        const auto lines = renderDashboard(sampleView(cells), Screen{80, 24, false});
        ASSERT_EQ(lines.size(), 24U) << cells;
        for (const auto& l : lines) EXPECT_LE(displayWidth(l), 80U) << cells << ": " << l;
        // Every cell is on the screen, once.
        for (std::size_t i = 1; i <= cells; ++i) {
            const std::string label = (i < 10 ? " " : "") + std::to_string(i) + " 3.";
            std::size_t seen = 0;
            for (const auto& l : lines)
                for (auto p = l.find(label); p != std::string::npos; p = l.find(label, p + 1)) ++seen;
            EXPECT_EQ(seen, 1U) << cells << " cells, cell " << i;
        }
    }
}

TEST(Dashboard, ShowsPackLimitsAndMarksCells) {
    const auto lines = renderDashboard(sampleView(16), Screen{80, 24, false});
    EXPECT_NE(lines[0].find("JK_B2A24S15P - NW on /dev/ttyUSB0"), std::string::npos);
    EXPECT_EQ(lines[0].substr(80 - 8), "12:00:01") << "the status on the right";
    EXPECT_NE(find(lines, "Pack 52.92 V  -12.50 A  -662 W  SoC 67 %"), "");
    EXPECT_NE(find(lines, "Charge Bulk  CVL 55.20 V"), "");
    EXPECT_NE(find(lines, "CCL 100.0 A (Max charge current)  DCL 150.0 A (Max discharge current)"), "");
    EXPECT_NE(find(lines, "MOS 31.0 T1 24.0 T2 26.0"), "");
    // Lowest cell 5 (v), highest 16 (^, also balancing: the extreme wins), and the summary.
    EXPECT_NE(find(lines, " 5 3.290 ").find('v'), std::string::npos);
    const std::string top = find(lines, "16 3.315 ");
    EXPECT_EQ(top.substr(top.find("16 3.315 ")).find('^') != std::string::npos, true) << top;
    EXPECT_NE(find(lines, "delta 25 mV  min 3.290 (#5)  max 3.315 (#16)  balancing"), "");
    EXPECT_EQ(lines.back(), "Alarms none");
    // Bars: the highest cell's is full, the lowest cell's shortest.
    auto bar = [](const std::string& line, const std::string& cell) {
        auto p = line.find(cell);
        std::size_t n = 0;
        for (auto i = p + cell.size(); i < line.size() && line[i] == '#'; ++i) ++n;
        return n;
    };
    EXPECT_GT(bar(top, "16 3.315 "), bar(find(lines, " 5 3.290 "), " 5 3.290 "));
}

TEST(Dashboard, BalancingIsMarkedAndColourStaysInTheWidth) {
    auto v = sampleView(16);
    v.balancingCells.reset();
    v.balancingCells.set(7);
    auto lines = renderDashboard(v, Screen{80, 24, false});
    EXPECT_NE(find(lines, " 8 3.307 ").find('~'), std::string::npos);
    lines = renderDashboard(v, Screen{80, 24, true});
    ASSERT_EQ(lines.size(), 24U);
    for (const auto& l : lines) EXPECT_LE(displayWidth(l), 80U) << l;
    EXPECT_NE(find(lines, "\x1b[34m 5 3.290"), "") << "the lowest cell in blue";
    EXPECT_NE(find(lines, "█"), "") << "block bars on a colour terminal";
}

TEST(Dashboard, SmallTerminalsAndNoReading) {
    auto lines = renderDashboard(sampleView(32), Screen{40, 12, false});
    ASSERT_EQ(lines.size(), 12U);
    for (const auto& l : lines) EXPECT_LE(displayWidth(l), 40U) << l;
    DashboardView empty;
    empty.title = "NW on /dev/ttyUSB0";
    empty.status = "no answer for 3 s";
    lines = renderDashboard(empty, Screen{80, 24, false});
    ASSERT_EQ(lines.size(), 24U);
    EXPECT_NE(lines[0].find("no answer for 3 s"), std::string::npos);
    EXPECT_EQ(lines[2], "waiting for the first reading ...");
}

TEST(Dashboard, PlainLineForPipes) {
    EXPECT_EQ(plainLine(sampleView(16)),
              "12:00:01 52.92 V -12.50 A -662 W SoC 67 % cells 3.290-3.315 V (25 mV) balancing MOS 31.0 °C Bulk "
              "CVL 55.20 V CCL 100.0 A (Max charge current) DCL 150.0 A (Max discharge current)");
    auto v = sampleView(16);
    v.snapshot->alarms.set(domain::Alarm::CellHighVoltage);
    v.limits.reset();
    EXPECT_NE(plainLine(v).find(" alarms cell_high_voltage"), std::string::npos);
}

TEST(ReadingView, TableAndJson) {
    auto s = test::sampleSnapshot16();
    s.identity.model = "JK_B2A24S15P";
    s.identity.variant = "NW";
    s.settings.cellOvpV = 3.65;
    s.settings.cellCount = 16;
    s.switches.chargeEnabled = true;
    s.switches.dischargeEnabled = false;
    s.alarms.set(domain::Alarm::LowSoc);
    const std::string table = readingTable(s, "NW on /dev/ttyUSB0");
    EXPECT_NE(table.find("BMS           JK_B2A24S15P (NW), NW on /dev/ttyUSB0\n"), std::string::npos) << table;
    EXPECT_NE(table.find("hardware 11.XW  software 11.261  serial 2041803028"), std::string::npos);
    EXPECT_NE(table.find("16 cells, min 3.300 V (#1), max 3.315 V (#16), delta 15 mV"), std::string::npos);
    EXPECT_NE(table.find("charge on (MOSFET on)   discharge off (MOSFET off)   balance on"), std::string::npos);
    EXPECT_NE(table.find("Alarms        low_soc\n"), std::string::npos);
    EXPECT_NE(table.find("cell over-voltage protection        3.650 V"), std::string::npos) << table;
    for (std::size_t p = 0, e; (e = table.find('\n', p)) != std::string::npos; p = e + 1)
        EXPECT_LE(displayWidth(std::string_view{table}.substr(p, e - p)), 80U);

    const Json j = readingJson(s, "NW on /dev/ttyUSB0");
    EXPECT_EQ(j.find("pack")->find("soc_percent")->asDouble(), 67);
    EXPECT_EQ(j.find("cells")->find("voltages_v")->size(), 16U);
    EXPECT_EQ(j.find("cells")->find("max_cell")->asInt(), 16);
    EXPECT_EQ(j.find("switches")->find("discharge")->asBool(), false);
    EXPECT_EQ(j.find("alarms")->at(0).asString(), "low_soc");
    EXPECT_EQ(j.find("settings")->find("cell_ovp_v")->asDouble(), 3.65);
    EXPECT_EQ(j.find("pack")->find("runtime_s")->kind(), Json::Kind::Null);
}

}  // namespace
}  // namespace jkbms::cli
