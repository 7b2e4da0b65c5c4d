#pragma once
// D-Bus strings must be valid UTF-8 (sd-bus refuses anything else with an exception). Text
// from the outside world - a port path, a BMS's ASCII fields - is made valid before it goes
// on the bus: each byte that does not start a well-formed sequence becomes U+FFFD.

#include <string>
#include <string_view>

namespace jkbms::util {

bool isValidUtf8(std::string_view s);
// `s` itself when valid, else with every invalid byte replaced by U+FFFD.
std::string toValidUtf8(std::string_view s);

}  // namespace jkbms::util
