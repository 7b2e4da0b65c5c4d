#pragma once
// The JK "55 AA EB 90" frame family: BLE notifications (JK02_24S, JK02_32S, JK04) and the
// 300-byte answers of the JK-PB RS485 trigger protocol. Spec: jk-protocols.md section 2.
//
// Every BMS -> host frame:
//   off  size  field
//   0    4     header 55 AA EB 90
//   4    1     frame type (FrameType)
//   5    1     rolling counter
//   6    293   body (layouts in ble.cpp, one byte map per decoder)
//   299  1     sum8 of bytes 0 .. 298
// Host -> BMS commands are 20 bytes: AA 55 90 EB, register, length, value u32 LE, 9 don't-care
// bytes, sum8 of bytes 0 .. 18.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "jkbms/codec/framer_event.hpp"
#include "jkbms/util/byte_reader.hpp"
#include "jkbms/util/fixed_vector.hpp"
#include "jkbms/util/result.hpp"

namespace jkbms::codec::ble {

enum class Variant : std::uint8_t {
    Jk02_24S,  // hw 6 .. 10: 24 cell slots, 16-bit alarm word
    Jk02_32S,  // hw >= 11 and every JK-PB: 32 cell slots, 32-bit alarm word
    Jk04,      // hw <= 3 and the JK-B5A24S balancer: float layout, no current or SoC
};

std::string_view variantName(Variant variant);  // "JK02_24S", "JK02_32S", "JK04"
std::optional<Variant> parseVariant(std::string_view name);

enum class FrameType : std::uint8_t {
    Settings = 0x01,
    CellInfo = 0x02,
    DeviceInfo = 0x03,
    Logbook = 0x05,
};

constexpr std::size_t kFrameSize = 300;
constexpr std::size_t kCommandSize = 20;
constexpr std::size_t kMaxCells = 32;
constexpr std::array<std::uint8_t, 4> kFrameHeader = {0x55, 0xAA, 0xEB, 0x90};
constexpr std::array<std::uint8_t, 4> kCommandHeader = {0xAA, 0x55, 0x90, 0xEB};

struct FrameHeader {
    std::uint8_t type = 0;
    std::uint8_t counter = 0;
    std::uint8_t checksum = 0;
};

// Checks the header and the sum8 at 299. Bytes after the 300th are ignored.
util::Result<FrameHeader> checkFrame(util::ByteView frame);

// Reassembles 300-byte frames from notifications (section 2.4): a notification that starts
// with the header starts a new frame; bytes past 300 (the module's "AT\r\n", echoes) and
// notifications that belong to no frame are dropped and counted in skippedBytes.
class Assembler {
public:
    FramerEvent feed(util::ByteView notification);
    void reset() { size_ = 0; }

private:
    std::array<std::uint8_t, kFrameSize> buffer_{};
    std::size_t size_ = 0;
    bool complete_ = false;  // buffer_ holds a frame handed out by the last feed()
};

// Variant of a cell-info frame by the heuristic of section 2.5.2.
Variant detectCellInfoVariant(util::ByteView frame);
// Variant of a settings frame: JK04 when its power-off voltage (f32 at 38) is plausible;
// else JK02_32S when byte 287 is non-zero (0xFE, 0x7C seen), JK02_24S when it is 0x00 (a
// rule of ours from the public captures, see the README). nullopt: shorter than 288 bytes.
std::optional<Variant> detectSettingsVariant(util::ByteView frame);
// Variant from the versions of a device-info frame (section 2.5.1).
std::optional<Variant> variantFromVersions(std::string_view model, std::string_view hardware,
                                           std::string_view software);

// JK02 status fields (absent in JK04 frames).
struct Jk02Status {
    std::uint32_t cellEnabledMask = 0;
    std::uint8_t maxCellIndexField = 0;  // 0-based, as reported (lags one update)
    std::uint8_t minCellIndexField = 0;
    std::uint32_t wireResistanceWarningMask = 0;
    double powerFieldW = 0;  // unsigned |V x I| as the BMS reports it
    double currentA = 0;     // + = charging
    double mosTemperatureC = 0;
    double temperature1C = 0;
    double temperature2C = 0;
    std::uint32_t alarms = 0;  // 16 bits on JK02_24S, 32 bits on JK02_32S (section 2.7)
    std::uint8_t socPercent = 0;
    double remainingCapacityAh = 0;
    double fullCapacityAh = 0;
    std::uint32_t cycleCount = 0;
    double cycleCapacityAh = 0;
    std::uint8_t sohPercent = 0;
    std::uint8_t precharge = 0;
    std::uint16_t userAlarm = 0;
    bool chargeMos = false;
    bool dischargeMos = false;
    std::array<std::uint16_t, 6> protectionReleaseS{};
};

// JK02_32S-only fields of the cell-info frame.
struct Jk02Extended {
    std::uint8_t temperatureSensorPresentMask = 0;  // bit0 MOS, bit1 T1, bit2 T2, bit3..5 T3..T5
    bool heating = false;
    std::uint16_t emergencyCountdownS = 0;
    double packVoltage10mVFieldV = 0;
    double heatingCurrentA = 0;
    bool chargerPlugged = false;
    std::uint32_t systemTicks = 0;  // 0.1 s
    double temperatureOffset254C = 0;  // disputed names, kept by offset (section 5, item 3)
    double temperatureOffset256C = 0;
    double temperatureOffset258C = 0;
    std::uint32_t rtcTicksS = 0;
    std::uint32_t timeToSleepS = 0;
    bool pclModuleOn = false;
    std::uint8_t batteryType = 0;  // 0 LFP, 1 Li-ion, 2 LTO
    std::uint16_t chargeStatusElapsedS = 0;
    std::uint8_t chargeStatus = 0;  // 0 bulk, 1 absorption, 2 float
    std::uint8_t dryContactsMask = 0;

