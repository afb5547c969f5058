// The exec check against real processes (/bin/sh): its result waits for both the exit and the
// end of the output, so what it reports does not depend on which of the two the loop saw first.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include "health/check_run.hpp"

namespace health = herald::health;

using namespace std::chrono_literals;

namespace {

// Runs one exec check to its result on a fresh io_context (bounded: 10 s of loop time).
std::optional<health::CheckResult> run_exec(std::vector<std::string> argv, health::Duration timeout) {
  boost::asio::io_context io;
  std::optional<health::CheckResult> result;
  auto run = health::start_exec_check(io, health::ExecCheckSpec{std::move(argv), std::nullopt}, timeout,
                                      [&](health::CheckResult r) { result = std::move(r); });
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!result && std::chrono::steady_clock::now() < until) io.run_for(50ms);
  return result;
}

}  // namespace

TEST_CASE("an exec check counts every byte its command wrote, however the exit and the output interleave") {
  // 100000 bytes through a pipe between two processes: the last chunks and the exit reach the
  // loop in varying order (before the fix up to one run in three lost a 4 KiB chunk).
  for (int i = 0; i < 100; ++i) {
    CAPTURE(i);
    const auto r = run_exec({"/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"}, 10s);
    REQUIRE(r.has_value());
    CHECK(r->pass);
    CHECK(r->reason == "exit 0: " + std::string(4096, 'x') + " [95904 more bytes]");
  }
}

TEST_CASE("output written just before the exit is in the reason") {
  for (int i = 0; i < 20; ++i) {
    CAPTURE(i);
    const auto r = run_exec({"/bin/sh", "-c", "echo first; echo last >&2; exit 4"}, 10s);
    REQUIRE(r.has_value());
    CHECK_FALSE(r->pass);
    CHECK(r->reason == "exit 4: first\nlast");
  }
}

TEST_CASE("a process that left the group and holds the output open delays the result only to the deadline") {
  // setsid puts the background sleep in its own session, out of reach of the group kill; it
  // keeps the pipe open, so end of file never comes. The command exits 0 as soon as the sleep
  // has told it (through a FIFO) that it left the group, and prints the sleep's pid.
  const char* script =
      "d=$(mktemp -d) && mkfifo $d/f || exit 9; "
      "setsid sh -c 'echo $$ > \"$0\"; exec sleep 5' $d/f & "
      "read p < $d/f; rm -r $d; echo $p; exit 0";
  const auto t0 = std::chrono::steady_clock::now();
  // The deadline leaves a busy machine time to run the shell, the FIFO and setsid before it.
  const auto r = run_exec({"/bin/sh", "-c", script}, 3s);
  const auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(r.has_value());
  CHECK(r->pass);
  // The reason is "exit 0: <pid of the sleep> [output still open at the deadline]".
  const std::string head = "exit 0: ";
  const std::string tail = " [output still open at the deadline]";
  REQUIRE(r->reason.starts_with(head));
  REQUIRE(r->reason.ends_with(tail));
  const std::string pid_text = r->reason.substr(head.size(), r->reason.size() - head.size() - tail.size());
  const int pid = std::stoi(pid_text);
  REQUIRE(pid > 1);
  ::kill(pid, SIGKILL);  // ours: started by this test's command, named by its own output
  CHECK(took >= 3s);
  CHECK(took < 5s);
}

TEST_CASE("an exec check runs without capabilities and cannot regain any") {
  // The kernel's own view of the command's process (proc_pid_status(5)), through grep so that
  // it is the exec'd program's status, not the shell's before a later exec.
  const auto r = run_exec({"grep", "-E", "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):", "/proc/self/status"}, 10s);
  REQUIRE(r.has_value());
  REQUIRE(r->pass);
  const std::string& s = r->reason;
  CAPTURE(s);
  CHECK(s.find("CapInh:\t0000000000000000") != std::string::npos);
  CHECK(s.find("CapPrm:\t0000000000000000") != std::string::npos);
  CHECK(s.find("CapEff:\t0000000000000000") != std::string::npos);
  CHECK(s.find("CapAmb:\t0000000000000000") != std::string::npos);
  CHECK(s.find("NoNewPrivs:\t1") != std::string::npos);
  // Emptying the bounding set needs CAP_SETPCAP, which this test has when run as root.
  if (::geteuid() == 0) CHECK(s.find("CapBnd:\t0000000000000000") != std::string::npos);
}

TEST_CASE("a command that cannot be executed is a failure naming it") {
  const auto r = run_exec({"/nonexistent/check"}, 10s);
  REQUIRE(r.has_value());
  CHECK_FALSE(r->pass);
  CHECK(r->reason == "exec /nonexistent/check: No such file or directory");
  const auto p = run_exec({"no-such-check-command-in-path"}, 10s);
  REQUIRE(p.has_value());
  CHECK(p->reason == "exec no-such-check-command-in-path: No such file or directory");
}
