// daemon/controller_config: what the configuration becomes for the speaker. A key that is
// parsed but never handed on does nothing for the operator, so each timer is followed through.
#include <doctest/doctest.h>

#include "conf/load.hpp"
#include "daemon/controller_config.hpp"

using namespace herald;
using namespace std::chrono_literals;

TEST_CASE("controller_config: a peer's backoff and damping timers reach the speaker") {
  auto loaded = conf::load_string(R"([global]
local-as = 65001
router-id = "192.0.2.10"

[[peer]]
name = "up"
address = "192.0.2.1"
remote-as = 65000
connect-retry = "3s"
connect-retry-max = "30s"
idle-hold = "2s"
idle-hold-max = "20s"

[[peer]]
name = "defaults"
address = "192.0.2.2"
remote-as = 65000
)",
                                  "t.toml");
  REQUIRE(loaded);
  const auto peers = daemon::speaker_peers(*loaded);
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