    bool sensorPresent(unsigned bit) const { return (temperatureSensorPresentMask >> bit) & 1U; }
};

struct CellInfo {
    Variant variant = Variant::Jk02_32S;
    std::uint8_t counter = 0;
    std::uint8_t checksum = 0;
    util::FixedVector<double, kMaxCells> cellVoltagesV;
    util::FixedVector<double, kMaxCells> cellResistancesOhm;
    double cellAverageFieldV = 0;  // BMS-computed; lags the cells by one update
    double cellDeltaFieldV = 0;
    double packVoltageV = 0;       // JK04: sum of the cells
    std::uint8_t balancingAction = 0;  // 0 off, 1 charging balancer, 2 discharging balancer
    double balanceCurrentA = 0;
    std::uint32_t runtimeS = 0;
    std::optional<Jk02Status> jk02;      // JK02_24S and JK02_32S
    std::optional<Jk02Extended> jk02Ext; // JK02_32S only
};

util::Result<CellInfo> decodeCellInfo(util::ByteView frame, Variant variant);

struct Settings {
    Variant variant = Variant::Jk02_32S;
    std::uint8_t counter = 0;
    std::uint8_t checksum = 0;
    double smartSleepV = 0, cellUvpV = 0, cellUvprV = 0, cellOvpV = 0, cellOvprV = 0;
    double balanceTriggerDeltaV = 0, soc100V = 0, soc0V = 0;
    double requestChargeV = 0, requestFloatV = 0, powerOffV = 0;
    double maxChargeCurrentA = 0;
    std::uint32_t chargeOcpDelayS = 0, chargeOcpRecoveryS = 0;
    double maxDischargeCurrentA = 0;
    std::uint32_t dischargeOcpDelayS = 0, dischargeOcpRecoveryS = 0, scpRecoveryS = 0;
    double maxBalanceCurrentA = 0;
    double chargeOtpC = 0, chargeOtprC = 0, dischargeOtpC = 0, dischargeOtprC = 0;
    double chargeUtpC = 0, chargeUtprC = 0, mosOtpC = 0, mosOtprC = 0;
    std::uint32_t cellCount = 0;
    bool chargeSwitch = false, dischargeSwitch = false, balancerSwitch = false;
    double nominalCapacityAh = 0;
    std::uint32_t scpDelayUs = 0;
    double balanceStartV = 0;
    // JK02_32S only.
    struct Extended {
        std::uint32_t deviceAddress = 0;
        std::uint32_t prechargeTimeS = 0;
        std::uint16_t controlBitmask = 0;  // bits: see ControlBit
        std::int8_t heatingStartC = 0, heatingStopC = 0;
        std::uint8_t smartSleepH = 0;
        std::uint8_t dataFieldEnable = 0;
        std::int8_t dischargeUtpC = 0, dischargeUtprC = 0;
    };
    std::optional<Extended> ext;
};

// Bits of the JK02_32S settings control bitmask (offset 282).
enum class ControlBit : std::uint8_t {
    Heating = 0,
    DisableTemperatureSensors = 1,
    GpsHeartbeat = 2,
    PortSwitchRs485 = 3,
    DisplayAlwaysOn = 4,
    SpecialCharger = 5,
    SmartSleep = 6,
    DisablePclModule = 7,
    TimedStoredData = 8,
    ChargingFloatMode = 9,
    EmergencyButtonTrigger = 10,
    DryContactAlarmIntermittent = 11,
    DischargeOcp2 = 12,
    DischargeOcp3 = 13,
    GpsLockedCharging = 14,
    GpsLockedDischarging = 15,
};

// variant must be Jk02_24S or Jk02_32S (JK04 settings use decodeJk04Settings).
util::Result<Settings> decodeSettings(util::ByteView frame, Variant variant);

struct Jk04Settings {
    std::uint8_t counter = 0;
    std::uint8_t checksum = 0;
    std::uint8_t cellCount = 0;
    double powerOffV = 0;
    double voltageCalibration = 0;
    double balanceStartV = 0;
    double balanceTriggerDeltaV = 0;
    double maxBalanceCurrentA = 0;
    bool balancerSwitch = false;
};

util::Result<Jk04Settings> decodeJk04Settings(util::ByteView frame);

struct DeviceInfo {
    std::uint8_t counter = 0;
    std::uint8_t checksum = 0;
    std::optional<Variant> variant;  // from the versions; nullopt if they fit no rule
    std::string model, hardwareVersion, softwareVersion;
    std::uint32_t uptimeS = 0;
    std::uint32_t powerOnCount = 0;
    std::string deviceName, devicePasscode, manufacturingDate, serialNumber, userData,
        setupPasscode;
    // JK02_32S only.
    struct Extended {
        std::string userData2;
        std::uint8_t uart1Protocol = 0, canProtocol = 0, uart2Protocol = 0, uart3Protocol = 0;
        std::uint32_t uart1EnableMask = 0, canEnableMask = 0;
        double rcvTimeH = 0, rfvTimeH = 0;
        std::uint8_t emergencyDurationMin = 0;
        std::uint8_t rebulkSocPercent = 0;
    };
    std::optional<Extended> ext;
};

util::Result<DeviceInfo> decodeDeviceInfo(util::ByteView frame);

struct LogEntry {
    std::uint32_t timeS = 0;
    std::uint8_t code = 0;
};

struct Logbook {
    std::uint8_t counter = 0;
    std::uint8_t checksum = 0;
    std::uint32_t count = 0;  // as reported; entries holds those that fit in the frame
    util::FixedVector<LogEntry, 57> entries;
};

util::Result<Logbook> decodeLogbook(util::ByteView frame);

// snake_case name of a bit of the JK02 / JK-PB alarm word, e.g. "cell_overvoltage".
std::string_view alarmBitName(unsigned bit);

// Encoder of BMS -> host 55 AA frames (the simulator, tests): fields written at their
// offsets, little-endian, the sum8 sealed at 299 by frame().
class FrameBuilder {
public:
    explicit FrameBuilder(FrameType type, std::uint8_t counter = 0);
    FrameBuilder& u8(std::size_t offset, std::uint8_t v);
    FrameBuilder& u16(std::size_t offset, std::uint16_t v);
    FrameBuilder& i16(std::size_t offset, std::int16_t v) { return u16(offset, static_cast<std::uint16_t>(v)); }
    FrameBuilder& u32(std::size_t offset, std::uint32_t v);
    FrameBuilder& i32(std::size_t offset, std::int32_t v) { return u32(offset, static_cast<std::uint32_t>(v)); }
    FrameBuilder& f32(std::size_t offset, float v);
    FrameBuilder& text(std::size_t offset, std::string_view s);  // no terminator added
    std::array<std::uint8_t, kFrameSize> frame() const;

private:
    std::array<std::uint8_t, kFrameSize> bytes_{};
};

// Host -> BMS commands.
using Command = std::array<std::uint8_t, kCommandSize>;

namespace reg {
constexpr std::uint8_t kCellOvp = 0x04;
constexpr std::uint8_t kChargeSwitch = 0x1D;
constexpr std::uint8_t kDischargeSwitch = 0x1E;
constexpr std::uint8_t kBalancerSwitch = 0x1F;
constexpr std::uint8_t kHeater = 0x27;
constexpr std::uint8_t kJk04BalancerSwitch = 0x6C;
constexpr std::uint8_t kRequestSettings = 0x96;
constexpr std::uint8_t kRequestDeviceInfo = 0x97;
constexpr std::uint8_t kRequestLogbook = 0xA1;
}  // namespace reg

Command encodeCommand(std::uint8_t reg, std::uint32_t value = 0, std::uint8_t length = 0);
Command encodeFloatCommand(std::uint8_t reg, float value);  // JK04 float settings
inline Command encodeRequestDeviceInfo() { return encodeCommand(reg::kRequestDeviceInfo); }
inline Command encodeRequestSettings() { return encodeCommand(reg::kRequestSettings); }

enum class Switch : std::uint8_t { Charge, Discharge, Balancer, Heater };
// OutOfRange when the variant has no such switch (JK04: balancer only; heater: JK02_32S).
util::Result<Command> encodeSwitch(Variant variant, Switch which, bool on);

struct DecodedCommand {
    std::uint8_t reg = 0;
    std::uint8_t length = 0;
    std::uint32_t value = 0;
    std::uint8_t checksum = 0;
};

// Parses a 20-byte host command; BadChecksum when byte 19 is not the sum8 of 0 .. 18.
util::Result<DecodedCommand> decodeCommand(util::ByteView bytes);

}  // namespace jkbms::codec::ble
