#include "jkbms/app/charge_state_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jkbms::app {

bool saveChargeState(const std::string& path, const std::string& text, std::string& error) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        error = std::strerror(errno);
        return false;
    }
    auto fail = [&](int err) {
        error = std::strerror(err);
        ::unlink(tmp.c_str());  // never leave a partial (or empty) state behind
        return false;
    };
    for (std::size_t done = 0; done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : ENOSPC;
            ::close(fd);
            return fail(err);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        return fail(err);
    }
    if (::close(fd) != 0) return fail(errno);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno);
    return true;
}

ChargeStateRead loadChargeState(const std::string& path, std::chrono::system_clock::time_point now) {
    ChargeStateRead r;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno != ENOENT) r.problems.push_back(std::string{"cannot be read: "} + std::strerror(errno));
        return r;
    }
    std::string text;
    char buf[1024];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            r.problems.push_back(std::string{"cannot be read: "} + std::strerror(errno));
            ::close(fd);
            return r;
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > kMaxChargeStateBytes) break;  // parseChargeState says it is too long
    }
    ::close(fd);
    return parseChargeState(text, now);
}

}  // namespace jkbms::app
