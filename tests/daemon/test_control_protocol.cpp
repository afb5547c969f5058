// Control protocol: every request form parses to its typed command, every malformed request
// gives its precise error, and to_json() round-trips.
#include <doctest/doctest.h>

#include <string>

#include "daemon/control_protocol.hpp"

using namespace herald::control;

namespace {

Command ok(std::string_view line) {
  auto r = parse_request(line);
  INFO("request: " << line);
  if (!r) FAIL("unexpected error: " << r.error());
  return r.value();
}

std::string err(std::string_view line) {
  auto r = parse_request(line);
  INFO("request: " << line);
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

}  // namespace

TEST_CASE("every command form parses to its typed command") {
  CHECK(ok(R"({"cmd":"status"})") == Command{Status{}});
  CHECK(ok("{\"cmd\":\"reload\"}\n") == Command{Reload{}});
  CHECK(ok("{\"cmd\":\"events\"}\r\n") == Command{Events{}});
  CHECK(ok(R"({"cmd":"drain","service":"dns","reason":"kernel upgrade"})") ==
        Command{Drain{Target{false, "dns", {}}, "kernel upgrade", false, std::nullopt}});
  CHECK(ok(R"({"cmd":"drain","all":true})") == Command{Drain{Target{true, "", {}}, "", false, std::nullopt}});
  CHECK(ok(R"({"cmd":"drain","service":"dns","all":false})") ==
        Command{Drain{Target{false, "dns", {}}, "", false, std::nullopt}});
  CHECK(ok(R"({"cmd":"undrain","service":"dns"})") == Command{Undrain{Target{false, "dns", {}}}});
  CHECK(ok(R"({"cmd":"undrain","all":true})") == Command{Undrain{Target{true, "", {}}}});
  CHECK(ok(R"({"cmd":"steer","service":"dns","prepend":3,"med":100})") ==
        Command{Steer{"dns", 3, 100U}});
  CHECK(ok(R"({"cmd":"steer","service":"dns","prepend":16})") ==
        Command{Steer{"dns", 16, std::nullopt}});
  CHECK(ok(R"({"cmd":"steer","service":"dns","med":4294967295})") ==
        Command{Steer{"dns", 0, 4294967295U}});
  CHECK(ok(R"({"cmd":"steer","service":"dns","clear":true})") == Command{SteerClear{"dns"}});
  CHECK(ok(R"({"cmd":"clear-hold","service":"dns"})") == Command{ClearHold{"dns"}});
}

TEST_CASE("clear-hold argument errors") {
  CHECK(err(R"({"cmd":"clear-hold"})") == "clear-hold: needs \"service\"");
  CHECK(err(R"({"cmd":"clear-hold","service":""})") == "clear-hold: \"service\" must not be empty");
  CHECK(err(R"({"cmd":"clear-hold","service":3})") == "clear-hold: \"service\" must be a string");
  CHECK(err(R"({"cmd":"clear-hold","all":true})") ==
        "clear-hold: unknown field \"all\"");
  CHECK(err(R"({"cmd":"clear-hold","servce":"dns"})") ==
        "clear-hold: unknown field \"servce\" (did you mean \"service\"?)");
  CHECK(err(R"({"cmd":"clearhold","service":"dns"})").find("(did you mean \"clear-hold\"?)") !=
        std::string::npos);
}

TEST_CASE("framing and JSON errors") {
  CHECK(err(std::string(kMaxLineBytes + 1, ' ')) == "request line longer than 64 KiB");
  CHECK(err("") == "empty request: send a JSON object such as {\"cmd\":\"status\"}");
  std::string e = err(R"({"cmd":"status",})");
  CHECK(e.rfind("request is not valid JSON at byte 17: ", 0) == 0);
  CHECK(err("{\"cmd\":\"st\xff\"}").rfind("request is not valid JSON at byte", 0) == 0);
  CHECK(err(R"(["status"])") == "request must be a JSON object, not array");
  CHECK(err(R"({"command":"status"})") ==
        "request has no \"cmd\" field (status, drain, undrain, steer, clear-hold, reload, events, routes, peer)");
  CHECK(err(R"({"cmd":7})") == "\"cmd\" must be a string");
  // Found by fuzz_control: an out-of-range number is a JSON error value, not an exception.
  CHECK(err(R"({"cmd":1e999})") == "request is not valid JSON: a number is out of range");
  CHECK(err(R"({"cmd":"steer","service":"dns","med":-1e400})") ==
        "request is not valid JSON: a number is out of range");
}

TEST_CASE("unknown commands name the closest known one") {
  CHECK(err(R"({"cmd":"stats"})") ==
        "unknown command \"stats\" (did you mean \"status\"?) (commands: status, drain, "
        "undrain, steer, clear-hold, reload, events, routes, peer)");
  CHECK(err(R"({"cmd":"un"})").find("(did you mean \"undrain\"?)") != std::string::npos);
  CHECK(err(R"({"cmd":"fo"})") ==
        "unknown command \"fo\" (commands: status, drain, undrain, steer, clear-hold, reload, events, routes, "
        "peer)");
}

TEST_CASE("drain and undrain argument errors") {
  CHECK(err(R"({"cmd":"drain"})") == "drain: needs \"service\" or \"all\"");
  CHECK(err(R"({"cmd":"drain","all":false})") == "drain: needs \"service\" or \"all\"");
  CHECK(err(R"({"cmd":"drain","service":"dns","all":true})") ==
        "drain: give either \"service\" or \"all\", not both");
  CHECK(err(R"({"cmd":"drain","service":""})") == "drain: \"service\" must not be empty");
  CHECK(err(R"({"cmd":"drain","service":5})") == "drain: \"service\" must be a string");
  CHECK(err(R"({"cmd":"drain","service":"a\u0001"})") ==
        "drain: \"service\" contains control characters");
  CHECK(err(R"({"cmd":"drain","all":"yes"})") == "drain: \"all\" must be true or false");
  CHECK(err(R"({"cmd":"drain","service":"dns","reason":1})") ==
        "drain: \"reason\" must be a string");
  CHECK(err(R"({"cmd":"drain","servce":"dns"})") ==
        "drain: unknown field \"servce\" (did you mean \"service\"?)");
  CHECK(err(R"({"cmd":"undrain","service":"dns","reason":"x"})") ==
        "undrain: unknown field \"reason\"");
  CHECK(err(R"({"cmd":"drain","service":")" + std::string(256, 'a') + "\"}") ==
        "drain: \"service\" longer than 255 bytes");
}

