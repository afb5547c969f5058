// The asynchronous DNS check against a scripted UDP responder on 127.0.0.1: spoofed-looking
// replies (wrong id, wrong question) are ignored while waiting, the RTT bound is enforced.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "health/check_run.hpp"

using namespace std::chrono_literals;

namespace {

enum class Script { WrongThenRight, OnlyWrong, Slow };

// Answers the first query it gets according to `script`, then exits (bounded by a 2 s timeout).
class Responder {
 public:
  explicit Responder(Script script) : fd_(socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    timeval tv{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this, script] { serve(script); });
  }
  ~Responder() {
    thread_.join();
    close(fd_);
  }
  std::uint16_t port() const { return port_; }

 private:
  void serve(Script script) {
    std::vector<unsigned char> q(512);
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = recvfrom(fd_, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 12) return;
    q.resize(static_cast<std::size_t>(n));
    // A reply: the query with QR/AA set, one answer A 192.0.2.53 (pointer to the question name).
    std::vector<unsigned char> good = q;
    good[2] = 0x84;
    good[3] = 0x00;
    good[7] = 1;
    const unsigned char answer[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 53};
    good.insert(good.end(), std::begin(answer), std::end(answer));
    auto wrong_id = good;
    wrong_id[1] ^= 0xff;
    auto wrong_q = good;
    wrong_q[13] = 'x';    // a different name: not ours
    const auto send = [&](const std::vector<unsigned char>& m) {
      sendto(fd_, m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    };
    switch (script) {
      case Script::WrongThenRight:
        send(wrong_id);
        send(wrong_q);
        send(good);
        break;
      case Script::OnlyWrong:
        send(wrong_id);
        send(wrong_q);
        break;
      case Script::Slow:
        std::this_thread::sleep_for(60ms);  // the responder is slow, not the test
        send(good);
        break;
    }
  }

  int fd_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

health::CheckResult run(std::uint16_t port, std::optional<health::Duration> max_rtt, health::Duration timeout) {
  boost::asio::io_context io;
  health::DnsCheckSpec spec;
  spec.server = "127.0.0.1";
  spec.port = port;
  spec.qname = "www.example.";
  spec.qtype = "A";
  spec.expect_answers = {"192.0.2.53"};
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
