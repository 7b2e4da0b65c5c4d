// jkbms-sim: plays a JK BMS (NW protocol) on a pseudo-terminal, for trying dbus-jkbms and
// jkbms without hardware. Prints the port to open, then takes commands on standard input.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <sstream>

#include <map>
#include <vector>
#include <memory>

#include "jkbms/sim/pb_master.hpp"
#include "jkbms/sim/pty_server.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: jkbms-sim [--link PATH] [--cells N] [--static] [--protocol nw|pb] [--packs 1,2,..] [--master]\n"
    "\n"
    "Plays JK BMSes on a pseudo-terminal (115200 8N1) and prints the port to open. --link\n"
    "makes a stable symlink to it (kept across unplug/plug). nw (default): one BMS on its UART\n"
    "port. pb: JK-PB packs on an RS485 bus at the --packs addresses (default 1); --master adds\n"
    "a pack at address 0 that polls the others and broadcasts, as a real master does. The\n"
    "values drift slowly unless --static. Commands on standard input, one per line:\n"
    "  pack N (pb: the pack the next commands change)\n"
    "  current A | soc PCT | cell N VOLTS | cells VOLTS | temp 1|2|mos C\n"
    "  capacity AH | resistance MOHM (the pack's internal resistance)\n"
    "  bank current A (pb: A over the packs that are on, split by 1 / resistance, as\n"
    "    parallel packs share it; a pack with that FET off takes none)\n"
    "  alarms WORD | charge on|off | discharge on|off | live on|off\n"
    "  power on|off (off: asleep, answers nothing until switched on or woken; under --master\n"
    "    the master's polls of that pack go unanswered too)\n"
    "  id TEXT (nw: the device id 0xB4; pb: the serial number - what the battery is known by)\n"
    "  fault none|silence|garbage|truncated|checksum|late | unplug | plug | status\n"
    "  echo on|off (an RS485 adapter that echoes every byte sent; with fault silence: only that)\n"
    "  usb on|off (answers reach the port in 62-byte pieces at the line's pace, as a USB\n"
    "    adapter hands them over: one wake-up per piece for a reader that does not wait)\n"
    "\n"
    "examples:\n"
    "  jkbms-sim --link /tmp/jkbms0 &  dbus-jkbms /tmp/jkbms0\n"
    "  jkbms-sim --protocol pb --packs 1,2,3 --link /tmp/rs485 &  dbus-jkbms --protocol pb /tmp/rs485\n";

using jkbms::sim::PtyServer;
using jkbms::sim::SimulatedBms;

struct Packs {
    std::map<std::uint8_t, std::unique_ptr<SimulatedBms>> byAddress;
    std::uint8_t selected = 0;
    SimulatedBms& current() { return *byAddress.at(selected); }
};

std::string command(Packs& packs, PtyServer& pty, const std::string& line) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "pack") {
        int n = -1;
        in >> n;
        if (n < 0 || n > 15 || !packs.byAddress.contains(static_cast<std::uint8_t>(n))) return "no pack " + std::to_string(n);
        packs.selected = static_cast<std::uint8_t>(n);
        return "ok";
    }
    if (cmd == "bank") {
        std::string what;
        double total = 0;
        in >> what >> total;
        if (in.fail() || what != "current") return "bank current A";
        std::vector<SimulatedBms*> bank;
        for (auto& [a, b] : packs.byAddress) bank.push_back(b.get());
        if (!jkbms::sim::shareBankCurrent(bank, total)) return "no pack can take the current";
        std::ostringstream out;
        out << "ok:";
        for (const auto& [a, b] : packs.byAddress) out << " " << int{a} << "=" << b->state().currentA << "A";
        return out.str();
    }
    SimulatedBms& bms = packs.current();
    auto& s = bms.state();
    auto onOff = [&](bool& target) {
        std::string v;
        in >> v;
        if (v != "on" && v != "off") return std::string{"expected on or off"};
        target = v == "on";
        return std::string{"ok"};
    };
    if (cmd == "current") { in >> s.currentA; bms.setLive(false); }
    else if (cmd == "soc") { in >> s.socPercent; bms.setLive(false); }
    else if (cmd == "capacity") {
        double ah = 0;
        in >> ah;
        if (!(ah > 0 && ah <= 2000)) return "capacity: 0 to 2000 Ah";
        s.capacityAh = ah;
    } else if (cmd == "resistance") {
        double mOhm = 0;
        in >> mOhm;
        if (!(mOhm > 0 && mOhm <= 1000)) return "resistance: 0 to 1000 mOhm";
        s.resistanceMilliOhm = mOhm;
    }
    else if (cmd == "cell") {
        std::size_t n = 0;
        double v = 0;
        in >> n >> v;
        if (n == 0 || n > s.cellsV.size()) return "no cell " + std::to_string(n);
        s.cellsV[n - 1] = v;
        bms.setLive(false);
    } else if (cmd == "cells") {
        double v = 0;
        in >> v;
        s.cellsV.assign(s.cellsV.size(), v);
        bms.setLive(false);
    } else if (cmd == "temp") {
        std::string which;
        double c = 0;
        in >> which >> c;
        if (which == "1") s.temperature1C = c;
        else if (which == "2") s.temperature2C = c;
        else if (which == "mos") s.mosTemperatureC = c;
        else return "temp 1, 2 or mos";
    } else if (cmd == "alarms") { in >> s.alarms; }
    else if (cmd == "charge") return onOff(s.chargeMos);
    else if (cmd == "discharge") return onOff(s.dischargeMos);
    else if (cmd == "live") {
        bool live = bms.live();
        auto r = onOff(live);
        bms.setLive(live);
        return r;
    } else if (cmd == "power") {
        bool on = bms.powered();
        auto r = onOff(on);
        bms.setPowered(on);
        return r;
    } else if (cmd == "id") {
        // NW id 0xB4 (the device id / user data a battery is known by); pb: the serial number.
        std::string v;
        in >> v;
        if (v.empty()) return "expected an id";
        s.deviceId = v;
        s.serialNumber = v;
    } else if (cmd == "fault") {
        std::string name;
        in >> name;
        auto f = jkbms::sim::parseFault(name);
        if (!f) return "unknown fault '" + name + "'";
        pty.setFault(*f);
    } else if (cmd == "echo") {
        bool on = pty.echo();
        auto r = onOff(on);
        pty.setEcho(on);
        return r;
    } else if (cmd == "usb") {
        bool on = false;
        auto r = onOff(on);
        if (r == "ok") pty.setUsbPieces(on ? PtyServer::kFtdiPiece : 0);
        return r;
    } else if (cmd == "unplug") pty.unplug();
    else if (cmd == "plug") pty.plug();
    else if (cmd == "status") {
        std::ostringstream out;
        out << "port " << pty.path() << (pty.plugged() ? "" : " (unplugged)") << ", fault "
            << jkbms::sim::faultName(pty.fault()) << (pty.echo() ? ", echo" : "") << ", pack " << int{packs.selected} << ": " << bms.packVoltageV()
            << " V, " << (bms.powered() ? "on" : "off") << ", " << s.currentA
            << " A, SoC " << s.socPercent << " %, requests " << pty.requests() << ", answers " << pty.answers();
        return out.str();
    } else if (!cmd.empty()) return "unknown command '" + cmd + "'";
    if (in.fail()) return "bad value";
    return "ok";
}

}  // namespace

