#include "jkbms/codec/pb_modbus.hpp"

#include <algorithm>

#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/checksum.hpp"

namespace jkbms::codec::pb {
namespace {

using util::ByteView;
using util::DecodeError;
using util::makeError;

constexpr std::size_t kMaxPads = 2;          // 00 bytes some adapters put around the ACK
constexpr std::size_t kAckSize = 8;
constexpr std::uint8_t kExceptionBit = 0x80;
constexpr std::uint8_t kMaxModbusAddress = 247;

void appendCrc(std::vector<std::uint8_t>& f) {
    const std::uint16_t crc = crc16Modbus(f);
    f.push_back(static_cast<std::uint8_t>(crc & 0xFF));
    f.push_back(static_cast<std::uint8_t>(crc >> 8));
}

std::uint16_t be16(ByteView b, std::size_t off) {
    return static_cast<std::uint16_t>((b[off] << 8) | b[off + 1]);
}

bool crcOk(ByteView frame) {
    const std::size_t n = frame.size();
    const auto found = static_cast<std::uint16_t>(frame[n - 2] | (frame[n - 1] << 8));
    return crc16Modbus(frame.first(n - 2)) == found;
}

// The possible lengths of a Modbus frame starting with `addr fn b2 ...`, given the bytes
// seen so far (b2 and b6 carry byte counts). Shortest first; 0 = no further candidate.
std::array<std::size_t, 2> candidateLengths(ByteView b) {
    const std::uint8_t fn = b[1];
    if (fn & kExceptionBit) return {5, 0};
    if (fn == kFcReadHolding) {
        const std::size_t response = b.size() > 2 && b[2] % 2 == 0 ? 5U + b[2] : 0U;
        return {8, response == 8 ? 0 : response};
    }
    // FC16: the ACK, or a request whose byte count (b6) matches its quantity (b4 b5).
    std::size_t request = 0;
    if (b.size() > 6) {
        const std::size_t quantity = be16(b, 4);
        if (b[6] == quantity * 2 && b[6] > 0) request = 9U + b[6];
    }
    return {kAckSize, request};
}

bool plausibleModbusStart(ByteView b) {
    if (b.empty()) return false;
    if (b[0] > kMaxModbusAddress) return false;
    if (b.size() < 2) return true;
    const std::uint8_t fn = b[1] & static_cast<std::uint8_t>(~kExceptionBit);
    return fn == kFcReadHolding || fn == kFcWriteMultiple;
}

}  // namespace

std::array<std::uint8_t, 11> encodeTrigger(std::uint8_t address, Trigger trigger) {
    const auto r = static_cast<std::uint16_t>(trigger);
    std::array<std::uint8_t, 11> f = {address, kFcWriteMultiple, static_cast<std::uint8_t>(r >> 8),
                                      static_cast<std::uint8_t>(r & 0xFF), 0x00, 0x01, 0x02,
                                      0x00, 0x00, 0x00, 0x00};
    const std::uint16_t crc = crc16Modbus(ByteView{f}.first(9));
    f[9] = static_cast<std::uint8_t>(crc & 0xFF);
    f[10] = static_cast<std::uint8_t>(crc >> 8);
    return f;
}

std::array<std::uint8_t, 8> encodeReadHolding(std::uint8_t address, std::uint16_t reg,
                                              std::uint16_t quantity) {
    std::array<std::uint8_t, 8> f = {address,
                                     kFcReadHolding,
                                     static_cast<std::uint8_t>(reg >> 8),
                                     static_cast<std::uint8_t>(reg & 0xFF),
                                     static_cast<std::uint8_t>(quantity >> 8),
                                     static_cast<std::uint8_t>(quantity & 0xFF),
                                     0,
                                     0};
    const std::uint16_t crc = crc16Modbus(ByteView{f}.first(6));
    f[6] = static_cast<std::uint8_t>(crc & 0xFF);
    f[7] = static_cast<std::uint8_t>(crc >> 8);
    return f;
}

util::Result<std::vector<std::uint8_t>> encodeWriteRegisters(std::uint8_t address,
                                                             std::uint16_t reg, ByteView data) {
    if (data.empty() || data.size() % 2 != 0 || data.size() > 246)
        return makeError(DecodeError::OutOfRange, 6, 246, static_cast<std::uint32_t>(data.size()));
    const std::size_t quantity = data.size() / 2;
    std::vector<std::uint8_t> f = {address,
                                   kFcWriteMultiple,
                                   static_cast<std::uint8_t>(reg >> 8),
                                   static_cast<std::uint8_t>(reg & 0xFF),
                                   static_cast<std::uint8_t>(quantity >> 8),
                                   static_cast<std::uint8_t>(quantity & 0xFF),
                                   static_cast<std::uint8_t>(data.size())};
    f.insert(f.end(), data.begin(), data.end());
    appendCrc(f);
    return f;
}

std::vector<std::uint8_t> encodeWriteU32(std::uint8_t address, std::uint16_t reg,
                                         std::uint32_t value) {
    const std::array<std::uint8_t, 4> data = {
        static_cast<std::uint8_t>(value >> 24), static_cast<std::uint8_t>(value >> 16),
        static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
    return std::move(encodeWriteRegisters(address, reg, data).value());
}

std::optional<std::uint32_t> ModbusFrame::dataValue() const {
    if (data.empty() || data.size() > 4) return std::nullopt;
    std::uint32_t v = 0;
    for (std::uint8_t b : data) v = (v << 8) | b;
    return v;
}

bool ModbusFrame::isTrigger() const {
    return kind == ModbusKind::WriteRequest &&
           (reg == static_cast<std::uint16_t>(Trigger::About) ||
            reg == static_cast<std::uint16_t>(Trigger::Settings) ||
            reg == static_cast<std::uint16_t>(Trigger::CellInfo));
}

util::Result<ModbusFrame> decodeModbus(ByteView f) {
    if (f.size() < 5) return makeError(DecodeError::TooShort, f.size());
    if (!crcOk(f)) {
        const std::size_t n = f.size();
        return makeError(DecodeError::BadChecksum, n - 2, crc16Modbus(f.first(n - 2)),
                         static_cast<std::uint32_t>(f[n - 2] | (f[n - 1] << 8)));
    }
    ModbusFrame m;
    m.address = f[0];
    m.function = f[1];
    m.crc = static_cast<std::uint16_t>(f[f.size() - 2] | (f[f.size() - 1] << 8));
    auto badLength = [&f](std::size_t want) {
        return makeError(DecodeError::BadLength, 0, static_cast<std::uint32_t>(want),
                         static_cast<std::uint32_t>(f.size()));
    };
    if (m.function & kExceptionBit) {
        if (f.size() != 5) return badLength(5);
        m.kind = ModbusKind::Exception;
        m.exceptionCode = f[2];
        return m;
    }
    if (m.function == kFcReadHolding) {
        if (f.size() == 8) {
            m.kind = ModbusKind::ReadRequest;
            m.reg = be16(f, 2);
            m.quantity = be16(f, 4);
            return m;
        }
        if (f.size() != 5U + f[2]) return badLength(5U + f[2]);
        m.kind = ModbusKind::ReadResponse;
        m.byteCount = f[2];
        m.data = f.subspan(3, m.byteCount);
        return m;
    }
    if (m.function == kFcWriteMultiple) {
        if (f.size() < kAckSize) return badLength(kAckSize);
        m.reg = be16(f, 2);
        m.quantity = be16(f, 4);
        if (f.size() == kAckSize) {
            m.kind = ModbusKind::WriteAck;
            return m;
        }
        if (f.size() != 9U + f[6]) return badLength(9U + f[6]);
        m.kind = ModbusKind::WriteRequest;
        m.byteCount = f[6];
        m.data = f.subspan(7, m.byteCount);
        return m;
    }
    return makeError(DecodeError::UnknownType, 1, 0, m.function);
}

void BusFramer::reset() {
    buffer_.clear();
    lastTriggerAddress_.reset();
    missing_ = 0;
}

BusEvent BusFramer::scan(bool idle) {
    BusEvent ev;
    missing_ = 0;
    const ByteView all = buffer_.view();
    std::size_t p = 0;  // bytes before p are garbage
    auto emit = [&](BusEvent::Kind kind, std::size_t length) {
        buffer_.skip(p);
        buffer_.consume(length);
        ev.kind = kind;
        ev.skippedBytes = buffer_.takeSkipped();
        return ev;
    };
    while (p < all.size()) {
        const ByteView b = all.subspan(p);
        // A 55 AA EB 90 frame, or a prefix of its header at the end of the buffer.
        const std::size_t headerSeen = std::min<std::size_t>(b.size(), 4);
        if (std::equal(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(headerSeen),
                       ble::kFrameHeader.begin())) {
            if (b.size() < ble::kFrameSize) {
                if (!idle) {
                    if (headerSeen == 4) missing_ = ble::kFrameSize - b.size() + kAckSize;
                    break;  // NeedMore
                }
                ev.error = makeError(DecodeError::TooShort, b.size());
                return emit(BusEvent::Kind::Bad, 1);
            }
            if (auto h = ble::checkFrame(b); !h) {
                ev.error = h.error();
                return emit(BusEvent::Kind::Bad, 1);
            }
            // Look for the ACK after optional 00 pads.
            const ByteView rest = b.subspan(ble::kFrameSize);
            for (std::size_t k = 0; k <= kMaxPads && k + kAckSize <= rest.size(); ++k) {
                if (k > 0 && rest[k - 1] != 0x00) break;
                auto ack = decodeModbus(rest.subspan(k, kAckSize));
                if (ack && ack->kind == ModbusKind::WriteAck) {
                    ev.frame = b.first(ble::kFrameSize);
                    ev.address = ack->address;
                    ev.ack = *ack;
                    ev.ackFrame = rest.subspan(k, kAckSize);
                    ev.padBytes = k;
                    lastTriggerAddress_.reset();
                    return emit(BusEvent::Kind::JkFrame, ble::kFrameSize + k + kAckSize);
                }
            }
            if (rest.size() < kMaxPads + kAckSize && !idle) break;  // the ACK may still come
            ev.frame = b.first(ble::kFrameSize);
            ev.address = std::exchange(lastTriggerAddress_, std::nullopt);
            return emit(BusEvent::Kind::JkFrame, ble::kFrameSize);
        }
        if (plausibleModbusStart(b)) {
            if (b.size() < 2) {
                if (!idle) break;
                ++p;
                continue;
            }
            bool waiting = false;
            for (std::size_t len : candidateLengths(b)) {
                if (len == 0) continue;
                if (b.size() < len) {
                    waiting = true;
                    continue;
                }
                auto m = decodeModbus(b.first(len));
                if (!m) continue;
                ev.modbus = *m;
                ev.frame = b.first(len);
                if (m->isTrigger()) lastTriggerAddress_ = m->address;
                return emit(BusEvent::Kind::Modbus, len);
            }
            if (waiting && !idle) break;  // a candidate needs more bytes
        }
        ++p;  // garbage
    }
    // NeedMore: drop the garbage scanned so far, keep the undecided tail.
    buffer_.skip(p);
    return ev;
}

std::optional<std::uint16_t> switchRegister(ble::Switch which) {
    switch (which) {
        case ble::Switch::Charge: return reg::kChargeEnable;
        case ble::Switch::Discharge: return reg::kDischargeEnable;
        case ble::Switch::Balancer: return reg::kBalancerEnable;
        case ble::Switch::Heater: return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace jkbms::codec::pb
