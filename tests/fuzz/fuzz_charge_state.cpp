// The charge state's text form (localsettings ChargeState and the state file): the parser on
// any text, and the round trip - whatever the engine's state holds (NaN, infinities, huge
// or negative times) and whatever the clock says, what formatChargeState writes must read
// back cleanly, without a problem.

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "jkbms/app/charge_state_file.hpp"

using namespace jkbms;

namespace {

std::chrono::system_clock::time_point clockAt(double unixS) {
    // A system_clock (nanoseconds) holds about +-292 years around 1970.
    return std::chrono::system_clock::time_point(std::chrono::seconds(static_cast<long long>(std::fmod(std::fabs(unixS), 9e9))));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const auto now = clockAt(in.ConsumeFloatingPoint<double>());
    charge::EngineState st;
    st.mode = static_cast<charge::ChargeMode>(in.ConsumeIntegralInRange<int>(0, 3));
    st.absorptionS = in.ConsumeFloatingPoint<double>();
    st.absorptionTotalS = in.ConsumeFloatingPoint<double>();
    st.sinceEqualizeS = in.ConsumeFloatingPoint<double>();
    st.sinceFullChargeS = in.ConsumeFloatingPoint<double>();
    const std::string text = in.ConsumeRemainingBytesAsString();

    // Any text: a state or a list of problems, never both empty-handed and silent.
    const auto parsed = app::parseChargeState(text, now);
    if (!parsed.state && parsed.problems.empty()) std::abort();
    if (parsed.state) {
        const auto& s = *parsed.state;
        for (double v : {s.absorptionS, s.absorptionTotalS, s.sinceEqualizeS})
            if (!std::isfinite(v) || v < 0) std::abort();
        if (!std::isfinite(s.sinceFullChargeS) || (s.sinceFullChargeS < 0 && s.sinceFullChargeS != -1)) std::abort();
        // What we read, we can write and read again.
        const auto again = app::parseChargeState(app::formatChargeState(s, now, parsed.battery), now);
        if (!again.state || !again.problems.empty() || again.state->mode != s.mode) std::abort();
        if (again.battery != parsed.battery) std::abort();  // whose it is survives a round trip
    }

    // Whatever the engine holds: written, it reads back without a problem.
    const std::string written = app::formatChargeState(st, now);
    const auto back = app::parseChargeState(written, now);
    if (!back.state || !back.problems.empty() || back.state->mode != st.mode) std::abort();
    return 0;
}
