// A service's prefixes-file: one prefix per line, for lists too long to write inline (tens of
// thousands of /32s). '#' starts a comment; blank lines are skipped. Read on every load, so a
// reload picks up its changes; a bad line fails the load like a bad key does.
#include <fmt/format.h>

#include <algorithm>

#include "conf/sections.hpp"

namespace herald::conf::detail {
namespace {

// 64 MiB holds about three million lines like "198.18.255.255/32"; the limit only stops a wrong
// path (a disk image, /dev/zero's cousins) from being read into memory.
constexpr std::size_t kMaxPrefixesFileSize = std::size_t{64} << 20;
// Beyond this many bad lines one more error says how many were left out.
constexpr std::size_t kMaxLineErrors = 20;

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

ValueResult<bgp::Prefix> parse_service_prefix(std::string_view text) {
  auto p = parse_prefix(text);
  if (p && p->length == 0)
    return unexpected(fmt::format("{} is a default route, not a service prefix: announcing it "
                                  "would draw all traffic to this host",
                                  p->to_string()));
  return p;
}

void read_prefixes_file(Context& ctx, const std::string& path, const std::string& key, Where key_at,
                        ServiceConfig& s, ServicePositions& pos) {
  auto text = read_file_bounded(path, kMaxPrefixesFileSize);
  if (!text) {
    using K = FileProblem::Kind;
    std::string why = text.error().text;
    switch (text.error().kind) {
      case K::Directory: why = "is a directory"; break;
      case K::NotRegular: why = "not a regular file"; break;
      case K::TooLarge: why = fmt::format("larger than {} MiB", kMaxPrefixesFileSize >> 20); break;
      case K::Open:
      case K::Read: break;
    }
    ctx.error(key_at, key, fmt::format("\"{}\": {}", path, why));
    return;
  }
  parse_prefixes_text(ctx, path, *text, key, key_at, s, pos);
}

void parse_prefixes_text(Context& ctx, const std::string& path, std::string_view all,
                         const std::string& key, Where key_at, ServiceConfig& s, ServicePositions& pos) {
  const std::size_t before = s.prefixes.size();
  const auto lines = static_cast<std::size_t>(std::count(all.begin(), all.end(), '\n')) + 1;
  s.prefixes.reserve(before + lines);
  pos.prefixes.reserve(before + lines);

  std::size_t bad_lines = 0;
  auto bad = [&](unsigned line, std::size_t column, std::string message) {
    if (++bad_lines <= kMaxLineErrors)
      ctx.error_in(path, Where{line, static_cast<unsigned>(column)}, key, std::move(message));
  };
  unsigned line = 0;
  unsigned last_bad_line = 0;
  for (std::size_t start = 0; start <= all.size();) {
    std::size_t end = all.find('\n', start);
    if (end == std::string_view::npos) end = all.size();
    ++line;
    std::string_view l = all.substr(start, end - start);
    start = end + 1;
    l = l.substr(0, std::min(l.find('#'), l.size()));
    std::size_t first = 0;
    while (first < l.size() && blank(l[first])) ++first;
    std::size_t last = l.size();
    while (last > first && blank(l[last - 1])) --last;
    if (first == last) continue;
    const std::string_view word = l.substr(first, last - first);
    if (std::any_of(word.begin(), word.end(), blank)) {
      bad(line, first + 1, fmt::format("expected one prefix per line, got \"{}\"", word));
      last_bad_line = line;
      continue;
    }
    auto p = parse_service_prefix(word);
    if (!p) {
      bad(line, first + 1, p.error());
      last_bad_line = line;
      continue;
    }
    s.prefixes.push_back(*p);
    pos.prefixes.push_back(Where{line, static_cast<unsigned>(first + 1)});
  }
  if (bad_lines > kMaxLineErrors)
    ctx.error_in(path, Where{last_bad_line, 1}, key,
                 fmt::format("{} more lines with errors not shown", bad_lines - kMaxLineErrors));
  s.prefixes_file = path;
  s.file_prefixes = s.prefixes.size() - before;
  if (s.prefixes.empty() && bad_lines == 0)
    ctx.error(key_at, key, fmt::format("\"{}\" has no prefixes, and prefixes gives none either", path));
}

}  // namespace herald::conf::detail
