#include "daemon/heraldctl_fleet.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "base/asio.hpp"
#include "conf/load.hpp"
#include "fleet/drain_check.hpp"
#include "fleet/etcd_client.hpp"
#include "fleet/status_report.hpp"

namespace herald::ctl {
namespace {

namespace asio = boost::asio;
using fleet::EtcdClient;
using fleet::EtcdError;
using fleet::EtcdResult;
using nlohmann::json;

constexpr int kExitRefused = 1;
constexpr int kExitUnreachable = 2;
constexpr int kExitFloor = 3;
constexpr int kDrainAttempts = 5;  // lost races with another writer before giving up

// What heraldctl needs to reach the fleet: from the configuration, overridden by flags.
struct Access {
  std::string fleet;
  fleet::EtcdClientOptions etcd;
  std::optional<fleet::MinSites> min_sites;  // of the service, when known
  std::string floor_source;                  // where min_sites came from, for messages
  std::string floor_unknown;                 // why it is not known
};

int fail(const std::string& what, int rc, bool json_out) {
  std::cerr << "heraldctl: " << what << "\n";
  if (json_out) std::cout << json{{"ok", false}, {"error", what}}.dump(2) << "\n";
  return rc;
}

// The access, or the reason there is none (printed by the caller).
Expected<Access, std::string> resolve(const FleetArgs& a, std::chrono::milliseconds timeout) {
  Access acc;
  std::optional<conf::Config> cfg;
  struct stat st{};
  const bool explicit_config = a.config_opt && a.config_opt->count() > 0;
  const bool none = explicit_config && a.config.empty();  // -c '': the flags alone
  if (!none && (explicit_config || ::stat(a.config.c_str(), &st) == 0)) {
    auto r = conf::load_file(a.config);
    if (!r)
      return unexpected("configuration " + a.config + " (-c '' reads none; then give --fleet and --endpoints):\n" +
                        conf::to_string(r.error()));
    cfg = std::move(r.value());
  }
  const conf::FleetConfig* fc = cfg && cfg->fleet ? &*cfg->fleet : nullptr;
  acc.fleet = !a.fleet_name.empty() ? a.fleet_name : fc ? fc->name : "";
  if (acc.fleet.empty() || !fleet::valid_name(acc.fleet))
    return unexpected(acc.fleet.empty() ? "no fleet name: give --fleet NAME or a configuration with [fleet] (-c FILE; " +
                                              a.config + (cfg ? " has no [fleet])" : " not found)")
                                        : "invalid fleet name '" + acc.fleet + "'");
  acc.etcd.endpoints = !a.endpoints.empty() ? herald::fleet::split_endpoints(a.endpoints) : fc ? fc->endpoints : std::vector<std::string>{};
  if (acc.etcd.endpoints.empty()) return unexpected(std::string("no etcd endpoints: give --endpoints HOST:PORT,... or [fleet] endpoints"));
  auto pick = [](const std::string& flag, const std::string& key) { return !flag.empty() ? flag : key; };
  acc.etcd.ca_file = pick(a.tls_ca, fc ? fc->tls_ca : "");
  acc.etcd.cert_file = pick(a.tls_cert, fc ? fc->tls_cert : "");
  acc.etcd.key_file = pick(a.tls_key, fc ? fc->tls_key : "");
  acc.etcd.tls = !acc.etcd.ca_file.empty();
  acc.etcd.user = pick(a.user, fc ? fc->user : "");
  const std::string pw_file = pick(a.password_file, fc ? fc->password_file : "");
  if (!acc.etcd.user.empty()) {
    if (pw_file.empty()) return unexpected("etcd user " + acc.etcd.user + " needs --password-file");
    std::ifstream f(pw_file);
    if (!f || !std::getline(f, acc.etcd.password)) return unexpected("cannot read the password file " + pw_file);
  }
  acc.etcd.timeout = timeout;
  if (!a.min_sites.empty()) {
    auto m = fleet::parse_min_sites(a.min_sites);
    if (!m) return unexpected("--min-sites: " + m.error());
    acc.min_sites = m.value();
    acc.floor_source = "--min-sites";
  } else if (!cfg) {
    acc.floor_unknown = none ? std::string("no configuration read (-c '')") : "no configuration (" + a.config + " not found)";
  } else if (!a.service.empty()) {
    acc.floor_unknown = a.config + " has no service " + a.service;
    for (const auto& s : cfg->services) {
      if (s.name != a.service) continue;
      // Without [service.fleet] the floor never holds the service: no floor for drains either.
      acc.min_sites = s.fleet ? fleet::MinSites{s.fleet->min_sites_percent ? fleet::MinSites::Kind::Percent
                                                                           : fleet::MinSites::Kind::Count,
                                                s.fleet->min_sites}
                              : fleet::MinSites{};
      acc.floor_source = a.config;
    }
  }
  return acc;
}

template <typename T>
EtcdResult<T> run_sync(asio::io_context& io, asio::awaitable<EtcdResult<T>> task) {
  std::optional<EtcdResult<T>> out;
  auto keep = [](asio::awaitable<EtcdResult<T>> t, std::optional<EtcdResult<T>>& o) -> asio::awaitable<void> {
    o = co_await std::move(t);
  };
  asio::co_spawn(io, keep(std::move(task), out), [](std::exception_ptr e) {
    if (e) std::abort();  // the client reports errors as values
  });
  io.restart();
  io.run();
  return std::move(*out);
}

// An etcd failure as the operator needs it: which member, and why; exit 2 when none answered.
int etcd_fail(const EtcdError& e, const EtcdClient& c, bool json_out) {
  if (e.grpc_code == 0) return fail(e.reason, kExitUnreachable, json_out);
  return fail("etcd member " + c.endpoint() + " refused: " + e.reason, kExitRefused, json_out);
}

std::string login_at_host() {
  std::string who;
  for (const char* v : {"SUDO_USER", "USER", "LOGNAME"})
    if (const char* s = std::getenv(v); s && *s) {
      who = s;
      break;
    }
  if (who.empty())
    if (const passwd* pw = ::getpwuid(::getuid())) who = pw->pw_name;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return (who.empty() ? "?" : who) + "@" + host;
}

fleet::DrainTarget target_of(const FleetArgs& a) {
  using S = fleet::DrainTarget::Scope;
  if (!a.site.empty()) return {S::Site, a.site};
  if (!a.region.empty()) return {S::Region, a.region};
  return {S::All, {}};
}

json names(const std::vector<std::string>& v) { return json(v); }

std::string list(const std::vector<std::string>& v) {
  if (v.empty()) return "none";
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

int status(EtcdClient& c, asio::io_context& io, const Access& acc, const FleetArgs& a, bool json_out) {
  fleet::Keys keys(acc.fleet);
  auto r = run_sync(io, c.txn(fleet::status_read_txn(keys)));
  if (!r) return etcd_fail(r.error(), c, json_out);
  auto s = fleet::fleet_status_from(keys, r.value());
  if (!s) return fail(s.error(), kExitRefused, json_out);
  if (json_out) {
    std::cout << json::parse(fleet::status_report_json(s.value(), acc.fleet, a.service)).dump(2) << "\n";
  } else {
    std::cout << fleet::status_text(s.value(), acc.fleet, a.service, static_cast<std::int64_t>(std::time(nullptr)));
  }
  return 0;
}

int drain(EtcdClient& c, asio::io_context& io, const Access& acc, const FleetArgs& a, bool json_out) {
  fleet::Keys keys(acc.fleet);
  const auto target = target_of(a);
  if (!acc.min_sites && !a.force)
    return fail("the floor of " + a.service + " is unknown: " +
                    acc.floor_unknown +
                    "; give --min-sites N (the service's [service.fleet] min-sites) or --force",
                kExitRefused, json_out);
  const fleet::MinSites min = acc.min_sites.value_or(fleet::MinSites{});
  const fleet::DesiredDrain value{a.reason, login_at_host(), static_cast<std::int64_t>(std::time(nullptr))};
  auto read = run_sync(io, c.txn(fleet::service_read_txn(keys, a.service)));
  if (!read) return etcd_fail(read.error(), c, json_out);
  fleet::TxnResult answer = std::move(read.value());
  for (int attempt = 1; attempt <= kDrainAttempts; ++attempt) {
    auto snap = fleet::service_snapshot_from(keys, a.service, answer);
    if (!snap) return fail(snap.error(), kExitRefused, json_out);
    const auto check = fleet::check_drain(snap.value(), a.service, target, min);
    if (!check.allowed && !a.force)
      return fail("refused: " + check.reason + "; --force drains anyway", kExitFloor, json_out);
    auto w = run_sync(io, c.txn(fleet::drain_txn(keys, a.service, target, value, snap.value(), check, a.force)));
    if (!w) return etcd_fail(w.error(), c, json_out);
    if (!w->succeeded) {  // someone else wrote in between: decide again on what they wrote
      answer = std::move(w.value());
      continue;
    }
    const std::string key = fleet::desired_key(keys, a.service, target);
    if (check.affected.empty())
      std::cerr << "heraldctl: warning: no site publishing " << a.service << " is at " << to_string(target) << "\n";
    if (json_out) {
      std::cout << json{{"ok", true}, {"key", key}, {"revision", w->revision}, {"service", a.service},
                        {"target", to_string(target)}, {"forced", a.force && !check.allowed},
                        {"affected", names(check.affected)}, {"remaining", names(check.remaining)},
                        {"floor", check.floor}, {"floor_from", acc.floor_source}, {"check", check.reason}}
                       .dump(2)
                << "\n";
    } else {
      std::cout << "fleet drain of " << a.service << " at " << to_string(target) << " written to " << key
                << " (revision " << w->revision << "); sites: " << list(check.affected) << "\n"
                << (a.force && !check.allowed ? "FORCED: " : "") << check.reason << "\n";
    }
    return 0;
  }
  return fail("gave up after " + std::to_string(kDrainAttempts) +
                  " attempts: the fleet changed between each read and write; try again",
              kExitRefused, json_out);
}

int undrain(EtcdClient& c, asio::io_context& io, const Access& acc, const FleetArgs& a, bool json_out) {
  fleet::Keys keys(acc.fleet);
  const auto target = target_of(a);
  const std::string key = fleet::desired_key(keys, a.service, target);
  auto r = run_sync(io, c.txn(fleet::undrain_txn(keys, a.service, target)));
  if (!r) return etcd_fail(r.error(), c, json_out);
  if (!r->succeeded) {
    std::vector<std::string> existing;
    if (auto snap = fleet::service_snapshot_from(keys, a.service, r.value()))
      for (const auto& d : snap->drains) existing.push_back(to_string(d.target));
    return fail("no fleet drain of " + a.service + " at " + to_string(target) + " (" + key + " does not exist); fleet drains of " +
                    a.service + ": " + list(existing),
                kExitRefused, json_out);
  }
  if (json_out)
    std::cout << json{{"ok", true}, {"key", key}, {"revision", r->revision}, {"service", a.service},
                      {"target", to_string(target)}}
                     .dump(2)
              << "\n";
  else
    std::cout << "fleet drain of " << a.service << " at " << to_string(target) << " removed (" << key << ", revision "
              << r->revision << ")\n";
  return 0;
}

// A decommissioned site stays listed as unknown until an operator forgets its member record;
// refused while the site is live (its herald would only write the record again).
int forget(EtcdClient& c, asio::io_context& io, const Access& acc, const FleetArgs& a, bool json_out) {
  fleet::Keys keys(acc.fleet);
  // The site's floor ledger keys go with its record (a key under its lease is gone already; one
  // written while it had none would stay). Only the site writes them, and it is not live when
  // the txn succeeds, so none appears between this read and the txn.
  auto floors = run_sync(io, c.get_prefix(keys.floors_prefix()));
  if (!floors) return etcd_fail(floors.error(), c, json_out);
  const std::vector<std::string> ledger = fleet::ledger_keys_of(keys, a.site, floors.value());
  auto r = run_sync(io, c.txn(fleet::forget_txn(keys, a.site, ledger)));
  if (!r) return etcd_fail(r.error(), c, json_out);
  if (!r->succeeded) {
    const bool live = r->ranges.size() == 2 && !r->ranges[0].kvs.empty();
    return fail(live ? "refused: site " + a.site + " is live (" + keys.site(a.site) +
                           " exists under its herald's lease); stop its herald, or wait for the lease to expire, first"
                     : "no member record of site " + a.site + " (" + keys.member(a.site) + " does not exist)",
                kExitRefused, json_out);
  }
  if (json_out)
    std::cout << json{{"ok", true}, {"site", a.site}, {"key", keys.member(a.site)}, {"ledger_keys", ledger},
                      {"revision", r->revision}}
                     .dump(2)
              << "\n";
  else
    std::cout << "site " << a.site << " forgotten: " << keys.member(a.site)
              << (ledger.empty() ? std::string() : " and " + std::to_string(ledger.size()) + " floor ledger key(s)")
              << " deleted (revision " << r->revision << "); fleet status no longer lists it\n";
  return 0;
}

void add_target(CLI::App* sub, FleetArgs& a) {
  auto* site = sub->add_option("--site", a.site, "one site");
  auto* region = sub->add_option("--region", a.region, "every site of a region");
  auto* all = sub->add_flag("--all", a.all, "every site");
  site->excludes(region)->excludes(all);
  region->excludes(all);
  sub->add_option("service", a.service, "service name")->required();
}

}  // namespace

void add_fleet_commands(CLI::App& app, FleetArgs& a) {
  a.fleet = app.add_subcommand("fleet", "see and switch every site of the fleet in etcd (not through herald)");
  a.fleet->require_subcommand(1);
  a.fleet->fallthrough();  // its options may follow the command: fleet status --endpoints ...
  a.config = conf::kDefaultConfigPath;
  a.config_opt = a.fleet->add_option("-c,--config", a.config,
                                     "herald configuration whose [fleet] gives the fleet, the etcd members and the "
                                     "credentials (read when given or when it exists; '' reads none)")
                     ->capture_default_str();
  a.fleet->add_option("--endpoints", a.endpoints, "etcd members, comma-separated HOST:PORT (overrides [fleet] endpoints)");
  a.fleet->add_option("--fleet", a.fleet_name, "the fleet's name (overrides [fleet] name)");
  a.fleet->add_option("--user", a.user, "etcd user (overrides [fleet] user)");
  a.fleet->add_option("--password-file", a.password_file, "file whose first line is the etcd user's password");
  a.fleet->add_option("--tls-ca", a.tls_ca, "CA of the members' certificates: talk TLS (overrides [fleet] tls-ca)");
  a.fleet->add_option("--tls-cert", a.tls_cert, "client certificate for TLS");
  a.fleet->add_option("--tls-key", a.tls_key, "client key for TLS");

  a.status = a.fleet->add_subcommand("status", "every site and service of the fleet, read at one etcd revision");
  a.status->add_option("service", a.service, "only this service");
  a.drain = a.fleet->add_subcommand("drain", "drain a service at a site, a region or everywhere (a desired key in etcd)");
  add_target(a.drain, a);
  a.drain->add_option("-r,--reason", a.reason, "why (shown in fleet status)")->required();
  a.drain->add_flag("--force", a.force, "write the drain even if it leaves fewer sites announcing than the floor");
  a.drain->add_option("--min-sites", a.min_sites,
                      "the floor: a count (2) or a share (34%) (default: the service's [service.fleet] min-sites)");
  a.undrain = a.fleet->add_subcommand("undrain", "remove a fleet drain written by fleet drain");
  add_target(a.undrain, a);
  a.forget = a.fleet->add_subcommand("forget", "forget a decommissioned site: fleet status stops listing it as unknown "
                                               "(refused while the site is live)");
  a.forget->add_option("--site", a.site, "the site")->required();
  for (auto* sub : {a.status, a.drain, a.undrain, a.forget}) sub->add_flag("--json", a.json, "print the answer as JSON");
}

void validate_fleet(const FleetArgs& a) {
  for (auto* sub : {a.drain, a.undrain}) {
    if (!*sub) continue;
    if (a.site.empty() && a.region.empty() && !a.all) throw CLI::ValidationError("give --site S, --region R or --all");
    for (const std::string* n : {&a.site, &a.region, &a.service})
      if (!n->empty() && !fleet::valid_name(*n))
        throw CLI::ValidationError("'" + *n + "' is not a name (1..64 of A-Z a-z 0-9 . _ -)");
  }
  if (*a.forget && !fleet::valid_name(a.site))
    throw CLI::ValidationError("'" + a.site + "' is not a name (1..64 of A-Z a-z 0-9 . _ -)");
}

int run_fleet(const FleetArgs& a, std::chrono::milliseconds timeout, bool json_out) {
  json_out = json_out || a.json;
  auto acc = resolve(a, timeout);
  if (!acc) return fail(acc.error(), kExitRefused, json_out);
  asio::io_context io;
  auto client = EtcdClient::create(io.get_executor(), acc->etcd);
  if (!client) return fail(client.error().reason, kExitRefused, json_out);
  if (*a.status) return status(*client.value(), io, acc.value(), a, json_out);
  if (*a.drain) return drain(*client.value(), io, acc.value(), a, json_out);
  if (*a.forget) return forget(*client.value(), io, acc.value(), a, json_out);
  return undrain(*client.value(), io, acc.value(), a, json_out);
}

}  // namespace herald::ctl
