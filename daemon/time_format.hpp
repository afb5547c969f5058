// RFC 3339 UTC timestamps with milliseconds ("2026-11-29T10:00:00.123Z"), as used in the
// control protocol's replies and events.
#pragma once
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <string>

namespace herald::daemon {

inline std::string format_timestamp(std::chrono::system_clock::time_point tp) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(tp.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  auto frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

}  // namespace herald::daemon
