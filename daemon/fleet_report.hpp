// What the daemon tells the fleet about its services, and the one health fact only the fleet
// floor needs. Pure: decisions and statuses in, words out (tests/daemon/test_fleet_report.cpp).
#pragma once
#include <string>

#include "conf/config.hpp"
#include "daemon/service_policy.hpp"
#include "health/monitor.hpp"

namespace herald::daemon {

/// The published word for a service's state (fleet::ServiceState::state): "held" (held by the
/// fleet floor), "fleet-drained" (Drained with a fleet drain among its holders: the site's
/// acknowledgement of the drain), else "up", "down", "drained".
std::string published_state(const ServiceDecision& d);

/// Whether a process check of `service` reports its DNS server process gone (its last result
/// failed). Checks are matched by position: the monitor keeps the configuration's order.
bool process_gone(const conf::ServiceConfig& service, const health::ServiceStatus& status);

}  // namespace herald::daemon
