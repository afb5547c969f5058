// [[peer]]: one BGP neighbor.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "conf/sections.hpp"

namespace herald::conf::detail {
namespace {

using namespace std::chrono_literals;

// Linux TCP_MD5SIG_MAXKEYLEN.
constexpr std::size_t kMaxMd5Key = 80;

bool whole_seconds(Duration d) { return d.count() % 1000 == 0; }

// bfd = true turns BFD on; the bfd-* keys tune it and are refused without it, so a typo in
// "bfd" cannot leave a tuned session silently without BFD.
void read_bfd(Context& ctx, TableReader& r, const Where& table, PeerConfig& p) {
  bool on = false;
  r.read("bfd", on);
  BfdConfig b;
  bool tuned = false;
  for (auto [k, out] : {std::pair<std::string_view, Duration*>{"bfd-min-tx", &b.min_tx}, {"bfd-min-rx", &b.min_rx}}) {
    if (const auto* n = r.get(k)) {
      tuned = true;
      if (auto v = as_duration(ctx, *n, r.key(k))) {
        if (*v < 10ms || *v > 60s) ctx.error(where(*n), r.key(k), "expected 10ms .. 60s");
        else *out = *v;
      }
    }
  }
  if (const auto* n = r.get("bfd-multiplier")) {
    tuned = true;
    if (auto v = as_int(ctx, *n, r.key("bfd-multiplier"), 1, 255)) b.multiplier = static_cast<unsigned>(*v);
  }
  if (const auto* n = r.get("bfd-wait-for-up")) {
    tuned = true;
    if (auto v = as_bool(ctx, *n, r.key("bfd-wait-for-up"))) b.wait_for_up = *v;
  }
  if (tuned && !on) ctx.error(table, r.key("bfd"), "bfd-* settings need bfd = true");
  if (on) p.bfd = b;
}

// Reads a password file: a regular file whose content (without trailing newlines) is the key.
// Never blocks on FIFOs or devices and never reads more than a few hundred bytes.
ValueResult<std::string> read_password_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return unexpected(fmt::format("cannot read \"{}\": {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return unexpected(fmt::format("\"{}\" is not a regular file", path));
  }
  char buf[4 * kMaxMd5Key];
  ssize_t got = ::read(fd, buf, sizeof buf);
  int read_errno = errno;
  ::close(fd);
  if (got < 0)
    return unexpected(fmt::format("cannot read \"{}\": {}", path, std::strerror(read_errno)));
  std::string secret(buf, static_cast<std::size_t>(got));
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return unexpected(fmt::format("\"{}\" is empty", path));
  if (secret.size() > kMaxMd5Key)
    return unexpected(fmt::format("the password in \"{}\" is longer than {} bytes", path,
                                  kMaxMd5Key));
  return secret;
}

std::optional<bgp::IpAddress> read_address(TableReader& r, std::string_view k, bool required,
                                           Where* at = nullptr) {
  const toml::node* n = r.get(k, required);
  if (!n) return std::nullopt;
  auto a = as_parsed<bgp::IpAddress>(r.ctx(), *n, r.key(k), parse_address);
  // Only a valid address gets a position, so later checks (duplicates) skip invalid ones.
  if (a && at) *at = where(*n);
  return a;
}

// Why `a` can never be a BGP neighbor (a TCP endpoint of one other host), or nullptr.
const char* not_a_neighbor(const bgp::IpAddress& a) {
  const bool zero = std::all_of(a.bytes.begin(), a.bytes.begin() + static_cast<long>(a.size()),
                                [](std::uint8_t b) { return b == 0; });
  if (zero) return "is the unspecified address";
  if (a.is_v4()) {
    if ((a.bytes[0] & 0xF0) == 0xE0) return "is a multicast address (224.0.0.0/4)";
    if (a.v4_host_order() == 0xFFFFFFFF) return "is the broadcast address";
  } else if (a.bytes[0] == 0xFF) {
    return "is a multicast address (ff00::/8)";
  }
  return nullptr;
}

}  // namespace

