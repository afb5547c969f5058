// Typed reading of toml++ nodes with error collection (see reader.hpp).
#include "conf/reader.hpp"

#include "base/edit_distance.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <tuple>

namespace herald::conf::detail {

Where where(const toml::source_region& r) { return Where{r.begin.line, r.begin.column}; }

void Context::error(Where at, std::string key, std::string message) {
  errors_.push_back(Error{file_, at.line, at.column, std::move(key), std::move(message)});
}

void Context::error_in(std::string file, Where at, std::string key, std::string message) {
  errors_.push_back(Error{std::move(file), at.line, at.column, std::move(key), std::move(message)});
}

std::vector<Error> Context::take_errors() {
  std::stable_sort(errors_.begin(), errors_.end(), [this](const Error& a, const Error& b) {
    const bool a_other = a.file != file_, b_other = b.file != file_;
    return std::tie(a_other, a.file, a.line, a.column) < std::tie(b_other, b.file, b.line, b.column);
  });
  // One mistake can be found twice (e.g. by two cross-checks); say it once.
  errors_.erase(std::unique(errors_.begin(), errors_.end()), errors_.end());
  return std::move(errors_);
}

Expected<std::string, FileProblem> read_file_bounded(const std::string& path, std::size_t max_bytes) {
  using K = FileProblem::Kind;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return unexpected(FileProblem{K::Open, fmt::format("cannot open: {}", std::strerror(errno))});
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    return unexpected(FileProblem{dir ? K::Directory : K::NotRegular, ""});
  }
  // One byte more than allowed tells "exactly at the limit" from "over it".
  std::string text(std::min<std::size_t>(max_bytes, static_cast<std::size_t>(st.st_size)) + 1, '\0');
  std::size_t got = 0;
  for (;;) {
    if (got == text.size()) {
      if (text.size() > max_bytes) break;
      text.resize(std::min(max_bytes + 1, text.size() * 2));  // the file grew since fstat
    }
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return unexpected(FileProblem{K::Read, fmt::format("read error: {}", std::strerror(err))});
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got > max_bytes) return unexpected(FileProblem{K::TooLarge, ""});
  text.resize(got);
  return text;
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: {
      const std::string& v = n.as_string()->get();
      if (v.size() > 40) return "a string";
      return fmt::format("string \"{}\"", v);
    }
    case toml::node_type::integer: return fmt::format("integer {}", n.as_integer()->get());
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return n.as_boolean()->get() ? "true" : "false";
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::optional<std::string> as_string(Context& ctx, const toml::node& n, const std::string& key) {
  if (const auto* s = n.as_string()) return s->get();
  ctx.error(where(n), key, "expected a string, got " + type_name(n));
  return std::nullopt;
}

std::optional<bool> as_bool(Context& ctx, const toml::node& n, const std::string& key) {
  if (const auto* b = n.as_boolean()) return b->get();
  ctx.error(where(n), key, "expected true or false, got " + type_name(n));
  return std::nullopt;
}

std::optional<std::int64_t> as_int(Context& ctx, const toml::node& n, const std::string& key,
                                   std::int64_t min, std::int64_t max) {
  const auto* i = n.as_integer();
  if (!i) {
    ctx.error(where(n), key, fmt::format("expected an integer {}..{}, got {}", min, max,
                                         type_name(n)));
    return std::nullopt;
  }
  if (i->get() < min || i->get() > max) {
    ctx.error(where(n), key, fmt::format("expected an integer {}..{}, got {}", min, max, i->get()));
    return std::nullopt;
  }
  return i->get();
}

std::optional<Duration> as_duration(Context& ctx, const toml::node& n, const std::string& key) {
  if (const auto* i = n.as_integer()) {
    // A bare number is ambiguous (BIRD and FRR read seconds, herald's check settings are often
    // milliseconds): refuse it, and say exactly what to write for either reading.
    ctx.error(where(n), key,
              fmt::format("expected a duration with a unit: write \"{0}s\" for {0} seconds or \"{0}ms\" "
                          "for {0} milliseconds, got integer {0}",
                          i->get()));
    return std::nullopt;
  }
  if (!n.is_string()) {
    ctx.error(where(n), key,
              "expected a duration string like \"1s\" or \"250ms\", got " + type_name(n));
    return std::nullopt;
  }
  return as_parsed<Duration>(ctx, n, key, parse_duration);
}

std::optional<std::uint32_t> as_asn(Context& ctx, const toml::node& n, const std::string& key) {
  if (const auto* i = n.as_integer()) {
    auto v = check_asn(i->get());
    if (!v) {
      ctx.error(where(n), key, v.error());
      return std::nullopt;
    }
    return *v;
  }
  if (n.is_string()) return as_parsed<std::uint32_t>(ctx, n, key, parse_asn);
  ctx.error(where(n), key,
            "expected an AS number like 65000 or asdot \"1.10\", got " + type_name(n));
  return std::nullopt;
}

std::string TableReader::key(std::string_view k) const {
  if (path_.empty()) return std::string(k);
  // A named element reads as words ("service \"dns\" check \"soa\" timeout"), an indexed one
  // as a dotted path ("peer[0].hold-time").
  return fmt::format("{}{}{}", path_, path_.back() == '"' ? " " : ".", k);
}

Where TableReader::where_table() const {
  Where w = where(table_.source());
  if (w.line == 0) return Where{1, 1};  // the root table has no header
  return w;
}

const toml::node* TableReader::get(std::string_view k, bool required) {
  known_.emplace(k);
  const toml::node* n = table_.get(k);
  if (!n && required) {
    ctx_.error(where_table(), key(k), "required key missing");
  }
  return n;
}

void TableReader::read(std::string_view k, std::string& out, bool required) {
  if (const auto* n = get(k, required))
    if (auto v = as_string(ctx_, *n, key(k))) out = std::move(*v);
}

void TableReader::read(std::string_view k, bool& out) {
  if (const auto* n = get(k))
    if (auto v = as_bool(ctx_, *n, key(k))) out = *v;
}

void TableReader::read(std::string_view k, Duration& out) {
  if (const auto* n = get(k))
    if (auto v = as_duration(ctx_, *n, key(k))) out = *v;
}

void TableReader::read_uint(std::string_view k, unsigned& out, unsigned min, unsigned max) {
  if (const auto* n = get(k))
    if (auto v = as_int(ctx_, *n, key(k), min, max)) out = static_cast<unsigned>(*v);
}

void TableReader::read_port(std::string_view k, std::uint16_t& out) {
  if (const auto* n = get(k))
    if (auto v = as_int(ctx_, *n, key(k), 1, 65535)) out = static_cast<std::uint16_t>(*v);
}

const toml::table* TableReader::table(std::string_view k) {
  const toml::node* n = get(k);
  if (!n) return nullptr;
  if (const auto* t = n->as_table()) return t;
  ctx_.error(where(*n), key(k), "expected a table, got " + type_name(*n));
  return nullptr;
}

void TableReader::finish() {
  for (auto&& [k, v] : table_) {
    std::string_view name = k.str();
    if (known_.count(name)) continue;
    if (auto h = hints_.find(name); h != hints_.end()) {
      Where at = where(k.source());
      ctx_.error(at.line ? at : where(v), key(name), h->second);
      continue;
    }
    // Suggest the closest known key if it is plausibly a typo of this one.
    std::string best;
    std::size_t best_distance = std::numeric_limits<std::size_t>::max();
    for (const auto& candidate : known_) {
      std::size_t d = edit_distance(name, candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    }
    std::string message = "unknown key";
    if (!best.empty() && best_distance <= std::max<std::size_t>(2, name.size() / 3))
      message += fmt::format("; did you mean \"{}\"?", best);
    Where at = where(k.source());
    if (at.line == 0) at = where(v);
    ctx_.error(at, key(name), message);
  }
}

}  // namespace herald::conf::detail
