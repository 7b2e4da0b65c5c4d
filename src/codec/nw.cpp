#include "jkbms/codec/nw.hpp"

#include "jkbms/codec/ble.hpp"

#include <algorithm>
#include <cstring>

#include "jkbms/codec/checksum.hpp"

namespace jkbms::codec::nw {
namespace {

using util::ByteReader;
using util::ByteView;
using util::DecodeError;
using util::makeError;

constexpr std::uint8_t kStart0 = 0x4E;
constexpr std::uint8_t kStart1 = 0x57;
constexpr std::uint8_t kEndMark = 0x68;
constexpr std::size_t kPayloadOffset = 11;

// Section 1.4: value length and type of every data id. Length 0 = not defined.
struct IdRow {
    std::uint8_t length;
    ValueKind kind;
    bool writable;
};

constexpr std::array<IdRow, 256> makeIdTable() {
    std::array<IdRow, 256> t{};
    auto set = [&t](std::uint8_t i, std::uint8_t len, ValueKind kind, bool rw) {
        t[i] = IdRow{len, kind, rw};
    };
    using K = ValueKind;
    set(id::kMosTemperature, 2, K::Unsigned, false);
    set(id::kTemperature1, 2, K::Unsigned, false);
    set(id::kTemperature2, 2, K::Unsigned, false);
    set(id::kTotalVoltage, 2, K::Unsigned, false);
    set(id::kCurrent, 2, K::Unsigned, false);
    set(id::kSoc, 1, K::Unsigned, false);
    set(id::kTemperatureSensorCount, 1, K::Unsigned, false);
    set(id::kCycleCount, 2, K::Unsigned, false);
    set(id::kTotalCycleCapacity, 4, K::Unsigned, false);
    set(id::kCellCount, 2, K::Unsigned, false);
    set(id::kAlarms, 2, K::Unsigned, false);
    set(id::kStatus, 2, K::Unsigned, false);
    for (std::uint8_t i = id::kPackOvp; i <= id::kBalanceTriggerDelta; ++i)
        set(i, 2, K::Unsigned, true);
    set(id::kBalancerSwitch, 1, K::Unsigned, true);
    for (std::uint8_t i = id::kMosOtp; i <= id::kDischargeOtp; ++i) set(i, 2, K::Unsigned, true);
    for (std::uint8_t i = id::kChargeUtp; i <= id::kDischargeUtpRecovery; ++i)
        set(i, 2, K::Signed, true);
    set(id::kCellCountSetting, 1, K::Unsigned, true);
    set(id::kNominalCapacity, 4, K::Unsigned, true);
    set(id::kChargeSwitch, 1, K::Unsigned, true);
    set(id::kDischargeSwitch, 1, K::Unsigned, true);
    set(id::kCurrentCalibration, 2, K::Unsigned, true);
    set(id::kBoardAddress, 1, K::Unsigned, true);
    set(id::kBatteryType, 1, K::Unsigned, true);
    set(id::kSleepWait, 2, K::Unsigned, true);
    set(id::kLowCapacityAlarm, 1, K::Unsigned, true);
    set(id::kPassword, 10, K::Ascii, true);
    set(id::kDedicatedCharger, 1, K::Unsigned, true);
    set(id::kDeviceId, 8, K::Ascii, true);
    set(id::kManufactureDate, 4, K::Ascii, true);
    set(id::kRuntime, 4, K::Unsigned, true);
    set(id::kSoftwareVersion, 15, K::Ascii, false);
    set(id::kStartCurrentCalibration, 1, K::Unsigned, true);
    set(id::kActualCapacity, 4, K::Unsigned, true);
    set(id::kManufacturerId, 24, K::Ascii, true);
    set(id::kRestart, 1, K::Unsigned, true);
    set(id::kFactoryReset, 1, K::Unsigned, true);
    set(id::kGpsCutoff, 2, K::Unsigned, true);
    set(id::kGpsRecovery, 2, K::Unsigned, true);
    set(id::kProtocolVersion, 1, K::Unsigned, false);
    return t;
}

constexpr auto kIdTable = makeIdTable();

int textSlot(std::uint8_t dataId) {
    switch (dataId) {
        case id::kPassword: return 0;
        case id::kDeviceId: return 1;
        case id::kManufactureDate: return 2;
        case id::kSoftwareVersion: return 3;
        case id::kManufacturerId: return 4;
        default: return -1;
    }
}

// ASCII value: NUL-padded; keep printable characters only (others read '?'). Copied whole up
// to the first NUL, then mended in place (not a character at a time).
void asciiValue(ByteView v, std::string& out) {
    const auto* nul = static_cast<const std::uint8_t*>(std::memchr(v.data(), 0, v.size()));
    const std::size_t n = nul ? static_cast<std::size_t>(nul - v.data()) : v.size();
    out.assign(reinterpret_cast<const char*>(v.data()), n);
    for (char& c : out) {
        const auto u = static_cast<std::uint8_t>(c);
        if (u < 0x20 || u >= 0x7f) c = '?';
    }
}

// sum16 (checksum.hpp) of a frame, eight bytes at a time: the bytes of each 64-bit word are
// added pairwise into four 16-bit lanes (at most 2 x 255 per word, so lanes cannot overflow
// within kMaxFrameSize bytes), the lanes summed at the end. Any length; the same result.
std::uint16_t frameSum(ByteView bytes) {
    constexpr std::uint64_t kLowBytes = 0x00FF00FF00FF00FFULL;
    std::uint64_t lanes = 0;
    std::size_t i = 0;
    unsigned sum = 0;
    for (; i + 8 <= bytes.size(); i += 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, bytes.data() + i, 8);
        lanes += (w & kLowBytes) + ((w >> 8) & kLowBytes);
        if ((i & 1023) == 1016) {  // every 128 words: fold before a lane could overflow
            sum += static_cast<unsigned>((lanes & 0xFFFF) + ((lanes >> 16) & 0xFFFF) + ((lanes >> 32) & 0xFFFF) +
                                         (lanes >> 48));
            lanes = 0;
        }
    }
    sum += static_cast<unsigned>((lanes & 0xFFFF) + ((lanes >> 16) & 0xFFFF) + ((lanes >> 32) & 0xFFFF) + (lanes >> 48));
    for (; i < bytes.size(); ++i) sum += bytes[i];
    return static_cast<std::uint16_t>(sum);
}

}  // namespace

