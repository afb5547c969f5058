// The one severity scale of the whole program: the config file's log-level, the daemon's log
// (log::Level is this type) and the log events the pure libraries hand to it (bgp::Fsm, Peer,
// Speaker). Ordered from the most to the least verbose, so `level >= min` means "shown".
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace herald {

// syslog-like severities; the numeric syslog priority is in syslog_priority().
enum class LogLevel : std::uint8_t { debug, info, notice, warning, error };

// "debug", "info", "notice", "warning", "error" (as written in the config file).
std::string_view to_string(LogLevel level) noexcept;
// Parses the names above; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name) noexcept;
// RFC 5424 6.2.1 severity: debug 7, info 6, notice 5, warning 4, error 3.
int syslog_priority(LogLevel level) noexcept;

}  // namespace herald
