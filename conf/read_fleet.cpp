// [fleet] and [service.fleet]: this site's place in a fleet kept in etcd (docs/fleet.md).
#include <fmt/format.h>

#include <charconv>

#include "conf/read_service_parts.hpp"
#include "conf/sections.hpp"

namespace herald::conf::detail {
namespace {

// Lease TTLs: etcd's minimum is its election timeout (1s by default); above 5 minutes a dead
// herald would stay in the fleet view, and be counted by the floor, far too long.
constexpr Duration kMinLeaseTtl = std::chrono::seconds(2);
constexpr Duration kMaxLeaseTtl = std::chrono::seconds(300);

// "host:port" or "[v6]:port", the port 1..65535; the host a name or an address.
bool valid_etcd_endpoint(std::string_view e) {
  auto colon = e.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = e.substr(0, colon), port = e.substr(colon + 1);
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) return false;
  if (host.front() == '[') return host.size() > 2 && host.back() == ']';
  for (char c : host)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
      return false;
  return true;
}

void read_name(TableReader& r, std::string_view k, std::string& out, bool required) {
  const toml::node* n = r.get(k, required);
  if (!n) return;
  auto v = as_string(r.ctx(), *n, r.key(k));
  if (!v) return;
  if (!valid_name(*v)) {
    r.ctx().error(where(*n), r.key(k), fmt::format("{}, got \"{}\"", kNameRule, *v));
    return;
  }
  out = *v;
}

// A file the daemon reads (made absolute against the config's directory); "" stays "".
void read_file_path(TableReader& r, std::string_view k, std::string& out, const std::string& config_dir) {
  const toml::node* n = r.get(k);
  if (!n) return;
  auto v = as_string(r.ctx(), *n, r.key(k));
  if (!v) return;
  if (v->empty()) {
    r.ctx().error(where(*n), r.key(k), "expected a file name, got \"\"");
    return;
  }
  out = absolute_from(config_dir, *v);
}

}  // namespace

void read_fleet(TableReader& r, FleetConfig& f, const std::string& config_dir) {
  Context& ctx = r.ctx();
  read_name(r, "name", f.name, true);
  read_name(r, "site", f.site, true);
  read_name(r, "region", f.region, false);
  if (!r.get("endpoints", true)) {
    // reported by get()
  } else {
    r.for_each("endpoints", [&](const toml::node& e, const std::string& key) {
      auto v = as_string(ctx, e, key);
      if (!v) return;
      if (!valid_etcd_endpoint(*v))
        ctx.error(where(e), key, fmt::format("expected \"HOST:PORT\" of an etcd member (\"[ADDR]:PORT\" for IPv6), got \"{}\"", *v));
      else
        f.endpoints.push_back(*v);
    });
    if (const auto* n = r.get("endpoints"); n && n->is_array() && n->as_array()->empty())
      ctx.error(where(*n), r.key("endpoints"), "expected at least one etcd member");
  }
  read_file_path(r, "tls-ca", f.tls_ca, config_dir);
  read_file_path(r, "tls-cert", f.tls_cert, config_dir);
  read_file_path(r, "tls-key", f.tls_key, config_dir);
  const toml::node* cert = r.get("tls-cert");
  const toml::node* key = r.get("tls-key");
  if ((cert == nullptr) != (key == nullptr))
    ctx.error(where(cert ? *cert : *key), r.key(cert ? "tls-cert" : "tls-key"), "give tls-cert and tls-key together");
  if (cert && !r.get("tls-ca"))
    ctx.error(where(*cert), r.key("tls-cert"), "a client certificate needs tls-ca (TLS to the members)");
  r.read("user", f.user);
  read_file_path(r, "password-file", f.password_file, config_dir);
  const toml::node* user = r.get("user");
  const toml::node* pw = r.get("password-file");
  if ((user == nullptr) != (pw == nullptr))
    ctx.error(where(user ? *user : *pw), r.key(user ? "user" : "password-file"), "give user and password-file together");
  if (const auto* n = r.get("lease-ttl")) {
    if (auto v = as_duration(ctx, *n, r.key("lease-ttl"))) {
      if (*v < kMinLeaseTtl || *v > kMaxLeaseTtl)
        ctx.error(where(*n), r.key("lease-ttl"), fmt::format("expected a duration from {} to {}, got {}",
                  format_duration(kMinLeaseTtl), format_duration(kMaxLeaseTtl), format_duration(*v)));
      else
        f.lease_ttl = *v;
    }
  }
  if (const auto* n = r.get("on-unreachable"))
    if (auto v = as_string(ctx, *n, r.key("on-unreachable")); v && *v != "local")
      ctx.error(where(*n), r.key("on-unreachable"), fmt::format("expected \"local\", got \"{}\"", *v));
  r.finish();
}

void read_service_fleet(TableReader& r, ServiceFleet& f) {
  Context& ctx = r.ctx();
  if (const auto* n = r.get("min-sites")) {
    const std::string key = r.key("min-sites");
    if (const auto* i = n->as_integer()) {
      if (i->get() < 0 || i->get() > 100000) ctx.error(where(*n), key, fmt::format("expected a count from 0 to 100000, got {}", i->get()));
      else {
        f.min_sites = static_cast<unsigned>(i->get());
        f.min_sites_percent = false;
      }
    } else if (const auto* s = n->as_string()) {
      std::string_view t = s->get();
      unsigned v = 0;
      bool ok = t.size() >= 2 && t.back() == '%';
      if (ok) {
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size() - 1, v);
        ok = ec == std::errc() && end == t.data() + t.size() - 1 && v <= 100;
      }
      if (!ok) ctx.error(where(*n), key, fmt::format("expected a share of the sites from \"0%\" to \"100%\", got \"{}\"", t));
      else {
        f.min_sites = v;
        f.min_sites_percent = true;
      }
    } else {
      ctx.error(where(*n), key, "expected a count of sites (2) or a share of them (\"34%\"), got " + type_name(*n));
    }
  }
  if (const toml::table* t = r.table("held")) {
    TableReader hr(ctx, *t, r.key("held"));
    if (const auto* a = hr.get("action"))
      if (auto v = as_string(ctx, *a, hr.key("action")); v && *v != "announce")
        ctx.error(where(*a), hr.key("action"), "a held service is announced: only \"announce\"");
    StatePolicy held = f.held;
    read_state_policy(hr, held);
    held.action = Action::Announce;
    f.held = held;
  }
  r.finish();
}

}  // namespace herald::conf::detail
