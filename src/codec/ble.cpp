#include "jkbms/codec/ble.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>

#include "jkbms/codec/checksum.hpp"

namespace jkbms::codec::ble {
namespace {

using util::ByteReader;
using util::ByteView;
using util::DecodeError;
using util::makeError;

bool startsWith(ByteView bytes, const std::array<std::uint8_t, 4>& magic) {
    return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
}

util::Result<FrameHeader> checkFrameOfType(ByteView frame, FrameType type) {
    auto header = checkFrame(frame);
    if (!header) return header.error();
    if (header->type != static_cast<std::uint8_t>(type))
        return makeError(DecodeError::UnknownType, 4, static_cast<std::uint8_t>(type),
                         header->type);
    return header;
}

double tenths(std::int32_t raw) { return raw / 10.0; }
double milli(std::int64_t raw) { return static_cast<double>(raw) / 1000.0; }

// Leading decimal integer of a version string such as "10.XW", "11A", "19.27".
std::optional<int> leadingInteger(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && (s[i] == 'V' || s[i] == 'v' || s[i] == 'H' || s[i] == ' ')) ++i;
    int value = 0;
    auto [ptr, ec] = std::from_chars(s.data() + i, s.data() + s.size(), value);
    if (ec != std::errc{} || ptr == s.data() + i) return std::nullopt;
    return value;
}

}  // namespace

std::string_view variantName(Variant variant) {
    switch (variant) {
        case Variant::Jk02_24S: return "JK02_24S";
        case Variant::Jk02_32S: return "JK02_32S";
        case Variant::Jk04: return "JK04";
    }
    return "?";
}

std::optional<Variant> parseVariant(std::string_view name) {
    for (Variant v : {Variant::Jk02_24S, Variant::Jk02_32S, Variant::Jk04}) {
        const std::string_view n = variantName(v);
        if (name.size() == n.size() &&
            std::equal(name.begin(), name.end(), n.begin(),
                       [](char a, char b) { return std::toupper(a) == b; }))
            return v;
    }
    return std::nullopt;
}

util::Result<FrameHeader> checkFrame(ByteView frame) {
    if (frame.size() < 4 || !startsWith(frame, kFrameHeader)) {
        if (frame.size() < 4) return makeError(DecodeError::TooShort, frame.size());
        return makeError(DecodeError::BadHeader, 0, kFrameHeader[0], frame[0]);
    }
    if (frame.size() < kFrameSize) return makeError(DecodeError::TooShort, frame.size());
    const std::uint8_t computed = sum8(frame.first(kFrameSize - 1));
    if (computed != frame[kFrameSize - 1])
        return makeError(DecodeError::BadChecksum, kFrameSize - 1, computed, frame[kFrameSize - 1]);
    return FrameHeader{frame[4], frame[5], frame[kFrameSize - 1]};
}

FramerEvent Assembler::feed(ByteView notification) {
    FramerEvent ev;
    if (complete_) {
        size_ = 0;
        complete_ = false;
    }
    if (startsWith(notification, kFrameHeader)) {
        ev.skippedBytes = size_;  // an unfinished frame is abandoned
        size_ = 0;
    } else if (size_ == 0) {
        ev.skippedBytes = notification.size();  // belongs to no frame
        return ev;
    }
    const std::size_t take = std::min(notification.size(), kFrameSize - size_);
    std::memcpy(buffer_.data() + size_, notification.data(), take);
    size_ += take;
    ev.skippedBytes += notification.size() - take;
    if (size_ < kFrameSize) return ev;

    complete_ = true;
    auto header = checkFrame(buffer_);
    if (!header) {
        ev.status = FramerStatus::Bad;
        ev.error = header.error();
        return ev;
    }
    ev.status = FramerStatus::Frame;
    ev.frame = ByteView{buffer_};
    return ev;
}

