#include "jkbms/app/charge_state_file.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace jkbms::app {
namespace {

TEST(ChargeStateFile, RoundTrip) {
    charge::EngineState st;
    st.mode = charge::ChargeMode::Absorption;
    st.absorptionS = 312.5;
    st.absorptionTotalS = 400;
    st.sinceFullChargeS = 3600;
    st.sinceEqualizeS = 86400;
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
    const std::string text = formatChargeState(st, now);
    EXPECT_EQ(text, "mode=Absorption\nabsorption_s=312.5\nabsorption_total_s=400\nequalize_at=1799913600\nfull_charge_at=1799996400\n");
    auto back = parseChargeState(text, now + std::chrono::seconds(60));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->mode, charge::ChargeMode::Absorption);
    EXPECT_DOUBLE_EQ(back->absorptionS, 312.5);
    EXPECT_DOUBLE_EQ(back->sinceFullChargeS, 3660) << "counted on while we were down";
    EXPECT_DOUBLE_EQ(back->sinceEqualizeS, 86460);
    // The one-line form kept in localsettings reads the same.
    std::string oneLine = text;
    std::replace(oneLine.begin(), oneLine.end(), '\n', ';');
    auto fromSettings = parseChargeState(oneLine, now);
    ASSERT_TRUE(fromSettings);
    EXPECT_EQ(fromSettings->mode, charge::ChargeMode::Absorption);
    EXPECT_DOUBLE_EQ(fromSettings->absorptionTotalS, 400);
    EXPECT_FALSE(parseChargeState("garbage\n", now));
    EXPECT_FALSE(parseChargeState("mode=Float\nabsorption_s=x\n", now));
}

TEST(ChargeStateFile, SaveAndLoad) {
    const auto dir = std::filesystem::temp_directory_path() / ("jkbms-state-unit-" + std::to_string(::getpid()));
    const std::string path = (dir / "a" / "battery.state").string();
    charge::EngineState st;
    st.mode = charge::ChargeMode::Float;
    std::string error;
    const auto now = std::chrono::system_clock::now();
    ASSERT_TRUE(saveChargeState(path, formatChargeState(st, now), error)) << error;
    auto back = loadChargeState(path);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->mode, charge::ChargeMode::Float);
    EXPECT_FALSE(loadChargeState(path + ".missing"));
    EXPECT_FALSE(saveChargeState("/proc/no/such/dir/x.state", formatChargeState(st, now), error));
    EXPECT_FALSE(error.empty());
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace jkbms::app
