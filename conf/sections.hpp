// Internal to conf/: the readers of each section, and the positions they remember for the
// checks that span sections (duplicates, families, router id).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "conf/config.hpp"
#include "conf/reader.hpp"

namespace herald::conf::detail {

struct GlobalPositions {
  Where table;
  Where user;           // 0/0: not given, the default applies
  Where control_group;  // 0/0: not given
  bool router_id_given = false;
  bool listen_given = false;
  std::optional<bool> query_counters;  // as written; nullopt: the default, decided by [fleet]
};

struct PeerPositions {
  Where table;
  Where name;
  Where address;
  Where local_address;  // 0/0: not given or invalid
  Where mode;
  Where families;
  Where local_pref;  // 0/0: not given
};

struct ServicePositions {
  Where table;
  Where name;
  // How errors name the service: `service "dns"`, or `service[0]` while it has no valid name.
  std::string path;
  // Parallel to ServiceConfig::prefixes. The last ServiceConfig::file_prefixes of them are
  // line:column in the prefixes-file (ServiceConfig::prefixes_file), the others in the config.
  std::vector<Where> prefixes;
  Where fleet;  // [service.fleet]; 0/0: none
  std::vector<Where> peers;             // parallel to ServiceConfig::peers
  std::vector<std::string> peer_keys;   // each one's key path ("service[0].peers[2]")
};

// RFC 4271 does not bound AS_PATH prepending, but long paths are filtered in practice.
inline constexpr unsigned kMaxPrepend = 16;

// The keys communities, large-communities and extended-communities of a table (a service state
// policy or a [[peer]]), each sorted and made unique; absent keys leave their list alone.
void read_community_lists(TableReader& r, std::vector<bgp::Community>& communities,
                          std::vector<bgp::LargeCommunity>& large,
                          std::vector<bgp::ExtendedCommunity>& extended);

// Reads [fleet]. Relative password-file paths are taken from `config_dir`.
void read_fleet(TableReader& r, FleetConfig& f, const std::string& config_dir);

// Reads [global] into `g` (defaults already in `g`).
void read_global(TableReader& r, GlobalConfig& g, GlobalPositions& pos);

// Reads one [[peer]]. Relative md5-password-file paths are taken from `config_dir`.
void read_peer(TableReader& r, PeerConfig& p, PeerPositions& pos, const std::string& config_dir);

// Reads one [[service]] with its address, health, flap, check and policy tables, and its
// prefixes-file (relative paths are taken from `config_dir`).
void read_service(TableReader& r, ServiceConfig& s, ServicePositions& pos,
                  const std::string& config_dir);

// Reads the prefixes-file at `path` (absolute) into s.prefixes / pos.prefixes, after the inline
// ones. Errors name the file and line; `key` and `key_at` (where prefixes-file is written) are
// for problems with the file as a whole.
void read_prefixes_file(Context& ctx, const std::string& path, const std::string& key, Where key_at,
                        ServiceConfig& s, ServicePositions& pos);
// The parsing half of read_prefixes_file: `text` is the file's content, `path` its name.
void parse_prefixes_text(Context& ctx, const std::string& path, std::string_view text,
                         const std::string& key, Where key_at, ServiceConfig& s, ServicePositions& pos);

// Checks that need the whole file; fills the derived router id.
void check_whole(Context& ctx, Config& cfg, const GlobalPositions& g,
                 const std::vector<PeerPositions>& peers,
                 const std::vector<ServicePositions>& services);

// A service prefix: parse_prefix, and not a default route (0.0.0.0/0, ::/0), which would
// announce "all of the Internet is here".
ValueResult<bgp::Prefix> parse_service_prefix(std::string_view text);

// `path` made absolute against `dir` (the config file's directory) when relative, normalized.
std::string absolute_from(const std::string& dir, const std::string& path);

// Checks the config against the host: the accounts [global] names (user, control-group), and
// peer addresses that are the host's own.
void check_host(Context& ctx, const Config& cfg, const GlobalPositions& pos,
                const std::vector<PeerPositions>& peers, const HostLookup& host);

// Names of peers and services: 1..64 of [A-Za-z0-9._-], so they are safe in log lines,
// metric labels and control commands.
bool valid_name(std::string_view name);
inline constexpr const char* kNameRule = "expected a name of 1..64 characters [A-Za-z0-9._-]";

}  // namespace herald::conf::detail
