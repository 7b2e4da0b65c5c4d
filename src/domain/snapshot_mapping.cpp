#include "jkbms/domain/snapshot_mapping.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "jkbms/domain/battery_key.hpp"

#include <utility>

namespace jkbms::domain {
namespace {

namespace nwid = codec::nw::id;

std::optional<double> scaled(const std::optional<std::uint32_t>& raw, double scale) {
    if (!raw) return std::nullopt;
    return *raw * scale;
}

std::optional<bool> flag(const std::optional<std::uint32_t>& raw) {
    if (!raw) return std::nullopt;
    return *raw != 0;
}

// JK-PB "TempBat4/5" at offsets 256/258 with presence bits 4/5 (official map names).
constexpr std::string_view kT1 = "T1";
constexpr std::string_view kT2 = "T2";
constexpr std::string_view kT4 = "T4";
constexpr std::string_view kT5 = "T5";

// The identity of an NW reply (versions, model, date, device name, serial) is derived from its
// four ASCII ids alone, which a BMS repeats unchanged in every reply; deriving it (cleanField,
// nwIdText, splitNwVersion) cost more than the rest of fromNw. So it is derived once per set of
// ids and kept: per thread (fromNw stays callable from any thread), for the last few distinct
// sets (one per pack polled on the thread; more packs than entries only derive more often).
// An entry is reused only when all four ids are byte for byte the same (present or absent
// alike), so a changed id is derived anew at once.
constexpr std::uint8_t kNwIdentityIds[] = {nwid::kSoftwareVersion, nwid::kManufacturerId, nwid::kManufactureDate,
                                           nwid::kDeviceId};
using NwIdentityTexts = std::array<std::optional<std::string_view>, std::size(kNwIdentityIds)>;

Identity deriveNwIdentity(const NwIdentityTexts& t) {
    const auto& [sw, maker, date, dev] = t;
    Identity id;
    id.protocol = Protocol::Nw;
    id.variant = "NW";
    if (sw) {
        NwVersions v = splitNwVersion(*sw);
        id.hardwareVersion = std::move(v.hardware);
        id.softwareVersion = std::move(v.software);
    }
    if (maker) {
        constexpr std::string_view kFiller = "Input Userda";
        std::string_view m = *maker;
        if (m.starts_with(kFiller)) m.remove_prefix(kFiller.size());
        id.model = std::string{m};
    }
    if (date) id.manufacturingDate = std::string{*date};
    // No serial number field in NW: the ids that tell the board apart (as its key), if any.
    id.serialNumber = nwIdText(maker.value_or(""), dev.value_or(""));
    // The device id the user set (0xB4); the factory default names no device.
    if (dev && !nwIdText("", *dev).empty()) id.deviceName = cleanField(*dev);
    return id;
}

class NwIdentityCache {
public:
    const Identity& get(const NwIdentityTexts& texts) {
        for (Entry& e : entries_)
            if (e.used && e.matches(texts)) return e.identity;
        Entry& e = entries_[next_];
        next_ = (next_ + 1) % entries_.size();
        e.used = true;
        for (std::size_t i = 0; i < texts.size(); ++i) {
            e.present[i] = texts[i].has_value();
            e.texts[i].assign(texts[i].value_or(std::string_view{}));
        }
        e.identity = deriveNwIdentity(texts);
        return e.identity;
    }

private:
    struct Entry {
        bool used = false;
        std::array<bool, std::size(kNwIdentityIds)> present{};
        std::array<std::string, std::size(kNwIdentityIds)> texts;
        Identity identity;
        bool matches(const NwIdentityTexts& t) const {
            for (std::size_t i = 0; i < t.size(); ++i)
                if (present[i] != t[i].has_value() || (t[i] && texts[i] != *t[i])) return false;
            return true;
        }
    };
    std::array<Entry, 4> entries_;
    std::size_t next_ = 0;
};

}  // namespace

AlarmSet alarmsFromNw(std::uint16_t w) {
    // Section 1.7. Bits 12/13 ("309_A/B" protections) have no documented meaning and bits
    // 14/15 are reserved: not mapped.
    static constexpr std::array<std::pair<unsigned, Alarm>, 12> kMap = {{
        {0, Alarm::LowSoc},
        {1, Alarm::MosfetOverTemperature},
        {2, Alarm::HighVoltage},
        {3, Alarm::LowVoltage},
        {4, Alarm::HighTemperature},
        {5, Alarm::HighChargeCurrent},
        {6, Alarm::HighDischargeCurrent},
        {7, Alarm::CellImbalance},
        {8, Alarm::HighTemperature},
        {9, Alarm::LowTemperature},
        {10, Alarm::CellHighVoltage},
        {11, Alarm::CellLowVoltage},
    }};
    AlarmSet set;
    for (auto [bit, alarm] : kMap)
        if ((static_cast<unsigned>(w) >> bit) & 1U) set.set(alarm);
    return set;
}

AlarmSet alarmsFromJk02(std::uint32_t w) {
    // Section 2.7, following its driver-mapping suggestion. Bit 19 ("modify password in
    // time") is set on most units and is not an error; bits 18 and 28 (GPS) are not alarms.
    static constexpr std::array<std::pair<unsigned, Alarm>, 25> kMap = {{
        {0, Alarm::WireResistance},
        {1, Alarm::MosfetOverTemperature},
        {2, Alarm::CellCountMismatch},
        {3, Alarm::InternalFailure},
        {4, Alarm::CellHighVoltage},
        {5, Alarm::HighVoltage},
        {6, Alarm::HighChargeCurrent},
        {7, Alarm::HighChargeCurrent},
        {8, Alarm::HighChargeTemperature},
        {9, Alarm::LowChargeTemperature},
        {10, Alarm::InternalFailure},
        {11, Alarm::CellLowVoltage},
        {12, Alarm::LowVoltage},
        {13, Alarm::HighDischargeCurrent},
        {14, Alarm::HighDischargeCurrent},
        {15, Alarm::HighTemperature},
        {16, Alarm::InternalFailure},
        {17, Alarm::InternalFailure},
        {20, Alarm::InternalFailure},
        {21, Alarm::HighTemperature},
        {22, Alarm::TemperatureSensorFault},
        {23, Alarm::InternalFailure},
        {24, Alarm::HighDischargeCurrent},
        {25, Alarm::HighDischargeCurrent},
        {26, Alarm::HighDischargeCurrent},
    }};
    AlarmSet set;
    for (auto [bit, alarm] : kMap)
        if ((w >> bit) & 1U) set.set(alarm);
    if ((w >> 27) & 1U) set.set(Alarm::LowTemperature);
    return set;
}

NwVersions splitNwVersion(std::string_view text) {
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.back() == '_' || s.back() == ' ')) s.remove_suffix(1);
        while (!s.empty() && (s.front() == '_' || s.front() == ' ')) s.remove_prefix(1);
        return std::string{s};
    };
    const std::size_t split = text.find("_S");
    if (split == std::string_view::npos) return {"", trim(text)};
    std::string_view hw = text.substr(0, split);
    if (!hw.empty() && hw.front() == 'H') hw.remove_prefix(1);
    std::string_view sw = text.substr(split + 2);
    while (!sw.empty() && sw.front() == 'S') sw.remove_prefix(1);
    return {trim(hw), trim(sw)};
}

