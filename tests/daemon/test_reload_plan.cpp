// plan_peer_reload / restart_refusal: what a reload does to the peers, and which global changes
// it refuses; and the one table of [[peer]] keys both rest on (conf::peer_fields()).
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "daemon/reload_plan.hpp"

using namespace herald;
using namespace std::chrono_literals;
using A = daemon::PeerStep::Action;

namespace {

conf::PeerConfig peer(std::string name, const char* address) {
  conf::PeerConfig p;
  p.name = std::move(name);
  p.address = *bgp::IpAddress::parse(address);
  p.remote_as = 64501;
  p.families = {bgp::kIpv4Unicast};
  return p;
}

std::vector<std::pair<A, std::string>> steps(const std::vector<daemon::PeerStep>& plan) {
  std::vector<std::pair<A, std::string>> out;
  for (const auto& s : plan) out.emplace_back(s.action, s.peer->name);
  return out;
}

}  // namespace

TEST_CASE("reload plan: untouched peers are left out; removals and changes first, then additions") {
  std::vector<conf::PeerConfig> before{peer("a", "192.0.2.1"), peer("b", "192.0.2.2"), peer("c", "192.0.2.3"),
                                       peer("d", "192.0.2.4")};
  auto after = before;
  after.erase(after.begin() + 1);  // b removed
  after[1].description = "transit";  // c: keeps its session
  after[1].max_prefix = 100;
  after[2].hold_time = 30s;  // d: needs a new one
  after.push_back(peer("e", "192.0.2.5"));
  const auto plan = daemon::plan_peer_reload(before, after);
  CHECK(steps(plan) == std::vector<std::pair<A, std::string>>{
                           {A::Remove, "b"}, {A::RetuneKeepingSession, "c"}, {A::RestartSession, "d"}, {A::Add, "e"}});
  CHECK(plan[1].changed == "description,max-prefix");
  CHECK(plan[2].changed == "hold-time");
  CHECK(plan[1].peer == &after[1]);  // the new configuration
  CHECK(plan[0].peer == &before[1]);
}

TEST_CASE("reload plan: nothing changed, nothing to do") {
  std::vector<conf::PeerConfig> peers{peer("a", "192.0.2.1")};
  CHECK(daemon::plan_peer_reload(peers, peers).empty());
}

TEST_CASE("reload plan: a changed BFD setting restarts the session") {
  std::vector<conf::PeerConfig> before{peer("a", "192.0.2.1")};
  before[0].bfd = conf::BfdConfig{};
  auto after = before;
  after[0].bfd->multiplier = 5;
  const auto plan = daemon::plan_peer_reload(before, after);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].action == A::RestartSession);
  CHECK(plan[0].changed == "bfd-multiplier");
}

TEST_CASE("restart refusal: the global keys a reload cannot apply, by name") {
  conf::GlobalConfig a;
  CHECK(daemon::restart_refusal(a, a).empty());
  auto b = a;
  b.drain_on_shutdown = false;  // applies on reload
  b.log_level = LogLevel::debug;
  CHECK(daemon::restart_refusal(a, b).empty());
  b.local_as = 64999;
  b.user = "nobody";
  CHECK(daemon::restart_refusal(a, b) ==
        "configuration not reloaded: changing global.local-as, global.user needs a restart of herald");
}

TEST_CASE("peer_fields: one entry per key, each documented in docs/configuration.md's [[peer]] table") {
  std::ifstream in(std::string(HERALD_TEST_DATA) + "/../../docs/configuration.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  std::set<std::string> seen;
  for (const auto& f : conf::peer_fields()) {
    CAPTURE(f.key);
    CHECK(seen.insert(f.key).second);
    CHECK(doc.find(std::string("`") + f.key + "`") != std::string::npos);
  }
}

TEST_CASE("peer_fields: each key's differs() sees exactly its own change") {
  const auto base = peer("a", "192.0.2.1");
  auto changed = base;
  changed.description = "x";
  std::vector<std::string> differing;
  for (const auto& f : conf::peer_fields())
    if (f.differs(base, changed)) differing.emplace_back(f.key);
  CHECK(differing == std::vector<std::string>{"description"});
  CHECK_FALSE(conf::peer_needs_new_session(base, changed));
  changed.port = 1179;
  CHECK(conf::peer_needs_new_session(base, changed));
}

TEST_CASE("reload plan: a service whose peers change names the peers it leaves and joins") {
  conf::Config before;
  before.peers = {peer("a", "192.0.2.1"), peer("b", "192.0.2.2")};
  conf::ServiceConfig dns;
  dns.name = "dns";
  dns.peers = {"a"};
  conf::ServiceConfig ntp;
  ntp.name = "ntp";  // every peer
  before.services = {dns, ntp};
  conf::Config after = before;
  after.services[0].peers = {"b"};
  after.peers.push_back(peer("c", "192.0.2.3"));  // ntp, naming no peer, goes to c too
  auto moves = daemon::plan_service_peers(before, after);
  REQUIRE(moves.size() == 2);
  CHECK(moves[0].service == "dns");
  CHECK(moves[0].left == std::vector<std::string>{"a"});
  CHECK(moves[0].joined == std::vector<std::string>{"b"});
  CHECK(moves[1].service == "ntp");
  CHECK(moves[1].left.empty());
  CHECK(moves[1].joined == std::vector<std::string>{"c"});
  CHECK(daemon::plan_service_peers(after, after).empty());
  after.services.pop_back();  // a removed service is not a move
  CHECK(daemon::plan_service_peers(before, after).size() == 1);
}
