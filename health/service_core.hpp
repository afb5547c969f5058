// The pure scheduler and hysteresis core of one service: fed the current time and check results,
// it says when to run the next round of checks and when the service changes state.
// It owns no timer, no socket and reads no clock, so it is tested with a fake clock.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "health/check_spec.hpp"
#include "health/format.hpp"

namespace herald::health {

/// The state of a service, the one enum of herald for it: health reports it (Drained: a
/// maintenance file, withdrawn on purpose, not failed), and the daemon's service policy
/// decides it from health, addresses and operator state (daemon/service_policy.hpp).
enum class ServiceState { Down, Up, Drained };

/// "Up", "Down" or "Drained".
const char* to_string(ServiceState s);

/// One moment on both clocks: steady for scheduling, wall (system) for humans.
struct Instant {
  std::chrono::steady_clock::time_point steady;
  std::chrono::system_clock::time_point wall;
  /// The same moment shifted by d on both clocks.
  Instant operator+(Duration d) const {
    return {steady + d, wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(d)};
  }
};

/// Current time on both real clocks (used by the Asio runner only).
Instant now_instant();

/// Number of distinct first-round offsets a splay spreads services over.
inline constexpr std::uint64_t kSplaySlots = 32;

/// The first-round offset within `span` for a uniformly random `draw`: one of kSplaySlots
/// evenly spaced offsets (0, span/32, 2*span/32, ...), not any point of the span. Services with
/// the same interval whose offsets fall in one slot then run their rounds at the same instants
/// and share the process's wake-ups (200 services every 250 ms: 32 wake-ups a round, not 200),
/// while the load on the checked servers stays spread over the interval.
Duration splay_offset(Duration span, std::uint64_t draw);

/// The first-round delay of a service made at `now` whose splay drew `draw`: the time until the
/// next instant that is splay_offset(span, draw) after `epoch` plus a whole number of spans.
/// Counting from a shared epoch rather than from `now` puts services made microseconds apart
/// (or on a later reload) on the very same instants when they draw the same slot.
Duration first_delay(Duration span, std::chrono::steady_clock::time_point epoch,
                     std::chrono::steady_clock::time_point now, std::uint64_t draw);

/// A running flap hold as it is kept across a restart: the end on the wall clock (the only clock
/// that outlives the process) and the length of the hold after it (holds double).
struct FlapHold {
  std::chrono::system_clock::time_point until;
  Duration next_hold{0};
  bool operator==(const FlapHold&) const = default;
};

/// A status update of a service: its state changed, or a flap hold started or ended.
struct StateChange {
  ServiceState from;
  ServiceState to;
  std::string reason;  ///< why, e.g. "dns 192.0.2.53:53 www.example. A: rcode SERVFAIL (3 failing rounds)"
  Instant at;
  std::optional<Instant> flap_hold_until;
};

/// What the runner must do after feeding the core.
struct CoreActions {
  std::optional<std::uint64_t> start_round;  ///< start every check now, tagged with this round id
  bool cancel_round = false;                 ///< the running round timed out: cancel its checks
  std::vector<StateChange> changes;
};

/// Hysteresis and scheduling of one service. Rounds run all checks at once; a round ends when every
/// check reported or when its deadline passed (missing checks count as timeouts). Consecutive round
/// verdicts move the health state (rise/fall); the rounds a rise counts end at least fast-interval
/// apart (a round waits that long after a passing one while the rise is pending, even when it is
/// overdue or brought forward by expedite); the maintenance file overrides it with Drained;
/// too many health changes in a window hold the service Down for a growing period.
class ServiceCore {
 public:
  /// `first_delay` is the splay before the first round (chosen at random by the runner).
  /// `initial` overrides the start state (used when a reload keeps a service's state).
  ServiceCore(ServiceSpec spec, Instant now, Duration first_delay,
              std::optional<ServiceState> initial = std::nullopt);

  /// Moves time forward: ends a late round, ends a flap hold, starts a round when due.
  CoreActions advance(Instant now);
  /// One check of round `round` finished. Results of other rounds (late ones) are ignored.
  CoreActions on_result(std::uint64_t round, std::size_t check, CheckResult result, Instant now);