BatterySnapshot fromNw(const codec::nw::ReadAll& r) {
    BatterySnapshot s;
    s.cellVoltagesV = r.cellVoltagesV;
    s.packVoltageV = r.totalVoltageV();
    s.currentA = r.currentA();
    if (s.packVoltageV && s.currentA) s.powerW = *s.packVoltageV * *s.currentA;
    s.socPercent = scaled(r.value(nwid::kSoc), 1.0);
    s.cycleCount = r.value(nwid::kCycleCount);
    s.cycleCapacityAh = scaled(r.value(nwid::kTotalCycleCapacity), 1.0);
    if (auto minutes = r.value(nwid::kRuntime)) s.runtimeS = *minutes * 60U;
    s.mosfetTemperatureC = r.temperatureC(nwid::kMosTemperature);
    if (auto t = r.temperatureC(nwid::kTemperature1)) s.temperatures.push_back({kT1, *t});
    if (auto t = r.temperatureC(nwid::kTemperature2)) s.temperatures.push_back({kT2, *t});

    if (auto status = r.value(nwid::kStatus)) {
        s.switches.chargeMos = (*status & codec::nw::kStatusChargeMos) != 0;
        s.switches.dischargeMos = (*status & codec::nw::kStatusDischargeMos) != 0;
        s.balancing = (*status & codec::nw::kStatusBalancerActive) != 0;
    }
    s.switches.chargeEnabled = flag(r.value(nwid::kChargeSwitch));
    s.switches.dischargeEnabled = flag(r.value(nwid::kDischargeSwitch));
    s.switches.balancerEnabled = flag(r.value(nwid::kBalancerSwitch));
    if (auto alarms = r.value(nwid::kAlarms)) {
        s.alarms = alarmsFromNw(static_cast<std::uint16_t>(*alarms));
        s.alarmsReported = true;
    }

    BmsSettings& b = s.settings;
    b.packOvpV = scaled(r.value(nwid::kPackOvp), 0.01);
    b.packUvpV = scaled(r.value(nwid::kPackUvp), 0.01);
    b.cellOvpV = scaled(r.value(nwid::kCellOvp), 0.001);
    b.cellOvprV = scaled(r.value(nwid::kCellOvpRecovery), 0.001);
    b.cellUvpV = scaled(r.value(nwid::kCellUvp), 0.001);
    b.cellUvprV = scaled(r.value(nwid::kCellUvpRecovery), 0.001);
    b.chargeOcpA = scaled(r.value(nwid::kChargeOcp), 1.0);
    b.dischargeOcpA = scaled(r.value(nwid::kDischargeOcp), 1.0);
    b.balanceStartV = scaled(r.value(nwid::kBalanceStartVoltage), 0.001);
    b.balanceTriggerV = scaled(r.value(nwid::kBalanceTriggerDelta), 0.001);
    b.chargeOtpC = scaled(r.value(nwid::kChargeOtp), 1.0);
    b.dischargeOtpC = scaled(r.value(nwid::kDischargeOtp), 1.0);
    b.mosOtpC = scaled(r.value(nwid::kMosOtp), 1.0);
    if (auto v = r.signedValue(nwid::kChargeUtp)) b.chargeUtpC = *v;
    if (auto v = r.signedValue(nwid::kDischargeUtp)) b.dischargeUtpC = *v;
    if (auto v = r.value(nwid::kCellCountSetting)) b.cellCount = *v;
    b.nominalCapacityAh = scaled(r.value(nwid::kNominalCapacity), 1.0);

    // NW reports only the nominal capacity: remaining = nominal x SoC (spec section 4).
    // Firmware >= 10.10 also reports the actual capacity (0xB9); prefer it when non-zero.
    std::optional<double> capacity = b.nominalCapacityAh;
    if (auto actual = r.value(nwid::kActualCapacity); actual && *actual > 0)
        capacity = static_cast<double>(*actual);
    s.fullCapacityAh = capacity;
    if (capacity && s.socPercent) s.remainingCapacityAh = *capacity * *s.socPercent / 100.0;

    NwIdentityTexts texts;
    for (std::size_t i = 0; i < texts.size(); ++i) texts[i] = r.textOf(kNwIdentityIds[i]);
    thread_local NwIdentityCache identities;
    s.identity = identities.get(texts);
    // SoH: the actual capacity (0xB9, firmware >= 10.10) against the nominal one (0xAA). Both
    // are settings of the BMS (written by the user or the installer, not measured): /Soh is
    // the capacity the pack is set to have left, as far as the BMS is told.
    if (auto actual = r.value(nwid::kActualCapacity); actual && *actual > 0 && b.nominalCapacityAh &&
                                                     *b.nominalCapacityAh > 0)
        s.sohPercent = std::min(100.0, 100.0 * static_cast<double>(*actual) / *b.nominalCapacityAh);
    return s;
}

