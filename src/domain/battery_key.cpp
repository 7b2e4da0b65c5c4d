#include "jkbms/domain/battery_key.hpp"

#include <algorithm>

#include "jkbms/util/utf8.hpp"

namespace jkbms::domain {
namespace {

constexpr std::string_view kNwDefaultDeviceId = "Input Us";          // 0xB4 as shipped
constexpr std::string_view kNwDefaultMakerPrefix = "Input Userda";   // 0xBA as shipped, + model

bool isAlnum(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Nothing that tells boards apart: empty, or one character repeated ("0000", "____").
bool meaningless(std::string_view clean) {
    if (clean.empty()) return true;
    return std::all_of(clean.begin(), clean.end(), [&](char c) { return c == clean.front(); });
}

std::string uidOf(std::string_view kind, std::string_view text) {
    return pathElement("jkbms_" + std::string{kind} + std::string{text});
}

}  // namespace

std::string cleanField(std::string_view raw) {
    // Bytes first (control characters, NULs, DEL and 0xFF filler out), then UTF-8.
    std::string bytes;
    bytes.reserve(std::min(raw.size(), kMaxFieldBytes * 4));
    for (char c : raw) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F || u == 0xFF) continue;
        bytes.push_back(c);
        if (bytes.size() >= kMaxFieldBytes * 4) break;
    }
    std::string text = util::toValidUtf8(bytes);
    const auto first = text.find_first_not_of(' ');
    if (first == std::string::npos) return {};
    text = text.substr(first, text.find_last_not_of(' ') - first + 1);
    if (text.size() > kMaxFieldBytes) {
        // Cut on a character boundary: never in the middle of a UTF-8 sequence.
        std::size_t cut = kMaxFieldBytes;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
        text.resize(cut);
        while (!text.empty() && text.back() == ' ') text.pop_back();
    }
    return text;
}

std::string pathElement(std::string_view text, std::size_t maxBytes) {
    std::string out;
    out.reserve(std::min(text.size(), maxBytes));
    for (char c : text) {
        if (out.size() >= maxBytes) break;
        out.push_back(isAlnum(c) ? c : '_');
    }
    return out;
}

std::optional<BatteryKey> nwKey(std::string_view manufacturerId, std::string_view deviceId) {
    const std::string text = nwIdText(manufacturerId, deviceId);
    if (text.empty()) return std::nullopt;
    BatteryKey key;
    key.uid = uidOf("nw_", text);
    key.label = "id '" + text + "'";
    key.fromBms = true;
    return key;
}

std::string nwIdText(std::string_view manufacturerId, std::string_view deviceId) {
    std::string maker = cleanField(manufacturerId);
    std::string device = cleanField(deviceId);
    if (maker.starts_with(kNwDefaultMakerPrefix)) maker.clear();  // the model alone: every board of it
    if (device == kNwDefaultDeviceId) device.clear();
    if (meaningless(maker)) maker.clear();
    // The manufacturer id alone is no identity: boards leave the factory with the same one
    // (two different boards in the public captures both say "BT3072020120000200521001").
    // Only the device id, which nobody but the user sets, tells boards apart.
    if (meaningless(device)) return {};
    // An id of nothing but characters a path refuses ("????") tells nothing either.
    if (const std::string element = pathElement(device);
        std::all_of(element.begin(), element.end(), [](char c) { return c == '_'; }))
        return {};
    return maker.empty() ? device : maker + "_" + device;
}

std::optional<BatteryKey> serialKey(std::string_view serialNumber) {
    const std::string serial = cleanField(serialNumber);
    if (meaningless(serial)) return std::nullopt;
    const std::string element = pathElement(serial);
    if (std::all_of(element.begin(), element.end(), [](char c) { return c == '_'; })) return std::nullopt;
    BatteryKey key;
    key.uid = uidOf("", serial);
    key.label = "serial " + serial;
    key.fromBms = true;
    return key;
}

BatteryKey placeKey(std::string_view place, std::string why) {
    // Not cut: a place is ours (a tty path, a MAC), and the key must stay the one used before
    // issue 15 ("jkbms_" + the bus-name suffix), so the port-keyed settings are found again.
    BatteryKey key;
    key.uid = pathElement("jkbms_" + std::string{place}, std::string::npos);
    key.label = "port " + util::toValidUtf8(place);
    key.fromBms = false;
    key.why = std::move(why);
    return key;
}

}  // namespace jkbms::domain
