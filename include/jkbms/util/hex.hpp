#pragma once
// Hex text <-> bytes, for the CLI, logs and tests.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "jkbms/util/byte_reader.hpp"
#include "jkbms/util/result.hpp"

namespace jkbms::util {

// Accepts pairs of hex digits, optionally separated by white space, ':' or ','; an optional
// leading "0x". Errors: BadHex with the offset of the offending character (or, for an odd
// number of digits, the offset of the last digit).
Result<std::vector<std::uint8_t>> parseHex(std::string_view text);

// Lower-case, no separators.
std::string toHex(ByteView bytes);

}  // namespace jkbms::util