void applyCellInfo(BatterySnapshot& s, const codec::ble::CellInfo& ci) {
    s.cellVoltagesV = ci.cellVoltagesV;
    s.packVoltageV = ci.packVoltageV;
    s.balancing = ci.balancingAction != 0;
    s.balanceCurrentA = ci.balanceCurrentA;
    s.runtimeS = ci.runtimeS;
    s.identity.variant = std::string{codec::ble::variantName(ci.variant)};
    s.temperatures.clear();
    if (!ci.jk02) {
        // JK04 is a balancer-class device: no current, SoC, temperatures or alarms.
        s.alarmsReported = false;
        return;
    }
    const codec::ble::Jk02Status& st = *ci.jk02;
    s.currentA = st.currentA;
    s.powerW = ci.packVoltageV * st.currentA;
    s.socPercent = st.socPercent;
    s.sohPercent = st.sohPercent;
    s.remainingCapacityAh = st.remainingCapacityAh;
    s.fullCapacityAh = st.fullCapacityAh;
    s.cycleCount = st.cycleCount;
    s.cycleCapacityAh = st.cycleCapacityAh;
    s.switches.chargeMos = st.chargeMos;
    s.switches.dischargeMos = st.dischargeMos;
    s.alarms = alarmsFromJk02(st.alarms);
    s.alarmsReported = true;

    if (!ci.jk02Ext) {
        // JK02_24S: MOS, T1 and T2 are always fitted.
        s.mosfetTemperatureC = st.mosTemperatureC;
        s.temperatures.push_back({kT1, st.temperature1C});
        s.temperatures.push_back({kT2, st.temperature2C});
        return;
    }
    const codec::ble::Jk02Extended& x = *ci.jk02Ext;
    // A sensor whose presence bit is clear reads -200.0 C: absent, not cold.
    s.mosfetTemperatureC = x.sensorPresent(0) ? std::optional{st.mosTemperatureC} : std::nullopt;
    if (x.sensorPresent(1)) s.temperatures.push_back({kT1, st.temperature1C});
    if (x.sensorPresent(2)) s.temperatures.push_back({kT2, st.temperature2C});
    if (x.sensorPresent(4)) s.temperatures.push_back({kT4, x.temperatureOffset256C});
    if (x.sensorPresent(5)) s.temperatures.push_back({kT5, x.temperatureOffset258C});
    s.heating = x.heating;
    s.heatingCurrentA = x.heatingCurrentA;
    s.bmsChargeStatus = x.chargeStatus;
}

