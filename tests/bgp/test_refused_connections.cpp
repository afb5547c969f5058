// RefusedConnections: a flood of refused connections becomes one line per source and period.
#include <doctest/doctest.h>

#include <string>

#include "bgp/refused_connections.hpp"

namespace herald::bgp {
namespace {

using namespace std::chrono_literals;
using Clock = RefusedConnections::Clock;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

bool has(const std::optional<std::string>& line, std::string_view part) {
  return line && line->find(part) != std::string::npos;
}

TEST_CASE("refused connections: the first from a source is logged at once, the rest are counted") {
  RefusedConnections r(RefusedConnections::Settings{60s, 256});
  const Clock::time_point t0{};
  auto first = r.record(ip("192.0.2.9"), 40000, RefusalReason::NotConfigured, t0);
  CHECK(has(first, "refused connection from 192.0.2.9:40000: not a configured peer"));
  CHECK(has(first, "counted for 60s"));
  // 19,999 more in the same second: no line at all.
  for (int i = 1; i < 20000; ++i)
    REQUIRE_FALSE(r.record(ip("192.0.2.9"), static_cast<std::uint16_t>(40000 + i % 20000),
                           RefusalReason::NotConfigured, t0 + std::chrono::microseconds(i * 50)));
  CHECK(r.total(RefusalReason::NotConfigured) == 20000);
  CHECK(r.total(RefusalReason::ShuttingDown) == 0);
  CHECK(r.tracked() == 1);
  REQUIRE(r.next_expiry() == t0 + 60s);

  // Before the period ends nothing is due; at its end one line carries the count.
  CHECK(r.expire(t0 + 59s).empty());
  auto lines = r.expire(t0 + 60s);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "refused 19999 more connections from 192.0.2.9 in 60s: not a configured peer");

  // The flood goes on: still no line per connection, one summary per period.
  CHECK_FALSE(r.record(ip("192.0.2.9"), 1, RefusalReason::NotConfigured, t0 + 61s));
  CHECK(r.next_expiry() == t0 + 120s);
  lines = r.expire(t0 + 120s);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "refused 1 more connection from 192.0.2.9 in 60s: not a configured peer");

  // A quiet period: the source is forgotten, and its next refusal is logged at once again.
  CHECK(r.expire(t0 + 180s).empty());
  CHECK(r.tracked() == 0);
  CHECK_FALSE(r.next_expiry());
  CHECK(has(r.record(ip("192.0.2.9"), 2, RefusalReason::NotConfigured, t0 + 200s), "refused connection from"));
}

TEST_CASE("refused connections: sources and reasons are counted separately, IPv6 with brackets") {
  RefusedConnections r(RefusedConnections::Settings{10s, 256});
  const Clock::time_point t0{};
  CHECK(has(r.record(ip("192.0.2.1"), 1, RefusalReason::NotConfigured, t0), "192.0.2.1:1"));
  CHECK(has(r.record(ip("2001:db8::7"), 2, RefusalReason::NotConfigured, t0 + 1s),
            "refused connection from [2001:db8::7]:2: not a configured peer; further ones from 2001:db8::7"));
  CHECK(has(r.record(ip("192.0.2.1"), 3, RefusalReason::ShuttingDown, t0 + 2s), "shutting down"));
  CHECK_FALSE(r.record(ip("192.0.2.1"), 4, RefusalReason::NotConfigured, t0 + 3s));
  CHECK_FALSE(r.record(ip("2001:db8::7"), 5, RefusalReason::NotConfigured, t0 + 4s));
  CHECK_FALSE(r.record(ip("2001:db8::7"), 6, RefusalReason::NotConfigured, t0 + 5s));
  CHECK(r.tracked() == 3);
  // Each period ends 10 s after its own first refusal.
  auto lines = r.expire(t0 + 10s);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "refused 1 more connection from 192.0.2.1 in 10s: not a configured peer");
  CHECK(r.next_expiry() == t0 + 11s);
  lines = r.expire(t0 + 12s);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "refused 2 more connections from 2001:db8::7 in 11s: not a configured peer");
  CHECK(r.total(RefusalReason::NotConfigured) == 5);
  CHECK(r.total(RefusalReason::ShuttingDown) == 1);
}

TEST_CASE("refused connections: memory is bounded, further sources share one entry") {
  RefusedConnections r(RefusedConnections::Settings{60s, 4});
  const Clock::time_point t0{};
  auto src = [](int i) {
    IpAddress a = *IpAddress::parse("2001:db8::");
    a.bytes[14] = static_cast<std::uint8_t>(i >> 8);
    a.bytes[15] = static_cast<std::uint8_t>(i);
    return a;
  };
  int logged = 0;
  for (int i = 0; i < 4; ++i)
    if (r.record(src(i), 1, RefusalReason::NotConfigured, t0)) ++logged;
  CHECK(logged == 4);
  // 10,000 further sources: one line for the first of them, then only counting.
  auto overflow = r.record(src(4), 1, RefusalReason::NotConfigured, t0);
  CHECK(has(overflow, "4 sources are already tracked"));
  for (int i = 5; i < 10004; ++i) REQUIRE_FALSE(r.record(src(i), 1, RefusalReason::NotConfigured, t0));
  CHECK(r.tracked() == 5);
  // A tracked source still has its own entry.
  CHECK_FALSE(r.record(src(0), 2, RefusalReason::NotConfigured, t0));
  auto lines = r.expire(t0 + 60s);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "refused 9999 more connections from untracked sources in 60s: not a configured peer");
  CHECK(lines[1] == "refused 1 more connection from 2001:db8:: in 60s: not a configured peer");
  // Sources whose period ended quietly free their place.
  CHECK(r.tracked() == 2);
  CHECK(has(r.record(src(20000), 1, RefusalReason::NotConfigured, t0 + 61s), "further ones from"));
}

TEST_CASE("refused connections: drain reports what is counted and forgets everything") {
  RefusedConnections r(RefusedConnections::Settings{60s, 256});
  const Clock::time_point t0{};
  r.record(ip("192.0.2.1"), 1, RefusalReason::NotConfigured, t0);
  r.record(ip("192.0.2.1"), 2, RefusalReason::NotConfigured, t0 + 1s);
  r.record(ip("192.0.2.2"), 1, RefusalReason::NotConfigured, t0 + 2s);
  auto lines = r.drain(t0 + 5s);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "refused 1 more connection from 192.0.2.1 in 5s: not a configured peer");
  CHECK(r.tracked() == 0);
  CHECK_FALSE(r.next_expiry());
  CHECK(r.total(RefusalReason::NotConfigured) == 3);  // totals only go up
}

}  // namespace
}  // namespace herald::bgp
