#include "daemon/log.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <algorithm>
#include <memory>

namespace herald::log {

std::optional<Format> parse_format(std::string_view name) noexcept {
  if (name == "text") return Format::text;
  if (name == "json") return Format::json;
  if (name == "journal") return Format::journal;
  return std::nullopt;
}

std::string journal_field_name(std::string_view key) {
  std::string out;
  out.reserve(key.size() + 2);
  for (char ch : key) {
    if (ch >= 'a' && ch <= 'z') out.push_back(static_cast<char>(ch - 'a' + 'A'));
    else if ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) out.push_back(ch);
    else out.push_back('_');
  }
  if (out.empty() || out[0] == '_' || (out[0] >= '0' && out[0] <= '9')) out.insert(0, "F_");
  if (out.size() > 64) out.resize(64);  // journald's limit on field names
  return out;
}

namespace {

void write_stderr(std::string_view line) {
  // One write(2) per line so concurrent writers (and journald) never see half lines.
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a failing stderr
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

using Buffer = fmt::memory_buffer;

void append(Buffer& out, std::string_view s) { out.append(s.data(), s.data() + s.size()); }

// RFC 3339 UTC with milliseconds: 2026-11-29T10:00:00.123Z.
void append_timestamp(Buffer& out, std::chrono::system_clock::time_point tp) {
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
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 frac);
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid (RFC 3629 4).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  std::size_t n;
  std::uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

// A JSON string (RFC 8259 7). Invalid UTF-8 (names from the network, errors from the kernel)
// becomes U+FFFD so every line stays valid JSON.
void append_json_string(Buffer& out, std::string_view s) {
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\n') {
      append(out, "\\n");
      ++i;
    } else if (c == '\t') {
      append(out, "\\t");
      ++i;
    } else if (c == '\r') {
      append(out, "\\r");
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (std::size_t n = utf8_sequence(s, i); n > 0) {
      append(out, s.substr(i, n));
      i += n;
    } else {
      append(out, "\\ufffd");
      ++i;
    }
  }
  out.push_back('"');
}

// Text values are written bare unless they would be ambiguous to a reader or to a
// logfmt-style parser: empty, or containing spaces, quotes, '=' or control characters.
void append_text_value(Buffer& out, std::string_view s) {
  bool quote = s.empty();
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == '"' || c == '=' || c == 0x7F || c == '\\') {
      quote = true;
      break;
    }
  }
  if (!quote) {
    append(out, s);
    return;
  }
  append_json_string(out, s);  // same escaping rules, so text lines stay one line
}

void append_number(Buffer& out, const Field::Value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          append(out, x ? "true" : "false");
        } else if constexpr (std::is_same_v<T, double>) {
          if (x != x || x - x != 0) {
            append(out, "null");  // NaN and infinities have no JSON form
          } else {
            fmt::format_to(std::back_inserter(out), "{}", x);
          }
        } else if constexpr (!std::is_same_v<T, std::string_view>) {
          fmt::format_to(std::back_inserter(out), "{}", x);
        }
      },
      v);
}

void format_text(Buffer& out, Level level, std::string_view msg, Fields fields,
                 std::uint64_t suppressed) {
  append(out, " ");
  append(out, to_string(level));
  append(out, " ");
  // The message is the reader's anchor: keep it bare, but never let it break the line.
  for (char ch : msg) out.push_back(ch == '\n' || ch == '\r' ? ' ' : ch);
  for (const Field& f : fields) {
    out.push_back(' ');
    append(out, f.key);
    out.push_back('=');
    if (auto* s = std::get_if<std::string_view>(&f.value)) {
      append_text_value(out, *s);
    } else {
      append_number(out, f.value);
    }
  }
  if (suppressed > 0) {
    fmt::format_to(std::back_inserter(out), " (suppressed {} similar message{})", suppressed,
                   suppressed == 1 ? "" : "s");
  }
}

// One journal entry: MESSAGE is the text line without timestamp and level (journald keeps
// both), then PRIORITY, the identifier, the bare message and one field per log field.
JournalEntry format_journal(Level level, std::string_view msg, Fields fields, std::uint64_t suppressed) {
  JournalEntry e;
  e.reserve(fields.size() + 5);
  Buffer text;
  format_text(text, level, msg, fields, suppressed);
  // format_text writes " LEVEL msg ...": drop the level, journald has it as PRIORITY.
  std::string_view line(text.data(), text.size());
  line.remove_prefix(std::min(line.size(), 2 + to_string(level).size()));
  e.push_back(fmt::format("MESSAGE={}", line));
  e.push_back(fmt::format("PRIORITY={}", syslog_priority(level)));
  e.emplace_back("SYSLOG_IDENTIFIER=herald");
  e.push_back(fmt::format("HERALD_MSG={}", msg));
  for (const Field& f : fields) {
    std::string value;
    if (auto* s = std::get_if<std::string_view>(&f.value)) {
      value.assign(*s);
    } else {
      Buffer b;
      append_number(b, f.value);
      value = fmt::to_string(b);
    }
    e.push_back(journal_field_name(f.key) + "=" + value);
  }
  if (suppressed > 0) e.push_back(fmt::format("SUPPRESSED={}", suppressed));
  return e;
}

bool send_journal(const JournalEntry& entry) {
  std::vector<iovec> iov;
  iov.reserve(entry.size());
  for (const auto& f : entry) iov.push_back(iovec{const_cast<char*>(f.data()), f.size()});
  return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
}

