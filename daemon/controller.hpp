// The composition root of the daemon: owns the BGP speaker, the health monitor, the address
// binders, the control socket, the metrics endpoint and the persistent operator state, and
// wires them to the service policy (service_policy.hpp), which decides each service's state
// and the routes to announce. The controller feeds it health (health::Monitor), address state
// (the binders), operator state (PersistentState) and `now`, and applies what comes out: the
// routes to the speaker, events to the log, the control socket and the metrics, a timer at
// the policy's next wake-up.
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
#include "daemon/controller_binders.hpp"
#include "daemon/controller_metrics.hpp"
#include "daemon/controller_prefix_log.hpp"
#include "daemon/drain_period.hpp"
#include "daemon/drain_wait.hpp"
#include "daemon/reload_plan.hpp"
#include "daemon/service_policy.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/metrics_http.hpp"
#include "daemon/state_file.hpp"
#include "health/monitor.hpp"

namespace herald::fleet {
struct FloorOutcome;
struct EtcdError;
}  // namespace herald::fleet

namespace herald::daemon {

struct FleetLink;     // controller_fleet.hpp
struct CountersLink;  // controller_counters.hpp

class Controller {
 public:
  // `dry_run`: herald --dry-run; it holds for every reload too, whatever the file says
  // (global.dry-run in the file does the same without the option).
  Controller(boost::asio::io_context& io, std::string config_path, conf::Config config,
             log::Logger& logger, bool dry_run = false);
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
  // The /metrics body: the components' state now (controller_metrics.hpp).
  std::string metrics_text();

 private:
  // --- service state: fed to policy_, its output applied ---
  PolicyWorld world() const;
  HealthInput health_of(const std::string& service) const;    // health::Monitor's view
  HealthInput health_input(const health::ServiceStatus& status) const;
  AddressInput address_of(const std::string& service) const;  // the binders' view
  // Decides `service` again (with `health` when the caller has it fresher than the monitor).
  void evaluate(const std::string& service, std::string_view cause, std::optional<HealthInput> health = {});
  void evaluate_all(std::string_view cause);
  void apply(const std::vector<PolicyEvent>& events);  // log, control events, metrics
  void arm_policy_timer();                             // at policy_.next_wakeup()
  void publish_routes(std::string_view cause);
  void on_health(const health::ServiceStatus& status, health::ServiceState previous);
  void track_flap_hold(const health::ServiceStatus& status);
  void on_address_change(const std::vector<ServiceAddressChange>& changes);

  // --- components ---
  void build_services();
  bgp::SpeakerObserver speaker_observer();
  void start_watchdog();
  void feed_watchdog();
  void update_notify_status();

  // --- the fleet (controller_fleet.cpp; nothing without [fleet]) ---
  bool fleet_start();  // false (logged): the fleet client cannot be made (TLS files, password)
  void fleet_stop(std::function<void()> then);  // revokes the lease (bounded), then `then`
  void fleet_publish_state();                   // the policy's decisions to sites/<site>
  void fleet_after_evaluate(const std::string& service);  // a new floor question: ask it
  // A process check's result may change the floor's question of a service already Down (health
  // reports no state change then): decide it again when it does.
  void fleet_on_check_result(const std::string& service);
  void fleet_ask_floor(const std::string& service);
  void fleet_floor_answered(const std::string& service, const FloorQuestion& question,
                            const Expected<fleet::FloorOutcome, fleet::EtcdError>& r);
  void fleet_arm_recheck();
  void fleet_reachable(bool ok, const std::string& reason);  // logs once per transition
  void fleet_apply_desired(std::string_view how);            // desired keys -> fleet drains
  boost::asio::awaitable<void> fleet_follow_desired();

  // --- the query counters (controller_counters.cpp; nothing without query-counters) ---
  void counters_apply(std::string_view cause);  // start, reload: make, rewrite or delete the table
  void counters_stop();                         // deletes the table
  void counters_off(const std::string& why, std::string_view cause);  // on, but nftables refused: said once
  void counters_read();                         // every CountersLink::kReadInterval
  void counters_publish();                      // the rates to the fleet, when worth a write
  std::optional<double> published_qps(const std::string& service) const;
  std::optional<ControllerMetrics::QueriesView> queries_view() const;

  // --- control ---
  nlohmann::json handle(const control::Command& cmd, const control::Caller& caller);
  // Every command; "drain --wait" answers later (controller_drain_wait.cpp), the rest at once.
  void handle_async(const control::Command& cmd, const control::Caller& caller, control::Server::Reply reply);
  // After each publication and at the settle timer: answers the waits that are over.
  void check_drain_waits();
  void arm_drain_wait_timer();  // at drain_waits_.next_wakeup()
  nlohmann::json do_drain(const control::Drain& d, const control::Caller& caller);
  nlohmann::json do_undrain(const control::Undrain& d, const control::Caller& caller);
  std::vector<std::string> services_of_unit(const std::string& unit) const;  // `units` lists it
  nlohmann::json do_clear_hold(const control::ClearHold& c, const control::Caller& caller);
  nlohmann::json do_steer(const std::string& service, std::optional<PersistentState::Steering> s,
                          const control::Caller& caller);
  // heraldctl routes / peer (controller_peers.cpp).
  nlohmann::json do_routes(const control::Routes& r) const;
  nlohmann::json do_peer(const control::PeerAction& a, const control::Caller& caller);
  // The speaker's view of configured peers, disabled ones (state_.disabled_peers) marked so.
  bgp::SpeakerPeerConfig speaker_peer_now(const conf::PeerConfig& peer) const;
  std::vector<bgp::SpeakerPeerConfig> speaker_peers_now() const;
  std::optional<std::string> save_state();
  void apply(const PeerStep& step);  // one step of a reload's peer plan
  // One "service peers changed" line per service a reload moves between peers
  // (controller_events.cpp); the routes follow with the reload's publication.
  void log_service_peer_moves(const std::vector<ServicePeersMove>& moves);
  void publish_event(nlohmann::json event);

  boost::asio::io_context& io_;
  bool dry_run_option_;  // --dry-run given: every loaded config is a dry run
  std::string config_path_;
  conf::Config config_;
  log::Logger& log_;
  std::chrono::system_clock::time_point started_;

  std::unique_ptr<bgp::Speaker> speaker_;
  std::unique_ptr<health::Monitor> monitor_;
  AddressBinders binders_;
  ServicePolicy policy_;
  std::shared_ptr<control::Server> control_;
  std::shared_ptr<metrics::HttpServer> metrics_http_;
  ControllerMetrics metrics_;
  StateFile state_file_;
  PersistentState state_;
  bool shutting_down_ = false;
  bool drain_starts_dirty_ = false;  // state_.drain_began changed, not saved yet
  boost::asio::steady_timer watchdog_;
  std::chrono::steady_clock::duration watchdog_period_{};
  boost::asio::steady_timer shutdown_timer_;
  boost::asio::steady_timer policy_timer_;  // drain-period ends
  std::optional<std::chrono::system_clock::time_point> policy_timer_due_;
  DrainWaits drain_waits_;  // pending "drain --wait" replies
  std::map<DrainWaits::Id, std::function<void(const DrainWaits::Done&)>> drain_wait_replies_;
  boost::asio::steady_timer drain_wait_timer_;  // settle ends
  std::unique_ptr<FleetLink> fleet_;             // with [fleet] only
  std::unique_ptr<CountersLink> counters_;       // with query-counters only
};

}  // namespace herald::daemon
