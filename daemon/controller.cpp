#include "daemon/controller.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "conf/load.hpp"
#include "daemon/controller_config.hpp"
#include "daemon/controller_counters.hpp"
#include "daemon/controller_fleet.hpp"
#include "daemon/controller_status.hpp"
#include "daemon/reload_plan.hpp"
#include "daemon/notify.hpp"

namespace herald::daemon {

namespace asio = boost::asio;

using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

Controller::Controller(asio::io_context& io, std::string config_path, conf::Config config,
                       log::Logger& logger, bool dry_run)
    : io_(io),
      dry_run_option_(dry_run),
      config_path_(std::move(config_path)),
      config_(std::move(config)),
      log_(logger),
      started_(SystemClock::now()),
      binders_(io, logger, [this](const std::vector<ServiceAddressChange>& c) { on_address_change(c); }),
      state_file_(config_.global.state_dir),
      watchdog_(io),
      shutdown_timer_(io),
      policy_timer_(io),
      drain_wait_timer_(io) {}

// An exit without shutdown() (a second signal, the exit deadline) still deletes the query
// counters' table: it would count for nobody until the next start.
Controller::~Controller() { counters_stop(); }

// ---------------------------------------------------------------- start

bool Controller::start() {
  if (dry_run_option_) config_.global.dry_run = true;
  // A dry run decides as usual with inert components chosen by the configuration's dry_run
  // (controller_config.cpp): a speaker that never connects nor listens, no address binder, and
  // a state file that is read but never written.
  if (config_.global.dry_run) {
    state_file_.set_read_only();
    log_.write(log::Level::notice, "dry run",
               {{"reason", "checks run and decide as usual; no BGP session is opened, no address is "
                           "bound, the state file is not written"}});
  }
  // systemd's StateDirectory= creates it for the unit; by hand, herald does.
  std::error_code dir_ec;
  if (!config_.global.dry_run) std::filesystem::create_directories(config_.global.state_dir, dir_ec);
  if (dir_ec)
    log_.write(log::Level::error, "cannot create state directory",
               {{"path", config_.global.state_dir}, {"reason", dir_ec.message()}});
  auto loaded = state_file_.load();
  state_ = loaded.state;
  if (loaded.problem)
    log_.write(log::Level::error, "state file unusable, every service drained",
               {{"file", state_file_.path().string()}, {"reason", *loaded.problem}});
  if (!loaded.problem && state_.fail_safe())
    log_.write(log::Level::warning, "fail-safe drain still in force",
               {{"file", state_file_.path().string()}, {"reason", state_.drain_all->reason}});
  if (!state_.empty())
    log_.write(log::Level::info, "restored operator state",
               {{"file", state_file_.path().string()},
                {"drained", static_cast<std::uint64_t>(state_.drained.size())},
                {"drain_all", state_.drain_all.has_value()},
                {"steering", static_cast<std::uint64_t>(state_.steering.size())},
                {"flap_holds", static_cast<std::uint64_t>(state_.flap_holds.size())},
                {"disabled_peers", static_cast<std::uint64_t>(state_.disabled_peers.size())}});

  build_services();
  binders_.bind(config_);
  counters_apply("start");

  // Control socket: the operator's way in. Without it herald would be unmanageable: fatal.
  control::Server::Options copts;
  copts.path = config_.global.control_socket;
  if (!config_.global.control_group.empty()) {
    auto gid = control::lookup_group(config_.global.control_group);
    if (!gid) {
      log_.write(log::Level::error, "cannot start", {{"reason", gid.error()}});
      abandon_start();
      return false;
    }
    copts.group = *gid;
  }
  // Idle clients are closed to keep the operator's way in open; say so, at most every 10 s.
  copts.on_drop = [this](DropReason, const std::string& why, const control::Caller& who) {
    log_.write_limited(log::Level::warning, "control connection closed",
                       {{"uid", static_cast<std::uint64_t>(who.uid)}, {"reason", why}});
  };
  std::error_code ec;
  std::filesystem::create_directories(copts.path.parent_path(), ec);
  auto server = control::Server::start(
      io_, copts, [this](const control::Command& c, const control::Caller& who, control::Server::Reply reply) {
        handle_async(c, who, std::move(reply));
      });
  if (!server) {
    log_.write(log::Level::error, "cannot start", {{"reason", server.error()}});
    abandon_start();
    return false;
  }
  control_ = *server;

  if (config_.global.metrics) {
    metrics::HttpServer::Options mopts;
    mopts.endpoint = bgp::transport::to_asio(
        bgp::transport::Endpoint{config_.global.metrics->address, config_.global.metrics->port});
    mopts.on_drop = [this](DropReason, const std::string& why, const asio::ip::address& from) {
      log_.write_limited(log::Level::warning, "metrics connection closed",
                         {{"client", from.to_string()}, {"reason", why}});
    };
    auto http = metrics::HttpServer::start(io_, mopts, [this] { return metrics_text(); });
    if (!http) {
      log_.write(log::Level::error, "cannot start", {{"reason", http.error()}});
      abandon_start();
      return false;
    }
    metrics_http_ = *http;
  }

  speaker_ = std::make_unique<bgp::Speaker>(io_, speaker_settings(config_), speaker_peers_now(),
                                            speaker_observer());
  for (const auto& err : speaker_->start())
    log_.write(log::Level::error, "bgp listener problem", {{"reason", err}});

  monitor_ = std::make_unique<health::Monitor>(
      io_, health_specs(config_),
      [this](const health::ServiceStatus& st, health::ServiceState prev) { on_health(st, prev); });
  monitor_->on_result([this](const std::string& service, const std::string& check, const health::CheckResult& r) {
    metrics_.record_check_result(service, check, r);
    fleet_on_check_result(service);
  });
  // Flap holds running when herald stopped go on (a restart must not release a flapping
  // service); ended ones are dropped here or, when they end later, by on_health().
  for (const auto& [name, h] : std::map(state_.flap_holds))
    if (!monitor_->restore_flap_hold(name, flap_hold_of(h))) state_.flap_holds.erase(name);
  if (!fleet_start()) {
    abandon_start();
    return false;
  }
  monitor_->start();

  evaluate_all("start");
  publish_routes("start");

  log_.write(log::Level::info, "herald started",
             {{"config", config_path_}, {"dry_run", config_.global.dry_run},
              {"peers", static_cast<std::uint64_t>(config_.peers.size())},
              {"services", static_cast<std::uint64_t>(config_.services.size())},
              {"control", config_.global.control_socket}});
  if (auto r = notify::ready(); !r) log_.write(log::Level::warning, "sd_notify failed", {{"reason", r.error()}});
  update_notify_status();
  start_watchdog();
  return true;
}

void Controller::abandon_start() {
  binders_.undo();
  counters_stop();
  if (control_) control_->stop();
  control_.reset();
  if (metrics_http_) metrics_http_->stop();
  metrics_http_.reset();
  log_.write(log::Level::notice, "start-up undone",
             {{"reason", "herald cannot run: the addresses it added are removed, its control socket closed"}});
}

void Controller::build_services() {
  // Into config_.services, not copies (a service may list 100,000 prefixes): called after every
  // reload, while the previous config is still alive.
  policy_.set_services(config_.services, SystemClock::now());
  binders_.reset_readiness();
}

// ---------------------------------------------------------------- state decisions

void Controller::on_address_change(const std::vector<ServiceAddressChange>& changes) {
  bool changed = false;
  for (const auto& c : changes)
    if (policy_.decision(c.service)) {
      evaluate(c.service, c.reason);
      changed = true;
    }
  if (changed) publish_routes("address change");
}

PolicyWorld Controller::world() const {
  Shutdown sd = !shutting_down_ ? Shutdown::No
                : config_.global.drain_on_shutdown ? Shutdown::Draining
                                                   : Shutdown::Withdrawing;
  return PolicyWorld{&state_, sd, config_.global.local_as, &config_.peers, fleet_ ? &fleet_->answers : nullptr};
}

HealthInput Controller::health_of(const std::string& service) const {
  if (monitor_)
    if (auto st = monitor_->status(service)) return health_input(*st);
  return health_without_checks();
}

AddressInput Controller::address_of(const std::string& service) const {
  return binders_.address(service);
}

void Controller::on_health(const health::ServiceStatus& st, health::ServiceState previous) {
  if (!policy_.decision(st.name)) return;
  track_flap_hold(st);
  log_.write(st.state == health::ServiceState::Up ? log::Level::info : log::Level::warning, "health change",
             {{"service", st.name}, {"old", health::to_string(previous)}, {"new", health::to_string(st.state)},
              {"reason", st.reason}});
  // The status as reported: during a reload the monitor calls this before it holds the service.
  evaluate(st.name, st.reason, health_input(st));
  publish_routes("health change");
}

void Controller::track_flap_hold(const health::ServiceStatus& st) {
  std::optional<PersistentState::FlapHold> now;
  if (st.flap_hold_until)
    now = persisted_flap_hold(health::FlapHold{st.flap_hold_until->wall, st.flap_next_hold});
  auto it = state_.flap_holds.find(st.name);
  std::optional<PersistentState::FlapHold> before;
  if (it != state_.flap_holds.end()) before = it->second;
  if (now == before) return;
  if (now) {
    state_.flap_holds[st.name] = *now;
  } else {
    state_.flap_holds.erase(st.name);
  }
  save_state();
}

void Controller::evaluate_all(std::string_view cause) {
  for (const auto& name : policy_.services()) evaluate(name, cause);
}

void Controller::evaluate(const std::string& service, std::string_view cause, std::optional<HealthInput> health) {
  const auto now = SystemClock::now();
  apply(policy_.evaluate(service, health ? *health : health_of(service), address_of(service), world(), cause, now));
  if (const auto* d = policy_.decision(service); d && record_drain_start(state_, service, d->drain_began))
    drain_starts_dirty_ = true;
  arm_policy_timer();
  fleet_after_evaluate(service);
}

void Controller::arm_policy_timer() {
  const auto due = policy_.next_wakeup();
  if (due == policy_timer_due_) return;
  policy_timer_due_ = due;
  policy_timer_.cancel();
  if (!due) return;
  policy_timer_.expires_after(std::max(SystemClock::duration::zero(), *due - SystemClock::now()));
  policy_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    policy_timer_due_.reset();
    const auto events = policy_.advance(SystemClock::now());
    apply(events);
    arm_policy_timer();
    if (!events.empty()) publish_routes("drain period over");
  });
}

