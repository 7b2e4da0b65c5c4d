#pragma once
// PbMaster: a JK-PB at DIP address 0, the bus master (jk-protocols.md 3.3), as the simulator
// plays it: every cycle it polls each slave (cell info, then settings) and then broadcasts its
// own cell-info and settings frames, each followed by an ACK-shaped trailer with address 0.
// All of it goes onto the pty as line traffic a listening driver must decode.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "jkbms/sim/pty_server.hpp"
#include "jkbms/sim/responder.hpp"

namespace jkbms::sim {

class PbMaster {
public:
    PbMaster(boost::asio::io_context& io, PtyServer& pty, PbResponder& slaves, SimulatedBms& self,
             std::chrono::milliseconds cycle = std::chrono::milliseconds(4400));
    void start();
    void stop() { timer_.cancel(); }

private:
    void runCycle();

    PtyServer& pty_;
    PbResponder& slaves_;
    SimulatedBms& self_;
    std::chrono::milliseconds cycle_;
    boost::asio::steady_timer timer_;
};

}  // namespace jkbms::sim
