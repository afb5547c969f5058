// base/log_level.hpp: the one severity scale (config file, daemon log, bgp log events).
#include <doctest/doctest.h>

#include "base/log_level.hpp"

using namespace herald;

TEST_CASE("log levels: names round-trip as written in the config file") {
  for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::notice, LogLevel::warning,
                     LogLevel::error}) {
    CHECK(parse_log_level(to_string(l)) == l);
  }
  CHECK(to_string(LogLevel::notice) == "notice");
  CHECK_FALSE(parse_log_level("warn").has_value());
  CHECK_FALSE(parse_log_level("Info").has_value());
}

TEST_CASE("log levels: ordered from the most to the least verbose, with syslog priorities") {
  CHECK(LogLevel::debug < LogLevel::info);
  CHECK(LogLevel::info < LogLevel::notice);
  CHECK(LogLevel::notice < LogLevel::warning);
  CHECK(LogLevel::warning < LogLevel::error);
  CHECK(syslog_priority(LogLevel::debug) == 7);
  CHECK(syslog_priority(LogLevel::notice) == 5);
  CHECK(syslog_priority(LogLevel::error) == 3);
}
