// The BFD runtime on loopback: two runtimes bring a session Up and see AdminDown; a scripted
// neighbor (a plain UDP socket) checks detection time on the real clock, the TTL 255 rule of
// RFC 5881 5 and the drop counters. Every wait is bounded.
#include <doctest/doctest.h>


#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bfd_test_support.hpp"
#include "bgp/transport_bfd.hpp"

namespace herald::bgp::bfd {
namespace {

using namespace std::chrono_literals;
using testing::ScriptedNeighbor;
namespace asio = boost::asio;

IpAddress lo(std::uint32_t last) { return IpAddress::v4(0x7f000000 | last); }

template <typename Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 3000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(5ms);
  }
  return done();
}

// Records the state changes a runtime reports on the main loop.
struct Changes {
  std::vector<std::pair<StateChange, std::chrono::steady_clock::time_point>> seen;
  RuntimeObserver observer() {
    RuntimeObserver o;
    o.state_change = [this](std::string_view, const StateChange& c, const SessionStatus&) {
      seen.emplace_back(c, std::chrono::steady_clock::now());
    };
    o.log = [](LogLevel, std::string_view, std::string_view) {};
    return o;
  }
  std::optional<State> last() const {
    if (seen.empty()) return std::nullopt;
    return seen.back().first.to;
  }
};

RuntimeSettings listen_on(IpAddress a) {
  RuntimeSettings s;
  s.listen = {transport::Endpoint{a, 0}};
  s.rng_seed = 1;
  return s;
}

SessionSpec spec(std::string name, IpAddress local, IpAddress remote, std::uint16_t port, Micros interval) {
  return SessionSpec{std::move(name), remote, local, SessionConfig{interval, interval, 3}, port};
}

TEST_CASE("bfd runtime: two runtimes on loopback come Up, negotiate 50 ms, and see AdminDown") {
  asio::io_context main;
  Changes ca, cb;
  Runtime a(main, listen_on(lo(1)), ca.observer());
  Runtime b(main, listen_on(lo(2)), cb.observer());
  REQUIRE(a.start().empty());
  REQUIRE(b.start().empty());
  main.poll();  // the BFD threads start on the main loop's first turn
  const auto pa = a.listening().at(0).port;
  const auto pb = b.listening().at(0).port;
  a.add(spec("b", lo(1), lo(2), pb, 50ms));
  b.add(spec("a", lo(2), lo(1), pa, 50ms));
  REQUIRE(run_until(main, [&] { return ca.last() == State::Up && cb.last() == State::Up; }));
  // The poll started on Up ends with the neighbor's Final: both send every 50 ms (before jitter).
  REQUIRE(run_until(main, [&] {
    auto s = a.session("b");
    return s && !s->status.poll_active && s->status.tx_interval == 50ms && s->status.detect_time == 150ms;
  }));
  auto s = a.session("b");
  REQUIRE(s);
  CHECK(s->source_port >= kSourcePortMin);
  CHECK(s->status.remote_discriminator == b.session("a")->status.local_discriminator);
  CHECK(s->send_errors == 0);

  // A main loop stuck for 4 detection times (a burst of UPDATEs, a slow check) does not delay
  // BFD: it runs on its own thread.
  bool slept = false;
  asio::post(main, [&] {
    std::this_thread::sleep_for(600ms);
    slept = true;
  });
  main.restart();
  while (!slept) main.run_one();
  CHECK(a.session("b")->status.state == State::Up);
  CHECK(a.session("b")->status.flaps == 0);
  CHECK(b.session("a")->status.flaps == 0);

  b.remove("a");  // AdminDown: the neighbor goes Down with diag 3 at once, not after detection
  REQUIRE(run_until(main, [&] { return ca.last() == State::Down; }, 1000ms));
  CHECK(ca.seen.back().first.diag == Diag::NeighborSignaledSessionDown);
  CHECK(a.session("b")->status.flaps == 1);
  a.stop();
  b.stop();
  CHECK(a.dropped()[static_cast<std::size_t>(PacketError::BadTtl)] == 0);
}

TEST_CASE("bfd runtime: IPv6 sessions come Up (Hop Limit 255 sent and checked)") {
  asio::io_context main;
  Changes ca, cb;
  const IpAddress v6lo = *IpAddress::parse("::1");
  Runtime a(main, listen_on(v6lo), ca.observer());
  Runtime b(main, listen_on(v6lo), cb.observer());
  REQUIRE(a.start().empty());
  REQUIRE(b.start().empty());
  main.poll();  // the BFD threads start on the main loop's first turn
  a.add(spec("b", v6lo, v6lo, b.listening().at(0).port, 50ms));
  b.add(spec("a", v6lo, v6lo, a.listening().at(0).port, 50ms));
  REQUIRE(run_until(main, [&] { return ca.last() == State::Up && cb.last() == State::Up; }));
  CHECK(a.dropped()[static_cast<std::size_t>(PacketError::BadTtl)] == 0);
  a.stop();
  b.stop();
}

