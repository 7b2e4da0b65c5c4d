#pragma once
// Integration-test plumbing: a private dbus-daemon (never the system bus), pumping the
// io_context until a condition holds (no blind sleeps), and child processes (busctl, the
// Python client) that run while the loop keeps serving the bus.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace jkbms::test {

using namespace std::chrono_literals;

// Starts `dbus-daemon --session` on a private address for the whole test program; tests
// call GTEST_SKIP() when it could not be started (no dbus-daemon installed).
class PrivateBus {
public:
    static const std::string& address();  // "" when unavailable
    static void stop();
};

// Runs the loop until `done()` is true or `timeout` passes; returns done().
bool pumpUntil(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds timeout = 5s);

class ChildProcess {
public:
    explicit ChildProcess(std::vector<std::string> argv);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Collects available output and reaps the child; true once it has exited.
    bool poll();
    const std::string& out() const { return out_; }
    const std::string& err() const { return err_; }
    int exitCode() const { return exitCode_; }
    pid_t pid() const { return pid_; }
    // The read end of the child's standard output (tests that leave it unread).
    int outFd() const { return outFd_; }

private:
    void drain(int& fd, std::string& into);

    pid_t pid_ = -1;
    int outFd_ = -1;
    int errFd_ = -1;
    bool exited_ = false;
    int exitCode_ = -1;
    std::string out_;
    std::string err_;
};

struct ToolResult {
    int exitCode = -1;
    std::string out;
    std::string err;
};

// Runs a command to completion while pumping `io` (so our own services answer it).
ToolResult runTool(boost::asio::io_context& io, std::vector<std::string> argv,
                   std::chrono::milliseconds timeout = 10s);

// busctl against the private bus: `busctl --address=... call <args...>`.
ToolResult busctl(boost::asio::io_context& io, std::vector<std::string> args);

}  // namespace jkbms::test
