// Human-readable times and durations for reasons and logs.
#pragma once
#include <chrono>
#include <string>

#include "health/check_spec.hpp"

namespace herald::health {

/// A wall time as "2026-11-29T10:23:45Z" (UTC, second precision).
std::string format_utc(std::chrono::system_clock::time_point t);

/// A duration for humans: "812ms", "2s", "12.5s".
std::string format_duration(Duration d);

}  // namespace herald::health
