// The typed, validated herald configuration. Everything here is plain data: loading
// (conf/load.hpp) fills every field, including defaults, so a consumer never has to know a
// default or re-check a value. A Config that exists is a Config that passed validation.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/log_level.hpp"
#include "bgp/types.hpp"

namespace herald::conf {

// All configured durations have millisecond resolution.
using Duration = std::chrono::milliseconds;

// An IP address with a TCP port ("192.0.2.1:179", "[2001:db8::1]:179").
struct Endpoint {
  bgp::IpAddress address;
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

// auto: native journal entries when systemd connected stderr to the journal, text otherwise.
enum class LogFormat { Auto, Text, Json, Journal };

// [global]
struct GlobalConfig {
  std::uint32_t local_as = 0;            // never 0 and never AS_TRANS (RFC 6793)
  bgp::IpAddress router_id;              // IPv4, never 0.0.0.0 (RFC 6286 BGP Identifier)
  std::vector<Endpoint> listen;          // passive listeners; empty: active-only (listen = false)
  std::string control_socket = "/run/herald/control.sock";
  std::string control_group;             // "" : the group of the daemon process
  std::optional<Endpoint> metrics;       // nullopt: no metrics listener
  LogLevel log_level = LogLevel::info;
  LogFormat log_format = LogFormat::Auto;
  std::string state_dir = "/var/lib/herald";
  bool drain_on_shutdown = true;         // announce the "drained" policy before withdrawing
  Duration shutdown_timeout = std::chrono::seconds(30);  // upper bound for drain + withdraw
  // drain-settle: how long "heraldctl drain --wait" waits after the withdrawal was sent to every
  // peer, for the routers to converge, before it replies (--settle overrides it).
  Duration drain_settle = std::chrono::seconds(1);
  std::string user = "herald";           // drop privileges to it when started as root; "" : keep
  // Run every check and decide as usual, but open no BGP session, bind no address and write no
  // state file (also `herald --dry-run`): what a new node would announce, before it does.
  bool dry_run = false;
  // Count the DNS queries arriving on each service address in an nftables table of herald's own
  // (docs/metrics.md, "Query counters"). Not written: on with a [fleet] section (its sites
  // publish their load), off without.
  bool query_counters = false;
  bool operator==(const GlobalConfig&) const = default;
};

enum class PeerMode { Active, Passive, Both };

// RFC 9234 BGP Role, as the local speaker's role towards this peer.
enum class BgpRole { Provider, RouteServer, RouteServerClient, Customer, Peer };

// Single-hop BFD (RFC 5880, RFC 5881) next to one BGP session: keys bfd-* of [[peer]].
struct BfdConfig {
  Duration min_tx = std::chrono::milliseconds(300);  // desired min TX interval, 10 ms .. 60 s
  Duration min_rx = std::chrono::milliseconds(300);  // required min RX interval, 10 ms .. 60 s
  unsigned multiplier = 3;                           // detect multiplier, 1 .. 255
  // true: the BGP session is started only while BFD is Up (and stopped when it goes Down);
  // false: BFD Down only resets an established session.
  bool wait_for_up = false;
  bool operator==(const BfdConfig&) const = default;
};

// What herald adds, for one peer, to every route it announces to it, on top of the service's
// state policy (daemon/service_policy.hpp, announced_attributes): communities of each kind are
// added to the service's, med and local_pref replace the service's, prepend adds copies of the
// local AS after the service's. A change applies to the live session (new UPDATEs only).
struct PeerAttributes {
  std::vector<bgp::Community> communities;                   // sorted, unique
  std::vector<bgp::LargeCommunity> large_communities;        // sorted, unique
  std::vector<bgp::ExtendedCommunity> extended_communities;  // sorted, unique
  std::optional<std::uint32_t> med;
  unsigned prepend = 0;                                      // 0..16
  std::optional<std::uint32_t> local_pref;                   // iBGP peers only (RFC 4271 5.1.5)
  bool operator==(const PeerAttributes&) const = default;
};

// [[peer]]
struct PeerConfig {
  std::string name;
  std::string description;
  bgp::IpAddress address;
  std::uint32_t remote_as = 0;
  std::optional<bgp::IpAddress> local_address;  // same family as address
  std::uint16_t port = 179;
  PeerMode mode = PeerMode::Both;
  Duration hold_time = std::chrono::seconds(90);   // whole seconds; 0 or >= 3 s (RFC 4271 4.2)
  // Whole seconds, below hold_time. nullopt ("auto"): a third of the *negotiated* hold time
  // (RFC 4271 10), which may be lower than ours if the peer proposes less.
  std::optional<Duration> keepalive;
  // First retry after connect_retry, backing off up to connect_retry_max.
  Duration connect_retry = std::chrono::seconds(2);
  Duration connect_retry_max = std::chrono::minutes(2);
  // After a session error the peer stays Idle idle_hold, doubling per consecutive failure up to
  // idle_hold_max (RFC 4271 8.1.1 DampPeerOscillations); 60 s Established resets it.
  Duration idle_hold = std::chrono::seconds(1);
  Duration idle_hold_max = std::chrono::minutes(5);
  std::string md5_password;                         // RFC 2385 key; "" : no TCP-MD5
  std::optional<std::string> md5_password_file;     // where md5_password was read from
  bool gtsm = false;                                // RFC 5082 TTL security
  // Sorted, unique, never empty. Default: the family of `address` only, because carrying the
  // other family needs a next hop of that family (next-hop-v4 / next-hop-v6), which must then
  // be configured.
  std::vector<bgp::Family> families;
  std::optional<bgp::IpAddress> next_hop_v4;        // IPv4
  std::optional<bgp::IpAddress> next_hop_v6;        // IPv6 global (not fe80::/10)
  std::optional<bgp::IpAddress> next_hop_v6_link_local;  // fe80::/10
  std::optional<std::uint32_t> max_prefix;          // received routes; exceeding resets
  std::optional<BgpRole> role;
  bool strict_role = false;  // RFC 9234 strict mode: the peer must send a role; needs role
  std::optional<BfdConfig> bfd;  // nullopt: no BFD for this neighbor
  PeerAttributes attributes;     // communities, med, prepend, local-pref of this peer's routes
  bool carries(bgp::Family f) const;
  bool operator==(const PeerConfig&) const = default;
};

// [service.address]: how the service prefixes' host addresses are put on an interface.
struct AddressBinding {
  bool bind = true;              // false: herald never touches addresses
  std::string interface = "lo";
  bool dummy = false;            // create `interface` as a dummy link if it does not exist
  std::string label;             // IPv4 address label ("lo:dns"); "" : none
  bool keep_on_exit = true;      // leave the addresses in place when herald exits
  bool re_add = true;            // put them back if someone removes them
  bool operator==(const AddressBinding&) const = default;
};

// [service.health] start: the health state a service starts in (not a service state: that is
// health::ServiceState, decided at run time).
enum class StartState { Down, Up };
enum class Combine { All, Any };

// [service.health]. `interval` is the start-to-start period of check rounds while the state
// is stable; `fast_interval` replaces it while a change is pending (between the first
// contrary result and rise/fall). A round never overlaps the previous one.
struct HealthTiming {
  Duration interval = std::chrono::seconds(1);
  Duration fast_interval = std::chrono::milliseconds(200);
  Duration timeout = std::chrono::milliseconds(500);  // default per check; may exceed interval
  unsigned rise = 2;     // consecutive good rounds to go up
  unsigned fall = 2;     // consecutive bad rounds to go down
  StartState start = StartState::Down;
  Combine combine = Combine::All;  // all checks must pass / any check passing is enough
  bool splay = true;     // random start offset in [0, interval) so services don't beat together
  bool operator==(const HealthTiming&) const = default;
};

// [service.flap]: more than `max_changes` state changes inside `window` hold the service down
// for `hold_down`, doubling on each repeat up to `hold_down_max`. max_changes 0 disables it.
struct FlapControl {
  Duration window = std::chrono::seconds(60);
  unsigned max_changes = 6;
  Duration hold_down = std::chrono::seconds(30);
  Duration hold_down_max = std::chrono::minutes(10);
  bool operator==(const FlapControl&) const = default;
};

enum class CheckType { Dns, Tcp, Exec, MaintenanceFile, Process, Soa };

struct DnsCheck {
  bgp::IpAddress server;           // default: the service's first prefix address
  std::uint16_t port = 53;
  std::string qname;               // query name, as written (no trailing-dot normalization)
  std::uint16_t qtype = 1;         // RFC 1035 TYPE (A = 1)
  std::uint16_t qclass = 1;        // IN
  bool rd = true;
  bool edns = true;                // RFC 6891 OPT record
  std::uint16_t edns_buffer = 1232;
  bool tcp = false;
  std::vector<std::uint16_t> rcodes{0};  // accepted RCODEs (NOERROR); sorted, unique
  std::vector<std::string> expect;       // each must appear among the answer RDATA (A/AAAA
                                         // values are normalized addresses)
  bool expect_answer = false;            // the answer section must not be empty
  std::optional<Duration> max_rtt;       // slower replies count as failures
  bool nsid = false;                     // ask for the NSID (RFC 5001); needs edns
  bool tls = false;                      // DNS over TLS (RFC 7858); port 853 unless given
  bool tls_verify = true;                // verify the certificate chain and name
  std::string tls_ca;                    // PEM CA file (absolute); "": the system trust store
  std::string tls_name;                  // name to verify and send as SNI; "": the server address
  bool operator==(const DnsCheck&) const = default;
};

// How a SOA serial reads as a time (max-age).
enum class SerialFormat { Unixtime, Date };

// Zone freshness: the local serial against a primary's (RFC 1982), and/or the serial's age,
// and/or how long it has not changed.
struct SoaCheck {
  bgp::IpAddress server;  // default: the service's first prefix address
  std::uint16_t port = 53;
  std::string zone;
  std::optional<bgp::IpAddress> primary;
  std::uint16_t primary_port = 53;
  std::uint32_t max_serial_lag = 0;  // below 2^31
  std::optional<Duration> max_age;
  SerialFormat serial_format = SerialFormat::Unixtime;
  std::optional<Duration> max_unchanged;  // the serial changed within this, as herald saw it
  bool operator==(const SoaCheck&) const = default;
};

struct TcpCheck {
  bgp::IpAddress address;  // default: the service's first prefix address
  std::uint16_t port = 53;
  bool operator==(const TcpCheck&) const = default;
};

struct ExecCheck {
  std::vector<std::string> command;  // argv; argv[0] is an absolute path; no shell
  bool operator==(const ExecCheck&) const = default;
};

// Present file: the service is "drained" (maintenance) whatever the other checks say.
struct MaintenanceFileCheck {
  std::string path;  // absolute
  bool operator==(const MaintenanceFileCheck&) const = default;
};

// The DNS server's process, named by its pidfile or by its systemd unit (exactly one of the
// two): its exit, or the unit going to "deactivating", takes the service down at once.
struct ProcessCheck {
  std::string pidfile;  // absolute, or ""
  std::string unit;     // a systemd unit name ("unbound.service"), or ""
  bool operator==(const ProcessCheck&) const = default;
};

// [[service.check]]: the fields of `type` are filled, the others keep their defaults.
struct CheckConfig {
  // Unique in its service; in logs, status and the metrics' `check` label. Written as `name`,
  // else "<type>" (the service's only check of that type) or "<type>-<n>" (the n-th, from 1).
  std::string name;
  CheckType type = CheckType::Dns;
  Duration timeout{0};  // resolved: the check's own or the service's health.timeout
  DnsCheck dns;
  TcpCheck tcp;
  ExecCheck exec;
  MaintenanceFileCheck maintenance_file;
  ProcessCheck process;
  SoaCheck soa;
  bool operator==(const CheckConfig&) const = default;
};

enum class Action { Announce, Withdraw };

// [service.policy.up|down|drained]: what to announce for the service prefixes in one state.
struct StatePolicy {
  Action action = Action::Announce;
  std::optional<std::uint32_t> med;                     // MULTI_EXIT_DISC
  unsigned prepend = 0;                                 // extra local-AS copies, 0..16
  std::vector<bgp::Community> communities;              // sorted, unique
  std::vector<bgp::LargeCommunity> large_communities;   // sorted, unique
  std::vector<bgp::ExtendedCommunity> extended_communities;  // sorted, unique (RFC 4360)
  bool operator==(const StatePolicy&) const = default;
};

struct ServicePolicy {
  StatePolicy up;  // default: announce
  StatePolicy down = [] {  // default: withdraw
    StatePolicy s;
    s.action = Action::Withdraw;
    return s;
  }();
  StatePolicy drained = [] {  // default: announce with GRACEFUL_SHUTDOWN (RFC 8326)
    StatePolicy s;
    s.communities = {bgp::kGracefulShutdown};
    return s;
  }();
  // How long "drained" stays announced before the prefixes are withdrawn (RFC 8326 gives
  // receivers time to move traffic); nullopt: stay announced while drained.
  std::optional<Duration> drain_period = std::chrono::seconds(30);
  bool operator==(const ServicePolicy&) const = default;
};

// [[service]]
// [service.fleet]: the service's part in the fleet (docs/fleet.md). Only with a [fleet] section.
struct ServiceFleet {
  // min-sites: a count of sites (2), or a share of the sites publishing the service ("34%").
  unsigned min_sites = 1;
  bool min_sites_percent = false;
  // [service.fleet.held]: what is announced while the fleet floor holds the service although its
  // checks fail (the guard policy); always an announcement.
  StatePolicy held = [] {
    StatePolicy s;
    s.prepend = 3;
    return s;
  }();
  bool operator==(const ServiceFleet&) const = default;
};

struct ServiceConfig {
  std::string name;
  // The inline `prefixes` as written (order kept), then those of prefixes_file in file order;
  // never empty.
  std::vector<bgp::Prefix> prefixes;
  // prefixes-file: absolute path of a file with one prefix per line, re-read on every load
  // (reload included). nullopt: prefixes are all inline.
  std::optional<std::string> prefixes_file;
  std::size_t file_prefixes = 0;  // how many of `prefixes` (the last ones) came from the file
  AddressBinding address;
  HealthTiming health;
  FlapControl flap;
  std::vector<CheckConfig> checks;    // empty: the service is always up
  ServicePolicy policy;
  std::optional<ServiceFleet> fleet;  // nullopt: no [service.fleet], the floor never holds it
  // units: the systemd units (e.g. "unbound.service") whose stop drains this service
  // ("heraldctl drain --unit NAME"); a drain held by a unit is distinct from the operator's.
  std::vector<std::string> units;
  // peers: the names of the [[peer]]s the service is announced to, in the order written, each
  // an existing peer. Empty (the default): every peer, each carrying the families it has.
  std::vector<std::string> peers;
  bool announced_to(std::string_view peer) const;
  bool operator==(const ServiceConfig&) const = default;
};

// [fleet]: this herald's site in a fleet kept in etcd (docs/fleet.md). Absent: herald decides
// alone and publishes nothing, as without the fleet.
struct FleetConfig {
  std::string name;                    // the fleet: keys live under /herald/<name>/
  std::string site;                    // this site's name, unique in the fleet
  std::string region;                  // "" when regions are not used
  std::vector<std::string> endpoints;  // etcd client URLs' "host:port", tried in order
  std::string tls_ca;                  // "" : plain HTTP; else TLS verified against this CA
  std::string tls_cert;                // client certificate and key (both or neither)
  std::string tls_key;
  std::string user;                    // etcd user; "" when etcd authentication is off
  std::string password_file;           // absolute; its first line is the password
  Duration lease_ttl = std::chrono::seconds(10);
  enum class OnUnreachable { Local };  // decide alone, as without the fleet
  OnUnreachable on_unreachable = OnUnreachable::Local;
  bool operator==(const FleetConfig&) const = default;
};

struct Config {
  std::string source;  // file name the config came from (not part of the dump)
  GlobalConfig global;
  std::vector<PeerConfig> peers;
  std::vector<ServiceConfig> services;
  std::optional<FleetConfig> fleet;
  // Equality ignores `source`: two files with the same content are the same config.
  bool operator==(const Config& o) const {
    return global == o.global && peers == o.peers && services == o.services && fleet == o.fleet;
  }
};

// The config-file spelling of each enum value ("info", "both", "rs-client", "maintenance-file",
// "announce", ...), for logs and status output.
std::string_view to_string(LogFormat v);
std::string_view to_string(PeerMode v);
std::string_view to_string(BgpRole v);
std::string_view to_string(StartState v);
std::string_view to_string(Combine v);
std::string_view to_string(CheckType v);
std::string_view to_string(SerialFormat v);
std::string_view to_string(Action v);

inline constexpr const char* kDefaultConfigPath = "/etc/herald/herald.toml";

// What a change of one [[peer]] key does to a running BGP session.
enum class SessionOnChange { Keeps, NeedsNew };
struct PeerField {
  const char* key;  // as in docs/configuration.md ("hold-time", "bfd-min-tx", ...)
  SessionOnChange on_change;
  bool (*differs)(const PeerConfig& a, const PeerConfig& b);
};
// The one table of [[peer]] keys (conf/session_params.cpp); the build fails when PeerConfig
// grows and the table is not told.
std::span<const PeerField> peer_fields();

// True when a key whose change needs a new session differs (address, AS numbers, timers,
// password, families, role, BFD, ...). Description, max-prefix, next-hop overrides, mode and
// connect-retry / idle-hold bounds apply to the live session. A change of global.local_as or
// global.router_id needs a restart of herald (global_keys_needing_restart).
bool peer_needs_new_session(const PeerConfig& a, const PeerConfig& b);
// !peer_needs_new_session(a, b).
bool peer_session_params_equal(const PeerConfig& a, const PeerConfig& b);

// The configuration keys of a [[peer]] whose values differ between a and b, in the order of
// docs/configuration.md ("description", "hold-time", "bfd-min-tx", ...), for the reload's log
// line. Key names only: a changed MD5 password shows as "md5-password", never its value.
std::vector<std::string> peer_changed_keys(const PeerConfig& a, const PeerConfig& b);

// The [global] keys that differ between a and b and that a reload cannot apply (they live in
// sockets opened once at start, or in privileges dropped then): a reload changing any of them
// is refused ("global.listen", ...).
std::vector<std::string> global_keys_needing_restart(const GlobalConfig& a, const GlobalConfig& b);

}  // namespace herald::conf
