// Golden tests over tests/conf/samples/:
//   NAME.toml      must load; dump() must equal NAME.dump, and the dump must load back to the
//                  same Config.
//   bad_NAME.toml  must fail; the errors (one to_string() per line) must equal bad_NAME.errors.
// HERALD_UPDATE_GOLDEN=1 rewrites the .dump/.errors files from the current output instead.
// The packaged example config (packaging/herald.toml) must always load.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "conf/load.hpp"

namespace fs = std::filesystem;
using namespace herald;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool updating() {
  const char* v = std::getenv("HERALD_UPDATE_GOLDEN");
  return v && std::string(v) == "1";
}

// Compares `actual` with the golden file, or rewrites it when updating.
void golden(const fs::path& file, const std::string& actual) {
  if (updating()) {
    std::ofstream(file, std::ios::binary) << actual;
    return;
  }
  REQUIRE_MESSAGE(fs::exists(file), "missing golden file " << file.string()
                                                           << " (run with HERALD_UPDATE_GOLDEN=1)");
  CHECK(actual == slurp(file));
}

std::vector<fs::path> samples() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(HERALD_CONF_SAMPLES))
    if (e.path().extension() == ".toml") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("golden: good samples dump to their .dump and round-trip") {
  int good = 0;
  for (const fs::path& p : samples()) {
    const std::string name = p.filename().string();
    if (name.rfind("bad_", 0) == 0) continue;
    CAPTURE(name);
    ++good;
    // The bare file name keeps error texts and Config::source independent of the checkout.
    auto r = conf::load_string(slurp(p), name);
    if (!r) {
      for (const auto& e : r.error()) MESSAGE(e.to_string());
      FAIL("sample does not load");
      continue;
    }
    const std::string text = conf::dump(*r);
    golden(fs::path(p).replace_extension(".dump"), text);
    auto again = conf::load_string(text, name + ".dump");
    REQUIRE_MESSAGE(again.has_value(), "the dump does not load");
    // Inline passwords come back as the redaction marker; everything else is equal.
    conf::Config expected = *r;
    for (auto& peer : expected.peers)
      if (!peer.md5_password.empty() && !peer.md5_password_file) peer.md5_password = "<redacted>";
    CHECK(*again == expected);
    CHECK(conf::dump(*again) == text);  // the dump is a fixed point
  }
  CHECK(good >= 3);
}

TEST_CASE("golden: bad samples fail with exactly the expected errors") {
  int bad = 0;
  for (const fs::path& p : samples()) {
    const std::string name = p.filename().string();
    if (name.rfind("bad_", 0) != 0) continue;
    CAPTURE(name);
    ++bad;
    auto r = conf::load_string(slurp(p), name);
    REQUIRE_FALSE(r.has_value());
    std::string text;
    for (const auto& e : r.error()) text += e.to_string() + "\n";
    golden(fs::path(p).replace_extension(".errors"), text);
  }
  CHECK(bad >= 3);
}

TEST_CASE("the packaged example config loads") {
  auto r = conf::load_file(HERALD_PACKAGED_CONFIG);
  if (!r)
    for (const auto& e : r.error()) MESSAGE(e.to_string());
  REQUIRE(r.has_value());
  CHECK_FALSE(r->peers.empty());
  CHECK_FALSE(r->services.empty());
  auto again = conf::load_string(conf::dump(*r), "dump");
  REQUIRE(again.has_value());
  CHECK(*again == *r);
}
