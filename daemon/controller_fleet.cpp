// The fleet's wiring (docs/fleet.md), only with a [fleet] section:
//  - publish: a SitePublisher keeps sites/<site> under a lease; the state written is the
//    policy's decisions, given to it after every publication of routes, and the lease is
//    revoked at a clean stop;
//  - fleet drains: the desired/ keys are read once and then watched (one long-lived watch
//    stream per herald: a region drain reaches every site as one write's notification, where a
//    periodic read would cost every site a range request per interval and still be late by up
//    to that interval); a key naming this site, its region or all becomes the "fleet" drain
//    holder in PersistentState::fleet_drains, saved in the state file;
//  - the floor: each change of a service's FloorQuestion runs one floor round (fleet/
//    floor_round.hpp), whose ledger key goes under the publisher's lease; its verdict becomes the
//    service's FloorAnswers entry, the policy's input.
//    Held and locally decided services are asked again every lease-ttl.
#include "daemon/controller_fleet.hpp"

#include <fmt/format.h>

#include <fstream>

#include "daemon/controller.hpp"
#include "daemon/fleet_report.hpp"
#include "fleet/drain.hpp"
#include "fleet/floor.hpp"
#include "fleet/floor_round.hpp"

namespace herald::daemon {

namespace asio = boost::asio;
using SystemClock = std::chrono::system_clock;

FleetLink::FleetLink(asio::io_context& io, const conf::FleetConfig& c, std::unique_ptr<fleet::EtcdClient> client)
    : cfg(c), etcd(std::move(client)), keys(c.name), recheck(io), watch_retry(io) {}

HealthInput Controller::health_input(const health::ServiceStatus& st) const {
  HealthInput h{st.state, st.reason};
  for (const auto& sc : config_.services)
    if (sc.name == st.name) h.process_gone = process_gone(sc, st);
  return h;
}

// ---------------------------------------------------------------- start and stop

bool Controller::fleet_start() {
  if (!config_.fleet) return true;
  const auto& fc = *config_.fleet;
  fleet::EtcdClientOptions o;
  o.endpoints = fc.endpoints;
  o.tls = !fc.tls_ca.empty();
  o.ca_file = fc.tls_ca;
  o.cert_file = fc.tls_cert;
  o.key_file = fc.tls_key;
  o.user = fc.user;
  if (!fc.password_file.empty()) {
    std::ifstream in(fc.password_file);
    if (!in || !std::getline(in, o.password)) {
      log_.write(log::Level::error, "cannot start", {{"reason", "cannot read fleet password-file " + fc.password_file}});
      return false;
    }
  }
  auto client = fleet::EtcdClient::create(io_.get_executor(), std::move(o));
  if (!client) {
    log_.write(log::Level::error, "cannot start", {{"reason", "fleet: " + client.error().reason}});
    return false;
  }
  fleet_ = std::make_unique<FleetLink>(io_, fc, std::move(client.value()));
  const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(fc.lease_ttl);
  fleet_->publisher = std::make_unique<fleet::SitePublisher>(
      *fleet_->etcd, fleet_->keys, ttl, [this](const std::string& what) {
        // Failures repeat at every keep-alive while etcd is away: rate-limited.
        const bool failed = what.find("failed") != std::string::npos || what.find("lost") != std::string::npos;
        log_.write_limited(failed ? log::Level::warning : log::Level::info, "fleet publisher",
                           {{"site", fleet_->cfg.site}, {"reason", what}});
      });
  asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<void> {
        co_await fleet_->publisher->run();
        fleet_->publisher_done = true;
        if (auto then = std::exchange(fleet_->on_stopped, nullptr)) then();
      },
      asio::detached);
  asio::co_spawn(io_, fleet_follow_desired(), asio::detached);
  log_.write(log::Level::info, "fleet joined",
             {{"fleet", fc.name}, {"site", fc.site}, {"region", fc.region},
              {"endpoints", static_cast<std::uint64_t>(fc.endpoints.size())},
              {"reason", "publishing this site's state, following fleet drains, asking the floor"}});
  return true;
}

