#include "jkbms/dbus/names.hpp"

#include <cctype>
#include <charconv>
#include <optional>

namespace jkbms::dbus {

std::string busNameElement(std::string_view raw) {
    std::string out;
    for (char c : raw) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(std::isalnum(u) || c == '_' || c == '-' ? c : '_');
    }
    if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "jk");
    return out;
}

std::string bleSuffix(std::string_view mac) {
    std::string out = "ble_";
    for (char c : mac)
        if (std::isxdigit(static_cast<unsigned char>(c)))
            out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return out;
}

std::string settingsUid(std::string_view raw) {
    std::string out;
    for (char c : raw) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    const std::size_t first = out.find_first_not_of('_');
    out.erase(0, first == std::string::npos ? out.size() : first);
    return out.empty() ? std::string{"jkbms"} : out;
}

std::optional<int> parseClassAndVrmInstance(std::string_view value) {
    const std::size_t colon = value.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    const std::string_view number = value.substr(colon + 1);
    int n = -1;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    if (ec != std::errc{} || ptr != number.data() + number.size() || n < 0) return std::nullopt;
    return n;
}

}  // namespace jkbms::dbus
