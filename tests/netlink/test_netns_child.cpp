// The fork + unshare(CLONE_NEWNET) runner behind the real-kernel tests (netns_child.hpp),
// and a test of its own reporting.
#include <doctest/doctest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <sstream>

#include "netlink/libnl_backend.hpp"
#include "netns_child.hpp"

namespace herald::netlink::test {

bool Report::check(bool ok, const std::string& what) {
  if (!ok) lines_.push_back("FAIL " + what);
  return ok;
}

bool Report::failed() const {
  for (const auto& l : lines_) {
    if (l.rfind("FAIL ", 0) == 0) return true;
  }
  return false;
}

int sh(const std::string& command) {
  int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

nlohmann::json ip_json(const std::string& args) {
  struct PipeClose {
    void operator()(FILE* f) const { pclose(f); }
  };
  std::unique_ptr<FILE, PipeClose> p(popen(("ip -j " + args + " 2>/dev/null").c_str(), "r"));
  if (!p) return nullptr;
  std::string text;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p.get())) text.append(buf.data(), n);
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return nullptr;  // ip printed nothing (e.g. no such device)
  return j;
}

nlohmann::json ip_addr_entry(const std::string& dev, const std::string& local) {
  auto j = ip_json("addr show dev " + dev);
  if (!j.is_array()) return nullptr;
  for (const auto& link : j) {
    if (!link.contains("addr_info")) continue;
    for (const auto& a : link["addr_info"]) {
      if (a.value("local", "") == local) return a;
    }
  }
  return nullptr;
}

namespace {

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

[[noreturn]] void child_main(int out_fd, const std::function<void(Report&)>& scenario) {
  alarm(20);  // a hung scenario must not hang the test run
  Report report;
  if (::unshare(CLONE_NEWNET) != 0) {
    report.skip(std::string("no network namespace (unshare: ") + std::strerror(errno) + ")");
  } else {
    // A new namespace has lo down; herald's own backend brings it up (that is tested too).
    auto backend = LibnlBackend::open();
    if (report.check(backend.has_value(), "opening rtnetlink in the namespace")) {
      auto up = (*backend)->set_up("lo");
      if (report.check(up.has_value(), up ? "" : "bringing lo up: " + up.error().message)) {
        try {
          scenario(report);
        } catch (const std::exception& e) {
          report.check(false, std::string("scenario threw: ") + e.what());
        }
      }
    }
  }
  std::string text;
  for (const auto& l : report.lines()) text += l + "\n";
  write_all(out_fd, text);
  ::_exit(report.failed() ? 1 : 0);  // skip doctest's and libc's exit handlers of the parent
}

}  // namespace

void run_in_netns(const std::function<void(Report&)>& scenario) {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root to create a network namespace");
    return;
  }
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(nullptr);  // no duplicated stdio buffers in the child
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], scenario);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::istringstream lines(text);
  bool skipped = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("FAIL ", 0) == 0) {
      FAIL_CHECK(line.substr(5));
    } else if (line.rfind("SKIP ", 0) == 0) {
      skipped = true;
      MESSAGE("skipped: " << line.substr(5));
    } else {
      MESSAGE(line.substr(5));
    }
  }
  if (WIFSIGNALED(status)) FAIL_CHECK("scenario child killed by signal " << WTERMSIG(status));
  if (!skipped) CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

}  // namespace herald::netlink::test

TEST_CASE("netns Report: a failed check is a failure, notes are not") {
  herald::netlink::test::Report r;
  CHECK(r.check(true, "fine"));
  r.note("measured 1 ms");
  CHECK_FALSE(r.failed());
  CHECK_FALSE(r.check(false, "broken"));
  CHECK(r.failed());
  CHECK(r.lines().back() == "FAIL broken");
}