int main(int argc, char** argv) {
    PtyServer::Options options;
    std::size_t cells = 16;
    bool live = true;
    bool pb = false;
    bool master = false;
    std::vector<std::uint8_t> addresses;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "-h" || a == "--help") {
            std::cout << kUsage;
            return 0;
        } else if (a == "--link" && i + 1 < argc) {
            options.linkPath = argv[++i];
        } else if (a == "--cells" && i + 1 < argc) {
            cells = std::strtoul(argv[++i], nullptr, 10);
            if (cells < 1 || cells > 32) {
                std::cerr << "jkbms-sim: --cells takes 1 to 32\n";
                return 2;
            }
        } else if (a == "--static") {
            live = false;
        } else if (a == "--protocol" && i + 1 < argc) {
            const std::string_view p = argv[++i];
            if (p != "nw" && p != "pb") {
                std::cerr << "jkbms-sim: --protocol takes nw or pb\n";
                return 2;
            }
            pb = p == "pb";
        } else if (a == "--packs" && i + 1 < argc) {
            std::istringstream list(argv[++i]);
            for (std::string item; std::getline(list, item, ',');) {
                const long n = std::strtol(item.c_str(), nullptr, 10);
                if (n < 1 || n > 15) {
                    std::cerr << "jkbms-sim: pack addresses are 1 to 15\n";
                    return 2;
                }
                addresses.push_back(static_cast<std::uint8_t>(n));
            }
        } else if (a == "--master") {
            master = true;
        } else {
            std::cerr << "jkbms-sim: unknown option '" << a << "' (see --help)\n";
            return 2;
        }
    }
    boost::asio::io_context io;
    Packs packs;
    if (!pb) addresses = {0};
    else if (addresses.empty()) addresses = {1};
    if (pb && master) addresses.insert(addresses.begin(), 0);
    for (std::uint8_t address : addresses) {
        auto bms = std::make_unique<SimulatedBms>(cells);
        bms->setLive(live);
        bms->state().serialNumber = "SIM" + std::to_string(address);
        packs.byAddress.emplace(address, std::move(bms));
    }
    packs.selected = addresses.front();
    jkbms::sim::NwResponder nw(packs.current());
    jkbms::sim::PbResponder bus;
    for (auto& [address, bms] : packs.byAddress)
        if (address != 0) bus.addPack(address, *bms);
    bus.setMasterPresent(master);
    PtyServer pty(io, pb ? static_cast<jkbms::sim::Responder&>(bus) : nw, options);
    std::unique_ptr<jkbms::sim::PbMaster> pbMaster;
    if (pb && master) {
        pbMaster = std::make_unique<jkbms::sim::PbMaster>(io, pty, bus, *packs.byAddress.at(0));
        pbMaster->start();
    }
    std::cout << pty.path() << std::endl;

    boost::asio::steady_timer tick(io);
    std::function<void()> advance = [&] {
        tick.expires_after(std::chrono::milliseconds(200));
        tick.async_wait([&](const boost::system::error_code& ec) {
            if (ec) return;
            for (auto& [address, bms] : packs.byAddress) bms->advance(std::chrono::milliseconds(200));
            advance();
        });
    };
    advance();

    boost::asio::posix::stream_descriptor input(io, ::dup(STDIN_FILENO));
    boost::asio::streambuf lines;
    std::function<void()> readLine = [&] {
        boost::asio::async_read_until(input, lines, '\n', [&](const boost::system::error_code& ec, std::size_t) {
            if (ec) return;  // stdin closed: keep serving until a signal
            std::istream is(&lines);
            std::string line;
            std::getline(is, line);
            std::cout << command(packs, pty, line) << std::endl;
            readLine();
        });
    };
    readLine();

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    io.run();
    return 0;
}
