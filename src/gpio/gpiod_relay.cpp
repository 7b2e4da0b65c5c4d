#include "jkbms/gpio/gpiod_relay.hpp"

#include <gpiod.hpp>

#include <stdexcept>
#include <system_error>

namespace jkbms::gpio {

std::string lineName(const GpioLine& line) {
    if (!line.chip.empty()) return line.chip + " line " + std::to_string(line.offset);
    return "line '" + line.name + "'";
}

struct GpiodRelay::Impl {
    gpiod::chip chip;  // keeps the line's chip open
    gpiod::line line;
};

namespace {

// Ours, already saying which line; anything else from libgpiod (std::system_error is a
// runtime_error too) gets the line added.
struct RelayError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const GpioLine& line, const std::string& why) {
    throw RelayError("GPIO relay on " + lineName(line) + ": " + why);
}

}  // namespace

GpiodRelay::GpiodRelay(const GpioLine& config, const std::string& consumer)
    : impl_(std::make_unique<Impl>()), description_(lineName(config)) {
    if (config.chip.empty() && config.name.empty()) fail(config, "no chip and no line name configured");
    try {
        if (!config.chip.empty()) {
            if (config.offset < 0) fail(config, "no line offset configured");
            try {
                impl_->chip = gpiod::chip(config.chip, gpiod::chip::OPEN_LOOKUP);
            } catch (const std::system_error& e) {
                fail(config, "cannot open the GPIO chip (" + std::string{e.what()} + ")");
            }
            if (static_cast<unsigned>(config.offset) >= impl_->chip.num_lines())
                fail(config, "the chip has only " + std::to_string(impl_->chip.num_lines()) + " lines");
            impl_->line = impl_->chip.get_line(static_cast<unsigned>(config.offset));
        } else {
            impl_->line = gpiod::find_line(config.name);
            if (!impl_->line) fail(config, "no GPIO line has this name");
            impl_->chip = impl_->line.get_chip();
        }
        if (impl_->line.is_used())
            fail(config, "the line is in use" +
                             (impl_->line.consumer().empty() ? std::string{} : " by '" + impl_->line.consumer() + "'"));
        gpiod::line_request request;
        request.consumer = consumer;
        request.request_type = gpiod::line_request::DIRECTION_OUTPUT;
        if (config.activeLow) request.flags = gpiod::line_request::FLAG_ACTIVE_LOW;
        impl_->line.request(request, 0);  // contact open
    } catch (const RelayError&) {
        throw;
    } catch (const std::exception& e) {
        fail(config, e.what());
    }
}

GpiodRelay::~GpiodRelay() {
    try {
        if (impl_->line.is_requested()) {
            impl_->line.set_value(0);
            impl_->line.release();
        }
    } catch (const std::exception&) {
        // Shutting down: the kernel releases the line with the file descriptor anyway.
    }
}

void GpiodRelay::set(bool closed) {
    try {
        impl_->line.set_value(closed ? 1 : 0);
    } catch (const std::exception& e) {
        throw std::runtime_error("GPIO relay on " + description_ + ": " + e.what());
    }
}

}  // namespace jkbms::gpio
