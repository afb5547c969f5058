// Loading the configuration file into a validated conf::Config.
//
//   auto r = conf::load_file(path);
//   if (!r) { for (auto& e : r.error()) fmt::print(stderr, "{}\n", e.to_string()); return 1; }
//   const conf::Config& cfg = *r;
//   fmt::print("{}", conf::dump(cfg));   // --dump-config
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "conf/config.hpp"

namespace herald::conf {

// One problem in the file. line/column are 1-based; 0 when the problem has no place (the
// file could not be read). `key` is the path of the value ("peer[0].hold-time", and by name
// once known `service "dns" check "soa" timeout`); empty for TOML syntax errors.
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

// What a configuration needs from the host it runs on, asked only when a HostLookup is given:
// the accounts it names exist (global.user, including the default "herald", and
// global.control-group), and no peer address is one of the host's own. Each account lookup
// returns true (exists), false (no such account), or the reason the lookup itself failed (an
// unreachable NSS source must not read as "missing"). A null function skips its check.
struct HostLookup {
  std::function<Expected<bool, std::string>(const std::string&)> user_exists;
  std::function<Expected<bool, std::string>(const std::string&)> group_exists;
  // The addresses on the host's interfaces (in the network namespace of the caller).
  std::function<Expected<std::vector<bgp::IpAddress>, std::string>()> local_addresses;
};

// The running system's account databases (getpwnam_r / getgrnam_r).
const HostLookup& system_host();

// Reads and validates `path` (at most 1 MiB; a service's prefixes-file may be larger).
// Password and prefix files named in the config are read here too. With `host`, the accounts
// the config names are checked against it as well: --check-config and the daemon pass
// system_host(), so a config that passes can run.
LoadResult load_file(const std::string& path, const HostLookup* host = nullptr);

// Validates `text`; `name` is used as the file name in errors and in Config::source, and its
// directory for relative file paths. Never throws, whatever the bytes.
LoadResult load_string(std::string_view text, std::string_view name,
                       const HostLookup* host = nullptr);

// The normalized config as TOML text: every key with its effective value (defaults filled),
// fixed key order, durations as "1m30s", MD5 passwords shown as "<redacted>" (a password read
// from a file is shown as that file's path instead), a prefixes-file as its path and a comment
// with its count (not its lines). Loading the dump gives an equal Config, except for inline MD5
// passwords.
std::string dump(const Config& config);

}  // namespace herald::conf
