// A DNS server back from a freeze answers the probes that timed out; the monitor takes the first
// such late answer that would have passed as a reason to check again at once instead of at the
// next round's time (ServiceCore::expedite). A scripted responder on 127.0.0.1, waits bounded.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "health/monitor.hpp"
#include "tests/health/loopback_dns.hpp"

namespace health = herald::health;

using namespace std::chrono_literals;

namespace {

// Answers the first query after 150 ms (its probe timed out at 50 ms), the next ones at once;
// exits after `count` queries or a 10 s silence.
class SlowThenFast {
 public:
  explicit SlowThenFast(int count) : udp_(10) {
    thread_ = std::thread([this, count] {
      for (int i = 0; i < count; ++i) {
        sockaddr_in from{};
        const auto q = udp_.receive(from);
        if (q.size() < 12) return;
        if (i == 0) std::this_thread::sleep_for(150ms);
        udp_.send_to(health_test::good_reply(q), from);
      }
    });
  }
  ~SlowThenFast() { thread_.join(); }
  std::uint16_t port() const { return udp_.port(); }

 private:
  health_test::LoopbackUdp udp_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("a late passing answer brings the next round forward; the grid stays") {
  SlowThenFast resp(2);
  const auto s = health_test::loopback_dns_service(resp.port(), 1s, 50ms);

  boost::asio::io_context io;
  std::vector<health::ServiceState> states;
  health::Monitor mon(io, {s}, [&](const health::ServiceStatus& st, health::ServiceState) { states.push_back(st.state); });
  std::vector<bool> results;
  mon.on_result([&](const std::string&, const std::string&, const health::CheckResult& r) { results.push_back(r.pass); });
  mon.start();
  // The first round (at 0) times out at 50 ms, its answer comes at 150 ms; without the early
  // round the second one would start at 1 s. Watch 700 ms.
  const auto until = std::chrono::steady_clock::now() + 700ms;
  while (std::chrono::steady_clock::now() < until) io.run_for(20ms);
  mon.stop();
  io.restart();
  io.run_for(50ms);

  REQUIRE(results.size() == 2);
  CHECK_FALSE(results[0]);
  CHECK(results[1]);  // the early round, answered at once
  REQUIRE_FALSE(states.empty());
  CHECK(states.back() == health::ServiceState::Up);
  CHECK(mon.snapshot()[0].checks[0].stale_replies == std::optional<std::uint64_t>(1));
}
