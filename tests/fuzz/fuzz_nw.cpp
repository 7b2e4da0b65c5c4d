// NW: the framer fed in fuzzer-chosen chunks, and the read-all decoder on every frame it
// yields, on the raw input, and on the input "sealed" with a valid LEN and sum16 so that the
// fuzzer reaches the id walker instead of stopping at the checksum.

#include <cstdint>
#include <cstring>
#include <vector>

#include "jkbms/codec/checksum.hpp"
#include "jkbms/codec/nw.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"

using namespace jkbms;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const util::ByteView input{data, size};
    codec::nw::Framer framer;
    std::size_t pos = 0;
    while (pos < size) {
        const std::size_t chunk = 1 + data[pos] % 64;
        const std::size_t n = std::min(chunk, size - pos);
        framer.push(input.subspan(pos, n));
        pos += n;
        for (auto ev = framer.next(); ev.status != codec::FramerStatus::NeedMore; ev = framer.next()) {
            if (ev.status == codec::FramerStatus::Frame) {
                auto r = codec::nw::decodeReadAll(ev.frame);
                if (r) (void)domain::fromNw(*r);
            }
        }
    }
    (void)codec::nw::decodeReadAll(input);

    if (size >= 2 && size + 20 <= codec::nw::kMaxFrameSize) {
        // Wrap the input as a payload: a valid envelope around fuzzer-chosen ids.
        const auto frame = codec::nw::encodeFrame(codec::nw::Command::ReadAll, codec::nw::Source::Bms,
                                                  codec::nw::TransmissionType::Reply, input);
        auto r = codec::nw::decodeReadAll(frame);
        if (r) {
            auto s = domain::fromNw(*r);
            (void)s.cellStats();
        }
    }
    return 0;
}
