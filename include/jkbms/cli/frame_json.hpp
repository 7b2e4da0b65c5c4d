#pragma once
// Decoded frames as JSON objects, with the field names of the captured vectors' `expected`
// blocks (shared/vectors/*.yaml). Used by `jkbms decode` and by the vector tests.

#include <optional>

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

// Which protocol the bytes look like: NW start, BLE command or frame, a 55 AA frame followed
// by a Modbus ACK (JK-PB), or a CRC-valid Modbus frame. nullopt when none fits.
std::optional<Protocol> detectProtocol(util::ByteView bytes);

// Decodes one frame (NW frame, BLE frame or command, or for JK-PB the first frame of a bus
// capture with its ACK, or one Modbus frame) into JSON.
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
