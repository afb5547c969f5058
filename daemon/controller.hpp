// The composition root of the daemon: owns the BGP speaker, the health monitor, the address
// binders, the control socket, the metrics endpoint and the persistent operator state, and
// turns "what is healthy, bound and not drained" into the set of routes the speaker announces.
//
// Service state, decided in one place (Controller::evaluate):
//   Down    health checks failing, or an address missing / interface down (the route would
//           black-hole traffic), whatever else holds;
//   Drained a maintenance file, an operator drain (heraldctl drain), or shutdown with
//           drain-on-shutdown: the "drained" policy is announced for drain-period, then withdrawn;
//   Up      otherwise.
// Each state maps to its policy (announce with attributes, or withdraw); a steering override
// (heraldctl steer) replaces prepend and MED of whatever is announced.
//
// Single-threaded: everything runs on the io_context's thread.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/asio.hpp"
#include "bgp/speaker.hpp"
#include "conf/config.hpp"
#include "daemon/control_protocol.hpp"
#include "daemon/control_server.hpp"
#include "daemon/controller_prefix_log.hpp"
#include "daemon/drain_period.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/metrics_http.hpp"
#include "daemon/state_file.hpp"
#include "health/monitor.hpp"
#include "netlink/address_binder.hpp"
#include "netlink/libnl_backend.hpp"

namespace herald::daemon {

class Controller {
 public:
  Controller(boost::asio::io_context& io, std::string config_path, conf::Config config,
             log::Logger& logger);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Binds addresses, opens the control socket, metrics and BGP listeners, starts sessions and
  // checks. Returns false (after logging why) when the daemon cannot run at all, having undone
  // what it did (abandon_start()).
  bool start();
  // Undoes a start-up that cannot go on (start() failed, or privileges could not be dropped
  // after it): removes the addresses this process added, whatever keep-on-exit says (nothing
  // was ever announced for them), and closes the control socket (removing its file) and the
  // metrics listener. The caller exits next.
  void abandon_start();
  // SIGHUP / heraldctl reload: validate the file first; a bad one changes nothing. Returns the
  // error text (all errors, one per line) or nullopt on success.
  std::optional<std::string> reload();
  // SIGTERM / SIGINT: drain (when configured), withdraw, Cease, release addresses, then `done`.
  void shutdown(std::string reason, std::function<void()> done);

  nlohmann::json status_json() const;

 private:
  struct Service;
  struct Binder;

  // --- service state ---
  void evaluate(Service& s, std::string_view cause);
  void publish_routes(std::string_view cause);
  std::vector<bgp::Route> desired_routes() const;
  const conf::StatePolicy* policy_for(const Service& s) const;
  void on_health(const health::ServiceStatus& status, health::ServiceState previous);
  void track_flap_hold(const health::ServiceStatus& status);
  void on_netlink(Binder& b);
  void arm_netlink(Binder& b);
  void arm_drain_timer(Service& s, std::chrono::system_clock::time_point now);
  Service* find_service(std::string_view name);

  // --- components ---
  void build_services();
  void bind_addresses();
  void release_addresses();
  bgp::SpeakerObserver speaker_observer();
  void start_watchdog();
  void feed_watchdog();
  void update_notify_status();

  // --- control ---
  nlohmann::json handle(const control::Command& cmd, const control::Caller& caller);
  nlohmann::json do_drain(const control::Drain& d, const control::Caller& caller);
  nlohmann::json do_undrain(const control::Undrain& d, const control::Caller& caller);
  nlohmann::json do_clear_hold(const control::ClearHold& c, const control::Caller& caller);
  nlohmann::json do_steer(const std::string& service, std::optional<PersistentState::Steering> s,
                          const control::Caller& caller);
  std::optional<std::string> save_state();
  void publish_event(nlohmann::json event);

  // --- metrics ---
  void register_metrics();
  std::string render_metrics();

  boost::asio::io_context& io_;
  std::string config_path_;
  conf::Config config_;
  log::Logger& log_;
  std::chrono::system_clock::time_point started_;

  std::unique_ptr<bgp::Speaker> speaker_;
  std::unique_ptr<health::Monitor> monitor_;
  std::vector<std::unique_ptr<Binder>> binders_;
  std::vector<std::unique_ptr<Service>> services_;
  std::shared_ptr<control::Server> control_;
  std::shared_ptr<metrics::HttpServer> metrics_http_;
  metrics::Registry registry_;
  StateFile state_file_;
  PersistentState state_;
  // What the last publish_routes() announced, for its log lines and events: the services' lists
  // in config_ (reload() publishes before the previous config goes).
  AnnouncedSet announced_;
  bool shutting_down_ = false;
  bool drain_starts_dirty_ = false;  // state_.drain_began changed, not saved yet
  boost::asio::steady_timer watchdog_;
  std::chrono::steady_clock::duration watchdog_period_{};
  boost::asio::steady_timer shutdown_timer_;
  std::map<std::pair<std::string, std::string>, double> counter_seen_;  // for counter deltas
  // The series every check result updates, found once per (service, check) instead of by name
  // and labels on each result (200 checks every 250 ms). Series are never removed, so the
  // pointers stay valid for the registry's lifetime.
  struct CheckSeries {
    metrics::Histogram* latency = nullptr;
    metrics::Counter* pass = nullptr;
    metrics::Counter* fail = nullptr;
  };
  std::map<std::pair<std::string, std::string>, CheckSeries> check_series_;
  void record_check_result(const std::string& service, const std::string& check, const health::CheckResult& r);
};

}  // namespace herald::daemon
