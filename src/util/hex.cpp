#include "jkbms/util/hex.hpp"

namespace jkbms::util {
namespace {

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool isSeparator(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' || c == ',';
}

}  // namespace

Result<std::vector<std::uint8_t>> parseHex(std::string_view text) {
    std::vector<std::uint8_t> out;
    out.reserve(text.size() / 2);
    std::size_t i = 0;
    while (i < text.size() && isSeparator(text[i])) ++i;
    if (text.substr(i, 2) == "0x" || text.substr(i, 2) == "0X") i += 2;
    int high = -1;
    std::size_t highAt = 0;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (isSeparator(c)) {
            if (high >= 0) return makeError(DecodeError::BadHex, highAt, 1);
            continue;
        }
        const int v = hexValue(c);
        if (v < 0) return makeError(DecodeError::BadHex, i, 0, static_cast<unsigned char>(c));
        if (high < 0) {
            high = v;
            highAt = i;
        } else {
            out.push_back(static_cast<std::uint8_t>((high << 4) | v));
            high = -1;
        }
    }
    if (high >= 0) return makeError(DecodeError::BadHex, highAt, 1);
    return out;
}

std::string toHex(ByteView bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (std::uint8_t b : bytes) {
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 0x0f]);
    }
    return out;
}

}  // namespace jkbms::util
