#pragma once
// StreamBuffer: the byte store behind the stream framers (NW, JK-PB bus). Received bytes are
// appended; the framer looks at view(), then consumes a frame or skips garbage. Consumed
// bytes are removed lazily, at the next push() or view() call, so a frame handed out as a view
// stays valid until the framer is called again. The store is bounded: past `limit` bytes the
// oldest are dropped and counted as skipped.

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "jkbms/util/byte_reader.hpp"

namespace jkbms::codec {

class StreamBuffer {
public:
    explicit StreamBuffer(std::size_t limit) : limit_(limit) {}

    void push(util::ByteView bytes);
    // Unconsumed bytes; valid until the next push() or view().
    util::ByteView view();
    void consume(std::size_t n) { consumed_ += n; }
    void skip(std::size_t n) {
        consumed_ += n;
        skipped_ += n;
    }
    // Garbage counted since the last call.
    std::size_t takeSkipped() { return std::exchange(skipped_, 0); }
    std::size_t size() const { return bytes_.size() - consumed_; }
    void clear();

private:
    void compact();

    std::vector<std::uint8_t> bytes_;
    std::size_t consumed_ = 0;
    std::size_t skipped_ = 0;
    std::size_t limit_;
};

}  // namespace jkbms::codec
