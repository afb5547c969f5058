// Log line formats (text, JSON), level filtering and rate limiting, with an injected clock and
// sink: no sleeps, exact expected lines.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "daemon/log.hpp"

using namespace herald::log;
using namespace std::chrono_literals;

namespace {

// A sink collecting lines and a clock the test moves by hand.
struct Capture {
  std::vector<std::string> lines;
  // 2026-11-29T10:00:00.123Z
  std::chrono::system_clock::time_point wall =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1795946400123LL));
  std::chrono::steady_clock::time_point mono{};
  std::vector<JournalEntry> entries;
  bool journal_up = true;  // false: journald unreachable, entries are refused

  Environment env() {
    return Environment{[this](std::string_view l) { lines.emplace_back(l); },
                       [this] { return wall; }, [this] { return mono; },
                       [this](const JournalEntry& e) {
                         if (journal_up) entries.push_back(e);
                         return journal_up;
                       }};
  }
  void advance(std::chrono::milliseconds d) {
    wall += d;
    mono += d;
  }
};

}  // namespace

TEST_CASE("text format: timestamp, level, message, fields in call order") {
  Capture cap;
  Logger logger({}, cap.env());
  logger.write(Level::info, "state change",
               {{"peer", "upstream1"}, {"old", "Active"}, {"new", "Established"},
                {"reason", "OPEN accepted"}});
  REQUIRE(cap.lines.size() == 1);
  CHECK(cap.lines[0] ==
        "2026-11-29T10:00:00.123Z info state change peer=upstream1 old=Active new=Established "
        "reason=\"OPEN accepted\"\n");
}

TEST_CASE("text format: numbers bare, empty and odd values quoted, message kept on one line") {
  Capture cap;
  Logger logger({}, cap.env());
  std::string owned = "a=b";
  logger.write(Level::warning, "two\nlines",
               {{"prefixes", 3}, {"as", 4200000000U}, {"up", false}, {"latency_ms", 1.5},
                {"empty", ""}, {"eq", owned}, {"q", "say \"hi\""}});
  REQUIRE(cap.lines.size() == 1);
  CHECK(cap.lines[0] ==
        "2026-11-29T10:00:00.123Z warning two lines prefixes=3 as=4200000000 up=false "
        "latency_ms=1.5 empty=\"\" eq=\"a=b\" q=\"say \\\"hi\\\"\"\n");
}

TEST_CASE("json format: one valid object per line with typed fields") {
  Capture cap;
  Logger logger({.min_level = Level::debug, .format = Format::json}, cap.env());
  logger.write(Level::notice, "prefix withdrawn",
               {{"service", "dns"}, {"prefix", "192.0.2.1/32"}, {"peers", 2}, {"drained", true},
                {"reason", "check \"udp\" failed\n"}});
  REQUIRE(cap.lines.size() == 1);
  CHECK(cap.lines[0] ==
        "{\"ts\":\"2026-11-29T10:00:00.123Z\",\"level\":\"notice\",\"msg\":\"prefix withdrawn\","
        "\"service\":\"dns\",\"prefix\":\"192.0.2.1/32\",\"peers\":2,\"drained\":true,"
        "\"reason\":\"check \\\"udp\\\" failed\\n\"}\n");
  auto j = nlohmann::json::parse(cap.lines[0]);
  CHECK(j["reason"] == "check \"udp\" failed\n");
}

TEST_CASE("json format: invalid UTF-8 and control bytes still give valid JSON") {
  Capture cap;
  Logger logger({.format = Format::json}, cap.env());
  std::string bad = "x\xff\x01y\xc3\xa9";  // invalid byte, control byte, valid e-acute
  logger.write(Level::error, "odd", {{"v", bad}});
  REQUIRE(cap.lines.size() == 1);
  CHECK(cap.lines[0].find("\"v\":\"x\\ufffd\\u0001y\xc3\xa9\"") != std::string::npos);
  CHECK(nlohmann::json::accept(cap.lines[0]));
}

TEST_CASE("level filter drops lower levels; set_level changes it at run time") {
  Capture cap;
  Logger logger({.min_level = Level::notice}, cap.env());
  CHECK_FALSE(logger.enabled(Level::info));
  CHECK(logger.enabled(Level::warning));
  logger.write(Level::debug, "d");
  logger.write(Level::info, "i");
  logger.write(Level::notice, "n");
  logger.write(Level::error, "e");
  REQUIRE(cap.lines.size() == 2);
  CHECK(cap.lines[0].find(" notice n") != std::string::npos);
  CHECK(cap.lines[1].find(" error e") != std::string::npos);
  logger.set_level(Level::debug);
  logger.write(Level::debug, "d2");
  CHECK(cap.lines.size() == 3);
}