TEST_CASE("steer argument errors") {
  CHECK(err(R"({"cmd":"steer","prepend":1})") == "steer: needs \"service\"");
  CHECK(err(R"({"cmd":"steer","service":"dns"})") ==
        "steer: needs \"prepend\" and/or \"med\", or \"clear\":true");
  CHECK(err(R"({"cmd":"steer","service":"dns","prepend":17})") ==
        "steer: prepend must be an integer 0..16");
  CHECK(err(R"({"cmd":"steer","service":"dns","prepend":-1})") ==
        "steer: prepend must be an integer 0..16");
  CHECK(err(R"({"cmd":"steer","service":"dns","prepend":1.5})") ==
        "steer: prepend must be an integer 0..16");
  CHECK(err(R"({"cmd":"steer","service":"dns","prepend":"2"})") ==
        "steer: prepend must be an integer 0..16");
  CHECK(err(R"({"cmd":"steer","service":"dns","med":4294967296})") ==
        "steer: med must be an integer 0..4294967295");
  CHECK(err(R"({"cmd":"steer","service":"dns","med":18446744073709551615})") ==
        "steer: med must be an integer 0..4294967295");
  CHECK(err(R"({"cmd":"steer","service":"dns","clear":false})") ==
        "steer: \"clear\" must be true (to remove the override)");
  CHECK(err(R"({"cmd":"steer","service":"dns","clear":true,"med":1})") ==
        "steer: \"clear\" cannot be combined with \"prepend\" or \"med\"");
}

TEST_CASE("drain/undrain --unit: the hold of one systemd unit") {
  CHECK(ok(R"({"cmd":"drain","unit":"unbound.service"})") ==
        Command{Drain{Target{false, "", "unbound.service"}, "", false, std::nullopt}});
  CHECK(ok(R"({"cmd":"undrain","unit":"unbound.service"})") ==
        Command{Undrain{Target{false, "", "unbound.service"}}});
  CHECK(err(R"({"cmd":"drain","unit":"u","service":"dns"})") ==
        "drain: give one of \"service\", \"all\" or \"unit\"");
  CHECK(err(R"({"cmd":"undrain","unit":"u","all":true})") ==
        "undrain: give one of \"service\", \"all\" or \"unit\"");
  CHECK(err(R"({"cmd":"drain","unit":""})") == "drain: \"unit\" must not be empty");
  CHECK(err(R"({"cmd":"drain","unit":7})") == "drain: \"unit\" must be a string");
  CHECK(err(R"({"cmd":"drain","unit":"a\nb"})") == "drain: \"unit\" contains control characters");
}

