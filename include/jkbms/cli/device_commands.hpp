#pragma once
// The device commands of `jkbms`: read, watch, switch, scan. Each parses its own options,
// prints to the context's streams and returns the exit code: 0 done, 1 a device that does not
// answer or a write the BMS did not take (one line saying what was tried), 2 bad usage.

#include <boost/asio/io_context.hpp>
#include <functional>
#include <iosfwd>
#include <span>
#include <string_view>

#include "jkbms/cli/dashboard.hpp"

namespace jkbms::cli {

struct CliContext {
    boost::asio::io_context& io;
    std::ostream& out;
    std::ostream& err;
    bool terminal = false;                  // stdout is a terminal (watch draws a dashboard)
    std::function<Screen()> screen = [] { return Screen{}; };  // the terminal's size now
    bool handleSignals = false;             // watch: end on SIGINT / SIGTERM (the real program)
};

int runRead(std::span<const std::string_view> args, CliContext& ctx);
int runWatch(std::span<const std::string_view> args, CliContext& ctx);
int runSwitch(std::span<const std::string_view> args, CliContext& ctx);
int runScan(std::span<const std::string_view> args, CliContext& ctx);

// watch --dbus: the dashboard's view of a Victron battery service from its items (as GetItems
// on "/" gives them: path -> value; invalid values absent).
struct DbusValue {
    std::optional<double> number;
    std::optional<std::string> text;
};
DashboardView viewFromItems(const std::map<std::string, DbusValue>& items);

}  // namespace jkbms::cli
