#pragma once
// From codec output to BatterySnapshot. NW delivers everything in one read-all reply; the
// 55 AA protocols (BLE, JK-PB) deliver device info, settings and cell info as separate
// frames, each merged into the snapshot by its own apply function.

#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/nw.hpp"
#include "jkbms/domain/battery_snapshot.hpp"

namespace jkbms::domain {

BatterySnapshot fromNw(const codec::nw::ReadAll& reply);

void applyCellInfo(BatterySnapshot& snapshot, const codec::ble::CellInfo& info);
void applySettings(BatterySnapshot& snapshot, const codec::ble::Settings& settings);
void applyJk04Settings(BatterySnapshot& snapshot, const codec::ble::Jk04Settings& settings);
void applyDeviceInfo(BatterySnapshot& snapshot, const codec::ble::DeviceInfo& info);

// Alarm bits of each protocol as domain alarms.
AlarmSet alarmsFromNw(std::uint16_t alarmWord);
AlarmSet alarmsFromJk02(std::uint32_t alarmWord);

// NW software version "11.XW_S11.261__" -> hardware "11.XW", software "11.261".
struct NwVersions {
    std::string hardware, software;
};
NwVersions splitNwVersion(std::string_view text);

}  // namespace jkbms::domain

namespace jkbms::domain {

// The 55 AA frames of one BMS (BLE, or one JK-PB pack on RS485) merged into its snapshot: the
// frame decides what it is; the device info decides the variant (jk-protocols.md 2.5), and
// until it has, each frame is read by its own looks. Used by the daemon and the CLI.
class JkFrameMerger {
public:
    // jk02_32sOnly: every JK-PB speaks the JK02_32S layout on RS485.
    JkFrameMerger(Protocol protocol, bool jk02_32sOnly) : protocol_(protocol), jk02_32sOnly_(jk02_32sOnly) {}

    struct Merged {
        std::optional<codec::ble::FrameType> type;    // nullopt: no valid 55 AA frame
        bool applied = false;                         // false: the frame did not decode
        bool first = false;                           // the first of its type that applied
        const codec::ble::DeviceInfo* deviceInfo = nullptr;  // DeviceInfo: what it said
        std::optional<codec::ble::Variant> variant;   // CellInfo / Settings: read as
        util::Error error;                            // !applied: why
    };
    // Merges `frame` into `snapshot` (created by the first valid frame). deviceInfo points
    // into the merger and stays valid until the next call.
    Merged merge(std::optional<BatterySnapshot>& snapshot, util::ByteView frame);

    std::optional<codec::ble::Variant> variant() const { return variant_; }
    bool haveDeviceInfo() const { return deviceInfo_.has_value(); }
    bool haveSettings() const { return settingsSeen_ > 0; }
    bool haveCellInfo() const { return cellInfoSeen_ > 0; }
    // How many of each applied so far (a write is confirmed by a settings frame after it).
    std::uint64_t settingsSeen() const { return settingsSeen_; }
    std::uint64_t cellInfoSeen() const { return cellInfoSeen_; }
    void reset();

private:
    Protocol protocol_;
    bool jk02_32sOnly_;
    std::optional<codec::ble::Variant> variant_;
    std::optional<codec::ble::DeviceInfo> deviceInfo_;
    std::uint64_t settingsSeen_ = 0, cellInfoSeen_ = 0;
};

}  // namespace jkbms::domain
