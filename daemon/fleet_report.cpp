#include "daemon/fleet_report.hpp"

namespace herald::daemon {

std::string published_state(const ServiceDecision& d) {
  if (d.floor_held) return "held";
  if (d.state == ServiceState::Drained)
    for (const auto& h : d.drain_holders)
      if (h == "fleet") return "fleet-drained";
  switch (d.state) {
    case ServiceState::Up: return "up";
    case ServiceState::Down: return "down";
    case ServiceState::Drained: return "drained";
  }
  return "down";
}

bool process_gone(const conf::ServiceConfig& service, const health::ServiceStatus& status) {
  for (std::size_t i = 0; i < service.checks.size() && i < status.checks.size(); ++i)
    if (service.checks[i].type == conf::CheckType::Process && status.checks[i].last && !status.checks[i].last->pass)
      return true;
  return false;
}

}  // namespace herald::daemon
