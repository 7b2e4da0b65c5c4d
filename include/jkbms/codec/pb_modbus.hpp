#pragma once
// JK-PB inverter BMS on RS485: the Modbus-RTU envelope, the FC16 "trigger" protocol that makes
// a pack answer with a 300-byte 55 AA EB 90 frame (identical to BLE JK02_32S) plus an FC16
// ACK, and standard FC03 / FC16 register access. Spec: jk-protocols.md section 3.
//
//   FC16 trigger request (11 bytes): ADDR 10 RR RR 00 01 02 00 00 CRClo CRChi
//   FC16 ACK (8 bytes):              ADDR 10 RR RR QQ QQ CRClo CRChi
//   FC03 request (8 bytes):          ADDR 03 RR RR QQ QQ CRClo CRChi
//   FC03 response (5 + N bytes):     ADDR 03 N data[N] CRClo CRChi
//   exception (5 bytes):             ADDR (FC | 0x80) code CRClo CRChi
// Register numbers are JK's "block base + byte offset"; quantities count 16-bit words.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "jkbms/codec/framer_event.hpp"
#include "jkbms/codec/stream_buffer.hpp"
#include "jkbms/util/byte_reader.hpp"
#include "jkbms/util/result.hpp"

namespace jkbms::codec::ble {
enum class Switch : std::uint8_t;
}  // namespace jkbms::codec::ble

namespace jkbms::codec::pb {

constexpr std::uint8_t kMaxAddress = 15;  // DIP switches; 0 = bus master
constexpr std::uint8_t kFcReadHolding = 0x03;
constexpr std::uint8_t kFcWriteMultiple = 0x10;

enum class Trigger : std::uint16_t {
    About = 0x161C,     // answer: device-info frame (type 0x03)
    Settings = 0x161E,  // answer: settings frame (type 0x01)
    CellInfo = 0x1620,  // answer: cell-info frame (type 0x02)
};

namespace reg {
constexpr std::uint16_t kChargeEnable = 0x1070;
constexpr std::uint16_t kDischargeEnable = 0x1074;
constexpr std::uint16_t kBalancerEnable = 0x1078;
constexpr std::uint16_t kControlBitmask = 0x1114;
constexpr std::uint16_t kCellVoltages = 0x1200;
constexpr std::uint16_t kPackVoltage = 0x1290;
constexpr std::uint16_t kModel = 0x1400;
}  // namespace reg

// The register of a switch (0x1070 charge, 0x1074 discharge, 0x1078 balancer); nullopt: none.
std::optional<std::uint16_t> switchRegister(ble::Switch which);

std::array<std::uint8_t, 11> encodeTrigger(std::uint8_t address, Trigger trigger);
std::array<std::uint8_t, 8> encodeReadHolding(std::uint8_t address, std::uint16_t reg,
                                              std::uint16_t quantity);
// FC16 with `data` (an even number of bytes, at most 246). OutOfRange otherwise.
util::Result<std::vector<std::uint8_t>> encodeWriteRegisters(std::uint8_t address,
                                                             std::uint16_t reg,
                                                             util::ByteView data);
// FC16 of one u32, big-endian, two registers (the switch registers 0x1070 ... take this).
std::vector<std::uint8_t> encodeWriteU32(std::uint8_t address, std::uint16_t reg,
                                         std::uint32_t value);

enum class ModbusKind : std::uint8_t {
    ReadRequest,    // FC03 from a master
    ReadResponse,   // FC03 answer with data
    WriteRequest,   // FC16 from a master (triggers are these)
    WriteAck,       // FC16 answer
    Exception,      // function | 0x80
};

struct ModbusFrame {
    ModbusKind kind = ModbusKind::ReadRequest;
    std::uint8_t address = 0;
    std::uint8_t function = 0;
    std::uint16_t reg = 0;       // requests and ACK
    std::uint16_t quantity = 0;  // requests and ACK
    std::uint8_t byteCount = 0;  // FC03 response, FC16 request
    util::ByteView data;         // FC03 response data / FC16 request data (into the input)
    std::uint8_t exceptionCode = 0;
    std::uint16_t crc = 0;

    // The data as one big-endian integer, for data of 1 to 4 bytes.
    std::optional<std::uint32_t> dataValue() const;
    bool isTrigger() const;
};

// Decodes exactly one frame (its length decides between the forms that share a function
// code); checks the CRC.
util::Result<ModbusFrame> decodeModbus(util::ByteView frame);

// One event of the bus framer.
struct BusEvent {
    enum class Kind : std::uint8_t {
        NeedMore,  // feed more bytes (or call flush() when the line went idle)
        JkFrame,   // `frame` is a checksum-valid 300-byte 55 AA EB 90 frame
        Modbus,    // `modbus` is a CRC-valid Modbus frame (a request, an echo, a stray ACK)
        Bad,       // a 55 AA frame failed its checksum or was cut short; scanning resumed
    };
    Kind kind = Kind::NeedMore;
    util::ByteView frame;                // JkFrame: 300 bytes; Modbus: the whole frame
    std::optional<std::uint8_t> address; // JkFrame: from its ACK, else the preceding trigger
    std::optional<ModbusFrame> ack;      // JkFrame: the FC16 ACK that followed it
    util::ByteView ackFrame;             // JkFrame: the ACK's 8 bytes
    std::size_t padBytes = 0;            // JkFrame: 00 pads between frame and ACK
    ModbusFrame modbus;                  // Modbus
    util::Error error;                   // Bad
    std::size_t skippedBytes = 0;        // garbage dropped before this event
};

// Splits the byte stream of a JK-PB RS485 bus - our own or a BMS master's requests (and their
// echo), slave answers (300-byte frame + ACK with optional 00 pads), a master's broadcasts
// (frame + address-0 trailer) - into events tagged by pack address. No timers: the transport
// calls flush() when the line has been idle, which releases a frame still waiting for an ACK.
// All views in an event stay valid until the next call into the framer.
class BusFramer {
public:
    void push(util::ByteView bytes) { buffer_.push(bytes); }
    BusEvent next() { return scan(false); }
    BusEvent flush() { return scan(true); }
    void reset();
    std::size_t buffered() const { return buffer_.size(); }
    // After next() returned NeedMore: the bytes still to come of a 55 AA EB 90 frame that has
    // begun, and of the 8-byte ACK a polled pack sends after it (0: none begun). A hint for
    // the transport (SerialLink::expectMore); under a master no ACK follows, which costs one
    // more read, nothing else.
    std::size_t missing() const { return missing_; }

private:
    BusEvent scan(bool idle);
    std::size_t missing_ = 0;

    // Longer than the longest Modbus frame plus a JK frame and its ACK.
    StreamBuffer buffer_{2048};
    std::optional<std::uint8_t> lastTriggerAddress_;
};

}  // namespace jkbms::codec::pb
