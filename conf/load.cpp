// load_file / load_string: TOML syntax (toml++) first, then the typed sections, then the checks
// that span the whole file. Every error is collected; nothing stops at the first one.
#include "conf/load.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

LoadResult build(const toml::table& root_table, Context& ctx, std::string_view name) {
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
    detail::read_service(r, s, pos);
    cfg.services.push_back(std::move(s));
    spos.push_back(std::move(pos));
  });
  root.finish();
  detail::check_whole(ctx, cfg, gpos, ppos, spos);
  if (!ctx.ok()) return unexpected(ctx.take_errors());
  return cfg;
}

}  // namespace

LoadResult load_string(std::string_view text, std::string_view name) {
  Context ctx{std::string(name)};
  try {
    toml::table root = toml::parse(text, name);
    return build(root, ctx, name);
  } catch (const toml::parse_error& e) {
    ctx.error(where(e.source()), "", std::string(e.description()));
  } catch (const std::bad_alloc&) {
    throw;  // out of memory is not a configuration error
  }
  return unexpected(ctx.take_errors());
}

LoadResult load_file(const std::string& path) {
  auto fail = [&](std::string message) {
    return unexpected(std::vector<Error>{Error{path, 0, 0, "", std::move(message)}});
  };
  // O_NONBLOCK and the file-type check: a FIFO at the config path must be refused at once, not
  // block the daemon's event loop, BGP keepalives included, in open() or read() during a
  // reload. Regular files ignore O_NONBLOCK; a device that has nothing to read fails the read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail(fmt::format("cannot open: {}", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    return fail(dir ? "is a directory, not a configuration file" : "not a regular file");
  }
  std::string text(kMaxFileSize + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return fail(fmt::format("read error: {}", std::strerror(err)));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  if (text.size() > kMaxFileSize) return fail("larger than 1 MiB; not a herald configuration");
  return load_string(text, path);
}

}  // namespace herald::conf
