#include "jkbms/cli/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace jkbms::cli {
namespace {

void writeString(std::string& out, std::string_view s) {
    out.push_back('"');
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
}

void newline(std::string& out, int indent, int depth) {
    if (indent < 0) return;
    out.push_back('\n');
    out.append(static_cast<std::size_t>(indent * depth), ' ');
}

}  // namespace

Json& Json::push(Json value) {
    items_.push_back(std::move(value));
    return items_.back();
}

Json& Json::set(std::string_view key, Json value) {
    for (std::size_t i = 0; i < keys_.size(); ++i)
        if (keys_[i] == key) return items_[i] = std::move(value);
    keys_.emplace_back(key);
    items_.push_back(std::move(value));
    return items_.back();
}

const Json* Json::find(std::string_view key) const {
    for (std::size_t i = 0; i < keys_.size(); ++i)
        if (keys_[i] == key) return &items_[i];
    return nullptr;
}

std::string Json::dump(int indent) const {
    std::string out;
    write(out, indent, 0);
    return out;
}

void Json::write(std::string& out, int indent, int depth) const {
    switch (kind_) {
        case Kind::Null: out += "null"; break;
        case Kind::Bool: out += bool_ ? "true" : "false"; break;
        case Kind::Int: out += std::to_string(int_); break;
        case Kind::Double: {
            if (!std::isfinite(double_)) {
                out += "null";
                break;
            }
            char buf[32];
            auto res = std::to_chars(buf, buf + sizeof buf, double_);
            out.append(buf, res.ptr);
            break;
        }
        case Kind::String: writeString(out, string_); break;
        case Kind::Array:
        case Kind::Object: {
            const bool object = kind_ == Kind::Object;
            out.push_back(object ? '{' : '[');
            for (std::size_t i = 0; i < items_.size(); ++i) {
                if (i > 0) out.push_back(',');
                newline(out, indent, depth + 1);
                if (object) {
                    writeString(out, keys_[i]);
                    out += indent < 0 ? ":" : ": ";
                }
                items_[i].write(out, indent, depth + 1);
            }
            if (!items_.empty()) newline(out, indent, depth);
            out.push_back(object ? '}' : ']');
            break;
        }
    }
}

std::string hexString(std::uint64_t value, int digits) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(value));
    return buf;
}

}  // namespace jkbms::cli
