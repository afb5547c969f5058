// An idle daemon must not wake up for nothing. Asio's reactor keeps one kernel timer (a timerfd)
// armed for the earliest deadline it was told about; a DNS check answered in time cancels its
// timeout, and unless the monitor makes the reactor re-arm, the process wakes up at that stale
// deadline to find nothing to do (once per round: a third of an idle herald's wake-ups).
// This test reads the reactor's timerfd right after a round ended: it must be armed for the next
// live deadline, not for the cancelled timeout (0.5 s). That deadline is another timer of the
// same io_context due at 0.9 s, as a BGP keepalive would be: with it pending, re-arming the
// service's own timer for its next round (1 s) does not make the reactor re-arm by itself (it
// only does when a wait becomes the first of its queue). A scripted responder on 127.0.0.1,
// every wait bounded.
#include <doctest/doctest.h>

#include <sys/timerfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "health/monitor.hpp"
#include "tests/health/loopback_dns.hpp"

namespace health = herald::health;

using namespace std::chrono_literals;

namespace {

// Answers one query at once, then exits (its wait bounded by 10 s).
class OneAnswer {
 public:
  OneAnswer() : udp_(10) {
    thread_ = std::thread([this] {
      sockaddr_in from{};
      const auto q = udp_.receive(from);
      if (q.size() >= 12) udp_.send_to(health_test::good_reply(q), from);
    });
  }
  ~OneAnswer() { thread_.join(); }
  std::uint16_t port() const { return udp_.port(); }

 private:
  health_test::LoopbackUdp udp_;
  std::thread thread_;
};

// Time left on every armed timerfd of this process (the io_context's reactor owns one).
std::vector<std::chrono::nanoseconds> armed_timerfds() {
  std::vector<std::chrono::nanoseconds> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(e.path(), ec);
    if (ec || target.string() != "anon_inode:[timerfd]") continue;
    itimerspec its{};
    if (timerfd_gettime(std::stoi(e.path().filename().string()), &its) != 0) continue;
    const auto left = std::chrono::seconds(its.it_value.tv_sec) + std::chrono::nanoseconds(its.it_value.tv_nsec);
    if (left > 0ns) out.push_back(left);
  }
  return out;
}

}  // namespace

TEST_CASE("after a round answered in time, the kernel timer waits for the next live deadline, not the cancelled timeout") {
  OneAnswer resp;
  const auto s = health_test::loopback_dns_service(resp.port(), 1s, 500ms);

  boost::asio::io_context io;
  boost::asio::steady_timer keepalive(io, 900ms);
  keepalive.async_wait([](const boost::system::error_code&) {});
  health::Monitor mon(io, {s}, [](const health::ServiceStatus&, health::ServiceState) {});
  std::optional<bool> passed;
  std::vector<std::chrono::nanoseconds> armed;
  mon.on_result([&](const std::string&, const std::string&, const health::CheckResult& r) {
    passed = r.pass;
    // Runs after the monitor has handled this result (posted from inside its handler).
    boost::asio::post(io, [&] { armed = armed_timerfds(); });
  });
  mon.start();
  for (int i = 0; i < 250 && armed.empty(); ++i) io.run_for(20ms);  // bounded at 5 s
  mon.stop();
  keepalive.cancel();

  REQUIRE(passed.has_value());
  CHECK(*passed);
  REQUIRE(armed.size() == 1);
  // The round took a few milliseconds at most: about 0.9 s is left until the keepalive.
  CHECK(armed[0] > 700ms);
  CHECK(armed[0] <= 900ms);
}
