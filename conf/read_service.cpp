// [[service]]: prefixes, address binding, health timing, flap control.
// Checks and policies are read in read_check.cpp and read_policy.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "conf/read_service_parts.hpp"
#include "conf/sections.hpp"

namespace herald::conf::detail {
namespace {

using namespace std::chrono_literals;

// Linux IFNAMSIZ is 16 including the terminating NUL.
constexpr std::size_t kMaxIfName = 15;

bool valid_ifname(std::string_view s) {
  return !s.empty() && s.size() <= kMaxIfName && s != "." && s != ".." &&
         std::none_of(s.begin(), s.end(), [](char c) {
           return c == '/' || c == ':' || static_cast<unsigned char>(c) <= ' ' ||
                  static_cast<unsigned char>(c) >= 0x7F;
         });
}

void read_address_binding(TableReader& r, AddressBinding& b) {
  Context& ctx = r.ctx();
  r.read("bind", b.bind);
  if (const auto* n = r.get("interface")) {
    if (auto v = as_string(ctx, *n, r.key("interface"))) {
      if (!valid_ifname(*v))
        ctx.error(where(*n), r.key("interface"),
                  fmt::format("expected an interface name of 1..15 characters without '/', ':' "
                              "or spaces, got \"{}\"", *v));
      else
        b.interface = *v;
    }
  }
  r.read("dummy", b.dummy);
  if (const auto* n = r.get("label")) {
    if (auto v = as_string(ctx, *n, r.key("label"))) {
      // The kernel accepts an IPv4 label only if it is the interface name or starts with
      // "NAME:" (and fits IFNAMSIZ).
      if (!v->empty() && (v->size() > kMaxIfName ||
                          (*v != b.interface && v->rfind(b.interface + ":", 0) != 0)))
        ctx.error(where(*n), r.key("label"),
                  fmt::format("expected \"{0}\" or \"{0}:SOMETHING\" (at most 15 characters), "
                              "got \"{1}\"", b.interface, *v));
      else
        b.label = *v;
    }
  }
  r.read("keep-on-exit", b.keep_on_exit);
  r.read("re-add", b.re_add);
  r.finish();
}

void read_positive(TableReader& r, std::string_view k, Duration& out) {
  if (const auto* n = r.get(k)) {
    if (auto v = as_duration(r.ctx(), *n, r.key(k))) {
      if (v->count() == 0) r.ctx().error(where(*n), r.key(k), "expected a duration above 0s");
      else out = *v;
    }
  }
}

void read_health(TableReader& r, HealthTiming& h) {
  Context& ctx = r.ctx();
  read_positive(r, "interval", h.interval);
  read_positive(r, "fast-interval", h.fast_interval);
  // A timeout at or above the interval is allowed: rounds of one service never overlap, so the
  // next round starts at the later of (previous start + interval) and the previous round's end
  // (health/service_core.cpp). A fast check interval with a tolerant timeout needs this.
  read_positive(r, "timeout", h.timeout);
  r.read_uint("rise", h.rise, 1, 1000);
  r.read_uint("fall", h.fall, 1, 1000);
  if (const auto* n = r.get("start")) {
    if (auto v = as_string(ctx, *n, r.key("start"))) {
      if (*v == "down") h.start = StartState::Down;
      else if (*v == "up") h.start = StartState::Up;
      else ctx.error(where(*n), r.key("start"),
                     fmt::format("expected \"down\" or \"up\", got \"{}\"", *v));
    }
  }
  if (const auto* n = r.get("combine")) {
    if (auto v = as_string(ctx, *n, r.key("combine"))) {
      if (*v == "all") h.combine = Combine::All;
      else if (*v == "any") h.combine = Combine::Any;
      else ctx.error(where(*n), r.key("combine"),
                     fmt::format("expected \"all\" or \"any\", got \"{}\"", *v));
    }
  }
  r.read("splay", h.splay);
  if (h.fast_interval > h.interval)
    ctx.error(r.where_table(), r.key("fast-interval"),
              fmt::format("fast-interval ({}) must not be longer than interval ({})",
                          format_duration(h.fast_interval), format_duration(h.interval)));
  r.finish();
}

void read_flap(TableReader& r, FlapControl& f) {
  read_positive(r, "window", f.window);
  r.read_uint("max-changes", f.max_changes, 0, 1000);
  read_positive(r, "hold-down", f.hold_down);
  read_positive(r, "hold-down-max", f.hold_down_max);
  if (f.hold_down_max < f.hold_down)
    r.ctx().error(r.where_table(), r.key("hold-down-max"),
                  fmt::format("hold-down-max ({}) must not be shorter than hold-down ({})",
                              format_duration(f.hold_down_max), format_duration(f.hold_down)));
  r.finish();
}

// The type word of a check table ("" when missing or not a string), for default names.
std::string type_word(const toml::table& t) {
  const toml::node* n = t.get("type");
  return n && n->is_string() ? std::string(*n->value<std::string>()) : std::string();
}

// Every [[service.check]] of a service, each under its name: the one written (`name`), or
// "<type>" when the service has one check of that type, "<type>-<n>" (n counting that type's
// checks from 1, in file order) when it has several. Names are unique within the service.
void read_checks(TableReader& r, const toml::array& arr, ServiceConfig& s) {
  Context& ctx = r.ctx();
  std::map<std::string, unsigned> of_type;
  for (const toml::node& e : arr)
    if (const toml::table* t = e.as_table()) ++of_type[type_word(*t)];
  std::map<std::string, unsigned> seen_type;
  std::map<std::string, Where> taken;  // check name -> where it was given (or its table)
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const toml::node& e = arr[i];
    const std::string index_key = fmt::format("{}[{}]", r.key("check"), i);
    const toml::table* t = e.as_table();
    if (!t) {
      ctx.error(where(e), index_key, "expected a table, got " + type_name(e));
      continue;
    }
    const std::string type = type_word(*t);
    const unsigned nth = ++seen_type[type];
    std::string name = type.empty() ? fmt::format("check-{}", i + 1)
                       : of_type[type] == 1 ? type
                                            : fmt::format("{}-{}", type, nth);
    Where name_at = where(*t);
    if (const toml::node* nn = t->get("name")) {
      if (auto v = as_string(ctx, *nn, index_key + ".name")) {
        if (!valid_name(*v)) {
          ctx.error(where(*nn), index_key + ".name", fmt::format("{}, got \"{}\"", kNameRule, *v));
          continue;
        }
        name = *v;
        name_at = where(*nn);
      } else {
        continue;
      }
    }
    const std::string key = fmt::format("{} check \"{}\"", r.path(), name);
    if (auto [it, fresh] = taken.emplace(name, name_at); !fresh) {
      ctx.error(name_at, key + " name",
                fmt::format("duplicate check name \"{}\" in the service (also line {}); give each "
                            "check its own name = \"...\"",
                            name, it->second.line));
      continue;
    }
    TableReader cr(ctx, *t, key);
    cr.allow("name");
    CheckConfig c;
    c.name = name;
    if (read_check(cr, c, s)) s.checks.push_back(std::move(c));
  }
}

// Reads an optional sub-table with `fn`; an absent table leaves the defaults.
template <typename T, typename F>
void sub_table(TableReader& r, std::string_view k, T& out, F fn) {
  if (const toml::table* t = r.table(k)) {
    TableReader sub(r.ctx(), *t, r.key(k));
    fn(sub, out);
  }
}

}  // namespace

