// `jkbms decode` end to end: protocol detection, every decoder behind it, and JSON output.

#include <cstdint>

#include "jkbms/cli/frame_json.hpp"

using namespace jkbms;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const util::ByteView input{data, size};
    auto json = cli::decodeToJson(input, cli::DecodeOptions{});
    if (json) (void)json->dump(2);
    else (void)util::describe(json.error());
    return 0;
}
