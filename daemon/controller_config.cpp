#include "daemon/controller_config.hpp"

#include <fmt/format.h>
#include <ldns/ldns.h>

#include <cstdlib>
#include <map>

namespace herald::daemon {

log::Options log_options(const conf::GlobalConfig& global, bool stderr_is_journal) {
  log::Options o;
  o.min_level = global.log_level;
  switch (global.log_format) {
    case conf::LogFormat::Auto: o.format = stderr_is_journal ? log::Format::journal : log::Format::text; break;
    case conf::LogFormat::Text: o.format = log::Format::text; break;
    case conf::LogFormat::Json: o.format = log::Format::json; break;
    case conf::LogFormat::Journal: o.format = log::Format::journal; break;
  }
  o.syslog_prefix = stderr_is_journal && o.format == log::Format::text;
  return o;
}
namespace {

std::uint16_t whole_seconds(conf::Duration d) {
  return static_cast<std::uint16_t>(std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

bgp::ConnectMode mode_of(conf::PeerMode m) {
  switch (m) {
    case conf::PeerMode::Active: return bgp::ConnectMode::Active;
    case conf::PeerMode::Passive: return bgp::ConnectMode::Passive;
    case conf::PeerMode::Both: return bgp::ConnectMode::Both;
  }
  std::abort();
}

bgp::Role role_of(conf::BgpRole r) {
  switch (r) {
    case conf::BgpRole::Provider: return bgp::Role::Provider;
    case conf::BgpRole::RouteServer: return bgp::Role::RouteServer;
    case conf::BgpRole::RouteServerClient: return bgp::Role::RsClient;
    case conf::BgpRole::Customer: return bgp::Role::Customer;
    case conf::BgpRole::Peer: return bgp::Role::Peer;
  }
  std::abort();
}

// ldns knows every registered mnemonic and writes "TYPE65280" for the rest, which it also reads.
std::string rr_type_name(std::uint16_t t) {
  char* s = ldns_rr_type2str(static_cast<ldns_rr_type>(t));
  std::string out = s ? s : fmt::format("TYPE{}", t);
  std::free(s);
  return out;
}
std::string rr_class_name(std::uint16_t c) {
  char* s = ldns_rr_class2str(static_cast<ldns_rr_class>(c));
  std::string out = s ? s : fmt::format("CLASS{}", c);
  std::free(s);
  return out;
}
std::string rcode_name(std::uint16_t rc) {
  const ldns_lookup_table* e = ldns_lookup_by_id(ldns_rcodes, rc);
  return e ? e->name : fmt::format("RCODE{}", rc);
}

health::CheckSpec check_spec(const conf::CheckConfig& c) {
  switch (c.type) {
    case conf::CheckType::Dns: {
      health::DnsCheckSpec d;
      d.server = c.dns.server.to_string();
      d.port = c.dns.port;
      d.qname = c.dns.qname;
      d.qtype = rr_type_name(c.dns.qtype);
      d.qclass = rr_class_name(c.dns.qclass);
      d.recursion_desired = c.dns.rd;
      if (c.dns.edns) d.edns_udp_size = c.dns.edns_buffer;
      d.transport = c.dns.tls   ? health::DnsTransport::Tls
                    : c.dns.tcp ? health::DnsTransport::Tcp
                                : health::DnsTransport::Udp;
      d.nsid = c.dns.nsid;
      d.tls = health::DnsTlsSpec{c.dns.tls_verify, c.dns.tls_ca, c.dns.tls_name};
      d.accepted_rcodes.clear();
      for (auto rc : c.dns.rcodes) d.accepted_rcodes.push_back(rcode_name(rc));
      d.expect_answers = c.dns.expect;
      d.require_answer = c.dns.expect_answer;
      if (c.dns.max_rtt) d.max_rtt = *c.dns.max_rtt;
      return d;
    }
    case conf::CheckType::Tcp:
      return health::TcpCheckSpec{c.tcp.address.to_string(), c.tcp.port};
    case conf::CheckType::Exec:
      return health::ExecCheckSpec{c.exec.command, health::Duration(c.timeout)};
    case conf::CheckType::MaintenanceFile:
      return health::MaintenanceFileSpec{c.maintenance_file.path};
    case conf::CheckType::Process:
      return health::ProcessCheckSpec{c.process.pidfile, c.process.unit};
    case conf::CheckType::Soa: {
      health::SoaCheckSpec s;
      s.server = c.soa.server.to_string();
      s.port = c.soa.port;
      s.zone = c.soa.zone;
      if (c.soa.primary) s.primary = c.soa.primary->to_string();
      s.primary_port = c.soa.primary_port;
      s.max_serial_lag = c.soa.max_serial_lag;
      if (c.soa.max_age) s.max_age = *c.soa.max_age;
      if (c.soa.max_unchanged) s.max_unchanged = *c.soa.max_unchanged;
      s.serial_format = c.soa.serial_format == conf::SerialFormat::Date ? health::SerialFormat::Date
                                                                        : health::SerialFormat::Unixtime;
      return s;
    }
  }
  std::abort();
}

}  // namespace

bgp::SpeakerSettings speaker_settings(const conf::Config& config) {
  bgp::SpeakerSettings s;
  s.local_as = config.global.local_as;
  s.router_id = config.global.router_id.v4_host_order();
  // Dry run: no listener (nothing accepts a connection).
  if (!config.global.dry_run)
    for (const auto& e : config.global.listen) s.listen.push_back({e.address, e.port});
  return s;
}

bgp::SpeakerPeerConfig speaker_peer(const conf::Config& config, const conf::PeerConfig& p) {
  bgp::SpeakerPeerConfig out;
  bgp::PeerConfig& b = out.bgp;
  b.name = p.name;
  b.description = p.description;
  b.peer_address = p.address;
  b.port = p.port;
  b.peer_as = p.remote_as;
  b.local_as = config.global.local_as;
  b.router_id = config.global.router_id.v4_host_order();
  b.local_address = p.local_address;
  b.mode = mode_of(p.mode);
  b.hold_time = whole_seconds(p.hold_time);
  if (p.keepalive) b.keepalive = whole_seconds(*p.keepalive);
  b.connect_retry = p.connect_retry;
  b.connect_retry_max = p.connect_retry_max;
  b.idle_hold = p.idle_hold;
  b.idle_hold_max = p.idle_hold_max;
  b.families = p.families;
  b.next_hop_v4 = p.next_hop_v4;
  b.next_hop_v6 = p.next_hop_v6;
  b.next_hop_v6_link_local = p.next_hop_v6_link_local;
  b.max_prefix.total = p.max_prefix;
  if (p.role) b.role = role_of(*p.role);
  b.strict_role = p.strict_role;
  if (!p.md5_password.empty()) out.md5 = p.md5_password;
  out.gtsm = p.gtsm;
  if (p.bfd) {
    bgp::SpeakerBfdConfig bfd;
    bfd.session.desired_min_tx = p.bfd->min_tx;
    bfd.session.required_min_rx = p.bfd->min_rx;
    bfd.session.detect_mult = static_cast<std::uint8_t>(p.bfd->multiplier);
    bfd.wait_for_up = p.bfd->wait_for_up;
    out.bfd = bfd;
  }
  if (config.global.dry_run) {
    // The inert speaker of a dry run: a passive neighbor with no listener never has a
    // connection, so no session, no OPEN and no UPDATE; no BFD packet, no TCP-MD5 key installed.
    // Its engine still holds the routes it would send (status shows them per peer).
    b.mode = bgp::ConnectMode::Passive;
    out.md5.reset();
    out.gtsm = false;
    out.bfd.reset();
  }
  return out;
}

std::vector<bgp::SpeakerPeerConfig> speaker_peers(const conf::Config& config) {
  std::vector<bgp::SpeakerPeerConfig> out;
  for (const auto& p : config.peers) out.push_back(speaker_peer(config, p));
  return out;
}

health::ServiceSpec health_spec(const conf::ServiceConfig& s) {
  health::ServiceSpec spec;
  spec.name = s.name;
  auto& p = spec.policy;
  p.interval = s.health.interval;
  p.fast_interval = s.health.fast_interval;
  p.timeout = s.health.timeout;
  p.rise = s.health.rise;
  p.fall = s.health.fall;
  p.start_up = s.health.start == conf::StartState::Up;
  p.combine = s.health.combine == conf::Combine::All ? health::Combine::All : health::Combine::Any;
  p.flap.enabled = s.flap.max_changes > 0;
  p.flap.max_changes = s.flap.max_changes;
  p.flap.window = s.flap.window;
  p.flap.hold = s.flap.hold_down;
  p.flap.max_hold = s.flap.hold_down_max;
  p.splay = s.health.splay ? health::Duration::max() : health::Duration::zero();
  for (const auto& c : s.checks) {
    spec.checks.push_back(check_spec(c));
    spec.check_names.push_back(c.name);
  }
  return spec;
}

std::vector<health::ServiceSpec> health_specs(const conf::Config& config) {
  std::vector<health::ServiceSpec> out;
  for (const auto& s : config.services)
    if (!s.checks.empty()) out.push_back(health_spec(s));
  return out;
}

std::vector<BinderGroup> binder_groups(const conf::Config& config) {
  std::map<std::string, BinderGroup> groups;
  std::vector<std::string> order;
  if (config.global.dry_run) return {};  // a dry run touches no address: no binder at all
  for (const auto& s : config.services) {
    const auto& a = s.address;
    if (!a.bind) continue;
    std::string key = fmt::format("{}{}{}{}{}", a.interface, a.dummy ? " dummy" : "",
                                  a.label.empty() ? "" : " label=" + a.label,
                                  a.keep_on_exit ? " keep" : " remove-on-exit",
                                  a.re_add ? " re-add" : "");
    auto [it, fresh] = groups.try_emplace(key);
    if (fresh) {
      order.push_back(key);
      it->second.key = key;
      auto& c = it->second.config;
      c.interface = a.interface;
      c.create_dummy = a.dummy;
      c.label = a.label;
      c.remove_on_exit = !a.keep_on_exit;
      c.readd = a.re_add ? netlink::ReaddPolicy::Always : netlink::ReaddPolicy::Never;
    }
    netlink::ServiceAddresses sa;
    sa.service = s.name;
    for (const auto& p : s.prefixes) {
      auto ia = netlink::InterfaceAddress::parse(p.to_string());
      if (!ia) std::abort();  // a valid Prefix is always a valid interface address
      sa.addresses.push_back(*ia);
    }
    it->second.config.services.push_back(std::move(sa));
  }
  std::vector<BinderGroup> out;
  for (const auto& k : order) out.push_back(std::move(groups[k]));
  return out;
}

PersistentState::FlapHold persisted_flap_hold(const health::FlapHold& hold) {
  using std::chrono::seconds;
  auto until = std::chrono::ceil<seconds>(hold.until.time_since_epoch()).count();
  auto next = std::chrono::duration_cast<std::chrono::milliseconds>(hold.next_hold).count();
  return {static_cast<std::int64_t>(until), static_cast<std::int64_t>(next)};
}

health::FlapHold flap_hold_of(const PersistentState::FlapHold& hold) {
  return {std::chrono::system_clock::time_point{std::chrono::seconds(hold.until)},
          std::chrono::milliseconds(hold.next_hold_ms)};
}

}  // namespace herald::daemon