Variant detectCellInfoVariant(ByteView frame) {
    ByteReader r(frame);
    const float first = r.f32leAt(6);
    if (first >= 0.5F && first <= 5.0F) return Variant::Jk04;
    unsigned n24 = 0;
    unsigned n32 = 0;
    for (std::size_t i = 0; i < 32; ++i) {
        const bool nonZero = r.u16leAt(6 + 2 * i) != 0;
        if (i < 24) n24 += nonZero;
        n32 += nonZero;
    }
    const std::uint64_t m24 = r.u32leAt(54);
    const std::uint64_t m32 = r.u32leAt(70);
    const bool fits24 = m24 == (std::uint64_t{1} << n24) - 1;
    const bool fits32 = m32 == (std::uint64_t{1} << n32) - 1;
    if (fits32 && !fits24) return Variant::Jk02_32S;
    if (fits24 && !fits32) return Variant::Jk02_24S;
    if (static_cast<unsigned>(std::popcount(m32)) == n32) return Variant::Jk02_32S;
    if (static_cast<unsigned>(std::popcount(m24)) == n24) return Variant::Jk02_24S;
    return Variant::Jk02_32S;  // every current BMS generation
}

// Settings frames (not in the spec's section 2.5, which covers cell info): JK04 when the
// power-off voltage (f32 at 38) is plausible; else byte 287 ("data field enable control 0",
// defined on JK02_32S only) tells the JK02 layouts apart: non-zero on every JK02_32S capture
// (0xFE; 0x7C on one B2A8S20P firmware), 0x00 on JK02_24S and JK04 (checked against every
// settings capture in shared/vectors; dbus-serialbattery uses the same byte).
std::optional<Variant> detectSettingsVariant(ByteView frame) {
    ByteReader r(frame);
    const float powerOff = r.f32leAt(38);
    const std::uint8_t dataFieldEnable = r.u8At(287);
    if (!r.ok()) return std::nullopt;
    if (powerOff >= 0.5F && powerOff <= 5.0F) return Variant::Jk04;
    return dataFieldEnable != 0 ? Variant::Jk02_32S : Variant::Jk02_24S;
}

std::optional<Variant> variantFromVersions(std::string_view model, std::string_view hardware,
                                           std::string_view software) {
    // The JK-B5A24S active balancer reports hw 8.x but speaks JK04.
    if (model.find("B5A24S") != std::string_view::npos ||
        (!software.empty() && software.back() == 'M' && leadingInteger(software) == 8))
        return Variant::Jk04;
    auto major = leadingInteger(hardware);
    if (!major) major = leadingInteger(software);
    if (!major) return std::nullopt;
    if (*major >= 11) return Variant::Jk02_32S;
    if (*major >= 6) return Variant::Jk02_24S;
    if (*major <= 3) return Variant::Jk04;
    return std::nullopt;
}

