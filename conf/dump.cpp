// dump(): the normalized config as TOML that loads back to the same Config.
#include <fmt/format.h>

#include "conf/load.hpp"
#include "conf/values.hpp"

namespace herald::conf {
namespace {

// A TOML basic string (TOML 1.0 "Basic strings": escape ", \ and control characters).
std::string q(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7F) out += fmt::format("\\u{:04X}", c);
        else out += ch;
    }
  }
  return out + "\"";
}

template <typename T, typename F>
std::string list(const std::vector<T>& items, F fmt_one) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + q(fmt_one(items[i]));
  return out + "]";
}

const char* b(bool v) { return v ? "true" : "false"; }
std::string d(Duration v) { return q(format_duration(v)); }

void global(std::string& o, const GlobalConfig& g) {
  o += "[global]\n";
  o += fmt::format("local-as = {}\n", g.local_as);
  o += fmt::format("router-id = {}\n", q(g.router_id.to_string()));
  if (g.listen.empty()) o += "listen = false\n";
  else o += fmt::format("listen = {}\n", list(g.listen, format_endpoint));
  o += fmt::format("control-socket = {}\n", q(g.control_socket));
  o += fmt::format("control-group = {}\n", q(g.control_group));
  o += fmt::format("metrics = {}\n", g.metrics ? q(format_endpoint(*g.metrics)) : "false");
  o += fmt::format("log-level = {}\n", q(to_string(g.log_level)));
  o += fmt::format("log-format = {}\n", q(to_string(g.log_format)));
  o += fmt::format("state-dir = {}\n", q(g.state_dir));
  o += fmt::format("drain-on-shutdown = {}\n", b(g.drain_on_shutdown));
  o += fmt::format("dry-run = {}\n", b(g.dry_run));
  o += fmt::format("query-counters = {}\n", b(g.query_counters));
  o += fmt::format("drain-settle = {}\n", d(g.drain_settle));
  o += fmt::format("shutdown-timeout = {}\n", d(g.shutdown_timeout));
  o += fmt::format("user = {}\n", q(g.user));
}

void peer(std::string& o, const PeerConfig& p) {
  auto addr = [](const bgp::IpAddress& a) { return q(a.to_string()); };
  o += "\n[[peer]]\n";
  o += fmt::format("name = {}\n", q(p.name));
  o += fmt::format("description = {}\n", q(p.description));
  o += fmt::format("address = {}\n", addr(p.address));
  o += fmt::format("remote-as = {}\n", p.remote_as);
  if (p.local_address) o += fmt::format("local-address = {}\n", addr(*p.local_address));
  o += fmt::format("port = {}\n", p.port);
  o += fmt::format("mode = {}\n", q(to_string(p.mode)));
  o += fmt::format("hold-time = {}\n", d(p.hold_time));
  o += fmt::format("keepalive = {}\n", p.keepalive ? d(*p.keepalive) : q("auto"));
  o += fmt::format("connect-retry = {}\n", d(p.connect_retry));
  o += fmt::format("connect-retry-max = {}\n", d(p.connect_retry_max));
  o += fmt::format("idle-hold = {}\n", d(p.idle_hold));
  o += fmt::format("idle-hold-max = {}\n", d(p.idle_hold_max));
  // The secret itself never leaves the process.
  if (p.md5_password_file) o += fmt::format("md5-password-file = {}\n", q(*p.md5_password_file));
  else if (!p.md5_password.empty()) o += "md5-password = \"<redacted>\"\n";
  o += fmt::format("gtsm = {}\n", b(p.gtsm));
  o += fmt::format("families = {}\n",
                   list(p.families, [](bgp::Family f) { return bgp::to_string(f); }));
  if (p.next_hop_v4) o += fmt::format("next-hop-v4 = {}\n", addr(*p.next_hop_v4));
  if (p.next_hop_v6) o += fmt::format("next-hop-v6 = {}\n", addr(*p.next_hop_v6));
  if (p.next_hop_v6_link_local)
    o += fmt::format("next-hop-v6-link-local = {}\n", addr(*p.next_hop_v6_link_local));
  if (p.max_prefix) o += fmt::format("max-prefix = {}\n", *p.max_prefix);
  if (p.role) {
    o += fmt::format("role = {}\n", q(to_string(*p.role)));
    o += fmt::format("strict-role = {}\n", b(p.strict_role));
  }
  if (p.bfd) {
    o += "bfd = true\n";
    o += fmt::format("bfd-min-tx = {}\n", d(p.bfd->min_tx));
    o += fmt::format("bfd-min-rx = {}\n", d(p.bfd->min_rx));
    o += fmt::format("bfd-multiplier = {}\n", p.bfd->multiplier);
    o += fmt::format("bfd-wait-for-up = {}\n", b(p.bfd->wait_for_up));
  }
  const PeerAttributes& at = p.attributes;
  o += fmt::format("communities = {}\n", list(at.communities, format_community));
  o += fmt::format("large-communities = {}\n", list(at.large_communities, format_large_community));
  o += fmt::format("extended-communities = {}\n", list(at.extended_communities, format_extended_community));
  if (at.med) o += fmt::format("med = {}\n", *at.med);
  o += fmt::format("prepend = {}\n", at.prepend);
  if (at.local_pref) o += fmt::format("local-pref = {}\n", *at.local_pref);
}

