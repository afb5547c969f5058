// load_file on paths that are not configuration files: refused at once with the reason. A FIFO
// used to block the caller (the daemon's event loop during a reload) until a writer appeared.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "conf/load.hpp"

using namespace herald;

namespace {

std::string only_error(const conf::LoadResult& r) {
  REQUIRE_FALSE(r.has_value());
  REQUIRE(r.error().size() == 1);
  return r.error()[0].to_string();
}

}  // namespace

TEST_CASE("load_file refuses a FIFO and a directory without blocking") {
  char dir_template[] = "/tmp/herald-conf-special-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;

  const std::string fifo = dir + "/fifo.toml";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(only_error(conf::load_file(fifo)) == fifo + ": not a regular file");

  CHECK(only_error(conf::load_file(dir)) == dir + ": is a directory, not a configuration file");

  // A symbolic link to a regular file is read through.
  const std::string real = dir + "/real.toml";
  const std::string link = dir + "/link.toml";
  { std::ofstream(real) << "[global]\nlocal-as = 0\n"; }
  REQUIRE(symlink(real.c_str(), link.c_str()) == 0);
  auto linked = conf::load_file(link);
  REQUIRE_FALSE(linked.has_value());
  CHECK(conf::to_string(linked.error()).find(link + ":2:12: global.local-as:") != std::string::npos);

  // Exactly at and just over the 1 MiB limit.
  const std::string big = dir + "/big.toml";
  { std::ofstream(big) << std::string((1 << 20) + 1, '#'); }
  CHECK(only_error(conf::load_file(big)) == big + ": larger than 1 MiB; not a herald configuration");

  for (const auto& p : {fifo, link, real, big}) std::remove(p.c_str());
  rmdir(dir.c_str());
}
