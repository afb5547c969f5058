// [[service.check]]: dns, tcp, exec, maintenance-file and process checks.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>

#include "conf/read_service_parts.hpp"

namespace herald::conf::detail {
namespace {

// The address checks talk to by default: the service's own (first) anycast address, which
// is what clients reach.
bgp::IpAddress default_target(const ServiceConfig& s) {
  return s.prefixes.empty() ? bgp::IpAddress{} : s.prefixes.front().addr;
}

void read_target(TableReader& r, std::string_view k, bgp::IpAddress& out) {
  if (const auto* n = r.get(k))
    if (auto a = as_parsed<bgp::IpAddress>(r.ctx(), *n, r.key(k), parse_address)) out = *a;
}

// DNS over TLS (RFC 7858): tls = true moves the default port to 853; the tls-* keys need it.
void read_dns_tls(TableReader& r, DnsCheck& d) {
  Context& ctx = r.ctx();
  if (const auto* n = r.get("tls")) {
    r.read("tls", d.tls);
    if (d.tls && r.get("tcp") && r.get("tcp")->value_or(false))
      ctx.error(where(*n), r.key("tls"), "tls = true runs over TCP already: drop tcp = true");
  }
  if (d.tls) d.port = 853;  // RFC 7858 3.1; read_port below overrides it when given
  r.read("tls-verify", d.tls_verify);
  if (const auto* n = r.get("tls-ca")) {
    if (auto v = as_string(ctx, *n, r.key("tls-ca"))) {
      if (v->empty() || v->front() != '/')
        ctx.error(where(*n), r.key("tls-ca"), fmt::format("expected an absolute path, got \"{}\"", *v));
      else
        d.tls_ca = *v;
    }
  }
  if (const auto* n = r.get("tls-name"))
    if (auto v = as_string(ctx, *n, r.key("tls-name"))) d.tls_name = *v;
  for (std::string_view k : {"tls-verify", "tls-ca", "tls-name"})
    if (const auto* n = r.get(k); n && !d.tls)
      ctx.error(where(*n), r.key(k), fmt::format("{} is only used with tls = true", k));
}

void read_dns(TableReader& r, DnsCheck& d, const ServiceConfig& s) {
  Context& ctx = r.ctx();
  d.server = default_target(s);
  read_target(r, "server", d.server);
  r.read_port("port", d.port);
  if (const auto* n = r.get("qname")) {
    if (auto v = as_parsed<std::string>(ctx, *n, r.key("qname"), check_dns_name)) d.qname = *v;
  } else if (const auto* name = r.table_node().get("name"); name && name->is_string()) {
    // Before checks had names, `name` was the query name: say what to write instead.
    ctx.error(r.where_table(), r.key("qname"),
              fmt::format("required key missing: the query name is qname (name = \"{}\" names the "
                          "check); write qname = \"{}\"",
                          *name->value<std::string>(), *name->value<std::string>()));
  } else {
    ctx.error(r.where_table(), r.key("qname"), "required key missing");
  }
  if (const auto* n = r.get("qtype"))
    if (auto v = as_parsed<std::uint16_t>(ctx, *n, r.key("qtype"), parse_qtype)) d.qtype = *v;
  if (const auto* n = r.get("qclass"))
    if (auto v = as_parsed<std::uint16_t>(ctx, *n, r.key("qclass"), parse_qclass)) d.qclass = *v;
  r.read("rd", d.rd);
  r.read("edns", d.edns);
  read_dns_tls(r, d);
  r.read_port("port", d.port);
  if (const auto* n = r.get("edns-buffer"))
    // RFC 6891 6.2.5: values below 512 are treated as 512.
    if (auto v = as_int(ctx, *n, r.key("edns-buffer"), 512, 65535))
      d.edns_buffer = static_cast<std::uint16_t>(*v);
  r.read("tcp", d.tcp);
  if (r.get("rcodes")) {
    std::vector<std::uint16_t> codes;
    r.for_each("rcodes", [&](const toml::node& e, const std::string& key) {
      if (auto v = as_parsed<std::uint16_t>(ctx, e, key, parse_rcode)) codes.push_back(*v);
    });
    std::sort(codes.begin(), codes.end());
    codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
    if (codes.empty())
      ctx.error(where(*r.get("rcodes")), r.key("rcodes"), "expected at least one response code");
    else
      d.rcodes = codes;
  }
  r.for_each("expect", [&](const toml::node& e, const std::string& key) {
    auto v = as_string(ctx, e, key);
    if (!v) return;
    // A and AAAA values are compared as addresses, so normalize them ("2001:DB8::1").
    if (d.qtype == 1 || d.qtype == 28) {
      auto a = bgp::IpAddress::parse(*v);
      if (!a || a->is_v4() != (d.qtype == 1)) {
        ctx.error(where(e), key, fmt::format("expected an {} address for qtype {}, got \"{}\"",
                                             d.qtype == 1 ? "IPv4" : "IPv6",
                                             format_qtype(d.qtype), *v));
        return;
      }
      d.expect.push_back(a->to_string());
    } else if (v->empty()) {
      ctx.error(where(e), key, "expected a non-empty RDATA text");
    } else {
      d.expect.push_back(*v);
    }
  });
  r.read("expect-answer", d.expect_answer);
  if (const auto* n = r.get("max-rtt")) {
    if (auto v = as_duration(ctx, *n, r.key("max-rtt"))) {
      if (v->count() == 0) ctx.error(where(*n), r.key("max-rtt"), "expected a duration above 0s");
      else d.max_rtt = *v;
    }
  }
  if (const auto* n = r.get("nsid")) {
    r.read("nsid", d.nsid);
    // RFC 5001 2.1: the request is an EDNS option.
    if (d.nsid && !d.edns) ctx.error(where(*n), r.key("nsid"), "nsid = true needs edns = true (NSID is an EDNS option)");
  }
}

// A SOA check: the zone's serial on the local server against a primary's, and/or its age.
void read_soa(TableReader& r, SoaCheck& c, const ServiceConfig& s) {
  Context& ctx = r.ctx();
  c.server = default_target(s);
  read_target(r, "server", c.server);
  r.read_port("port", c.port);
  if (const auto* n = r.get("zone", true))
    if (auto v = as_parsed<std::string>(ctx, *n, r.key("zone"), check_dns_name)) c.zone = *v;
  if (const auto* n = r.get("primary"))
    if (auto a = as_parsed<bgp::IpAddress>(ctx, *n, r.key("primary"), parse_address)) c.primary = *a;
  r.read_port("primary-port", c.primary_port);
  if (const auto* n = r.get("max-serial-lag")) {
    // RFC 1982 3.1: serials more than 2^31 - 1 apart cannot be ordered.
    if (auto v = as_int(ctx, *n, r.key("max-serial-lag"), 0, 0x7fffffff)) c.max_serial_lag = static_cast<std::uint32_t>(*v);
    if (!c.primary)
      ctx.error(where(*n), r.key("max-serial-lag"), "max-serial-lag needs a primary to compare with (primary = \"ADDRESS\")");
  }
  if (const auto* n = r.get("max-age")) {
    if (auto v = as_duration(ctx, *n, r.key("max-age"))) {
      if (v->count() == 0) ctx.error(where(*n), r.key("max-age"), "expected a duration above 0s");
      else c.max_age = *v;
    }
  }
  if (const auto* n = r.get("serial-format")) {
    if (auto v = as_string(ctx, *n, r.key("serial-format"))) {
      if (*v == "unixtime") c.serial_format = SerialFormat::Unixtime;
      else if (*v == "date") c.serial_format = SerialFormat::Date;
      else ctx.error(where(*n), r.key("serial-format"), fmt::format("expected \"unixtime\" or \"date\" (YYYYMMDDnn), got \"{}\"", *v));
    }
    if (!r.get("max-age"))
      ctx.error(where(*n), r.key("serial-format"), "serial-format is only used with max-age");
  }
  if (const auto* n = r.get("max-unchanged")) {
    if (auto v = as_duration(ctx, *n, r.key("max-unchanged"))) {
      if (v->count() == 0) ctx.error(where(*n), r.key("max-unchanged"), "expected a duration above 0s");
      else c.max_unchanged = *v;
    }
  }
  if (!c.primary && !c.max_age && !c.max_unchanged && ctx.ok())
    ctx.error(r.where_table(), r.key("type"),
              "a soa check needs at least one of primary = \"ADDRESS\" (serial lag), max-age = \"DURATION\" "
              "(serial age) and max-unchanged = \"DURATION\" (time since the serial changed)");
}

void read_tcp(TableReader& r, TcpCheck& t, const ServiceConfig& s) {
  t.address = default_target(s);
  read_target(r, "address", t.address);
  r.read_port("port", t.port);
}

void read_exec(TableReader& r, ExecCheck& x) {
  Context& ctx = r.ctx();
  const toml::node* n = r.get("command", true);
  if (!n) return;
  r.for_each("command", [&](const toml::node& e, const std::string& key) {
    if (auto v = as_string(ctx, e, key)) x.command.push_back(*v);
  });
  if (n->is_array() && (x.command.empty() || x.command.front().empty()))
    ctx.error(where(*n), r.key("command"),
              "expected an argv array like [\"/usr/lib/herald/check\", \"--quick\"] with a "
              "non-empty program name");
}

// A required absolute path under key `k`.
void read_absolute_path(TableReader& r, std::string_view k, std::string& out) {
  const toml::node* n = r.get(k, true);
  if (!n) return;
  auto v = as_string(r.ctx(), *n, r.key(k));
  if (!v) return;
  if (v->empty() || v->front() != '/')
    r.ctx().error(where(*n), r.key(k), fmt::format("expected an absolute path, got \"{}\"", *v));
  else
    out = *v;
}

void read_maintenance(TableReader& r, MaintenanceFileCheck& m) { read_absolute_path(r, "path", m.path); }

// A systemd unit name as systemd spells one: a name of letters, digits and ":-_.\\@", with a
// type suffix (".service"), at most 255 bytes (systemd.unit(5)).
bool valid_unit_name(std::string_view u) {
  if (u.empty() || u.size() > 255) return false;
  const auto dot = u.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == u.size()) return false;
  for (char c : u)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view(":-_.\\@").find(c) == std::string_view::npos)
      return false;
  return true;
}