// ---------------------------------------------------------------- systemd

void Controller::update_notify_status() {
  if (!speaker_) return;
  std::size_t up = 0, total = 0;
  for (const auto& ps : speaker_->status()) {
    ++total;
    if (ps.bgp.state == bgp::State::Established) ++up;
  }
  (void)notify::status(fmt::format("{}peers up {}/{}, services announced {}/{}",
                                   config_.global.dry_run ? "dry run, nothing sent: " : "", up, total,
                                   policy_.services_announced(), config_.services.size()));
}

void Controller::start_watchdog() {
  auto interval = notify::watchdog_interval();
  if (!interval || !*interval) return;
  // systemd asks for keep-alives within WatchdogSec; sending at half of it leaves slack.
  watchdog_period_ = std::chrono::duration_cast<SteadyClock::duration>(**interval) / 2;
  feed_watchdog();
}

// Fed from the event loop itself: a stuck loop stops the keep-alives and systemd restarts us.
void Controller::feed_watchdog() {
  (void)notify::watchdog();
  watchdog_.expires_after(watchdog_period_);
  watchdog_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) feed_watchdog();
  });
}

// ---------------------------------------------------------------- reload

std::optional<std::string> Controller::reload() {
  if (shutting_down_) return std::string("reload refused: herald is shutting down");
  (void)notify::reloading();
  auto loaded = conf::load_file(config_path_, &conf::system_host());
  if (loaded && dry_run_option_) loaded->global.dry_run = true;
  std::optional<std::string> problem;
  if (!loaded) {
    std::string all;
    for (const auto& e : loaded.error()) all += (all.empty() ? "" : "\n") + e.to_string();
    problem = "configuration not reloaded, the running one is kept:\n" + all;
  } else {
    // Settings that live in sockets opened once at start need a restart; refuse rather than
    // half-apply them.
    if (auto refusal = restart_refusal(config_.global, loaded->global); !refusal.empty()) problem = refusal;
    else if (loaded->fleet != config_.fleet) problem = "[fleet] changed: it takes effect at a restart";
  }
  if (problem) {
    log_.write(log::Level::error, "reload refused", {{"config", config_path_}, {"reason", *problem}});
    publish_event({{"event", "reload"}, {"new", "refused"}, {"reason", *problem}});
    (void)notify::ready();
    return problem;
  }
  conf::Config next = std::move(loaded.value());
  conf::Config old = std::move(config_);
  config_ = std::move(next);
  log_.reconfigure(log_options(config_.global, log::stderr_is_journal()));

  // Peers: untouched ones keep their sessions.
  for (const auto& step : plan_peer_reload(old.peers, config_.peers)) apply(step);

  // Services: states of kept services carry over; new ones start from their start state.
  log_service_peer_moves(plan_service_peers(old, config_));
  build_services();
  monitor_->replace(health_specs(config_));
  // A changed service keeps its flap hold, unless flap control is now off.
  for (const auto& st : monitor_->snapshot()) track_flap_hold(st);
  binders_.bind(config_);
  counters_apply("reload");
  evaluate_all("reload");
  publish_routes("reload");
  log_.write(log::Level::notice, "configuration reloaded",
             {{"config", config_path_}, {"peers", static_cast<std::uint64_t>(config_.peers.size())},
              {"services", static_cast<std::uint64_t>(config_.services.size())}});
  publish_event({{"event", "reload"}, {"new", "ok"}});
  (void)notify::ready();
  return std::nullopt;
}

