#include "jkbms/codec/stream_buffer.hpp"

namespace jkbms::codec {

void StreamBuffer::push(util::ByteView bytes) {
    compact();
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
    if (bytes_.size() > limit_) {
        // The caller is not draining the framer: keep the newest bytes.
        const std::size_t drop = bytes_.size() - limit_;
        skipped_ += drop;
        bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(drop));
    }
}

util::ByteView StreamBuffer::view() {
    compact();
    return bytes_;
}

void StreamBuffer::clear() {
    bytes_.clear();
    consumed_ = 0;
    skipped_ = 0;
}

void StreamBuffer::compact() {
    if (consumed_ == 0) return;
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
}

}  // namespace jkbms::codec