// Cell info, JK02 (section 2.6). s = +16 on JK02_32S after the cell voltages, t = +32 after
// the resistances. All LE.
//   off(24S)  off(32S)  type  field
//   6+2i      6+2i      u16   cell i voltage, mV (24 / 32 slots)
//   54        70        u32   enabled-cell mask
//   58/60     74/76     u16   average / delta cell voltage, mV
//   62/63     78/79     u8    max / min cell index, 0-based
//   64+2i     80+2i     u16   cell i balance-wire resistance, mOhm
//   134       144       i16   MOSFET temperature, 0.1 C
//   114       146       u32   wire-resistance warning mask
//   118       150       u32   pack voltage, mV
//   122       154       u32   pack power, mW, unsigned
//   126       158       i32   pack current, mA, + = charging
//   130/132   162/164   i16   temperature 1 / 2, 0.1 C
//   136       166       u16/u32 alarm word
//   138       170       i16   balance current, mA
//   140       172       u8    balancing action
//   141       173       u8    SoC, %
//   142       174       i32   remaining capacity, mAh
//   146       178       u32   full-charge capacity, mAh
//   150       182       u32   cycle count
//   154       186       u32   cumulative cycle capacity, mAh
//   158/159   190/191   u8    SoH % / precharge
//   160       192       u16   user alarm word
//   162       194       u32   runtime, s
//   166/167   198/199   u8    charge / discharge MOSFET on
//   170+2k    202+2k    u16   protection release countdowns (6), s
// JK02_32S only: 214 u8 sensor presence, 215 u8 heater, 218 u16 emergency countdown s,
// 234 u16 pack voltage 10 mV, 236 i16 heater current mA, 245 u8 charger plugged,
// 246 u32 system ticks 0.1 s, 254/256/258 i16 temperatures 0.1 C, 262 u32 RTC s,
// 270 u32 time to sleep s, 274 u8 PCL module, 275 u8 battery type, 278 u16 charge-status
// elapsed s, 280 u8 charge status, 281 u8 dry contacts.
//
// Cell info, JK04 (section 2.10): 6+4i f32 cell voltage V (24 slots, 0 = unused),
// 102+4i f32 resistance Ohm, 202/206 f32 average / delta V, 220 u8 balancing action,
// 222 f32 balance current A, 286 u32 runtime s.
util::Result<CellInfo> decodeCellInfo(ByteView frame, Variant variant) {
    auto header = checkFrameOfType(frame, FrameType::CellInfo);
    if (!header) return header.error();
    ByteReader r(frame.first(kFrameSize));
    CellInfo ci;
    ci.variant = variant;
    ci.counter = header->counter;
    ci.checksum = header->checksum;

    if (variant == Variant::Jk04) {
        std::size_t count = 0;
        for (std::size_t i = 0; i < 24; ++i)
            if (r.f32leAt(6 + 4 * i) != 0.0F) count = i + 1;
        double sum = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const float v = r.f32leAt(6 + 4 * i);
            const float ohm = r.f32leAt(102 + 4 * i);
            if (!std::isfinite(v) || !std::isfinite(ohm) || v < 0.0F || v > 10.0F)
                return makeError(DecodeError::OutOfRange, 6 + 4 * i, 0, std::bit_cast<std::uint32_t>(v));
            ci.cellVoltagesV.push_back(v);
            ci.cellResistancesOhm.push_back(ohm);
            sum += v;
        }
        ci.packVoltageV = sum;
        ci.cellAverageFieldV = r.f32leAt(202);
        ci.cellDeltaFieldV = r.f32leAt(206);
        ci.balancingAction = r.u8At(220);
        ci.balanceCurrentA = r.f32leAt(222);
        ci.runtimeS = r.u32leAt(286);
        if (!std::isfinite(ci.balanceCurrentA)) ci.balanceCurrentA = 0;
        return ci;
    }

    const bool is32 = variant == Variant::Jk02_32S;
    const std::size_t slots = is32 ? 32 : 24;
    const std::size_t s = is32 ? 16 : 0;
    const std::size_t t = is32 ? 32 : 0;
    Jk02Status st;
    st.cellEnabledMask = r.u32leAt(54 + s);
    for (std::size_t i = 0; i < slots; ++i) {
        if (!((st.cellEnabledMask >> i) & 1U)) continue;
        ci.cellVoltagesV.push_back(r.u16leAt(6 + 2 * i) / 1000.0);
        ci.cellResistancesOhm.push_back(r.u16leAt(64 + s + 2 * i) / 1000.0);
    }
    ci.cellAverageFieldV = r.u16leAt(58 + s) / 1000.0;
    ci.cellDeltaFieldV = r.u16leAt(60 + s) / 1000.0;
    st.maxCellIndexField = r.u8At(62 + s);
    st.minCellIndexField = r.u8At(63 + s);
    st.mosTemperatureC = tenths(r.i16leAt(is32 ? 144 : 134));
    st.wireResistanceWarningMask = r.u32leAt(114 + t);
    ci.packVoltageV = milli(r.u32leAt(118 + t));
    st.powerFieldW = milli(r.u32leAt(122 + t));
    st.currentA = milli(r.i32leAt(126 + t));
    st.temperature1C = tenths(r.i16leAt(130 + t));
    st.temperature2C = tenths(r.i16leAt(132 + t));
    st.alarms = is32 ? r.u32leAt(166) : r.u16leAt(136);
    ci.balanceCurrentA = milli(r.i16leAt(138 + t));
    ci.balancingAction = r.u8At(140 + t);
    st.socPercent = r.u8At(141 + t);
    st.remainingCapacityAh = milli(r.i32leAt(142 + t));
    st.fullCapacityAh = milli(r.u32leAt(146 + t));
    st.cycleCount = r.u32leAt(150 + t);
    st.cycleCapacityAh = milli(r.u32leAt(154 + t));
    st.sohPercent = r.u8At(158 + t);
    st.precharge = r.u8At(159 + t);
    st.userAlarm = r.u16leAt(160 + t);
    ci.runtimeS = r.u32leAt(162 + t);
    st.chargeMos = r.u8At(166 + t) != 0;
    st.dischargeMos = r.u8At(167 + t) != 0;
    for (std::size_t k = 0; k < st.protectionReleaseS.size(); ++k)
        st.protectionReleaseS[k] = r.u16leAt(170 + t + 2 * k);
    ci.jk02 = st;

    if (is32) {
        Jk02Extended x;
        x.temperatureSensorPresentMask = r.u8At(214);
        x.heating = r.u8At(215) != 0;
        x.emergencyCountdownS = r.u16leAt(218);
        x.packVoltage10mVFieldV = r.u16leAt(234) / 100.0;
        x.heatingCurrentA = milli(r.i16leAt(236));
        x.chargerPlugged = r.u8At(245) != 0;
        x.systemTicks = r.u32leAt(246);
        x.temperatureOffset254C = tenths(r.i16leAt(254));
        x.temperatureOffset256C = tenths(r.i16leAt(256));
        x.temperatureOffset258C = tenths(r.i16leAt(258));
        x.rtcTicksS = r.u32leAt(262);
        x.timeToSleepS = r.u32leAt(270);
        x.pclModuleOn = r.u8At(274) != 0;
        x.batteryType = r.u8At(275);
        x.chargeStatusElapsedS = r.u16leAt(278);
        x.chargeStatus = r.u8At(280);
        x.dryContactsMask = r.u8At(281);
        ci.jk02Ext = x;
    }
    if (!r.ok()) return r.error();
    return ci;
}

