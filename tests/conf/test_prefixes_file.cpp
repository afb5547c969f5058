// A service's prefixes-file: one prefix per line next to (or instead of) the inline list, errors
// as FILE:LINE:COLUMN, no 1 MiB cap, and a dump that names the file instead of listing it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "conf/load.hpp"

using namespace herald;

namespace {

// A temporary directory with herald.toml and a prefix file, removed at the end of the test.
struct Dir {
  std::string path;
  Dir() {
    char t[] = "/tmp/herald-prefixes-XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    path = t;
  }
  ~Dir() {
    for (const char* f : {"/herald.toml", "/bulk.txt", "/other.txt"}) std::remove((path + f).c_str());
    rmdir(path.c_str());
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name, std::ios::binary) << text;
    return path + "/" + name;
  }
};

const std::string kHead = R"([global]
local-as = 65001
router-id = "192.0.2.10"

[[peer]]
name = "up"
address = "203.0.113.1"
remote-as = 65000
families = ["ipv4-unicast", "ipv6-unicast"]
next-hop-v6 = "2001:db8::2"

[[service]]
name = "bulk"
)";

std::string errors_of(const conf::LoadResult& r) { return r ? "" : conf::to_string(r.error()); }

}  // namespace

TEST_CASE("prefixes-file: one per line, comments and blanks skipped, after the inline ones") {
  Dir d;
  d.write("bulk.txt", "# anycast /32s\n198.18.0.1/32\n\n  198.18.0.2   # trailing comment\r\n"
                      "\t2001:db8:53::1/128\n198.18.0.3/32");  // no final newline
  const std::string cfg = d.write("herald.toml", kHead + "prefixes = [\"192.0.2.53\"]\n"
                                                          "prefixes-file = \"bulk.txt\"\n");
  auto r = conf::load_file(cfg);
  REQUIRE_MESSAGE(r.has_value(), errors_of(r));
  const conf::ServiceConfig& s = r->services[0];
  REQUIRE(s.prefixes.size() == 5);
  CHECK(s.prefixes[0].to_string() == "192.0.2.53/32");
  CHECK(s.prefixes[1].to_string() == "198.18.0.1/32");
  CHECK(s.prefixes[2].to_string() == "198.18.0.2/32");
  CHECK(s.prefixes[3].to_string() == "2001:db8:53::1/128");
  CHECK(s.prefixes[4].to_string() == "198.18.0.3/32");
  CHECK(s.file_prefixes == 4);
  REQUIRE(s.prefixes_file);
  CHECK(*s.prefixes_file == d.path + "/bulk.txt");  // stored absolute

  // Without inline prefixes the file alone is enough.
  d.write("herald.toml", kHead + "prefixes-file = \"" + d.path + "/bulk.txt\"\n");
  auto only = conf::load_file(cfg);
  REQUIRE_MESSAGE(only.has_value(), errors_of(only));
  CHECK(only->services[0].prefixes.size() == 4);
}

TEST_CASE("prefixes-file: errors name the file, line and column") {
  Dir d;
  const std::string bulk = d.write(
      "bulk.txt", "198.18.0.1/32\n  198.18.0.1/24\n198.18.0.2/32 198.18.0.3/32\n0.0.0.0/0\n"
                  "192.0.2.53\n");
  const std::string cfg = d.write("herald.toml", kHead + "prefixes = [\"192.0.2.53\"]\n"
                                                          "prefixes-file = \"bulk.txt\"\n");
  CHECK(errors_of(conf::load_file(cfg)) ==
        bulk + ":2:3: service \"bulk\" prefixes-file: prefix \"198.18.0.1/24\" has host bits set; did "
               "you mean \"198.18.0.0/24\"?\n" +
        bulk + ":3:1: service \"bulk\" prefixes-file: expected one prefix per line, got \"198.18.0.2/32 "
               "198.18.0.3/32\"\n" +
        bulk + ":4:1: service \"bulk\" prefixes-file: 0.0.0.0/0 is a default route, not a service "
               "prefix: announcing it would draw all traffic to this host\n" +
        bulk + ":5:1: service \"bulk\" prefixes-file: duplicate prefix 192.0.2.53/32 (also in service "
               "\"bulk\", line 14)\n");

  std::remove(bulk.c_str());
  CHECK(errors_of(conf::load_file(cfg)) ==
        cfg + ":15:17: service \"bulk\" prefixes-file: \"" + bulk + "\": cannot open: No such file or "
              "directory\n");
  d.write("bulk.txt", "# nothing yet\n\n");
  d.write("herald.toml", kHead + "prefixes-file = \"bulk.txt\"\n");
  CHECK(errors_of(conf::load_file(cfg)) ==
        cfg + ":14:17: service \"bulk\" prefixes-file: \"" + bulk + "\" has no prefixes, and prefixes "
              "gives none either\n");
  d.write("herald.toml", kHead);
  CHECK(errors_of(conf::load_file(cfg)) ==
        cfg + ":12:1: service \"bulk\" prefixes: required key missing (give prefixes, prefixes-file or "
              "both)\n");
}

TEST_CASE("prefixes-file: a file full of mistakes gives 20 errors and a count of the rest") {
  Dir d;
  std::string text;
  for (int i = 0; i < 50; ++i) text += "nonsense\n";
  d.write("bulk.txt", text);
  const std::string cfg = d.write("herald.toml", kHead + "prefixes-file = \"bulk.txt\"\n");
  auto r = conf::load_file(cfg);
  REQUIRE_FALSE(r);
  REQUIRE(r.error().size() == 21);
  CHECK(r.error()[19].line == 20);
  CHECK(r.error()[20].to_string() ==
        d.path + "/bulk.txt:50:1: service \"bulk\" prefixes-file: 30 more lines with errors not shown");
}

TEST_CASE("prefixes-file: 100,000 prefixes (past the config's 1 MiB) load; the dump names the file") {
  Dir d;
  std::string text;
  for (unsigned i = 0; i < 100000; ++i)
    text += "198." + std::to_string(18 + (i >> 16)) + "." + std::to_string((i >> 8) & 0xFF) + "." +
            std::to_string(i & 0xFF) + "/32\n";
  REQUIRE(text.size() > (1u << 20));
  d.write("bulk.txt", text);
  const std::string cfg = d.write("herald.toml", kHead + "prefixes = [\"2001:db8:53::1\"]\n"
                                                          "prefixes-file = \"bulk.txt\"\n");
  auto r = conf::load_file(cfg);
  REQUIRE_MESSAGE(r.has_value(), errors_of(r));
  CHECK(r->services[0].prefixes.size() == 100001);

  const std::string dump = conf::dump(*r);
  CHECK(dump.size() < 4096);
  CHECK(dump.find("prefixes = [\"2001:db8:53::1/128\"]\nprefixes-file = \"" + d.path +
                  "/bulk.txt\"  # 100000 prefixes: 100000 IPv4, 0 IPv6\n") != std::string::npos);
  // The dump loads back to the same config (the file is read again).
  auto again = conf::load_string(dump, cfg);
  REQUIRE_MESSAGE(again.has_value(), errors_of(again));
  CHECK(*again == *r);

  // A changed file is a changed config: a reload sees it.
  d.write("bulk.txt", "198.18.0.1/32\n");
  auto changed = conf::load_file(cfg);
  REQUIRE(changed.has_value());
  CHECK_FALSE(*changed == *r);
  CHECK(changed->services[0].prefixes.size() == 2);
}