TEST_CASE("drain --wait: wait and settle_ms") {
  CHECK(ok(R"({"cmd":"drain","unit":"unbound.service","wait":true})") ==
        Command{Drain{Target{false, "", "unbound.service"}, "", true, std::nullopt}});
  CHECK(ok(R"({"cmd":"drain","service":"dns","wait":true,"settle_ms":2500})") ==
        Command{Drain{Target{false, "dns", {}}, "", true, 2500}});
  CHECK(err(R"({"cmd":"drain","service":"dns","wait":1})") == "drain: \"wait\" must be true or false");
  CHECK(err(R"({"cmd":"drain","service":"dns","wait":true,"settle_ms":-1})") ==
        "drain: \"settle_ms\" must be an integer 0..3600000");
  CHECK(err(R"({"cmd":"drain","service":"dns","settle_ms":5})") == "drain: \"settle_ms\" needs \"wait\"");
}

TEST_CASE("argument-less commands refuse arguments") {
  CHECK(err(R"({"cmd":"status","verbose":true})") == "status: takes no arguments, got \"verbose\"");
  CHECK(err(R"({"cmd":"reload","x":1})") == "reload: takes no arguments, got \"x\"");
}

TEST_CASE("routes and peer argument errors") {
  CHECK(ok(R"({"cmd":"routes"})") == Command{Routes{}});
  CHECK(ok(R"({"cmd":"routes","peer":"r1"})") == Command{Routes{"r1"}});
  CHECK(err(R"({"cmd":"routes","peer":""})") == "routes: \"peer\" must not be empty");
  CHECK(err(R"({"cmd":"routes","per":"r1"})") == "routes: unknown field \"per\" (did you mean \"peer\"?)");
  CHECK(ok(R"({"cmd":"peer","action":"disable","peer":"r1","reason":"maint"})") ==
        Command{PeerAction{PeerActionKind::Disable, "r1", "maint"}});
  CHECK(err(R"({"cmd":"peer","peer":"r1"})") == "peer: needs \"action\": \"reset\", \"disable\" or \"enable\"");
  CHECK(err(R"({"cmd":"peer","action":"disabel","peer":"r1"})") ==
        "peer: unknown action \"disabel\" (did you mean \"disable\"?) (reset, disable, enable)");
  CHECK(err(R"({"cmd":"peer","action":"reset"})") == "peer: needs \"peer\"");
  CHECK(err(R"({"cmd":"peer","action":"enable","peer":"r1","reason":"x"})") == "peer: enable takes no \"reason\"");
  CHECK(err(R"({"cmd":"peer","action":"reset","peer":7})") == "peer: \"peer\" must be a string");
  CHECK(command_name(PeerAction{}) == "peer");
}

TEST_CASE("to_json round-trips through parse_request") {
  const Command all[] = {Status{},
                         Drain{Target{false, "dns", {}}, "maint", false, std::nullopt},
                         Drain{Target{true, "", {}}, "", false, std::nullopt},
                         Undrain{Target{false, "dns", {}}},
                         Undrain{Target{true, "", {}}},
                         Drain{Target{false, "", "unbound.service"}, "stop", false, std::nullopt},
                         Drain{Target{true, "", {}}, "", true, 1500},
                         Undrain{Target{false, "", "unbound.service"}},
                         Steer{"dns", 2, std::nullopt},
                         Steer{"dns", 0, 7U},
                         SteerClear{"dns"},
                         ClearHold{"dns"},
                         Reload{},
                         Events{},
                         Routes{},
                         Routes{"upstream1"},
                         PeerAction{PeerActionKind::Reset, "upstream1", ""},
                         PeerAction{PeerActionKind::Disable, "upstream1", "rack move"},
                         PeerAction{PeerActionKind::Enable, "upstream1", ""}};
  for (const Command& c : all) {
    std::string line = to_line(to_json(c));
    CHECK(line.back() == '\n');
    CHECK(ok(line) == c);
  }
  CHECK(command_name(SteerClear{"x"}) == "steer");
  CHECK(command_name(ClearHold{"x"}) == "clear-hold");
}

TEST_CASE("responses") {
  CHECK(to_line(ok_response()) == "{\"ok\":true}\n");
  CHECK(to_line(ok_response({{"drained", {"dns"}}, {"ok", false}})) ==
        "{\"drained\":[\"dns\"],\"ok\":true}\n");
  CHECK(to_line(error_response("drain: needs \"service\" or \"all\"")) ==
        "{\"error\":\"drain: needs \\\"service\\\" or \\\"all\\\"\",\"ok\":false}\n");
  // Invalid UTF-8 (e.g. echoing a bad name) must not make the reply unsendable.
  CHECK(to_line(error_response("bad \xff name")) ==
        "{\"error\":\"bad \xef\xbf\xbd name\",\"ok\":false}\n");
}
