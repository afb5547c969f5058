// heraldctl's rendering of the status and event JSON documented in daemon/status_schema.md.
#include <doctest/doctest.h>

#include "daemon/events.hpp"
#include "daemon/status_render.hpp"

using namespace herald::control;
using nlohmann::json;

namespace {

// A status reply as the schema describes it: two peers (one down with an error), two services
// (one drained and steered, one down), three check results.
const char* const kSampleStatus = R"({
  "ok": true,
  "status": {
    "schema": 1, "version": "0.1.0", "pid": 4711,
    "started": "2026-11-29T09:00:00Z", "now": "2026-11-29T10:00:00.500Z",
    "local_as": 64500, "router_id": "192.0.2.10", "drain_all": null,
    "peers": [
      {"name": "upstream1", "address": "192.0.2.1", "remote_as": 64501, "state": "Established",
       "since": "2026-11-29T09:00:05Z", "last_error": null, "prefixes_sent": 2,
       "prefixes_received": 0},
      {"name": "upstream2", "address": "2001:db8::2", "remote_as": 64502, "state": "Active",
       "since": "2026-11-29T09:59:30Z", "last_error": "Connection refused",
       "prefixes_sent": 0, "prefixes_received": 0}
    ],
    "services": [
      {"name": "dns", "state": "Drained", "since": "2026-11-29T09:55:00Z",
       "reason": "operator drain", "prefixes": ["192.0.2.53/32", "2001:db8:53::1/128"],
       "announced": false,
       "checks": [
         {"name": "udp", "kind": "dns", "ok": true, "latency_ms": 1.83,
          "at": "2026-11-29T09:59:58Z", "detail": "NOERROR, 1 answer"},
         {"name": "tcp53", "kind": "tcp", "ok": true, "latency_ms": 0.4,
          "at": "2026-11-29T09:59:58Z"}
       ],
       "drain": {"reason": "kernel upgrade", "since": "2026-11-29T09:55:00Z", "all": false},
       "steering": {"prepend": 2, "med": 100}},
      {"name": "doh", "state": "Down", "since": "2026-11-29T08:00:00Z",
       "reason": "check https failed 3 times", "prefixes": ["198.51.100.53/32"],
       "announced": false,
       "checks": [
         {"name": "https", "kind": "exec", "ok": false, "at": "2026-11-29T09:59:59Z",
          "detail": "exit status 2:\ncurl: (7) refused"}
       ],
       "drain": null, "steering": null}
    ]
  }
})";

}  // namespace

TEST_CASE("status report: header, peers, services and checks tables") {
  std::string out = render_status(json::parse(kSampleStatus));
  CHECK(out ==
        "herald 0.1.0  pid 4711  AS 64500  router-id 192.0.2.10  up 1h 0m\n"
        "\n"
        "PEERS\n"
        "NAME       ADDRESS      AS     STATE        SINCE        SENT  RECV  LAST ERROR\n"
        "upstream1  192.0.2.1    64501  Established  59m 55s ago  2     0     -\n"
        "upstream2  2001:db8::2  64502  Active       30s ago      0     0     Connection refused\n"
        "\n"
        "SERVICES\n"
        "NAME  STATE    SINCE      ANNOUNCED  PREFIXES                          OVERRIDES                                    REASON\n"
        "dns   Drained  5m 0s ago  no         192.0.2.53/32 2001:db8:53::1/128  drained: kernel upgrade; prepend 2, med 100  operator drain\n"
        "doh   Down     2h 0m ago  no         198.51.100.53/32                  -                                            check https failed 3 times\n"
        "\n"
        "CHECKS\n"
        "SERVICE  CHECK  KIND  RESULT  LATENCY  AT      DETAIL\n"
        "dns      udp    dns   ok      1.8 ms   2s ago  NOERROR, 1 answer\n"
        "dns      tcp53  tcp   ok      0.4 ms   2s ago  -\n"
        "doh      https  exec  FAIL    -        1s ago  exit status 2: curl: (7) refused\n");
}

TEST_CASE("status report: the NSID a DNS check's server returned follows the check's detail") {
  json st = json::parse(kSampleStatus);
  auto& checks = st["status"]["services"][0]["checks"];
  checks[0]["nsid"] = "site-a.unbound";
  checks[1]["nsid"] = "0x00ff";  // no detail: the NSID alone
  const std::string out = render_status(st);
  CHECK(out.find("NOERROR, 1 answer (NSID site-a.unbound)\n") != std::string::npos);
  CHECK(out.find("2s ago  (NSID 0x00ff)\n") != std::string::npos);
}

