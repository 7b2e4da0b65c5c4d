#pragma once
// Result<T>: a decoded value or a named error. The pure layers (codec, domain, charge) never
// throw; every fallible function returns one of these.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace jkbms::util {

enum class DecodeError : std::uint8_t {
    TooShort,     // input ends before a field the format requires
    BadHeader,    // start bytes are not the protocol's magic
    BadLength,    // a length field disagrees with the frame or with the protocol's limits
    BadChecksum,  // checksum / CRC mismatch
    UnknownType,  // frame, command or function code this decoder does not handle
    OutOfRange,   // a field holds a value the protocol does not allow
    BadEndMark,   // NW end mark (0x68) or the zero bytes before the checksum are wrong
    BadHex,       // text input is not valid hexadecimal
};

// What went wrong and where. `offset` is the byte position in the input; for BadChecksum,
// `expected` is the value computed over the data and `actual` the one found in the frame.
struct Error {
    DecodeError code{};
    std::size_t offset = 0;
    std::uint32_t expected = 0;
    std::uint32_t actual = 0;

    friend bool operator==(const Error&, const Error&) = default;
};

std::string_view errorName(DecodeError code);
// One line for a person, e.g. "bad checksum: computed 0x54d1, frame has 0x54d2".
std::string describe(const Error& error);

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(error) {}         // NOLINT(google-explicit-constructor)

    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<T>(v_); }
    const T& value() const& { return std::get<T>(v_); }
    T&& value() && { return std::get<T>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const { return std::get<Error>(v_); }

private:
    std::variant<T, Error> v_;
};

inline Error makeError(DecodeError code, std::size_t offset = 0, std::uint32_t expected = 0,
                       std::uint32_t actual = 0) {
    return Error{code, offset, expected, actual};
}

}  // namespace jkbms::util