std::string absolute_from(const std::string& dir, const std::string& path) {
  std::string out = path;
  if (!out.empty() && out.front() != '/') out = dir + "/" + out;
  std::error_code ec;
  auto abs = std::filesystem::absolute(out, ec);
  if (!ec) out = abs.lexically_normal().string();
  return out;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

void read_peer(TableReader& r, PeerConfig& p, PeerPositions& pos, const std::string& config_dir) {
  Context& ctx = r.ctx();
  pos.table = r.where_table();

  if (const auto* n = r.get("name", true)) {
    pos.name = where(*n);
    if (auto v = as_string(ctx, *n, r.key("name"))) {
      if (!valid_name(*v)) ctx.error(pos.name, r.key("name"), fmt::format("{}, got \"{}\"", kNameRule, *v));
      p.name = *v;
    }
  }
  r.read("description", p.description);

  if (auto a = read_address(r, "address", true, &pos.address)) {
    if (a->is_link_local())
      ctx.error(pos.address, r.key("address"),
                "link-local peer addresses need an interface scope, which herald does not "
                "support yet; use a global address");
    else if (const char* why = not_a_neighbor(*a))
      ctx.error(pos.address, r.key("address"),
                fmt::format("{} {}: a BGP neighbor needs the unicast address of one host",
                            a->to_string(), why));
    p.address = *a;
  }
  if (const auto* n = r.get("remote-as", true))
    if (auto v = as_asn(ctx, *n, r.key("remote-as"))) p.remote_as = *v;

  if (auto a = read_address(r, "local-address", false, &pos.local_address)) {
    if (a->afi != p.address.afi)
      ctx.error(pos.local_address, r.key("local-address"),
                fmt::format("expected an {} address like the peer address {}",
                            p.address.is_v4() ? "IPv4" : "IPv6", p.address.to_string()));
    else if (const char* why = not_a_neighbor(*a))
      ctx.error(pos.local_address, r.key("local-address"),
                fmt::format("{} {}: the session's source must be a unicast address of this host",
                            a->to_string(), why));
    else
      p.local_address = *a;
  }
  r.read_port("port", p.port);

  if (const auto* n = r.get("mode")) {
    pos.mode = where(*n);
    if (auto v = as_string(ctx, *n, r.key("mode"))) {
      if (*v == "active") p.mode = PeerMode::Active;
      else if (*v == "passive") p.mode = PeerMode::Passive;
      else if (*v == "both") p.mode = PeerMode::Both;
      else ctx.error(pos.mode, r.key("mode"),
                     fmt::format("expected \"active\", \"passive\" or \"both\", got \"{}\"", *v));
    }
  }

  // RFC 4271 4.2: hold time is whole seconds, either 0 or at least 3; keepalive defaults to a
  // third of it (RFC 4271 10, suggested values).
  bool hold_ok = true;
  if (const auto* n = r.get("hold-time")) {
    auto v = as_duration(ctx, *n, r.key("hold-time"));
    hold_ok = false;
    if (!v) {
    } else if (!whole_seconds(*v) || *v > std::chrono::seconds(65535)) {
      ctx.error(where(*n), r.key("hold-time"),
                fmt::format("expected whole seconds up to 65535s, got \"{}\"", format_duration(*v)));
    } else if (*v == 1s || *v == 2s) {
      ctx.error(where(*n), r.key("hold-time"),
                fmt::format("a hold time of {} is not allowed: use 0s or at least 3s (RFC 4271 4.2)",
                            format_duration(*v)));
    } else {
      p.hold_time = *v;
      hold_ok = true;
    }
  }
  if (const auto* n = r.get("keepalive")) {
    const auto* text = n->as_string();
    if (text && text->get() == "auto") {
      p.keepalive.reset();
    } else if (auto v = as_duration(ctx, *n, r.key("keepalive"))) {
      if (!whole_seconds(*v))
        ctx.error(where(*n), r.key("keepalive"),
                  fmt::format("expected whole seconds or \"auto\", got \"{}\"", format_duration(*v)));
      else if (hold_ok && p.hold_time.count() == 0)
        ctx.error(where(*n), r.key("keepalive"),
                  "must be \"auto\" when hold-time is 0s (no keepalives, RFC 4271 4.4)");
      else if (hold_ok && (v->count() == 0 || *v >= p.hold_time))
        ctx.error(where(*n), r.key("keepalive"),
                  fmt::format("expected between 1s and less than hold-time ({}), got \"{}\"",
                              format_duration(p.hold_time), format_duration(*v)));
      else
        p.keepalive = *v;
    }
  }
  for (auto [k, out] : {std::pair<std::string_view, Duration*>{"connect-retry", &p.connect_retry},
                        {"connect-retry-max", &p.connect_retry_max},
                        {"idle-hold", &p.idle_hold},
                        {"idle-hold-max", &p.idle_hold_max}}) {
    if (const auto* n = r.get(k)) {
      if (auto v = as_duration(ctx, *n, r.key(k))) {
        if (*v < 1s) ctx.error(where(*n), r.key(k), "expected at least 1s");
        else *out = *v;
      }
    }
  }
  if (p.connect_retry_max < p.connect_retry)
    ctx.error(pos.table, r.key("connect-retry-max"),
              fmt::format("connect-retry-max ({}) must not be shorter than connect-retry ({})",
                          format_duration(p.connect_retry_max), format_duration(p.connect_retry)));
  if (p.idle_hold_max < p.idle_hold)
    ctx.error(pos.table, r.key("idle-hold-max"),
              fmt::format("idle-hold-max ({}) must not be shorter than idle-hold ({})",
                          format_duration(p.idle_hold_max), format_duration(p.idle_hold)));

  const toml::node* inline_pw = r.get("md5-password");
  const toml::node* pw_file = r.get("md5-password-file");
  if (inline_pw && pw_file) {
    ctx.error(where(*pw_file), r.key("md5-password-file"),
              "give either md5-password or md5-password-file, not both");
  } else if (inline_pw) {
    if (auto v = as_string(ctx, *inline_pw, r.key("md5-password"))) {
      if (v->empty() || v->size() > kMaxMd5Key)
        ctx.error(where(*inline_pw), r.key("md5-password"),
                  fmt::format("expected 1..{} characters", kMaxMd5Key));
      else
        p.md5_password = *v;
    }
  } else if (pw_file) {
    if (auto v = as_string(ctx, *pw_file, r.key("md5-password-file"))) {
      // Relative to the config file; stored absolute so a dump loads from anywhere.
      const std::string path = absolute_from(config_dir, *v);
      auto secret = read_password_file(path);
      if (!secret)
        ctx.error(where(*pw_file), r.key("md5-password-file"), secret.error());
      else {
        p.md5_password = *secret;
        p.md5_password_file = path;
      }
    }
  }

  r.read("gtsm", p.gtsm);

  p.families = {bgp::Family{p.address.afi, bgp::Safi::Unicast}};
  if (const auto* n = r.get("families")) {
    pos.families = where(*n);
    std::vector<bgp::Family> fams;
    bool ok = true;
    r.for_each("families", [&](const toml::node& e, const std::string& key) {
      auto v = as_string(ctx, e, key);
      if (!v) ok = false;
      else if (*v == "ipv4-unicast") fams.push_back(bgp::kIpv4Unicast);
      else if (*v == "ipv6-unicast") fams.push_back(bgp::kIpv6Unicast);
      else {
        ctx.error(where(e), key,
                  fmt::format("expected \"ipv4-unicast\" or \"ipv6-unicast\", got \"{}\"", *v));
        ok = false;
      }
    });
    if (ok && n->is_array() && fams.empty())
      ctx.error(pos.families, r.key("families"), "expected at least one address family");
    if (ok && !fams.empty()) {
      std::sort(fams.begin(), fams.end());
      fams.erase(std::unique(fams.begin(), fams.end()), fams.end());
      p.families = fams;
    }
  }

  Where at;
  if (auto a = read_address(r, "next-hop-v4", false, &at)) {
    if (!a->is_v4()) ctx.error(at, r.key("next-hop-v4"), "expected an IPv4 address");
    else p.next_hop_v4 = *a;
  }
  if (auto a = read_address(r, "next-hop-v6", false, &at)) {
    if (a->is_v4() || a->is_link_local())
      ctx.error(at, r.key("next-hop-v6"),
                "expected a global IPv6 address (link-local goes in next-hop-v6-link-local)");
    else p.next_hop_v6 = *a;
  }
  if (auto a = read_address(r, "next-hop-v6-link-local", false, &at)) {
    if (!a->is_link_local())
      ctx.error(at, r.key("next-hop-v6-link-local"), "expected an fe80::/10 address");
    else p.next_hop_v6_link_local = *a;
  }
  // RFC 4760 3 / RFC 2545 3: announcing a family needs a next hop of that family. Over a
  // session of the same family it is the local address; across families it must be given.
  for (auto f : p.families) {
    if (f == bgp::Family{p.address.afi, bgp::Safi::Unicast}) continue;
    if (f == bgp::kIpv4Unicast && !p.next_hop_v4)
      ctx.error(pos.families.line ? pos.families : pos.table, r.key("families"),
                "ipv4-unicast over an IPv6 session needs next-hop-v4");
    if (f == bgp::kIpv6Unicast && !p.next_hop_v6)
      ctx.error(pos.families.line ? pos.families : pos.table, r.key("families"),
                "ipv6-unicast over an IPv4 session needs next-hop-v6");
  }

  if (const auto* n = r.get("max-prefix"))
    if (auto v = as_int(ctx, *n, r.key("max-prefix"), 1, 0xFFFFFFFFLL))
      p.max_prefix = static_cast<std::uint32_t>(*v);

  if (const auto* n = r.get("role")) {
    if (auto v = as_string(ctx, *n, r.key("role"))) {
      static constexpr std::pair<std::string_view, BgpRole> kRoles[] = {
          {"provider", BgpRole::Provider}, {"rs", BgpRole::RouteServer},
          {"rs-client", BgpRole::RouteServerClient}, {"customer", BgpRole::Customer},
          {"peer", BgpRole::Peer}};
      auto it = std::find_if(std::begin(kRoles), std::end(kRoles),
                             [&](const auto& e) { return e.first == *v; });
      if (it == std::end(kRoles))
        ctx.error(where(*n), r.key("role"),
                  fmt::format("expected \"provider\", \"customer\", \"peer\", \"rs\" or "
                              "\"rs-client\" (RFC 9234), got \"{}\"", *v));
      else
        p.role = it->second;
    }
  }
  if (const auto* n = r.get("strict-role")) {
    if (auto v = as_bool(ctx, *n, r.key("strict-role"))) {
      if (*v && !p.role)
        ctx.error(where(*n), r.key("strict-role"), "needs role (RFC 9234 strict mode)");
      p.strict_role = *v;
    }
  }
  read_bfd(ctx, r, pos.table, p);

  // What this peer's routes carry besides the service's policy (config.hpp PeerAttributes).
  PeerAttributes& at_peer = p.attributes;
  read_community_lists(r, at_peer.communities, at_peer.large_communities, at_peer.extended_communities);
  if (const auto* n = r.get("med"))
    if (auto v = as_int(ctx, *n, r.key("med"), 0, 0xFFFFFFFFLL)) at_peer.med = static_cast<std::uint32_t>(*v);
  r.read_uint("prepend", at_peer.prepend, 0, kMaxPrepend);
  if (const auto* n = r.get("local-pref")) {
    pos.local_pref = where(*n);  // eBGP peers refuse it: check_whole knows the local AS
    if (auto v = as_int(ctx, *n, r.key("local-pref"), 0, 0xFFFFFFFFLL))
      at_peer.local_pref = static_cast<std::uint32_t>(*v);
  }
  r.finish();
}

}  // namespace herald::conf::detail