void format_json(Buffer& out, std::string_view ts, Level level, std::string_view msg,
                 Fields fields, std::uint64_t suppressed) {
  append(out, "{\"ts\":\"");
  append(out, ts);
  append(out, "\",\"level\":\"");
  append(out, to_string(level));
  append(out, "\",\"msg\":");
  append_json_string(out, msg);
  for (const Field& f : fields) {
    out.push_back(',');
    append_json_string(out, f.key);
    out.push_back(':');
    if (auto* s = std::get_if<std::string_view>(&f.value)) {
      append_json_string(out, *s);
    } else {
      append_number(out, f.value);
    }
  }
  if (suppressed > 0) fmt::format_to(std::back_inserter(out), ",\"suppressed\":{}", suppressed);
  out.push_back('}');
}

// The identity of a repeated message: level, text and every field (so "connect failed" to two
// different peers are limited separately).
std::string rate_key(Level level, std::string_view msg, Fields fields) {
  Buffer key;
  key.push_back(static_cast<char>('0' + static_cast<int>(level)));
  append(key, msg);
  for (const Field& f : fields) {
    key.push_back('\0');
    append(key, f.key);
    key.push_back('\0');
    if (auto* s = std::get_if<std::string_view>(&f.value)) {
      append(key, *s);
    } else {
      append_number(key, f.value);
    }
  }
  return fmt::to_string(key);
}

}  // namespace

std::string format_timestamp(std::chrono::system_clock::time_point tp) {
  Buffer b;
  append_timestamp(b, tp);
  return fmt::to_string(b);
}

Environment default_environment() {
  return Environment{write_stderr, [] { return std::chrono::system_clock::now(); },
                     [] { return std::chrono::steady_clock::now(); }, send_journal};
}

bool stderr_is_journal() noexcept {
  // systemd.exec(5): JOURNAL_STREAM is "DEVICE:INODE" of the stream connected to the journal.
  const char* js = std::getenv("JOURNAL_STREAM");
  if (js == nullptr) return false;
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  return dev == static_cast<unsigned long long>(st.st_dev) &&
         ino == static_cast<unsigned long long>(st.st_ino);
}

Logger::Logger(Options options, Environment env)
    : min_level_(static_cast<std::uint8_t>(options.min_level)),
      options_(options),
      env_(std::move(env)) {
  Environment def = default_environment();
  if (!env_.sink) env_.sink = def.sink;
  if (!env_.journal) env_.journal = def.journal;
  if (!env_.wall) env_.wall = def.wall;
  if (!env_.mono) env_.mono = def.mono;
}

void Logger::set_level(Level level) noexcept {
  min_level_.store(static_cast<std::uint8_t>(level), std::memory_order_relaxed);
}

void Logger::set_format(Format format) {
  std::lock_guard lock(mutex_);
  options_.format = format;
}

void Logger::reconfigure(const Options& options) {
  set_level(options.min_level);
  std::lock_guard lock(mutex_);
  options_.format = options.format;
  options_.syslog_prefix = options.syslog_prefix;
}

void Logger::write(Level level, std::string_view msg, Fields fields) {
  if (!enabled(level)) return;
  std::lock_guard lock(mutex_);
  emit(level, msg, fields, 0);
}

void Logger::write_limited(Level level, std::string_view msg, Fields fields) {
  if (!enabled(level)) return;
  std::string key = rate_key(level, msg, fields);
  std::lock_guard lock(mutex_);
  auto now = env_.mono();
  auto it = rate_.find(key);
  if (it == rate_.end()) {
    if (rate_.size() >= options_.max_rate_keys) {
      // Forget keys whose window has passed with nothing suppressed: they carry no state.
      for (auto i = rate_.begin(); i != rate_.end();) {
        if (i->second.suppressed == 0 && now - i->second.last_written >= options_.rate_window) {
          i = rate_.erase(i);
        } else {
          ++i;
        }
      }
    }
    if (rate_.size() < options_.max_rate_keys) rate_.emplace(std::move(key), RateEntry{now, 0});
    emit(level, msg, fields, 0);
    return;
  }
  RateEntry& e = it->second;
  if (now - e.last_written < options_.rate_window) {
    ++e.suppressed;
    return;
  }
  emit(level, msg, fields, e.suppressed);
  e.last_written = now;
  e.suppressed = 0;
}

void Logger::emit(Level level, std::string_view msg, Fields fields, std::uint64_t suppressed) {
  if (options_.format == Format::journal && env_.journal(format_journal(level, msg, fields, suppressed))) return;
  Buffer ts;
  append_timestamp(ts, env_.wall());
  Buffer out;
  if (options_.syslog_prefix) fmt::format_to(std::back_inserter(out), "<{}>", syslog_priority(level));
  if (options_.format == Format::json) {
    format_json(out, std::string_view(ts.data(), ts.size()), level, msg, fields, suppressed);
  } else {
    out.append(ts.data(), ts.data() + ts.size());
    format_text(out, level, msg, fields, suppressed);
  }
  out.push_back('\n');
  env_.sink(std::string_view(out.data(), out.size()));
}

namespace {
std::unique_ptr<Logger>& global_slot() {
  static std::unique_ptr<Logger> logger = std::make_unique<Logger>();
  return logger;
}
}  // namespace

Logger& global() noexcept { return *global_slot(); }

void configure(Options options, Environment env) {
  // Called at start-up (and on reload) before other threads log; the old logger is dropped.
  global_slot() = std::make_unique<Logger>(options, std::move(env));
}

}  // namespace herald::log
