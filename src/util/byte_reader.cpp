#include "jkbms/util/byte_reader.hpp"

namespace jkbms::util {

std::string ByteReader::asciiAt(std::size_t off, std::size_t n) {
    ByteView field = bytesAt(off, n);
    std::string out;
    for (std::uint8_t c : field) {
        if (c == 0) break;
        // Keep printable ASCII; anything else becomes '?', so a garbled field cannot inject
        // control characters into logs or JSON.
        out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
    }
    return out;
}

}  // namespace jkbms::util
