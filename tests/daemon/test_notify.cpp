// sd_notify wrapper against a real notify socket: a Unix datagram socket in a temporary
// directory named by NOTIFY_SOCKET, read back after each call.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "daemon/notify.hpp"
#include "temp_dir.hpp"

namespace notify = herald::daemon::notify;

namespace {

// The service manager's side: a bound datagram socket and NOTIFY_SOCKET pointing at it,
// restored on scope exit.
class FakeManager {
 public:
  FakeManager() {
    path_ = (dir_ / "notify").string();
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    REQUIRE(path_.size() < sizeof sa.sun_path);
    std::memcpy(sa.sun_path, path_.c_str(), path_.size() + 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~FakeManager() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
  }
  // The next datagram, or "" if none arrived (sd_notify sends synchronously, so no waiting).
  std::string receive() {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  herald::test::TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

bool sent(const notify::Result& r) { return r.has_value() && r.value(); }

}  // namespace

TEST_CASE("each notification arrives at the service manager's socket") {
  FakeManager mgr;
  CHECK(sent(notify::ready()));
  CHECK(mgr.receive() == "READY=1");
  CHECK(sent(notify::status("2 peers up,\nannouncing dns")));
  CHECK(mgr.receive() == "STATUS=2 peers up, announcing dns");
  CHECK(sent(notify::watchdog()));
  CHECK(mgr.receive() == "WATCHDOG=1");
  CHECK(sent(notify::stopping()));
  CHECK(mgr.receive() == "STOPPING=1");
  CHECK(sent(notify::reloading()));
  std::string r = mgr.receive();
  CHECK(r.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
  CHECK(r.size() > std::strlen("RELOADING=1\nMONOTONIC_USEC="));
  CHECK(mgr.receive().empty());
}

TEST_CASE("without NOTIFY_SOCKET nothing is sent and that is not an error") {
  ::unsetenv("NOTIFY_SOCKET");
  auto r = notify::ready();
  REQUIRE(r.has_value());
  CHECK_FALSE(r.value());
}

TEST_CASE("a NOTIFY_SOCKET nobody listens on is an error value") {
  herald::test::TempDir dir;
  ::setenv("NOTIFY_SOCKET", (dir / "gone").c_str(), 1);
  auto r = notify::ready();
  ::unsetenv("NOTIFY_SOCKET");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == "sd_notify: No such file or directory");
}

TEST_CASE("watchdog interval comes from WATCHDOG_USEC for this pid") {
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  auto off = notify::watchdog_interval();
  REQUIRE(off.has_value());
  CHECK_FALSE(off->has_value());

  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  auto on = notify::watchdog_interval();
  REQUIRE(on.has_value());
  REQUIRE(on->has_value());
  CHECK(on->value() == std::chrono::seconds(30));

  ::setenv("WATCHDOG_PID", "1", 1);  // meant for another process
  auto other = notify::watchdog_interval();
  REQUIRE(other.has_value());
  CHECK_FALSE(other->has_value());

  ::setenv("WATCHDOG_USEC", "soon", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  CHECK_FALSE(notify::watchdog_interval().has_value());
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
}
