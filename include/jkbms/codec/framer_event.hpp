#pragma once
// What an incremental framer hands back after being fed bytes, in the spirit of asio's
// request_parser (good / bad / indeterminate).

#include <cstddef>
#include <cstdint>

#include "jkbms/util/byte_reader.hpp"
#include "jkbms/util/result.hpp"

namespace jkbms::codec {

enum class FramerStatus : std::uint8_t {
    NeedMore,  // no complete frame yet; feed more bytes
    Frame,     // `frame` holds one complete, checksum-valid frame
    Bad,       // a frame candidate was rejected; `error` says why; the framer has resynced
};

struct FramerEvent {
    FramerStatus status = FramerStatus::NeedMore;
    util::ByteView frame;       // valid until the next call into the framer
    util::Error error;          // meaningful for Bad
    std::size_t skippedBytes = 0;  // garbage discarded before this frame or error
};

}  // namespace jkbms::codec
