// ControllerMetrics: what /metrics shows of the components' state. States are one series per
// state value (1 for the current one); counters are their sources' totals as they are; the
// series of a peer, service or check removed by a reload leave the next scrape.
#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>

#include "daemon/controller_metrics.hpp"

using namespace herald;
using daemon::ControllerMetrics;
using namespace std::chrono_literals;

namespace {

const daemon::WallClock::time_point T0{std::chrono::seconds(1'800'000'000)};

conf::ServiceConfig service(std::string name) {
  conf::ServiceConfig s;
  s.name = std::move(name);
  s.prefixes = {*bgp::Prefix::parse("192.0.2.53/32")};
  return s;
}

conf::PeerConfig peer(std::string name, std::optional<std::uint32_t> max_prefix = std::nullopt) {
  conf::PeerConfig p;
  p.name = std::move(name);
  p.max_prefix = max_prefix;
  return p;
}

bgp::SpeakerPeerStatus peer_status(std::string name, bgp::State state, std::uint64_t updates_sent) {
  bgp::SpeakerPeerStatus ps;
  ps.bgp.name = std::move(name);
  ps.bgp.state = state;
  ps.bgp.sent[2] = updates_sent;  // UPDATE
  return ps;
}

health::ServiceStatus health_of(std::string name, std::string check, bool pass) {
  health::ServiceStatus st;
  st.name = std::move(name);
  st.checks.push_back({"dns 192.0.2.53:53 www.example. A", std::move(check), health::CheckResult{pass, 2ms, "", false}, 4});
  return st;
}

// The samples of a scrape: "name{labels}" -> value text.
std::map<std::string, std::string> samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

// A running daemon's components, with what the test changes between scrapes.
struct Fixture {
  conf::Config config;
  daemon::PersistentState state;
  daemon::ServicePolicy policy;
  ControllerMetrics metrics;
  ControllerMetrics::SpeakerView speaker;
  std::vector<health::ServiceStatus> health;

  Fixture() {
    config.peers = {peer("upstream", 1000), peer("old", 50)};
    config.services = {service("dns"), service("gone")};
    policy.set_services(config.services, T0);
    daemon::PolicyWorld world{&state, daemon::Shutdown::No, 64500};
    policy.evaluate("dns", {health::ServiceState::Up, "ok"}, {}, world, "test", T0);
    policy.evaluate("gone", {health::ServiceState::Down, "timeout"}, {}, world, "test", T0);
    speaker.peers = {peer_status("upstream", bgp::State::Established, 7), peer_status("old", bgp::State::Active, 3)};
    bgp::bfd::SessionSnapshot bfd;
    bfd.status.state = bgp::bfd::State::Up;
    bfd.status.flaps = 2;
    speaker.peers[1].bfd = bfd;
    health = {health_of("dns", "tcp 192.0.2.53:53", true), health_of("gone", "tcp 192.0.2.54:53", false)};
    metrics.record_check_result("dns", "tcp 192.0.2.53:53", {true, 2ms, "", false});
    metrics.record_check_result("gone", "tcp 192.0.2.54:53", {false, 1s, "timeout", false});
  }
  std::map<std::string, std::string> scrape() {
    return samples(metrics.render({config, state, policy, speaker, health, {{"control", {0, 1, 2}}}}));
  }
  // A reload that removes the peer "old" and the service "gone".
  void reload_without_old_and_gone() {
    config.peers.pop_back();
    config.services.pop_back();
    policy.set_services(config.services, T0 + 10s);
    speaker.peers.pop_back();
    health.pop_back();
  }
};

bool mentions(const std::map<std::string, std::string>& s, const std::string& needle) {
  for (const auto& [k, v] : s)
    if (k.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("states are a label: one series per state, 1 for the current one; _up for sessions") {
  Fixture f;
  auto s = f.scrape();
  CHECK(s["herald_peer_up{peer=\"upstream\"}"] == "1");
  CHECK(s["herald_peer_up{peer=\"old\"}"] == "0");
  CHECK(s["herald_peer_state{peer=\"upstream\",state=\"Established\"}"] == "1");
  CHECK(s["herald_peer_state{peer=\"upstream\",state=\"Idle\"}"] == "0");
  CHECK(s["herald_peer_state{peer=\"old\",state=\"Active\"}"] == "1");
  int states = 0, current = 0;
  for (const auto& [k, v] : s) {
    if (k.rfind("herald_peer_state{peer=\"old\"", 0) != 0) continue;
    ++states;
    current += v == "1";
  }
  CHECK(states == 6);  // Idle, Connect, Active, OpenSent, OpenConfirm, Established
  CHECK(current == 1);
  CHECK(s["herald_service_state{service=\"dns\",state=\"Up\"}"] == "1");
  CHECK(s["herald_service_state{service=\"dns\",state=\"Down\"}"] == "0");
  CHECK(s["herald_service_state{service=\"dns\",state=\"Drained\"}"] == "0");
  CHECK(s["herald_service_state{service=\"gone\",state=\"Down\"}"] == "1");
  CHECK(s["herald_peer_bfd_up{peer=\"old\"}"] == "1");
  CHECK(s["herald_peer_bfd_state{peer=\"old\",state=\"Up\"}"] == "1");
  CHECK(s["herald_peer_bfd_state{peer=\"old\",state=\"AdminDown\"}"] == "0");
  CHECK_FALSE(s.count("herald_peer_bfd_up{peer=\"upstream\"}"));  // no BFD on that peer
}

TEST_CASE("a peer an operator disabled is 1 in herald_peer_disabled, every other peer 0") {
  Fixture f;
  f.speaker.peers[1].disabled = true;
  auto s = f.scrape();
  CHECK(s["herald_peer_disabled{peer=\"old\"}"] == "1");
  CHECK(s["herald_peer_disabled{peer=\"upstream\"}"] == "0");
  CHECK(s["herald_peer_up{peer=\"old\"}"] == "0");
}

TEST_CASE("counters are their sources' totals, exported as they are") {
  Fixture f;
  auto s = f.scrape();
  CHECK(s["herald_peer_messages_sent_total{peer=\"upstream\",type=\"update\"}"] == "7");
  CHECK(s["herald_peer_messages_sent_total{peer=\"upstream\",type=\"open\"}"] == "0");  // from 0 on
  CHECK(s["herald_peer_bfd_flaps_total{peer=\"old\"}"] == "2");
  CHECK(s["herald_check_stale_replies_total{service=\"dns\",check=\"tcp 192.0.2.53:53\"}"] == "4");
  CHECK(s["herald_connections_dropped_total{listener=\"control\",reason=\"refused\"}"] == "1");
  CHECK(s["herald_connections_dropped_total{listener=\"control\",reason=\"timeout\"}"] == "2");
  CHECK(s["herald_service_state_changes_total{service=\"dns\"}"] == "1");
  // A reload re-created the peer's session: the speaker counts from 0 again, and so does the
  // series (a counter reset, as Prometheus reads it), with no memory of the earlier total.
  f.speaker.peers[0].bgp.sent[2] = 2;
  s = f.scrape();
  CHECK(s["herald_peer_messages_sent_total{peer=\"upstream\",type=\"update\"}"] == "2");
}

TEST_CASE("a reload removing a peer and a service removes their series") {
  Fixture f;
  auto before = f.scrape();
  REQUIRE(mentions(before, "peer=\"old\""));
  REQUIRE(mentions(before, "service=\"gone\""));
  REQUIRE(before.count("herald_check_results_total{service=\"gone\",check=\"tcp 192.0.2.54:53\",result=\"fail\"}"));
  REQUIRE(before.count("herald_check_latency_seconds_count{service=\"gone\"}"));
  REQUIRE(before["herald_peer_max_prefix{peer=\"old\"}"] == "50");
  f.reload_without_old_and_gone();
  auto after = f.scrape();
  CHECK_FALSE(mentions(after, "peer=\"old\""));
  CHECK_FALSE(mentions(after, "service=\"gone\""));
  CHECK(after["herald_peer_up{peer=\"upstream\"}"] == "1");
  CHECK(after["herald_service_state{service=\"dns\",state=\"Up\"}"] == "1");
  CHECK(after["herald_check_results_total{service=\"dns\",check=\"tcp 192.0.2.53:53\",result=\"pass\"}"] == "1");
  // A service added again under the removed name starts from nothing.
  f.metrics.record_check_result("gone", "tcp 192.0.2.54:53", {true, 1ms, "", false});
  f.health.push_back(health_of("gone", "tcp 192.0.2.54:53", true));
  auto again = f.scrape();
  CHECK(again["herald_check_results_total{service=\"gone\",check=\"tcp 192.0.2.54:53\",result=\"fail\"}"] == "0");
  CHECK(again["herald_check_results_total{service=\"gone\",check=\"tcp 192.0.2.54:53\",result=\"pass\"}"] == "1");
}

TEST_CASE("before start: no peer, listener or check series; services and build info are there") {
  conf::Config config;
  config.services = {service("dns")};
  daemon::PersistentState state;
  daemon::ServicePolicy policy;
  policy.set_services(config.services, T0);
  ControllerMetrics metrics;
  auto s = samples(metrics.render({config, state, policy, std::nullopt, std::nullopt, {}}));
  CHECK(s["herald_build_info{version=\"" HERALD_VERSION "\"}"] == "1");
  CHECK(s["herald_state_file_fail_safe"] == "0");
  CHECK(s["herald_service_state{service=\"dns\",state=\"Down\"}"] == "1");
  CHECK_FALSE(mentions(s, "herald_peer_"));
  CHECK_FALSE(mentions(s, "herald_check_"));
}
