#include "daemon/drain_period.hpp"

#include <algorithm>

namespace herald::daemon {

namespace {
WallClock::time_point start_of(const PersistentState::DrainRecord& d) {
  if (d.fail_safe) return WallClock::time_point{};
  return WallClock::time_point{std::chrono::milliseconds(d.since_ms)};
}
}  // namespace

std::optional<WallClock::time_point> persisted_drain_start(const PersistentState& state,
                                                           std::string_view service) {
  std::optional<WallClock::time_point> start;
  auto earliest = [&](WallClock::time_point t) { start = start ? std::min(*start, t) : t; };
  const std::string name(service);
  if (state.drain_all) earliest(start_of(*state.drain_all));
  if (auto it = state.drained.find(name); it != state.drained.end()) earliest(start_of(it->second));
  if (auto it = state.drain_began.find(name); it != state.drain_began.end())
    earliest(WallClock::time_point{std::chrono::milliseconds(it->second)});
  return start;
}

bool record_drain_start(PersistentState& state, const std::string& service,
                        std::optional<WallClock::time_point> began) {
  auto it = state.drain_began.find(service);
  if (!began) {
    if (it == state.drain_began.end()) return false;
    state.drain_began.erase(it);
    return true;
  }
  // Rounded down to the millisecond: a restart never makes the period longer than it was.
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(began->time_since_epoch()).count();
  if (it != state.drain_began.end() && it->second == ms) return false;
  state.drain_began[service] = ms;
  return true;
}

void DrainStart::update(ServiceState state, std::optional<WallClock::time_point> persisted,
                        WallClock::time_point now) {
  switch (state) {
    case ServiceState::Up:
      began_.reset();
      return;
    case ServiceState::Down:
      // A drain persisted before a restart goes on while the service is Down.
      if (persisted) began_ = began_ ? std::min(*began_, *persisted) : *persisted;
      return;
    case ServiceState::Drained: {
      const auto start = persisted.value_or(now);
      began_ = began_ ? std::min(*began_, start) : start;
      return;
    }
  }
}

DrainPhase drain_phase(std::optional<WallClock::duration> period, WallClock::time_point began,
                       WallClock::time_point now) {
  if (!period) return {};
  // A start in the future (the clock was set back, or an edited file) counts from now: the
  // announcement is never longer than one period.
  const auto elapsed = std::max(now - began, WallClock::duration::zero());
  if (elapsed >= *period) return {true, std::nullopt};
  return {false, *period - elapsed};
}

}  // namespace herald::daemon
