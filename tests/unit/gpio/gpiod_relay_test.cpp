// The libgpiod relay's start-up errors: each names the line and the reason. Checks on a
// real chip need a kernel GPIO (gpio-sim or gpio-mockup): skipped with a message where the
// machine has none. (Driving a gpio-sim line end to end is still to come.)

#include "jkbms/gpio/gpiod_relay.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

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

TEST(GpiodRelay, OffsetBeyondARealChip) {
    bool anyChip = false;
    if (std::filesystem::exists("/dev"))
        for (const auto& entry : std::filesystem::directory_iterator("/dev"))
            anyChip = anyChip || entry.path().filename().string().starts_with("gpiochip");
    if (!anyChip)
        GTEST_SKIP() << "no /dev/gpiochip* on this machine (no gpio-sim or gpio-mockup): "
                        "only the start-up errors are checked here";
    // A line that exists but is out of range of the first chip: still a clear error.
    const std::string e = errorOf(GpioLine{.chip = "gpiochip0", .offset = 100000});
    EXPECT_NE(e.find("the chip has only"), std::string::npos) << e;
}

}  // namespace
}  // namespace jkbms::gpio