void Controller::fleet_stop(std::function<void()> then) {
  if (!fleet_ || fleet_->publisher_done) {
    then();
    return;
  }
  fleet_->stopping = true;
  fleet_->recheck.cancel();
  fleet_->watch_retry.cancel();
  fleet_->on_stopped = std::move(then);
  fleet_->publisher->stop();  // revokes the lease: the site leaves the fleet view at once
  // Bounded: an unreachable etcd must not hold the exit (the lease then expires by itself).
  shutdown_timer_.expires_after(std::chrono::seconds(3));
  shutdown_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto cont = std::exchange(fleet_->on_stopped, nullptr)) {
      log_.write(log::Level::warning, "fleet lease not revoked",
                 {{"site", fleet_->cfg.site}, {"reason", "etcd did not answer in 3 s; the lease expires by itself"}});
      cont();
    }
  });
}

// ---------------------------------------------------------------- publish

void Controller::fleet_publish_state() {
  if (!fleet_ || fleet_->stopping) return;
  fleet::SiteState s;
  s.site = fleet_->cfg.site;
  s.region = fleet_->cfg.region;
  s.version = HERALD_VERSION;
  for (const auto& name : policy_.services()) {
    const ServiceDecision& d = *policy_.decision(name);
    const auto since = std::chrono::duration_cast<std::chrono::seconds>(d.since.time_since_epoch()).count();
    s.services.push_back({name, published_state(d), d.announced, d.reason, since, published_qps(name)});
  }
  if (s == fleet_->last_set) return;
  fleet_->last_set = s;
  fleet_->publisher->set(std::move(s));
}

// ---------------------------------------------------------------- reachability

void Controller::fleet_reachable(bool ok, const std::string& reason) {
  if (fleet_->reachable == ok) return;
  const bool first = !fleet_->reachable.has_value();
  fleet_->reachable = ok;
  if (ok && first) return;
  // Once per transition: while etcd is away every service decides alone, as without the fleet.
  log_.write(ok ? log::Level::notice : log::Level::warning, ok ? "fleet reachable again" : "fleet unreachable",
             {{"site", fleet_->cfg.site},
              {"reason", ok ? "floor decisions go through etcd again" : reason + ": deciding locally"}});
  publish_event({{"event", "fleet"}, {"new", ok ? "reachable" : "unreachable"}, {"reason", reason}});
}

// ---------------------------------------------------------------- the floor

void Controller::fleet_after_evaluate(const std::string& service) {
  if (!fleet_ || fleet_->stopping) return;
  const ServiceDecision* d = policy_.decision(service);
  if (!d || !d->floor_question) {  // no floor for it (any more, after a reload): nothing kept
    fleet_->asked.erase(service);
    fleet_->answers.erase(service);
    return;
  }
  auto it = fleet_->asked.find(service);
  if (it != fleet_->asked.end() && it->second == *d->floor_question) return;
  fleet_->asked[service] = *d->floor_question;
  // A new question: the old answer was for another failure (or none).
  fleet_->answers.erase(service);
  fleet_ask_floor(service);
}

void Controller::fleet_on_check_result(const std::string& service) {
  if (!fleet_ || fleet_->stopping) return;
  // After the monitor has applied the result (it reports results before it applies them).
  asio::post(io_, [this, service] {
    if (!fleet_ || fleet_->stopping) return;
    const ServiceDecision* d = policy_.decision(service);
    if (!d || !d->floor_question) return;
    const HealthInput h = health_of(service);
    if (h.process_gone == d->floor_question->process_gone) return;
    evaluate(service, "process check", h);
    publish_routes("process check");
  });
}

