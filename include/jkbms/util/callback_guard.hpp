#pragma once
// An exception must never vanish inside a callback that a library runs for us and whose
// exceptions it swallows: sdbus-c++ turns what a reply or signal handler throws into an sd-bus
// error, and sd-bus drops that without a word (a service whose name request was never sent,
// a daemon polling for ever with nothing logged). Such a callback runs its body through
// guarded(): what it throws is kept here, and the event loop that ran the callback
// (dbus::AsioSdbusLoop) takes it right after the event and reports it as fatal, so the daemon
// logs it and exits with its D-Bus exit code. One thread, so one slot: the first failure
// wins until it is taken.

#include <exception>
#include <optional>
#include <string>
#include <string_view>

namespace jkbms::util {

// Keeps "<where>: <what>" unless a failure is kept already.
void noteCallbackFailure(std::string_view where, std::string_view what);
// The failure kept since the last call, if any; clears it.
std::optional<std::string> takeCallbackFailure();

// Runs `body`; whatever it throws is kept (noteCallbackFailure) instead of escaping.
template <class Body>
void guarded(std::string_view where, Body&& body) noexcept {
    try {
        body();
    } catch (const std::exception& e) {
        noteCallbackFailure(where, e.what());
    } catch (...) {
        noteCallbackFailure(where, "an exception of unknown type");
    }
}

}  // namespace jkbms::util