TEST_CASE("status report: a drain held by more than the operator names every holder") {
  json st = json::parse(kSampleStatus);
  auto& svc = st["status"]["services"][0];
  svc["drain_holders"] = {"operator", "unit:unbound.service"};
  CHECK(render_status(st).find("drained: kernel upgrade [held by operator, unit:unbound.service]; prepend 2") !=
        std::string::npos);
  svc["drain_holders"] = {"operator"};  // the plain case stays as it was
  CHECK(render_status(st).find("drained: kernel upgrade; prepend 2") != std::string::npos);
  svc["drain"] = {{"reason", ""}, {"since", "2026-11-29T09:55:00Z"}, {"all", false}, {"unit", "unbound.service"}};
  svc["drain_holders"] = {"unit:unbound.service"};
  CHECK(render_status(st).find("drained [held by unit:unbound.service]; prepend 2") != std::string::npos);
}

TEST_CASE("status report: a fleet drain names its holder; a service held by the fleet floor says so") {
  json st = json::parse(kSampleStatus);
  auto& svc = st["status"]["services"][0];
  svc["drain"] = {{"reason", "eu maintenance (by ops)"}, {"since", "2026-11-29T09:55:00Z"}, {"all", false}, {"fleet", true}};
  svc["drain_holders"] = {"fleet"};
  CHECK(render_status(st).find("drained: eu maintenance (by ops) [held by fleet]") != std::string::npos);
  svc["drain"] = nullptr;
  svc["drain_holders"] = json::array();
  svc["floor"] = "held";
  CHECK(render_status(st).find("held by fleet floor; prepend 2") != std::string::npos);
  svc["floor"] = "none";
  CHECK(render_status(st).find("held by fleet floor") == std::string::npos);
}

TEST_CASE("status report: drain --all banner, no peers, inner object accepted") {
  json st = {{"version", "0.1.0"},
             {"pid", 1},
             {"now", "2026-11-29T10:00:00Z"},
             {"drain_all", {{"reason", "site move"}, {"since", "2026-11-29T09:00:00Z"}}},
             {"peers", json::array()}};
  CHECK(render_status(st) ==
        "herald 0.1.0  pid 1\n"
        "ALL SERVICES DRAINED since 1h 0m ago: site move\n"
        "\n"
        "PEERS\n(none)\n"
        "\n"
        "SERVICES\n(none)\n");
}

TEST_CASE("status report: a long prefix list is shown in part, with its full count") {
  json svc = {{"name", "bulk"}, {"state", "Up"}, {"prefixes", json::array({"198.18.0.0/32", "198.18.0.1/32"})},
              {"prefix_count", 100000}};
  json st = {{"version", "0.1.0"}, {"pid", 1}, {"services", json::array({svc})}};
  CHECK(render_status(st).find("198.18.0.0/32 198.18.0.1/32 ... (100000 in all)") != std::string::npos);
  svc["prefix_count"] = 2;  // all listed: no count
  st["services"] = json::array({svc});
  CHECK(render_status(st).find("198.18.0.1/32 ...") == std::string::npos);
}

TEST_CASE("status report tolerates garbage: every odd field becomes '-'") {
  json st = {{"status",
              {{"peers", {{{"name", 5}, {"state", json::array()}}, "not an object"}},
               {"services", {{{"name", "x"}, {"checks", "nope"}, {"prefixes", {1, 2}}}}}}}};
  std::string out = render_status(st);
  CHECK(out.find("herald ?  pid -\n") == 0);
  CHECK(out.find("5     -        -   -      -      -     -     -\n") != std::string::npos);
  CHECK(out.find("x     -      -      -          -         -          -\n") != std::string::npos);
  CHECK(render_status(json("just a string")).find("PEERS\n(none)") != std::string::npos);
}

TEST_CASE("event lines") {
  CHECK(render_event(json::parse(
            R"({"ts":"2026-11-29T10:00:00.123Z","event":"peer","peer":"upstream1",
                "old":"Established","new":"Idle","reason":"Hold Timer Expired"})")) ==
        "2026-11-29T10:00:00.123Z peer peer=upstream1 Established -> Idle "
        "reason=\"Hold Timer Expired\"");
  CHECK(render_event(json::parse(
            R"({"ts":"t","event":"announce","service":"dns","prefix":"192.0.2.53/32",
                "new":"withdrawn","peers":2})")) ==
        "t announce service=dns prefix=192.0.2.53/32 withdrawn peers=2");
  CHECK(render_event(json::parse(R"({"event":"drain","service":"dns","uid":1000})")) ==
        "- drain service=dns uid=1000");
  CHECK(render_event(json::parse("[1,2]")) == "[1,2]");
}

TEST_CASE("status report: a flap hold shows when it ends; a fail-safe drain says so") {
  json st = {{"version", "0.1.0"},
             {"pid", 1},
             {"now", "2026-11-29T10:00:00Z"},
             {"drain_all",
              {{"reason", "fail-safe: state file /var/lib/herald/herald.state is corrupt"},
               {"since", "2026-11-29T09:59:00Z"},
               {"fail_safe", true}}},
             {"services",
              {{{"name", "dns"},
                {"state", "Down"},
                {"flap_hold_until", "2026-11-29T10:04:30Z"},
                {"flap_next_hold_s", 60},
                {"reason", "down (flap hold until 2026-11-29T10:04:30Z): 7 changes within 60s"}}}}};
  std::string out = render_status(st);
  CHECK(out.find("ALL SERVICES DRAINED (FAIL-SAFE) since 1m 0s ago: fail-safe: state file "
                 "/var/lib/herald/herald.state is corrupt\n") != std::string::npos);
  CHECK(out.find("dns   Down   -      -          -         flap hold until 2026-11-29T10:04:30Z (in 4m 30s)  "
                 "down (flap hold") != std::string::npos);
}

