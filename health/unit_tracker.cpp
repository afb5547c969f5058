#include "health/unit_tracker.hpp"

#include <utility>

#include <fmt/format.h>

namespace herald::health {

UnitTracker::UnitTracker(std::string unit, Duration retry) : unit_(std::move(unit)), retry_(retry) {}

bool UnitTracker::active() const {
  // A reload keeps the main process: still serving.
  return state_.active_state == "active" || state_.active_state == "reloading";
}

UnitAction UnitTracker::on_update(const UnitState& u) {
  const bool was_active = active();
  if (u.load_state) state_.load_state = u.load_state;
  if (u.active_state) state_.active_state = u.active_state;
  if (u.main_pid) state_.main_pid = u.main_pid;
  UnitAction a;
  if (watched_) {
    const int pid = *watched_;
    if (!active()) {
      // "deactivating": a stop is in progress, the server is about to go; anything else that is
      // not active (inactive, failed, activating again) cannot be serving through this process.
      a.drop_watch = true;
      watched_.reset();
      a.down_now = fmt::format("unit {} {} (main PID {}): {}", unit_, *state_.active_state, pid,
                               state_.active_state == "deactivating" ? "a stop in progress"
                                                                     : "no longer active");
      return a;
    }
    if (state_.main_pid && *state_.main_pid != pid) {
      a.drop_watch = true;
      watched_.reset();
      if (*state_.main_pid == 0) {
        a.down_now = fmt::format("unit {} main PID {} gone (MainPID is 0 now)", unit_, pid);
        return a;
      }
      // systemd names another main process of the running unit: follow it.
    }
  }
  if (!watched_ && active() && state_.main_pid && *state_.main_pid > 0) {
    watched_ = *state_.main_pid;
    watch_error_.reset();
    a.watch = watched_;
  } else if (!watched_ && active() && !was_active && !u.main_pid) {
    // Became active again (a restart): its new MainPID may come in a later signal, or not at all.
    a.reread = true;
  }
  return a;
}

UnitAction UnitTracker::on_pid_exited(int pid) {
  UnitAction a;
  if (watched_ != pid) return a;  // an old watch, already replaced
  watched_.reset();
  a.drop_watch = true;
  a.down_now = fmt::format("unit {} main PID {} exited", unit_, pid);
  // Its MainPID as systemd knows it is stale now; the next read brings the new one.
  state_.main_pid.reset();
  return a;
}

void UnitTracker::on_watch_failed(int pid, std::string why) {
  if (watched_ == pid) watched_.reset();
  watch_error_ = std::move(why);
  state_.main_pid.reset();
}

void UnitTracker::on_bus_error(std::string error) { bus_error_ = std::move(error); }

void UnitTracker::on_bus_ok() { bus_error_.reset(); }

bool UnitTracker::read_due(Clock::time_point now) const {
  if (watched_ && !bus_error_) return false;
  if (!bus_error_ || !last_attempt_) return true;
  return now - *last_attempt_ >= retry_;
}

CheckResult UnitTracker::verdict() const {
  const auto fail = [](std::string why) { return CheckResult{false, Duration{0}, std::move(why), false}; };
  if (bus_error_) return fail(fmt::format("unit {}: {}", unit_, *bus_error_));
  if (!state_.load_state) return fail(fmt::format("unit {}: not read yet", unit_));
  if (*state_.load_state != "loaded")
    return fail(fmt::format("unit {} {} (LoadState={})", unit_,
                            *state_.load_state == "not-found" ? "does not exist" : "cannot be loaded",
                            *state_.load_state));
  if (!active())
    return fail(fmt::format("unit {} is {}", unit_, state_.active_state.value_or("in an unknown state")));
  if (watched_) return {true, Duration{0}, fmt::format("unit {} main PID {} running", unit_, *watched_), false};
  if (watch_error_) return fail(fmt::format("unit {}: {}", unit_, *watch_error_));
  return fail(fmt::format("unit {} is active but has no main PID", unit_));
}

}  // namespace herald::health
