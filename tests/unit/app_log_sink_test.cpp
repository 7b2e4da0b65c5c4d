// NonBlockingSink: a log that never blocks on a reader that does not read.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>

#include "jkbms/app/log_sink.hpp"

namespace jkbms::app {
namespace {

using namespace std::chrono_literals;

// 100 kB of log into a 4 kB pipe nobody reads: every call returns at once, the lines that do
// not fit are dropped and counted, and once the reader reads the sink says how many.
TEST(NonBlockingSink, DropsInsteadOfBlockingAndSaysHowMany) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    ::fcntl(fds[1], F_SETPIPE_SZ, 4096);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    auto sink = std::make_shared<NonBlockingSink>(fds[1], 8192);
    spdlog::logger logger("test", sink);
    logger.set_pattern("%v");
    logger.flush_on(spdlog::level::trace);
    const std::string line(99, 'x');
    for (int i = 0; i < 1000; ++i) logger.info(line);
    EXPECT_GT(sink->dropped(), 800u);
    EXPECT_LE(sink->buffered(), 8192u);

    boost::asio::io_context io;
    sink->attach(io);  // writes the rest whenever the pipe has room
    std::string got;
    const auto until = std::chrono::steady_clock::now() + 3s;
    while (got.find("log lines dropped") == std::string::npos && std::chrono::steady_clock::now() < until) {
        io.run_for(5ms);
        char buf[4096];
        for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_NE(got.find(std::to_string(sink->dropped()) + " log lines dropped: standard output was not being read"),
              std::string::npos)
        << got.substr(got.size() > 200 ? got.size() - 200 : 0);
    std::size_t kept = 0;
    for (std::size_t at = 0; (at = got.find(line + "\n", at)) != std::string::npos; at += line.size() + 1) ++kept;
    EXPECT_EQ(kept + sink->dropped(), 1000u) << "every line either written whole or counted";
    sink->detach();
    ::close(fds[0]);
    ::close(fds[1]);
}

}  // namespace
}  // namespace jkbms::app
