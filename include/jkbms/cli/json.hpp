#pragma once
// A small JSON value tree with ordered object keys: what `jkbms decode` prints, and what the
// vector tests compare field by field against the captures' `expected` blocks.

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace jkbms::cli {

class Json {
public:
    enum class Kind : std::uint8_t { Null, Bool, Int, Double, String, Array, Object };

    Json() = default;
    Json(std::nullptr_t) {}  // NOLINT(google-explicit-constructor)
    Json(bool b) : kind_(Kind::Bool), bool_(b) {}  // NOLINT
    template <class T>
        requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
    Json(T i) : kind_(Kind::Int), int_(static_cast<std::int64_t>(i)) {}  // NOLINT
    Json(double d) : kind_(Kind::Double), double_(d) {}  // NOLINT
    Json(std::string s) : kind_(Kind::String), string_(std::move(s)) {}  // NOLINT
    Json(std::string_view s) : Json(std::string{s}) {}  // NOLINT
    Json(const char* s) : Json(std::string{s}) {}  // NOLINT

    static Json array() {
        Json j;
        j.kind_ = Kind::Array;
        return j;
    }
    static Json object() {
        Json j;
        j.kind_ = Kind::Object;
        return j;
    }

    Kind kind() const { return kind_; }
    bool isNumber() const { return kind_ == Kind::Int || kind_ == Kind::Double; }
    bool asBool() const { return bool_; }
    double asDouble() const { return kind_ == Kind::Int ? static_cast<double>(int_) : double_; }
    std::int64_t asInt() const { return int_; }
    const std::string& asString() const { return string_; }

    // Arrays.
    Json& push(Json value);
    // Objects: set() replaces an existing key, keeping its position.
    Json& set(std::string_view key, Json value);
    const Json* find(std::string_view key) const;
    std::size_t size() const { return items_.size(); }
    const Json& at(std::size_t i) const { return items_[i]; }
    const std::string& keyAt(std::size_t i) const { return keys_[i]; }

    // Compact (indent < 0) or pretty JSON text. Non-finite numbers are written as null.
    std::string dump(int indent = -1) const;

private:
    void write(std::string& out, int indent, int depth) const;

    Kind kind_ = Kind::Null;
    bool bool_ = false;
    std::int64_t int_ = 0;
    double double_ = 0;
    std::string string_;
    std::vector<Json> items_;
    std::vector<std::string> keys_;  // objects: keys_[i] names items_[i]
};

// "0x" + lower-case hex of `value`, zero-padded to `digits`.
std::string hexString(std::uint64_t value, int digits);

}  // namespace jkbms::cli
