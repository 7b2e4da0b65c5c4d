#include "jkbms/util/callback_guard.hpp"

namespace jkbms::util {
namespace {

std::optional<std::string>& slot() {
    static std::optional<std::string> failure;
    return failure;
}

}  // namespace

void noteCallbackFailure(std::string_view where, std::string_view what) {
    if (!slot()) slot() = std::string{where} + ": " + std::string{what};
}

std::optional<std::string> takeCallbackFailure() {
    auto failure = std::move(slot());
    slot().reset();
    return failure;
}

}  // namespace jkbms::util
