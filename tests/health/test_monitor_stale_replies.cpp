// Monitor::snapshot() reports each DNS check's stale-reply count (what the daemon exports as
// herald_check_stale_replies_total): a UDP reply whose id is not the probe's is dropped by the
// checker (RFC 5452 9.1) and counted, and the count reaches the monitor's status. Checks of other
// kinds report no count at all. A scripted responder on 127.0.0.1, every wait bounded.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "health/monitor.hpp"
#include "tests/health/loopback_dns.hpp"

namespace health = herald::health;

using namespace std::chrono_literals;

namespace {

// Answers one query per entry of `stale_first`, in order, then exits (each wait bounded by
// 10 s). When the entry is true, a copy of the reply with the id's bits inverted (the id of no
// probe in flight) goes out just before the real one.
class StaleResponder {
 public:
  explicit StaleResponder(std::vector<bool> stale_first) : udp_(10) {
    thread_ = std::thread([this, s = std::move(stale_first)] { serve(s); });
  }
  ~StaleResponder() { thread_.join(); }
  std::uint16_t port() const { return udp_.port(); }

 private:
  void serve(const std::vector<bool>& stale_first) {
    for (const bool stale : stale_first) {
      sockaddr_in from{};
      const auto q = udp_.receive(from);
      if (q.size() < 12) return;
      const auto reply = health_test::good_reply(q);
      if (stale) {
        auto other = reply;
        other[0] = static_cast<unsigned char>(~other[0]);  // id: every bit inverted
        other[1] = static_cast<unsigned char>(~other[1]);
        udp_.send_to(other, from);
      }
      udp_.send_to(reply, from);
    }
  }

  health_test::LoopbackUdp udp_;
  std::thread thread_;
};

// One service with a DNS check on the responder and an exec check; rise/fall 1, no splay, so the
// first round starts at once and the next one `interval` later.
health::ServiceSpec service(std::uint16_t port, health::Duration interval) {
  auto s = health_test::loopback_dns_service(port, interval, 1s);
  s.checks.push_back(health::ExecCheckSpec{{"/bin/true"}, std::nullopt});
  return s;
}

}  // namespace

TEST_CASE("a stale DNS reply bumps the count the monitor reports; other checks have none") {
  // Probe 1 gets only its own reply; probe 2 gets a reply with another id first.
  StaleResponder resp({false, true});
  boost::asio::io_context io;
  health::Monitor mon(io, {service(resp.port(), 150ms)}, [](const health::ServiceStatus&, health::ServiceState) {});
  // The count as snapshot() shows it right after each DNS result (same thread, before the next
  // probe can start), and the exec check's count at the same moments.
  std::vector<std::optional<std::uint64_t>> dns_counts;
  std::vector<std::optional<std::uint64_t>> exec_counts;
  std::vector<bool> dns_passed;
  mon.on_result([&](const std::string& service, const std::string& check, const health::CheckResult& r) {
    if (service != "dns" || check.rfind("dns ", 0) != 0) return;
    const auto snap = mon.snapshot();
    REQUIRE(snap.size() == 1);
    REQUIRE(snap[0].checks.size() == 2);
    CHECK(snap[0].checks[0].check == check);
    dns_counts.push_back(snap[0].checks[0].stale_replies);
    exec_counts.push_back(snap[0].checks[1].stale_replies);
    dns_passed.push_back(r.pass);
  });
  mon.start();
  // Bounded at 10 s; two rounds take about 0.2 s.
  for (int i = 0; i < 500 && dns_counts.size() < 2; ++i) io.run_for(20ms);
  mon.stop();
  io.restart();
  io.run_for(100ms);  // the exec checks' children are reaped

  REQUIRE(dns_counts.size() == 2);
  CHECK(dns_passed[0]);
  CHECK(dns_passed[1]);  // the stale reply was dropped, the probe's own answer judged
  CHECK(dns_counts[0] == std::optional<std::uint64_t>(0));
  CHECK(dns_counts[1] == std::optional<std::uint64_t>(1));
  CHECK_FALSE(exec_counts[0].has_value());
  CHECK_FALSE(exec_counts[1].has_value());
}
