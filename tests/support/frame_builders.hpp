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

// 55 AA frames come from the codec's own encoder; tests want them as vectors.
class JkFrame : public codec::ble::FrameBuilder {
public:
    using FrameBuilder::FrameBuilder;
    std::vector<std::uint8_t> frame() const {
        const auto f = FrameBuilder::frame();
        return {f.begin(), f.end()};
    }
};

inline std::vector<std::uint8_t> concat(std::initializer_list<std::vector<std::uint8_t>> parts) {
    std::vector<std::uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace jkbms::test
