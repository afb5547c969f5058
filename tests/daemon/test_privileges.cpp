// drop_privileges, run in forked children (a dropped process cannot get root back, so the test
// runner itself must never call it). Each child reports what the kernel says afterwards
// (/proc/self/status, a bind to a privileged port, setuid(0)) through a pipe; the parent checks.
// The switching cases need root (CI runs as root) and use `nobody`, which every Debian has.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <exception>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "daemon/privileges.hpp"
#include "temp_dir.hpp"

namespace {

using Report = std::map<std::string, std::string>;

// Runs `body` in a child process; returns the key=value lines it wrote, one per line.
Report in_child(const std::function<Report()>& body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    try {
      for (const auto& [k, v] : body()) out += k + "=" + v + "\n";
    } catch (const std::exception& e) {
      out = std::string("exception=") + e.what() + "\n";
    }
    const char* p = out.data();
    std::size_t left = out.size();
    while (left > 0) {
      ssize_t n = ::write(fds[1], p, left);
      if (n <= 0) ::_exit(3);
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    ::_exit(0);  // no atexit handlers: the child must not report to doctest
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  Report r;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) r[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return r;
}

// The call's outcome as "ok: ...", "warning: ..." (drop_privileges' report asks for a
// warning) or "error: ...".
std::string outcome(const herald::Expected<std::string, std::string>& r) {
  return r ? "ok: " + r.value() : "error: " + r.error();
}
std::string outcome(const herald::Expected<herald::daemon::PrivilegeReport, std::string>& r) {
  if (!r) return "error: " + r.error();
  return (r->warning ? "warning: " : "ok: ") + r->message;
}

// Uid, Gid and the five capability sets of this process, as /proc/self/status shows them
// (tabs turned into spaces): "Uid" -> "65534 65534 65534 65534", "CapEff" -> "0000000000001400".
void add_status(Report& r) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    if (key != "Uid" && key != "Gid" && key != "Groups" && key.rfind("Cap", 0) != 0) continue;
    std::string value;
    std::istringstream words(line.substr(colon + 1));
    for (std::string w; words >> w;) value += (value.empty() ? "" : " ") + w;
    r[key] = value;
  }
}

// Binds a TCP socket on 127.0.0.1 to a port below 1024 (the first one not in use): "ok", or
// the errno name that refused it. Nothing listens; the socket is closed at once.
std::string bind_privileged_port() {
  for (int port = 1023; port >= 1000; --port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "socket failed";
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    int err = errno;
    ::close(fd);
    if (rc == 0) return "ok";
    if (err != EADDRINUSE) return err == EACCES ? "EACCES" : std::to_string(err);
  }
  return "no free port";
}

constexpr const char* kTwoCaps = "0000000000001400";  // bits 10 (NET_BIND_SERVICE), 12 (NET_ADMIN)

}  // namespace

TEST_CASE("drop_privileges as root switches to nobody keeping only the two network capabilities") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  Report r = in_child([] {
    Report out;
    out["result"] = outcome(herald::daemon::drop_privileges("nobody"));
    add_status(out);
    out["bind"] = bind_privileged_port();
    out["setuid0"] = ::setuid(0) == 0 ? "succeeded" : "refused";
    return out;
  });
  CHECK(r["result"] == "ok: dropped privileges to user nobody (uid 65534), keeping CAP_NET_ADMIN, CAP_NET_BIND_SERVICE");
  CHECK(r["Uid"] == "65534 65534 65534 65534");  // real, effective, saved, filesystem
  CHECK(r["Gid"] == "65534 65534 65534 65534");
  CHECK(r["Groups"] == "65534");  // nobody's supplementary groups: nogroup only, root's are gone
  CHECK(r["CapEff"] == kTwoCaps);
  CHECK(r["CapPrm"] == kTwoCaps);
  CHECK(r["CapInh"] == kTwoCaps);
  CHECK(r["CapAmb"] == kTwoCaps);  // like the systemd unit's AmbientCapabilities= (checks clear it)
  CHECK(r["CapBnd"] == kTwoCaps);  // nothing else can come back through a setuid binary
  CHECK(r["bind"] == "ok");        // CAP_NET_BIND_SERVICE works as nobody
  CHECK(r["setuid0"] == "refused");
}

TEST_CASE("drop_privileges as root reports a missing user and changes nothing") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  Report r = in_child([] {
    Report out;
    out["result"] = outcome(herald::daemon::drop_privileges("herald-test-no-such-user"));
    add_status(out);
    return out;
  });
  CHECK(r["result"] == "error: user herald-test-no-such-user does not exist");
  CHECK(r["Uid"] == "0 0 0 0");
  CHECK(r["CapEff"] != kTwoCaps);  // still root's full set
}

TEST_CASE("capability_names names each capability of a mask in number order") {
  using herald::daemon::capability_names;
  CHECK(capability_names(0) == "none");
  CHECK(capability_names(0x1400) == "CAP_NET_BIND_SERVICE, CAP_NET_ADMIN");
  CHECK(capability_names(1) == "CAP_CHOWN");
  CHECK(capability_names(std::uint64_t{1} << 21) == "CAP_SYS_ADMIN");
  CHECK(capability_names(std::uint64_t{1} << 40) == "CAP_CHECKPOINT_RESTORE");
  CHECK(capability_names((std::uint64_t{1} << 41) | (std::uint64_t{1} << 63)) == "capability 41, capability 63");
}