// Settings, JK02 (section 2.9), all u32/i32 LE:
//   6 smart-sleep V (mV), 10 cell UVP, 14 UVP recovery, 18 cell OVP, 22 OVP recovery,
//   26 balance trigger delta, 30 SoC-100% V, 34 SoC-0% V, 38 RCV, 42 RFV, 46 power-off V,
//   50 max charge current mA, 54/58 charge OCP delay/recovery s, 62 max discharge mA,
//   66/70 discharge OCP delay/recovery s, 74 SCP recovery s, 78 max balance current mA,
//   82..110 i32 temperatures 0.1 C (charge OT, OTR, discharge OT, OTR, charge UT, UTR,
//   MOS OT, OTR), 114 cell count, 118/122/126 charge/discharge/balancer switch,
//   130 design capacity mAh, 134 SCP delay us, 138 balance start V (mV).
// JK02_32S only: 270 u32 device address, 274 u32 precharge s, 282 u16 control bits,
//   284/285 i8 heater start/stop C, 286 u8 smart-sleep h, 287 u8 data-field enable,
//   296/297 i8 discharge UTP / recovery C.
util::Result<Settings> decodeSettings(ByteView frame, Variant variant) {
    if (variant == Variant::Jk04)
        return makeError(DecodeError::UnknownType, 4, 0, static_cast<std::uint32_t>(variant));
    auto header = checkFrameOfType(frame, FrameType::Settings);
    if (!header) return header.error();
    ByteReader r(frame.first(kFrameSize));
    Settings st;
    st.variant = variant;
    st.counter = header->counter;
    st.checksum = header->checksum;
    auto mv = [&r](std::size_t off) { return milli(r.u32leAt(off)); };
    auto dC = [&r](std::size_t off) { return tenths(r.i32leAt(off)); };
    st.smartSleepV = mv(6);
    st.cellUvpV = mv(10);
    st.cellUvprV = mv(14);
    st.cellOvpV = mv(18);
    st.cellOvprV = mv(22);
    st.balanceTriggerDeltaV = mv(26);
    st.soc100V = mv(30);
    st.soc0V = mv(34);
    st.requestChargeV = mv(38);
    st.requestFloatV = mv(42);
    st.powerOffV = mv(46);
    st.maxChargeCurrentA = mv(50);
    st.chargeOcpDelayS = r.u32leAt(54);
    st.chargeOcpRecoveryS = r.u32leAt(58);
    st.maxDischargeCurrentA = mv(62);
    st.dischargeOcpDelayS = r.u32leAt(66);
    st.dischargeOcpRecoveryS = r.u32leAt(70);
    st.scpRecoveryS = r.u32leAt(74);
    st.maxBalanceCurrentA = mv(78);
    st.chargeOtpC = dC(82);
    st.chargeOtprC = dC(86);
    st.dischargeOtpC = dC(90);
    st.dischargeOtprC = dC(94);
    st.chargeUtpC = dC(98);
    st.chargeUtprC = dC(102);
    st.mosOtpC = dC(106);
    st.mosOtprC = dC(110);
    st.cellCount = r.u32leAt(114);
    st.chargeSwitch = r.u32leAt(118) != 0;
    st.dischargeSwitch = r.u32leAt(122) != 0;
    st.balancerSwitch = r.u32leAt(126) != 0;
    st.nominalCapacityAh = mv(130);
    st.scpDelayUs = r.u32leAt(134);
    st.balanceStartV = mv(138);
    if (variant == Variant::Jk02_32S) {
        Settings::Extended x;
        x.deviceAddress = r.u32leAt(270);
        x.prechargeTimeS = r.u32leAt(274);
        x.controlBitmask = r.u16leAt(282);
        x.heatingStartC = r.i8At(284);
        x.heatingStopC = r.i8At(285);
        x.smartSleepH = r.u8At(286);
        x.dataFieldEnable = r.u8At(287);
        x.dischargeUtpC = r.i8At(296);
        x.dischargeUtprC = r.i8At(297);
        st.ext = x;
    }
    if (!r.ok()) return r.error();
    return st;
}