std::optional<IdInfo> idInfo(std::uint8_t dataId) {
    if (dataId == id::kCellVoltages) return IdInfo{0, ValueKind::Cells, false};
    const IdRow& row = kIdTable[dataId];
    if (row.length == 0) return std::nullopt;
    return IdInfo{row.length, row.kind, row.writable};
}

std::string_view alarmBitName(unsigned bit) {
    static constexpr std::array<std::string_view, 16> kNames = {
        "low_capacity",          "mos_overtemperature",     "charge_overvoltage",
        "discharge_undervoltage", "battery_overtemperature", "charge_overcurrent",
        "discharge_overcurrent", "cell_voltage_difference", "box_overtemperature",
        "battery_undertemperature", "cell_overvoltage",     "cell_undervoltage",
        "protection_309_a",      "protection_309_b",        "reserved_bit14",
        "reserved_bit15",
    };
    return bit < kNames.size() ? kNames[bit] : std::string_view{"unknown"};
}

util::Result<Envelope> parseFrame(ByteView frame) {
    ByteReader r(frame);
    if (frame.size() < kMinFrameSize) return makeError(DecodeError::TooShort, frame.size());
    if (frame[0] != kStart0 || frame[1] != kStart1)
        return makeError(DecodeError::BadHeader, 0, kStart0, frame[0]);
    Envelope env;
    env.lengthField = static_cast<std::uint16_t>((frame[2] << 8) | frame[3]);
    if (std::size_t{env.lengthField} + 2 != frame.size())
        return makeError(DecodeError::BadLength, 2, static_cast<std::uint32_t>(frame.size() - 2),
                         env.lengthField);
    const std::size_t end = frame.size() - 5;  // end mark position
    if (frame[end] != kEndMark) return makeError(DecodeError::BadEndMark, end, kEndMark, frame[end]);
    if (frame[end + 1] != 0 || frame[end + 2] != 0)
        return makeError(DecodeError::BadEndMark, end + 1, 0, frame[end + 1] | frame[end + 2]);
    const std::uint16_t computed = frameSum(frame.first(end + 1));
    const auto found = static_cast<std::uint16_t>((frame[end + 3] << 8) | frame[end + 4]);
    if (computed != found) return makeError(DecodeError::BadChecksum, end + 3, computed, found);

    r.skip(4);
    env.terminalId = r.u32be();
    env.command = r.u8();
    env.source = r.u8();
    env.transmissionType = r.u8();
    env.payload = r.bytes(end - 4 - kPayloadOffset);
    env.recordNumber = r.u32be();
    env.checksum = found;
    return env;
}