void check(std::string& o, const CheckConfig& c) {
  o += "\n[[service.check]]\n";
  o += fmt::format("name = {}\n", q(c.name));
  o += fmt::format("type = {}\n", q(to_string(c.type)));
  o += fmt::format("timeout = {}\n", d(c.timeout));
  switch (c.type) {
    case CheckType::Dns: {
      const DnsCheck& x = c.dns;
      o += fmt::format("server = {}\n", q(x.server.to_string()));
      o += fmt::format("port = {}\n", x.port);
      o += fmt::format("qname = {}\n", q(x.qname));
      o += fmt::format("qtype = {}\n", q(format_qtype(x.qtype)));
      o += fmt::format("qclass = {}\n", q(format_qclass(x.qclass)));
      o += fmt::format("rd = {}\n", b(x.rd));
      o += fmt::format("edns = {}\n", b(x.edns));
      o += fmt::format("edns-buffer = {}\n", x.edns_buffer);
      o += fmt::format("tcp = {}\n", b(x.tcp));
      o += fmt::format("rcodes = {}\n", list(x.rcodes, format_rcode));
      o += fmt::format("expect = {}\n", list(x.expect, [](const std::string& s) { return s; }));
      o += fmt::format("expect-answer = {}\n", b(x.expect_answer));
      if (x.max_rtt) o += fmt::format("max-rtt = {}\n", d(*x.max_rtt));
      o += fmt::format("nsid = {}\n", b(x.nsid));
      o += fmt::format("tls = {}\n", b(x.tls));
      if (x.tls) {
        o += fmt::format("tls-verify = {}\n", b(x.tls_verify));
        if (!x.tls_ca.empty()) o += fmt::format("tls-ca = {}\n", q(x.tls_ca));
        if (!x.tls_name.empty()) o += fmt::format("tls-name = {}\n", q(x.tls_name));
      }
      break;
    }
    case CheckType::Soa: {
      const SoaCheck& x = c.soa;
      o += fmt::format("server = {}\n", q(x.server.to_string()));
      o += fmt::format("port = {}\n", x.port);
      o += fmt::format("zone = {}\n", q(x.zone));
      if (x.primary) {
        o += fmt::format("primary = {}\n", q(x.primary->to_string()));
        o += fmt::format("primary-port = {}\n", x.primary_port);
        o += fmt::format("max-serial-lag = {}\n", x.max_serial_lag);
      }
      if (x.max_age) {
        o += fmt::format("max-age = {}\n", d(*x.max_age));
        o += fmt::format("serial-format = {}\n", q(to_string(x.serial_format)));
      }
      if (x.max_unchanged) o += fmt::format("max-unchanged = {}\n", d(*x.max_unchanged));
      break;
    }
    case CheckType::Tcp:
      o += fmt::format("address = {}\n", q(c.tcp.address.to_string()));
      o += fmt::format("port = {}\n", c.tcp.port);
      break;
    case CheckType::Exec:
      o += fmt::format("command = {}\n",
                       list(c.exec.command, [](const std::string& s) { return s; }));
      break;
    case CheckType::MaintenanceFile:
      o += fmt::format("path = {}\n", q(c.maintenance_file.path));
      break;
    case CheckType::Process:
      if (!c.process.unit.empty())
        o += fmt::format("unit = {}\n", q(c.process.unit));
      else
        o += fmt::format("pidfile = {}\n", q(c.process.pidfile));
      break;
  }
}

void state(std::string& o, std::string_view which, const StatePolicy& s,
           const std::optional<Duration>* drain) {
  o += fmt::format("\n[service.policy.{}]\n", which);
  o += fmt::format("action = {}\n", q(to_string(s.action)));
  if (s.action == Action::Withdraw) return;  // nothing else is allowed with withdraw
  if (s.med) o += fmt::format("med = {}\n", *s.med);
  o += fmt::format("prepend = {}\n", s.prepend);
  o += fmt::format("communities = {}\n", list(s.communities, format_community));
  o += fmt::format("large-communities = {}\n", list(s.large_communities, format_large_community));
  o += fmt::format("extended-communities = {}\n", list(s.extended_communities, format_extended_community));
  if (drain) o += fmt::format("drain-period = {}\n", *drain ? d(**drain) : "false");
}