TEST_CASE("syslog prefix carries the RFC 5424 severity for journald") {
  Capture cap;
  Logger logger({.min_level = Level::debug, .syslog_prefix = true}, cap.env());
  logger.write(Level::warning, "w");
  logger.write(Level::debug, "d");
  REQUIRE(cap.lines.size() == 2);
  CHECK(cap.lines[0].rfind("<4>2026-11-29T10:00:00.123Z warning w", 0) == 0);
  CHECK(cap.lines[1].rfind("<7>", 0) == 0);
}

TEST_CASE("rate limiting: one line per window per key, then the suppressed count") {
  Capture cap;
  Logger logger({.rate_window = 10s}, cap.env());
  auto refused = [&](std::string_view peer) {
    logger.write_limited(Level::warning, "connect failed",
                         {{"peer", peer}, {"reason", "Connection refused"}});
  };
  refused("r1");  // written
  cap.advance(1000ms);
  refused("r1");  // suppressed 1
  refused("r2");  // another peer: its own key, written
  cap.advance(1000ms);
  refused("r1");  // suppressed 2
  REQUIRE(cap.lines.size() == 2);
  CHECK(cap.lines[0] ==
        "2026-11-29T10:00:00.123Z warning connect failed peer=r1 reason=\"Connection refused\"\n");
  CHECK(cap.lines[1].find("peer=r2") != std::string::npos);

  cap.advance(8000ms);  // 10 s after the first r1 line: the window is over
  refused("r1");
  REQUIRE(cap.lines.size() == 3);
  CHECK(cap.lines[2] ==
        "2026-11-29T10:00:10.123Z warning connect failed peer=r1 reason=\"Connection refused\" "
        "(suppressed 2 similar messages)\n");

  cap.advance(10000ms);  // nothing suppressed in between: no suffix
  refused("r1");
  REQUIRE(cap.lines.size() == 4);
  CHECK(cap.lines[3].find("suppressed") == std::string::npos);

  cap.advance(1ms);  // a different reason is a different message
  logger.write_limited(Level::warning, "connect failed", {{"peer", "r1"}, {"reason", "timeout"}});
  CHECK(cap.lines.size() == 5);
}

TEST_CASE("rate limiting in JSON adds a numeric suppressed field") {
  Capture cap;
  Logger logger({.format = Format::json, .rate_window = 5s}, cap.env());
  for (int i = 0; i < 4; ++i) logger.write_limited(Level::info, "flap", {{"peer", "r1"}});
  cap.advance(5000ms);
  logger.write_limited(Level::info, "flap", {{"peer", "r1"}});
  REQUIRE(cap.lines.size() == 2);
  auto j = nlohmann::json::parse(cap.lines[1]);
  CHECK(j["suppressed"] == 3);
  CHECK(j["peer"] == "r1");
}

TEST_CASE("rate limiting never drops messages once the key table is full") {
  Capture cap;
  Logger logger({.rate_window = 10s, .max_rate_keys = 2}, cap.env());
  logger.write_limited(Level::info, "a");
  logger.write_limited(Level::info, "b");
  logger.write_limited(Level::info, "c");  // table full: not tracked, written
  logger.write_limited(Level::info, "c");  // still not tracked, written again
  logger.write_limited(Level::info, "a");  // tracked: suppressed
  CHECK(cap.lines.size() == 4);
  cap.advance(10000ms);
  logger.write_limited(Level::info, "d");  // expired "b" (nothing suppressed) is forgotten
  logger.write_limited(Level::info, "d");  // now tracked: suppressed
  CHECK(cap.lines.size() == 5);
}

TEST_CASE("level and format names parse as written in the config") {
  CHECK(parse_level("warning") == Level::warning);
  CHECK_FALSE(parse_level("warn").has_value());
  CHECK(parse_format("json") == Format::json);
  CHECK_FALSE(parse_format("xml").has_value());
  CHECK(syslog_priority(Level::error) == 3);
}

