// DnsChecker against a scripted UDP responder on 127.0.0.1: one connected socket serves every
// probe, each probe carries its own id, a late reply to an earlier probe is dropped and counted,
// and a socket error makes the next probe open a new socket.
#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "health/dns_check.hpp"
#include "tests/health/loopback_dns.hpp"

namespace health = herald::health;

using namespace std::chrono_literals;

namespace {

// What the responder does with the n-th query it receives.
struct Step {
  std::chrono::milliseconds delay{0};  ///< wait this long before answering
  bool servfail = false;               ///< answer with RCODE SERVFAIL instead
};

// One query as the responder saw it.
struct Seen {
  std::uint16_t source_port = 0;
  std::uint16_t id = 0;
};

// Answers one query per step, in order, then exits; every wait is bounded (2 s).
class ScriptedResponder {
 public:
  explicit ScriptedResponder(std::vector<Step> steps, std::uint16_t port = 0) : udp_(2, port) {
    thread_ = std::thread([this, s = std::move(steps)] { serve(s); });
  }
  ~ScriptedResponder() { thread_.join(); }
  std::uint16_t port() const { return udp_.port(); }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  void serve(const std::vector<Step>& steps) {
    for (const Step& step : steps) {
      sockaddr_in from{};
      const auto q = udp_.receive(from);
      if (q.size() < 12) return;
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back({ntohs(from.sin_port), static_cast<std::uint16_t>(q[0] << 8 | q[1])});
      }
      std::this_thread::sleep_for(step.delay);  // the responder is slow, not the test
      auto reply = health_test::good_reply(q);
      if (step.servfail) reply[3] = 0x02;  // RCODE 2
      udp_.send_to(reply, from);
    }
  }

  health_test::LoopbackUdp udp_;
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::thread thread_;
};

// Runs one probe of `checker` to its end (bounded by its timeout plus a margin).
health::CheckResult probe(boost::asio::io_context& io, health::DnsChecker& checker, health::Duration timeout) {
  health::CheckResult out;
  bool got = false;
  auto run = checker.start(timeout, [&](health::CheckResult r) {
    out = std::move(r);
    got = true;
  });
  io.restart();
  io.run_for(timeout + 1s);  // returns once the run reported and released everything it waited on
  REQUIRE(got);
  return out;
}

// A port on 127.0.0.1 with nobody listening (bound, read, closed): queries to it are refused.
std::uint16_t closed_port() {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("one socket for every probe, a new id per probe") {
  ScriptedResponder resp({{}, {}, {}});
  boost::asio::io_context io;
  std::uint16_t next = 0x1111;
  health::DnsChecker checker(io, health_test::loopback_dns_check(resp.port()), [&] {
    const auto id = next;
    next = static_cast<std::uint16_t>(next + 0x1111);
    return id;
  });
  for (int i = 0; i < 3; ++i) {
    auto r = probe(io, checker, 1s);
    CHECK_MESSAGE(r.pass, r.reason);
  }
  const auto seen = resp.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].id == 0x1111);
  CHECK(seen[1].id == 0x2222);
  CHECK(seen[2].id == 0x3333);
  CHECK(seen[1].source_port == seen[0].source_port);
  CHECK(seen[2].source_port == seen[0].source_port);
  CHECK(checker.sockets_opened() == 1);
  CHECK(checker.stale_replies() == 0);
}

TEST_CASE("the late reply to a timed-out probe is dropped and counted by the next one") {
  // Probe 1 is answered after 150 ms, past its 50 ms timeout; probe 2 is answered at once.
  ScriptedResponder resp({{150ms}, {}});
  boost::asio::io_context io;
  health::DnsChecker checker(io, health_test::loopback_dns_check(resp.port()));
  auto first = probe(io, checker, 50ms);
  CHECK_FALSE(first.pass);
  CHECK(first.reason == "timeout after 50ms");
  // Let the late reply reach the kept socket's queue before the next probe is sent.
  std::this_thread::sleep_for(300ms);
  auto second = probe(io, checker, 1s);
  CHECK_MESSAGE(second.pass, second.reason);
  CHECK(checker.stale_replies() == 1);
  CHECK(checker.sockets_opened() == 1);
  const auto seen = resp.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].source_port == seen[0].source_port);
}

