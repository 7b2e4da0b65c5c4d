#include "jkbms/util/result.hpp"

#include <cstdio>

namespace jkbms::util {

std::string_view errorName(DecodeError code) {
    switch (code) {
        case DecodeError::TooShort: return "too short";
        case DecodeError::BadHeader: return "bad header";
        case DecodeError::BadLength: return "bad length";
        case DecodeError::BadChecksum: return "bad checksum";
        case DecodeError::UnknownType: return "unknown type";
        case DecodeError::OutOfRange: return "out of range";
        case DecodeError::BadEndMark: return "bad end mark";
        case DecodeError::BadHex: return "bad hex";
    }
    return "unknown error";
}

std::string describe(const Error& e) {
    char buf[160];
    switch (e.code) {
        case DecodeError::TooShort:
            std::snprintf(buf, sizeof buf, "truncated at byte %zu", e.offset);
            break;
        case DecodeError::BadChecksum:
            std::snprintf(buf, sizeof buf, "bad checksum: computed 0x%x, frame has 0x%x",
                          e.expected, e.actual);
            break;
        case DecodeError::BadLength:
            std::snprintf(buf, sizeof buf, "bad length at byte %zu: expected %u, got %u",
                          e.offset, e.expected, e.actual);
            break;
        case DecodeError::BadHex:
            std::snprintf(buf, sizeof buf, "bad hex at character %zu%s", e.offset,
                          e.expected == 1 ? " (odd number of hex digits)" : "");
            break;
        default:
            std::snprintf(buf, sizeof buf, "%.*s at byte %zu (value 0x%x)",
                          static_cast<int>(errorName(e.code).size()), errorName(e.code).data(),
                          e.offset, e.actual);
            break;
    }
    return buf;
}

}  // namespace jkbms::util
