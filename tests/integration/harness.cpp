#include "integration/harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace jkbms::test {
namespace {

pid_t daemonPid = -1;
std::string daemonAddress;
bool daemonTried = false;

void startDaemon() {
    daemonTried = true;
    int pipeFd[2];
    if (pipe(pipeFd) != 0) return;
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(pipeFd[1], STDOUT_FILENO);
        close(pipeFd[0]);
        close(pipeFd[1]);
        // Unprivileged notices ("Failed to set fd limit") would clutter the test log.
        if (int devnull = open("/dev/null", O_WRONLY); devnull >= 0) dup2(devnull, STDERR_FILENO);
        execlp("dbus-daemon", "dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address",
               static_cast<char*>(nullptr));
        _exit(127);
    }
    close(pipeFd[1]);
    if (pid < 0) {
        close(pipeFd[0]);
        return;
    }
    // The daemon prints its address on one line as soon as it listens.
    std::string line;
    char c = 0;
    while (read(pipeFd[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    close(pipeFd[0]);
    if (line.empty()) {
        waitpid(pid, nullptr, 0);
        return;
    }
    daemonPid = pid;
    daemonAddress = line;
    std::atexit(PrivateBus::stop);
}

}  // namespace

const std::string& PrivateBus::address() {
    if (!daemonTried) startDaemon();
    return daemonAddress;
}

void PrivateBus::stop() {
    if (daemonPid > 0) {
        kill(daemonPid, SIGTERM);
        waitpid(daemonPid, nullptr, 0);
        daemonPid = -1;
    }
}

bool pumpUntil(boost::asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return done();
        if (io.stopped()) io.restart();
        if (io.run_one_for(2ms) == 0 && io.stopped()) {
            // No work at all in the loop: the condition waits on something outside it (a
            // child process), so yield briefly instead of spinning.
            std::this_thread::sleep_for(1ms);
        }
    }
    return true;
}

ChildProcess::ChildProcess(std::vector<std::string> argv) {
    int out[2];
    int err[2];
    if (pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        for (int fd : {out[0], out[1], err[0], err[1]}) close(fd);
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    outFd_ = out[0];
    errFd_ = err[0];
    fcntl(outFd_, F_SETFL, O_NONBLOCK);
    fcntl(errFd_, F_SETFL, O_NONBLOCK);
}

ChildProcess::~ChildProcess() {
    if (!exited_ && pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (outFd_ >= 0) close(outFd_);
    if (errFd_ >= 0) close(errFd_);
}

void ChildProcess::drain(int& fd, std::string& into) {
    if (fd < 0) return;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            into.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) {  // EOF
            close(fd);
            fd = -1;
        }
        return;
    }
}

bool ChildProcess::poll() {
    drain(outFd_, out_);
    drain(errFd_, err_);
    if (!exited_) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            exited_ = true;
            exitCode_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
    // Done when the child exited and both pipes reached EOF.
    return exited_ && outFd_ < 0 && errFd_ < 0;
}

ToolResult runTool(boost::asio::io_context& io, std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    ChildProcess child(std::move(argv));
    ToolResult r;
    if (!pumpUntil(io, [&] { return child.poll(); }, timeout)) {
        r.err = "timed out; output so far: " + child.out() + child.err();
        return r;
    }
    r.exitCode = child.exitCode();
    r.out = child.out();
    r.err = child.err();
    return r;
}

ToolResult busctl(boost::asio::io_context& io, std::vector<std::string> args) {
    std::vector<std::string> argv = {"busctl", "--address=" + PrivateBus::address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return runTool(io, std::move(argv));
}

}  // namespace jkbms::test