TEST_CASE("drop_privileges as root with an empty user keeps root, warning with the capabilities kept") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  Report r = in_child([] {
    Report out;
    out["result"] = outcome(herald::daemon::drop_privileges(""));
    add_status(out);
    return out;
  });
  const std::uint64_t held = std::stoull(r["CapPrm"], nullptr, 16);
  CAPTURE(r["result"]);
  CHECK(r["result"] == "warning: running as root with no user configured (global.user is empty): herald keeps uid 0 and " +
                           std::to_string(std::popcount(held)) + " capabilities: " +
                           herald::daemon::capability_names(held) +
                           "; set global.user to an unprivileged user to keep only CAP_NET_ADMIN, "
                           "CAP_NET_BIND_SERVICE (exec checks run without capabilities either way)");
  // Root as the test runs it holds at least these, and the warning names them.
  CHECK(r["result"].find("CAP_SYS_ADMIN, ") != std::string::npos);
  CHECK(r["result"].find("CAP_NET_ADMIN, ") != std::string::npos);
  CHECK(r["Uid"] == "0 0 0 0");
}

TEST_CASE("drop_privileges as root with a uid-0 user keeps root, with a warning") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  Report r = in_child([] {
    Report out;
    out["result"] = outcome(herald::daemon::drop_privileges("root"));
    add_status(out);
    return out;
  });
  CHECK(r["result"].rfind("warning: running as root: user root is uid 0: herald keeps uid 0 and ", 0) == 0);
  CHECK(r["result"].find("CAP_SYS_ADMIN") != std::string::npos);
  CHECK(r["Uid"] == "0 0 0 0");
}

TEST_CASE("drop_privileges refuses while a second thread runs") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  Report r = in_child([] {
    Report out;
    int gate[2];
    if (::pipe(gate) != 0) ::_exit(4);
    std::thread waiter([&] {
      char c;
      // Any outcome (a byte or EOF) releases the thread; glibc's fortified read() must be used.
      [[maybe_unused]] ssize_t n = ::read(gate[0], &c, 1);
    });
    out["result"] = outcome(herald::daemon::drop_privileges("nobody"));
    [[maybe_unused]] ssize_t w = ::write(gate[1], "x", 1);
    waiter.join();
    add_status(out);
    return out;
  });
  CHECK(r["result"] == "error: cannot drop privileges to user nobody: 2 threads running, capabilities are per thread");
  CHECK(r["Uid"] == "0 0 0 0");
}

TEST_CASE("drop_privileges does nothing when not started as root") {
  Report r = in_child([] {
    Report out;
    // As root, become nobody first without keeping capabilities: that is "started by hand as
    // an ordinary user".
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
                             ::setresuid(65534, 65534, 65534) != 0)) {
      ::_exit(5);
    }
    out["uid"] = std::to_string(::geteuid());
    out["result"] = outcome(herald::daemon::drop_privileges("nobody"));
    add_status(out);
    return out;
  });
  CHECK(r["result"] == "ok: not started as root (uid " + r["uid"] + "): no privileges to drop");
  CHECK(r["Uid"].rfind(r["uid"] + " ", 0) == 0);
}

TEST_CASE("hand_over_directory lets the dropped user write into a root-created directory") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  herald::test::TempDir tmp;
  const std::filesystem::path dir = tmp / "state";
  // The temporary directory is root's 0700: let nobody through, but not write.
  std::filesystem::permissions(tmp.path(), std::filesystem::perms::owner_all | std::filesystem::perms::group_exec |
                                               std::filesystem::perms::others_exec);
  REQUIRE(std::filesystem::create_directory(dir));  // root's, mode 0755: nobody cannot write
  const std::filesystem::path file = dir / "herald.state";
  Report r = in_child([&] {
    Report out;
    out["missing"] = outcome(herald::daemon::hand_over_directory(dir, "herald-test-no-such-user"));
    out["result"] = outcome(herald::daemon::hand_over_directory(dir, "nobody"));
    struct stat st{};
    out["owner"] = ::stat(dir.c_str(), &st) == 0 ? std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) : "?";
    out["drop"] = outcome(herald::daemon::drop_privileges("nobody"));
    std::ofstream(file) << "{}";
    std::error_code ec;
    out["written"] = std::filesystem::exists(file, ec) ? "yes" : "no";
    return out;
  });
  CHECK(r["exception"] == "");
  CHECK(r["missing"] == "error: user herald-test-no-such-user does not exist");
  CHECK(r["result"] == "ok: " + dir.string() + " now belongs to user nobody (uid 65534)");
  CHECK(r["owner"] == "65534:65534");
  CHECK(r["drop"].rfind("ok: dropped privileges to user nobody", 0) == 0);
  CHECK(r["written"] == "yes");
}