std::optional<std::int32_t> ReadAll::signedValue(std::uint8_t dataId) const {
    if (!has(dataId)) return std::nullopt;
    if (kIdTable[dataId].kind == ValueKind::Signed)
        return static_cast<std::int16_t>(static_cast<std::uint16_t>(raw[dataId]));
    return static_cast<std::int32_t>(raw[dataId]);
}

std::optional<std::string_view> ReadAll::textOf(std::uint8_t dataId) const {
    const int slot = textSlot(dataId);
    if (slot < 0 || !has(dataId)) return std::nullopt;
    return std::string_view{text[static_cast<std::size_t>(slot)]};
}

std::uint8_t ReadAll::protocolVersion() const {
    return static_cast<std::uint8_t>(value(id::kProtocolVersion).value_or(0));
}

std::optional<double> ReadAll::totalVoltageV() const {
    if (auto v = value(id::kTotalVoltage)) return *v / 100.0;
    return std::nullopt;
}

std::optional<double> ReadAll::currentA() const {
    if (auto v = value(id::kCurrent))
        return decodeCurrent(static_cast<std::uint16_t>(*v), protocolVersion());
    return std::nullopt;
}

std::optional<double> ReadAll::temperatureC(std::uint8_t dataId) const {
    if (auto v = value(dataId)) return decodeTemperature(static_cast<std::uint16_t>(*v));
    return std::nullopt;
}

double decodeCurrent(std::uint16_t raw, std::uint8_t protocolVersion) {
    if (protocolVersion == 1) {
        const double magnitude = (raw & 0x7FFF) / 100.0;
        if (magnitude == 0.0) return 0.0;  // never -0.0
        return (raw & 0x8000) ? magnitude : -magnitude;
    }
    return (10000 - static_cast<int>(raw)) / 100.0;
}

std::optional<double> decodeTemperature(std::uint16_t raw) {
    if (raw <= 100) return static_cast<double>(raw);
    if (raw <= 140) return -static_cast<double>(raw - 100);
    return std::nullopt;
}

util::Result<ReadAll> decodeReadAll(ByteView frame) {
    auto env = parseFrame(frame);
    if (!env) return env.error();
    if (env->command != static_cast<std::uint8_t>(Command::ReadAll) &&
        env->command != static_cast<std::uint8_t>(Command::ReadId))
        return makeError(DecodeError::UnknownType, 8, static_cast<std::uint8_t>(Command::ReadAll),
                         env->command);

    ReadAll out;
    out.command = env->command;
    out.source = env->source;
    out.transmissionType = env->transmissionType;
    out.lengthField = env->lengthField;
    out.checksum = env->checksum;

    // The walk reads the payload directly; the cell block, once per reply, with a ByteReader
    // from its start (`base`): its offsets are the payload's less `base`.
    const ByteView payload = env->payload;
    const std::size_t size = payload.size();
    const std::uint8_t* const bytes = payload.data();
    std::size_t pos = 0;
    while (pos < size) {
        const std::size_t idAt = kPayloadOffset + pos;
        const std::uint8_t dataId = bytes[pos++];
        if (dataId == id::kCellVoltages) {
            const std::size_t base = pos;
            ByteReader r(payload.subspan(base));
            auto truncated = [&r, base] {
                return makeError(DecodeError::TooShort, kPayloadOffset + base + r.error().offset);
            };
            const std::uint8_t len = r.u8();
            if (len % 3 != 0)
                return makeError(DecodeError::BadLength, idAt + 1, (len / 3U) * 3U, len);
            if (len / 3U > kMaxCells)
                return makeError(DecodeError::OutOfRange, idAt + 1, kMaxCells * 3, len);
            std::array<double, kMaxCells> cells{};
            std::bitset<kMaxCells> seen;
            for (unsigned i = 0; i < len / 3U; ++i) {
                const std::size_t at = kPayloadOffset + base + r.position();
                const std::uint8_t index = r.u8();
                const std::uint16_t mv = r.u16be();
                if (!r.ok()) return truncated();
                if (index == 0 || index > len / 3U || seen.test(index - 1U))
                    return makeError(DecodeError::OutOfRange, at, len / 3U, index);
                seen.set(index - 1U);
                cells[index - 1U] = mv / 1000.0;
            }
            out.cellVoltagesV.clear();
            for (unsigned i = 0; i < len / 3U; ++i) out.cellVoltagesV.push_back(cells[i]);
            out.present.set(dataId);
            pos = base + r.position();
            continue;
        }
        const IdRow& row = kIdTable[dataId];
        if (row.length == 0) {
            // Unknown id: its length is unknown too, so the walk cannot go on. Keep what we have.
            out.unknownId = dataId;
            break;
        }
        // A value cut short by the frame's end: TooShort at the payload's end.
        if (size - pos < row.length) return makeError(DecodeError::TooShort, kPayloadOffset + size);
        const std::uint8_t* const v = bytes + pos;
        pos += row.length;
        if (row.kind == ValueKind::Ascii) {
            asciiValue(ByteView{v, row.length}, out.text[static_cast<std::size_t>(textSlot(dataId))]);
        } else {
            std::uint32_t value = 0;  // big-endian
            switch (row.length) {
                case 1: value = v[0]; break;
                case 2: value = (std::uint32_t{v[0]} << 8) | v[1]; break;
                case 4:
                    value = (std::uint32_t{v[0]} << 24) | (std::uint32_t{v[1]} << 16) | (std::uint32_t{v[2]} << 8) | v[3];
                    break;
                default:
                    for (std::size_t k = 0; k < row.length; ++k) value = (value << 8) | v[k];
                    break;
            }
            out.raw[dataId] = value;
        }
        out.present.set(dataId);
    }
    return out;
}