void Controller::apply(const PeerStep& step) {
  using A = PeerStep::Action;
  const auto& name = step.peer->name;
  switch (step.action) {
    case A::Remove:
      log_.write(log::Level::notice, "peer removed", {{"peer", name}, {"reason", "reload"}});
      speaker_->remove_peer(name, "peer removed from herald's configuration");
      return;
    case A::Add:
      log_.write(log::Level::notice, "peer added", {{"peer", name}, {"reason", "reload"}});
      if (auto err = speaker_->add_peer(speaker_peer_now(*step.peer)))
        log_.write(log::Level::error, "peer add failed", {{"peer", name}, {"reason", *err}});
      return;
    case A::RetuneKeepingSession:
      // The speaker checks the same on its own side; should it refuse, the session restarts.
      if (!speaker_->retune_peer_keeping_session(speaker_peer(config_, *step.peer))) {
        log_.write(log::Level::notice, "peer changed, session kept",
                   {{"peer", name}, {"changed", step.changed}, {"reason", "reload"}});
        return;
      }
      [[fallthrough]];
    case A::RestartSession:
      log_.write(log::Level::notice, "peer changed, session restarts",
                 {{"peer", name}, {"changed", step.changed}, {"reason", "reload"}});
      if (auto err = speaker_->restart_peer(speaker_peer_now(*step.peer)))
        log_.write(log::Level::error, "peer update failed", {{"peer", name}, {"reason", *err}});
      return;
  }
}