void Controller::fleet_ask_floor(const std::string& service) {
  if (fleet_->in_flight.count(service)) return;  // its end asks again if the question changed
  const conf::ServiceConfig* sc = nullptr;
  for (const auto& s : config_.services)
    if (s.name == service) sc = &s;
  auto q = fleet_->asked.find(service);
  if (!sc || !sc->fleet || q == fleet_->asked.end()) return;
  const FloorQuestion question = q->second;
  // The ledger key goes under the publisher's lease, so a dead site's key goes with its index key
  // (0 before the first grant: the key then stays until the site announces again).
  fleet::FloorInput in{fleet_->cfg.site, service, question.checks_fail, question.process_gone, question.address_gone,
                       question.drained, fleet_->publisher->lease()};
  const fleet::MinSites min{sc->fleet->min_sites_percent ? fleet::MinSites::Kind::Percent : fleet::MinSites::Kind::Count,
                            sc->fleet->min_sites};
  fleet_->in_flight.insert(service);
  asio::co_spawn(
      io_,
      [this, service, question, in, min]() -> asio::awaitable<void> {
        auto r = co_await fleet::run_floor(*fleet_->etcd, fleet_->keys, in, min);
        fleet_->in_flight.erase(service);
        if (fleet_->stopping || !policy_.decision(service)) co_return;
        if (auto now = fleet_->asked.find(service); now == fleet_->asked.end() || !(now->second == question)) {
          fleet_ask_floor(service);  // the question changed meanwhile: this answer is stale
          co_return;
        }
        fleet_floor_answered(service, question, r);
      },
      asio::detached);
}

void Controller::fleet_floor_answered(const std::string& service, const FloorQuestion& question,
                                      const fleet::EtcdResult<fleet::FloorOutcome>& r) {
  std::optional<FloorGrant> grant;
  if (!r) {
    fleet_reachable(false, r.error().reason);
    grant = FloorGrant::Local;
    log_.write_limited(log::Level::warning, "fleet floor not asked",
                       {{"service", service}, {"site", fleet_->cfg.site},
                        {"reason", r.error().reason + ": deciding locally"}});
  } else {
    fleet_reachable(true, "");
    const auto& d = r->decision;
    if (d.verdict == fleet::Verdict::Hold) grant = FloorGrant::Hold;
    if (d.verdict == fleet::Verdict::Withdraw) grant = FloorGrant::Withdraw;
    // Asked again every lease-ttl while held: the same verdict again is news only at debug level.
    const std::string verdict = fleet::to_string(d.verdict);
    const bool same = std::exchange(fleet_->last_verdict[service], verdict) == verdict;
    log_.write(same ? log::Level::debug : d.verdict == fleet::Verdict::Hold ? log::Level::warning : log::Level::info,
               "fleet floor decision",
               {{"service", service}, {"site", fleet_->cfg.site}, {"verdict", fleet::to_string(d.verdict)},
                {"floor", static_cast<std::uint64_t>(d.floor)},
                {"others_announcing", static_cast<std::uint64_t>(d.others_announcing)},
                {"attempts", static_cast<std::int64_t>(r->attempts)}, {"reason", d.reason}});
  }
  if (question.holdable() && grant) {
    auto old = fleet_->answers.find(service);
    const bool changed = old == fleet_->answers.end() || old->second != *grant;
    fleet_->answers[service] = *grant;
    if (changed) {
      evaluate(service, "fleet floor");
      publish_routes("fleet floor");
    }
  }
  fleet_arm_recheck();
}

void Controller::fleet_arm_recheck() {
  bool any = false;
  for (const auto& [service, grant] : fleet_->answers)
    if (grant != FloorGrant::Withdraw) any = true;
  if (!any || fleet_->stopping) return;
  fleet_->recheck.expires_after(fleet_->cfg.lease_ttl);
  fleet_->recheck.async_wait([this](const boost::system::error_code& ec) {
    if (ec || fleet_->stopping) return;
    // Held: others may have come back, so that this site may withdraw now. Local: etcd may be
    // back, and the floor decides again.
    for (const auto& [service, grant] : FloorAnswers(fleet_->answers))
      if (grant != FloorGrant::Withdraw) fleet_ask_floor(service);
  });
}

// ---------------------------------------------------------------- fleet drains

