#include "health/service_core.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <utility>

#include <fmt/format.h>

namespace herald::health {

using std::chrono::steady_clock;

const char* to_string(ServiceState s) {
  switch (s) {
    case ServiceState::Up: return "Up";
    case ServiceState::Down: return "Down";
    case ServiceState::Drained: return "Drained";
  }
  return "?";
}

Instant now_instant() { return {steady_clock::now(), std::chrono::system_clock::now()}; }

namespace {
[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "health: broken invariant: %s\n", what);
  std::abort();
}

bool is_maintenance(const CheckSpec& c) { return std::holds_alternative<MaintenanceFileSpec>(c); }
}  // namespace

ServiceCore::ServiceCore(ServiceSpec spec, Instant now, Duration first_delay,
                         std::optional<ServiceState> initial)
    : spec_(std::move(spec)), last_(spec_.checks.size()) {
  const auto& p = spec_.policy;
  if (spec_.checks.empty()) broken("a service needs at least one check");
  if (p.rise == 0 || p.fall == 0) broken("rise and fall must be at least 1");
  if (p.interval <= Duration::zero() || p.fast_interval <= Duration::zero() ||
      p.timeout <= Duration::zero())
    broken("interval, fast interval and timeout must be positive");
  next_hold_ = p.flap.hold;
  next_round_ = now.steady + std::max(first_delay, Duration::zero());
  since_ = now;
  ServiceState start = p.start_up ? ServiceState::Up : ServiceState::Down;
  if (initial) start = *initial;
  // A kept Drained state is re-derived from the maintenance check at the first round.
  healthy_ = start == ServiceState::Up;
  state_ = healthy_ ? ServiceState::Up : ServiceState::Down;
  reason_ = initial ? "state kept across reload"
            : healthy_ ? "start state up (configured)"
                       : fmt::format("starting: down until {} passing round(s)", p.rise);
  health_reason_ = reason_;
}

Duration ServiceCore::check_timeout(std::size_t i) const {
  if (const auto* e = std::get_if<ExecCheckSpec>(&spec_.checks.at(i)); e && e->timeout)
    return *e->timeout;
  return spec_.policy.timeout;
}

Duration splay_offset(Duration span, std::uint64_t draw) {
  if (span <= Duration::zero()) return Duration::zero();
  const auto slots = std::min<std::uint64_t>(kSplaySlots, static_cast<std::uint64_t>(span.count()));
  const Duration slot = span / static_cast<Duration::rep>(slots);
  return slot * static_cast<Duration::rep>(draw % slots);
}

Duration first_delay(Duration span, steady_clock::time_point epoch, steady_clock::time_point now,
                     std::uint64_t draw) {
  if (span <= Duration::zero()) return Duration::zero();
  const Duration since = now - epoch;
  return ((splay_offset(span, draw) - since) % span + span) % span;
}

steady_clock::time_point ServiceCore::next_wakeup() const {
  auto t = running_ ? round_deadline_ : std::max(next_round_, rise_gap_until_);
  if (hold_until_) t = std::min(t, hold_until_->steady);
  return t;
}

void ServiceCore::expedite(Instant now) {
  // Never earlier than the rise spacing: an early round must not bunch passing rounds either.
  const auto at = std::max(now.steady, rise_gap_until_);
  if (running_ || expedited_ || (healthy_ && fail_streak_ == 0) || at >= next_round_) return;
  expedited_ = true;
  resume_grid_ = next_round_;
  next_round_ = at;
}

bool ServiceCore::pending_change() const {
  return healthy_ ? fail_streak_ > 0 : pass_streak_ > 0;
}

CoreActions ServiceCore::advance(Instant now) {
  CoreActions out;
  if (running_ && now.steady >= round_deadline_) {
    // Every check is cut at its timeout (the round deadline is the largest one); a check that
    // has not answered by now failed, whatever it reports later.
    for (std::size_t i = 0; i < current_.size(); ++i)
      if (!current_[i] && now.steady >= round_start_.steady + check_timeout(i))
        current_[i] = CheckResult{false, check_timeout(i),
                                  "timeout after " + format_duration(check_timeout(i)), false};
    out.cancel_round = true;
    finish_round(now, out);
  }
  if (hold_until_ && now.steady >= hold_until_->steady) {
    hold_until_.reset();
    last_hold_end_ = now.steady;
    publish(now, "flap hold ended", out, true);
  }
  if (!running_ && now.steady >= next_round_ && now.steady >= rise_gap_until_) {
    running_ = true;
    ++round_;
    if (!resume_grid_) expedited_ = false;  // a regular round: an early one may come again
    round_start_ = now;
    // Rounds follow a grid: the next is due one interval after this one was due, not after it
    // actually started, so the wake-up latency of each round does not add up (services with the
    // same interval and no splay stay in step and share wake-ups). A round more than an interval
    // late (the process was stopped, the machine suspended) starts a new grid here instead of
    // catching up with back-to-back rounds.
    const Duration shortest = std::min(spec_.policy.interval, spec_.policy.fast_interval);
    round_due_ = now.steady - next_round_ > shortest ? now.steady : next_round_;
    Duration longest{0};
    for (std::size_t i = 0; i < spec_.checks.size(); ++i) longest = std::max(longest, check_timeout(i));
    round_deadline_ = now.steady + longest;
    current_.assign(spec_.checks.size(), std::nullopt);
    out.start_round = round_;
  }
  return out;
}

