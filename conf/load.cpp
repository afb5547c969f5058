// load_file / load_string: TOML syntax (toml++) first, then the typed sections, then the checks
// that span the whole file. Every error is collected; nothing stops at the first one.
#include "conf/load.hpp"

#include <fmt/format.h>

#include "conf/sections.hpp"

namespace herald::conf {

std::string Error::to_string() const {
  std::string out = file;
  if (line != 0) out += fmt::format(":{}:{}", line, column);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

std::string to_string(const std::vector<Error>& errors) {
  std::string out;
  for (const Error& e : errors) out += e.to_string() + "\n";
  return out;
}

namespace {

// A config is a few KiB; a limit keeps `--check-config /dev/zero` from eating the memory.
// Long prefix lists go in a service's prefixes-file, which has its own, larger limit.
constexpr std::size_t kMaxFileSize = 1 << 20;

using detail::Context;
using detail::TableReader;
using detail::where;

std::string directory_of(std::string_view file) {
  auto slash = file.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(file.substr(0, slash));
}

// Each element of the array of tables `k` ("peer", "service") handed to fn(reader, index).
template <typename F>
void each_table(TableReader& root, std::string_view k, F fn) {
  const toml::node* n = root.get(k);
  if (!n) return;
  const toml::array* arr = n->as_array();
  if (!arr) {
    root.ctx().error(where(*n), std::string(k),
                     fmt::format("expected [[{}]] (an array of tables), got {}", k,
                                 detail::type_name(*n)));
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const std::string key = fmt::format("{}[{}]", k, i);
    const toml::table* t = (*arr)[i].as_table();
    if (!t) {
      root.ctx().error(where((*arr)[i]), key, "expected a table, got " + detail::type_name((*arr)[i]));
      continue;
    }
    TableReader r(root.ctx(), *t, key);
    fn(r);
  }
}

LoadResult build(const toml::table& root_table, Context& ctx, std::string_view name,
                 const HostLookup* host) {
  Config cfg;
  cfg.source = std::string(name);
  TableReader root(ctx, root_table, "");
  detail::GlobalPositions gpos;
  std::vector<detail::PeerPositions> ppos;
  std::vector<detail::ServicePositions> spos;

  const toml::table empty;
  const toml::table* global = root.table("global");
  {
    TableReader gr(ctx, global ? *global : empty, "global");
    if (!root_table.get("global") || global) detail::read_global(gr, cfg.global, gpos);
  }
  const std::string dir = directory_of(name);
  each_table(root, "peer", [&](TableReader& r) {
    PeerConfig p;
    detail::PeerPositions pos;
    detail::read_peer(r, p, pos, dir);
    cfg.peers.push_back(std::move(p));
    ppos.push_back(pos);
  });
  each_table(root, "service", [&](TableReader& r) {
    ServiceConfig s;
    detail::ServicePositions pos;
    detail::read_service(r, s, pos, dir);
    cfg.services.push_back(std::move(s));
    spos.push_back(std::move(pos));
  });
  if (const toml::table* t = root.table("fleet")) {
    TableReader fr(ctx, *t, "fleet");
    cfg.fleet.emplace();
    detail::read_fleet(fr, *cfg.fleet, dir);
  }
  // Sites of a fleet publish their load: counting is on by default there, off elsewhere (a
  // table in the host's firewall is not added unasked).
  cfg.global.query_counters = gpos.query_counters.value_or(cfg.fleet.has_value());
  // [service.fleet] without [fleet] would name a floor no fleet can keep.
  for (std::size_t i = 0; i < cfg.services.size(); ++i)
    if (cfg.services[i].fleet && !cfg.fleet)
      ctx.error(spos[i].fleet, spos[i].path + " fleet", "needs a [fleet] section");
  root.finish();
  detail::check_whole(ctx, cfg, gpos, ppos, spos);
  if (host) detail::check_host(ctx, cfg, gpos, ppos, *host);
  if (!ctx.ok()) return unexpected(ctx.take_errors());
  return cfg;
}

}  // namespace

LoadResult load_string(std::string_view text, std::string_view name, const HostLookup* host) {
  Context ctx{std::string(name)};
  try {
    toml::table root = toml::parse(text, name);
    return build(root, ctx, name, host);
  } catch (const toml::parse_error& e) {
    ctx.error(where(e.source()), "", std::string(e.description()));
  } catch (const std::bad_alloc&) {
    throw;  // out of memory is not a configuration error
  }
  return unexpected(ctx.take_errors());
}

LoadResult load_file(const std::string& path, const HostLookup* host) {
  auto text = detail::read_file_bounded(path, kMaxFileSize);
  if (!text) {
    using K = detail::FileProblem::Kind;
    std::string message = text.error().text;
    switch (text.error().kind) {
      case K::Directory: message = "is a directory, not a configuration file"; break;
      case K::NotRegular: message = "not a regular file"; break;
      case K::TooLarge: message = "larger than 1 MiB; not a herald configuration"; break;
      case K::Open:
      case K::Read: break;
    }
    return unexpected(std::vector<Error>{Error{path, 0, 0, "", std::move(message)}});
  }
  return load_string(*text, path, host);
}

}  // namespace herald::conf
