// What a reload does to the BGP peers, decided without touching the speaker: the controller
// applies the plan (controller.cpp reload()).
#pragma once
#include <string>
#include <vector>

#include "conf/config.hpp"

namespace herald::daemon {

struct PeerStep {
  enum class Action {
    Remove,                // gone from the configuration: Cease, then forgotten
    RetuneKeepingSession,  // changed keys all apply to the live session (conf::peer_fields())
    RestartSession,        // a changed key needs a new session
    Add,                   // new in the configuration
  };
  Action action;
  const conf::PeerConfig* peer;  // the new configuration (the old one for Remove)
  std::string changed;           // changed keys, comma-separated (Retune/Restart)
};

// Removals and changes in the order of `before`, then additions in the order of `after`;
// peers equal in both are left out (their sessions are untouched). Peers are matched by name.
// The pointers point into `before` and `after`.
std::vector<PeerStep> plan_peer_reload(const std::vector<conf::PeerConfig>& before,
                                       const std::vector<conf::PeerConfig>& after);

// A service kept by a reload whose peers changed (its `peers` key, or peers added or removed
// while it names none): the peers it leaves and the peers it goes to now, in configuration order.
struct ServicePeersMove {
  std::string service;
  std::vector<std::string> left;    // announced to before, not now
  std::vector<std::string> joined;  // announced to now, not before
};
// The services present before and after whose set of peers differs; services added or removed
// are left out (their prefixes are logged as announced or withdrawn).
std::vector<ServicePeersMove> plan_service_peers(const conf::Config& before, const conf::Config& after);

// The reason a reload is refused because it changes global settings that need a restart
// (conf::global_keys_needing_restart), or "" when there are none.
std::string restart_refusal(const conf::GlobalConfig& before, const conf::GlobalConfig& after);

}  // namespace herald::daemon
