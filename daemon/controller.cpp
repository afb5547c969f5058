#include "daemon/controller.hpp"

#include <malloc.h>

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "conf/load.hpp"
#include "daemon/controller_config.hpp"
#include "daemon/controller_prefix_log.hpp"
#include "daemon/notify.hpp"


namespace herald::daemon {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

struct Controller::Service {
  // Into config_.services, not a copy (a service may list 100,000 prefixes). build_services()
  // re-points it after every reload, while the previous config is still alive.
  const conf::ServiceConfig* cfg = nullptr;
  bool has_checks = false;
  health::ServiceState health = health::ServiceState::Down;
  std::string health_reason;
  bool addr_ready = true;
  std::string addr_reason;
  ServiceState state = ServiceState::Down;
  std::string reason;
  SystemClock::time_point since;
  DrainStart drain_start;      // when the drain in force began (drain_period.hpp)
  bool drain_expired = false;  // drained for longer than drain-period: withdrawn
  std::unique_ptr<asio::steady_timer> drain_timer;
  std::uint64_t changes = 0;
};

struct Controller::Binder {
  std::string key;
  std::string signature;  // binding settings + addresses: equal signature, nothing to redo
  std::unique_ptr<netlink::LibnlBackend> backend;
  std::unique_ptr<netlink::AddressBinder> binder;
  std::unique_ptr<asio::posix::stream_descriptor> watch;
  std::vector<std::string> services;
  std::string error;
};

namespace {

// The "bfd" member of a peer in the status reply (null without BFD).
nlohmann::json bfd_status(const bgp::SpeakerPeerStatus& ps) {
  if (!ps.bfd) return ps.bfd_waiting ? nlohmann::json{{"state", "Down"}, {"waiting", true}} : nlohmann::json(nullptr);
  const auto& st = ps.bfd->status;
  auto ms = [](bgp::bfd::Micros m) { return static_cast<double>(m.count()) / 1000.0; };
  return nlohmann::json{{"state", bgp::bfd::to_string(st.state)},
                        {"remote_state", bgp::bfd::to_string(st.remote_state)},
                        {"local_diag", bgp::bfd::to_string(st.local_diag)},
                        {"remote_diag", bgp::bfd::to_string(st.remote_diag)},
                        {"tx_interval_ms", ms(st.tx_interval)},
                        {"detect_time_ms", ms(st.detect_time)},
                        {"remote_detect_mult", st.remote_detect_mult},
                        {"flaps", st.flaps},
                        {"local_discriminator", st.local_discriminator},
                        {"remote_discriminator", st.remote_discriminator},
                        {"source_port", ps.bfd->source_port},
                        {"waiting", ps.bfd_waiting}};
}

std::string signature_of(const BinderGroup& g) {
  std::string sig = g.key;
  for (const auto& s : g.config.services) {
    sig += "|" + s.service;
    for (const auto& a : s.addresses) sig += " " + a.to_string();
  }
  return sig;
}

// The wall-clock time of a steady_clock instant in the past.
SystemClock::time_point wall_of(SteadyClock::time_point t) {
  auto age = SteadyClock::now() - t;
  return SystemClock::now() - std::chrono::duration_cast<SystemClock::duration>(age);
}

// Seconds; a native DNS check on the same host takes well under a millisecond.
const std::vector<double> kCheckLatencyBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

std::string family_label(bgp::Family f) { return bgp::to_string(f); }

// How many of a service's prefixes `status` lists (prefix_count has them all).
constexpr std::size_t kStatusPrefixes = 16;

const char* message_type_label(std::size_t i) {
  static const char* names[] = {"", "open", "update", "notification", "keepalive", "route_refresh"};
  return i < 6 ? names[i] : "";
}

}  // namespace

Controller::Controller(asio::io_context& io, std::string config_path, conf::Config config,
                       log::Logger& logger)
    : io_(io),
      config_path_(std::move(config_path)),
      config_(std::move(config)),
      log_(logger),
      started_(SystemClock::now()),
      state_file_(config_.global.state_dir),
      watchdog_(io),
      shutdown_timer_(io) {
  register_metrics();
}

Controller::~Controller() = default;

// ---------------------------------------------------------------- start

bool Controller::start() {
  // systemd's StateDirectory= creates it for the unit; by hand, herald does.
  std::error_code dir_ec;
  std::filesystem::create_directories(config_.global.state_dir, dir_ec);
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
                {"flap_holds", static_cast<std::uint64_t>(state_.flap_holds.size())}});

  build_services();
  bind_addresses();

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
  copts.on_drop = [this](DropReason r, const std::string& why, const control::Caller& who) {
    registry_.counter("herald_connections_dropped_total", "", {"listener", "reason"}).with({"control", to_string(r)}).inc();
    log_.write_limited(log::Level::warning, "control connection closed",
                       {{"uid", static_cast<std::uint64_t>(who.uid)}, {"reason", why}});
  };
  std::error_code ec;
  std::filesystem::create_directories(copts.path.parent_path(), ec);
  auto server = control::Server::start(
      io_, copts, [this](const control::Command& c, const control::Caller& who) { return handle(c, who); });
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
    mopts.on_drop = [this](DropReason r, const std::string& why, const asio::ip::address& from) {
      registry_.counter("herald_connections_dropped_total", "", {"listener", "reason"}).with({"metrics", to_string(r)}).inc();
      log_.write_limited(log::Level::warning, "metrics connection closed",
                         {{"client", from.to_string()}, {"reason", why}});
    };
    auto http = metrics::HttpServer::start(io_, mopts, [this] { return render_metrics(); });
    if (!http) {
      log_.write(log::Level::error, "cannot start", {{"reason", http.error()}});
      abandon_start();
      return false;
    }
    metrics_http_ = *http;
  }

  speaker_ = std::make_unique<bgp::Speaker>(io_, speaker_settings(config_), speaker_peers(config_),
                                            speaker_observer());
  for (const auto& err : speaker_->start())
    log_.write(log::Level::error, "bgp listener problem", {{"reason", err}});

  monitor_ = std::make_unique<health::Monitor>(
      io_, health_specs(config_),
      [this](const health::ServiceStatus& st, health::ServiceState prev) { on_health(st, prev); });
  monitor_->on_result([this](const std::string& service, const std::string& check, const health::CheckResult& r) {
    record_check_result(service, check, r);
  });
  // Flap holds running when herald stopped go on (a restart must not release a flapping
  // service); ended ones are dropped here or, when they end later, by on_health().
  for (const auto& [name, h] : std::map(state_.flap_holds))
    if (!monitor_->restore_flap_hold(name, flap_hold_of(h))) state_.flap_holds.erase(name);
  monitor_->start();

  for (auto& s : services_) evaluate(*s, "start");
  publish_routes("start");

  log_.write(log::Level::info, "herald started",
             {{"config", config_path_},
              {"peers", static_cast<std::uint64_t>(config_.peers.size())},
              {"services", static_cast<std::uint64_t>(config_.services.size())},
              {"control", config_.global.control_socket}});
  if (auto r = notify::ready(); !r) log_.write(log::Level::warning, "sd_notify failed", {{"reason", r.error()}});
  update_notify_status();
  start_watchdog();
  return true;
}

