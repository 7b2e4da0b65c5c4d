#pragma once
// JK "NW" protocol (0x4E 0x57) on the BMS's 4-pin UART-TTL / RS485 port, 115200 8N1.
// Spec: shared/spec/jk-protocols.md section 1.
//
// Frame (both directions), multi-byte fields big-endian:
//   off  size  field
//   0    2     start "NW" 4E 57
//   2    2     LEN = total length - 2
//   4    4     BMS terminal number (zeros)
//   8    1     command (Command)
//   9    1     frame source (Source)
//   10   1     transmission type (0 request, 1 reply, 2 write / active upload)
//   11   n     payload: request = id [+ value]; reply = sequence of (id, value) pairs
//   11+n 4     record number
//   15+n 1     end mark 0x68
//   16+n 4     00 00, then sum16 of bytes 0 .. 15+n
// Total length n + 20.

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jkbms/codec/framer_event.hpp"
#include "jkbms/codec/stream_buffer.hpp"
#include "jkbms/util/byte_reader.hpp"
#include "jkbms/util/fixed_vector.hpp"
#include "jkbms/util/result.hpp"

namespace jkbms::codec::ble {
enum class Switch : std::uint8_t;
}  // namespace jkbms::codec::ble

namespace jkbms::codec::nw {

enum class Command : std::uint8_t {
    Activate = 0x01,
    Write = 0x02,
    ReadId = 0x03,
    Password = 0x05,
    ReadAll = 0x06,
};

enum class Source : std::uint8_t { Bms = 0x00, Bluetooth = 0x01, Gps = 0x02, Pc = 0x03 };

enum class TransmissionType : std::uint8_t { Request = 0x00, Reply = 0x01, Write = 0x02 };

constexpr std::size_t kMinFrameSize = 20;  // empty payload
// A 32-cell read-all reply is ~350 bytes; anything much larger is not a JK frame.
constexpr std::size_t kMaxFrameSize = 512;
constexpr std::size_t kMaxCells = 32;

// Data ids of the read-all reply (section 1.4). Names follow the spec's "Meaning" column.
namespace id {
constexpr std::uint8_t kCellVoltages = 0x79;
constexpr std::uint8_t kMosTemperature = 0x80;
constexpr std::uint8_t kTemperature1 = 0x81;
constexpr std::uint8_t kTemperature2 = 0x82;
constexpr std::uint8_t kTotalVoltage = 0x83;
constexpr std::uint8_t kCurrent = 0x84;
constexpr std::uint8_t kSoc = 0x85;
constexpr std::uint8_t kTemperatureSensorCount = 0x86;
constexpr std::uint8_t kCycleCount = 0x87;
constexpr std::uint8_t kTotalCycleCapacity = 0x89;
constexpr std::uint8_t kCellCount = 0x8A;
constexpr std::uint8_t kAlarms = 0x8B;
constexpr std::uint8_t kStatus = 0x8C;
constexpr std::uint8_t kPackOvp = 0x8E;
constexpr std::uint8_t kPackUvp = 0x8F;
constexpr std::uint8_t kCellOvp = 0x90;
constexpr std::uint8_t kCellOvpRecovery = 0x91;
constexpr std::uint8_t kCellOvpDelay = 0x92;
constexpr std::uint8_t kCellUvp = 0x93;
constexpr std::uint8_t kCellUvpRecovery = 0x94;
constexpr std::uint8_t kCellUvpDelay = 0x95;
constexpr std::uint8_t kCellDeltaProtection = 0x96;
constexpr std::uint8_t kDischargeOcp = 0x97;
constexpr std::uint8_t kDischargeOcpDelay = 0x98;
constexpr std::uint8_t kChargeOcp = 0x99;
constexpr std::uint8_t kChargeOcpDelay = 0x9A;
constexpr std::uint8_t kBalanceStartVoltage = 0x9B;
constexpr std::uint8_t kBalanceTriggerDelta = 0x9C;
constexpr std::uint8_t kBalancerSwitch = 0x9D;
constexpr std::uint8_t kMosOtp = 0x9E;
constexpr std::uint8_t kMosOtpRecovery = 0x9F;
constexpr std::uint8_t kBoxOtp = 0xA0;
constexpr std::uint8_t kBoxOtpRecovery = 0xA1;
constexpr std::uint8_t kBatteryTempDelta = 0xA2;
constexpr std::uint8_t kChargeOtp = 0xA3;
constexpr std::uint8_t kDischargeOtp = 0xA4;
constexpr std::uint8_t kChargeUtp = 0xA5;
constexpr std::uint8_t kChargeUtpRecovery = 0xA6;
constexpr std::uint8_t kDischargeUtp = 0xA7;
constexpr std::uint8_t kDischargeUtpRecovery = 0xA8;
constexpr std::uint8_t kCellCountSetting = 0xA9;
constexpr std::uint8_t kNominalCapacity = 0xAA;
constexpr std::uint8_t kChargeSwitch = 0xAB;
constexpr std::uint8_t kDischargeSwitch = 0xAC;
constexpr std::uint8_t kCurrentCalibration = 0xAD;
constexpr std::uint8_t kBoardAddress = 0xAE;
constexpr std::uint8_t kBatteryType = 0xAF;
constexpr std::uint8_t kSleepWait = 0xB0;
constexpr std::uint8_t kLowCapacityAlarm = 0xB1;
constexpr std::uint8_t kPassword = 0xB2;
constexpr std::uint8_t kDedicatedCharger = 0xB3;
constexpr std::uint8_t kDeviceId = 0xB4;
constexpr std::uint8_t kManufactureDate = 0xB5;
constexpr std::uint8_t kRuntime = 0xB6;
constexpr std::uint8_t kSoftwareVersion = 0xB7;
constexpr std::uint8_t kStartCurrentCalibration = 0xB8;
constexpr std::uint8_t kActualCapacity = 0xB9;
constexpr std::uint8_t kManufacturerId = 0xBA;
constexpr std::uint8_t kRestart = 0xBB;
constexpr std::uint8_t kFactoryReset = 0xBC;
constexpr std::uint8_t kGpsCutoff = 0xBE;
constexpr std::uint8_t kGpsRecovery = 0xBF;
constexpr std::uint8_t kProtocolVersion = 0xC0;
}  // namespace id

enum class ValueKind : std::uint8_t { Unsigned, Signed, Ascii, Cells };

struct IdInfo {
    std::uint8_t length = 0;  // value bytes (for Cells: 0, the length byte follows the id)
    ValueKind kind = ValueKind::Unsigned;
    bool writable = false;
};

// nullopt for an id the spec does not define.
std::optional<IdInfo> idInfo(std::uint8_t dataId);

// Status word (0x8C) bits.
constexpr std::uint16_t kStatusChargeMos = 1U << 0;
constexpr std::uint16_t kStatusDischargeMos = 1U << 1;
constexpr std::uint16_t kStatusBalancerActive = 1U << 2;
constexpr std::uint16_t kStatusBit3 = 1U << 3;  // "battery online"; informational only

// snake_case name of a bit of the alarm word (0x8B), e.g. "cell_overvoltage".
std::string_view alarmBitName(unsigned bit);

// The validated envelope of one frame; `payload` points into the caller's buffer.
struct Envelope {
    std::uint16_t lengthField = 0;
    std::uint32_t terminalId = 0;
    std::uint8_t command = 0;
    std::uint8_t source = 0;
    std::uint8_t transmissionType = 0;
    util::ByteView payload;
    std::uint32_t recordNumber = 0;
    std::uint16_t checksum = 0;
};

// Checks start bytes, LEN against the size, end mark, zero bytes and sum16.
util::Result<Envelope> parseFrame(util::ByteView frame);

// The decoded read-all reply. Numeric ids are kept raw (wire value) with typed accessors
// that apply the spec's scaling; ids absent from the frame read as nullopt.
struct ReadAll {
    std::uint8_t command = 0;
    std::uint8_t source = 0;
    std::uint8_t transmissionType = 0;
    std::uint16_t lengthField = 0;
    std::uint16_t checksum = 0;

