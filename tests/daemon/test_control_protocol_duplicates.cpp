// Control protocol: a request that names a key twice is refused, not resolved by guessing
// (the JSON parser alone keeps the last copy, which turned a status request into a reload).
#include <doctest/doctest.h>

#include <string>

#include "daemon/control_protocol.hpp"

using namespace herald::control;

TEST_CASE("a key given twice is an error naming the key") {
  struct Case {
    const char* line;
    const char* key;
  };
  const Case cases[] = {
      {R"({"cmd":"status","cmd":"reload"})", "cmd"},
      {R"({"cmd":"drain","service":"dns","service":"ntp"})", "service"},
      {R"({"cmd":"steer","service":"dns","prepend":1,"med":5,"prepend":16})", "prepend"},
      {R"({"cmd":"drain","all":true,"reason":"a","reason":"b"})", "reason"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    auto r = parse_request(c.line);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == std::string("request has the key \"") + c.key + "\" more than once");
  }
}

TEST_CASE("the same key in different objects is not a duplicate") {
  // "x" appears in the request and in a nested object: each object has its own keys. The
  // nested object is then refused for what it is (status takes no arguments), not as a repeat.
  auto r = parse_request(R"({"cmd":"status","x":{"x":1,"y":{"x":2}}})");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().find("more than once") == std::string::npos);
  // Requests without repeats parse as before.
  CHECK(parse_request(R"({"cmd":"drain","service":"dns","reason":"r"})").has_value());
}
