// whole_number and int64_field: a JSON number becomes an integer only when it is one that fits.
#include <doctest/doctest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "base/json_fields.hpp"

using herald::int64_field;
using herald::whole_number;
using nlohmann::json;

TEST_CASE("whole_number reads an integer that fits the type and nothing else") {
  CHECK(whole_number<std::int64_t>(json::parse("9223372036854775807")) == INT64_MAX);
  CHECK(whole_number<std::int64_t>(json::parse("-9223372036854775808")) == INT64_MIN);
  CHECK(!whole_number<std::int64_t>(json::parse("9223372036854775808")));  // 2^63: only unsigned
  CHECK(whole_number<std::uint64_t>(json::parse("18446744073709551615")) == UINT64_MAX);
  CHECK(!whole_number<std::uint64_t>(json::parse("-1")));
  CHECK(!whole_number<std::uint64_t>(json::parse("18446744073709551616")));  // parsed as a float
  CHECK(whole_number<std::uint32_t>(json::parse("4294967295")) == UINT32_MAX);
  CHECK(!whole_number<std::uint32_t>(json::parse("4294967296")));
  CHECK(whole_number<int>(json(-5)) == -5);  // a signed value built in code, not parsed
  for (const char* bad : {"1e32", "1.5", "-0.5", "\"3\"", "null", "true", "[1]"}) {
    CAPTURE(bad);
    CHECK(!whole_number<std::int64_t>(json::parse(bad)));
  }
}

TEST_CASE("int64_field: absent or null is 0, a fitting integer is read, anything else throws") {
  const json j = json::parse(R"({"a": 7, "n": null, "big": 9223372036854775808, "f": 1e32, "s": "7"})");
  CHECK(int64_field(j, "missing") == 0);
  CHECK(int64_field(j, "n") == 0);
  CHECK(int64_field(j, "a") == 7);
  CHECK_THROWS_AS(int64_field(j, "big"), std::out_of_range);
  CHECK_THROWS_AS(int64_field(j, "f"), std::invalid_argument);
  CHECK_THROWS_AS(int64_field(j, "s"), std::invalid_argument);
}
