// The daemon's log: one event per line on stderr in text or JSON form, or one journal entry
// per event sent natively to journald, with structured fields (peer, service, prefix, old, new,
// reason, ...) and rate limiting of repeated messages.
//
// Text:    2026-11-29T10:00:00.123Z info state change peer=upstream1 old=Active new=Established
// JSON:    {"ts":"2026-11-29T10:00:00.123Z","level":"info","msg":"state change","peer":"upstream1",...}
// Journal: MESSAGE=state change peer=upstream1 old=Active new=Established  PRIORITY=6
//          SYSLOG_IDENTIFIER=herald  HERALD_MSG=state change  PEER=upstream1  OLD=Active  NEW=...
//          (journald adds the timestamp; `journalctl PEER=upstream1` selects one peer's events)
//
// Only daemon/ code logs through the global logger; the pure libraries return values and events
// instead. A filtered-out call costs one atomic load: fields are views, nothing is formatted.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/log_level.hpp"

namespace herald::log {

// The program's one log level (base/log_level.hpp), under the name daemon code has always used.
using Level = LogLevel;
enum class Format : std::uint8_t { text, json, journal };

using herald::syslog_priority;
using herald::to_string;
// Parses "debug", "info", "notice", "warning", "error"; nullopt for anything else.
inline std::optional<Level> parse_level(std::string_view name) noexcept { return parse_log_level(name); }
std::optional<Format> parse_format(std::string_view name) noexcept;

// One structured field. The key and a string value are views: they must outlive the log call
// (temporaries in the call expression do). Integers and booleans are kept as numbers so the
// JSON form writes them unquoted.
struct Field {
  using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;
  std::string_view key;
  Value value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  template <typename I,
            std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  Field(std::string_view k, I v) : key(k) {
    if constexpr (std::is_signed_v<I>) {
      value = static_cast<std::int64_t>(v);
    } else {
      value = static_cast<std::uint64_t>(v);
    }
  }
};
using Fields = std::initializer_list<Field>;

// The fields of one journal entry, each "NAME=value" (journald's native protocol).
using JournalEntry = std::vector<std::string>;

// The journal field name of a log field: upper case, characters other than A-Z, 0-9 and '_'
// become '_', and a name that would start with '_' or a digit (reserved for journald's trusted
// fields) gets "F_" in front; at most 64 characters. "peer" -> "PEER", "bfd-state" -> "BFD_STATE".
std::string journal_field_name(std::string_view key);

// Where finished lines go (each ends in '\n') and where time comes from; tests inject them.
struct Environment {
  std::function<void(std::string_view line)> sink;                // default: write(2) to stderr
  std::function<std::chrono::system_clock::time_point()> wall;    // timestamps in lines
  std::function<std::chrono::steady_clock::time_point()> mono;    // rate-limit windows
  // Journal format: sends one entry; false when journald cannot be reached (the event is then
  // written to `sink` as a text line, so nothing is lost). Default: sd_journal_sendv(3).
  std::function<bool(const JournalEntry& entry)> journal;
};
// The real environment: stderr, system_clock, steady_clock.
Environment default_environment();

struct Options {
  Level min_level = Level::info;
  Format format = Format::text;
  // Prefix each line with "<N>" (the syslog priority) so journald records the level; only
  // useful when stderr is a journal stream (see stderr_is_journal()).
  bool syslog_prefix = false;
  // A rate-limited message with the same key is written at most once per window.
  std::chrono::steady_clock::duration rate_window = std::chrono::seconds(10);
  // Keys remembered for rate limiting; beyond this, new keys are not limited (never dropped).
  std::size_t max_rate_keys = 1024;
};

// RFC 3339 UTC with milliseconds, as in log lines and the status JSON: "2026-11-29T10:00:00.123Z".
std::string format_timestamp(std::chrono::system_clock::time_point tp);

// True when systemd connected our stderr to the journal (JOURNAL_STREAM names stderr's inode).
bool stderr_is_journal() noexcept;

// A logger: a level filter, a line formatter and a rate limiter in front of a sink.
// Thread-safe; lines are written whole, in call order.
class Logger {
 public:
  explicit Logger(Options options = {}, Environment env = default_environment());

  // Whether a message at `level` would be written (cheap; call before building fields).
  bool enabled(Level level) const noexcept {
    return static_cast<std::uint8_t>(level) >= min_level_.load(std::memory_order_relaxed);
  }
  void set_level(Level level) noexcept;
  void set_format(Format format);
  // Takes the level, format and syslog prefix of `options` (a reload); rate-limit state stays.
  void reconfigure(const Options& options);

  // Writes one line if `level` passes the filter.
  void write(Level level, std::string_view msg, Fields fields = {});

  // Like write(), but lines with the same level, message and field values are written at most
  // once per rate window. The next one written after a suppressed run carries
  // "(suppressed K similar messages)" (JSON: "suppressed":K). Use for events that can repeat
  // quickly, such as "connect failed" to an unreachable peer.
  void write_limited(Level level, std::string_view msg, Fields fields = {});

 private:
  struct RateEntry {
    std::chrono::steady_clock::time_point last_written;
    std::uint64_t suppressed = 0;
  };
  void emit(Level level, std::string_view msg, Fields fields, std::uint64_t suppressed);

  std::atomic<std::uint8_t> min_level_;
  Options options_;
  Environment env_;
  std::mutex mutex_;
  std::unordered_map<std::string, RateEntry> rate_;
};

// The process-wide logger of the daemon (default options, stderr) and a way to replace it.
Logger& global() noexcept;
void configure(Options options, Environment env = default_environment());

inline void debug(std::string_view msg, Fields f = {}) {
  if (global().enabled(Level::debug)) global().write(Level::debug, msg, f);
}
inline void info(std::string_view msg, Fields f = {}) {
  if (global().enabled(Level::info)) global().write(Level::info, msg, f);
}
inline void notice(std::string_view msg, Fields f = {}) {
  if (global().enabled(Level::notice)) global().write(Level::notice, msg, f);
}
inline void warning(std::string_view msg, Fields f = {}) {
  if (global().enabled(Level::warning)) global().write(Level::warning, msg, f);
}
inline void error(std::string_view msg, Fields f = {}) {
  if (global().enabled(Level::error)) global().write(Level::error, msg, f);
}
// The one shape of every state-change line (notice level), so they all read and grep alike:
//   ... notice state change peer=upstream1 old=Active new=Established reason="OPEN accepted"
// `kind` is the subject's field name ("peer", "service", "prefix"), `name` the subject.
inline void state_change(std::string_view kind, std::string_view name, std::string_view old_state,
                         std::string_view new_state, std::string_view reason) {
  if (global().enabled(Level::notice)) {
    global().write(Level::notice, "state change",
                   {{kind, name}, {"old", old_state}, {"new", new_state}, {"reason", reason}});
  }
}
// Rate-limited variant of the functions above (see Logger::write_limited).
inline void limited(Level level, std::string_view msg, Fields f = {}) {
  if (global().enabled(level)) global().write_limited(level, msg, f);
}

}  // namespace herald::log