std::string_view whyNotAReading(const ReadAll& reply) {
    if (reply.transmissionType == static_cast<std::uint8_t>(TransmissionType::Request))
        return "a request (our own, echoed by the adapter)";
    if (reply.present.none())
        return reply.unknownId ? "a frame whose first data id is unknown" : "a frame with an empty payload";
    if (reply.cellVoltagesV.empty() && !reply.has(id::kTotalVoltage)) return "a frame with no cells and no pack voltage";
    return {};
}

std::vector<std::uint8_t> encodeFrame(Command command, Source source, TransmissionType type,
                                      ByteView payload) {
    const std::size_t len = payload.size() + kMinFrameSize - 2;
    const std::array<std::uint8_t, kPayloadOffset> head = {
        kStart0, kStart1, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len & 0xFF),
        0, 0, 0, 0,  // terminal id
        static_cast<std::uint8_t>(command), static_cast<std::uint8_t>(source),
        static_cast<std::uint8_t>(type)};
    const auto sum = static_cast<std::uint16_t>(sum16(head) + sum16(payload) + kEndMark);
    const std::array<std::uint8_t, 9> tail = {
        0, 0, 0, 0,  // record number
        kEndMark, 0, 0, static_cast<std::uint8_t>(sum >> 8), static_cast<std::uint8_t>(sum & 0xFF)};
    // Sized once and filled with std::copy: GCC 12 warns falsely (-Warray-bounds,
    // -Wstringop-overflow) inside vector::insert at -O2/-O3.
    std::vector<std::uint8_t> f(head.size() + payload.size() + tail.size());
    const auto out = std::copy(head.begin(), head.end(), f.begin());
    std::copy(tail.begin(), tail.end(), std::copy(payload.begin(), payload.end(), out));
    return f;
}

std::vector<std::uint8_t> encodeReadAll(Source source) {
    const std::uint8_t payload[] = {0x00};
    return encodeFrame(Command::ReadAll, source, TransmissionType::Request, payload);
}

std::vector<std::uint8_t> encodeReadId(std::uint8_t dataId, Source source) {
    const std::uint8_t payload[] = {dataId};
    return encodeFrame(Command::ReadId, source, TransmissionType::Request, payload);
}

util::Result<std::vector<std::uint8_t>> encodeWrite(std::uint8_t dataId, std::uint32_t value,
                                                    Source source) {
    const IdRow& row = kIdTable[dataId];
    if (!row.writable || row.kind == ValueKind::Ascii || row.length > 4)
        return makeError(DecodeError::OutOfRange, 0, 0, dataId);
    if (row.length < 4 && value >= (std::uint32_t{1} << (8U * row.length)))
        return makeError(DecodeError::OutOfRange, 1, row.length, value);
    std::array<std::uint8_t, 5> payload{dataId};
    for (unsigned i = 0; i < row.length; ++i)
        payload[1 + i] = static_cast<std::uint8_t>(value >> (8U * (row.length - 1U - i)));
    return encodeFrame(Command::Write, source, TransmissionType::Write,
                       ByteView{payload.data(), std::size_t{1} + row.length});
}

std::vector<std::uint8_t> encodePassword(Source source) {
    const std::uint8_t payload[] = {0x00, 0x00};
    return encodeFrame(Command::Password, source, TransmissionType::Request, payload);
}

