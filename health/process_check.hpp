// The process check: watches the DNS server's own process through a pidfd (pidfd_open(2),
// Linux 5.3+), so that its end is known the moment it happens rather than after `fall` failed
// probes. The pidfd becomes readable when the process exits; Asio waits on it like on a socket.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.hpp"
#include "base/asio.hpp"
#include "health/check_run.hpp"
#include "health/check_spec.hpp"

namespace herald::health {

/// The PID a pidfile holds: decimal digits, optionally surrounded by blanks and a final newline,
/// between 1 and the largest pid_t. Anything else is an error saying what was found.
herald::Expected<int, std::string> parse_pid(std::string_view text);

struct ProcessWatch;
struct UnitWatch;
class UnitBus;

/// Runs the process check `spec` again and again (the Checker contract: one run at a time).
///
/// A run that watches no process reads the pidfile, opens a pidfd on its PID and, if the process
/// lives, passes and keeps the pidfd: from then on the checker waits on it between and during
/// runs, and each run passes while it is not readable. When the watched process exits, the
/// checker closes the pidfd and calls on_exit() at once (from the io_context) with a reason like
/// "process 1234 (from /run/unbound.pid) exited"; the next run reads the pidfile again, since a
/// restarted server writes a new one, and fails while it names no live process. A pidfile
/// naming a recycled PID cannot be told from the real server: servers remove or rewrite theirs.
/// Without pidfd_open (kernel older than 5.3) every run fails, saying so.
///
/// With a systemd unit instead of a pidfile, the PID is the unit's MainPID, read over D-Bus
/// (unit_bus.hpp) at each run while nothing is watched; the checker also follows the unit's
/// PropertiesChanged signals: the unit leaving "active" ("deactivating": a stop in progress)
/// calls on_exit() at once too, and a new MainPID after a restart is picked up. The decisions
/// are UnitTracker's (unit_tracker.hpp). An unreachable bus or a missing unit fails the runs,
/// saying which; the bus is tried again at most once a second.
class ProcessChecker final : public Checker {
 public:
  ProcessChecker(boost::asio::io_context& io, ProcessCheckSpec spec);
  /// With a unit (spec.unit), read through `bus` instead of systemd's system bus (tests).
  ProcessChecker(boost::asio::io_context& io, ProcessCheckSpec spec, std::unique_ptr<UnitBus> bus);
  ~ProcessChecker() override;
  ProcessChecker(const ProcessChecker&) = delete;
  ProcessChecker& operator=(const ProcessChecker&) = delete;

  std::shared_ptr<CheckRun> start(Duration timeout, CheckDone done) override;

  /// Called once per watched process, from the io_context, when it exits (see above).
  void on_exit(std::function<void(std::string reason)> cb);
  /// Stops watching (before the checker is left alone for good); no on_exit call afterwards.
  void stop_watching();
  /// The PID being watched, if any.
  std::optional<int> watched_pid() const;

 private:
  std::shared_ptr<ProcessWatch> w_;  // with a pidfile
  std::shared_ptr<UnitWatch> u_;     // with a systemd unit
};

}  // namespace herald::health