void Controller::abandon_start() {
  for (auto& b : binders_) {
    if (!b->binder) continue;
    if (b->watch) b->watch->cancel();
    for (const auto& e : b->binder->undo())
      log_.write(log::Level::warning, "address release failed", {{"reason", e.message}});
  }
  if (control_) control_->stop();
  control_.reset();
  if (metrics_http_) metrics_http_->stop();
  metrics_http_.reset();
  log_.write(log::Level::notice, "start-up undone",
             {{"reason", "herald cannot run: the addresses it added are removed, its control socket closed"}});
}

void Controller::record_check_result(const std::string& service, const std::string& check,
                                     const health::CheckResult& r) {
  auto key = std::pair<std::string, std::string>(service, check);
  auto it = check_series_.find(key);
  if (it == check_series_.end()) {
    auto& results = registry_.counter("herald_check_results_total", "", {"service", "check", "result"});
    CheckSeries s;
    s.latency = &registry_.histogram("herald_check_latency_seconds", "", {"service"}, kCheckLatencyBuckets).with({service});
    s.pass = &results.with({service, check, "pass"});
    s.fail = &results.with({service, check, "fail"});
    it = check_series_.emplace(std::move(key), s).first;
  }
  it->second.latency->observe(std::chrono::duration<double>(r.latency).count());
  (r.pass ? it->second.pass : it->second.fail)->inc();
}

void Controller::build_services() {
  std::map<std::string, std::unique_ptr<Service>> old;
  for (auto& s : services_) old[s->cfg->name] = std::move(s);
  services_.clear();
  for (const auto& sc : config_.services) {
    std::unique_ptr<Service> s;
    if (auto it = old.find(sc.name); it != old.end()) {
      s = std::move(it->second);
      bool had_checks = s->has_checks;
      s->cfg = &sc;
      s->has_checks = !sc.checks.empty();
      if (!s->has_checks) {
        s->health = health::ServiceState::Up;
        s->health_reason = "no health checks configured";
      } else if (!had_checks) {
        s->health = sc.health.start == conf::ServiceState::Up ? health::ServiceState::Up
                                                               : health::ServiceState::Down;
        s->health_reason = "checks added by reload";
      }
    } else {
      s = std::make_unique<Service>();
      s->cfg = &sc;
      s->has_checks = !sc.checks.empty();
      s->since = SystemClock::now();
      s->drain_timer = std::make_unique<asio::steady_timer>(io_);
      if (!s->has_checks) {
        s->health = health::ServiceState::Up;
        s->health_reason = "no health checks configured";
      } else if (sc.health.start == conf::ServiceState::Up) {
        s->health = health::ServiceState::Up;
        s->health_reason = "start state up (configured)";
      } else {
        s->health = health::ServiceState::Down;
        s->health_reason = fmt::format("waiting for {} passing check rounds", sc.health.rise);
      }
      s->reason = s->health_reason;
    }
    s->addr_ready = true;
    s->addr_reason.clear();
    services_.push_back(std::move(s));
  }
}

// ---------------------------------------------------------------- addresses (netlink)

void Controller::bind_addresses() {
  auto groups = binder_groups(config_);
  std::vector<std::unique_ptr<Binder>> next;
  for (auto& g : groups) {
    std::string sig = signature_of(g);
    auto same = std::find_if(binders_.begin(), binders_.end(),
                             [&](const auto& b) { return b && b->signature == sig && b->error.empty(); });
    if (same != binders_.end()) {
      next.push_back(std::move(*same));
      continue;
    }
    auto b = std::make_unique<Binder>();
    b->key = g.key;
    b->signature = sig;
    for (const auto& sa : g.config.services) b->services.push_back(sa.service);
    auto backend = netlink::LibnlBackend::open();
    if (!backend) {
      b->error = backend.error().message;
    } else {
      b->backend = std::move(backend.value());
      b->binder = std::make_unique<netlink::AddressBinder>(*b->backend, g.config);
      if (auto st = b->binder->bind(); !st) b->error = st.error().message;
    }
    if (!b->error.empty()) {
      log_.write(log::Level::error, "address binding failed",
                 {{"interface", g.config.interface}, {"reason", b->error}});
    } else {
      for (const auto& sa : g.config.services) {
        if (sa.addresses.size() <= kPrefixLinesPerService) {
          for (const auto& a : sa.addresses)
            log_.write(log::Level::info, "address bound",
                       {{"service", sa.service}, {"address", a.to_string()}, {"interface", g.config.interface},
                        {"origin", b->binder->origin(a) == netlink::Origin::Adopted ? "adopted" : "added"}});
          continue;
        }
        std::uint64_t adopted = 0;
        for (const auto& a : sa.addresses) adopted += b->binder->origin(a) == netlink::Origin::Adopted ? 1 : 0;
        log_.write(log::Level::info, "addresses bound",
                   {{"service", sa.service}, {"count", static_cast<std::uint64_t>(sa.addresses.size())},
                    {"added", sa.addresses.size() - adopted}, {"adopted", adopted},
                    {"first", sa.addresses.front().to_string()}, {"interface", g.config.interface}});
      }
      arm_netlink(*b);
    }
    next.push_back(std::move(b));
  }
  // Binders no longer wanted: give back what they added (when configured to).
  for (auto& b : binders_)
    if (b && b->binder) {
      if (b->watch) b->watch->cancel();
      for (const auto& e : b->binder->release())
        log_.write(log::Level::warning, "address release failed", {{"reason", e.message}});
    }
  binders_ = std::move(next);

  // Service readiness from the binders that hold them.
  for (auto& s : services_) {
    if (!s->cfg->address.bind) {
      s->addr_ready = true;
      s->addr_reason.clear();
      continue;
    }
    for (auto& b : binders_) {
      if (std::find(b->services.begin(), b->services.end(), s->cfg->name) == b->services.end()) continue;
      if (!b->error.empty()) {
        s->addr_ready = false;
        s->addr_reason = b->error;
      } else {
        s->addr_ready = b->binder->service_ready(s->cfg->name);
        s->addr_reason = s->addr_ready ? "" : fmt::format("addresses of {} not present on {}", s->cfg->name,
                                                          b->binder->interface());
      }
    }
  }
}

