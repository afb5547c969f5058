// State file: encode/decode, atomic save and load in a real temporary directory, corrupt files
// kept aside, and every failing step of a save reported as a value with the old file intact.
#include <doctest/doctest.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>

#include "daemon/state_file.hpp"
#include "temp_dir.hpp"

using herald::daemon::FileFaultInjector;
using herald::daemon::PersistentState;
using herald::daemon::StateFile;
using herald::test::TempDir;

namespace {

PersistentState sample() {
  PersistentState s;
  s.drained["dns"] = {"kernel upgrade", 1795946400};
  s.drained["dns-tcp"] = {"", 1795946401};
  s.steering["dns"] = {2, 100U};
  s.steering["doh"] = {0, std::nullopt};
  return s;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

}  // namespace

TEST_CASE("encoded state is stable, readable JSON and decodes to the same state") {
  PersistentState s;
  s.drain_all = PersistentState::DrainRecord{"site move", 5};
  s.drained["dns"] = {"maint", 7};
  s.steering["dns"] = {3, 42U};
  CHECK(herald::daemon::encode_state(s) ==
        "{\n"
        "  \"drain_all\": {\n    \"reason\": \"site move\",\n    \"since\": 5\n  },\n"
        "  \"drained\": {\n    \"dns\": {\n      \"reason\": \"maint\",\n      \"since\": 7\n"
        "    }\n  },\n"
        "  \"steering\": {\n    \"dns\": {\n      \"med\": 42,\n      \"prepend\": 3\n    }\n"
        "  },\n"
        "  \"version\": 1\n}\n");
  auto back = herald::daemon::decode_state(herald::daemon::encode_state(s));
  REQUIRE(back.has_value());
  CHECK(*back == s);
  auto back2 = herald::daemon::decode_state(herald::daemon::encode_state(sample()));
  REQUIRE(back2.has_value());
  CHECK(*back2 == sample());
}

TEST_CASE("decode errors name the problem") {
  using herald::daemon::decode_state;
  CHECK(decode_state("{").error() == "not valid JSON at byte 2");
  CHECK(decode_state("[]").error() == "top level is not an object");
  CHECK(decode_state(R"({"version":1e999})").error() == "not valid JSON: a number is out of range");
  CHECK(decode_state(R"({"version":2})").error() == "\"version\" is not 1");
  CHECK(decode_state(R"({"version":1,"drained":{"dns":{"since":"x"}}})").error() ==
        "drained.dns.since must be an integer");
  CHECK(decode_state(R"({"version":1,"steering":{"dns":{"prepend":17}}})").error() ==
        "steering.dns.prepend must be an integer 0..16");
  CHECK(decode_state(R"({"version":1,"steering":{"dns":{"med":-1}}})").error() ==
        "steering.dns.med must be an integer 0..4294967295");
  CHECK(decode_state(R"({"version":1,"extra":1})").error() == "unknown field \"extra\"");
}

TEST_CASE("missing file is an empty state without a problem") {
  TempDir dir;
  auto r = StateFile(dir.path()).load();
  CHECK(r.state.empty());
  CHECK_FALSE(r.problem.has_value());
}

TEST_CASE("save then load returns the same state and leaves no temporary file") {
  TempDir dir;
  StateFile file(dir.path());
  REQUIRE_FALSE(file.save(sample()).has_value());
  CHECK(file.path() == dir / "herald.state");
  auto r = file.load();
  CHECK_FALSE(r.problem.has_value());
  CHECK(r.state == sample());
  CHECK_FALSE(std::filesystem::exists(dir / ".herald.state.tmp"));

  PersistentState none;  // saving an empty state replaces the old one
  REQUIRE_FALSE(file.save(none).has_value());
  CHECK(file.load().state.empty());
}

TEST_CASE("corrupt file: clear problem, empty state, bad file kept as .corrupt") {
  TempDir dir;
  spit(dir / "herald.state", "{\"version\":1,\"drained\":");
  auto r = StateFile(dir.path()).load();
  CHECK(r.state.empty());
  REQUIRE(r.problem.has_value());
  CHECK(*r.problem == "state file " + (dir / "herald.state").string() +
                          " is corrupt (not valid JSON at byte 24); starting with no drains or "
                          "steering overrides; the bad file is kept as " +
                          (dir / "herald.state.corrupt").string());
  CHECK_FALSE(std::filesystem::exists(dir / "herald.state"));
  CHECK(slurp(dir / "herald.state.corrupt") == "{\"version\":1,\"drained\":");
}

TEST_CASE("unreadable state file (a directory) is reported, not renamed") {
  TempDir dir;
  std::filesystem::create_directory(dir / "herald.state");
  auto r = StateFile(dir.path()).load();
  CHECK(r.state.empty());
  REQUIRE(r.problem.has_value());
  CHECK(r.problem->find(": read: Is a directory; starting with no drains") != std::string::npos);
  CHECK(std::filesystem::is_directory(dir / "herald.state"));
}

TEST_CASE("save into a non-existent directory fails with a clear value") {
  TempDir dir;
  StateFile file(dir / "missing");
  auto err = file.save(sample());
  REQUIRE(err.has_value());
  CHECK(*err == "cannot save state file " + (dir / "missing" / "herald.state").string() +
                    ": open: No such file or directory");
}

TEST_CASE("save where the state directory is a regular file fails with a clear value") {
  TempDir dir;
  spit(dir / "notadir", "x");
  auto err = StateFile(dir / "notadir").save(sample());
  REQUIRE(err.has_value());
  CHECK(err->find(": open: Not a directory") != std::string::npos);
}

TEST_CASE("each failing step of a save is reported and the old file survives intact") {
  for (std::string_view step : {"write", "fsync", "rename"}) {
    CAPTURE(step);
    TempDir dir;
    PersistentState old;
    old.drained["dns"] = {"old", 1};
    REQUIRE_FALSE(StateFile(dir.path()).save(old).has_value());

    FileFaultInjector inject = [&](std::string_view op) { return op == step ? ENOSPC : 0; };
    auto err = StateFile(dir.path(), inject).save(sample());
    REQUIRE(err.has_value());
    CHECK(*err == "cannot save state file " + (dir / "herald.state").string() + ": " +
                      std::string(step) + ": No space left on device");
    CHECK_FALSE(std::filesystem::exists(dir / ".herald.state.tmp"));
    CHECK(StateFile(dir.path()).load().state == old);
  }
}

TEST_CASE("a failing directory fsync is reported although the new file is in place") {
  TempDir dir;
  FileFaultInjector inject = [](std::string_view op) { return op == "fsync dir" ? EIO : 0; };
  auto err = StateFile(dir.path(), inject).save(sample());
  REQUIRE(err.has_value());
  CHECK(err->find(": fsync dir: Input/output error") != std::string::npos);
  CHECK(StateFile(dir.path()).load().state == sample());
}

TEST_CASE("a read error is reported without touching the file") {
  TempDir dir;
  REQUIRE_FALSE(StateFile(dir.path()).save(sample()).has_value());
  FileFaultInjector inject = [](std::string_view op) { return op == "read" ? EIO : 0; };
  auto r = StateFile(dir.path(), inject).load();
  CHECK(r.state.empty());
  REQUIRE(r.problem.has_value());
  CHECK(r.problem->find(": read: Input/output error") != std::string::npos);
  CHECK(StateFile(dir.path()).load().state == sample());
}