void read_service(TableReader& r, ServiceConfig& s, ServicePositions& pos,
                  const std::string& config_dir) {
  Context& ctx = r.ctx();
  pos.table = r.where_table();
  if (const auto* n = r.get("name", true)) {
    pos.name = where(*n);
    if (auto v = as_string(ctx, *n, r.key("name"))) {
      if (!valid_name(*v))
        ctx.error(pos.name, r.key("name"), fmt::format("{}, got \"{}\"", kNameRule, *v));
      else
        r.set_path(fmt::format("service \"{}\"", *v));  // errors name it from here on
      s.name = *v;
    }
  }
  pos.path = r.path();

  // prefixes (inline), prefixes-file (one per line, for long lists), or both; at least one.
  const toml::node* file_node = r.get("prefixes-file");
  const toml::node* list_node = r.get("prefixes");
  if (!list_node && !file_node)
    ctx.error(pos.table, r.key("prefixes"), "required key missing (give prefixes, prefixes-file or both)");
  if (list_node) {
    if (list_node->is_array() && list_node->as_array()->empty() && !file_node)
      ctx.error(where(*list_node), r.key("prefixes"), "expected at least one prefix");
    r.for_each("prefixes", [&](const toml::node& e, const std::string& key) {
      if (auto p = as_parsed<bgp::Prefix>(ctx, e, key, parse_service_prefix)) {
        s.prefixes.push_back(*p);
        pos.prefixes.push_back(where(e));
      }
    });
  }
  if (file_node) {
    if (auto v = as_string(ctx, *file_node, r.key("prefixes-file"))) {
      if (v->empty()) {
        ctx.error(where(*file_node), r.key("prefixes-file"), "expected a file name, got \"\"");
      } else {
        read_prefixes_file(ctx, absolute_from(config_dir, *v), r.key("prefixes-file"),
                           where(*file_node), s, pos);
      }
    }
  }

  // units = ["unbound.service"]: the units whose drain (heraldctl drain --unit) drains it.
  r.for_each("units", [&](const toml::node& e, const std::string& key) {
    if (auto v = as_string(ctx, e, key)) {
      if (v->empty() || v->find_first_of(" \t\n/") != std::string::npos)
        ctx.error(where(e), key, fmt::format("expected a systemd unit name (e.g. \"unbound.service\"), got \"{}\"", *v));
      else if (std::find(s.units.begin(), s.units.end(), *v) != s.units.end())
        ctx.error(where(e), key, fmt::format("unit \"{}\" is listed twice", *v));
      else
        s.units.push_back(*v);
    }
  });

  // peers = ["r1", "r2"]: the peers it is announced to (checked against [[peer]] in
  // check_whole); absent: every peer.
  if (const auto* n = r.get("peers")) {
    if (n->is_array() && n->as_array()->empty())
      ctx.error(where(*n), r.key("peers"),
                "expected at least one peer name (leave peers out to announce to every peer)");
    r.for_each("peers", [&](const toml::node& e, const std::string& key) {
      if (auto v = as_string(ctx, e, key)) {
        if (std::find(s.peers.begin(), s.peers.end(), *v) != s.peers.end()) {
          ctx.error(where(e), key, fmt::format("peer \"{}\" is listed twice", *v));
        } else {
          s.peers.push_back(*v);
          pos.peers.push_back(where(e));
          pos.peer_keys.push_back(key);
        }
      }
    });
  }

  sub_table(r, "address", s.address, read_address_binding);
  sub_table(r, "health", s.health, read_health);
  sub_table(r, "flap", s.flap, read_flap);

  // [[service.check]]: an array of tables.
  if (const toml::node* n = r.get("check")) {
    const toml::array* arr = n->as_array();
    if (!arr) {
      ctx.error(where(*n), r.key("check"),
                "expected [[service.check]] (an array of tables), got " + type_name(*n));
    } else {
      read_checks(r, *arr, s);
    }
  }

  sub_table(r, "policy", s.policy, read_policy);
  if (const toml::table* t = r.table("fleet")) {
    pos.fleet = where(*t);
    TableReader fr(ctx, *t, r.key("fleet"));
    s.fleet.emplace();
    read_service_fleet(fr, *s.fleet);
  }
  r.finish();
}

}  // namespace herald::conf::detail