// ---------------------------------------------------------------- shutdown

void Controller::shutdown(std::string reason, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  (void)notify::stopping();
  log_.write(log::Level::notice, "shutting down", {{"reason", reason}});
  auto finish = [this, reason, done = std::move(done)]() mutable {
    // Withdraw first, then close the sessions, then give the addresses back: the route must
    // never point at an address that is gone.
    if (speaker_) speaker_->set_peer_routes({});
    policy_.forget_published();
    if (monitor_) monitor_->stop();
    auto after_bgp = [this, done = std::move(done)]() {
      binders_.release();
      counters_stop();
      if (control_) control_->stop();
      if (metrics_http_) metrics_http_->stop();
      watchdog_.cancel();
      policy_timer_.cancel();
      // The fleet last: the published state said "drained" or "down" while routes went away.
      fleet_stop([this, done] {
        log_.write(log::Level::notice, "herald stopped");
        done();
      });
    };
    if (speaker_) {
      speaker_->stop("herald shutting down: " + reason, std::move(after_bgp));
    } else {
      after_bgp();
    }
  };
  // Drain first when configured and something is announced: upstreams see GRACEFUL_SHUTDOWN
  // and move traffic before the withdrawal.
  conf::Duration wait{0};
  if (config_.global.drain_on_shutdown) {
    for (const auto& sc : config_.services) {
      const bool was_up = policy_.decision(sc.name)->state == ServiceState::Up;
      evaluate(sc.name, "shutdown");
      if (was_up && policy_.decision(sc.name)->state == ServiceState::Drained && sc.policy.drain_period)
        wait = std::max(wait, *sc.policy.drain_period);
    }
    publish_routes("shutdown drain");
  }
  wait = std::min(wait, config_.global.shutdown_timeout);
  if (wait.count() == 0) {
    finish();
    return;
  }
  log_.write(log::Level::notice, "draining before shutdown", {{"seconds", std::chrono::duration<double>(wait).count()}});
  shutdown_timer_.expires_after(wait);
  shutdown_timer_.async_wait([finish = std::move(finish)](const boost::system::error_code&) mutable { finish(); });
}

std::string Controller::metrics_text() {
  ControllerMetrics::Inputs in{config_, state_, policy_, std::nullopt, std::nullopt, {}};
  if (speaker_) in.speaker = ControllerMetrics::view_of(*speaker_);
  if (monitor_) in.health = monitor_->snapshot();
  if (control_) in.listeners["control"] = control_->dropped();
  if (metrics_http_) in.listeners["metrics"] = metrics_http_->dropped();
  in.queries = queries_view();
  return metrics_.render(in);
}

nlohmann::json Controller::status_json() const {
  return build_status({started_, config_, state_, policy_, speaker_.get(), monitor_.get()});
}

}  // namespace herald::daemon
