#include "health/format.hpp"

#include <ctime>

#include <fmt/format.h>

namespace herald::health {

std::string format_utc(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_duration(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms < 1000 || ms % 1000 != 0) {
    if (ms >= 10000) return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
    return fmt::format("{}ms", ms);
  }
  return fmt::format("{}s", ms / 1000);
}

}  // namespace herald::health
