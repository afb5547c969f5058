// The pure decision logic of the process check that follows a systemd unit: fed what systemd
// says of the unit (a read of its properties, a PropertiesChanged signal), the end of the watched
// main process and the bus's errors, it says which PID to watch, when the service must go Down at
// once and what a round of the check reports. No D-Bus, no pidfd, no clock here: unit-tested
// with sequences of fake inputs (tests/health/test_unit_tracker.cpp).
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "health/check_spec.hpp"

namespace herald::health {

/// What systemd says of a unit; a PropertiesChanged signal carries only some of it.
struct UnitState {
  std::optional<std::string> load_state;    ///< "loaded", "not-found", "masked", ...
  std::optional<std::string> active_state;  ///< "active", "reloading", "deactivating", ...
  std::optional<int> main_pid;              ///< 0: the unit has no main process
  bool operator==(const UnitState&) const = default;
};

/// What the caller must do after an input.
struct UnitAction {
  bool drop_watch = false;              ///< close the pidfd on the PID watched so far
  std::optional<int> watch;             ///< then open a pidfd on this PID (UnitTracker::watching)
  std::optional<std::string> down_now;  ///< report this at once: the service goes Down now
  bool reread = false;                  ///< read the unit's whole state again
  bool operator==(const UnitAction&) const = default;
};

class UnitTracker {
 public:
  using Clock = std::chrono::steady_clock;
  /// `retry`: the least time between two attempts to reach systemd's bus.
  explicit UnitTracker(std::string unit, Duration retry = std::chrono::seconds(1));

  /// A read of the unit's properties, or a PropertiesChanged signal (only the fields it carries).
  UnitAction on_update(const UnitState& u);
  /// The watched main process ended (its pidfd became readable).
  UnitAction on_pid_exited(int pid);
  /// A pidfd could not be opened on `pid` (gone already, no pidfd_open): `why` says which.
  void on_watch_failed(int pid, std::string why);
  /// The bus could not be reached, or a call on it failed, or the connection was lost.
  void on_bus_error(std::string error);
  /// A read through the bus succeeded (after on_update of its result).
  void on_bus_ok();

  /// Whether a round at `now` should read the unit through the bus: always while nothing is
  /// watched, unless the last attempt to reach the bus failed less than `retry` ago.
  bool read_due(Clock::time_point now) const;
  /// Records an attempt to read at `now` (for read_due).
  void attempted(Clock::time_point now) { last_attempt_ = now; }

  /// What a round reports now: passes only while the unit is active with a live, watched main
  /// process and the bus works.
  CheckResult verdict() const;

  std::optional<int> watching() const { return watched_; }
  const std::string& unit() const { return unit_; }

 private:
  bool active() const;
  std::string unit_;
  Duration retry_;
  UnitState state_;
  std::optional<int> watched_;
  std::optional<std::string> bus_error_;
  std::optional<std::string> watch_error_;
  std::optional<Clock::time_point> last_attempt_;
};

}  // namespace herald::health