TEST_CASE("a refused probe closes the socket; the next probe opens a new one") {
  const std::uint16_t port = closed_port();
  boost::asio::io_context io;
  health::DnsChecker checker(io, health_test::loopback_dns_check(port));
  auto refused = probe(io, checker, 1s);
  CHECK_FALSE(refused.pass);
  CHECK(refused.reason == "connection refused");
  CHECK(checker.sockets_opened() == 1);
  ScriptedResponder resp({{}}, port);  // the server is back on the same port
  auto back = probe(io, checker, 1s);
  CHECK_MESSAGE(back.pass, back.reason);
  CHECK(checker.sockets_opened() == 2);
}

TEST_CASE("a configuration error is reported by every run, from the io_context") {
  boost::asio::io_context io;
  auto spec = health_test::loopback_dns_check(53);
  spec.server = "not-an-address";
  health::DnsChecker checker(io, spec);
  for (int i = 0; i < 2; ++i) {
    bool got = false;
    health::CheckResult out;
    auto run = checker.start(1s, [&](health::CheckResult r) {
      out = std::move(r);
      got = true;
    });
    CHECK_FALSE(got);  // never from start()
    io.restart();
    io.run_for(100ms);
    REQUIRE(got);
    CHECK(out.reason == "bad server address 'not-an-address'");
  }
  CHECK(checker.sockets_opened() == 0);
}

TEST_CASE("a late passing answer to a timed-out probe is reported once, between runs") {
  // Probe 1 is answered after 300 ms (it timed out at 100 ms), probe 2 at once.
  ScriptedResponder resp({{300ms}, {}});
  boost::asio::io_context io;
  health::DnsChecker checker(io, health_test::loopback_dns_check(resp.port()));
  int late = 0;
  checker.on_late_answer([&] { ++late; });
  auto r1 = probe(io, checker, 100ms);  // runs on until the late answer was read (no work left)
  CHECK_FALSE(r1.pass);
  CHECK(late == 1);
  CHECK(checker.stale_replies() == 1);  // read between runs: dropped, not a pass
  auto r2 = probe(io, checker, 1s);     // the same socket serves the next probe
  CHECK_MESSAGE(r2.pass, r2.reason);
  CHECK(late == 1);
  CHECK(checker.sockets_opened() == 1);
}

TEST_CASE("a late failing answer is no sign of recovery") {
  ScriptedResponder resp({{300ms, true}});
  boost::asio::io_context io;
  health::DnsChecker checker(io, health_test::loopback_dns_check(resp.port()));
  int late = 0;
  checker.on_late_answer([&] { ++late; });
  auto r = probe(io, checker, 100ms);  // io runs 1.1 s: the SERVFAIL arrives meanwhile
  CHECK_FALSE(r.pass);
  CHECK(checker.stale_replies() == 1);
  CHECK(late == 0);
}

TEST_CASE("without a late-answer callback nothing reads the socket between runs") {
  ScriptedResponder resp({{300ms}, {}});
  boost::asio::io_context io;
  health::DnsChecker checker(io, health_test::loopback_dns_check(resp.port()));
  auto r1 = probe(io, checker, 100ms);
  CHECK_FALSE(r1.pass);
  CHECK(checker.stale_replies() == 0);  // the late answer waits in the queue
  std::this_thread::sleep_for(300ms);
  auto r2 = probe(io, checker, 1s);  // drains it as stale, then gets its own
  CHECK_MESSAGE(r2.pass, r2.reason);
  CHECK(checker.stale_replies() == 1);
}
