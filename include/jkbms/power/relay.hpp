#pragma once
// The display-port "button": a relay contact between K- and K+. One method, so the press
// policy can drive a GPIO line, a GX device's built-in relay or a test's fake alike.

#include <functional>
#include <string>
#include <utility>

namespace jkbms::power {

class Relay {
public:
    using FailureHandler = std::function<void(const std::string& why)>;

    virtual ~Relay() = default;
    // Closes (true) or opens (false) the contact. Throws std::runtime_error with the reason
    // when the hardware refuses at once; a backend that learns of a refusal later (a D-Bus
    // reply) reports it through the failure handler. Either way the caller treats the press
    // as aborted.
    virtual void set(bool closed) = 0;
    // "gpiochip0 line 17", "GX relay 1": for log lines.
    virtual std::string describe() const = 0;

    void onFailure(FailureHandler handler) { onFailure_ = std::move(handler); }

protected:
    void failed(const std::string& why) {
        if (onFailure_) onFailure_(why);
    }

private:
    FailureHandler onFailure_;
};

}  // namespace jkbms::power