void applySettings(BatterySnapshot& s, const codec::ble::Settings& st) {
    BmsSettings& b = s.settings;
    b.cellOvpV = st.cellOvpV;
    b.cellOvprV = st.cellOvprV;
    b.cellUvpV = st.cellUvpV;
    b.cellUvprV = st.cellUvprV;
    b.maxChargeCurrentA = st.maxChargeCurrentA;
    b.maxDischargeCurrentA = st.maxDischargeCurrentA;
    b.balanceStartV = st.balanceStartV;
    b.balanceTriggerV = st.balanceTriggerDeltaV;
    b.maxBalanceCurrentA = st.maxBalanceCurrentA;
    b.requestChargeV = st.requestChargeV;
    b.requestFloatV = st.requestFloatV;
    b.soc100V = st.soc100V;
    b.soc0V = st.soc0V;
    b.chargeOtpC = st.chargeOtpC;
    b.chargeUtpC = st.chargeUtpC;
    b.dischargeOtpC = st.dischargeOtpC;
    b.mosOtpC = st.mosOtpC;
    if (st.ext) b.dischargeUtpC = st.ext->dischargeUtpC;
    b.cellCount = st.cellCount;
    b.nominalCapacityAh = st.nominalCapacityAh;
    s.switches.chargeEnabled = st.chargeSwitch;
    s.switches.dischargeEnabled = st.dischargeSwitch;
    s.switches.balancerEnabled = st.balancerSwitch;
}