CoreActions ServiceCore::on_result(std::uint64_t round, std::size_t check, CheckResult result,
                                   Instant now) {
  CoreActions out;
  if (!running_ || round != round_) return out;  // late result of a finished round
  if (check >= current_.size()) broken("check index out of range");
  if (current_[check]) return out;  // first report wins
  current_[check] = std::move(result);
  if (std::all_of(current_.begin(), current_.end(), [](const auto& r) { return r.has_value(); }))
    finish_round(now, out);
  return out;
}

void ServiceCore::finish_round(Instant now, CoreActions& out) {
  running_ = false;
  const auto& p = spec_.policy;
  // Combine: maintenance checks only drain; the others decide health with all/any.
  bool drain = false;
  std::string drain_why;
  std::size_t counted = 0, passed = 0;
  std::vector<std::string> failures;
  std::string single_pass;
  for (std::size_t i = 0; i < current_.size(); ++i) {
    if (!current_[i]) continue;  // deadline of a shorter check not reached: cannot happen
    const CheckResult& r = *current_[i];
    last_[i] = r;
    const std::string label = check_label(spec_, i);
    if (is_maintenance(spec_.checks[i])) {
      if (r.drain) {
        drain = true;
        drain_why = label + ": " + r.reason;
      }
      continue;
    }
    ++counted;
    if (r.pass) {
      ++passed;
      single_pass = label + ": " + r.reason;
    } else {
      failures.push_back(label + ": " + r.reason);
    }
  }
  bool pass = counted == 0 || (p.combine == Combine::All ? passed == counted : passed > 0);
  std::string why;
  if (!pass) {
    why = failures.front();
    for (std::size_t i = 1; i < failures.size() && p.combine == Combine::Any; ++i) why += "; " + failures[i];
  } else if (counted == 1) {
    why = single_pass;
  } else if (counted == 0) {
    why = "no health checks besides maintenance";
  } else {
    why = fmt::format("{} of {} checks pass", passed, counted);
  }

  // Hysteresis (rise/fall).
  bool toggled = false;
  if (pass) {
    ++pass_streak_;
    fail_streak_ = 0;
    if (!healthy_ && pass_streak_ >= p.rise) {
      healthy_ = toggled = true;
      health_reason_ = fmt::format("{} ({} passing round(s))", why, pass_streak_);
    }
  } else {
    ++fail_streak_;
    pass_streak_ = 0;
    if (healthy_ && fail_streak_ >= p.fall) {
      healthy_ = false;
      toggled = true;
      health_reason_ = fmt::format("{} ({} failing round(s))", why, fail_streak_);
    }
  }
  if (!healthy_ && !toggled && !pass) health_reason_ = why;  // keep the freshest failure

  const bool hold_started = toggled && count_toggle(now);
  drained_ = drain;
  drain_reason_ = drain_why;

  const auto base = pending_change() ? p.fast_interval : p.interval;
  auto grid = resume_grid_ ? *resume_grid_ : round_due_ + base;
  // While a fall is pending, a failed round is followed at the latest one round timeout after
  // it was due: a round that timed out (a frozen server) is followed at once, so `fall` rounds
  // that never answer take fall x timeout, with no fast-interval wait between them (#18). A
  // round that failed quickly (SERVFAIL, refused) still waits, the shorter of fast-interval and
  // the timeout, so `fall` keeps counting rounds spread over time rather than instant replies.
  if (!pass && healthy_ && fail_streak_ > 0)
    grid = std::min(grid, round_due_ + (round_deadline_ - round_start_.steady));
  next_round_ = std::max(grid, now.steady);
  resume_grid_.reset();
  // Rise counts passing rounds over time, not answers: the round after one that passed towards
  // a pending rise starts at least fast-interval after this result. Without it a round that ran
  // long (a timeout above the interval, a server answering after a freeze) makes its overdue
  // successor start, and pass, a moment later: "rise 2" would be two answers 1 ms apart. On the
  // grid the wait only shifts the start by this round's latency (round_due_ stays on the grid);
  // after an overdue round the grid starts anew at the end of the wait.
  rise_gap_until_ = {};
  if (pass && !healthy_) {
    rise_gap_until_ = now.steady + p.fast_interval;
    if (grid <= now.steady) next_round_ = rise_gap_until_;
  }
  publish(now, "", out, hold_started);
}

