// Zone freshness, pure: RFC 1982 serial arithmetic, serials read as times, and the SOA
// check's verdict from the two answers. Plain numbers, a fixed "now": no clock, no sockets.
#include <doctest/doctest.h>

#include <chrono>

#include "health/soa_serial.hpp"

namespace health = herald::health;

using namespace std::chrono_literals;
using health::SerialOrder;
using std::chrono::system_clock;

namespace {

health::SoaCheckSpec with_primary(std::uint32_t max_lag) {
  health::SoaCheckSpec s;
  s.server = "192.0.2.53";
  s.zone = "example.";
  s.primary = "192.0.2.1";
  s.max_serial_lag = max_lag;
  return s;
}

health::SoaAnswer serial(std::uint32_t v) { return {v, {}}; }

// 2026-12-06T12:00:00Z
const system_clock::time_point kNow = system_clock::from_time_t(1796558400);

}  // namespace

TEST_CASE("RFC 1982 3.2: comparison across the wrap, and the undefined pair") {
  CHECK(health::serial_compare(1, 2) == SerialOrder::Less);
  CHECK(health::serial_compare(2, 1) == SerialOrder::Greater);
  CHECK(health::serial_compare(7, 7) == SerialOrder::Equal);
  // 4294967295 + 1 wraps to 0: 0 is greater.
  CHECK(health::serial_compare(4294967295u, 0) == SerialOrder::Less);
  CHECK(health::serial_compare(0, 4294967295u) == SerialOrder::Greater);
  // Just under half the space ahead is still "greater"; exactly half is undefined.
  CHECK(health::serial_compare(0, 0x7fffffffu) == SerialOrder::Less);
  CHECK(health::serial_compare(0, 0x80000000u) == SerialOrder::Undefined);
  CHECK(health::serial_compare(0x80000000u, 0) == SerialOrder::Undefined);
  CHECK(health::serial_compare(0, 0x80000001u) == SerialOrder::Greater);
}

TEST_CASE("serial_lag: distance behind the primary, 0 when equal or ahead, across the wrap") {
  CHECK(health::serial_lag(2026120601, 2026120603) == 2u);
  CHECK(health::serial_lag(2026120603, 2026120603) == 0u);
  CHECK(health::serial_lag(2026120605, 2026120603) == 0u);  // ahead of the primary asked
  CHECK(health::serial_lag(4294967295u, 3) == 4u);          // the primary wrapped
  CHECK(health::serial_lag(3, 4294967295u) == 0u);          // the local one wrapped: ahead
  CHECK_FALSE(health::serial_lag(5, 5 + 0x80000000u).has_value());
}

TEST_CASE("serial_time: unixtime and YYYYMMDDnn serials") {
  CHECK(health::serial_time(1796558400, health::SerialFormat::Unixtime) == kNow);
  CHECK(health::serial_time(2026120607, health::SerialFormat::Date) == kNow - 12h);  // day start
  CHECK_FALSE(health::serial_time(2026133101, health::SerialFormat::Date).has_value());  // month 13
  CHECK_FALSE(health::serial_time(2026023001, health::SerialFormat::Date).has_value());  // 30 Feb
  CHECK_FALSE(health::serial_time(42, health::SerialFormat::Date).has_value());
}

TEST_CASE("judge_soa: passes within max-serial-lag, fails beyond it with both serials named") {
  auto r = health::judge_soa(with_primary(1), serial(2026120602), serial(2026120603), kNow);
  CHECK(r.pass);
  CHECK(r.reason == "serial 2026120602, primary 2026120603 (1 behind)");
  CHECK(r.serial == 2026120602u);
  r = health::judge_soa(with_primary(1), serial(2026120601), serial(2026120603), kNow);
  CHECK_FALSE(r.pass);
  CHECK(r.reason == "serial 2026120601, primary 2026120603: 2 behind > max-serial-lag 1");
  CHECK(r.serial == 2026120601u);
  r = health::judge_soa(with_primary(0), serial(9), serial(9), kNow);
  CHECK(r.pass);
  CHECK(r.reason == "serial 9, primary 9");
}

