#pragma once
// The display-port "button": a relay contact between K- and K+. One method, so the press
// policy can drive a GPIO line, a GX device's built-in relay or a test's fake alike.

namespace jkbms::power {

class Relay {
public:
    virtual ~Relay() = default;
    // Closes (true) or opens (false) the contact. Throws std::runtime_error with the reason
    // when the hardware refuses; the caller then treats the press as aborted.
    virtual void set(bool closed) = 0;
};

}  // namespace jkbms::power