void applyJk04Settings(BatterySnapshot& s, const codec::ble::Jk04Settings& st) {
    s.settings.balanceStartV = st.balanceStartV;
    s.settings.balanceTriggerV = st.balanceTriggerDeltaV;
    s.settings.maxBalanceCurrentA = st.maxBalanceCurrentA;
    s.settings.cellCount = st.cellCount;
    s.switches.balancerEnabled = st.balancerSwitch;
}

void applyDeviceInfo(BatterySnapshot& s, const codec::ble::DeviceInfo& di) {
    Identity& id = s.identity;
    id.model = di.model;
    id.hardwareVersion = di.hardwareVersion;
    id.softwareVersion = di.softwareVersion;
    id.serialNumber = di.serialNumber;
    id.manufacturingDate = di.manufacturingDate;
    id.deviceName = di.deviceName;
    if (di.variant) id.variant = std::string{codec::ble::variantName(*di.variant)};
}

}  // namespace jkbms::domain

namespace jkbms::domain {

void JkFrameMerger::reset() {
    variant_.reset();
    deviceInfo_.reset();
    settingsSeen_ = cellInfoSeen_ = 0;
}

JkFrameMerger::Merged JkFrameMerger::merge(std::optional<BatterySnapshot>& snapshot, util::ByteView frame) {
    namespace ble = codec::ble;
    Merged out;
    auto header = ble::checkFrame(frame);
    if (!header) {
        out.error = header.error();
        return out;
    }
    out.type = static_cast<ble::FrameType>(header->type);
    if (!snapshot) {
        snapshot.emplace();
        snapshot->identity.protocol = protocol_;
    }
    const auto variantOr = [&](ble::Variant detected) {
        return jk02_32sOnly_ ? ble::Variant::Jk02_32S : variant_.value_or(detected);
    };
    switch (*out.type) {
        case ble::FrameType::DeviceInfo: {
            auto di = ble::decodeDeviceInfo(frame);
            if (!di) {
                out.error = di.error();
                return out;
            }
            out.first = !deviceInfo_;
            deviceInfo_ = std::move(*di);
            applyDeviceInfo(*snapshot, *deviceInfo_);
            if (!jk02_32sOnly_ && deviceInfo_->variant) variant_ = deviceInfo_->variant;
            out.deviceInfo = &*deviceInfo_;
            out.applied = true;
            return out;
        }
        case ble::FrameType::Settings: {
            const auto v = variantOr(ble::detectSettingsVariant(frame).value_or(ble::Variant::Jk02_32S));
            out.variant = v;
            if (v == ble::Variant::Jk04) {
                auto st = ble::decodeJk04Settings(frame);
                if (!st) {
                    out.error = st.error();
                    return out;
                }
                applyJk04Settings(*snapshot, *st);
            } else {
                auto st = ble::decodeSettings(frame, v);
                if (!st) {
                    out.error = st.error();
                    return out;
                }
                applySettings(*snapshot, *st);
            }
            out.first = settingsSeen_++ == 0;
            out.applied = true;
            return out;
        }
        case ble::FrameType::CellInfo: {
            const auto v = variantOr(ble::detectCellInfoVariant(frame));
            out.variant = v;
            auto ci = ble::decodeCellInfo(frame, v);
            if (!ci) {
                out.error = ci.error();
                return out;
            }
            applyCellInfo(*snapshot, *ci);
            out.first = cellInfoSeen_++ == 0;
            out.applied = true;
            return out;
        }
        case ble::FrameType::Logbook: return out;
    }
    return out;
}

}  // namespace jkbms::domain