void service(std::string& o, const ServiceConfig& s) {
  o += "\n[[service]]\n";
  o += fmt::format("name = {}\n", q(s.name));
  // The file's prefixes stay in the file: a dump of a 100,000-line list would bury the rest.
  const std::vector<bgp::Prefix> inline_prefixes(
      s.prefixes.begin(), s.prefixes.end() - static_cast<std::ptrdiff_t>(s.file_prefixes));
  if (!inline_prefixes.empty() || !s.prefixes_file)
    o += fmt::format("prefixes = {}\n",
                     list(inline_prefixes, [](const bgp::Prefix& p) { return p.to_string(); }));
  if (s.prefixes_file) {
    std::size_t v4 = 0;
    for (auto it = s.prefixes.end() - static_cast<std::ptrdiff_t>(s.file_prefixes); it != s.prefixes.end(); ++it)
      v4 += it->addr.is_v4() ? 1 : 0;
    o += fmt::format("prefixes-file = {}  # {} prefixes: {} IPv4, {} IPv6\n", q(*s.prefixes_file),
                     s.file_prefixes, v4, s.file_prefixes - v4);
  }
  if (!s.units.empty()) o += fmt::format("units = {}\n", list(s.units, [](const std::string& u) { return u; }));
  // Absent: every peer (an empty list is refused on load).
  if (!s.peers.empty()) o += fmt::format("peers = {}\n", list(s.peers, [](const std::string& n) { return n; }));
  const AddressBinding& a = s.address;
  o += "\n[service.address]\n";
  o += fmt::format("bind = {}\n", b(a.bind));
  o += fmt::format("interface = {}\n", q(a.interface));
  o += fmt::format("dummy = {}\n", b(a.dummy));
  o += fmt::format("label = {}\n", q(a.label));
  o += fmt::format("keep-on-exit = {}\n", b(a.keep_on_exit));
  o += fmt::format("re-add = {}\n", b(a.re_add));
  const HealthTiming& h = s.health;
  o += "\n[service.health]\n";
  o += fmt::format("interval = {}\n", d(h.interval));
  o += fmt::format("fast-interval = {}\n", d(h.fast_interval));
  o += fmt::format("timeout = {}\n", d(h.timeout));
  o += fmt::format("rise = {}\n", h.rise);
  o += fmt::format("fall = {}\n", h.fall);
  o += fmt::format("start = {}\n", q(to_string(h.start)));
  o += fmt::format("combine = {}\n", q(to_string(h.combine)));
  o += fmt::format("splay = {}\n", b(h.splay));
  const FlapControl& f = s.flap;
  o += "\n[service.flap]\n";
  o += fmt::format("window = {}\n", d(f.window));
  o += fmt::format("max-changes = {}\n", f.max_changes);
  o += fmt::format("hold-down = {}\n", d(f.hold_down));
  o += fmt::format("hold-down-max = {}\n", d(f.hold_down_max));
  for (const CheckConfig& c : s.checks) check(o, c);
  state(o, "up", s.policy.up, nullptr);
  state(o, "down", s.policy.down, nullptr);
  // drain-period is only meaningful (and only accepted) while drained is announced.
  state(o, "drained", s.policy.drained,
        s.policy.drained.action == Action::Announce ? &s.policy.drain_period : nullptr);
  if (s.fleet) {
    o += "\n[service.fleet]\n";
    if (s.fleet->min_sites_percent) o += fmt::format("min-sites = \"{}%\"\n", s.fleet->min_sites);
    else o += fmt::format("min-sites = {}\n", s.fleet->min_sites);
    o += "\n[service.fleet.held]\n";
    const StatePolicy& held = s.fleet->held;
    if (held.med) o += fmt::format("med = {}\n", *held.med);
    o += fmt::format("prepend = {}\n", held.prepend);
    o += fmt::format("communities = {}\n", list(held.communities, format_community));
    o += fmt::format("large-communities = {}\n", list(held.large_communities, format_large_community));
    o += fmt::format("extended-communities = {}\n", list(held.extended_communities, format_extended_community));
  }
}

void fleet(std::string& o, const FleetConfig& f) {
  o += "\n[fleet]\n";
  o += fmt::format("name = {}\n", q(f.name));
  o += fmt::format("site = {}\n", q(f.site));
  o += fmt::format("region = {}\n", q(f.region));
  o += fmt::format("endpoints = {}\n", list(f.endpoints, [](const std::string& e) { return e; }));
  o += fmt::format("tls-ca = {}\n", q(f.tls_ca));
  o += fmt::format("tls-cert = {}\n", q(f.tls_cert));
  o += fmt::format("tls-key = {}\n", q(f.tls_key));
  o += fmt::format("user = {}\n", q(f.user));
  o += fmt::format("password-file = {}\n", q(f.password_file));
  o += fmt::format("lease-ttl = {}\n", d(f.lease_ttl));
  o += "on-unreachable = \"local\"\n";
}

}  // namespace

std::string dump(const Config& config) {
  std::string o = "# herald configuration, normalized: every key with its effective value.\n";
  global(o, config.global);
  for (const PeerConfig& p : config.peers) peer(o, p);
  for (const ServiceConfig& s : config.services) service(o, s);
  if (config.fleet) fleet(o, *config.fleet);
  return o;
}

}  // namespace herald::conf
