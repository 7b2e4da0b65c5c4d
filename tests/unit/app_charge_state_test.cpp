#include "jkbms/app/charge_state_file.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <vector>

namespace jkbms::app {
namespace {

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

std::string joined(const ChargeStateRead& r) {
    std::string out;
    for (const auto& p : r.problems) out += p + "\n";
    return out;
}

TEST(ChargeStateFile, RoundTrip) {
    charge::EngineState st;
    st.mode = charge::ChargeMode::Absorption;
    st.absorptionS = 312.5;
    st.absorptionTotalS = 400;
    st.sinceFullChargeS = 3600;
    st.sinceEqualizeS = 86400;
    const std::string text = formatChargeState(st, kNow);
    EXPECT_EQ(text, "mode=Absorption\nabsorption_s=312.5\nabsorption_total_s=400\nequalize_at=1799913600\nfull_charge_at=1799996400\n");
    auto back = parseChargeState(text, kNow + std::chrono::seconds(60));
    ASSERT_TRUE(back.state) << joined(back);
    EXPECT_TRUE(back.problems.empty());
    EXPECT_EQ(back.state->mode, charge::ChargeMode::Absorption);
    EXPECT_DOUBLE_EQ(back.state->absorptionS, 312.5);
    EXPECT_DOUBLE_EQ(back.state->sinceFullChargeS, 3660) << "counted on while we were down";
    EXPECT_DOUBLE_EQ(back.state->sinceEqualizeS, 86460);
    // The one-line form kept in localsettings reads the same.
    std::string oneLine = text;
    std::replace(oneLine.begin(), oneLine.end(), '\n', ';');
    auto fromSettings = parseChargeState(oneLine, kNow);
    ASSERT_TRUE(fromSettings.state) << joined(fromSettings);
    EXPECT_EQ(fromSettings.state->mode, charge::ChargeMode::Absorption);
    EXPECT_DOUBLE_EQ(fromSettings.state->absorptionTotalS, 400);
    // Not known: no line, and it reads back as not known.
    st.sinceFullChargeS = -1;
    auto unknown = parseChargeState(formatChargeState(st, kNow), kNow);
    ASSERT_TRUE(unknown.state);
    EXPECT_DOUBLE_EQ(unknown.state->sinceFullChargeS, -1);
}

// Issue 17: the /History figures are kept with the charge state; a bad history item spoils
// only the history, never the state.
TEST(ChargeStateFile, KeepsTheHistoryAndABadItemSpoilsOnlyIt) {
    charge::EngineState st;
    st.mode = charge::ChargeMode::Float;
    domain::HistoryFigures h;
    h.minCellVoltageV = 2.951;
    h.dischargedKWh = 812.25;
    h.deepestDischargeAh = -250;
    h.automaticSyncs = 31;
    const std::string text = formatChargeState(st, kNow, "jkbms_SIM1", std::nullopt, &h);
    EXPECT_NE(text.find("history_syncs=31\n"), std::string::npos) << text;
    auto back = parseChargeState(text, kNow);
    ASSERT_TRUE(back.state) << joined(back);
    ASSERT_TRUE(back.history) << joined(back);
    EXPECT_EQ(*back.history, h);
    EXPECT_TRUE(back.problems.empty()) << joined(back);
    // No history written (an older version): none read, no complaint.
    auto none = parseChargeState(formatChargeState(st, kNow, "jkbms_SIM1"), kNow);
    EXPECT_FALSE(none.history);
    EXPECT_TRUE(none.problems.empty());
    // A corrupt history item: the state is still used, the history starts afresh, said once.
    std::string corrupt = text;
    corrupt.replace(corrupt.find("history_syncs=31"), 16, "history_syncs=x1");
    auto spoiled = parseChargeState(corrupt, kNow);
    ASSERT_TRUE(spoiled.state) << joined(spoiled);
    EXPECT_EQ(spoiled.state->mode, charge::ChargeMode::Float);
    EXPECT_FALSE(spoiled.history);
    ASSERT_EQ(spoiled.problems.size(), 1U) << joined(spoiled);
    EXPECT_NE(spoiled.problems[0].find("history starts afresh"), std::string::npos) << joined(spoiled);
    // Nor a history item given twice, or not key=value: only the history is lost.
    for (const std::string extra : {"history_syncs=2\n", "history_syncs\n"}) {
        auto twice = parseChargeState(text + extra, kNow);
        ASSERT_TRUE(twice.state) << extra << joined(twice);
        EXPECT_FALSE(twice.history) << extra;
    }
    // A history key of a newer version: noted, the rest of the history kept.
    auto newer = parseChargeState(text + "history_future_kwh=3\n", kNow);
    ASSERT_TRUE(newer.history) << joined(newer);
    EXPECT_EQ(*newer.history, h);
    EXPECT_EQ(newer.problems.size(), 1U) << joined(newer);
}

// Issue 15: the state says whose it is; a key that is not a settings element spoils it.
TEST(ChargeStateFile, RecordsTheBatteryItBelongsTo) {
    charge::EngineState st;
    st.mode = charge::ChargeMode::Float;
    const std::string text = formatChargeState(st, kNow, "jkbms_nw_PackA");
    EXPECT_TRUE(text.ends_with("battery=jkbms_nw_PackA\n")) << text;
    auto back = parseChargeState(text, kNow);
    ASSERT_TRUE(back.state) << joined(back);
    EXPECT_TRUE(back.problems.empty()) << joined(back);
    EXPECT_EQ(back.battery, "jkbms_nw_PackA");
    EXPECT_EQ(parseChargeState("mode=Float", kNow).battery, "") << "an older state says nothing";
    for (const std::string& bad : std::vector<std::string>{"battery=", "battery=a/b", "battery=jkbms_\xC3\xA9",
                                                            "battery=" + std::string(256, 'x')}) {
        auto r = parseChargeState("mode=Float;" + bad, kNow);
        EXPECT_FALSE(r.state) << bad;
        EXPECT_EQ(r.battery, "") << bad;
        EXPECT_NE(joined(r).find("is not a battery key"), std::string::npos) << joined(r);
    }
}

// Issue 15 (H2/H4): a key may be the port or shared by two boards; the state records what the
// battery looked like, and is restored only into one that looks the same.
TEST(ChargeStateFile, RecordsAFingerprintAndRestoresOnlyIntoTheSameLookingBattery) {
    charge::EngineState st;
    st.mode = charge::ChargeMode::Float;
    const BatteryFingerprint pack{.cells = 16, .capacityAh = 280, .runtimeS = 1'000'000, .cycles = 40};
    const std::string text = formatChargeState(st, kNow, "jkbms_ttyUSB0_2", pack);
    EXPECT_TRUE(text.ends_with("battery=jkbms_ttyUSB0_2\ncells=16\ncapacity_ah=280\nruntime_s=1000000\ncycles=40\n"
                               "written_at=1800000000\n"))
        << text;
    using std::chrono::hours;
    const auto later = kNow + hours(5);
    const auto read = parseChargeState(text, later);
    ASSERT_TRUE(read.state) << joined(read);
    EXPECT_TRUE(read.problems.empty()) << joined(read);
    EXPECT_EQ(read.fingerprint, pack);
    EXPECT_EQ(read.writtenAt, 1'800'000'000);

    // The same pack 5 h later: its runtime ran at most 5 h, one more cycle.
    auto now = pack;
    now.runtimeS = *pack.runtimeS + 5 * 3600;
    now.cycles = 41;
    EXPECT_EQ(whyNotThisBattery(read, now, later, false), "");
    EXPECT_EQ(whyNotThisBattery(read, pack, later, false), "") << "powered off meanwhile: the counters stood still";

    auto other = now;
    other.cells = 15;
    EXPECT_NE(whyNotThisBattery(read, other, later, true), "") << "cell count";
    other = now;
    other.capacityAh = 230;
    EXPECT_NE(whyNotThisBattery(read, other, later, true), "") << "capacity";
    other = now;
    other.runtimeS = *pack.runtimeS - 60;
    EXPECT_NE(whyNotThisBattery(read, other, later, true), "") << "runtime went backwards";
    other = now;
    other.runtimeS = *pack.runtimeS + 5 * 3600 + kRuntimeMarginS + 60;
    EXPECT_NE(whyNotThisBattery(read, other, later, true), "") << "runtime ran ahead of the wall clock";
    other = now;
    other.cycles = 39;
    EXPECT_NE(whyNotThisBattery(read, other, later, true), "") << "cycles went backwards";
    other = now;
    other.cycles = 140;
    EXPECT_NE(whyNotThisBattery(read, other, later, true), "") << "100 cycles in 5 h";
    EXPECT_NE(whyNotThisBattery(read, now, kNow - hours(1), true), "") << "a clock before written_at proves nothing";

    // A fallback key needs the fingerprint known; a key from the BMS gets by with the cells.
    BatteryFingerprint bare;
    bare.cells = 16;
    const auto bareRead = parseChargeState(formatChargeState(st, kNow, "jkbms_ttyUSB0", bare), later);
    EXPECT_NE(whyNotThisBattery(bareRead, bare, later, false), "");
    EXPECT_EQ(whyNotThisBattery(bareRead, bare, later, true), "");
    auto noCounters = pack;
    noCounters.runtimeS.reset();
    noCounters.cycles.reset();
    const auto noCountersRead = parseChargeState(formatChargeState(st, kNow, "jkbms_ttyUSB0", noCounters), later);
    EXPECT_NE(whyNotThisBattery(noCountersRead, noCounters, later, false), "");

    // States written before the fingerprint still parse, and are not restored.
    const auto old = parseChargeState("mode=Float;battery=jkbms_ttyUSB0_2", later);
    ASSERT_TRUE(old.state) << joined(old);
    EXPECT_NE(whyNotThisBattery(old, now, later, true), "");
    // Bad fingerprint values spoil the state, as any bad value does.
    for (const std::string bad : {"cells=x", "capacity_ah=-1", "runtime_s=99999999999", "cycles=1.5", "written_at=-5"}) {
        auto r = parseChargeState("mode=Float;" + bad, later);
        EXPECT_FALSE(r.state) << bad;
        EXPECT_FALSE(r.problems.empty()) << bad;
    }
}

// Issue 14 item 5: every field validated, every problem said, nothing overflows.
TEST(ChargeStateFile, TimestampsBeyondTheClockRangeAreRefusedNotOverflowed) {
    // ~9.2e9 s is where a nanosecond system_clock overflows (UBSan aborted every start).
    for (const char* at : {"9300000000", "99999999999", "9223372036854775807", "99999999999999999999", "-5"}) {
        const auto r = parseChargeState(std::string{"mode=Float\nequalize_at="} + at + "\n", kNow);
        EXPECT_FALSE(r.state) << at;
        ASSERT_EQ(r.problems.size(), 1U) << at;
        EXPECT_NE(r.problems[0].find("equalize_at"), std::string::npos) << r.problems[0];
    }
    // A time in the future (the clock not set yet at boot) is "just now", never negative.
    const auto future = parseChargeState("mode=Float\nequalize_at=1900000000\nfull_charge_at=1900000000\n", kNow);
    ASSERT_TRUE(future.state) << joined(future);
    EXPECT_DOUBLE_EQ(future.state->sinceEqualizeS, 0);
    EXPECT_DOUBLE_EQ(future.state->sinceFullChargeS, 0);
}

TEST(ChargeStateFile, FormattingWildValuesStaysInRange) {
    charge::EngineState st;
    st.mode = charge::ChargeMode::Float;
    for (double wild : {1e300, -1e300, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
        st.absorptionS = st.absorptionTotalS = st.sinceEqualizeS = st.sinceFullChargeS = wild;
        const std::string text = formatChargeState(st, kNow);
        const auto back = parseChargeState(text, kNow);
        EXPECT_TRUE(back.state) << text << joined(back);
    }
    // A clock far beyond 2100 does not write a date that cannot be read back.
    const auto farFuture = std::chrono::system_clock::time_point(std::chrono::seconds(9'000'000'000));
    EXPECT_TRUE(parseChargeState(formatChargeState(st, farFuture), farFuture).state);
}

TEST(ChargeStateFile, CorruptCrlfAndEmptyStatesAreReported) {
    // CRLF (edited on Windows) and blanks: the same state.
    const auto crlf = parseChargeState("mode=Float\r\nabsorption_s = 12\r\n", kNow);
    ASSERT_TRUE(crlf.state) << joined(crlf);
    EXPECT_EQ(crlf.state->mode, charge::ChargeMode::Float);
    EXPECT_DOUBLE_EQ(crlf.state->absorptionS, 12);
    EXPECT_TRUE(crlf.problems.empty());

    struct Case {
        const char* text;
        const char* says;
    };
    for (const Case& c : {Case{"", "empty"}, Case{" \n\r\n", "empty"}, Case{"garbage\n", "not key=value"},
                          Case{"mode=Float\nabsorption_s=x\n", "absorption_s 'x' is not a number"},
                          Case{"mode=Float\nabsorption_s=nan\n", "not a number"},
                          Case{"mode=Float\nabsorption_s=1e400\n", "not a number"},
                          Case{"mode=Float\nabsorption_s=-1\n", "out of range"},
                          Case{"mode=Float\nabsorption_s=12abc\n", "not a number"},
                          Case{"mode=Sleeping\n", "not a charge mode"},
                          Case{"absorption_s=1\n", "no mode"},
                          Case{"mode=Float\nmode=Bulk\n", "'mode' is given twice"},
                          Case{"mode=Float\nequalize_at=1.5\n", "not a Unix time"}}) {
        const auto r = parseChargeState(c.text, kNow);
        EXPECT_FALSE(r.state) << c.text;
        EXPECT_NE(joined(r).find(c.says), std::string::npos) << c.text << " -> " << joined(r);
    }
    // A key from a newer version is noted but spoils nothing.
    const auto newer = parseChargeState("mode=Float\nsoc_drift=3\n", kNow);
    ASSERT_TRUE(newer.state);
    EXPECT_NE(joined(newer).find("unknown key 'soc_drift'"), std::string::npos);
    EXPECT_FALSE(parseChargeState(std::string(kMaxChargeStateBytes + 1, 'x'), kNow).state);
}

class ChargeStateFiles : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("jkbms-state-unit-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path dir_;
};

TEST_F(ChargeStateFiles, SaveAndLoad) {
    const std::string path = (dir_ / "a" / "battery.state").string();
    charge::EngineState st;
    st.mode = charge::ChargeMode::Float;
    std::string error;
    const auto now = std::chrono::system_clock::now();
    ASSERT_TRUE(saveChargeState(path, formatChargeState(st, now), error)) << error;
    auto back = loadChargeState(path, now);
    ASSERT_TRUE(back.state) << joined(back);
    EXPECT_EQ(back.state->mode, charge::ChargeMode::Float);
    const auto missing = loadChargeState(path + ".missing", now);
    EXPECT_FALSE(missing.state);
    EXPECT_TRUE(missing.problems.empty()) << "no file: a first start, nothing to say";
    const auto directory = loadChargeState(dir_.string(), now);
    EXPECT_FALSE(directory.state);
    EXPECT_NE(joined(directory).find("cannot be read"), std::string::npos) << joined(directory);
    EXPECT_FALSE(saveChargeState("/proc/no/such/dir/x.state", formatChargeState(st, now), error));
    EXPECT_FALSE(error.empty());
}

TEST_F(ChargeStateFiles, AnEmptyFileIsReported) {
    const std::string path = (dir_ / "empty.state").string();
    std::ofstream{path};
    const auto r = loadChargeState(path, kNow);
    EXPECT_FALSE(r.state);
    EXPECT_NE(joined(r).find("empty"), std::string::npos);
}

TEST_F(ChargeStateFiles, AFullDiskLeavesTheOldStateAndNoTmp) {
    const std::string path = (dir_ / "battery.state").string();
    std::string error;
    ASSERT_TRUE(saveChargeState(path, "mode=Absorption\n", error)) << error;
    // A file size limit makes write() fail like a full disk (EFBIG instead of ENOSPC).
    const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    rlimit small = old;
    small.rlim_cur = 4;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    const bool saved = saveChargeState(path, "mode=Float\nabsorption_s=0\n", error);
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, oldHandler);
    EXPECT_FALSE(saved);
    EXPECT_FALSE(error.empty());
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp")) << "a partial .tmp left behind";
    const auto kept = loadChargeState(path, kNow);
    ASSERT_TRUE(kept.state);
    EXPECT_EQ(kept.state->mode, charge::ChargeMode::Absorption);
}

}  // namespace
}  // namespace jkbms::app