// Settings, JK04 (section 2.10): 34 u8 cell count, 38 f32 power-off V, 74 f32 voltage
// calibration, 98 f32 balance start V, 106 f32 balance trigger delta V, 110 f32 max balance
// current A, 114 u8 balancer switch.
util::Result<Jk04Settings> decodeJk04Settings(ByteView frame) {
    auto header = checkFrameOfType(frame, FrameType::Settings);
    if (!header) return header.error();
    ByteReader r(frame.first(kFrameSize));
    Jk04Settings st;
    st.counter = header->counter;
    st.checksum = header->checksum;
    st.cellCount = r.u8At(34);
    st.powerOffV = r.f32leAt(38);
    st.voltageCalibration = r.f32leAt(74);
    st.balanceStartV = r.f32leAt(98);
    st.balanceTriggerDeltaV = r.f32leAt(106);
    st.maxBalanceCurrentA = r.f32leAt(110);
    st.balancerSwitch = r.u8At(114) != 0;
    for (double v : {st.powerOffV, st.voltageCalibration, st.balanceStartV,
                     st.balanceTriggerDeltaV, st.maxBalanceCurrentA})
        if (!std::isfinite(v)) return makeError(DecodeError::OutOfRange, 38);
    if (!r.ok()) return r.error();
    return st;
}