    util::FixedVector<double, kMaxCells> cellVoltagesV;  // in cell-index order
    std::bitset<256> present;
    std::array<std::uint32_t, 256> raw{};
    std::array<std::string, 5> text;  // ASCII ids, see textOf()
    // Set when the walk met an id the spec does not define; everything before it is decoded.
    std::optional<std::uint8_t> unknownId;

    bool has(std::uint8_t dataId) const { return present.test(dataId); }
    // A numeric id's value as sent (unscaled, unsigned); nullopt when the reply did not carry it.
    std::optional<std::uint32_t> value(std::uint8_t dataId) const {
        if (!has(dataId)) return std::nullopt;
        return raw[dataId];
    }
    // Sign-extended for the signed ids (0xA5-0xA8), the plain value otherwise.
    std::optional<std::int32_t> signedValue(std::uint8_t dataId) const;
    // ASCII ids: 0xB2 password, 0xB4 device id, 0xB5 date, 0xB7 software, 0xBA manufacturer.
    std::optional<std::string_view> textOf(std::uint8_t dataId) const;

    std::uint8_t protocolVersion() const;             // 0xC0, 0 when absent
    std::optional<double> totalVoltageV() const;      // 0x83, 10 mV
    std::optional<double> currentA() const;           // 0x84, + = charging (section 1.5)
    std::optional<double> temperatureC(std::uint8_t dataId) const;  // 0x80-0x82 (section 1.6)
};

// Decodes a complete, validated frame carrying data ids (read-all or read-one reply).
util::Result<ReadAll> decodeReadAll(util::ByteView frame);

// Whether a decoded frame is a BMS reading: "" when it is, else why not. Many RS485 adapters
// echo every byte sent, so our own read-all request comes back first (transmission type 0,
// payload `00`: an unknown first id); a frame with an empty payload or one whose walk stops
// at its first id carries nothing either. A reading has cell voltages or the pack voltage.
std::string_view whyNotAReading(const ReadAll& reply);

// Scales defined by the spec.
double decodeCurrent(std::uint16_t raw, std::uint8_t protocolVersion);
std::optional<double> decodeTemperature(std::uint16_t raw);  // nullopt above 140 (invalid)

// Request encoders.
std::vector<std::uint8_t> encodeFrame(Command command, Source source, TransmissionType type,
                                      util::ByteView payload);
std::vector<std::uint8_t> encodeReadAll(Source source = Source::Pc);
std::vector<std::uint8_t> encodeReadId(std::uint8_t dataId, Source source = Source::Pc);
// Writes `value` in the id's width (big-endian). Style: the JK PC tool (source PC, type 2).
// OutOfRange for an id that is not writable or a value that does not fit its width.
util::Result<std::vector<std::uint8_t>> encodeWrite(std::uint8_t dataId, std::uint32_t value,
                                                    Source source = Source::Pc);
std::vector<std::uint8_t> encodePassword(Source source = Source::Gps);
// The id of a switch (0xAB charge, 0xAC discharge, 0x9D balancer); nullopt: none (heater).
std::optional<std::uint8_t> switchId(ble::Switch which);

// Encoder of BMS -> host read-all replies (the simulator, tests): ids in the order added,
// each in the width the spec gives it.
class ReplyBuilder {
public:
    // Cell voltages in mV, indexed 1..n in order.
    ReplyBuilder& cells(std::span<const std::uint16_t> millivolts);
    ReplyBuilder& cells(std::initializer_list<std::uint16_t> millivolts) {
        return cells(std::span<const std::uint16_t>{millivolts.begin(), millivolts.size()});
    }
    // A numeric id; the value is cut to the id's width (signed ids: two's complement).
    ReplyBuilder& value(std::uint8_t dataId, std::uint32_t v);
    // An ASCII id, NUL-padded to its width (longer text is cut).
    ReplyBuilder& text(std::uint8_t dataId, std::string_view s);
    // Raw payload bytes (tests of malformed replies).
    ReplyBuilder& raw(std::initializer_list<std::uint8_t> bytes);
    std::vector<std::uint8_t> frame() const;

private:
    std::vector<std::uint8_t> payload_;
};

// Incremental framer: push() received bytes, then call next() until NeedMore. Garbage before
// a header is skipped and counted; a candidate with a bad length, end mark or checksum is
// reported as Bad and scanning resumes one byte after its start. A candidate still waiting
// for bytes is reported Bad at once when a complete valid frame starts inside it (stray
// bytes that look like a header never hold back the reply behind them).
class Framer {
public:
    void push(util::ByteView bytes) { buffer_.push(bytes); }
    FramerEvent next();
    void reset() {
        buffer_.clear();
        missing_ = 0;
    }
    std::size_t buffered() const { return buffer_.size(); }
    // After next() returned NeedMore: the bytes still to come before the frame that has begun
    // is complete, from its LEN field (0: no frame begun, or its LEN not seen yet). A hint for
    // the transport (SerialLink::expectMore), never a promise: the frame may still be bad.
    std::size_t missing() const { return missing_; }

private:
    StreamBuffer buffer_{4 * kMaxFrameSize};
    std::size_t missing_ = 0;
};

}  // namespace jkbms::codec::nw
