// heraldctl fleet: the fleet in etcd, seen and switched from one place (docs/fleet.md).
//
//   heraldctl fleet [-c FILE] [--endpoints LIST] [--fleet NAME] [--user U --password-file F]
//                   [--tls-ca F [--tls-cert F --tls-key F]] COMMAND
//   heraldctl fleet status [SERVICE] [--json]
//   heraldctl fleet drain (--site S | --region R | --all) SERVICE --reason TEXT [--force] [--min-sites N]
//   heraldctl fleet undrain (--site S | --region R | --all) SERVICE
//   heraldctl fleet forget --site S         remove a decommissioned site's member record
//
// heraldctl talks to etcd itself (not to a herald): the [fleet] section of the configuration
// (-c, default /etc/herald/herald.toml, read when given or when it exists; -c '' reads none) gives the fleet's name,
// the members and the credentials; each flag overrides its key. A drain's floor is the
// [service.fleet] min-sites of the service in that configuration, or --min-sites.
//
// Exit status: 0 done; 1 etcd refused the request (permission, ...), the configuration is bad, or
// an undrain found no drain, or a forget named a live site or no member; 2 no etcd member answered (each member's failure is printed); 3 the
// drain would leave fewer sites announcing than the floor (--force writes it anyway); 64 bad
// command line.
#pragma once
#include <CLI/CLI.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace herald::ctl {

struct FleetArgs {
  CLI::App* fleet = nullptr;
  CLI::App* status = nullptr;
  CLI::App* drain = nullptr;
  CLI::App* undrain = nullptr;
  CLI::App* forget = nullptr;
  CLI::Option* config_opt = nullptr;
  std::string config;
  std::string endpoints, fleet_name, user, password_file, tls_ca, tls_cert, tls_key;
  std::string service, site, region, reason, min_sites;
  bool all = false;
  bool force = false;
  bool json = false;
};

/// Adds `fleet` and its commands to heraldctl's command line.
void add_fleet_commands(CLI::App& app, FleetArgs& a);
/// Checks what CLI11 cannot say; throws CLI::ValidationError.
void validate_fleet(const FleetArgs& a);
/// Runs the fleet command given. `timeout`: per etcd member and request.
int run_fleet(const FleetArgs& a, std::chrono::milliseconds timeout, bool json_out);

}  // namespace herald::ctl