// Device info, all variants (section 2.8): 6 model (16), 22 hardware version (8),
// 30 software version (8), 38 u32 uptime s, 42 u32 power-on count, 46 device name (16),
// 62 device passcode (16), 78 manufacturing date (8), 86 serial number (16, to first NUL),
// 102 user data (16), 118 setup passcode (16).
// JK02_32S only: 134 user data 2 (16), 184/185 u8 UART1 / CAN protocol, 186 u32 UART1 enable
// mask, 202 u32 CAN enable mask, 218 u8 UART2 protocol, 266/267 u8 RCV/RFV time 0.1 h,
// 269 u8 emergency duration min, 270 u8 UART3 protocol, 278 u8 re-bulk SoC %.
util::Result<DeviceInfo> decodeDeviceInfo(ByteView frame) {
    auto header = checkFrameOfType(frame, FrameType::DeviceInfo);
    if (!header) return header.error();
    ByteReader r(frame.first(kFrameSize));
    DeviceInfo di;
    di.counter = header->counter;
    di.checksum = header->checksum;
    di.model = r.asciiAt(6, 16);
    di.hardwareVersion = r.asciiAt(22, 8);
    di.softwareVersion = r.asciiAt(30, 8);
    di.uptimeS = r.u32leAt(38);
    di.powerOnCount = r.u32leAt(42);
    di.deviceName = r.asciiAt(46, 16);
    di.devicePasscode = r.asciiAt(62, 16);
    di.manufacturingDate = r.asciiAt(78, 8);
    di.serialNumber = r.asciiAt(86, 16);
    di.userData = r.asciiAt(102, 16);
    di.setupPasscode = r.asciiAt(118, 16);
    di.variant = variantFromVersions(di.model, di.hardwareVersion, di.softwareVersion);
    if (di.variant == Variant::Jk02_32S) {
        DeviceInfo::Extended x;
        x.userData2 = r.asciiAt(134, 16);
        x.uart1Protocol = r.u8At(184);
        x.canProtocol = r.u8At(185);
        x.uart1EnableMask = r.u32leAt(186);
        x.canEnableMask = r.u32leAt(202);
        x.uart2Protocol = r.u8At(218);
        x.rcvTimeH = r.u8At(266) / 10.0;
        x.rfvTimeH = r.u8At(267) / 10.0;
        x.emergencyDurationMin = r.u8At(269);
        x.uart3Protocol = r.u8At(270);
        x.rebulkSocPercent = r.u8At(278);
        di.ext = x;
    }
    if (!r.ok()) return r.error();
    return di;
}

// Logbook (section 2.11): 6 u32 entry count; from 11, 5-byte entries (u32 LE time s, u8 code).
util::Result<Logbook> decodeLogbook(ByteView frame) {
    auto header = checkFrameOfType(frame, FrameType::Logbook);
    if (!header) return header.error();
    ByteReader r(frame.first(kFrameSize));
    Logbook log;
    log.counter = header->counter;
    log.checksum = header->checksum;
    log.count = r.u32leAt(6);
    const std::size_t fits = (kFrameSize - 1 - 11) / 5;
    const std::size_t n = std::min<std::size_t>(log.count, fits);
    for (std::size_t i = 0; i < n; ++i)
        log.entries.push_back(LogEntry{r.u32leAt(11 + 5 * i), r.u8At(15 + 5 * i)});
    if (!r.ok()) return r.error();
    return log;
}

std::string_view alarmBitName(unsigned bit) {
    static constexpr std::array<std::string_view, 32> kNames = {
        "wire_resistance_high",     "mos_overtemperature",      "cell_count_mismatch",
        "current_sensor_error",     "cell_overvoltage",         "pack_overvoltage",
        "charge_overcurrent",       "charge_short_circuit",     "charge_overtemperature",
        "charge_undertemperature",  "internal_communication_error", "cell_undervoltage",
        "pack_undervoltage",        "discharge_overcurrent",    "discharge_short_circuit",
        "discharge_overtemperature", "charge_mos_fault",        "discharge_mos_fault",
        "gps_disconnected",         "modify_password_in_time",  "discharge_on_failed",
        "battery_overtemperature",  "temperature_sensor_fault", "pcl_module_fault",
        "scp_release_failed",       "discharge_overcurrent_2",  "discharge_overcurrent_3",
        "discharge_undertemperature", "gps_remote_lock",        "reserved_bit29",
        "reserved_bit30",           "reserved_bit31",
    };
    return bit < kNames.size() ? kNames[bit] : std::string_view{"unknown"};
}