bool ServiceCore::count_toggle(Instant now) {
  // Flap damping: count health toggles in the sliding window.
  const auto& p = spec_.policy;
  if (!p.flap.enabled) return false;
  toggles_.push_back(now.steady);
  while (!toggles_.empty() && toggles_.front() + p.flap.window < now.steady) toggles_.pop_front();
  // A burst while a hold runs does not double it again (at most one doubling per hold): the
  // changes stay in the window and start the next hold if the flapping goes on after it.
  if (toggles_.size() <= p.flap.max_changes || hold_until_) return false;
  // A long quiet period since the last hold forgives earlier ones.
  if (last_hold_end_ && now.steady - *last_hold_end_ > p.flap.max_hold) next_hold_ = p.flap.hold;
  const std::size_t changes = toggles_.size();
  hold_until_ = now + next_hold_;
  next_hold_ = std::min(next_hold_ * 2, p.flap.max_hold);
  toggles_.clear();
  health_reason_ = fmt::format("{} changes within {}; last: {}", changes,
                               format_duration(p.flap.window), health_reason_);
  return true;
}

CoreActions ServiceCore::fail_now(std::size_t check, CheckResult result, Instant now) {
  CoreActions out;
  if (check >= spec_.checks.size()) broken("check index out of range");
  const std::string why = check_label(spec_, check) + ": " + result.reason;
  last_[check] = result;
  // What the running round heard from this check predates the failure: replace it.
  if (running_) current_[check] = result;
  pass_streak_ = 0;
  rise_gap_until_ = {};
  const bool toggled = healthy_;
  healthy_ = false;
  health_reason_ = toggled ? why + " (down at once, not waiting for fall)" : why;
  const bool hold_started = toggled && count_toggle(now);
  publish(now, "", out, hold_started);
  // The running round may now be complete; it fails, which changes no state any more.
  if (running_ &&
      std::all_of(current_.begin(), current_.end(), [](const auto& r) { return r.has_value(); }))
    finish_round(now, out);
  return out;
}

std::optional<FlapHold> ServiceCore::flap_hold() const {
  if (!hold_until_) return std::nullopt;
  return FlapHold{hold_until_->wall, next_hold_};
}

CoreActions ServiceCore::restore_flap_hold(const FlapHold& hold, Instant now) {
  CoreActions out;
  const auto& f = spec_.policy.flap;
  if (!f.enabled || hold.until <= now.wall) return out;
  // A wall clock set back, or an edited file, cannot hold a service longer than max-hold.
  const auto left = std::min(std::chrono::duration_cast<Duration>(hold.until - now.wall), f.max_hold);
  hold_until_ = now + left;
  next_hold_ = std::clamp(hold.next_hold, f.hold, f.max_hold);
  health_reason_ = "flap hold carried over (restart or reload); " + health_reason_;
  publish(now, "", out, true);
  return out;
}

std::optional<CoreActions> ServiceCore::clear_flap_hold(Instant now) {
  if (!hold_until_) return std::nullopt;
  CoreActions out;
  hold_until_.reset();
  toggles_.clear();
  next_hold_ = spec_.policy.flap.hold;
  last_hold_end_.reset();
  publish(now, "flap hold cleared by the operator", out, true);
  return out;
}

void ServiceCore::publish(Instant now, const std::string& why, CoreActions& out, bool force_event) {
  ServiceState next;
  std::string reason;
  if (drained_) {
    next = ServiceState::Drained;
    reason = drain_reason_;
  } else if (hold_until_) {
    next = ServiceState::Down;
    reason = fmt::format("down (flap hold until {}): {}", format_utc(hold_until_->wall), health_reason_);
  } else {
    next = healthy_ ? ServiceState::Up : ServiceState::Down;
    reason = why.empty() ? health_reason_ : why + "; " + health_reason_;
  }
  if (next == state_ && !force_event) {
    if (next == ServiceState::Down && !hold_until_) reason_ = reason;  // freshest failure reason
    return;
  }
  out.changes.push_back(StateChange{state_, next, reason, now, hold_until_});
  if (next != state_) since_ = now;
  state_ = next;
  reason_ = reason;
}

}  // namespace herald::health
