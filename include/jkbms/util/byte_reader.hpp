#pragma once
// ByteReader: a bounds-checked view over untrusted bytes with a sticky error.
//
// Every read either succeeds or returns 0 and records the first failing offset; after the
// first failure every further read also returns 0, so a decoder can read a whole block of
// fields and check `ok()` once. Both cursor reads (`u8()`, `u16be()`, ...) and absolute reads
// (`u16leAt(off)`) are provided: the NW protocol is a stream of ids, the 0x55AA frames are
// fixed-offset tables.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "jkbms/util/result.hpp"

namespace jkbms::util {

using ByteView = std::span<const std::uint8_t>;

class ByteReader {
public:
    explicit ByteReader(ByteView data) : data_(data) {}

    bool ok() const { return !failed_; }
    // TooShort at the offset of the first read that did not fit.
    Error error() const { return makeError(DecodeError::TooShort, failOffset_); }
    std::size_t position() const { return pos_; }
    std::size_t size() const { return data_.size(); }
    std::size_t remaining() const { return pos_ <= data_.size() ? data_.size() - pos_ : 0; }
    bool atEnd() const { return remaining() == 0; }

    // Cursor reads.
    std::uint8_t u8() { return take<1>() ? data_[pos_ - 1] : 0; }
    std::uint16_t u16be() { return take<2>() ? be16(pos_ - 2) : 0; }
    std::uint32_t u32be() { return take<4>() ? be32(pos_ - 4) : 0; }
    std::int16_t i16be() { return static_cast<std::int16_t>(u16be()); }
    ByteView bytes(std::size_t n) {
        if (!need(pos_, n)) return {};
        pos_ += n;
        return data_.subspan(pos_ - n, n);
    }
    void skip(std::size_t n) { (void)bytes(n); }

    // Absolute reads; they do not move the cursor.
    std::uint8_t u8At(std::size_t off) { return need(off, 1) ? data_[off] : 0; }
    std::int8_t i8At(std::size_t off) { return static_cast<std::int8_t>(u8At(off)); }
    std::uint16_t u16leAt(std::size_t off) { return need(off, 2) ? le16(off) : 0; }
    std::int16_t i16leAt(std::size_t off) { return static_cast<std::int16_t>(u16leAt(off)); }
    std::uint32_t u32leAt(std::size_t off) { return need(off, 4) ? le32(off) : 0; }
    std::int32_t i32leAt(std::size_t off) { return static_cast<std::int32_t>(u32leAt(off)); }
    float f32leAt(std::size_t off) { return std::bit_cast<float>(u32leAt(off)); }
    ByteView bytesAt(std::size_t off, std::size_t n) {
        return need(off, n) ? data_.subspan(off, n) : ByteView{};
    }
    // ASCII field of `n` bytes, cut at the first NUL (bytes after it may be garbage).
    std::string asciiAt(std::size_t off, std::size_t n);

private:
    template <std::size_t N>
    bool take() {
        if (!need(pos_, N)) return false;
        pos_ += N;
        return true;
    }
    bool need(std::size_t off, std::size_t n) {
        if (!failed_ && off <= data_.size() && n <= data_.size() - off) return true;
        if (!failed_) {
            failed_ = true;
            failOffset_ = off < data_.size() ? data_.size() : off;
        }
        return false;
    }
    std::uint16_t be16(std::size_t o) const {
        return static_cast<std::uint16_t>((data_[o] << 8) | data_[o + 1]);
    }
    std::uint32_t be32(std::size_t o) const {
        return (std::uint32_t{data_[o]} << 24) | (std::uint32_t{data_[o + 1]} << 16) |
               (std::uint32_t{data_[o + 2]} << 8) | std::uint32_t{data_[o + 3]};
    }
    std::uint16_t le16(std::size_t o) const {
        return static_cast<std::uint16_t>(data_[o] | (data_[o + 1] << 8));
    }
    std::uint32_t le32(std::size_t o) const {
        return std::uint32_t{data_[o]} | (std::uint32_t{data_[o + 1]} << 8) |
               (std::uint32_t{data_[o + 2]} << 16) | (std::uint32_t{data_[o + 3]} << 24);
    }

    ByteView data_;
    std::size_t pos_ = 0;
    bool failed_ = false;
    std::size_t failOffset_ = 0;
};

}  // namespace jkbms::util
