// Loading the configuration file into a validated conf::Config.
//
//   auto r = conf::load_file(path);
//   if (!r) { for (auto& e : r.error()) fmt::print(stderr, "{}\n", e.to_string()); return 1; }
//   const conf::Config& cfg = *r;
//   fmt::print("{}", conf::dump(cfg));   // --dump-config
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "bgp/expected.hpp"
#include "conf/config.hpp"

namespace herald::conf {

// One problem in the file. line/column are 1-based; 0 when the problem has no place (the
// file could not be read). `key` is the dotted path of the value ("peer[0].hold-time",
// "service[1].check[0].name"); empty for TOML syntax errors.
struct Error {
  std::string file;
  unsigned line = 0;
  unsigned column = 0;
  std::string key;
  std::string message;

  // "FILE:LINE:COLUMN: KEY: MESSAGE" (parts without a value are left out).
  std::string to_string() const;
  bool operator==(const Error&) const = default;
};

// All errors, one to_string() per line, each ending in a newline (what --check-config prints).
std::string to_string(const std::vector<Error>& errors);

// Either a fully validated config or every error found (sorted by position, never empty).
using LoadResult = Expected<Config, std::vector<Error>>;

// Reads and validates `path` (at most 1 MiB). Password files named in the config are read
// here too.
LoadResult load_file(const std::string& path);

// Validates `text`; `name` is used as the file name in errors and in Config::source.
// Never throws, whatever the bytes.
LoadResult load_string(std::string_view text, std::string_view name);

// The normalized config as TOML text: every key with its effective value (defaults filled),
// fixed key order, durations as "1m30s", MD5 passwords shown as "<redacted>" (a password read
// from a file is shown as that file's path instead). Loading the dump gives an equal Config,
// except for inline MD5 passwords.
std::string dump(const Config& config);

}  // namespace herald::conf