FrameBuilder::FrameBuilder(FrameType type, std::uint8_t counter) {
    std::copy(kFrameHeader.begin(), kFrameHeader.end(), bytes_.begin());
    bytes_[4] = static_cast<std::uint8_t>(type);
    bytes_[5] = counter;
}

FrameBuilder& FrameBuilder::u8(std::size_t offset, std::uint8_t v) {
    if (offset < kFrameSize - 1) bytes_[offset] = v;
    return *this;
}

FrameBuilder& FrameBuilder::u16(std::size_t offset, std::uint16_t v) {
    u8(offset, static_cast<std::uint8_t>(v));
    return u8(offset + 1, static_cast<std::uint8_t>(v >> 8));
}

FrameBuilder& FrameBuilder::u32(std::size_t offset, std::uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) u8(offset + i, static_cast<std::uint8_t>(v >> (8U * i)));
    return *this;
}

FrameBuilder& FrameBuilder::f32(std::size_t offset, float v) { return u32(offset, std::bit_cast<std::uint32_t>(v)); }

FrameBuilder& FrameBuilder::text(std::size_t offset, std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) u8(offset + i, static_cast<std::uint8_t>(s[i]));
    return *this;
}

std::array<std::uint8_t, kFrameSize> FrameBuilder::frame() const {
    auto out = bytes_;
    out[kFrameSize - 1] = sum8(ByteView{out}.first(kFrameSize - 1));
    return out;
}

Command encodeCommand(std::uint8_t regNo, std::uint32_t value, std::uint8_t length) {
    Command c{};
    std::copy(kCommandHeader.begin(), kCommandHeader.end(), c.begin());
    c[4] = regNo;
    c[5] = length;
    for (unsigned i = 0; i < 4; ++i) c[6 + i] = static_cast<std::uint8_t>(value >> (8U * i));
    c[19] = sum8(ByteView{c}.first(19));
    return c;
}

Command encodeFloatCommand(std::uint8_t regNo, float value) {
    return encodeCommand(regNo, std::bit_cast<std::uint32_t>(value), 4);
}

util::Result<Command> encodeSwitch(Variant variant, Switch which, bool on) {
    const std::uint32_t v = on ? 1 : 0;
    if (variant == Variant::Jk04) {
        if (which == Switch::Balancer) return encodeCommand(reg::kJk04BalancerSwitch, v, 1);
        return makeError(DecodeError::OutOfRange, 4, 0, static_cast<std::uint32_t>(which));
    }
    switch (which) {
        case Switch::Charge: return encodeCommand(reg::kChargeSwitch, v, 4);
        case Switch::Discharge: return encodeCommand(reg::kDischargeSwitch, v, 4);
        case Switch::Balancer: return encodeCommand(reg::kBalancerSwitch, v, 4);
        case Switch::Heater:
            if (variant == Variant::Jk02_32S) return encodeCommand(reg::kHeater, v, 4);
            break;
    }
    return makeError(DecodeError::OutOfRange, 4, 0, static_cast<std::uint32_t>(which));
}

util::Result<DecodedCommand> decodeCommand(ByteView bytes) {
    if (bytes.size() < 4) return makeError(DecodeError::TooShort, bytes.size());
    if (!startsWith(bytes, kCommandHeader))
        return makeError(DecodeError::BadHeader, 0, kCommandHeader[0], bytes[0]);
    if (bytes.size() != kCommandSize)
        return makeError(DecodeError::BadLength, 0, kCommandSize,
                         static_cast<std::uint32_t>(bytes.size()));
    ByteReader r(bytes);
    DecodedCommand c;
    c.reg = bytes[4];
    c.length = bytes[5];
    c.value = r.u32leAt(6);
    c.checksum = sum8(bytes.first(19));
    if (c.checksum != bytes[19])
        return makeError(DecodeError::BadChecksum, 19, c.checksum, bytes[19]);
    if (c.length > 4) return makeError(DecodeError::OutOfRange, 5, 4, c.length);
    return c;
}

}  // namespace jkbms::codec::ble
