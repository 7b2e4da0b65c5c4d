#pragma once
// The charge state that survives a restart (charge-control.md section 6): the mode, the
// absorption timers and the times of the last full charge and equalize, so a restart in
// Absorption does not start Bulk again. Kept in localsettings (one line, ';' between the
// fields) or, without localsettings, in one small text file per BMS. Written on each mode
// change, once a minute while a timer runs, hourly otherwise (not every poll: flash wear).
//
//   mode=Absorption
//   absorption_s=312.0
//   absorption_total_s=400.0
//   equalize_at=1795000000        (Unix time)
//   full_charge_at=1795170000     (Unix time; absent when not known)

#include <chrono>
#include <optional>
#include <string>

#include "jkbms/charge/charge_engine.hpp"

namespace jkbms::app {

std::string formatChargeState(const charge::EngineState& state, std::chrono::system_clock::time_point now);
// nullopt when the text is not a state written by formatChargeState.
std::optional<charge::EngineState> parseChargeState(const std::string& text, std::chrono::system_clock::time_point now);

// File I/O; false (and the reason in `error`) when it failed. The write goes through a
// temporary file and a rename, so a power cut leaves the old state or the new one.
bool saveChargeState(const std::string& path, const std::string& text, std::string& error);
std::optional<charge::EngineState> loadChargeState(const std::string& path);

}  // namespace jkbms::app
