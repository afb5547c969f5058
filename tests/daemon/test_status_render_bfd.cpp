// heraldctl's BFD table: one row per peer whose status carries a "bfd" object
// (daemon/status_schema.md), none at all when no peer runs BFD.
#include <doctest/doctest.h>

#include <string>

#include "daemon/status_render.hpp"

using namespace herald::control;
using nlohmann::json;

namespace {

json status_with(json bfd) {
  json st = json::parse(R"({
    "schema": 1, "version": "0.1.0", "pid": 1, "started": "2026-11-29T09:00:00Z",
    "now": "2026-11-29T10:00:00Z", "drain_all": null, "services": [],
    "peers": [{"name": "upstream", "address": "203.0.113.1", "remote_as": 65000,
               "state": "Established", "since": "2026-11-29T09:59:00Z", "last_error": null,
               "prefixes_sent": 1, "prefixes_received": 0}]})");
  st["peers"][0]["bfd"] = std::move(bfd);
  return st;
}

TEST_CASE("status render: a BFD table with state, negotiated intervals, flaps and diagnostic") {
  const std::string out = render_status(status_with(json{
      {"state", "Up"}, {"remote_state", "Up"}, {"local_diag", "No Diagnostic"}, {"remote_diag", "No Diagnostic"},
      {"tx_interval_ms", 50.0}, {"detect_time_ms", 150.0}, {"remote_detect_mult", 3}, {"flaps", 2},
      {"local_discriminator", 7}, {"remote_discriminator", 9}, {"source_port", 49200}, {"waiting", false}}));
  const auto at = out.find("\nBFD\n");
  REQUIRE(at != std::string::npos);
  const std::string table = out.substr(at + 5, out.find("\nSERVICES") - at - 5);
  CHECK(table ==
        "PEER      STATE  REMOTE  TX     DETECT  FLAPS  DIAG\n"
        "upstream  Up     Up      50 ms  150 ms  2      No Diagnostic\n");
}

TEST_CASE("status render: BGP held for BFD is said so; no BFD, no table") {
  const std::string waiting = render_status(status_with(json{{"state", "Down"}, {"waiting", true}}));
  CHECK(waiting.find("Down (BGP waits)") != std::string::npos);
  CHECK(render_status(status_with(nullptr)).find("\nBFD\n") == std::string::npos);
}

}  // namespace
