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

/// The state letter of a /proc/PID/stat text: the first field after the command name, which is
/// in parentheses and may itself hold blanks and parentheses (so it is found after the last ')').
herald::Expected<char, std::string> parse_proc_state(std::string_view stat);

/// A state in which the process runs no code until something continues it: 'T' (stopped by a
/// signal: SIGSTOP, SIGTSTP) or 't' (stopped by a tracer, e.g. a debugger).
bool stopped_state(char state);

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
/// A pidfd does not tell when its process is stopped (SIGSTOP, a debugger): each run also reads
/// the watched process's state in /proc/PID/stat (pidfile or unit alike), and fails while it is
/// stopped ('T' or 't'), saying so; the run that first finds it stopped calls on_exit() too, so
/// the service goes down at that round rather than after `fall` probes have timed out: a stopped
/// server answers nothing until it is continued, which no later probe can change. Continued, it
/// passes again (rise applies). A server that hangs while running (a deadlock, a busy loop) is
/// not stopped: only its probes' timeouts see that.
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

  /// Called from the io_context when the watched process exits (once per process), and by the
  /// run that finds it stopped (once per stop): the service is down at once (see above).
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
