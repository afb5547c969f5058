#include "daemon/drain_period.hpp"

#include <algorithm>

namespace herald::daemon {

std::string_view to_string(ServiceState s) {
  switch (s) {
    case ServiceState::Down: return "Down";
    case ServiceState::Up: return "Up";
    case ServiceState::Drained: return "Drained";
  }
  return "?";
}

namespace {
WallClock::time_point start_of(const PersistentState::DrainRecord& d) {
  if (d.fail_safe) return WallClock::time_point{};
  return WallClock::time_point{std::chrono::seconds(d.since)};
}
}  // namespace

std::optional<WallClock::time_point> operator_drain_start(const PersistentState& state,
                                                          std::string_view service) {
  std::optional<WallClock::time_point> start;
  if (state.drain_all) start = start_of(*state.drain_all);
  if (auto it = state.drained.find(std::string(service)); it != state.drained.end())
    start = start ? std::min(*start, start_of(it->second)) : start_of(it->second);
  return start;
}

void DrainStart::update(ServiceState state, std::optional<WallClock::time_point> operator_start,
                        WallClock::time_point now) {
  switch (state) {
    case ServiceState::Up:
      began_.reset();
      return;
    case ServiceState::Down:
      return;
    case ServiceState::Drained: {
      const auto start = operator_start.value_or(now);
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
