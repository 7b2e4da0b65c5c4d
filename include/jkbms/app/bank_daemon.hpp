#pragma once
// BankDaemon (`dbus-jkbms --bank`): a bank of parallel packs served by other daemons - NW packs
// on a USB adapter each, BLE packs - published as ONE com.victronenergy.battery for DVCC
// (issue 16; the combining rules are domain/bank.hpp).
//
// Each member daemon runs with bank.member: its battery service has its limits under /Bank/*
// and no /Info/Max*, so systemcalc does not take it for a BMS. This daemon follows those
// services over D-Bus and publishes the combination:
//
//   members     bank.members (bus-name suffixes -> com.victronenergy.battery.<suffix>), or,
//               when empty, every com.victronenergy.battery.* whose items include
//               /Bank/MaxChargeVoltage (found by ListNames at start, NameOwnerChanged later;
//               once a member, a service stays one for this daemon's life).
//   following   GetItems on "/" when a member appears (and again when its name gets a new
//               owner: a restart), then its ItemsChanged signals. Its name leaving the bus
//               makes it Lost at once.
//   liveness    a member whose daemon is wedged still holds its name: every
//               min(2 s, comms.stale_after / 2) its /Connected is asked (GetValue). No answer
//               (reply or signal) for comms.stale_after: Stale; for comms.invalidate_after:
//               Lost - whatever the member itself last said. So no charger is steered by
//               limits older than invalidate_after.
//   publishing  domain::combineBank() at most once per event-loop turn after any change,
//               through a dbus::BatteryService with `bank = true` (com.victronenergy.battery.
//               <bank.name>, keyed "jkbms_bank_<name>" in localsettings). With bank.members
//               given the service starts at once; in auto mode after the members on the bus
//               at start have been looked at (at most kDiscoveryWait), so its /ProductName
//               ("JK BMS bank (N packs)") counts them.
//   settings    the members are also a setting on the GX (gx_settings.hpp): the string
//               /Settings/Devices/<bank uid>/JkBms/Bank/Members (kMembersSetting), created
//               once the bank's service has negotiated with localsettings, config.yaml's
//               bank.members (comma separated) as its default. A stored value overrides the
//               YAML; a change applies at once: a list follows exactly those services (members
//               no longer listed are dropped, listed ones followed as soon as they are on the
//               bus), an empty one switches to auto mode (the members followed stay). The bank
//               service's /ProductName and /Mgmt/Connection keep their texts from the start.
//   logging     one line per change: a member found, stale, lost, back; the bank's CCL / DCL
//               limitation changing hands (not each time its numbers move).
//   exiting     SIGTERM / SIGINT -> ExitCode::Stopped (the name released within 500 ms); a
//               D-Bus failure (the bus gone, the name taken) -> ExitCode::DbusFailed.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jkbms/app/daemon.hpp"  // ExitCode, StartError
#include "jkbms/app/gx_settings.hpp"
#include "jkbms/dbus/settings_group.hpp"
#include "jkbms/config/config.hpp"
#include "jkbms/dbus/asio_sdbus_loop.hpp"
#include "jkbms/dbus/battery_service.hpp"
#include "jkbms/dbus/dvcc_watch.hpp"
#include "jkbms/dbus/item.hpp"
#include "jkbms/domain/bank.hpp"
#include "jkbms/domain/comms_monitor.hpp"

namespace sdbus {
class IConnection;
class IProxy;
}  // namespace sdbus

namespace jkbms::app {

// Auto mode: how long the members present at start may take to answer GetItems before the
// bank's service starts with those found so far.
inline constexpr std::chrono::milliseconds kDiscoveryWait{3000};
// The liveness period at most (shorter when comms.stale_after / 2 is).
inline constexpr std::chrono::milliseconds kLivenessPeriod{2000};
// The bank daemon's setting below kGxSettingsGroup: its members, comma separated ("" = auto).
inline constexpr std::string_view kMembersSetting = "Bank/Members";

class BankDaemon {
public:
    BankDaemon(boost::asio::io_context& io, config::Config config, std::string version = "dev");
    ~BankDaemon();
    BankDaemon(const BankDaemon&) = delete;
    BankDaemon& operator=(const BankDaemon&) = delete;

    // Connects to the bus (config.dbus.address, else as dbus::connectBus() chooses) and starts
    // following. Throws StartError(DbusFailed) when the bus cannot be reached.
    void start();
    // Set once the daemon has decided to end; run() returns soon after.
    std::optional<ExitCode> exitCode() const { return exitCode_; }
    void stop(ExitCode code, const std::string& why);