TEST_CASE("state_change writes the one state-change shape through the global logger") {
  Capture cap;
  configure({.min_level = Level::info}, cap.env());
  state_change("peer", "upstream1", "Active", "Established", "OPEN accepted");
  state_change("service", "dns", "Up", "Down", "");
  configure({}, default_environment());  // later tests log to stderr again
  REQUIRE(cap.lines.size() == 2);
  CHECK(cap.lines[0] ==
        "2026-11-29T10:00:00.123Z notice state change peer=upstream1 old=Active new=Established "
        "reason=\"OPEN accepted\"\n");
  CHECK(cap.lines[1] ==
        "2026-11-29T10:00:00.123Z notice state change service=dns old=Up new=Down reason=\"\"\n");
}

TEST_CASE("format_timestamp is RFC 3339 UTC with milliseconds, also before the epoch") {
  using std::chrono::milliseconds;
  using std::chrono::system_clock;
  CHECK(format_timestamp(system_clock::time_point(milliseconds(1795946400123LL))) ==
        "2026-11-29T10:00:00.123Z");
  CHECK(format_timestamp(system_clock::time_point(milliseconds(-1))) ==
        "1969-12-31T23:59:59.999Z");
}

TEST_CASE("journal format: one native entry per event, every field its own journal field") {
  Capture cap;
  Logger logger({.format = Format::journal}, cap.env());
  logger.write(Level::notice, "prefix withdrawn",
               {{"service", "dns"}, {"prefix", "192.0.2.53/32"}, {"peers", 2}, {"reason", "checks failing"}});
  CHECK(cap.lines.empty());  // nothing on stderr: journald timestamps and keeps the entry
  REQUIRE(cap.entries.size() == 1);
  CHECK(cap.entries[0] == JournalEntry{"MESSAGE=prefix withdrawn service=dns prefix=192.0.2.53/32 peers=2 "
                                       "reason=\"checks failing\"",
                                       "PRIORITY=5", "SYSLOG_IDENTIFIER=herald", "HERALD_MSG=prefix withdrawn",
                                       "SERVICE=dns", "PREFIX=192.0.2.53/32", "PEERS=2",
                                       "REASON=checks failing"});
}

TEST_CASE("journal format: suppressed repeats are counted in SUPPRESSED") {
  Capture cap;
  Logger logger({.format = Format::journal}, cap.env());
  for (int i = 0; i < 3; ++i) logger.write_limited(Level::warning, "connect failed", {{"peer", "r1"}});
  cap.advance(std::chrono::seconds(11));
  logger.write_limited(Level::warning, "connect failed", {{"peer", "r1"}});
  REQUIRE(cap.entries.size() == 2);
  CHECK(cap.entries[1].back() == "SUPPRESSED=2");
  CHECK(cap.entries[1][1] == "PRIORITY=4");
}

TEST_CASE("journal format: when journald cannot be reached the event is written as a text line") {
  Capture cap;
  cap.journal_up = false;
  Logger logger({.format = Format::journal}, cap.env());
  logger.write(Level::error, "state not saved", {{"reason", "disk full"}});
  CHECK(cap.entries.empty());
  REQUIRE(cap.lines.size() == 1);
  CHECK(cap.lines[0] == "2026-11-29T10:00:00.123Z error state not saved reason=\"disk full\"\n");
}

TEST_CASE("journal field names: upper case, [A-Z0-9_] only, never a trusted or numeric start") {
  CHECK(journal_field_name("peer") == "PEER");
  CHECK(journal_field_name("bfd-state") == "BFD_STATE");
  CHECK(journal_field_name("_pid") == "F__PID");
  CHECK(journal_field_name("4byte") == "F_4BYTE");
  CHECK(journal_field_name("") == "F_");
  CHECK(journal_field_name(std::string(100, 'a')).size() == 64);
}

TEST_CASE("reconfigure switches format and syslog prefix, as a reload does") {
  Capture cap;
  Logger logger({}, cap.env());
  logger.reconfigure({.min_level = Level::warning, .format = Format::text, .syslog_prefix = true});
  logger.write(Level::info, "hidden");
  logger.write(Level::warning, "shown");
  REQUIRE(cap.lines.size() == 1);
  CHECK(cap.lines[0] == "<4>2026-11-29T10:00:00.123Z warning shown\n");
  logger.reconfigure({.min_level = Level::info, .format = Format::journal});
  logger.write(Level::info, "native");
  CHECK(cap.lines.size() == 1);
  CHECK(cap.entries.size() == 1);
}