void Controller::fleet_apply_desired(std::string_view how) {
  const auto& fc = fleet_->cfg;
  std::vector<std::string> changed;
  for (const auto& sc : config_.services) {
    std::optional<PersistentState::DrainRecord> want;
    std::string key_of_want;
    for (const auto& [key, value] : fleet_->desired) {  // sorted: the same key wins every time
      auto target = fleet::target_of_key(fleet_->keys, sc.name, key);
      if (!target || !fleet::affects(*target, fc.site, fc.region)) continue;
      auto dd = fleet::desired_drain_from_json(value);
      PersistentState::DrainRecord rec;
      rec.reason = dd ? dd->reason : std::string();
      if (dd && !dd->by.empty()) rec.reason += (rec.reason.empty() ? "by " : " (by ") + dd->by + (rec.reason.empty() ? "" : ")");
      rec.since_ms = dd ? dd->since * 1000 : 0;
      if (!dd)
        log_.write_limited(log::Level::warning, "fleet drain value unreadable",
                           {{"service", sc.name}, {"key", key}, {"reason", dd.error() + "; drained all the same"}});
      want = rec;
      key_of_want = key;
      break;
    }
    auto it = state_.fleet_drains.find(sc.name);
    const bool had = it != state_.fleet_drains.end();
    if (!want && !had) continue;
    if (want && had && it->second.reason == want->reason) continue;
    if (want) {
      if (had) want->since_ms = it->second.since_ms;  // a new reason, the same drain
      else if (want->since_ms == 0) want->since_ms = std::chrono::duration_cast<std::chrono::milliseconds>(SystemClock::now().time_since_epoch()).count();
      state_.fleet_drains[sc.name] = *want;
      log_.write(log::Level::notice, "fleet drain",
                 {{"service", sc.name}, {"site", fc.site}, {"key", key_of_want}, {"reason", want->reason}, {"how", how}});
      publish_event({{"event", "drain"}, {"service", sc.name}, {"holder", "fleet"}, {"reason", want->reason}});
    } else {
      state_.fleet_drains.erase(it);
      log_.write(log::Level::notice, "fleet undrain",
                 {{"service", sc.name}, {"site", fc.site}, {"reason", "no desired key names this site any more"},
                  {"how", how}});
      publish_event({{"event", "undrain"}, {"service", sc.name}, {"holder", "fleet"},
                     {"reason", "no desired key names this site any more"}});
    }
    changed.push_back(sc.name);
  }
  if (changed.empty()) return;
  if (auto err = save_state())
    log_.write(log::Level::error, "fleet drain not persisted", {{"reason", *err}});
  for (const auto& s : changed) evaluate(s, "fleet drain");
  publish_routes("fleet drain");
}

asio::awaitable<void> Controller::fleet_follow_desired() {
  FleetLink& f = *fleet_;
  const std::string prefix = f.keys.desired_prefix();
  while (!f.stopping) {
    auto r = co_await f.etcd->get_prefix(prefix);
    if (f.stopping) break;
    if (!r) {
      // Nothing changes: the fleet drains in force stay (persisted), as a partition must not undo them.
      log_.write_limited(log::Level::warning, "fleet drains not read",
                         {{"site", f.cfg.site}, {"reason", r.error().reason + "; the drains in force stay"}});
    } else {
      f.desired.clear();
      for (const auto& kv : r->kvs) f.desired[kv.key] = kv.value;
      fleet_apply_desired("read");
      auto w = co_await f.etcd->watch(
          prefix, fleet::prefix_end(prefix), r->revision + 1,
          [this, &f](const fleet::WatchBatch& b) {
            if (f.stopping || b.canceled || b.compact_revision != 0) return false;  // read again
            for (const auto& e : b.events) {
              if (e.deleted) f.desired.erase(e.kv.key);
              else f.desired[e.kv.key] = e.kv.value;
            }
            if (!b.events.empty()) fleet_apply_desired("watch");
            return true;
          },
          // Quiet for this long: read everything again (a member gone silent, not closed).
          std::chrono::seconds(60));
      if (!w && !f.stopping)
        log_.write_limited(log::Level::info, "fleet drain watch ended",
                           {{"site", f.cfg.site}, {"reason", w.error().reason + "; reading again"}});
    }
    if (f.stopping) break;
    f.watch_retry.expires_after(std::chrono::seconds(1));
    boost::system::error_code ec;
    co_await f.watch_retry.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace herald::daemon
