#pragma once
// Test-side builders for BMS -> host frames, so the suite stands alone without the shared
// captures: an NW read-all reply from (id, value) pairs, and a 300-byte 55 AA frame with
// fields poked at offsets and the sum8 sealed at 299.

#include <bit>
#include <cstdint>
#include <string_view>
#include <vector>

#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/checksum.hpp"
#include "jkbms/codec/nw.hpp"

namespace jkbms::test {

// NW read-all replies come from the codec's own encoder.
using NwReply = codec::nw::ReplyBuilder;

class JkFrame {
public:
    JkFrame(codec::ble::FrameType type, std::uint8_t counter = 1) : bytes_(codec::ble::kFrameSize) {
        std::copy(codec::ble::kFrameHeader.begin(), codec::ble::kFrameHeader.end(), bytes_.begin());
        bytes_[4] = static_cast<std::uint8_t>(type);
        bytes_[5] = counter;
    }
    JkFrame& u8(std::size_t off, std::uint8_t v) {
        bytes_[off] = v;
        return *this;
    }
    JkFrame& u16(std::size_t off, std::uint16_t v) {
        bytes_[off] = static_cast<std::uint8_t>(v);
        bytes_[off + 1] = static_cast<std::uint8_t>(v >> 8);
        return *this;
    }
    JkFrame& i16(std::size_t off, std::int16_t v) { return u16(off, static_cast<std::uint16_t>(v)); }
    JkFrame& u32(std::size_t off, std::uint32_t v) {
        for (unsigned i = 0; i < 4; ++i) bytes_[off + i] = static_cast<std::uint8_t>(v >> (8U * i));
        return *this;
    }
    JkFrame& i32(std::size_t off, std::int32_t v) { return u32(off, static_cast<std::uint32_t>(v)); }
    JkFrame& f32(std::size_t off, float v) { return u32(off, std::bit_cast<std::uint32_t>(v)); }
    JkFrame& text(std::size_t off, std::string_view s) {
        for (std::size_t i = 0; i < s.size(); ++i) bytes_[off + i] = static_cast<std::uint8_t>(s[i]);
        return *this;
    }
    std::vector<std::uint8_t> frame() const {
        std::vector<std::uint8_t> out = bytes_;
        out[299] = codec::sum8(util::ByteView{out}.first(299));
        return out;
    }

private:
    std::vector<std::uint8_t> bytes_;
};

inline std::vector<std::uint8_t> concat(std::initializer_list<std::vector<std::uint8_t>> parts) {
    std::vector<std::uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace jkbms::test
