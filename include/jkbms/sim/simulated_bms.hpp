#pragma once
// SimulatedBms: the battery a JK BMS would see, for the simulator and the tests. State a user
// can script (cells, current, temperatures, SoC, alarms, switches) and, when live, a slow
// drift: the current follows a gentle cycle, the SoC integrates it, the cells follow the SoC.
// Time is passed in.

#include <array>
#include <chrono>
#include <string>
#include <cstdint>
#include <optional>
#include <vector>

namespace jkbms::sim {

struct BmsState {
    std::vector<double> cellsV = std::vector<double>(16, 3.300);
    double currentA = 0;  // + = charging
    double socPercent = 60;
    double capacityAh = 280;
    // Internal resistance, mOhm: how a bank's current splits over parallel packs (jkbms-sim's
    // `bank current`: each pack takes a share proportional to 1 / resistance).
    double resistanceMilliOhm = 1.0;
    double mosTemperatureC = 28;
    double temperature1C = 25;
    double temperature2C = 25;
    std::uint16_t alarms = 0;  // NW alarm word (jk-protocols.md 1.7)
    bool chargeMos = true;
    bool dischargeMos = true;
    bool balancer = true;
    // v11 firmware does not take NW balancer-switch writes (0x9D, jk-protocols.md 1.3): the
    // write is answered but changes nothing.
    bool nwBalancerWritable = false;
    std::uint32_t cycles = 12;
    std::string softwareVersion = "11.XW_S11.48___";          // NW id 0xB7
    std::string manufacturerId = "Input UserdaJK_B2A24S15P";  // NW id 0xBA (factory default)
    std::string deviceId = "Input Us";                        // NW id 0xB4 (factory default)
    std::uint32_t actualCapacityAh = 0;  // NW id 0xB9 (firmware >= 10.10), Ah; 0: not sent
    // What a JK-PB (JK02_32S frames) reports about itself.
    std::uint32_t jk02Alarms = 0;  // JK02 alarm word (jk-protocols.md 2.7)
    std::string model = "JK_PB2A16S15P";
    std::string hardwareVersion = "15A";
    std::string pbSoftwareVersion = "15.38";
    std::string serialNumber = "SIM0000001";
};

class SimulatedBms {
public:
    explicit SimulatedBms(std::size_t cells = 16);

    BmsState& state() { return state_; }
    const BmsState& state() const { return state_; }
    void setLive(bool live) { live_ = live; }
    bool live() const { return live_; }

    // Power, as the display-port button (K- / K+) switches it. A BMS that is off (or asleep)
    // answers nothing. On release, a press held for at least kWakeHold switches a BMS that is
    // off on, one held for at least kOffHold switches a BMS that is on off; shorter presses
    // change nothing, as on the real board.
    static constexpr std::chrono::milliseconds kWakeHold{500};
    static constexpr std::chrono::milliseconds kOffHold{2500};
    bool powered() const { return powered_; }
    void setPowered(bool on) { powered_ = on; }  // falls asleep / is switched on by hand
    void setButton(bool closed, std::chrono::steady_clock::time_point now);
    bool buttonClosed() const { return pressedAt_.has_value(); }
    std::uint32_t buttonPresses() const { return buttonPresses_; }  // releases seen

    // Switch writes as the BMS takes them (NW ids 0xAB / 0xAC / 0x9D, BLE registers 0x1D-0x1F,
    // JK-PB registers 0x1070-0x1078 all land here).
    enum class Switch : std::uint8_t { Charge, Discharge, Balancer };
    void setSwitch(Switch which, bool on);
    std::uint32_t switchWrites() const { return switchWrites_; }  // writes received, taken or not
    void countSwitchWrite() { ++switchWrites_; }

    // Moves the live simulation on by `dt` (no effect when not live).
    void advance(std::chrono::duration<double> dt);

    double packVoltageV() const;
    // The NW read-all reply for the current state.
    std::vector<std::uint8_t> nwReadAllReply() const;
    // JK02_32S frames, as a JK-PB answers its RS485 triggers (and BLE streams them).
    std::array<std::uint8_t, 300> jk02CellInfoFrame(std::uint8_t counter) const;
    std::array<std::uint8_t, 300> jk02SettingsFrame(std::uint8_t counter, std::uint8_t address) const;
    std::array<std::uint8_t, 300> jk02DeviceInfoFrame(std::uint8_t counter) const;

private:
    BmsState state_;
    bool live_ = true;
    bool powered_ = true;
    std::optional<std::chrono::steady_clock::time_point> pressedAt_;
    std::uint32_t buttonPresses_ = 0;
    std::uint32_t switchWrites_ = 0;
    double phase_ = 0;  // radians of the slow current cycle
};

// Parallel packs on one DC bus: `totalA` (+ = charging) split over the packs that can take
// it (powered, that FET on) in proportion to 1 / resistanceMilliOhm; the others get 0 A.
// Each pack's currentA is set and its live drift stopped. false (nothing changed) when no
// pack can take a current that is not 0.
bool shareBankCurrent(const std::vector<SimulatedBms*>& packs, double totalA);

}  // namespace jkbms::sim