TEST_CASE("judge_soa: the lag across the wrap is the RFC 1982 distance") {
  // Primary wrapped from 4294967290 to 5: the local server is 11 behind, not 4 billion ahead.
  CHECK_FALSE(health::judge_soa(with_primary(10), serial(4294967290u), serial(5), kNow).pass);
  CHECK(health::judge_soa(with_primary(11), serial(4294967290u), serial(5), kNow).pass);
  const auto r = health::judge_soa(with_primary(0), serial(1), serial(1 + 0x80000000u), kNow);
  CHECK_FALSE(r.pass);
  CHECK(r.reason.find("order undefined (RFC 1982 3.2)") != std::string::npos);
}

TEST_CASE("judge_soa: no local answer fails; no primary answer does not (the lag is not judged)") {
  auto r = health::judge_soa(with_primary(0), {std::nullopt, "timeout after 1s"}, serial(3), kNow);
  CHECK_FALSE(r.pass);
  CHECK(r.reason == "timeout after 1s");
  CHECK_FALSE(r.serial.has_value());
  r = health::judge_soa(with_primary(0), serial(3), health::SoaAnswer{std::nullopt, "connection refused"}, kNow);
  CHECK(r.pass);
  CHECK(r.reason == "serial 3, primary not judged (connection refused)");
}

TEST_CASE("judge_soa: max-age on a unixtime serial and on a date serial") {
  health::SoaCheckSpec s;
  s.server = "192.0.2.53";
  s.zone = "example.";
  s.max_age = 3600s;
  auto r = health::judge_soa(s, serial(1796558400 - 600), std::nullopt, kNow);
  CHECK(r.pass);
  CHECK(r.reason == "serial 1796557800, 600s old");
  r = health::judge_soa(s, serial(1796558400 - 7200), std::nullopt, kNow);
  CHECK_FALSE(r.pass);
  CHECK(r.reason == "serial 1796551200 is 7200s old > max-age 3600s");
  s.serial_format = health::SerialFormat::Date;
  s.max_age = 48h;
  CHECK(health::judge_soa(s, serial(2026120501), std::nullopt, kNow).pass);  // 36 h
  CHECK_FALSE(health::judge_soa(s, serial(2026120399), std::nullopt, kNow).pass);  // 3.5 days
  r = health::judge_soa(s, serial(1234), std::nullopt, kNow);
  CHECK_FALSE(r.pass);
  CHECK(r.reason == "serial 1234 is not a YYYYMMDDnn date");
}

TEST_CASE("judge_soa: lag and age together, the lag judged first") {
  auto s = with_primary(0);
  s.max_age = 3600s;
  CHECK_FALSE(health::judge_soa(s, serial(1796558000), serial(1796558300), kNow).pass);  // lag
  CHECK(health::judge_soa(s, serial(1796558300), serial(1796558300), kNow).pass);
  CHECK_FALSE(health::judge_soa(s, serial(1796550000), serial(1796550000), kNow).pass);  // age
}

TEST_CASE("SerialWatch: the clock starts at the first answer and again at each new serial") {
  health::SerialWatch w;
  const auto t0 = std::chrono::steady_clock::time_point{} + 100s;
  CHECK(w.observe(5, t0) == 0s);
  CHECK(w.observe(5, t0 + 30s) == 30s);
  CHECK(w.observe(6, t0 + 40s) == 0s);  // changed (either way: a new serial is a change)
  CHECK(w.observe(6, t0 + 100s) == 60s);
  CHECK(w.observe(5, t0 + 110s) == 0s);
}

TEST_CASE("judge_soa: max-unchanged fails a serial that stayed the same too long") {
  health::SoaCheckSpec s;
  s.server = "192.0.2.53";
  s.zone = "example.";
  s.max_unchanged = 3600s;
  auto r = health::judge_soa(s, serial(7), std::nullopt, kNow, 1800s);
  CHECK(r.pass);
  CHECK(r.reason == "serial 7, unchanged for 1800s");
  r = health::judge_soa(s, serial(7), std::nullopt, kNow, 3601s);
  CHECK_FALSE(r.pass);
  CHECK(r.reason == "serial 7 unchanged for 3601s > max-unchanged 3600s");
}
