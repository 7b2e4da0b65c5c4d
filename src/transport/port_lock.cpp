#include "jkbms/transport/port_lock.hpp"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace jkbms::transport {
namespace {

namespace fs = std::filesystem;

std::string processName(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
}

bool alive(pid_t pid) { return pid > 0 && fs::exists("/proc/" + std::to_string(pid)); }

// The process holding the flock on `device` (/proc/locks: "1: FLOCK ADVISORY WRITE <pid>
// <maj>:<min>:<inode> 0 EOF", the device node's filesystem and inode), or 0.
pid_t flockedBy(const fs::path& device) {
    struct stat st {};
    if (::stat(device.c_str(), &st) != 0) return 0;
    std::ifstream in("/proc/locks");
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::string id, kind, advisory, mode, where;
        long pid = 0;
        if (!(fields >> id >> kind) || kind != "FLOCK") continue;
        if (!(fields >> advisory >> mode >> pid >> where)) continue;
        unsigned major = 0, minor = 0;
        unsigned long inode = 0;
        if (std::sscanf(where.c_str(), "%x:%x:%lu", &major, &minor, &inode) != 3) continue;
        if (inode == st.st_ino && major == ::major(st.st_dev) && minor == ::minor(st.st_dev) && pid != ::getpid())
            return static_cast<pid_t>(pid);
    }
    return 0;
}

// A process other than us that has `device` open (only looked for when the port is taken).
pid_t openedBy(const fs::path& device) try {
    std::error_code ec;
    for (const auto& proc : fs::directory_iterator("/proc", ec)) {
        const std::string name = proc.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        const pid_t pid = static_cast<pid_t>(std::stol(name));
        if (pid == ::getpid()) continue;
        std::error_code fdEc;
        for (const auto& fd : fs::directory_iterator(proc.path() / "fd", fdEc)) {
            std::error_code linkEc;
            if (fs::read_symlink(fd.path(), linkEc) == device) return pid;
        }
    }
    return 0;
} catch (const std::exception&) {  // a process that went away under the walk: nobody found
    return 0;
}

std::string describe(const std::string& path, const std::string& holder, pid_t pid) {
    std::string what = path + " is in use";
    if (pid > 0) what += " by " + (holder.empty() ? std::string{"another process"} : holder) + " (pid " + std::to_string(pid) + ")";
    else what += " by another process";
    return what;
}

}  // namespace

PortInUse::PortInUse(const std::string& path, std::string holderName, pid_t holderPid)
    : std::system_error(EBUSY, std::generic_category(), describe(path, holderName, holderPid)),
      holder(std::move(holderName)),
      pid(holderPid) {}

PortLock::PortLock(int fd, const std::string& path, std::string lockDir) {
    std::error_code ec;
    const fs::path device = fs::canonical(path, ec);
    const bool deviceKnown = !ec;
    const std::string tty = deviceKnown ? device.filename().string() : fs::path(path).filename().string();

    pid_t holder = 0;
    const fs::path lock = fs::path(lockDir) / tty;
    if (!lockDir.empty() && fs::is_directory(lockDir, ec)) {
        for (int attempt = 0; attempt < 2 && lockFile_.empty(); ++attempt) {
            std::error_code linkEc;
            const fs::path target = fs::read_symlink(lock, linkEc);
            if (!linkEc) {
                pid_t pid = 0;
                try {
                    pid = static_cast<pid_t>(std::stol(target.string()));
                } catch (const std::exception&) {
                    pid = 0;
                }
                if (pid == ::getpid() || pid == ::getppid()) break;  // ours (or our run script's)
                if (alive(pid)) {
                    holder = pid;
                    break;
                }
                fs::remove(lock, linkEc);  // stale: its process is gone
            }
            // Atomic, like `ln -s $$`: whoever makes it first owns the port.
            if (::symlink(std::to_string(::getpid()).c_str(), lock.c_str()) == 0) lockFile_ = lock.string();
        }
    }
    if (holder == 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0) return;
    if (!lockFile_.empty()) fs::remove(lockFile_, ec);
    lockFile_.clear();
    if (holder == 0 && deviceKnown) holder = flockedBy(device);
    if (holder == 0 && deviceKnown) holder = openedBy(device);
    throw PortInUse(path, holder > 0 ? processName(holder) : std::string{}, holder);
}

PortLock::~PortLock() {
    if (lockFile_.empty()) return;
    // Only while it still names us: never remove someone else's.
    std::error_code ec;
    if (fs::read_symlink(lockFile_, ec) == fs::path(std::to_string(::getpid()))) fs::remove(lockFile_, ec);
}

}  // namespace jkbms::transport