void Controller::arm_netlink(Binder& b) {
  if (!b.binder || b.binder->fd() < 0) return;
  if (!b.watch) {
    int fd = ::dup(b.binder->fd());
    if (fd < 0) {
      log_.write(log::Level::error, "cannot watch addresses", {{"reason", "dup failed"}});
      return;
    }
    b.watch = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
  }
  b.watch->async_wait(asio::posix::stream_descriptor::wait_read, [this, bp = &b](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled
    on_netlink(*bp);
  });
}

void Controller::on_netlink(Binder& b) {
  bool changed = false;
  for (const auto& ev : b.binder->process()) {
    using K = netlink::Event::Kind;
    auto level = (ev.kind == K::AddressDown || ev.kind == K::InterfaceDown || ev.kind == K::ServiceDown ||
                  ev.kind == K::ReaddFailed)
                     ? log::Level::warning
                     : log::Level::info;
    log_.write(level, "address event",
               {{"event", netlink::to_string(ev.kind)},
                {"interface", ev.interface},
                {"address", ev.address ? ev.address->to_string() : std::string("-")},
                {"service", ev.service.empty() ? std::string("-") : ev.service},
                {"reason", ev.reason}});
    if (ev.kind == K::ServiceDown || ev.kind == K::ServiceUp) {
      if (auto* s = find_service(ev.service)) {
        s->addr_ready = ev.kind == K::ServiceUp;
        s->addr_reason = s->addr_ready ? "" : ev.reason;
        evaluate(*s, ev.reason);
        changed = true;
      }
    }
  }
  if (changed) publish_routes("address change");
  arm_netlink(b);
}

void Controller::release_addresses() {
  for (auto& b : binders_) {
    if (!b->binder) continue;
    if (b->watch) b->watch->cancel();
    for (const auto& e : b->binder->release())
      log_.write(log::Level::warning, "address release failed", {{"reason", e.message}});
  }
}

// ---------------------------------------------------------------- state decisions

Controller::Service* Controller::find_service(std::string_view name) {
  for (auto& s : services_)
    if (s->cfg->name == name) return s.get();
  return nullptr;
}

