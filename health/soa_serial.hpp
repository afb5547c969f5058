// Zone freshness, pure: RFC 1982 serial number arithmetic on SOA serials, a serial read as a
// time, and the verdict of a SOA check from what the local server and the primary answered.
// No sockets and no clock (the time is passed in), so all of it is tested with plain numbers.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "health/check_spec.hpp"

namespace herald::health {

/// RFC 1982 3.2 comparison of two 32-bit serials: Undefined when they are exactly 2^31 apart.
enum class SerialOrder { Less, Equal, Greater, Undefined };
SerialOrder serial_compare(std::uint32_t a, std::uint32_t b);

/// How many serials `local` is behind `primary`: 0 when equal or ahead (RFC 1982: a server may
/// be ahead of the primary we ask, e.g. while a newer version propagates), nullopt when the
/// order is undefined. Wraps: local 4294967295, primary 3 is 4 behind.
std::optional<std::uint32_t> serial_lag(std::uint32_t local, std::uint32_t primary);

/// The moment a serial stands for in `format`, or nullopt when it does not read as one
/// (a Date serial whose first eight digits are not a valid YYYYMMDD).
std::optional<std::chrono::system_clock::time_point> serial_time(std::uint32_t serial,
                                                                 SerialFormat format);

/// How long the local serial has stayed the same, as seen by the check's answers: the clock
/// starts at the first answer (herald cannot know about earlier changes) and again at every
/// answer with another serial.
class SerialWatch {
 public:
  /// Records `serial` answered at `now`; returns for how long it has been that serial.
  Duration observe(std::uint32_t serial, std::chrono::steady_clock::time_point now);

 private:
  std::optional<std::uint32_t> last_;
  std::chrono::steady_clock::time_point since_{};
};

/// What one SOA query gave: the serial, or why there is none ("timeout after 1s", ...).
struct SoaAnswer {
  std::optional<std::uint32_t> serial;
  std::string error;
};

/// The verdict of a SOA check: the local answer is required; `primary` is judged only when the
/// spec names a primary (nullopt: not asked). `now` is the wall clock, for max_age;
/// `unchanged_for` what SerialWatch::observe said for the local serial, for max_unchanged.
/// Reasons: "serial 2026120601, primary 2026120603: 2 behind > max-serial-lag 1".
CheckResult judge_soa(const SoaCheckSpec& spec, const SoaAnswer& local,
                      const std::optional<SoaAnswer>& primary, std::chrono::system_clock::time_point now,
                      Duration unchanged_for = Duration::zero());

}  // namespace herald::health
