#include "base/log_level.hpp"

namespace herald {

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::notice: return "notice";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "?";
}

std::optional<LogLevel> parse_log_level(std::string_view name) noexcept {
  for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::notice, LogLevel::warning,
                     LogLevel::error}) {
    if (to_string(l) == name) return l;
  }
  return std::nullopt;
}

int syslog_priority(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug: return 7;
    case LogLevel::info: return 6;
    case LogLevel::notice: return 5;
    case LogLevel::warning: return 4;
    case LogLevel::error: return 3;
  }
  return 6;
}

}  // namespace herald
