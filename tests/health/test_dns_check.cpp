// The asynchronous DNS check against a scripted UDP responder on 127.0.0.1: spoofed-looking
// replies (wrong id, wrong question) are ignored while waiting, the RTT bound is enforced.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "health/check_run.hpp"
#include "tests/health/loopback_dns.hpp"

namespace health = herald::health;

using namespace std::chrono_literals;

namespace {

enum class Script { WrongThenRight, OnlyWrong, Slow };

// Answers the first query it gets according to `script`, then exits (bounded by a 2 s timeout).
class Responder {
 public:
  explicit Responder(Script script) : udp_(2) {
    thread_ = std::thread([this, script] { serve(script); });
  }
  ~Responder() { thread_.join(); }
  std::uint16_t port() const { return udp_.port(); }

 private:
  void serve(Script script) {
    sockaddr_in from{};
    const auto q = udp_.receive(from);
    if (q.size() < 12) return;
    const auto good = health_test::good_reply(q);
    auto wrong_id = good;
    wrong_id[1] ^= 0xff;
    auto wrong_q = good;
    wrong_q[13] = 'x';    // a different name: not ours
    switch (script) {
      case Script::WrongThenRight:
        udp_.send_to(wrong_id, from);
        udp_.send_to(wrong_q, from);
        udp_.send_to(good, from);
        break;
      case Script::OnlyWrong:
        udp_.send_to(wrong_id, from);
        udp_.send_to(wrong_q, from);
        break;
      case Script::Slow:
        std::this_thread::sleep_for(60ms);  // the responder is slow, not the test
        udp_.send_to(good, from);
        break;
    }
  }

  health_test::LoopbackUdp udp_;
  std::thread thread_;
};

health::CheckResult run(std::uint16_t port, std::optional<health::Duration> max_rtt, health::Duration timeout) {
  boost::asio::io_context io;
  health::DnsCheckSpec spec = health_test::loopback_dns_check(port);
  spec.max_rtt = max_rtt;
  health::CheckResult out;
  bool got = false;
  auto r = health::start_dns_check(io, spec, timeout, [&](health::CheckResult res) {
    out = std::move(res);
    got = true;
  });
  io.run_for(timeout + 1s);
  REQUIRE(got);
  return out;
}

}  // namespace

TEST_CASE("replies with a wrong id or question are ignored until ours arrives") {
  Responder resp(Script::WrongThenRight);
  auto r = run(resp.port(), std::nullopt, 1s);
  CHECK(r.pass);
  CHECK(r.reason.rfind("rcode NOERROR, answer 192.0.2.53 in ", 0) == 0);
}

TEST_CASE("only unrelated replies: timeout that says what was ignored") {
  Responder resp(Script::OnlyWrong);
  auto r = run(resp.port(), std::nullopt, 300ms);
  CHECK_FALSE(r.pass);
  CHECK(r.reason == "timeout after 300ms (ignored 2 reply(s), last: wrong question)");
  CHECK(r.latency >= 300ms);
}

TEST_CASE("a correct but slow reply fails the RTT bound") {
  Responder resp(Script::Slow);
  auto r = run(resp.port(), 20ms, 1s);
  CHECK_FALSE(r.pass);
  CHECK(r.reason.rfind("rtt ", 0) == 0);
  CHECK(r.reason.find("ms > 20ms") != std::string::npos);
}
