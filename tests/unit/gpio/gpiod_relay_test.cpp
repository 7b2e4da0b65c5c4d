// The libgpiod relay's start-up errors: each names the line and the reason. Then the relay
// on a real kernel GPIO: a gpio-sim chip made through configfs for the test (the kernel's
// GPIO simulator; its sysfs shows what the line drives). Skipped, with what to do, where the
// machine has no gpio-sim (no module, no configfs, or not root).

#include "jkbms/gpio/gpiod_relay.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace jkbms::gpio {
namespace {

std::string errorOf(const GpioLine& line) {
    try {
        GpiodRelay relay(line);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(GpiodRelay, MissingChipIsAClearError) {
    const std::string e = errorOf(GpioLine{.chip = "gpiochip-jkbms-none", .offset = 3});
    EXPECT_NE(e.find("GPIO relay on gpiochip-jkbms-none line 3: cannot open the GPIO chip"), std::string::npos) << e;
}

TEST(GpiodRelay, MissingLineNameIsAClearError) {
    EXPECT_EQ(errorOf(GpioLine{.name = "jkbms-no-such-line"}),
              "GPIO relay on line 'jkbms-no-such-line': no GPIO line has this name");
}

TEST(GpiodRelay, IncompleteConfigurationIsAClearError) {
    EXPECT_EQ(errorOf(GpioLine{}), "GPIO relay on line '': no chip and no line name configured");
    EXPECT_EQ(errorOf(GpioLine{.chip = "gpiochip0"}), "GPIO relay on gpiochip0 line -1: no line offset configured");
}

// One gpio-sim chip with 8 lines, line 3 named, for the length of a test.
class GpioSim {
public:
    static constexpr const char* kRoot = "/sys/kernel/config/gpio-sim";

    // Empty when the chip could be made, else why not.
    std::string make() {
        namespace fs = std::filesystem;
        std::error_code ec;
        if (!fs::is_directory(kRoot, ec))
            return "no gpio-sim on this machine (modprobe gpio-sim, with configfs mounted on /sys/kernel/config)";
        if (::geteuid() != 0) return "gpio-sim needs root to make a chip";
        device_ = fs::path(kRoot) / ("jkbms-" + std::to_string(::getpid()));
        if (!fs::create_directory(device_, ec) || !fs::create_directory(device_ / "bank0", ec) ||
            !fs::create_directory(device_ / "bank0" / "line3", ec))
            return "cannot make a gpio-sim chip: " + ec.message();
        lineName_ = "jkbms-relay-" + std::to_string(::getpid());
        label_ = "jkbms-sim-" + std::to_string(::getpid());
        if (!write(device_ / "bank0" / "num_lines", "8") || !write(device_ / "bank0" / "label", label_) ||
            !write(device_ / "bank0" / "line3" / "name", lineName_) || !write(device_ / "live", "1"))
            return "cannot bring the gpio-sim chip up";
        chip_ = read(device_ / "bank0" / "chip_name");
        const std::string dev = read(device_ / "dev_name");
        value_ = fs::path("/sys/devices/platform") / dev / chip_ / "sim_gpio3" / "value";
        return chip_.empty() || dev.empty() ? "the gpio-sim chip has no name" : "";
    }
    ~GpioSim() {
        if (device_.empty()) return;
        write(device_ / "live", "0");
        std::error_code ec;
        std::filesystem::remove(device_ / "bank0" / "line3", ec);
        std::filesystem::remove(device_ / "bank0", ec);
        std::filesystem::remove(device_, ec);
    }

    const std::string& chip() const { return chip_; }
    const std::string& label() const { return label_; }
    const std::string& lineName() const { return lineName_; }
    // What line 3 drives: "1" or "0".
    std::string value() const { return read(value_); }

private:
    static bool write(const std::filesystem::path& path, const std::string& text) {
        std::ofstream out(path);
        out << text;
        out.close();
        return static_cast<bool>(out);
    }
    static std::string read(const std::filesystem::path& path) {
        std::ifstream in(path);
        std::string text;
        std::getline(in, text);
        return text;
    }

    std::filesystem::path device_;
    std::filesystem::path value_;
    std::string chip_, label_, lineName_;
};

class GpiodRelaySim : public ::testing::Test {
protected:
    void SetUp() override {
        if (auto why = sim.make(); !why.empty()) GTEST_SKIP() << why;
    }
    GpioSim sim;
};

TEST_F(GpiodRelaySim, DrivesTheLine) {
    GpiodRelay relay(GpioLine{.chip = sim.chip(), .offset = 3});
    EXPECT_EQ(sim.value(), "0") << "requested with the contact open";
    relay.set(true);
    EXPECT_EQ(sim.value(), "1");
    relay.set(false);
    EXPECT_EQ(sim.value(), "0");
    EXPECT_EQ(relay.describe(), "GPIO " + sim.chip() + " line 3");
}

TEST_F(GpiodRelaySim, ActiveLowInvertsTheLine) {
    GpiodRelay relay(GpioLine{.chip = sim.chip(), .offset = 3, .activeLow = true});
    EXPECT_EQ(sim.value(), "1") << "open = high";
    relay.set(true);
    EXPECT_EQ(sim.value(), "0");
}

TEST_F(GpiodRelaySim, FoundByLineNameOrChipLabel) {
    {
        GpiodRelay byName(GpioLine{.name = sim.lineName()});
        byName.set(true);
        EXPECT_EQ(sim.value(), "1");
    }
    EXPECT_EQ(sim.value(), "0") << "released open";
    GpiodRelay byLabel(GpioLine{.chip = sim.label(), .offset = 3});
    byLabel.set(true);
    EXPECT_EQ(sim.value(), "1");
}

TEST_F(GpiodRelaySim, ABusyLineIsAClearError) {
    GpiodRelay first(GpioLine{.chip = sim.chip(), .offset = 3});
    const std::string e = errorOf(GpioLine{.chip = sim.chip(), .offset = 3});
    EXPECT_EQ(e, "GPIO relay on " + sim.chip() + " line 3: the line is in use by 'dbus-jkbms'");
    const std::string beyond = errorOf(GpioLine{.chip = sim.chip(), .offset = 8});
    EXPECT_EQ(beyond, "GPIO relay on " + sim.chip() + " line 8: the chip has only 8 lines");
}

TEST_F(GpiodRelaySim, ReleasedOnDestruction) {
    {
        GpiodRelay relay(GpioLine{.chip = sim.chip(), .offset = 3});
        relay.set(true);
    }
    EXPECT_EQ(sim.value(), "0");
    GpiodRelay again(GpioLine{.chip = sim.chip(), .offset = 3});  // not busy any more
    again.set(true);
    EXPECT_EQ(sim.value(), "1");
}

}  // namespace
}  // namespace jkbms::gpio