ReplyBuilder& ReplyBuilder::cells(std::span<const std::uint16_t> millivolts) {
    payload_.push_back(id::kCellVoltages);
    payload_.push_back(static_cast<std::uint8_t>(std::min<std::size_t>(millivolts.size(), kMaxCells) * 3));
    std::uint8_t index = 1;
    for (std::uint16_t mv : millivolts.first(std::min<std::size_t>(millivolts.size(), kMaxCells))) {
        payload_.push_back(index++);
        payload_.push_back(static_cast<std::uint8_t>(mv >> 8));
        payload_.push_back(static_cast<std::uint8_t>(mv & 0xFF));
    }
    return *this;
}

ReplyBuilder& ReplyBuilder::value(std::uint8_t dataId, std::uint32_t v) {
    const IdRow& row = kIdTable[dataId];
    payload_.push_back(dataId);
    for (unsigned i = 0; i < row.length; ++i)
        payload_.push_back(static_cast<std::uint8_t>(v >> (8U * (row.length - 1U - i))));
    return *this;
}

ReplyBuilder& ReplyBuilder::text(std::uint8_t dataId, std::string_view s) {
    const IdRow& row = kIdTable[dataId];
    payload_.push_back(dataId);
    for (unsigned i = 0; i < row.length; ++i)
        payload_.push_back(i < s.size() ? static_cast<std::uint8_t>(s[i]) : 0);
    return *this;
}

ReplyBuilder& ReplyBuilder::raw(std::initializer_list<std::uint8_t> bytes) {
    payload_.insert(payload_.end(), bytes.begin(), bytes.end());
    return *this;
}

std::vector<std::uint8_t> ReplyBuilder::frame() const {
    return encodeFrame(Command::ReadAll, Source::Bms, TransmissionType::Reply, payload_);
}

FramerEvent Framer::next() {
    FramerEvent ev;
    missing_ = 0;
    const ByteView all = buffer_.view();
    // Skip to the first possible header: 4E followed by 57 (or by nothing yet).
    std::size_t start = 0;
    while (start < all.size() &&
           !(all[start] == kStart0 && (start + 1 == all.size() || all[start + 1] == kStart1)))
        ++start;
    buffer_.skip(start);
    const ByteView avail = all.subspan(start);
    if (avail.size() < 4) return ev;  // NeedMore

    const std::size_t len = static_cast<std::size_t>((avail[2] << 8) | avail[3]);
    const std::size_t total = len + 2;
    auto bad = [&](util::Error error) {
        buffer_.consume(1);  // resync from the byte after this false start
        ev.status = FramerStatus::Bad;
        ev.error = error;
        ev.skippedBytes = buffer_.takeSkipped();
        return ev;
    };
    if (total < kMinFrameSize || total > kMaxFrameSize)
        return bad(makeError(DecodeError::BadLength, 2, kMaxFrameSize - 2,
                             static_cast<std::uint32_t>(len)));
    if (avail.size() < total) {
        // A false header (stray bytes such as `4E 57 01 00`) claims more than has come; when a
        // complete, valid frame starts after it, that frame is not held back by the claim.
        for (std::size_t i = 1; i + kMinFrameSize <= avail.size(); ++i) {
            if (avail[i] != kStart0 || avail[i + 1] != kStart1) continue;
            const std::size_t innerTotal = static_cast<std::size_t>((avail[i + 2] << 8) | avail[i + 3]) + 2;
            if (innerTotal < kMinFrameSize || innerTotal > kMaxFrameSize || i + innerTotal > avail.size()) continue;
            if (parseFrame(avail.subspan(i, innerTotal)))
                return bad(makeError(DecodeError::BadLength, 2, static_cast<std::uint32_t>(i - 2),
                                     static_cast<std::uint32_t>(len)));
        }
        missing_ = total - avail.size();
        return ev;  // NeedMore
    }

    const ByteView candidate = avail.first(total);
    if (auto env = parseFrame(candidate); !env) return bad(env.error());
    buffer_.consume(total);
    ev.status = FramerStatus::Frame;
    ev.frame = candidate;
    ev.skippedBytes = buffer_.takeSkipped();
    return ev;
}

std::optional<std::uint8_t> switchId(ble::Switch which) {
    switch (which) {
        case ble::Switch::Charge: return id::kChargeSwitch;
        case ble::Switch::Discharge: return id::kDischargeSwitch;
        case ble::Switch::Balancer: return id::kBalancerSwitch;
        case ble::Switch::Heater: return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace jkbms::codec::nw
