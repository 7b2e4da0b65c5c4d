#include "jkbms/cli/frame_json.hpp"

#include <algorithm>
#include <cmath>

#include "jkbms/codec/checksum.hpp"
#include "jkbms/util/hex.hpp"

namespace jkbms::cli {
namespace {

using codec::ble::Variant;
using util::ByteView;
using util::DecodeError;
using util::makeError;
namespace nw = codec::nw;
namespace ble = codec::ble;
namespace pb = codec::pb;

// Rounds to the nearest multiple of `step` (a power of ten), written so that the result is
// the double nearest to the decimal value (3.82, not 3.8200000000000003).
double rounded(double v, double step) {
    const double inverse = std::round(1.0 / step);
    return std::round(v * inverse) / inverse;
}
double r3(double v) { return rounded(v, 0.001); }

Json numberArray(std::span<const double> values, double step) {
    Json a = Json::array();
    for (double v : values) a.push(rounded(v, step));
    return a;
}

template <class NameFn>
Json alarmNames(std::uint32_t word, unsigned bits, NameFn name) {
    Json a = Json::array();
    for (unsigned b = 0; b < bits; ++b)
        if ((word >> b) & 1U) a.push(name(b));
    return a;
}

void cellMinMax(Json& o, std::span<const double> cells, double step) {
    if (cells.empty()) return;
    const auto [mn, mx] = std::minmax_element(cells.begin(), cells.end());
    o.set("cell_min", rounded(*mn, step));
    o.set("cell_max", rounded(*mx, step));
}

// NW read-all: every numeric id with its JSON name and scale (section 1.4).
struct NwField {
    std::uint8_t id;
    std::string_view name;
    double scale;  // 0 = boolean
};

constexpr NwField kNwSettings[] = {
    {nw::id::kPackOvp, "pack_ovp_v", 0.01},
    {nw::id::kPackUvp, "pack_uvp_v", 0.01},
    {nw::id::kCellOvp, "cell_ovp_v", 0.001},
    {nw::id::kCellOvpRecovery, "cell_ovpr_v", 0.001},
    {nw::id::kCellOvpDelay, "cell_ovp_delay_s", 1},
    {nw::id::kCellUvp, "cell_uvp_v", 0.001},
    {nw::id::kCellUvpRecovery, "cell_uvpr_v", 0.001},
    {nw::id::kCellUvpDelay, "cell_uvp_delay_s", 1},
    {nw::id::kCellDeltaProtection, "cell_delta_protection_v", 0.001},
    {nw::id::kDischargeOcp, "discharge_ocp_a", 1},
    {nw::id::kDischargeOcpDelay, "discharge_ocp_delay_s", 1},
    {nw::id::kChargeOcp, "charge_ocp_a", 1},
    {nw::id::kChargeOcpDelay, "charge_ocp_delay_s", 1},
    {nw::id::kBalanceStartVoltage, "balance_start_v", 0.001},
    {nw::id::kBalanceTriggerDelta, "balance_delta_v", 0.001},
    {nw::id::kBalancerSwitch, "balancer_switch", 0},
    {nw::id::kMosOtp, "mos_otp_c", 1},
    {nw::id::kMosOtpRecovery, "mos_otpr_c", 1},
    {nw::id::kBoxOtp, "box_otp_c", 1},
    {nw::id::kBoxOtpRecovery, "box_otpr_c", 1},
    {nw::id::kBatteryTempDelta, "battery_temp_delta_c", 1},
    {nw::id::kChargeOtp, "charge_otp_c", 1},
    {nw::id::kDischargeOtp, "discharge_otp_c", 1},
    {nw::id::kChargeUtp, "charge_utp_c", 1},
    {nw::id::kChargeUtpRecovery, "charge_utpr_c", 1},
    {nw::id::kDischargeUtp, "discharge_utp_c", 1},
    {nw::id::kDischargeUtpRecovery, "discharge_utpr_c", 1},
    {nw::id::kCellCountSetting, "cell_count_setting", 1},
    {nw::id::kNominalCapacity, "nominal_capacity_ah", 1},
    {nw::id::kChargeSwitch, "charge_switch", 0},
    {nw::id::kDischargeSwitch, "discharge_switch", 0},
    {nw::id::kCurrentCalibration, "current_calibration_a", 0.001},
    {nw::id::kBoardAddress, "board_address", 1},
    {nw::id::kBatteryType, "battery_type", 1},
    {nw::id::kSleepWait, "sleep_wait_s", 1},
    {nw::id::kLowCapacityAlarm, "low_capacity_alarm_pct", 1},
    {nw::id::kDedicatedCharger, "dedicated_charger_switch", 0},
};

Json nwValue(const nw::ReadAll& r, const NwField& f) {
    const bool isSigned = nw::idInfo(f.id)->kind == nw::ValueKind::Signed;
    const std::int64_t v = isSigned ? std::int64_t{*r.signedValue(f.id)} : std::int64_t{*r.value(f.id)};
    if (f.scale == 0) return Json(v != 0);
    if (f.scale == 1) return Json(v);
    return Json(r3(static_cast<double>(v) * f.scale));
}

Json describeFrameHeader(std::uint8_t type, std::uint8_t counter, std::optional<Variant> variant,
                         std::uint8_t checksum) {
    Json o = Json::object();
    o.set("frame_type", type);
    o.set("frame_counter", counter);
    if (variant) o.set("variant", ble::variantName(*variant));
    o.set("checksum", hexString(checksum, 2));
    o.set("checksum_ok", true);
    return o;
}

util::Result<Json> decodeNw(ByteView bytes) {
    auto env = nw::parseFrame(bytes);
    if (!env) return env.error();
    const bool dataReply = (env->command == static_cast<std::uint8_t>(nw::Command::ReadAll) ||
                            env->command == static_cast<std::uint8_t>(nw::Command::ReadId)) &&
                           env->transmissionType != static_cast<std::uint8_t>(nw::TransmissionType::Request);
    if (!dataReply) return describeNwRequest(*env);
    auto reply = nw::decodeReadAll(bytes);
    if (!reply) return reply.error();
    return describe(*reply);
}

util::Result<Json> decodeBleFrame(ByteView bytes, std::optional<Variant> variant) {
    auto header = ble::checkFrame(bytes);
    if (!header) return header.error();
    switch (static_cast<ble::FrameType>(header->type)) {
        case ble::FrameType::CellInfo: {
            auto ci = ble::decodeCellInfo(bytes, variant.value_or(ble::detectCellInfoVariant(bytes)));
            if (!ci) return ci.error();
            return describe(*ci);
        }
        case ble::FrameType::Settings: {
            const Variant v =
                variant.value_or(ble::detectSettingsVariant(bytes).value_or(Variant::Jk02_32S));
            if (v == Variant::Jk04) {
                auto st = ble::decodeJk04Settings(bytes);
                if (!st) return st.error();
                return describe(*st);
            }
            auto st = ble::decodeSettings(bytes, v);
            if (!st) return st.error();
            return describe(*st);
        }
        case ble::FrameType::DeviceInfo: {
            auto di = ble::decodeDeviceInfo(bytes);
            if (!di) return di.error();
            if (variant) di->variant = variant;
            return describe(*di);
        }
        case ble::FrameType::Logbook: {
            auto log = ble::decodeLogbook(bytes);
            if (!log) return log.error();
            return describe(*log);
        }
    }
    return makeError(DecodeError::UnknownType, 4, 0, header->type);
}

util::Result<Json> decodeBle(ByteView bytes, std::optional<Variant> variant) {
    if (bytes.size() >= 4 && std::equal(ble::kCommandHeader.begin(), ble::kCommandHeader.end(),
                                        bytes.begin())) {
        auto cmd = ble::decodeCommand(bytes);
        if (!cmd) return cmd.error();
        return describe(*cmd);
    }
    return decodeBleFrame(bytes, variant);
}

// A JK-PB answer: the 55 AA frame in the JK02_32S layout (every JK-PB on RS485), with the
// FC16 ACK that followed it, the pack's address, and the bytes skipped right before it.
Json describePbAnswer(const Json& frame, const std::optional<pb::ModbusFrame>& ack, ByteView ackBytes,
                      std::optional<std::uint8_t> address, std::size_t skippedBefore) {
    Json out = Json::object();
    if (ack) {
        Json a = Json::object();
        a.set("address", ack->address);
        a.set("function", ack->function);
        a.set("register", ack->reg);
        a.set("count", ack->quantity);
        a.set("crc_ok", true);
        a.set("hex", util::toHex(ackBytes));
        out.set("pb_ack", std::move(a));
    }
    if (address) out.set("address", *address);
    for (std::size_t i = 0; i < frame.size(); ++i) out.set(frame.keyAt(i), frame.at(i));
    out.set("leading_bytes_skipped", skippedBefore);
    return out;
}

constexpr std::uint8_t kNwStart[] = {0x4E, 0x57};
constexpr std::size_t kMaxAckPads = 8;  // 00 bytes some packs send between a frame and its ACK

bool startsWith(ByteView b, std::span<const std::uint8_t> magic) {
    return b.size() >= magic.size() && std::equal(magic.begin(), magic.end(), b.begin());
}

// A Modbus frame (JK-PB) at the start of `b`: the lengths its function code allows, each
// checked by its CRC. Only addresses 0-15 and the functions JK uses (03, 10 and their
// exceptions), so stray bytes rarely pass.
std::optional<std::pair<pb::ModbusFrame, std::size_t>> modbusAt(ByteView b) {
    if (b.size() < 5 || b[0] > pb::kMaxAddress) return std::nullopt;
    std::size_t lengths[2] = {0, 0};
    switch (b[1]) {
        case pb::kFcReadHolding: lengths[0] = 8; lengths[1] = 5U + b[2]; break;
        case pb::kFcWriteMultiple: lengths[0] = 8; lengths[1] = b.size() > 6 ? 9U + b[6] : 0; break;
        case pb::kFcReadHolding | 0x80:
        case pb::kFcWriteMultiple | 0x80: lengths[0] = 5; break;
        default: return std::nullopt;
    }
    for (std::size_t len : lengths)
        if (len >= 5 && len <= b.size())
            if (auto m = pb::decodeModbus(b.first(len))) return std::make_pair(*m, len);
    return std::nullopt;
}

// What starts at the beginning of `rest`: nullopt when no frame starts there; otherwise the
// frame's protocol, its size and its JSON, or why bytes that start like a frame did not decode.
struct Candidate {
    Protocol protocol = Protocol::Nw;
    std::size_t size = 0;
    util::Result<Json> json;
    std::optional<std::uint8_t> triggerAddress;  // a JK-PB trigger: the address it asked
};

std::optional<Candidate> frameAt(ByteView rest, const DecodeOptions& options,
                                 std::optional<std::uint8_t> afterTrigger, std::size_t skippedBefore) {
    auto allow = [&options](Protocol p) { return !options.protocol || *options.protocol == p; };
    if (allow(Protocol::Nw) && startsWith(rest, kNwStart)) {
        if (rest.size() < 4) return Candidate{Protocol::Nw, 0, decodeNw(rest), {}};
        const std::size_t total = ((std::size_t{rest[2]} << 8) | rest[3]) + 2;
        if (total > rest.size()) return Candidate{Protocol::Nw, 0, decodeNw(rest), {}};
        return Candidate{Protocol::Nw, total, decodeNw(rest.first(total)), {}};
    }
    if (allow(Protocol::Ble) && startsWith(rest, ble::kCommandHeader)) {
        const std::size_t size = std::min(rest.size(), ble::kCommandSize);
        return Candidate{Protocol::Ble, size, decodeBle(rest.first(size), options.variant), {}};
    }
    if ((allow(Protocol::Ble) || allow(Protocol::Pb)) && startsWith(rest, ble::kFrameHeader)) {
        const Protocol guess = allow(Protocol::Ble) ? Protocol::Ble : Protocol::Pb;
        if (rest.size() < ble::kFrameSize) return Candidate{guess, 0, decodeBleFrame(rest, options.variant), {}};
        const ByteView frame = rest.first(ble::kFrameSize);
        if (auto header = ble::checkFrame(frame); !header) return Candidate{guess, 0, header.error(), {}};
        // A JK-PB answer is told by what is around it, never by where it is: the FC16 ACK
        // after it (00 pads allowed), or the trigger just before it. Anything else is read by
        // the frame's own looks (BLE rules: variant detection).
        std::size_t pads = 0;
        while (pads < kMaxAckPads && ble::kFrameSize + pads < rest.size() && rest[ble::kFrameSize + pads] == 0) ++pads;
        std::optional<pb::ModbusFrame> ack;
        ByteView ackBytes;
        for (std::size_t p : {std::size_t{0}, pads}) {
            const ByteView after = rest.subspan(ble::kFrameSize + p);
            if (auto m = modbusAt(after); m && m->first.kind == pb::ModbusKind::WriteAck) {
                ack = m->first;
                ackBytes = after.first(m->second);
                pads = p;
                break;
            }
        }
        const bool pbAnswer = allow(Protocol::Pb) && (!allow(Protocol::Ble) || ack || afterTrigger);
        if (!pbAnswer) return Candidate{Protocol::Ble, ble::kFrameSize, decodeBleFrame(frame, options.variant), {}};
        auto json = decodeBleFrame(frame, options.variant.value_or(Variant::Jk02_32S));
        if (!json) return Candidate{Protocol::Pb, 0, json.error(), {}};
        const std::optional<std::uint8_t> address = ack ? std::optional<std::uint8_t>{ack->address} : afterTrigger;
        return Candidate{Protocol::Pb, ble::kFrameSize + (ack ? pads + ackBytes.size() : 0),
                         describePbAnswer(*json, ack, ackBytes, address, skippedBefore), {}};
    }
    if (allow(Protocol::Pb))
        if (auto m = modbusAt(rest)) {
            Candidate c{Protocol::Pb, m->second, describe(m->first, rest.first(m->second)), {}};
            if (m->first.isTrigger()) c.triggerAddress = m->first.address;
            return c;
        }
    return std::nullopt;
}

}  // namespace

std::string_view protocolName(Protocol p) {
    switch (p) {
        case Protocol::Nw: return "nw";
        case Protocol::Ble: return "ble";
        case Protocol::Pb: return "pb";
    }
    return "?";
}

std::size_t StreamDecode::frameCount() const {
    return static_cast<std::size_t>(
        std::count_if(parts.begin(), parts.end(), [](const StreamPart& p) { return p.frame.has_value(); }));
}

Json StreamDecode::toJson(ByteView input) const {
    Json out = Json::array();
    for (const StreamPart& p : parts) {
        Json o = Json::object();
        o.set("offset", p.offset);
        if (p.frame) {
            for (std::size_t i = 0; i < p.frame->size(); ++i) o.set(p.frame->keyAt(i), p.frame->at(i));
        } else {
            o.set("skipped_bytes", p.size);
            o.set("hex", util::toHex(input.subspan(p.offset, p.size)));
            if (p.error)
                o.set("not_decoded", std::string{protocolName(p.error->first)} + ": " + util::describe(p.error->second));
        }
        out.push(std::move(o));
    }
    return out;
}

StreamDecode decodeStream(ByteView bytes, const DecodeOptions& options) {
    StreamDecode out;
    std::size_t pos = 0, gapStart = 0;
    std::optional<std::pair<Protocol, util::Error>> gapError;
    std::optional<std::uint8_t> afterTrigger;
    auto closeGap = [&](std::size_t end) {
        if (end > gapStart) out.parts.push_back(StreamPart{gapStart, end - gapStart, std::nullopt, std::nullopt, gapError});
        gapError.reset();
    };
    while (pos < bytes.size()) {
        auto c = frameAt(bytes.subspan(pos), options, afterTrigger, pos - gapStart);
        if (!c || !c->json || c->size == 0) {
            if (c && !c->json) {
                if (!gapError) gapError = std::make_pair(c->protocol, c->json.error());
                if (!out.firstError) out.firstError = std::make_pair(c->protocol, c->json.error());
            }
            ++pos;  // no frame starts here: look again one byte on
            continue;
        }
        closeGap(pos);
        out.parts.push_back(StreamPart{pos, c->size, std::move(*c->json), c->protocol, std::nullopt});
        afterTrigger = c->triggerAddress;
        pos += c->size;
        gapStart = pos;
    }
    closeGap(bytes.size());
    return out;
}

std::optional<Protocol> detectProtocol(ByteView b) {
    const StreamDecode s = decodeStream(b, DecodeOptions{});
    for (const StreamPart& p : s.parts)
        if (p.frame) return p.protocol;
    if (s.firstError) return s.firstError->first;
    return std::nullopt;
}

util::Result<Json> decodeToJson(ByteView bytes, const DecodeOptions& options) {
    StreamDecode s = decodeStream(bytes, options);
    for (StreamPart& p : s.parts)
        if (p.frame) return std::move(*p.frame);
    if (s.firstError) return s.firstError->second;
    return makeError(DecodeError::BadHeader, 0, 0, bytes.empty() ? 0U : bytes[0]);
}

Json describe(const nw::ReadAll& r) {
    namespace id = nw::id;
    Json o = Json::object();
    Json check = Json::object();
    check.set("length_field", r.lengthField);
    check.set("checksum", hexString(r.checksum, 4));
    check.set("checksum_ok", true);
    o.set("frame_check", std::move(check));
    o.set("command", r.command);
    o.set("frame_source", r.source);
    o.set("transmission_type", r.transmissionType);
    o.set("protocol_version", r.protocolVersion());
    o.set("cell_count", r.cellVoltagesV.size());
    o.set("cell_voltages", numberArray(r.cellVoltagesV.view(), 0.001));
    if (auto v = r.value(id::kCellCount)) o.set("cell_count_field", *v);
    const auto voltage = r.totalVoltageV();
    const auto current = r.currentA();
    if (voltage) o.set("total_voltage", r3(*voltage));
    if (auto raw = r.value(id::kCurrent)) o.set("current_raw", *raw);
    if (current) o.set("current", r3(*current));
    if (voltage && current) o.set("power", r3(*voltage * *current));
    if (auto v = r.value(id::kSoc)) o.set("soc", *v);
    Json temps = Json::object();
    const std::pair<std::uint8_t, std::string_view> kTemps[] = {
        {id::kMosTemperature, "mos"}, {id::kTemperature1, "t1"}, {id::kTemperature2, "t2"}};
    for (auto [tid, name] : kTemps)
        if (r.has(tid)) {
            auto t = r.temperatureC(tid);
            temps.set(name, t ? Json(*t) : Json());
        }
    o.set("temperatures", std::move(temps));
    if (auto v = r.value(id::kTemperatureSensorCount)) o.set("temperature_sensor_count", *v);
    if (auto v = r.value(id::kCycleCount)) o.set("cycle_count", *v);
    if (auto v = r.value(id::kTotalCycleCapacity)) o.set("total_cycle_capacity_ah", *v);
    if (auto v = r.value(id::kAlarms)) {
        o.set("alarms_bitmask", *v);
        o.set("alarms", alarmNames(*v, 16, nw::alarmBitName));
    }
    if (auto v = r.value(id::kStatus)) {
        o.set("status_bitmask", *v);
        Json sw = Json::object();
        sw.set("charging_mos", (*v & nw::kStatusChargeMos) != 0);
        sw.set("discharging_mos", (*v & nw::kStatusDischargeMos) != 0);
        sw.set("balancer_active", (*v & nw::kStatusBalancerActive) != 0);
        sw.set("status_bit3", (*v & nw::kStatusBit3) != 0);
        o.set("switches", std::move(sw));
    }
    Json settings = Json::object();
    for (const NwField& f : kNwSettings)
        if (r.has(f.id)) settings.set(f.name, nwValue(r, f));
    o.set("settings", std::move(settings));

    Json info = Json::object();
    const std::pair<std::uint8_t, std::string_view> kTexts[] = {
        {id::kPassword, "password"},
        {id::kDeviceId, "device_id"},
        {id::kManufactureDate, "manufacture_date"},
        {id::kSoftwareVersion, "software_version"},
        {id::kManufacturerId, "manufacturer_id"}};
    for (auto [tid, name] : kTexts)
        if (auto t = r.textOf(tid)) info.set(name, *t);
    if (auto v = r.value(id::kRuntime)) info.set("runtime_minutes", *v);
    if (auto v = r.value(id::kStartCurrentCalibration)) info.set("start_current_calibration", *v);
    if (auto v = r.value(id::kActualCapacity)) info.set("actual_capacity_ah", *v);
    if (auto v = r.value(id::kProtocolVersion)) info.set("protocol_version", *v);
    o.set("info", std::move(info));
    if (r.unknownId) o.set("stopped_at_unknown_id", hexString(*r.unknownId, 2));
    return o;
}

Json describeNwRequest(const nw::Envelope& env) {
    Json o = Json::object();
    o.set("family", "nw");
    o.set("length_field", env.lengthField);
    o.set("length_ok", true);
    o.set("checksum_calc", env.checksum);
    o.set("checksum_frame", env.checksum);
    o.set("checksum_ok", true);
    o.set("command", env.command);
    o.set("frame_source", env.source);
    o.set("transmission_type", env.transmissionType);
    o.set("payload_hex", util::toHex(env.payload));
    if (!env.payload.empty()) {
        o.set("register", env.payload[0]);
        o.set("value_hex", util::toHex(env.payload.subspan(1)));
    }
    return o;
}

Json describe(const ble::CellInfo& ci) {
    Json o = describeFrameHeader(static_cast<std::uint8_t>(ble::FrameType::CellInfo), ci.counter,
                                 ci.variant, ci.checksum);
    const bool jk04 = !ci.jk02.has_value();
    const double cellStep = jk04 ? 0.0001 : 0.001;
    o.set("cell_count", ci.cellVoltagesV.size());
    if (ci.jk02) o.set("cell_enabled_mask", hexString(ci.jk02->cellEnabledMask, 8));
    o.set("cell_voltages", numberArray(ci.cellVoltagesV.view(), cellStep));
    o.set("cell_resistances_ohm", numberArray(ci.cellResistancesOhm.view(), cellStep));
    cellMinMax(o, ci.cellVoltagesV.view(), cellStep);
    o.set("cell_voltage_avg_field", rounded(ci.cellAverageFieldV, cellStep));
    o.set("cell_voltage_delta_field", rounded(ci.cellDeltaFieldV, cellStep));
    o.set("total_voltage", r3(ci.packVoltageV));
    o.set("balancing_action", ci.balancingAction);
    o.set("balancing", ci.balancingAction != 0);
    o.set("balance_current", r3(ci.balanceCurrentA));
    o.set("runtime_s", ci.runtimeS);
    if (!ci.jk02) return o;

    const ble::Jk02Status& st = *ci.jk02;
    o.set("cell_max_index0_field", st.maxCellIndexField);
    o.set("cell_min_index0_field", st.minCellIndexField);
    o.set("current", r3(st.currentA));
    o.set("power", r3(ci.packVoltageV * st.currentA));
    o.set("power_field_unsigned_w", r3(st.powerFieldW));
    o.set("soc", st.socPercent);
    o.set("soh", st.sohPercent);
    o.set("remaining_capacity_ah", r3(st.remainingCapacityAh));
    o.set("nominal_capacity_ah", r3(st.fullCapacityAh));
    o.set("cycle_count", st.cycleCount);
    o.set("cycle_capacity_ah", r3(st.cycleCapacityAh));
    Json temps = Json::object();
    temps.set("mos", st.mosTemperatureC);
    temps.set("t1", st.temperature1C);
    temps.set("t2", st.temperature2C);
    const bool is32 = ci.variant == Variant::Jk02_32S;
    o.set("alarms_bitmask", hexString(st.alarms, is32 ? 8 : 4));
    o.set("alarms", alarmNames(st.alarms, is32 ? 32 : 16, ble::alarmBitName));
    Json sw = Json::object();
    sw.set("charging_mos", st.chargeMos);
    sw.set("discharging_mos", st.dischargeMos);
    o.set("switches", std::move(sw));
    o.set("precharge", st.precharge);
    o.set("wire_resistance_warning_mask", st.wireResistanceWarningMask);
    o.set("user_alarm", st.userAlarm);
    Json timers = Json::array();
    for (std::uint16_t t : st.protectionReleaseS) timers.push(t);
    o.set("protection_release_s", std::move(timers));
    if (ci.jk02Ext) {
        const ble::Jk02Extended& x = *ci.jk02Ext;
        temps.set("offset_254", x.temperatureOffset254C);
        temps.set("offset_256", x.temperatureOffset256C);
        temps.set("offset_258", x.temperatureOffset258C);
        o.set("temp_sensor_present_mask", hexString(x.temperatureSensorPresentMask, 2));
        o.set("heating", x.heating);
        o.set("heating_current", r3(x.heatingCurrentA));
        o.set("emergency_countdown_s", x.emergencyCountdownS);
        o.set("pack_voltage_10mv_field", rounded(x.packVoltage10mVFieldV, 0.01));
        o.set("charger_plugged", x.chargerPlugged);
        o.set("battery_type", x.batteryType);
        o.set("charge_status", x.chargeStatus);
        o.set("charge_status_elapsed_s", x.chargeStatusElapsedS);
        o.set("dry_contacts_mask", x.dryContactsMask);
        o.set("time_to_sleep_s", x.timeToSleepS);
    }
    o.set("temperatures", std::move(temps));
    return o;
}

Json describe(const ble::Settings& st) {
    Json o = describeFrameHeader(static_cast<std::uint8_t>(ble::FrameType::Settings), st.counter,
                                 st.variant, st.checksum);
    o.set("smart_sleep_v", r3(st.smartSleepV));
    o.set("cell_uvp_v", r3(st.cellUvpV));
    o.set("cell_uvpr_v", r3(st.cellUvprV));
    o.set("cell_ovp_v", r3(st.cellOvpV));
    o.set("cell_ovpr_v", r3(st.cellOvprV));
    o.set("balance_trigger_delta_v", r3(st.balanceTriggerDeltaV));
    o.set("soc100_v", r3(st.soc100V));
    o.set("soc0_v", r3(st.soc0V));
    o.set("request_charge_v", r3(st.requestChargeV));
    o.set("request_float_v", r3(st.requestFloatV));
    o.set("power_off_v", r3(st.powerOffV));
    o.set("max_charge_current_a", r3(st.maxChargeCurrentA));
    o.set("charge_ocp_delay_s", st.chargeOcpDelayS);
    o.set("charge_ocp_recovery_s", st.chargeOcpRecoveryS);
    o.set("max_discharge_current_a", r3(st.maxDischargeCurrentA));
    o.set("discharge_ocp_delay_s", st.dischargeOcpDelayS);
    o.set("discharge_ocp_recovery_s", st.dischargeOcpRecoveryS);
    o.set("scp_recovery_s", st.scpRecoveryS);
    o.set("max_balance_current_a", r3(st.maxBalanceCurrentA));
    o.set("charge_otp_c", st.chargeOtpC);
    o.set("charge_otpr_c", st.chargeOtprC);
    o.set("discharge_otp_c", st.dischargeOtpC);
    o.set("discharge_otpr_c", st.dischargeOtprC);
    o.set("charge_utp_c", st.chargeUtpC);
    o.set("charge_utpr_c", st.chargeUtprC);
    o.set("mos_otp_c", st.mosOtpC);
    o.set("mos_otpr_c", st.mosOtprC);
    o.set("cell_count", st.cellCount);
    o.set("charge_switch", st.chargeSwitch);
    o.set("discharge_switch", st.dischargeSwitch);
    o.set("balancer_switch", st.balancerSwitch);
    o.set("nominal_capacity_ah", r3(st.nominalCapacityAh));
    o.set("scp_delay_us", st.scpDelayUs);
    o.set("balance_start_v", r3(st.balanceStartV));
    if (!st.ext) return o;
    const ble::Settings::Extended& x = *st.ext;
    o.set("device_address", x.deviceAddress);
    o.set("precharge_time_s", x.prechargeTimeS);
    o.set("control_bitmask", x.controlBitmask);
    static constexpr std::pair<ble::ControlBit, std::string_view> kBits[] = {
        {ble::ControlBit::Heating, "heating_enabled"},
        {ble::ControlBit::DisableTemperatureSensors, "temp_sensors_disabled"},
        {ble::ControlBit::GpsHeartbeat, "gps_heartbeat"},
        {ble::ControlBit::PortSwitchRs485, "port_switch_rs485"},
        {ble::ControlBit::DisplayAlwaysOn, "display_always_on"},
        {ble::ControlBit::SpecialCharger, "special_charger"},
        {ble::ControlBit::SmartSleep, "smart_sleep"},
        {ble::ControlBit::DisablePclModule, "disable_pcl_module"},
        {ble::ControlBit::TimedStoredData, "timed_stored_data"},
        {ble::ControlBit::ChargingFloatMode, "charging_float_mode"},
        {ble::ControlBit::EmergencyButtonTrigger, "emergency_button_trigger"},
        {ble::ControlBit::DryContactAlarmIntermittent, "dry_contact_alarm_intermittent"},
        {ble::ControlBit::DischargeOcp2, "discharge_ocp2"},
        {ble::ControlBit::DischargeOcp3, "discharge_ocp3"},
        {ble::ControlBit::GpsLockedCharging, "gps_locked_charging"},
        {ble::ControlBit::GpsLockedDischarging, "gps_locked_discharging"},
    };
    for (auto [bit, name] : kBits)
        o.set(name, ((x.controlBitmask >> static_cast<unsigned>(bit)) & 1U) != 0);
    o.set("heating_start_c", x.heatingStartC);
    o.set("heating_stop_c", x.heatingStopC);
    o.set("smart_sleep_h", x.smartSleepH);
    o.set("discharge_utp_c", x.dischargeUtpC);
    o.set("discharge_utpr_c", x.dischargeUtprC);
    return o;
}

Json describe(const ble::Jk04Settings& st) {
    Json o = describeFrameHeader(static_cast<std::uint8_t>(ble::FrameType::Settings), st.counter,
                                 Variant::Jk04, st.checksum);
    o.set("cell_count", st.cellCount);
    o.set("power_off_v", rounded(st.powerOffV, 1e-6));
    o.set("voltage_calibration", rounded(st.voltageCalibration, 1e-6));
    o.set("balance_start_v", rounded(st.balanceStartV, 1e-6));
    o.set("balance_trigger_delta_v", rounded(st.balanceTriggerDeltaV, 1e-6));
    o.set("max_balance_current_a", rounded(st.maxBalanceCurrentA, 1e-6));
    o.set("balancer_switch", st.balancerSwitch);
    return o;
}

Json describe(const ble::DeviceInfo& di) {
    Json o = describeFrameHeader(static_cast<std::uint8_t>(ble::FrameType::DeviceInfo), di.counter,
                                 di.variant, di.checksum);
    o.set("model", di.model);
    o.set("hardware_version", di.hardwareVersion);
    o.set("software_version", di.softwareVersion);
    o.set("uptime_s", di.uptimeS);
    o.set("power_on_count", di.powerOnCount);
    o.set("device_name", di.deviceName);
    o.set("device_passcode", di.devicePasscode);
    o.set("manufacturing_date", di.manufacturingDate);
    o.set("serial_number", di.serialNumber);
    o.set("user_data", di.userData);
    o.set("setup_passcode", di.setupPasscode);
    if (!di.ext) return o;
    const ble::DeviceInfo::Extended& x = *di.ext;
    o.set("user_data_2", x.userData2);
    o.set("uart1_protocol", x.uart1Protocol);
    o.set("can_protocol", x.canProtocol);
    o.set("uart2_protocol", x.uart2Protocol);
    o.set("uart3_protocol", x.uart3Protocol);
    o.set("uart1_enable_mask", hexString(x.uart1EnableMask, 8));
    o.set("can_enable_mask", hexString(x.canEnableMask, 8));
    o.set("rcv_time_h", rounded(x.rcvTimeH, 0.1));
    o.set("rfv_time_h", rounded(x.rfvTimeH, 0.1));
    o.set("emergency_duration_min", x.emergencyDurationMin);
    o.set("rebulk_soc", x.rebulkSocPercent);
    return o;
}

Json describe(const ble::Logbook& log) {
    Json o = describeFrameHeader(static_cast<std::uint8_t>(ble::FrameType::Logbook), log.counter,
                                 Variant::Jk02_32S, log.checksum);
    o.set("log_count", log.count);
    Json entries = Json::array();
    for (const ble::LogEntry& e : log.entries) {
        Json entry = Json::object();
        entry.set("t_s", e.timeS);
        entry.set("code", e.code);
        entries.push(std::move(entry));
    }
    o.set("entries", std::move(entries));
    return o;
}

Json describe(const ble::DecodedCommand& c) {
    Json o = Json::object();
    o.set("family", "ble");
    o.set("register", c.reg);
    o.set("length", c.length);
    o.set("value_u32_le", c.value);
    o.set("checksum_calc", c.checksum);
    o.set("checksum_ok", true);
    return o;
}

Json describe(const pb::ModbusFrame& m, ByteView raw) {
    Json o = Json::object();
    o.set("family", "modbus");
    o.set("address", m.address);
    o.set("function", m.function);
    o.set("crc_ok", true);
    switch (m.kind) {
        case pb::ModbusKind::ReadRequest:
            o.set("kind", "read_request");
            o.set("register", m.reg);
            o.set("quantity", m.quantity);
            break;
        case pb::ModbusKind::ReadResponse:
            o.set("kind", "read_response");
            o.set("byte_count", m.byteCount);
            o.set("data_hex", util::toHex(m.data));
            break;
        case pb::ModbusKind::WriteRequest:
            o.set("kind", m.isTrigger() ? "trigger" : "write_request");
            o.set("register", m.reg);
            o.set("quantity", m.quantity);
            o.set("byte_count", m.byteCount);
            if (auto v = m.dataValue()) o.set("value", *v);
            o.set("data_hex", util::toHex(m.data));
            break;
        case pb::ModbusKind::WriteAck:
            o.set("kind", "write_ack");
            o.set("register", m.reg);
            o.set("quantity", m.quantity);
            break;
        case pb::ModbusKind::Exception:
            o.set("kind", "exception");
            o.set("exception_code", m.exceptionCode);
            break;
    }
    o.set("hex", util::toHex(raw));
    return o;
}

}  // namespace jkbms::cli
