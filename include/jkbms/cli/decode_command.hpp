#pragma once
// `jkbms decode`: decode one frame given as hex (arguments or stdin) and print it as JSON.

#include <iosfwd>
#include <span>
#include <string_view>

namespace jkbms::cli {

// Exit codes: 0 decoded, 2 bad usage or bad input (one-line message on `err`).
int runDecode(std::span<const std::string_view> args, std::istream& in, std::ostream& out,
              std::ostream& err);

}  // namespace jkbms::cli
