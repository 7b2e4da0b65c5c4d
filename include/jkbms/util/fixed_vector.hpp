#pragma once
// FixedVector<T, N>: a vector with inline storage and a hard capacity, so decoders never
// allocate for cell arrays. push_back past the capacity is refused (returns false).

#include <array>
#include <cstddef>
#include <span>

namespace jkbms::util {

template <class T, std::size_t N>
class FixedVector {
public:
    static constexpr std::size_t capacity() { return N; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    void clear() { size_ = 0; }
    bool push_back(const T& v) {
        if (size_ == N) return false;
        items_[size_++] = v;
        return true;
    }
    T& operator[](std::size_t i) { return items_[i]; }
    const T& operator[](std::size_t i) const { return items_[i]; }
    T* begin() { return items_.data(); }
    T* end() { return items_.data() + size_; }
    const T* begin() const { return items_.data(); }
    const T* end() const { return items_.data() + size_; }
    std::span<const T> view() const { return {items_.data(), size_}; }

    friend bool operator==(const FixedVector& a, const FixedVector& b) {
        if (a.size_ != b.size_) return false;
        for (std::size_t i = 0; i < a.size_; ++i)
            if (!(a.items_[i] == b.items_[i])) return false;
        return true;
    }

private:
    std::array<T, N> items_{};
    std::size_t size_ = 0;
};

}  // namespace jkbms::util