void Controller::on_health(const health::ServiceStatus& st, health::ServiceState previous) {
  Service* s = find_service(st.name);
  if (!s) return;
  s->health = st.state;
  s->health_reason = st.reason;
  track_flap_hold(st);
  log_.write(st.state == health::ServiceState::Up ? log::Level::info : log::Level::warning, "health change",
             {{"service", st.name}, {"old", health::to_string(previous)}, {"new", health::to_string(st.state)},
              {"reason", st.reason}});
  evaluate(*s, st.reason);
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

void Controller::evaluate(Service& s, std::string_view cause) {
  ServiceState next = ServiceState::Up;
  std::string why;
  const auto& name = s.cfg->name;
  if (!s.addr_ready) {
    next = ServiceState::Down;
    why = s.addr_reason;
  } else if (s.health == health::ServiceState::Down) {
    next = ServiceState::Down;
    why = s.health_reason;
  } else if (s.health == health::ServiceState::Drained) {
    next = ServiceState::Drained;
    why = "maintenance: " + s.health_reason;
  } else if (state_.drain_all) {
    next = ServiceState::Drained;
    why = "drained by operator (all services)" + (state_.drain_all->reason.empty() ? "" : ": " + state_.drain_all->reason);
  } else if (auto it = state_.drained.find(name); it != state_.drained.end()) {
    next = ServiceState::Drained;
    why = "drained by operator" + (it->second.reason.empty() ? "" : ": " + it->second.reason);
  } else if (shutting_down_ && config_.global.drain_on_shutdown) {
    next = ServiceState::Drained;
    why = "herald is shutting down";
  } else {
    next = ServiceState::Up;
    why = s.health_reason;
  }
  const auto now = SystemClock::now();
  s.drain_start.update(next, persisted_drain_start(state_, name), now);
  if (record_drain_start(state_, name, s.drain_start.began())) drain_starts_dirty_ = true;
  if (next == s.state && s.changes > 0) {
    s.reason = why;
    return;
  }
  ServiceState old = s.state;
  bool first = s.changes == 0;
  s.state = next;
  s.reason = why;
  s.since = now;
  ++s.changes;
  if (!first || next != ServiceState::Down) {
    log_.write(next == ServiceState::Up ? log::Level::notice : log::Level::warning, "service state change",
               {{"service", name}, {"old", first ? std::string_view("Start") : to_string(old)},
                {"new", to_string(next)}, {"reason", why}, {"cause", cause}});
    publish_event({{"event", "service"}, {"service", name}, {"old", first ? "Start" : to_string(old)},
                   {"new", to_string(next)}, {"reason", why}});
    registry_.counter("herald_service_state_changes_total", "Service state changes.", {"service"})
        .with({name})
        .inc();
  }
  s.drain_expired = false;
  s.drain_timer->cancel();
  if (next == ServiceState::Drained) arm_drain_timer(s, now);
}

void Controller::arm_drain_timer(Service& s, SystemClock::time_point now) {
  const auto phase = drain_phase(s.cfg->policy.drain_period, *s.drain_start.began(), now);
  if (phase.withdraw) {
    // Its period ran out before (herald restarted, or the service was Down meanwhile): the
    // prefixes were withdrawn then and stay so.
    s.drain_expired = true;
    log_.write(log::Level::info, "drain period already over",
               {{"service", s.cfg->name},
                {"since", log::format_timestamp(*s.drain_start.began())},
                {"reason", "drained prefixes stay withdrawn"}});
    return;
  }
  if (!phase.remaining) return;  // stays announced while drained
  s.drain_timer->expires_after(*phase.remaining);
  s.drain_timer->async_wait([this, name = s.cfg->name](const boost::system::error_code& ec) {
    if (ec) return;
    Service* sp = find_service(name);
    if (!sp || sp->state != ServiceState::Drained) return;
    sp->drain_expired = true;
    log_.write(log::Level::info, "drain period over", {{"service", name}, {"reason", "withdrawing drained prefixes"}});
    publish_routes("drain period over");
  });
}

const conf::StatePolicy* Controller::policy_for(const Service& s) const {
  static const conf::StatePolicy kWithdraw = [] {
    conf::StatePolicy p;
    p.action = conf::Action::Withdraw;
    return p;
  }();
  switch (s.state) {
    case ServiceState::Up: return &s.cfg->policy.up;
    case ServiceState::Down: return &s.cfg->policy.down;
    case ServiceState::Drained: return s.drain_expired ? &kWithdraw : &s.cfg->policy.drained;
  }
  return &kWithdraw;
}

std::vector<bgp::Route> Controller::desired_routes() const {
  std::vector<bgp::Route> routes;
  std::size_t total = 0;
  for (const auto& s : services_) total += s->cfg->prefixes.size();
  routes.reserve(total);
  for (const auto& s : services_) {
    const conf::StatePolicy* p = policy_for(*s);
    if (p->action != conf::Action::Announce) continue;
    bgp::RouteAttributes a;
    a.origin = bgp::Origin::Igp;
    unsigned prepend = p->prepend;
    a.med = p->med;
    if (auto it = state_.steering.find(s->cfg->name); it != state_.steering.end()) {
      prepend = static_cast<unsigned>(it->second.prepend);
      if (it->second.med) a.med = it->second.med;
    }
    a.as_path_prepend.assign(prepend, config_.global.local_as);
    a.communities = p->communities;
    a.large_communities = p->large_communities;
    const bgp::SharedAttributes shared(a);  // interned once per service, not once per prefix
    for (const auto& prefix : s->cfg->prefixes) routes.push_back({prefix, shared});
  }
  return routes;
}

void Controller::publish_routes(std::string_view cause) {
  // Drain starts changed by the evaluate() calls before: one save for all of them.
  if (drain_starts_dirty_) {
    drain_starts_dirty_ = false;
    save_state();
  }
  if (!speaker_) return;
  auto routes = desired_routes();
  AnnouncedSet now;
  for (const auto& s : services_) {
    const conf::StatePolicy* p = policy_for(*s);
    if (p->action == conf::Action::Announce) now.add(s->cfg->name, s->cfg->prefixes);
  }
  speaker_->set_routes(std::move(routes));
  // "peers": the sessions that carry the prefix's family, not every Established one.
  const auto peer_status = speaker_->status();
  const std::size_t peers_v4 = bgp::sessions_carrying(peer_status, bgp::kIpv4Unicast);
  const std::size_t peers_v6 = bgp::sessions_carrying(peer_status, bgp::kIpv6Unicast);
  auto peers_for = [&](const bgp::Prefix& p) { return p.family() == bgp::kIpv4Unicast ? peers_v4 : peers_v6; };
  // One line (and event) per prefix while a service's change is small; one per service when
  // it is large (controller_prefix_log.hpp).
  for (const auto& change : diff_announced(announced_, now)) {
    for (auto [list, word] : {std::pair{&change.announced, "announced"}, std::pair{&change.withdrawn, "withdrawn"}}) {
      if (list->empty()) continue;
      if (list->size() <= kPrefixLinesPerService) {
        for (const auto& prefix : *list) {
          const std::size_t peers_up = peers_for(prefix);
          std::string pfx = prefix.to_string();
          log_.write(log::Level::notice, fmt::format("prefix {}", word),
                     {{"service", change.service}, {"prefix", pfx}, {"peers", peers_up}, {"reason", cause}});
          publish_event({{"event", "announce"}, {"service", change.service}, {"prefix", pfx}, {"new", word},
                         {"peers", peers_up}, {"reason", cause}});
        }
        continue;
      }
      const PrefixSummary sum = summarise(*list);
      log_.write(log::Level::notice, fmt::format("prefixes {}", word),
                 {{"service", change.service}, {"count", static_cast<std::uint64_t>(sum.count)},
                  {"ipv4", static_cast<std::uint64_t>(sum.ipv4)}, {"ipv6", static_cast<std::uint64_t>(sum.ipv6)},
                  {"first", sum.first}, {"peers_ipv4", static_cast<std::uint64_t>(peers_v4)},
                  {"peers_ipv6", static_cast<std::uint64_t>(peers_v6)}, {"reason", cause}});
      publish_event({{"event", "announce"}, {"service", change.service}, {"prefixes", sum.count},
                     {"first", sum.first}, {"new", word}, {"peers_ipv4", peers_v4}, {"peers_ipv6", peers_v6},
                     {"reason", cause}});
    }
  }
  const bool large = announced_.size() + now.size() > 64 * kPrefixLinesPerService;
  announced_ = std::move(now);
  update_notify_status();
  // A large change leaves megabytes of freed route and diff buffers in the heap; give them back
  // so a bulk service's RSS is what it holds, not what it once built.
  if (large) ::malloc_trim(0);
}

// ---------------------------------------------------------------- BGP observer

bgp::SpeakerObserver Controller::speaker_observer() {
  bgp::SpeakerObserver o;
  o.log = [this](LogLevel level, std::string_view peer, std::string_view text) {
    if (peer.empty()) {
      log_.write_limited(level, text);
    } else {
      log_.write_limited(level, text, {{"peer", peer}});
    }
  };
  // The speaker logs each state change itself (one place); here it becomes an event.
  o.state_change = [this](std::string_view peer, const bgp::StateChange& c) {
    publish_event({{"event", "peer"}, {"peer", std::string(peer)}, {"old", bgp::to_string(c.from)},
                   {"new", bgp::to_string(c.to)}, {"reason", c.reason}});
    update_notify_status();
  };
  o.bfd_state_change = [this](std::string_view peer, const bgp::bfd::StateChange& c) {
    publish_event({{"event", "bfd"}, {"peer", std::string(peer)}, {"old", bgp::bfd::to_string(c.from)},
                   {"new", bgp::bfd::to_string(c.to)}, {"diag", bgp::bfd::to_string(c.diag)}, {"reason", c.reason}});
  };
  return o;
}

// ---------------------------------------------------------------- systemd

void Controller::update_notify_status() {
  if (!speaker_) return;
  std::size_t up = 0, total = 0;
  for (const auto& ps : speaker_->status()) {
    ++total;
    if (ps.bgp.state == bgp::State::Established) ++up;
  }
  std::size_t announced_services = 0;
  for (const auto& s : services_)
    if (policy_for(*s)->action == conf::Action::Announce) ++announced_services;
  (void)notify::status(fmt::format("peers up {}/{}, services announced {}/{}", up, total, announced_services,
                                   services_.size()));
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

// ---------------------------------------------------------------- control

void Controller::publish_event(nlohmann::json event) {
  if (!control_) return;
  event["ts"] = log::format_timestamp(SystemClock::now());
  control_->publish(event);
}

std::optional<std::string> Controller::save_state() {
  auto err = state_file_.save(state_);
  if (err) log_.write(log::Level::error, "state not saved", {{"reason", *err}});
  return err;
}

nlohmann::json Controller::handle(const control::Command& cmd, const control::Caller& caller) {
  return std::visit(
      [&](const auto& c) -> nlohmann::json {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, control::Status>) {
          return control::ok_response({{"status", status_json()}});
        } else if constexpr (std::is_same_v<T, control::Drain>) {
          return do_drain(c, caller);
        } else if constexpr (std::is_same_v<T, control::Undrain>) {
          return do_undrain(c, caller);
        } else if constexpr (std::is_same_v<T, control::Steer>) {
          return do_steer(c.service, PersistentState::Steering{c.prepend, c.med}, caller);
        } else if constexpr (std::is_same_v<T, control::SteerClear>) {
          return do_steer(c.service, std::nullopt, caller);
        } else if constexpr (std::is_same_v<T, control::ClearHold>) {
          return do_clear_hold(c, caller);
        } else if constexpr (std::is_same_v<T, control::Reload>) {
          log_.write(log::Level::notice, "reload requested", {{"uid", static_cast<std::int64_t>(caller.uid)}});
          if (auto err = reload()) return control::error_response(*err);
          return control::ok_response({{"message", "configuration reloaded from " + config_path_}});
        } else {
          return control::ok_response();  // events: the server subscribes the connection
        }
      },
      cmd);
}

namespace {
std::string unknown_service_error(std::string_view verb, std::string_view name,
                                  const std::vector<std::string>& known) {
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  return fmt::format("{}: unknown service \"{}\" (configured: {})", verb, name, list.empty() ? "none" : list);
}
}  // namespace

nlohmann::json Controller::do_drain(const control::Drain& d, const control::Caller& caller) {
  std::vector<std::string> known;
  for (const auto& s : services_) known.push_back(s->cfg->name);
  PersistentState::DrainRecord rec{d.reason, std::chrono::duration_cast<std::chrono::seconds>(
                                                 SystemClock::now().time_since_epoch())
                                                 .count()};
  std::string subject;
  // Draining again what is drained updates the reason but keeps the start: a drain whose
  // period is over must not be announced again.
  auto keep_since = [&](const std::optional<PersistentState::DrainRecord>& old) {
    if (old && !old->fail_safe) rec.since = std::min(rec.since, old->since);
  };
  if (d.target.all) {
    keep_since(state_.drain_all);
    state_.drain_all = rec;
    subject = "all services";
  } else {
    if (!find_service(d.target.service)) return control::error_response(unknown_service_error("drain", d.target.service, known));
    auto it = state_.drained.find(d.target.service);
    keep_since(it == state_.drained.end() ? std::nullopt : std::optional(it->second));
    state_.drained[d.target.service] = rec;
    subject = d.target.service;
  }
  log_.write(log::Level::notice, "drain", {{"service", subject}, {"reason", d.reason},
                                           {"uid", static_cast<std::int64_t>(caller.uid)}});
  publish_event({{"event", "drain"}, {"service", subject}, {"reason", d.reason}, {"uid", caller.uid}});
  auto warn = save_state();
  for (auto& s : services_) evaluate(*s, "operator drain");
  publish_routes("operator drain");
  nlohmann::json r = {{"message", "drained " + subject}};
  if (warn) r["warning"] = *warn;
  return control::ok_response(r);
}

nlohmann::json Controller::do_undrain(const control::Undrain& d, const control::Caller& caller) {
  std::vector<std::string> known;
  for (const auto& s : services_) known.push_back(s->cfg->name);
  std::string subject;
  if (d.target.all) {
    state_.drain_all.reset();
    state_.drained.clear();
    subject = "all services";
  } else {
    if (!find_service(d.target.service))
      return control::error_response(unknown_service_error("undrain", d.target.service, known));
    state_.drained.erase(d.target.service);
    subject = d.target.service;
  }
  log_.write(log::Level::notice, "undrain", {{"service", subject}, {"uid", static_cast<std::int64_t>(caller.uid)}});
  publish_event({{"event", "undrain"}, {"service", subject}, {"uid", caller.uid}});
  auto warn = save_state();
  for (auto& s : services_) evaluate(*s, "operator undrain");
  publish_routes("operator undrain");
  nlohmann::json r = {{"message", "undrained " + subject}};
  if (warn) r["warning"] = *warn;
  if (state_.drain_all && !d.target.all) r["warning"] = "drain --all is still in force";
  return control::ok_response(r);
}

nlohmann::json Controller::do_clear_hold(const control::ClearHold& c, const control::Caller& caller) {
  if (!find_service(c.service)) {
    std::vector<std::string> known;
    for (const auto& s : services_) known.push_back(s->cfg->name);
    return control::error_response(unknown_service_error("clear-hold", c.service, known));
  }
  log_.write(log::Level::notice, "clear-hold", {{"service", c.service}, {"uid", static_cast<std::int64_t>(caller.uid)}});
  // The monitor reports the end of the hold through on_health, which saves the state.
  if (!monitor_ || !monitor_->clear_flap_hold(c.service))
    return control::ok_response({{"message", c.service + " has no flap hold; nothing changed"}});
  publish_event({{"event", "clear-hold"}, {"service", c.service}, {"uid", caller.uid}});
  nlohmann::json r = {{"message", "flap hold of " + c.service + " cleared"}};
  return control::ok_response(r);
}

nlohmann::json Controller::do_steer(const std::string& service, std::optional<PersistentState::Steering> st,
                                    const control::Caller& caller) {
  if (!find_service(service)) {
    std::vector<std::string> known;
    for (const auto& s : services_) known.push_back(s->cfg->name);
    return control::error_response(unknown_service_error("steer", service, known));
  }
  std::string what;
  if (st) {
    state_.steering[service] = *st;
    what = fmt::format("prepend {} med {}", st->prepend, st->med ? std::to_string(*st->med) : "unchanged");
  } else {
    state_.steering.erase(service);
    what = "cleared";
  }
  log_.write(log::Level::notice, "steer", {{"service", service}, {"new", what}, {"uid", static_cast<std::int64_t>(caller.uid)}});
  publish_event({{"event", "steer"}, {"service", service}, {"new", what}, {"uid", caller.uid}});
  auto warn = save_state();
  publish_routes("operator steering");
  nlohmann::json r = {{"message", "steering of " + service + ": " + what}};
  if (warn) r["warning"] = *warn;
  return control::ok_response(r);
}

// ---------------------------------------------------------------- reload

std::optional<std::string> Controller::reload() {
  if (shutting_down_) return std::string("reload refused: herald is shutting down");
  (void)notify::reloading();
  auto loaded = conf::load_file(config_path_, &conf::system_host());
  std::optional<std::string> problem;
  if (!loaded) {
    std::string all;
    for (const auto& e : loaded.error()) all += (all.empty() ? "" : "\n") + e.to_string();
    problem = "configuration not reloaded, the running one is kept:\n" + all;
  } else {
    const conf::Config& next = *loaded;
    // Settings that live in sockets opened once at start need a restart; refuse rather than
    // half-apply them.
    const auto& a = config_.global;
    const auto& b = next.global;
    std::vector<std::string> restart;
    if (a.local_as != b.local_as) restart.push_back("global.local-as");
    if (a.router_id != b.router_id) restart.push_back("global.router-id");
    if (a.listen != b.listen) restart.push_back("global.listen");
    if (a.control_socket != b.control_socket || a.control_group != b.control_group) restart.push_back("global.control-socket/control-group");
    if (a.metrics != b.metrics) restart.push_back("global.metrics");
    if (a.state_dir != b.state_dir) restart.push_back("global.state-dir");
    if (a.user != b.user) restart.push_back("global.user");
    if (!restart.empty()) {
      std::string list;
      for (const auto& r : restart) list += (list.empty() ? "" : ", ") + r;
      problem = "configuration not reloaded: changing " + list + " needs a restart of herald";
    }
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
  for (const auto& p : old.peers) {
    auto it = std::find_if(config_.peers.begin(), config_.peers.end(), [&](const auto& q) { return q.name == p.name; });
    if (it == config_.peers.end()) {
      log_.write(log::Level::notice, "peer removed", {{"peer", p.name}, {"reason", "reload"}});
      speaker_->remove_peer(p.name, "peer removed from herald's configuration");
    } else if (!(*it == p)) {
      // Description, mode, retry bounds, max-prefix and next hops apply to the running session;
      // anything negotiated or fixed for the session needs a new one.
      std::string changed;
      for (const auto& key : conf::peer_changed_keys(p, *it)) changed += (changed.empty() ? "" : ",") + key;
      if (conf::peer_session_params_equal(p, *it) && !speaker_->retune_peer(speaker_peer(config_, *it))) {
        log_.write(log::Level::notice, "peer changed, session kept",
                   {{"peer", p.name}, {"changed", changed}, {"reason", "reload"}});
        continue;
      }
      log_.write(log::Level::notice, "peer changed, session restarts",
                 {{"peer", p.name}, {"changed", changed}, {"reason", "reload"}});
      if (auto err = speaker_->update_peer(speaker_peer(config_, *it)))
        log_.write(log::Level::error, "peer update failed", {{"peer", p.name}, {"reason", *err}});
    }
  }
  for (const auto& p : config_.peers) {
    if (std::none_of(old.peers.begin(), old.peers.end(), [&](const auto& q) { return q.name == p.name; })) {
      log_.write(log::Level::notice, "peer added", {{"peer", p.name}, {"reason", "reload"}});
      if (auto err = speaker_->add_peer(speaker_peer(config_, p)))
        log_.write(log::Level::error, "peer add failed", {{"peer", p.name}, {"reason", *err}});
    }
  }

  // Services: states of kept services carry over; new ones start from their start state.
  build_services();
  monitor_->replace(health_specs(config_));
  // Services whose health is followed by the monitor take its current view.
  for (const auto& st : monitor_->snapshot()) {
    if (Service* s = find_service(st.name)) {
      s->health = st.state;
      s->health_reason = st.reason;
      track_flap_hold(st);  // a changed service keeps its hold, unless flap control is now off
    }
  }
  bind_addresses();
  for (auto& s : services_) evaluate(*s, "reload");
  publish_routes("reload");
  log_.write(log::Level::notice, "configuration reloaded",
             {{"config", config_path_}, {"peers", static_cast<std::uint64_t>(config_.peers.size())},
              {"services", static_cast<std::uint64_t>(config_.services.size())}});
  publish_event({{"event", "reload"}, {"new", "ok"}});
  (void)notify::ready();
  return std::nullopt;
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
    if (speaker_) speaker_->set_routes({});
    announced_ = {};
    if (monitor_) monitor_->stop();
    auto after_bgp = [this, done = std::move(done)]() {
      release_addresses();
      if (control_) control_->stop();
      if (metrics_http_) metrics_http_->stop();
      watchdog_.cancel();
      for (auto& s : services_) s->drain_timer->cancel();
      log_.write(log::Level::notice, "herald stopped");
      done();
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
    for (auto& s : services_) {
      bool was_up = s->state == ServiceState::Up;
      evaluate(*s, "shutdown");
      if (was_up && s->state == ServiceState::Drained && s->cfg->policy.drain_period)
        wait = std::max(wait, *s->cfg->policy.drain_period);
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

// ---------------------------------------------------------------- status

nlohmann::json Controller::status_json() const {
  using nlohmann::json;
  json st;
  st["schema"] = 1;
  st["version"] = HERALD_VERSION;
  st["pid"] = ::getpid();
  st["started"] = log::format_timestamp(started_);
  st["now"] = log::format_timestamp(SystemClock::now());
  st["local_as"] = config_.global.local_as;
  st["router_id"] = config_.global.router_id.to_string();
  st["drain_all"] = state_.drain_all ? json{{"reason", state_.drain_all->reason},
                                            {"since", log::format_timestamp(SystemClock::from_time_t(state_.drain_all->since))},
                                            {"fail_safe", state_.drain_all->fail_safe}}
                                     : json(nullptr);
  json peers = json::array();
  if (speaker_) {
    for (const auto& ps : speaker_->status()) {
      const auto& b = ps.bgp;
      json p;
      p["name"] = b.name;
      auto cfg = std::find_if(config_.peers.begin(), config_.peers.end(), [&](const auto& c) { return c.name == b.name; });
      if (cfg != config_.peers.end()) {
        p["address"] = cfg->address.to_string();
        p["remote_as"] = cfg->remote_as;
        if (!cfg->description.empty()) p["description"] = cfg->description;
      }
      p["state"] = bgp::to_string(b.state);
      p["since"] = log::format_timestamp(wall_of(b.since));
      p["last_error"] = b.last_error.empty() ? json(nullptr) : json(b.last_error);
      std::size_t sent = 0, received = 0;
      for (const auto& [f, n] : b.announced) sent += n;
      for (const auto& [f, n] : b.received) received += n;
      p["prefixes_sent"] = sent;
      p["prefixes_received"] = received;
      if (b.hold_time) p["hold_time"] = *b.hold_time;
      json fams = json::array();
      for (auto f : b.families) fams.push_back(bgp::to_string(f));
      p["families"] = fams;
      p["bfd"] = bfd_status(ps);
      peers.push_back(p);
    }
  }
  st["peers"] = peers;
  std::map<std::string, health::ServiceStatus> health_now;
  if (monitor_)
    for (auto& h : monitor_->snapshot()) health_now[h.name] = h;
  json services = json::array();
  for (const auto& s : services_) {
    json j;
    j["name"] = s->cfg->name;
    j["state"] = to_string(s->state);
    j["since"] = log::format_timestamp(s->since);
    j["reason"] = s->reason;
    // The first few only: a prefixes-file of 100,000 lines would make a reply of megabytes,
    // more than the control socket queues for one client.
    json prefixes = json::array();
    for (std::size_t i = 0; i < s->cfg->prefixes.size() && i < kStatusPrefixes; ++i)
      prefixes.push_back(s->cfg->prefixes[i].to_string());
    j["prefixes"] = prefixes;
    j["prefix_count"] = s->cfg->prefixes.size();
    j["announced"] = policy_for(*s)->action == conf::Action::Announce;
    json checks = json::array();
    if (auto it = health_now.find(s->cfg->name); it != health_now.end()) {
      for (const auto& c : it->second.checks) {
        json cj;
        cj["name"] = c.check;
        cj["kind"] = c.check.substr(0, c.check.find(' '));
        if (c.last) {
          cj["ok"] = c.last->pass;
          cj["latency_ms"] = std::chrono::duration<double, std::milli>(c.last->latency).count();
          cj["detail"] = c.last->reason;
        } else {
          cj["ok"] = nullptr;
          cj["detail"] = "not run yet";
        }
        checks.push_back(cj);
      }
      if (it->second.flap_hold_until) {
        j["flap_hold_until"] = log::format_timestamp(it->second.flap_hold_until->wall);
        j["flap_next_hold_s"] = std::chrono::duration<double>(it->second.flap_next_hold).count();
      }
    }
    j["checks"] = checks;
    if (auto it = state_.drained.find(s->cfg->name); it != state_.drained.end()) {
      j["drain"] = {{"reason", it->second.reason}, {"since", log::format_timestamp(SystemClock::from_time_t(it->second.since))},
                    {"all", false}};
    } else if (state_.drain_all) {
      j["drain"] = {{"reason", state_.drain_all->reason},
                    {"since", log::format_timestamp(SystemClock::from_time_t(state_.drain_all->since))}, {"all", true}};
    } else {
      j["drain"] = nullptr;
    }
    if (auto it = state_.steering.find(s->cfg->name); it != state_.steering.end()) {
      j["steering"] = {{"prepend", it->second.prepend}};
      if (it->second.med) j["steering"]["med"] = *it->second.med;
    } else {
      j["steering"] = nullptr;
    }
    services.push_back(j);
  }
  st["services"] = services;
  return st;
}

// ---------------------------------------------------------------- metrics

void Controller::register_metrics() {
  registry_.gauge("herald_build_info", "herald build information.", {"version"}).with({HERALD_VERSION}).set(1);
  registry_.gauge("herald_peer_state", "BGP session state (0 Idle, 1 Connect, 2 Active, 3 OpenSent, 4 OpenConfirm, 5 Established).", {"peer"});
  registry_.gauge("herald_peer_uptime_seconds", "Seconds since the session became Established (0 when not).", {"peer"});
  registry_.counter("herald_bgp_messages_sent_total", "BGP messages sent, by type.", {"peer", "type"});
  registry_.counter("herald_bgp_messages_received_total", "BGP messages received, by type.", {"peer", "type"});
  registry_.counter("herald_bgp_notifications_sent_total", "NOTIFICATIONs sent, by code and subcode.", {"peer", "code", "subcode"});
  registry_.counter("herald_bgp_notifications_received_total", "NOTIFICATIONs received, by code and subcode.", {"peer", "code", "subcode"});
  registry_.gauge("herald_bgp_prefixes_announced", "Prefixes in the peer's Adj-RIB-Out.", {"peer"});
  registry_.gauge("herald_bgp_prefixes_received", "Prefixes the peer announces to herald.", {"peer", "family"});
  registry_.gauge("herald_bgp_max_prefix", "The peer's configured max-prefix (only peers that have one).", {"peer"});
  registry_.counter("herald_bgp_connections_refused_total", "Inbound BGP connections refused, by reason.", {"reason"});
  registry_.gauge("herald_bfd_session_state", "BFD session state (0 AdminDown, 1 Down, 2 Init, 3 Up; RFC 5880).", {"peer"});
  registry_.counter("herald_bfd_session_flaps_total", "BFD sessions leaving Up.", {"peer"});
  registry_.gauge("herald_bfd_tx_interval_seconds", "Negotiated BFD transmit interval (before jitter).", {"peer"});
  registry_.gauge("herald_bfd_detect_time_seconds", "Negotiated BFD detection time (0 before the first packet).", {"peer"});
  registry_.counter("herald_bfd_packets_dropped_total", "Received BFD packets dropped, by reason.", {"reason"});
  registry_.gauge("herald_state_file_fail_safe",
                  "1 while every service is drained because the state file could not be read at start.", {});
  registry_.gauge("herald_service_state", "Service state (0 Down, 1 Up, 2 Drained).", {"service"});
  registry_.gauge("herald_service_announced", "1 when the service's prefixes are announced.", {"service"});
  registry_.gauge("herald_service_last_change_timestamp_seconds", "Time of the last service state change.", {"service"});
  registry_.counter("herald_service_state_changes_total", "Service state changes.", {"service"});
  registry_.gauge("herald_check_up", "Last result of each health check (1 pass, 0 fail).", {"service", "check"});
  registry_.gauge("herald_check_last_latency_seconds", "Latency of the last run of each health check.", {"service", "check"});
  registry_.histogram("herald_check_latency_seconds", "Health check latency.", {"service"}, kCheckLatencyBuckets);
  registry_.counter("herald_check_results_total", "Health check results, by outcome.", {"service", "check", "result"});
  registry_.counter("herald_connections_dropped_total", "Connections closed by the control socket or /metrics listener to keep room, by listener and reason.", {"listener", "reason"});
  registry_.counter("herald_check_stale_replies_total", "DNS check UDP replies dropped because their id was not the probe's.", {"service", "check"});
}

std::string Controller::render_metrics() {
  auto counter_set = [this](metrics::Family<metrics::Counter>& fam, const std::vector<std::string>& labels, double v) {
    std::string key = fam.name();
    for (const auto& l : labels) key += "\x1f" + l;
    auto& seen = counter_seen_[{fam.name(), key}];
    double delta = v >= seen ? v - seen : v;  // a re-created peer starts again from 0
    seen = v;
    if (delta > 0) fam.with(labels).inc(delta);
  };
  if (speaker_) {
    auto& state = registry_.gauge("herald_peer_state", "", {"peer"});
    auto& uptime = registry_.gauge("herald_peer_uptime_seconds", "", {"peer"});
    auto& sent = registry_.counter("herald_bgp_messages_sent_total", "", {"peer", "type"});
    auto& recv = registry_.counter("herald_bgp_messages_received_total", "", {"peer", "type"});
    auto& nsent = registry_.counter("herald_bgp_notifications_sent_total", "", {"peer", "code", "subcode"});
    auto& nrecv = registry_.counter("herald_bgp_notifications_received_total", "", {"peer", "code", "subcode"});
    auto& ann = registry_.gauge("herald_bgp_prefixes_announced", "", {"peer"});
    auto& rcv = registry_.gauge("herald_bgp_prefixes_received", "", {"peer", "family"});
    // The limit next to the count, so an alert can fire before the session is closed.
    auto& limit = registry_.gauge("herald_bgp_max_prefix", "", {"peer"});
    for (const auto& p : config_.peers) {
      if (p.max_prefix) limit.with({p.name}).set(static_cast<double>(*p.max_prefix));
      else limit.remove({p.name});  // a reload took the limit away
    }
    for (const auto& ps : speaker_->status()) {
      const auto& b = ps.bgp;
      state.with({b.name}).set(static_cast<double>(b.state));
      uptime.with({b.name}).set(b.uptime ? std::chrono::duration<double>(*b.uptime).count() : 0.0);
      for (std::size_t t = 1; t < 6; ++t) {
        counter_set(sent, {b.name, message_type_label(t)}, static_cast<double>(b.sent[t]));
        counter_set(recv, {b.name, message_type_label(t)}, static_cast<double>(b.received_messages[t]));
      }
      for (const auto& [cs, n] : b.notifications_sent)
        counter_set(nsent, {b.name, std::to_string(cs.first), std::to_string(cs.second)}, static_cast<double>(n));
      for (const auto& [cs, n] : b.notifications_received)
        counter_set(nrecv, {b.name, std::to_string(cs.first), std::to_string(cs.second)}, static_cast<double>(n));
      std::size_t total = 0;
      for (const auto& [f, n] : b.announced) total += n;
      ann.with({b.name}).set(static_cast<double>(total));
      for (auto f : {bgp::kIpv4Unicast, bgp::kIpv6Unicast}) {
        auto it = b.received.find(f);
        rcv.with({b.name, family_label(f)}).set(it == b.received.end() ? 0.0 : static_cast<double>(it->second));
      }
    }
    // Anyone who reaches the BGP port can connect: the log aggregates, this counts each one.
    auto& refused = registry_.counter("herald_bgp_connections_refused_total", "", {"reason"});
    counter_set(refused, {"not_configured"},
                static_cast<double>(speaker_->refused_connections(bgp::RefusalReason::NotConfigured)));
    counter_set(refused, {"shutting_down"},
                static_cast<double>(speaker_->refused_connections(bgp::RefusalReason::ShuttingDown)));
    refused.with({"not_configured"});  // exported from 0 on
    // BFD (RFC 5880): state as the RFC's numbers (0 AdminDown, 1 Down, 2 Init, 3 Up).
    auto& bstate = registry_.gauge("herald_bfd_session_state", "", {"peer"});
    auto& bflaps = registry_.counter("herald_bfd_session_flaps_total", "", {"peer"});
    auto& btx = registry_.gauge("herald_bfd_tx_interval_seconds", "", {"peer"});
    auto& bdetect = registry_.gauge("herald_bfd_detect_time_seconds", "", {"peer"});
    for (const auto& ps : speaker_->status()) {
      if (!ps.bfd) continue;
      const auto& st = ps.bfd->status;
      bstate.with({ps.bgp.name}).set(static_cast<double>(st.state));
      bflaps.with({ps.bgp.name});  // exported from 0 on, not only after the first flap
      counter_set(bflaps, {ps.bgp.name}, static_cast<double>(st.flaps));
      btx.with({ps.bgp.name}).set(std::chrono::duration<double>(st.tx_interval).count());
      bdetect.with({ps.bgp.name}).set(std::chrono::duration<double>(st.detect_time).count());
    }
    const auto dropped = speaker_->bfd_dropped();
    auto& bdrop = registry_.counter("herald_bfd_packets_dropped_total", "", {"reason"});
    for (std::size_t i = 0; i < dropped.size(); ++i)
      if (dropped[i] > 0)
        counter_set(bdrop, {std::string(bgp::bfd::to_string(static_cast<bgp::bfd::PacketError>(i)))},
                    static_cast<double>(dropped[i]));
  }
  registry_.gauge("herald_state_file_fail_safe", "", {}).with(std::vector<std::string>{}).set(state_.fail_safe() ? 1 : 0);
  auto& sstate = registry_.gauge("herald_service_state", "", {"service"});
  auto& sann = registry_.gauge("herald_service_announced", "", {"service"});
  auto& schange = registry_.gauge("herald_service_last_change_timestamp_seconds", "", {"service"});
  for (const auto& s : services_) {
    sstate.with({s->cfg->name}).set(s->state == ServiceState::Down ? 0 : s->state == ServiceState::Up ? 1 : 2);
    sann.with({s->cfg->name}).set(policy_for(*s)->action == conf::Action::Announce ? 1 : 0);
    schange.with({s->cfg->name}).set(std::chrono::duration<double>(s->since.time_since_epoch()).count());
  }
  if (monitor_) {
    auto& up = registry_.gauge("herald_check_up", "", {"service", "check"});
    auto& lat = registry_.gauge("herald_check_last_latency_seconds", "", {"service", "check"});
    auto& stale = registry_.counter("herald_check_stale_replies_total", "", {"service", "check"});
    for (const auto& h : monitor_->snapshot())
      for (const auto& c : h.checks) {
        if (c.last) {
          up.with({h.name, c.check}).set(c.last->pass ? 1 : 0);
          lat.with({h.name, c.check}).set(std::chrono::duration<double>(c.last->latency).count());
        }
        if (c.stale_replies) {
          // Late answers to timed-out probes (or forged ones, RFC 5452 9.1), exported from 0 on
          // for every DNS check. A reload that re-creates the check restarts the checker's count;
          // counter_set adds it on, so the exported counter never goes down.
          stale.with({h.name, c.check});
          counter_set(stale, {h.name, c.check}, static_cast<double>(*c.stale_replies));
        }
      }
  }
  return registry_.render();
}

}  // namespace herald::daemon
