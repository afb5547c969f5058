// daemon/controller_config: what the configuration becomes for the speaker. A key that is
// parsed but never handed on does nothing for the operator, so each timer is followed through.
#include <doctest/doctest.h>

#include <string>

#include "conf/load.hpp"
#include "daemon/controller_config.hpp"

using namespace herald;
using namespace std::chrono_literals;

namespace {

// A configuration of one [[peer]] "up" (192.0.2.1, AS 65000) with `keys` added to it, under a
// global section of AS 65001.
conf::Config load_peer(const std::string& keys) {
  auto loaded = conf::load_string(R"([global]
local-as = 65001
router-id = "192.0.2.10"

[[peer]]
name = "up"
address = "192.0.2.1"
remote-as = 65000
)" + keys,
                                  "t.toml");
  REQUIRE(loaded);
  return std::move(*loaded);
}

}  // namespace

TEST_CASE("controller_config: a peer's backoff and damping timers reach the speaker") {
  const auto loaded = load_peer(R"(connect-retry = "3s"
connect-retry-max = "30s"
idle-hold = "2s"
idle-hold-max = "20s"

[[peer]]
name = "defaults"
address = "192.0.2.2"
remote-as = 65000
)");
  const auto peers = daemon::speaker_peers(loaded);
  REQUIRE(peers.size() == 2);
  const auto& b = peers[0].bgp;
  CHECK(b.connect_retry == 3s);
  CHECK(b.connect_retry_max == 30s);
  CHECK(b.idle_hold == 2s);
  CHECK(b.idle_hold_max == 20s);
  CHECK_FALSE(b.check());  // valid for the FSM
  const auto& d = peers[1].bgp;
  CHECK(d.connect_retry == 2s);
  CHECK(d.connect_retry_max == 120s);
  CHECK(d.idle_hold == 1s);
  CHECK(d.idle_hold_max == 300s);
}

TEST_CASE("controller_config: a flap hold survives the state file, its end rounded up to the second") {
  const auto t = std::chrono::system_clock::from_time_t(1'800'000'000);
  auto p = daemon::persisted_flap_hold(health::FlapHold{t + 29500ms, 60s});
  CHECK(p == daemon::PersistentState::FlapHold{1'800'000'030, 60'000});
  CHECK(daemon::flap_hold_of(p) == health::FlapHold{t + 30s, 60s});
  // Whole seconds round-trip exactly.
  CHECK(daemon::flap_hold_of(daemon::persisted_flap_hold(health::FlapHold{t, 90s})) == health::FlapHold{t, 90s});
}

TEST_CASE("controller_config: the RFC 9234 role and strict mode reach the speaker") {
  const auto peers = daemon::speaker_peers(load_peer("role = \"customer\"\nstrict-role = true\n"));
  REQUIRE(peers.size() == 1);
  CHECK(peers[0].bgp.role == bgp::Role::Customer);
  CHECK(peers[0].bgp.strict_role);  // was dropped on the way before: strict mode did nothing
}

TEST_CASE("controller_config: what conf lets a reload keep, the speaker can keep") {
  // The controller asks conf::peer_session_params_equal whether a changed peer keeps its session
  // and then hands the speaker the new peer, which checks bgp::same_session: both must agree.
  const auto a = load_peer("");
  const auto b = load_peer(R"(description = "transit A"
mode = "passive"
connect-retry = "5s"
connect-retry-max = "1m"
idle-hold = "3s"
idle-hold-max = "1m"
max-prefix = 100
next-hop-v4 = "192.0.2.9"
)");
  CHECK(conf::peer_session_params_equal(a.peers[0], b.peers[0]));
  CHECK(bgp::same_session(daemon::speaker_peer(a, a.peers[0]).bgp, daemon::speaker_peer(b, b.peers[0]).bgp));
  const auto c = load_peer("hold-time = \"30s\"\n");
  CHECK_FALSE(conf::peer_session_params_equal(a.peers[0], c.peers[0]));
  CHECK_FALSE(bgp::same_session(daemon::speaker_peer(a, a.peers[0]).bgp, daemon::speaker_peer(c, c.peers[0]).bgp));
}

TEST_CASE("controller_config: log-format auto is native journal under systemd, text elsewhere") {
  conf::GlobalConfig g;
  g.log_level = LogLevel::warning;
  CHECK(g.log_format == conf::LogFormat::Auto);  // the default
  auto under_systemd = daemon::log_options(g, /*stderr_is_journal=*/true);
  CHECK(under_systemd.format == log::Format::journal);
  CHECK(under_systemd.min_level == log::Level::warning);
  CHECK_FALSE(under_systemd.syslog_prefix);
  auto elsewhere = daemon::log_options(g, /*stderr_is_journal=*/false);
  CHECK(elsewhere.format == log::Format::text);
  CHECK_FALSE(elsewhere.syslog_prefix);
  // Text asked for explicitly under systemd: lines carry their priority for journald.
  g.log_format = conf::LogFormat::Text;
  CHECK(daemon::log_options(g, true).syslog_prefix);
  g.log_format = conf::LogFormat::Json;
  CHECK(daemon::log_options(g, true).format == log::Format::json);
  CHECK_FALSE(daemon::log_options(g, true).syslog_prefix);
  g.log_format = conf::LogFormat::Journal;
  CHECK(daemon::log_options(g, false).format == log::Format::journal);
}

TEST_CASE("controller_config: a dry run makes an inert speaker and no binder") {
  const std::string keys = R"(md5-password = "secret"
gtsm = true
bfd = true

[[service]]
name = "dns"
prefixes = ["198.51.100.53/32"]
)";
  auto live = load_peer(keys);
  CHECK(daemon::speaker_settings(live).listen.size() == 1);  // the default [::]:179
  CHECK(daemon::speaker_peer(live, live.peers[0]).bgp.mode == bgp::ConnectMode::Both);
  CHECK(daemon::binder_groups(live).size() == 1);

  auto dry = load_peer(keys);
  dry.global.dry_run = true;
  CHECK(daemon::speaker_settings(dry).listen.empty());  // nothing accepts
  const auto p = daemon::speaker_peer(dry, dry.peers[0]);
  CHECK(p.bgp.mode == bgp::ConnectMode::Passive);  // nothing connects
  CHECK_FALSE(p.md5.has_value());
  CHECK_FALSE(p.gtsm);
  CHECK_FALSE(p.bfd.has_value());
  CHECK(p.bgp.peer_as == live.peers[0].remote_as);  // the attributes it would send stay the same
  CHECK(daemon::binder_groups(dry).empty());  // no address is touched
  // Turning it on or off is for a restart: a reload refuses it.
  CHECK(conf::global_keys_needing_restart(live.global, dry.global) == std::vector<std::string>{"global.dry-run"});
}
