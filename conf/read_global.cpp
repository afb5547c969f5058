// [global]: identity of the speaker, listeners, control socket, logging, shutdown.
#include <sys/un.h>

#include <fmt/format.h>

#include <algorithm>

#include "conf/sections.hpp"

namespace herald::conf::detail {
namespace {

constexpr std::uint16_t kBgpPort = 179;       // RFC 4271 8
constexpr std::uint16_t kMetricsPort = 9179;

void read_absolute_path(TableReader& r, std::string_view k, std::string& out) {
  const toml::node* n = r.get(k);
  if (!n) return;
  auto v = as_string(r.ctx(), *n, r.key(k));
  if (!v) return;
  if (v->empty() || v->front() != '/') {
    r.ctx().error(where(*n), r.key(k), fmt::format("expected an absolute path, got \"{}\"", *v));
    return;
  }
  out = std::move(*v);
}

std::optional<Endpoint> listen_entry(Context& ctx, const toml::node& n, const std::string& key) {
  return as_parsed<Endpoint>(ctx, n, key,
                             [](std::string_view text) { return parse_endpoint(text, kBgpPort); });
}

}  // namespace

void read_global(TableReader& r, GlobalConfig& g, GlobalPositions& pos) {
  Context& ctx = r.ctx();
  pos.table = r.where_table();

  if (const auto* n = r.get("local-as", true))
    if (auto v = as_asn(ctx, *n, r.key("local-as"))) g.local_as = *v;

  if (const auto* n = r.get("router-id")) {
    pos.router_id_given = true;
    auto v = as_parsed<bgp::IpAddress>(ctx, *n, r.key("router-id"), parse_address);
    // RFC 6286 2.1: a 4-octet unsigned, non-zero value; herald writes it as IPv4 dotted quad.
    if (v && (!v->is_v4() || v->v4_host_order() == 0))
      ctx.error(where(*n), r.key("router-id"),
                fmt::format("expected a non-zero IPv4 address like \"192.0.2.1\", got \"{}\"",
                            v->to_string()));
    else if (v)
      g.router_id = *v;
  }

  // listen: "ADDR:PORT", an array of them, or false (active-only).
  g.listen = {Endpoint{*bgp::IpAddress::parse("::"), kBgpPort}};
  if (const auto* n = r.get("listen")) {
    pos.listen_given = true;
    const std::string key = r.key("listen");
    if (const auto* b = n->as_boolean()) {
      if (!b->get()) g.listen.clear();  // true keeps the default
    } else if (n->is_string()) {
      if (auto e = listen_entry(ctx, *n, key)) g.listen = {*e};
    } else if (const auto* arr = n->as_array()) {
      g.listen.clear();
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const std::string ekey = fmt::format("{}[{}]", key, i);
        if (auto e = listen_entry(ctx, (*arr)[i], ekey)) {
          if (std::find(g.listen.begin(), g.listen.end(), *e) != g.listen.end())
            ctx.error(where((*arr)[i]), ekey,
                      fmt::format("duplicate listen address \"{}\"", format_endpoint(*e)));
          else
            g.listen.push_back(*e);
        }
      }
    } else {
      ctx.error(where(*n), key,
                "expected \"ADDRESS:PORT\", an array of them, or false, got " + type_name(*n));
    }
  }

  read_absolute_path(r, "control-socket", g.control_socket);
  // bind(2) of a Unix socket takes the path in sockaddr_un::sun_path, NUL included: a longer
  // path cannot be bound at all (the kernel would refuse it, or a library truncate it).
  if (const auto* n = r.get("control-socket");
      n && g.control_socket.size() >= sizeof(sockaddr_un::sun_path))
    ctx.error(where(*n), r.key("control-socket"),
              fmt::format("a Unix socket path is at most {} bytes, this one has {}",
                          sizeof(sockaddr_un::sun_path) - 1, g.control_socket.size()));
  if (const auto* n = r.get("control-group")) pos.control_group = where(*n);
  r.read("control-group", g.control_group);

  g.metrics = Endpoint{*bgp::IpAddress::parse("127.0.0.1"), kMetricsPort};
  if (const auto* n = r.get("metrics")) {
    const std::string key = r.key("metrics");
    if (const auto* b = n->as_boolean()) {
      if (!b->get()) g.metrics.reset();
    } else if (const auto* s = n->as_string(); s && s->get().empty()) {
      g.metrics.reset();
    } else if (n->is_string()) {
      g.metrics = as_parsed<Endpoint>(ctx, *n, key, [](std::string_view text) {
        return parse_endpoint(text, kMetricsPort);
      });
      // Port 0 would listen on a random port no scraper can be told about.
      if (g.metrics && g.metrics->port == 0) {
        ctx.error(where(*n), key, "expected a port between 1 and 65535, got 0");
        g.metrics.reset();
      }
    } else {
      ctx.error(where(*n), key, "expected \"ADDRESS:PORT\" or false, got " + type_name(*n));
    }
  }

  if (const auto* n = r.get("log-level")) {
    if (auto v = as_string(ctx, *n, r.key("log-level"))) {
      if (auto level = parse_log_level(*v)) g.log_level = *level;
      else
        ctx.error(where(*n), r.key("log-level"),
                  fmt::format("expected \"debug\", \"info\", \"notice\", \"warning\" or \"error\", "
                              "got \"{}\"", *v));
    }
  }
  if (const auto* n = r.get("log-format")) {
    if (auto v = as_string(ctx, *n, r.key("log-format"))) {
      if (*v == "auto") g.log_format = LogFormat::Auto;
      else if (*v == "text") g.log_format = LogFormat::Text;
      else if (*v == "json") g.log_format = LogFormat::Json;
      else if (*v == "journal") g.log_format = LogFormat::Journal;
      else ctx.error(where(*n), r.key("log-format"),
                     fmt::format("expected \"auto\", \"text\", \"json\" or \"journal\", got \"{}\"", *v));
    }
  }

  read_absolute_path(r, "state-dir", g.state_dir);
  r.read("drain-on-shutdown", g.drain_on_shutdown);
  r.read("dry-run", g.dry_run);
  if (r.get("query-counters")) {
    bool on = false;
    r.read("query-counters", on);
    pos.query_counters = on;
  }
  if (const auto* n = r.get("drain-settle")) {
    if (auto v = as_duration(ctx, *n, r.key("drain-settle"))) {
      if (*v > std::chrono::hours(1))
        ctx.error(where(*n), r.key("drain-settle"), "expected a duration of at most 1h");
      else
        g.drain_settle = *v;
    }
  }
  if (const auto* n = r.get("shutdown-timeout")) {
    if (auto v = as_duration(ctx, *n, r.key("shutdown-timeout"))) {
      if (v->count() == 0)
        ctx.error(where(*n), r.key("shutdown-timeout"), "expected a duration above 0s");
      else
        g.shutdown_timeout = *v;
    }
  }
  if (const auto* n = r.get("user")) pos.user = where(*n);
  r.read("user", g.user);
  r.finish();
}

}  // namespace herald::conf::detail
