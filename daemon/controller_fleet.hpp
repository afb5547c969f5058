// The daemon's side of the fleet (docs/fleet.md), only with a [fleet] section: what the
// controller keeps to publish this site's state under a lease, to follow the fleet drains
// (desired/ keys) and to ask the fleet floor about failing services. Everything here is wiring;
// the decisions are the service policy's (FloorAnswers and PersistentState::fleet_drains are
// its inputs) and fleet/'s pure functions.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "base/asio.hpp"
#include "conf/config.hpp"
#include "daemon/service_policy.hpp"
#include "fleet/etcd_client.hpp"
#include "fleet/keys.hpp"
#include "fleet/publisher.hpp"
#include "fleet/site_state.hpp"
#include "health/monitor.hpp"

namespace herald::daemon {

struct FleetLink {
  FleetLink(boost::asio::io_context& io, const conf::FleetConfig& cfg, std::unique_ptr<fleet::EtcdClient> client);

  conf::FleetConfig cfg;  // as started: a [fleet] change needs a restart
  std::unique_ptr<fleet::EtcdClient> etcd;
  fleet::Keys keys;
  std::unique_ptr<fleet::SitePublisher> publisher;
  std::optional<fleet::SiteState> last_set;  // what the publisher was last given

  // The floor: the policy's input, and the question each answer was got for.
  FloorAnswers answers;
  std::map<std::string, FloorQuestion> asked;  // service -> last question seen after an evaluation
  std::set<std::string> in_flight;             // services with a floor round running
  boost::asio::steady_timer recheck;           // asks again for held and locally decided services
  std::optional<bool> reachable;               // etcd, as the last floor round or drain read found it
  std::map<std::string, std::string> last_verdict;  // service -> the last floor verdict logged above debug

  // The fleet drains: every desired/ key and its value, as last read or watched.
  std::map<std::string, std::string> desired;
  boost::asio::steady_timer watch_retry;

  bool stopping = false;
  bool publisher_done = false;
  std::function<void()> on_stopped;  // shutdown's continuation, once the lease is revoked
};

}  // namespace herald::daemon
