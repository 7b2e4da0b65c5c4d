#include "jkbms/cli/decode_command.hpp"

#include <iostream>
#include <string>

#include "jkbms/cli/frame_json.hpp"
#include "jkbms/util/hex.hpp"

namespace jkbms::cli {
namespace {

constexpr std::string_view kUsage =
    "usage: jkbms decode [--protocol nw|ble|pb] [--variant JK02_24S|JK02_32S|JK04] [--compact] [HEX...]\n"
    "\n"
    "Decodes the JK frames given as hex (arguments, or standard input when none; lines\n"
    "starting with # are skipped). One frame alone is printed as one JSON object; anything\n"
    "more (several frames, or bytes that are not part of a frame) as a JSON array with one\n"
    "element per frame and per skipped span, in input order, each with its \"offset\"; skipped\n"
    "bytes are also noted on stderr. Each frame is recognised by its own bytes, wherever it\n"
    "starts: NW 4E 57, BLE frames 55 AA EB 90 (commands AA 55 90 EB), Modbus frames (JK-PB);\n"
    "a 55 AA frame followed by an FC16 ACK or preceded by a trigger is a JK-PB answer\n"
    "(JK02_32S), otherwise its variant is detected from the frame. Exit code 2 and a\n"
    "one-line message when no frame decodes.\n"
    "\n"
    "examples:\n"
    "  jkbms decode 4e5700130000000006030000000000006800000129\n"
    "  jkbms decode --protocol pb 011016200001020000d6f1\n"
    "  xxd -p capture.bin | jkbms decode --protocol ble --variant JK02_24S\n"
    "  jkbms decode < tests/samples/nw_16s_lfp_charging.hex\n";

std::string_view protocolLabel(Protocol p) { return protocolName(p); }

}  // namespace

int runDecode(std::span<const std::string_view> args, std::istream& in, std::ostream& out,
              std::ostream& err) {
    DecodeOptions options;
    bool compact = false;
    std::string hex;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        auto value = [&]() -> std::optional<std::string_view> {
            if (i + 1 < args.size()) return args[++i];
            err << "jkbms decode: " << a << " needs a value\n";
            return std::nullopt;
        };
        if (a == "-h" || a == "--help") {
            out << kUsage;
            return 0;
        } else if (a == "--protocol" || a == "-p") {
            auto v = value();
            if (!v) return 2;
            if (*v == "nw") options.protocol = Protocol::Nw;
            else if (*v == "ble") options.protocol = Protocol::Ble;
            else if (*v == "pb") options.protocol = Protocol::Pb;
            else {
                err << "jkbms decode: unknown protocol '" << *v << "' (nw, ble or pb)\n";
                return 2;
            }
        } else if (a == "--variant") {
            auto v = value();
            if (!v) return 2;
            options.variant = codec::ble::parseVariant(*v);
            if (!options.variant) {
                err << "jkbms decode: unknown variant '" << *v << "' (JK02_24S, JK02_32S or JK04)\n";
                return 2;
            }
        } else if (a == "--compact") {
            compact = true;
        } else if (a.starts_with("-") && a.size() > 1) {
            err << "jkbms decode: unknown option '" << a << "' (see --help)\n";
            return 2;
        } else {
            hex.append(a);
            hex.push_back(' ');
        }
    }
    if (hex.empty()) {
        for (std::string line; std::getline(in, line);) {
            if (line.starts_with('#')) continue;  // comment lines in saved .hex files
            hex += line;
            hex.push_back(' ');
        }
    }

    auto bytes = util::parseHex(hex);
    if (!bytes) {
        err << "jkbms decode: " << util::describe(bytes.error()) << '\n';
        return 2;
    }
    if (bytes->empty()) {
        err << "jkbms decode: no input (give the frame as hex)\n";
        return 2;
    }
    const StreamDecode stream = decodeStream(*bytes, options);
    if (stream.frameCount() == 0) {
        if (!stream.firstError) {
            err << "jkbms decode: not a JK frame: starts with " << util::toHex(util::ByteView{*bytes}.first(std::min<std::size_t>(bytes->size(), 4)))
                << " (expected 4e57, 55aaeb90, aa5590eb or a Modbus frame)\n";
        } else {
            err << "jkbms decode: " << protocolLabel(stream.firstError->first) << ": "
                << util::describe(stream.firstError->second) << '\n';
        }
        return 2;
    }
    // One frame and nothing else: its object, as always. Anything more: the whole input as an
    // array, frames and skipped bytes in order, and a note per skipped span on stderr.
    if (stream.parts.size() == 1) {
        out << stream.parts[0].frame->dump(compact ? -1 : 2) << '\n';
        return 0;
    }
    for (const StreamPart& p : stream.parts) {
        if (p.frame) continue;
        err << "jkbms decode: skipped " << p.size << " byte" << (p.size == 1 ? "" : "s") << " at offset " << p.offset
            << " (" << util::toHex(util::ByteView{*bytes}.subspan(p.offset, std::min<std::size_t>(p.size, 16)))
            << (p.size > 16 ? "..." : "") << ")";
        if (p.error) err << ": " << protocolLabel(p.error->first) << ": " << util::describe(p.error->second);
        err << '\n';
    }
    out << stream.toJson(*bytes).dump(compact ? -1 : 2) << '\n';
    return 0;
}

}  // namespace jkbms::cli
