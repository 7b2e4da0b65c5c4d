#pragma once
// Decoded frames as JSON objects, with the field names of the captured vectors' `expected`
// blocks (shared/vectors/*.yaml). Used by `jkbms decode` and by the vector tests.

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "jkbms/cli/json.hpp"
#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/nw.hpp"
#include "jkbms/codec/pb_modbus.hpp"
#include "jkbms/util/result.hpp"

namespace jkbms::cli {

enum class Protocol : std::uint8_t { Nw, Ble, Pb };

struct DecodeOptions {
    std::optional<Protocol> protocol;              // nullopt: detect
    std::optional<codec::ble::Variant> variant;    // nullopt: detect (55 AA frames)
};

std::string_view protocolName(Protocol protocol);  // "nw", "ble", "pb"

// One piece of a byte stream: a decoded frame, or bytes that belong to no frame.
struct StreamPart {
    std::size_t offset = 0;             // where it starts in the input
    std::size_t size = 0;               // its bytes (a JK-PB answer includes its ACK)
    std::optional<Json> frame;          // the frame as describe() gives it; nullopt: skipped
    std::optional<Protocol> protocol;   // a frame's protocol
    // Skipped bytes: the first place in them that started like a frame and failed, and why.
    std::optional<std::pair<Protocol, util::Error>> error;
};

struct StreamDecode {
    std::vector<StreamPart> parts;  // frames and skipped spans, in input order, covering it all
    std::optional<std::pair<Protocol, util::Error>> firstError;  // the first frame start that failed
    std::size_t frameCount() const;
    // A JSON array: per frame its object with "offset" first; per skipped span
    // {"offset", "skipped_bytes", "hex", "not_decoded" (when a frame start failed there)}.
    Json toJson(util::ByteView input) const;
};

// Every frame in `bytes`, in order, wherever it starts. Each frame is recognised by its own
// bytes, never by its position: NW (4E 57, its length and checksum), BLE commands (AA 55 90 EB),
// 55 AA EB 90 frames (their checksum), and with JK-PB Modbus frames (addresses 0-15, FC03 /
// FC16, CRC). A 55 AA frame is a JK-PB answer - the JK02_32S layout, as every JK-PB speaks on
// RS485 - when its FC16 ACK follows it (00 pads allowed) or a trigger came just before it;
// otherwise it is read by BLE rules (its variant detected from the frame). options.protocol
// limits the search to one protocol (pb: every 55 AA frame is a JK-PB answer);
// options.variant forces the layout of 55 AA frames. Bytes that start no valid frame are
// skipped, one at a time, and reported as parts. Pure; linear in the input.
StreamDecode decodeStream(util::ByteView bytes, const DecodeOptions& options);

// The protocol of the first frame in the bytes (else of the first frame start that failed);
// nullopt when there is none.
std::optional<Protocol> detectProtocol(util::ByteView bytes);

// The first frame in the bytes (see decodeStream), or the error of the first frame start that
// failed, or BadHeader.
util::Result<Json> decodeToJson(util::ByteView bytes, const DecodeOptions& options);

Json describe(const codec::nw::ReadAll& reply);
Json describeNwRequest(const codec::nw::Envelope& envelope);
Json describe(const codec::ble::CellInfo& info);
Json describe(const codec::ble::Settings& settings);
Json describe(const codec::ble::Jk04Settings& settings);
Json describe(const codec::ble::DeviceInfo& info);
Json describe(const codec::ble::Logbook& log);
Json describe(const codec::ble::DecodedCommand& command);
Json describe(const codec::pb::ModbusFrame& frame, util::ByteView raw);

}  // namespace jkbms::cli
