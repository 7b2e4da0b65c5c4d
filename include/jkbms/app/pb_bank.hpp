#pragma once
// PbBank: JK-PB packs on one RS485 bus as ONE battery for DVCC (config bank, README "Banks").
// Its service (<port>_bank, sim_<port>_bank with the simulator) has the packs' combined values
// and limits (domain::combineBank); the packs' own services stay as members, their limits
// under /Bank/*. Whether the packs are a bank is decided once, before the first pack's
// service starts (choose()).
//
// When it recombines: polling, once per poll round (roundEnded(), after changed() marked a
// reading) - a pack's CCL 0 is in the bank within the round that brought it; at once (post())
// when a pack's state changes (stale, lost, off, back) or it leaves the bus or returns; and
// once its service has negotiated its instance. Listening under a BMS master (no rounds):
// post() after each update, at most once per loop turn.
//
// GX settings (gx_settings.hpp): the bank's own, under its /Settings/Devices/<bank uid>/JkBms,
// created once its service has negotiated with localsettings; each change is applied to every
// pack's engine (a pack served later starts with them), and every pack's service publishes
// the bank's settings path. The packs have none of their own.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jkbms/app/battery_unit.hpp"
#include "jkbms/dbus/battery_service.hpp"

namespace jkbms::app {

// The battery units of one daemon, by address.
using BatteryUnits = std::map<std::uint8_t, std::unique_ptr<BatteryUnit>>;

class PbBank {
public:
    // Whether JK-PB packs are one battery: false without JK-PB (`pb`), with bank.enabled off
    // or as a member of a `dbus-jkbms --bank`; true for 2+ configured or discovered packs or
    // under a BMS master (`listening`); nullopt while discovery runs (`discovered` not yet).
    static std::optional<bool> choose(const config::Config& config, bool pb, bool listening,
                                      const std::optional<std::vector<std::uint8_t>>& discovered);

    // `units` (read; their engines take the bank's GX settings) and `host` outlive the bank. `expected`: the addresses the
    // bus is known to have (configured or discovered); one without a served unit counts as
    // lost (no charging until it is served).
    PbBank(UnitHost& host, const BatteryUnits& units, std::vector<std::uint8_t> expected);
    PbBank(const PbBank&) = delete;
    PbBank& operator=(const PbBank&) = delete;

    // Starts the service for the bus on `port` (a path; its file name names the service);
    // a bus that cannot be reached or a name taken is host.failed(DbusFailed).
    void start(const std::string& port, bool simulate);
    // A unit published a reading: it goes into the bank at the end of the round.
    void changed() { dirty_ = true; }
    // The poll round is over: recombined when a unit published since the last combination.
    void roundEnded();
    // Recombined once the handler that changed a unit has returned (one per loop turn).
    void post();
    // nullptr when the bus could not be reached.
    dbus::BatteryService* service() { return service_.get(); }
    const dbus::BatteryService* service() const { return service_.get(); }
    // How often the bank's values were combined and published (tests, measurements).
    std::uint64_t combinations() const { return combinations_; }
    // The bank's settings on the GX; nullptr before its service has negotiated with
    // localsettings (or without localsettings).
    const GxSettings* settings() const { return settings_.get(); }

private:
    void combine();
    void startSettings();

    UnitHost& host_;
    const BatteryUnits& units_;
    std::vector<std::uint8_t> expected_;
    std::unique_ptr<dbus::BatteryService> service_;
    std::unique_ptr<GxSettings> settings_;  // on service_'s connection: destroyed first
    bool posted_ = false;
    bool dirty_ = false;  // a unit published since the last combination
    std::uint64_t combinations_ = 0;
    std::string status_;  // logged when it changes
    // Expires with the bank: a posted combination checks it first.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace jkbms::app
