// The Asio runner of the health checks: one ServiceCore per service, one timer per service,
// all checks asynchronous on the caller's io_context. It only reports states; it knows nothing
// about BGP: the daemon turns Up into "announce" and Down/Drained into "withdraw".
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/expected.hpp"
#include "base/reactor_settle.hpp"
#include "base/asio.hpp"
#include "health/check_run.hpp"
#include "health/check_spec.hpp"
#include "health/service_core.hpp"

namespace herald::health {

/// The last result of one check of a service.
struct CheckStatus {
  std::string check;                ///< describe(spec), e.g. "dns 192.0.2.53:53 www.example. A"
  std::string name;                 ///< check_name(): "soa", or describe() for unnamed checks
  std::optional<CheckResult> last;  ///< nullopt until the check completed once
  /// DNS checks: UDP replies dropped because their id was not the probe's (DnsChecker::
  /// stale_replies()), counted since the check was created (start, or a reload that changed its
  /// service). nullopt for the other kinds, which have no such count.
  std::optional<std::uint64_t> stale_replies;
};

/// Current status of one service.
struct ServiceStatus {
  std::string name;
  ServiceState state = ServiceState::Down;
  std::string reason;  ///< reason of the last change (or the freshest failure while Down)
  Instant since;       ///< when `state` was entered
  std::optional<Instant> flap_hold_until;
  Duration flap_next_hold{0};  ///< while held: the length of the hold after this one
  std::vector<CheckStatus> checks;
};

/// Called on every state change of a service (and when a flap hold starts or ends), with the new
/// status and the previous state. Runs on the io_context thread. Not called for start states.
using StatusCallback = std::function<void(const ServiceStatus& status, ServiceState previous)>;

/// Called with every completed check result (for metrics: latency histograms, pass/fail counts),
/// with the service name and check_name() of the check. Runs on the io_context thread.
using ResultCallback =
    std::function<void(const std::string& service, const std::string& check, const CheckResult& result)>;

/// Checks that a service can be run: names, counts, durations, DNS fields, addresses, argv.
/// Returns the first problem as `service "<name>": <problem>` (`... check "<check>": <problem>`).
herald::Expected<bool, std::string> validate_service(const ServiceSpec& spec);

/// Runs the health checks of a set of services on one io_context. Not thread-safe: construct,
/// call and destroy it on the thread that runs the io_context.
class Monitor {
 public:
  /// Every spec must pass validate_service() (a broken one aborts: a configuration bug).
  Monitor(boost::asio::io_context& io, std::vector<ServiceSpec> services, StatusCallback on_change);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  /// Schedules every service's first round after a random splay within its interval.
  void start();
  /// Cancels all timers and running checks; no callback is made afterwards.
  void stop();
  /// Observe every check result (optional; set before start()).
  void on_result(ResultCallback cb) { on_result_ = std::move(cb); }
  /// Status of every service, ordered by name. From construction on, a service's status is
  /// its start state (ServiceSpec::start_up, or the state a reload kept) until a change.
  std::vector<ServiceStatus> snapshot() const;
  /// Status of one service (as in snapshot()); nullopt when the monitor does not run it.
  std::optional<ServiceStatus> status(const std::string& service) const;
  /// Puts back a flap hold persisted before a restart (ServiceCore::restore_flap_hold); the
  /// change is reported through the status callback. Returns whether the service is now held
  /// (false: unknown service, hold already over, or flap control off).
  bool restore_flap_hold(const std::string& service, const FlapHold& hold);
  /// Ends a service's flap hold now (ServiceCore::clear_flap_hold), reported through the status
  /// callback. False when the service is unknown or not held.
  bool clear_flap_hold(const std::string& service);
  /// Reload: unchanged services keep running untouched; changed ones restart their schedule but
  /// keep their current state and flap hold (no spurious withdraw); removed ones stop; new ones
  /// start.
  void replace(std::vector<ServiceSpec> services);

 private:
  struct Service;
  std::shared_ptr<Service> make_service(ServiceSpec spec, std::optional<ServiceState> initial);
  void arm(const std::shared_ptr<Service>& s);
  void tick(const std::shared_ptr<Service>& s);
  void apply(const std::shared_ptr<Service>& s, CoreActions actions);
  void cancel_checks(Service& s);
  // Stops everything of a service for good: timer, checks, DNS sockets read between runs.
  void retire(Service& s);
  ServiceStatus status_of(const Service& s) const;
  void settle_kernel_timer(std::chrono::steady_clock::time_point cancelled_deadline);

  boost::asio::io_context& io_;
  StatusCallback on_change_;
  ResultCallback on_result_;
  std::map<std::string, std::shared_ptr<Service>> services_;
  std::mt19937_64 rng_;
  std::chrono::steady_clock::time_point epoch_;  // what splay offsets count from
  herald::ReactorSettle settle_;
  bool running_ = false;
};

}  // namespace herald::health