    // The bank's service; nullptr until it starts (auto mode: after discovery).
    const dbus::BatteryService* service() const { return service_.get(); }
    // The last reading published (or to be published).
    const domain::BankReading& reading() const { return reading_; }
    // The members followed, by bus name suffix ("ttyUSB0"), in the order they are combined.
    std::vector<std::string> members() const;
    // A member's state as the bank uses it (its own, overridden by liveness and presence);
    // nullopt when it is no member.
    std::optional<domain::CommsState> memberComms(const std::string& suffix) const;
    // DVCC as systemcalc applies it (dbus::DvccWatch), followed once the bank's service starts;
    // nullopt until then and while unknown.
    std::optional<bool> dvccEnabled() const { return dvcc_ ? dvcc_->enabled() : std::nullopt; }

private:
    using Clock = std::chrono::steady_clock;
    // One battery service on the bus: a member, or (auto mode) a candidate looked at once per owner.
    struct Entry {
        explicit Entry(const domain::CommsTimes& times);  // out of line: sdbus::IProxy is incomplete here
        ~Entry();
        Entry(const Entry&) = delete;
        Entry& operator=(const Entry&) = delete;
        std::string suffix;            // "ttyUSB0"
        bool member = false;           // configured, or found with /Bank/MaxChargeVoltage
        bool present = false;          // the name has an owner
        bool loaded = false;           // GetItems answered for the current owner
        bool loading = false;          // a GetItems is out
        bool pinging = false;          // a liveness GetValue is out
        std::uint64_t owner = 0;       // bumped on every owner change: older replies are ignored
        std::map<std::string, dbus::Value, std::less<>> values;
        // Per owner, addressed by its unique name (":1.42"), not the well-known one: sd-bus can
        // match a signal's sender against a unique name only, so proxies on well-known names
        // would each get every member's ItemsChanged.
        std::unique_ptr<sdbus::IProxy> root;     // its "/" (GetItems, ItemsChanged)
        std::unique_ptr<sdbus::IProxy> connected;  // its "/Connected" (liveness)
        domain::CommsMonitor liveness;           // since its last answer
        // What was last logged (one line per change).
        std::optional<domain::CommsState> logged;
    };

    void follow();                               // proxies, signal matches, ListNames
    void listNames();                            // ListNames: the battery services on the bus
    void startSettings();                        // the Members setting (once)
    // The Members setting's value: the members followed from now on (see "settings").
    void setMembers(const std::string& text);
    void startService();
    Entry& entry(const std::string& busName);
    void appeared(const std::string& busName, const std::string& uniqueName);  // an owner (new or restarted)
    void askOwner(const std::string& busName);   // GetNameOwner, then appeared()
    void left(const std::string& busName);
    void load(const std::string& busName);       // GetItems
    void ping(const std::string& busName);       // liveness GetValue
    void heard(Entry& e);                        // any answer: fresh
    void tick();
    void changed();                              // coalesced combine + publish
    void combine();
    // Liveness alone: Lost while the member is not on the bus or has not been loaded.
    domain::CommsState effective(const Entry& e, Clock::time_point now) const;
    // The member as the bank combines it: its paths, its comms capped by effective().
    domain::BankMember memberOf(const Entry& e, Clock::time_point now) const;
    void logStates(const std::vector<domain::BankMember>& members);
    void checkDiscovered();                      // auto mode: start the service once settled
    std::vector<std::string> memberSuffixes() const;

    boost::asio::io_context& io_;
    config::Config config_;
    std::string version_;
    std::string ownName_;  // com.victronenergy.battery.<bank.name>: never followed
    bool auto_ = true;
    std::unique_ptr<sdbus::IConnection> connection_;  // following
    std::unique_ptr<dbus::AsioSdbusLoop> loop_;
    std::unique_ptr<sdbus::IProxy> busDaemon_;
    // NameOwnerChanged for com.victronenergy.battery.* (an sdbus::Slot, spelled out so that
    // this header needs no sdbus-c++ include).
    std::unique_ptr<void, std::function<void(void*)>> nameWatch_;
    std::map<std::string, Entry> entries_;    // by bus name
    std::unique_ptr<dbus::BatteryService> service_;
    std::unique_ptr<dbus::SettingsGroup> settings_;  // on service_'s connection: reset before it
    std::unique_ptr<dbus::DvccWatch> dvcc_;  // on connection_ (before it goes)
    domain::BankReading reading_;
    bool listed_ = false;        // ListNames answered (auto mode)
    int askingOwners_ = 0;       // GetNameOwner calls out
    Clock::time_point discoveryDeadline_{};
    bool combinePosted_ = false;
    std::string cclKey_, dclKey_, cvlKey_;  // what decides each limit, as last logged
    boost::asio::steady_timer ticker_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer stopTimer_;
    std::optional<ExitCode> exitCode_;
    // Expires with the daemon: work posted to io_ checks it first.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace jkbms::app