// Exactly one of `pidfile` (absolute) and `unit` (a systemd unit name).
void read_process(TableReader& r, ProcessCheck& p) {
  const toml::node* unit = r.get("unit");
  const toml::node* pidfile = r.get("pidfile");
  if (unit && pidfile) {
    r.ctx().error(where(*unit), r.key("unit"), "give either pidfile or unit, not both");
    return;
  }
  if (!unit && !pidfile) {
    r.ctx().error(r.where_table(), r.path(),
                  "a process check needs pidfile (an absolute path) or unit (a systemd unit name)");
    return;
  }
  if (!unit) {
    read_absolute_path(r, "pidfile", p.pidfile);
    return;
  }
  auto v = as_string(r.ctx(), *unit, r.key("unit"));
  if (!v) return;
  if (!valid_unit_name(*v))
    r.ctx().error(where(*unit), r.key("unit"),
                  fmt::format("expected a systemd unit name like \"unbound.service\", got \"{}\"", *v));
  else
    p.unit = *v;
}

}  // namespace

bool read_check(TableReader& r, CheckConfig& c, const ServiceConfig& s) {
  Context& ctx = r.ctx();
  const toml::node* n = r.get("type", true);
  if (!n) return false;  // without a type, no key can be judged unknown
  auto type = as_string(ctx, *n, r.key("type"));
  if (!type) return false;
  if (*type == "dns") c.type = CheckType::Dns;
  else if (*type == "tcp") c.type = CheckType::Tcp;
  else if (*type == "exec") c.type = CheckType::Exec;
  else if (*type == "maintenance-file") c.type = CheckType::MaintenanceFile;
  else if (*type == "process") c.type = CheckType::Process;
  else if (*type == "soa") c.type = CheckType::Soa;
  else {
    ctx.error(where(*n), r.key("type"),
              fmt::format("expected \"dns\", \"tcp\", \"exec\", \"maintenance-file\", "
                          "\"process\" or \"soa\", got \"{}\"",
                          *type));
    return false;
  }

  c.timeout = s.health.timeout;
  if (const auto* t = r.get("timeout")) {
    if (auto v = as_duration(ctx, *t, r.key("timeout"))) {
      if (v->count() == 0)
        ctx.error(where(*t), r.key("timeout"), "expected a duration above 0s");
      else  // may exceed the interval: the next round waits for this one (read_health)
        c.timeout = *v;
    }
  }
  // Keys of the other check types get a precise message instead of "unknown key".
  struct TypeKeys {
    CheckType type;
    std::initializer_list<std::string_view> keys;
  };
  static const TypeKeys kKeys[] = {
      {CheckType::Dns, {"server", "port", "qname", "qtype", "qclass", "rd", "edns", "edns-buffer",
                        "tcp", "rcodes", "expect", "expect-answer", "max-rtt", "nsid", "tls",
                        "tls-verify", "tls-ca", "tls-name"}},
      {CheckType::Soa, {"server", "port", "zone", "primary", "primary-port", "max-serial-lag",
                        "max-age", "serial-format", "max-unchanged"}},
      {CheckType::Tcp, {"address", "port"}},
      {CheckType::Exec, {"command"}},
      {CheckType::MaintenanceFile, {"path"}},
      {CheckType::Process, {"pidfile", "unit"}},
  };
  for (const TypeKeys& tk : kKeys)
    if (tk.type != c.type)
      for (std::string_view k : tk.keys)
        r.hint(k, fmt::format("not a key of {} checks (it belongs to {} checks)",
                              to_string(c.type), to_string(tk.type)));
  switch (c.type) {
    case CheckType::Dns: read_dns(r, c.dns, s); break;
    case CheckType::Tcp: read_tcp(r, c.tcp, s); break;
    case CheckType::Exec: read_exec(r, c.exec); break;
    case CheckType::MaintenanceFile: read_maintenance(r, c.maintenance_file); break;
    case CheckType::Process: read_process(r, c.process); break;
    case CheckType::Soa: read_soa(r, c.soa, s); break;
  }
  r.finish();
  return true;
}

}  // namespace herald::conf::detail
