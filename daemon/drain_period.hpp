// When a drained service's prefixes stop being announced.
//
// A drain first announces the service's "drained" policy (by default with GRACEFUL_SHUTDOWN,
// RFC 8326) for drain-period, so that upstreams move traffic away before anything is withdrawn,
// and then withdraws. The period counts from when the drain began, not from when the service
// last entered Drained: once it is over, neither a restart of herald nor a drained service that
// went Down and came back announces the prefixes again. An operator drain begins at the time
// persisted in the state file; a maintenance file or a shutdown drain begins when the service
// first became Drained since it was last Up, and that start is persisted too (drain_began).
//
// Pure: the caller passes `now`; no clock is read here.
#pragma once
#include <chrono>
#include <optional>
#include <string_view>

#include "daemon/state_file.hpp"
#include "health/service_core.hpp"

namespace herald::daemon {

using WallClock = std::chrono::system_clock;

// The service state the policy decides (service_policy.hpp): health's own enum.
using ServiceState = health::ServiceState;

// The earliest persisted start of a drain of `service`: its operator drain, "drain --all", or
// the drain (of any cause) that was in force before a restart (drain_began); a fail-safe drain
// counts as begun at the epoch (its period is over). nullopt when there is none.
std::optional<WallClock::time_point> persisted_drain_start(const PersistentState& state,
                                                           std::string_view service);

// Keeps state.drain_began of `service` equal to `began` (DrainStart::began(), in whole seconds).
// Returns whether the state changed (and needs saving).
bool record_drain_start(PersistentState& state, const std::string& service,
                        std::optional<WallClock::time_point> began);

// When the drain of one service began, kept across its state changes.
class DrainStart {
 public:
  // The service's state was decided at `now`. `persisted` is persisted_drain_start() of the
  // service. Up ends the drain; Drained begins one (at the persisted time if there is one,
  // else now) unless one has begun already, in which case the earlier start is kept; Down
  // keeps whatever began (and takes a persisted start), so neither a Drained -> Down ->
  // Drained trip nor a restart starts a new period.
  void update(ServiceState state, std::optional<WallClock::time_point> persisted,
              WallClock::time_point now);
  std::optional<WallClock::time_point> began() const { return began_; }

 private:
  std::optional<WallClock::time_point> began_;
};

// What a drained service announces at `now`.
struct DrainPhase {
  bool withdraw = false;                         // the period is over: withdraw
  std::optional<WallClock::duration> remaining;  // announce as drained this much longer
  bool operator==(const DrainPhase&) const = default;
};

// `period`: the service's drain-period (nullopt: announced as drained for as long as it is
// drained). Either withdraw, or remaining > 0, or (no period) neither.
DrainPhase drain_phase(std::optional<WallClock::duration> period, WallClock::time_point began,
                       WallClock::time_point now);

}  // namespace herald::daemon