// One runtime on 127.0.0.1 with a 50 ms session "n" to a scripted neighbor on 127.0.0.2 (TTL
// 255), and the first packet the runtime sent it.
struct RuntimeAndNeighbor {
  asio::io_context main;
  Changes ca;
  Runtime a{main, listen_on(lo(1)), ca.observer()};
  std::uint16_t pa = 0;  // the runtime's port
  ScriptedNeighbor n;
  std::optional<ControlPacket> first;
  RuntimeAndNeighbor() {
    REQUIRE(a.start().empty());
    main.poll();  // the BFD thread starts on the main loop's first turn
    pa = a.listening().at(0).port;
    a.add(spec("n", lo(1), lo(2), n.port, 50ms));
    first = n.receive();
    REQUIRE(first);
    n.peer_disc = first->my_discriminator;
  }
};

TEST_CASE_FIXTURE(RuntimeAndNeighbor, "bfd runtime: a silent neighbor is detected after 3 x 50 ms on the real clock") {
  CHECK(first->state == State::Down);  // the Down packet sent at start
  CHECK(first->desired_min_tx_us == 1'000'000);  // slow rate until Up (RFC 5880 6.8.3)
  n.send(State::Init, pa);  // 50 ms both ways
  const auto sent_at = std::chrono::steady_clock::now();
  REQUIRE(run_until(main, [&] { return ca.last() == State::Up; }, 1000ms));
  REQUIRE(run_until(main, [&] { return ca.last() == State::Down; }, 1000ms));
  const auto took = ca.seen.back().second - sent_at;
  CHECK(ca.seen.back().first.diag == Diag::ControlDetectionTimeExpired);
  CHECK(took >= 150ms);  // never before 3 x 50 ms; how much later depends on the load

  MESSAGE("detection after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  a.stop();
}

TEST_CASE_FIXTURE(RuntimeAndNeighbor, "bfd runtime: packets with TTL below 255, the A bit or garbage are dropped and counted") {
  ControlPacket up;
  up.state = State::Init;
  up.my_discriminator = 0x77;
  up.your_discriminator = first->my_discriminator;
  n.ttl(254);  // one router hop away: not single hop
  n.send(encode(up), pa);
  n.ttl(255);
  Bytes auth = encode(up);
  auth[1] |= 0x04;  // A bit
  auth[3] = 26;
  auth.insert(auth.end(), {0x01, 0x02});
  n.send(auth, pa);
  n.send(Bytes{0x00, 0x01}, pa);  // version 0
  ControlPacket stranger = up;
  stranger.your_discriminator = first->my_discriminator + 1;
  n.send(encode(stranger), pa);
  auto count = [&](PacketError e) { return a.dropped()[static_cast<std::size_t>(e)]; };
  REQUIRE(run_until(main, [&] {
    return count(PacketError::BadTtl) == 1 && count(PacketError::AuthUnsupported) == 1 &&
           count(PacketError::BadVersion) == 1 && count(PacketError::UnknownYourDiscriminator) == 1;
  }, 1000ms));
  CHECK(a.session("n")->status.state == State::Down);
  CHECK(ca.seen.empty());
  a.stop();
}

std::size_t threads_of_this_process() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

TEST_CASE("bfd runtime: no thread before the main loop runs, so a daemon can drop privileges first") {
  // Capabilities are per thread: herald drops root between start() and running its loop and
  // refuses to while a second thread exists.
  asio::io_context main;
  Changes ca;
  const auto before = threads_of_this_process();
  Runtime a(main, listen_on(lo(1)), ca.observer());
  REQUIRE(a.start().empty());
  CHECK(threads_of_this_process() == before);
  main.poll();
  CHECK(threads_of_this_process() == before + 1);
  a.stop();
  // The thread is joined, but the kernel may list it in /proc/self/task for a moment longer
  // (a joined thread wakes its joiner before it is reaped): wait for that, bounded.
  const auto deadline = std::chrono::steady_clock::now() + 1s;
  while (threads_of_this_process() != before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  CHECK(threads_of_this_process() == before);
}

}  // namespace
}  // namespace herald::bgp::bfd
