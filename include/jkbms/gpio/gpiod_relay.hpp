#pragma once
// GpiodRelay: the display-port relay on a GPIO line, through libgpiod 1.6's C++ API.
// The line is chosen by chip (name "gpiochip0", path "/dev/gpiochip0" or label) plus offset,
// or by its name alone ("relay_1"); it is requested as an output at construction, with the
// contact open, and released (open) on destruction. Every failure at construction throws
// std::runtime_error saying which line and why: the daemon refuses to start with a relay it
// cannot drive rather than finding out at the first wake attempt.

#include <memory>
#include <string>

#include "jkbms/power/relay.hpp"

namespace jkbms::gpio {

struct GpioLine {
    std::string chip{};    // name, path or label; empty: find the line by name on every chip
    int offset = -1;       // with chip
    std::string name{};    // without chip
    bool activeLow = false;
};

class GpiodRelay : public power::Relay {
public:
    explicit GpiodRelay(const GpioLine& line, const std::string& consumer = "dbus-jkbms");
    ~GpiodRelay() override;
    GpiodRelay(const GpiodRelay&) = delete;
    GpiodRelay& operator=(const GpiodRelay&) = delete;

    void set(bool closed) override;
    std::string describe() const override { return "GPIO " + description_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string description_;
};

// "gpiochip0 line 17", "line 'relay_1'" (for messages).
std::string lineName(const GpioLine& line);

}  // namespace jkbms::gpio
