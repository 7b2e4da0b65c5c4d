#pragma once
// What a simulated BMS answers to the bytes a client sends: the protocol half of the
// simulator, kept apart from the pty (PtyServer) so each protocol is one small class.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "jkbms/codec/nw.hpp"
#include "jkbms/codec/pb_modbus.hpp"
#include "jkbms/sim/simulated_bms.hpp"

namespace jkbms::sim {

using Answer = std::vector<std::uint8_t>;

class Responder {
public:
    virtual ~Responder() = default;
    // Bytes from the client; appends one answer per complete request it serves.
    virtual void feed(util::ByteView bytes, std::vector<Answer>& answers) = 0;
    // A new connection: forget partial input.
    virtual void reset() = 0;
};

// An NW BMS on the UART port: answers read-all requests and switch writes (0xAB, 0xAC, 0x9D).
class NwResponder final : public Responder {
public:
    explicit NwResponder(SimulatedBms& bms) : bms_(bms) {}
    void feed(util::ByteView bytes, std::vector<Answer>& answers) override;
    void reset() override { framer_.reset(); }

private:
    Answer write(util::ByteView payload);
    SimulatedBms& bms_;
    codec::nw::Framer framer_;
};

// JK-PB packs on one RS485 bus, by DIP address: each answers the trigger requests for its
// address with the 300-byte 55 AA frame followed by the FC16 ACK (jk-protocols.md 3.2), and
// FC16 writes of the switch registers 0x1070 / 0x1074 / 0x1078 with the plain ACK (3.4).
class PbResponder final : public Responder {
public:
    void addPack(std::uint8_t address, SimulatedBms& bms) { packs_[address] = &bms; }
    // A pack that stops answering (its cable pulled) while the others go on.
    void setSilent(std::uint8_t address, bool silent) { silent_[address] = silent; }
    bool silent(std::uint8_t address) const {
        auto it = silent_.find(address);
        return it != silent_.end() && it->second;
    }
    // Whether the pack at `address` answers at all (there, not silent, powered): a master
    // hears nothing from it otherwise.
    bool answers(std::uint8_t address) const {
        auto it = packs_.find(address);
        return it != packs_.end() && !silent(address) && it->second->powered();
    }
    std::vector<std::uint8_t> addresses() const {
        std::vector<std::uint8_t> out;
        for (const auto& [a, bms] : packs_) out.push_back(a);
        return out;
    }
    // Firmware that answers the device-info ("about") trigger only now and then: none at all
    // while set (the serial number does not come).
    void setAboutSilent(std::uint8_t address, bool silent) { aboutSilent_[address] = silent; }
    // With a master on the bus the slaves answer only the master (PbMaster), never a driver.
    void setMasterPresent(bool present) { masterPresent_ = present; }
    // The answer a pack gives to a trigger: its 55 AA frame and the FC16 ACK.
    Answer answerFor(std::uint8_t address, codec::pb::Trigger trigger);
    void feed(util::ByteView bytes, std::vector<Answer>& answers) override;
    void reset() override { framer_.reset(); }
    // Tests of the driver's pacing: the shortest time between two requests seen on the bus
    // (to any address, answered or not), and how many requests came since clearRequestGaps().
    std::optional<std::chrono::steady_clock::duration> minRequestGap() const { return minGap_; }
    std::uint64_t requestsSeen() const { return requestsSeen_; }
    void clearRequestGaps() {
        minGap_.reset();
        lastRequestAt_.reset();
        requestsSeen_ = 0;
    }

private:
    static Answer ackFor(std::uint8_t address, std::uint16_t reg, std::uint16_t quantity);
    void noteRequest();

    std::map<std::uint8_t, SimulatedBms*> packs_;
    std::map<std::uint8_t, bool> silent_;
    std::map<std::uint8_t, bool> aboutSilent_;
    bool masterPresent_ = false;
    codec::pb::BusFramer framer_;
    std::uint8_t counter_ = 0;
    std::optional<std::chrono::steady_clock::time_point> lastRequestAt_;
    std::optional<std::chrono::steady_clock::duration> minGap_;
    std::uint64_t requestsSeen_ = 0;
};

}  // namespace jkbms::sim
