// Internal to conf/: reading toml++ tables into typed values while collecting every error
// with its file position and key path. Not part of the public API.
#pragma once
#include <toml++/toml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.hpp"
#include "conf/load.hpp"
#include "conf/values.hpp"

namespace herald::conf::detail {

// A 1-based position in the file; 0/0 means "no position".
struct Where {
  unsigned line = 0;
  unsigned column = 0;
};
Where where(const toml::source_region& r);
inline Where where(const toml::node& n) { return where(n.source()); }

// Collects errors for one file.
class Context {
 public:
  explicit Context(std::string file) : file_(std::move(file)) {}
  void error(Where at, std::string key, std::string message);
  // An error in another file the config names (a prefixes-file): `at` is a place in `file`.
  void error_in(std::string file, Where at, std::string key, std::string message);
  const std::string& file() const { return file_; }
  bool ok() const { return errors_.empty(); }
  // The errors sorted by position, the config file's first, then those of each other file
  // (stable: same position keeps discovery order).
  std::vector<Error> take_errors();

 private:
  std::string file_;
  std::vector<Error> errors_;
};

// Why read_file_bounded failed; `text` is "cannot open: No such file or directory",
// "read error: ..." or empty for the kinds that say it all.
struct FileProblem {
  enum class Kind { Open, Directory, NotRegular, TooLarge, Read } kind = Kind::Open;
  std::string text;
};
// The whole content of a file of at most `max_bytes`. Opened with O_NONBLOCK; directories,
// FIFOs and sockets are refused (NotRegular), so nothing at the path can block the daemon's loop
// during a reload; a device that has nothing to read fails the read.
Expected<std::string, FileProblem> read_file_bounded(const std::string& path, std::size_t max_bytes);

// "string", "integer", "table", ... for messages.
std::string type_name(const toml::node& n);

// Typed conversions of one node. On a wrong type or value they report "<key>: expected ..."
// and return nullopt.
std::optional<std::string> as_string(Context& ctx, const toml::node& n, const std::string& key);
std::optional<bool> as_bool(Context& ctx, const toml::node& n, const std::string& key);
std::optional<std::int64_t> as_int(Context& ctx, const toml::node& n, const std::string& key,
                                   std::int64_t min, std::int64_t max);
std::optional<Duration> as_duration(Context& ctx, const toml::node& n, const std::string& key);
std::optional<std::uint32_t> as_asn(Context& ctx, const toml::node& n, const std::string& key);
// A string parsed by one of the conf/values.hpp parsers.
template <typename T, typename F>
std::optional<T> as_parsed(Context& ctx, const toml::node& n, const std::string& key, F parse) {
  auto s = as_string(ctx, n, key);
  if (!s) return std::nullopt;
  auto v = parse(*s);
  if (!v) {
    ctx.error(where(n), key, v.error());
    return std::nullopt;
  }
  return *v;
}

// Reads the keys of one table. Every getter registers its key as known; finish() reports
// the keys of the table that no getter asked for, with a "did you mean" suggestion.
class TableReader {
 public:
  TableReader(Context& ctx, const toml::table& table, std::string path)
      : ctx_(ctx), table_(table), path_(std::move(path)) {}
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;

  Context& ctx() { return ctx_; }
  const std::string& path() const { return path_; }
  // Names the table from now on: a [[service]] is "service \"dns\"" once its name is read.
  void set_path(std::string path) { path_ = std::move(path); }
  // "PATH.key" (or "key" at the root); "PATH key" when PATH ends with a quoted name.
  std::string key(std::string_view k) const;
  // The table itself, for a look at a key without registering it.
  const toml::table& table_node() const { return table_; }
  // Where the table starts: the place to report a missing key.
  Where where_table() const;

  // Registers `k` and returns its node, or nullptr if absent. `required` reports absence.
  const toml::node* get(std::string_view k, bool required = false);
  // Registers keys that are valid here but read elsewhere (or deliberately ignored).
  void allow(std::string_view k) { known_.emplace(k); }
  // If `k` is present but unread, finish() reports `message` instead of "unknown key".
  void hint(std::string_view k, std::string message) { hints_.emplace(k, std::move(message)); }

  // Convenience getters: leave `out` unchanged when the key is absent or wrong.
  void read(std::string_view k, std::string& out, bool required = false);
  void read(std::string_view k, bool& out);
  void read(std::string_view k, Duration& out);
  void read_uint(std::string_view k, unsigned& out, unsigned min, unsigned max);
  void read_port(std::string_view k, std::uint16_t& out);

  // A sub-table (absent: nullptr; not a table: error and nullptr).
  const toml::table* table(std::string_view k);
  // An array whose elements are handed to `each(node, key_path_of_element)`.
  template <typename F>
  void for_each(std::string_view k, F each) {
    const toml::node* n = get(k);
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr) {
      ctx_.error(conf::detail::where(*n), key(k),
                 "expected an array, got " + type_name(*n));
      return;
    }
    for (std::size_t i = 0; i < arr->size(); ++i)
      each((*arr)[i], key(k) + "[" + std::to_string(i) + "]");
  }

  void finish();

 private:
  Context& ctx_;
  const toml::table& table_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
  std::map<std::string, std::string, std::less<>> hints_;
};

}  // namespace herald::conf::detail