  /// Immediate down: check `check` saw a failure no later round can undo (the DNS server's
  /// process exited: a gone process cannot answer). The service's health goes Down now,
  /// whatever `fall` says, and a pending rise starts over; a running round counts this failure
  /// for that check in place of what it reported. Coming back takes `rise` passing rounds as
  /// usual. The change counts towards flap damping like any other; Drained and a flap hold
  /// still win over it when published.
  CoreActions fail_now(std::size_t check, CheckResult result, Instant now);

  /// A sign that a failing service answers again (a DNS check's late reply, to a probe that
  /// timed out, that would have passed): unless the service is healthy with no failure pending,
  /// or a round runs, the next round is due now instead of at its grid time, so a server back
  /// from a freeze is believed one interval sooner; the round after it keeps to the grid. At
  /// most one such round between two regular ones, and never sooner than fast-interval after a
  /// round that passed towards a pending rise. Call advance() next (next_wakeup() is due).
  void expedite(Instant now);

  // Flap damping: more than max_changes health changes within the window start a hold, and
  // the next hold is twice as long (up to max_hold). Changes while a hold runs neither extend
  // nor double it: they count towards the next hold, which starts if the flapping goes on
  // after this one ends.

  /// The flap hold in force, for persisting it (nullopt when none).
  std::optional<FlapHold> flap_hold() const;
  /// Puts back a hold persisted before a restart: held Down until `hold.until` (at most
  /// max-hold from now, whatever the file says), the next hold as long as it was. A hold that
  /// already ended changes nothing. Reports the hold like one that starts.
  CoreActions restore_flap_hold(const FlapHold& hold, Instant now);
  /// The operator ends the flap hold now and forgives the flapping so far (the next hold is
  /// the first one again). Returns nullopt when no hold is in force.
  std::optional<CoreActions> clear_flap_hold(Instant now);

  /// When advance() must be called next (round due, round deadline or end of a flap hold).
  std::chrono::steady_clock::time_point next_wakeup() const;
  /// A round was started and has not ended yet (some check has neither reported nor timed out).
  bool round_running() const { return running_; }

  const ServiceSpec& spec() const { return spec_; }
  ServiceState state() const { return state_; }
  const std::string& reason() const { return reason_; }
  Instant since() const { return since_; }
  std::optional<Instant> flap_hold_until() const { return hold_until_; }
  /// Last completed result of each check (nullopt until it ran once).
  const std::vector<std::optional<CheckResult>>& last_results() const { return last_; }
  /// Timeout applied to check i (its own exec timeout, else the service timeout).
  Duration check_timeout(std::size_t i) const;

 private:
  void finish_round(Instant now, CoreActions& out);
  // Counts a health change for flap damping; true when it starts a hold.
  bool count_toggle(Instant now);
  void publish(Instant now, const std::string& why, CoreActions& out, bool force_event);
  bool pending_change() const;

  ServiceSpec spec_;
  // Round in progress.
  std::uint64_t round_ = 0;
  bool running_ = false;
  Instant round_start_{};
  std::chrono::steady_clock::time_point round_due_{};  // when the running round was due
  std::chrono::steady_clock::time_point round_deadline_{};
  std::vector<std::optional<CheckResult>> current_;
  std::chrono::steady_clock::time_point next_round_{};
  // No round starts before this (epoch: no bound): one fast interval after a round that passed
  // towards a pending rise, so the rounds a rise counts are spread over time (finish_round).
  std::chrono::steady_clock::time_point rise_gap_until_{};
  // expedite(): the grid time the round after the early one returns to, and whether an early
  // round was granted since the last regular one.
  std::optional<std::chrono::steady_clock::time_point> resume_grid_;
  bool expedited_ = false;
  // Hysteresis.
  bool healthy_ = false;
  unsigned pass_streak_ = 0;
  unsigned fail_streak_ = 0;
  bool drained_ = false;
  std::string drain_reason_;
  std::string health_reason_;
  // Flap damping.
  std::deque<std::chrono::steady_clock::time_point> toggles_;
  std::optional<Instant> hold_until_;
  Duration next_hold_{0};
  std::optional<std::chrono::steady_clock::time_point> last_hold_end_;
  // Published.
  ServiceState state_ = ServiceState::Down;
  std::string reason_;
  Instant since_{};
  std::vector<std::optional<CheckResult>> last_;
};

}  // namespace herald::health
