// The reply to `heraldctl status` (its schema: daemon/status_schema.md), built from what the
// controller holds: the configuration, the operator state, the speaker's peers, the monitor's
// checks and the policy's decisions. Reads the clock only for "now".
#pragma once
#include <chrono>

#include <nlohmann/json.hpp>

#include "bgp/speaker.hpp"
#include "conf/config.hpp"
#include "daemon/service_policy.hpp"
#include "daemon/state_file.hpp"
#include "health/monitor.hpp"

namespace herald::daemon {

struct StatusInputs {
  std::chrono::system_clock::time_point started;
  const conf::Config& config;
  const PersistentState& state;
  const ServicePolicy& policy;        // a decision for every service of `config`
  const bgp::Speaker* speaker;        // null before start
  const health::Monitor* monitor;     // null before start
};

nlohmann::json build_status(const StatusInputs& in);

}  // namespace herald::daemon
