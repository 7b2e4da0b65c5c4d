// The configuration loader on any text: it must never throw, abort or wrap (UBSan), and every
// error must name what is wrong. parseConfig is what loadConfig runs on the file's bytes.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "jkbms/config/config.hpp"

using namespace jkbms;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 64 * 1024) return 0;  // loadConfig caps files at 1 MiB; beyond 64 KiB only slows the search
    const std::string text(reinterpret_cast<const char*>(data), size);
    const config::LoadResult r = config::parseConfig(text, "fuzz.yaml");  // an exception aborts the fuzzer
    for (const auto& e : r.errors)
        if (e.message.empty() || e.line < 0) std::abort();
    if (r.ok()) {
        // What was accepted is within the documented ranges.
        const auto& c = r.config;
        if (c.poll.timeout >= c.poll.interval || c.poll.interval.count() <= 0) std::abort();
        if (c.comms.staleAfter.count() < 0 || c.comms.exitAfter.count() < 0) std::abort();
    }
    std::chrono::milliseconds ms{};
    if (config::parseDuration(text, ms) && ms.count() < 0) std::abort();
    return 0;
}
