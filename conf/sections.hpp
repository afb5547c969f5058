// Internal to conf/: the readers of each section, and the positions they remember for the
// checks that span sections (duplicates, families, router id).
#pragma once
#include <string>
#include <vector>

#include "conf/config.hpp"
#include "conf/reader.hpp"

namespace herald::conf::detail {

struct GlobalPositions {
  Where table;
  bool router_id_given = false;
  bool listen_given = false;
};

struct PeerPositions {
  Where table;
  Where name;
  Where address;
  Where mode;
  Where families;
};

struct ServicePositions {
  Where table;
  Where name;
  std::vector<Where> prefixes;  // parallel to ServiceConfig::prefixes
};

// Reads [global] into `g` (defaults already in `g`).
void read_global(TableReader& r, GlobalConfig& g, GlobalPositions& pos);

// Reads one [[peer]]. Relative md5-password-file paths are taken from `config_dir`.
void read_peer(TableReader& r, PeerConfig& p, PeerPositions& pos, const std::string& config_dir);

// Reads one [[service]] with its address, health, flap, check and policy tables.
void read_service(TableReader& r, ServiceConfig& s, ServicePositions& pos);

// Checks that need the whole file; fills the derived router id.
void check_whole(Context& ctx, Config& cfg, const GlobalPositions& g,
                 const std::vector<PeerPositions>& peers,
                 const std::vector<ServicePositions>& services);

// Names of peers and services: 1..64 of [A-Za-z0-9._-], so they are safe in log lines,
// metric labels and control commands.
bool valid_name(std::string_view name);
inline constexpr const char* kNameRule = "expected a name of 1..64 characters [A-Za-z0-9._-]";

}  // namespace herald::conf::detail