TEST_CASE("status report: a PEERS column names each service's peers when some service names its own") {
  json st = json::parse(kSampleStatus);
  for (auto& s : st["status"]["services"]) s["peers"] = {"upstream1", "upstream2"};
  CHECK(render_status(st) == render_status(json::parse(kSampleStatus)));  // every service to every peer: no column
  st["status"]["services"][1]["peers"] = {"upstream2"};
  std::string out = render_status(st);
  CHECK(out.find("NAME  STATE    SINCE      ANNOUNCED  PREFIXES                          PEERS      OVERRIDES") !=
        std::string::npos);
  CHECK(out.find("dns   Drained  5m 0s ago  no         192.0.2.53/32 2001:db8:53::1/128  all        drained: kernel upgrade") !=
        std::string::npos);
  CHECK(out.find("doh   Down     2h 0m ago  no         198.51.100.53/32                  upstream2  -") != std::string::npos);
  st["status"]["services"][1]["peers"] = json::array();
  CHECK(render_status(st).find("198.51.100.53/32                  (none)  ") != std::string::npos);
}

TEST_CASE("status report: a dry run says so first and ends with what each peer would get") {
  json route = {{"prefix", "192.0.2.53/32"}, {"next_hop", "203.0.113.2"}, {"as_path", {65053, 65053}},
                {"med", 20}, {"local_pref", nullptr}, {"communities", {"65000:53", "no-export"}},
                {"large_communities", {"65000:1:2"}}, {"otc", nullptr}};
  json st = {{"version", "0.1.0"},
             {"pid", 1},
             {"now", "2026-11-29T10:00:00Z"},
             {"dry_run", true},
             {"services",
              {{{"name", "dns"}, {"state", "Up"}, {"would_send", {{{"peer", "r1"}, {"count", 17}, {"routes", {route}}}}}},
               {{"name", "ntp"}, {"state", "Down"}, {"would_send", {{{"peer", "r1"}, {"count", 0}, {"routes", json::array()}}}}}}}};
  std::string out = render_status(st);
  CHECK(out.find("\nDRY RUN: nothing is announced.") != std::string::npos);
  CHECK(out.find("WOULD SEND (dry run)\n"
                 "SERVICE  PEER  PREFIX         NEXT HOP     AS PATH      MED  LOCAL PREF  COMMUNITIES\n"
                 "dns      r1    192.0.2.53/32  203.0.113.2  65053 65053  20   -           65000:53 no-export 65000:1:2\n"
                 "dns      r1    ... 16 more\n") != std::string::npos);
  // Extended communities follow the large ones in the same cell.
  st["services"][0]["would_send"][0]["routes"][0]["extended_communities"] = {"rt:65000:53"};
  CHECK(render_status(st).find("65000:53 no-export 65000:1:2 rt:65000:53\n") != std::string::npos);
  st["services"] = json::array();
  CHECK(render_status(st).find("WOULD SEND (dry run)\n(nothing: no service would be announced)\n") != std::string::npos);
  st["dry_run"] = false;  // a live herald shows neither
  CHECK(render_status(st).find("DRY RUN") == std::string::npos);
  CHECK(render_status(st).find("WOULD SEND") == std::string::npos);
}

TEST_CASE("ages and tables") {
  CHECK(age_between("2026-11-29T10:00:00Z", "2026-11-29T10:00:45.9Z") == "45s");
  CHECK(age_between("2026-11-28T07:00:00Z", "2026-11-29T10:00:00Z") == "1d 3h");
  CHECK(age_between("2026-11-29T10:00:01Z", "2026-11-29T10:00:00Z").empty());
  CHECK(age_between("yesterday", "2026-11-29T10:00:00Z").empty());
  CHECK(render_table({"A", "LONG"}, {{"xxx", "y"}, {"\xc3\xa9", ""}}) ==
        "A    LONG\nxxx  y\n\xc3\xa9\n");
}

TEST_CASE("make_event stamps time and kind, and renders as one line") {
  auto ev = make_event(std::chrono::system_clock::time_point(std::chrono::milliseconds(1795946400123LL)),
                       "peer", {{"peer", "r1"}, {"old", "Active"}, {"new", "Established"}, {"ts", "x"}});
  CHECK(ev == json{{"ts", "2026-11-29T10:00:00.123Z"}, {"event", "peer"}, {"peer", "r1"},
                   {"old", "Active"}, {"new", "Established"}});
  CHECK(render_event(ev) == "2026-11-29T10:00:00.123Z peer peer=r1 Active -> Established");
}
