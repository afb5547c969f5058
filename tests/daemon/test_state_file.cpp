// State file: encode/decode, atomic save and load in a real temporary directory, unusable files
// failing safe (every service drained) with every corrupt copy kept aside, and every failing step
// of a save reported as a value with the old file intact.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/state_file.hpp"
#include "temp_dir.hpp"

using herald::daemon::FileFaultInjector;
using herald::daemon::PersistentState;
using herald::daemon::StateFile;
using herald::test::TempDir;

namespace {

PersistentState sample() {
  PersistentState s;
  s.drained["dns"] = {"kernel upgrade", 1795946400123};
  s.drained["dns-tcp"] = {"", 1795946401000};
  s.steering["dns"] = {2, 100U};
  s.steering["doh"] = {0, std::nullopt};
  s.flap_holds["dns"] = {1795946460, 60000};
  s.drain_began["dns"] = 1795946400123;
  return s;
}

// 2026-12-06T13:13:13Z, the "now" of the loads below.
const auto kNow = std::chrono::system_clock::from_time_t(1796562793);

// The fail-safe state load() returns for a file it cannot use.
void check_fail_safe(const herald::daemon::LoadResult& r, std::int64_t since_ms = 1796562793000) {
  REQUIRE(r.problem.has_value());
  REQUIRE(r.state.drain_all.has_value());
  CHECK(r.state.fail_safe());
  CHECK(r.state.drain_all->since_ms == since_ms);
  CHECK(r.state.drain_all->reason.find("run heraldctl undrain --all") != std::string::npos);
  CHECK(r.state.drained.empty());
  CHECK(r.state.steering.empty());
  CHECK(r.problem->find("every service starts drained and withdrawn (fail-safe)") != std::string::npos);
}

// The files in `dir` whose names start with `prefix`, sorted.
std::vector<std::string> files_starting(const std::filesystem::path& dir, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    auto name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
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
  s.flap_holds["dns"] = {1800000030, 60000};
  CHECK(herald::daemon::encode_state(s) ==
        "{\n"
        "  \"drain_all\": {\n    \"reason\": \"site move\",\n    \"since_ms\": 5\n  },\n"
        "  \"drained\": {\n    \"dns\": {\n      \"reason\": \"maint\",\n      \"since_ms\": 7\n"
        "    }\n  },\n"
        "  \"flap_holds\": {\n    \"dns\": {\n      \"next_hold_ms\": 60000,\n      \"until\": 1800000030\n"
        "    }\n  },\n"
        "  \"steering\": {\n    \"dns\": {\n      \"med\": 42,\n      \"prepend\": 3\n    }\n"
        "  },\n"
        "  \"version\": 1\n}\n");
  s.flap_holds.clear();
  CHECK(herald::daemon::encode_state(s) ==
        "{\n"
        "  \"drain_all\": {\n    \"reason\": \"site move\",\n    \"since_ms\": 5\n  },\n"
        "  \"drained\": {\n    \"dns\": {\n      \"reason\": \"maint\",\n      \"since_ms\": 7\n"
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
  PersistentState fs;
  fs.drain_all = PersistentState::DrainRecord{"fail-safe", 9, true};
  CHECK(herald::daemon::encode_state(fs).find("\"fail_safe\": true") != std::string::npos);
  auto back3 = herald::daemon::decode_state(herald::daemon::encode_state(fs));
  REQUIRE(back3.has_value());
  CHECK(back3->fail_safe());
}

TEST_CASE("a state file written before since_ms (whole seconds) is read in milliseconds") {
  auto old = herald::daemon::decode_state(
      R"({"version":1,"drain_all":{"reason":"r","since":5},"drained":{"dns":{"reason":"","since":7}},)"
      R"("drain_began":{"dns":7}})");
  REQUIRE(old.has_value());
  CHECK(old->drain_all->since_ms == 5000);
  CHECK(old->drained.at("dns").since_ms == 7000);
  CHECK(old->drain_began.at("dns") == 7000);
}

TEST_CASE("unit drains are persisted apart from the operator's, and absent when there are none") {
  PersistentState s;
  s.drained["dns"] = {"maint", 7};
  s.unit_drains["unbound.service"] = {"", 9};
  const std::string text = herald::daemon::encode_state(s);
  CHECK(text.find("\"unit_drains\": {\n    \"unbound.service\": {\n      \"reason\": \"\",\n      \"since_ms\": 9\n")
        != std::string::npos);
  auto back = herald::daemon::decode_state(text);
  REQUIRE(back.has_value());
  CHECK(*back == s);
  CHECK(!back->empty());
  s.unit_drains.clear();
  CHECK(herald::daemon::encode_state(s).find("unit_drains") == std::string::npos);
  // A file of a herald from before unit drains reads as before: no unit holds.
  auto old = herald::daemon::decode_state(R"({"version":1,"drained":{"dns":{"reason":"","since_ms":7}}})");
  REQUIRE(old.has_value());
  CHECK(old->unit_drains.empty());
  CHECK(herald::daemon::decode_state(R"({"version":1,"unit_drains":[]})").error() ==
        "\"unit_drains\" must be an object");
  CHECK(herald::daemon::decode_state(R"({"version":1,"unit_drains":{"u":{"since_ms":"x"}}})").error() ==
        "unit_drains.u.since_ms must be an integer");
}

TEST_CASE("disabled peers survive a save and a load, and are absent from the file when none") {
  TempDir dir;
  herald::daemon::StateFile file(dir.path());
  PersistentState s;
  s.disabled_peers["upstream1"] = {"rack move, back at 18:00", 1700000000123};
  REQUIRE_FALSE(file.save(s).has_value());
  auto loaded = file.load();
  CHECK_FALSE(loaded.problem.has_value());
  CHECK(loaded.state == s);
  CHECK(loaded.state.disabled_peers.at("upstream1").reason == "rack move, back at 18:00");
  CHECK_FALSE(loaded.state.empty());
  s.disabled_peers.clear();
  CHECK(herald::daemon::encode_state(s).find("disabled_peers") == std::string::npos);
  CHECK(herald::daemon::decode_state(R"({"version":1,"disabled_peers":[]})").error() ==
        "\"disabled_peers\" must be an object");
  CHECK(herald::daemon::decode_state(R"({"version":1,"disabled_peers":{"r1":{"reason":7}}})").error() ==
        "disabled_peers.r1.reason must be a string");
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
  CHECK(decode_state(R"({"version":1,"drain_all":{"fail_safe":1}})").error() ==
        "drain_all.fail_safe must be true or false");
  CHECK(decode_state(R"({"version":1,"flap_holds":{"dns":{"next_hold_ms":5}}})").error() ==
        "flap_holds.dns.until is missing");
  CHECK(decode_state(R"({"version":1,"flap_holds":{"dns":{"until":5,"next_hold_ms":-1}}})").error() ==
        "flap_holds.dns.next_hold_ms must be a non-negative integer");
  CHECK(decode_state(R"({"version":1,"flap_holds":[]})").error() == "\"flap_holds\" must be an object");
  CHECK(decode_state(R"({"version":1,"drain_began":{"dns":"x"}})").error() == "drain_began.dns must be an integer");
  CHECK(decode_state(R"({"version":1,"drain_began_ms":{"dns":"x"}})").error() ==
        "drain_began_ms.dns must be an integer");
  CHECK(decode_state(R"({"version":1,"drained":{"dns":{"since_ms":"x"}}})").error() ==
        "drained.dns.since_ms must be an integer");
  CHECK(decode_state(R"({"version":1,"drain_began":1})").error() == "\"drain_began\" must be an object");
}

TEST_CASE("a time whose milliseconds do not fit 64 bits is refused, not multiplied into overflow") {
  using herald::daemon::decode_state;
  // 9223372036854776 s is one second past the largest time in 64-bit milliseconds.
  CHECK(decode_state(R"({"version":1,"drained":{"dns":{"since":9223372036854776}}})").error() ==
        "drained.dns.since is out of range (9223372036854776)");
  CHECK(decode_state(R"({"version":1,"drain_all":{"since":-9223372036854776}})").error() ==
        "drain_all.since is out of range (-9223372036854776)");
  CHECK(decode_state(R"({"version":1,"drain_began":{"dns":100000000000000000}})").error() ==
        "drain_began.dns is out of range (100000000000000000)");
  CHECK(decode_state(R"({"version":1,"drain_began_ms":{"dns":9223372036854775808}})").error() ==
        "drain_began_ms.dns is out of range (9223372036854775808)");  // 2^63: no int64
  CHECK(decode_state(R"({"version":1,"drained":{"dns":{"since":1e32}}})").error() ==
        "drained.dns.since must be an integer");
  // The largest that fits is read.
  auto edge = decode_state(R"({"version":1,"drained":{"dns":{"since":9223372036854775}}})");
  REQUIRE(edge);
  CHECK(edge->drained.at("dns").since_ms == 9223372036854775000);
  // At start such a file is corrupt like any other: every service drained, the file kept aside.
  TempDir dir;
  spit(dir / "herald.state", R"({"version":1,"drained":{"dns":{"reason":"","since":9223372036854776}}})");
  auto r = StateFile(dir.path()).load(kNow);
  check_fail_safe(r);
  CHECK(r.problem->find("is corrupt (drained.dns.since is out of range (9223372036854776))") != std::string::npos);
}

TEST_CASE("missing file (first start) is an empty state without a problem") {
  TempDir dir;
  auto r = StateFile(dir.path()).load(kNow);
  CHECK(r.state.empty());
  CHECK_FALSE(r.state.fail_safe());
  CHECK_FALSE(r.problem.has_value());
  CHECK(std::filesystem::is_empty(dir.path()));  // nothing written, nothing moved
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

TEST_CASE("corrupt file fails safe: every service drained, bad file kept, fail-safe state saved") {
  TempDir dir;
  spit(dir / "herald.state", "{\"version\":1,\"drained\":");
  auto r = StateFile(dir.path()).load(kNow);
  check_fail_safe(r);
  const auto kept = dir / "herald.state.corrupt-20261206T131313Z";
  CHECK(*r.problem == "state file " + (dir / "herald.state").string() +
                          " is corrupt (not valid JSON at byte 24); every service starts drained and "
                          "withdrawn (fail-safe) because the operator's drains are unknown; the "
                          "file is kept as " + kept.string() +
                          "; check it, re-apply the drains and steering overrides you want, then run "
                          "\"heraldctl undrain --all\"");
  CHECK(slurp(kept) == "{\"version\":1,\"drained\":");
  // The fail-safe state took the bad file's place: a restart stays drained, with no new problem.
  auto again = StateFile(dir.path()).load(kNow + std::chrono::hours(1));
  CHECK_FALSE(again.problem.has_value());
  CHECK(again.state == r.state);
}

TEST_CASE("read-only (dry run): saves write nothing, a corrupt file fails safe and stays as it is") {
  TempDir dir;
  StateFile file(dir.path());
  file.set_read_only();
  REQUIRE_FALSE(file.save(sample()).has_value());  // succeeds, and writes nothing
  CHECK(std::filesystem::is_empty(dir.path()));

  StateFile live(dir.path());
  REQUIRE_FALSE(live.save(sample()).has_value());
  CHECK(file.load().state == sample());  // reads what a live daemon saved

  spit(dir / "herald.state", "{\"version\":1,\"drained\":");
  auto r = file.load(kNow);
  check_fail_safe(r);
  CHECK(r.problem->find("dry run: the file is left as it is") != std::string::npos);
  CHECK(slurp(dir / "herald.state") == "{\"version\":1,\"drained\":");
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 1);  // not moved aside, no fail-safe state saved in its place
}

TEST_CASE("an empty state file fails safe like a corrupt one") {
  for (const char* text : {"", "\n  \n"}) {
    TempDir dir;
    spit(dir / "herald.state", text);
    auto r = StateFile(dir.path()).load(kNow);
    check_fail_safe(r);
    CHECK(r.problem->find(" is corrupt (empty); ") != std::string::npos);
    CHECK(files_starting(dir.path(), "herald.state.corrupt") ==
          std::vector<std::string>{"herald.state.corrupt-20261206T131313Z"});
  }
}

TEST_CASE("every corrupt copy is kept: a second corruption does not overwrite the first") {
  TempDir dir;
  spit(dir / "herald.state", "first");
  check_fail_safe(StateFile(dir.path()).load(kNow));
  spit(dir / "herald.state", "second");
  check_fail_safe(StateFile(dir.path()).load(kNow));  // the same second
  spit(dir / "herald.state", "third");
  check_fail_safe(StateFile(dir.path()).load(kNow + std::chrono::seconds(61)), (1796562793LL + 61) * 1000);
  CHECK(files_starting(dir.path(), "herald.state.corrupt") ==
        std::vector<std::string>{"herald.state.corrupt-20261206T131313Z",
                                 "herald.state.corrupt-20261206T131313Z-2",
                                 "herald.state.corrupt-20261206T131414Z"});
  CHECK(slurp(dir / "herald.state.corrupt-20261206T131313Z") == "first");
  CHECK(slurp(dir / "herald.state.corrupt-20261206T131313Z-2") == "second");
  CHECK(slurp(dir / "herald.state.corrupt-20261206T131414Z") == "third");
}

TEST_CASE("a corrupt file that cannot be moved aside fails safe and is left in place") {
  TempDir dir;
  spit(dir / "herald.state", "garbage");
  FileFaultInjector inject = [](std::string_view op) { return op == "rename" ? EACCES : 0; };
  auto r = StateFile(dir.path(), inject).load(kNow);
  check_fail_safe(r);
  CHECK(r.problem->find("it could not be moved to " + (dir / "herald.state.corrupt-20261206T131313Z").string() +
                        " (Permission denied)") != std::string::npos);
  CHECK(slurp(dir / "herald.state") == "garbage");  // not overwritten by the fail-safe state
  CHECK(files_starting(dir.path(), "herald.state.corrupt").empty());
}

TEST_CASE("unreadable state file (a directory) fails safe and is moved aside") {
  TempDir dir;
  std::filesystem::create_directory(dir / "herald.state");
  spit(dir / "herald.state" / "inside", "x");
  auto r = StateFile(dir.path()).load(kNow);
  check_fail_safe(r);
  const auto kept = dir / "herald.state.unreadable-20261206T131313Z";
  CHECK(r.problem->find(" cannot be read (read: Is a directory); every service starts drained") !=
        std::string::npos);
  CHECK(r.problem->find("the file is kept as " + kept.string()) != std::string::npos);
  CHECK(slurp(kept / "inside") == "x");
  // The fail-safe state is in its place: a restart stays drained.
  CHECK(StateFile(dir.path()).load(kNow).state == r.state);
}

TEST_CASE("a state file that cannot be opened fails safe and is kept intact") {
  TempDir dir;
  REQUIRE_FALSE(StateFile(dir.path()).save(sample()).has_value());
  const std::string text = slurp(dir / "herald.state");
  FileFaultInjector inject = [](std::string_view op) { return op == "open" ? EACCES : 0; };
  auto r = StateFile(dir.path(), inject).load(kNow);
  check_fail_safe(r);
  CHECK(r.problem->find(" cannot be read (open: Permission denied)") != std::string::npos);
  CHECK(slurp(dir / "herald.state.unreadable-20261206T131313Z") == text);
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

TEST_CASE("a read error fails safe and keeps the file's content aside") {
  TempDir dir;
  REQUIRE_FALSE(StateFile(dir.path()).save(sample()).has_value());
  FileFaultInjector inject = [](std::string_view op) { return op == "read" ? EIO : 0; };
  auto r = StateFile(dir.path(), inject).load(kNow);
  check_fail_safe(r);
  CHECK(r.problem->find(" cannot be read (read: Input/output error)") != std::string::npos);
  auto kept = herald::daemon::decode_state(slurp(dir / "herald.state.unreadable-20261206T131313Z"));
  REQUIRE(kept.has_value());
  CHECK(*kept == sample());  // the operator can put it back
}
