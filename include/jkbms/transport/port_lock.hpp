#pragma once
// PortLock: one owner per serial port. TIOCEXCL does not stop root, and every driver on a GX
// runs as root, so two openers of one port (two daemons, or the daemon and `jkbms read`) would
// both poll and steal each other's replies. Two locks, taken when the port is opened:
//
//   flock(2)      LOCK_EX | LOCK_NB on the opened device (its inode, whatever path or symlink
//                 led to it); released with the descriptor, so a crash leaves nothing behind.
//                 Keeps dbus-jkbms and jkbms off each other.
//   lock file     Venus's serial-starter convention, for everything else on a GX: a symlink
//                 /var/lock/serial-starter/<tty> whose target is the owner's PID (made with
//                 `ln -s $$`, a stale one - no /proc/<pid> - removed). Taken only where that
//                 directory exists (a GX); one held by a live process other than this one or
//                 its parent (a run script that started us) means the port is taken. Ours is
//                 removed when the lock goes.
//
// A port taken is a PortInUse (an EBUSY std::system_error) naming the holder when it can be
// found (the lock file's PID, else a process with the device open, from /proc).

#include <sys/types.h>

#include <string>
#include <system_error>

namespace jkbms::transport {

struct PortInUse : std::system_error {
    PortInUse(const std::string& path, std::string holderName, pid_t holderPid);
    std::string holder;  // process name (/proc/<pid>/comm), "" when unknown
    pid_t pid = 0;       // 0 when unknown
};

class PortLock {
public:
    static constexpr const char* kSerialStarterDir = "/var/lock/serial-starter";

    // `fd`: the port, opened from `path`. Throws PortInUse when another process holds it.
    PortLock(int fd, const std::string& path, std::string lockDir = kSerialStarterDir);
    ~PortLock();
    PortLock(const PortLock&) = delete;
    PortLock& operator=(const PortLock&) = delete;

    // The lock file we made ("" when none: no lock directory, or one was ours already).
    const std::string& lockFile() const { return lockFile_; }

private:
    std::string lockFile_;
};

}  // namespace jkbms::transport
