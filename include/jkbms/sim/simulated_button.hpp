#pragma once
// SimulatedButton: the display-port relay of a simulated BMS. Closing and opening the
// contact is what the BMS's button sees, with the time of each edge, so a press the daemon
// makes switches the simulated BMS exactly as it would a real one (SimulatedBms::setButton).

#include <chrono>
#include <string>

#include "jkbms/power/relay.hpp"
#include "jkbms/sim/simulated_bms.hpp"

namespace jkbms::sim {

class SimulatedButton final : public power::Relay {
public:
    explicit SimulatedButton(SimulatedBms& bms) : bms_(bms) {}
    void set(bool closed) override { bms_.setButton(closed, std::chrono::steady_clock::now()); }
    std::string describe() const override { return "the simulated BMS's display port"; }

private:
    SimulatedBms& bms_;
};

}  // namespace jkbms::sim
