#include "health/monitor.hpp"

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "health/dns_check.hpp"
#include "health/dns_wire.hpp"
#include "health/process_check.hpp"

namespace herald::health {

namespace asio = boost::asio;

struct Monitor::Service {
  Service(asio::io_context& io, ServiceCore c) : core(std::move(c)), timer(io) {
    for (std::size_t i = 0; i < core.spec().checks.size(); ++i) {
      const auto& check = core.spec().checks[i];
      checkers.push_back(make_checker(io, check));
      labels.push_back(check_name(core.spec(), i));
      dns.push_back(dynamic_cast<const DnsChecker*>(checkers.back().get()));
    }
  }
  ServiceCore core;
  asio::steady_timer timer;
  // One per check, kept for the service's life (a DNS check keeps its UDP socket between rounds).
  std::vector<std::unique_ptr<Checker>> checkers;
  std::vector<std::string> labels;  // check_name() of each check, for every result reported
  std::vector<const DnsChecker*> dns;  // per check: its checker if a DNS one (for stale_replies)
  std::vector<std::shared_ptr<CheckRun>> runs;
};

namespace {

std::optional<std::string> check_problem(const CheckSpec& c) {
  boost::system::error_code ec;
  if (const auto* d = std::get_if<DnsCheckSpec>(&c)) {
    asio::ip::make_address(d->server, ec);
    if (ec) return fmt::format("bad DNS server address '{}'", d->server);
    if (auto p = make_dns_probe(*d, 0); !p) return p.error();
  } else if (const auto* t = std::get_if<TcpCheckSpec>(&c)) {
    asio::ip::make_address(t->address, ec);
    if (ec) return fmt::format("bad TCP check address '{}'", t->address);
    if (t->port == 0) return std::string("TCP check port 0");
  } else if (const auto* e = std::get_if<ExecCheckSpec>(&c)) {
    if (e->argv.empty() || e->argv[0].empty()) return std::string("exec check without a command");
    if (e->timeout && *e->timeout <= Duration::zero()) return std::string("exec timeout must be positive");
  } else if (const auto* m = std::get_if<MaintenanceFileSpec>(&c)) {
    if (m->path.empty()) return std::string("empty maintenance file path");
  } else if (const auto* p = std::get_if<ProcessCheckSpec>(&c)) {
    if (!p->unit.empty() && !p->pidfile.empty()) return std::string("either a pidfile or a unit, not both");
    if (p->unit.empty() && (p->pidfile.empty() || p->pidfile.front() != '/'))
      return std::string("pidfile must be an absolute path");
  } else if (const auto* s = std::get_if<SoaCheckSpec>(&c)) {
    asio::ip::make_address(s->server, ec);
    if (ec) return fmt::format("bad SOA check server address '{}'", s->server);
    if (!s->primary.empty()) {
      asio::ip::make_address(s->primary, ec);
      if (ec) return fmt::format("bad SOA check primary address '{}'", s->primary);
    }
    if (s->primary.empty() && !s->max_age && !s->max_unchanged)
      return std::string("SOA check without a primary, a max-age or a max-unchanged");
    if (s->max_unchanged && *s->max_unchanged <= Duration::zero()) return std::string("max-unchanged must be positive");
    if (s->max_serial_lag >= 0x80000000u) return std::string("max-serial-lag must be below 2^31 (RFC 1982)");
    if (s->max_age && *s->max_age <= Duration::zero()) return std::string("max-age must be positive");
    DnsCheckSpec q;
    q.qname = s->zone;
    if (auto probe = make_dns_probe(q, 0); !probe) return "zone: " + probe.error();
  }
  return std::nullopt;
}

}  // namespace

herald::Expected<bool, std::string> validate_service(const ServiceSpec& s) {
  const auto bad = [&](const std::string& what) {
    return herald::unexpected(fmt::format("service \"{}\": {}", s.name.empty() ? "<unnamed>" : s.name, what));
  };
  const auto& p = s.policy;
  if (s.name.empty()) return bad("empty name");
  if (s.checks.empty()) return bad("no checks");
  if (p.rise == 0 || p.fall == 0) return bad("rise and fall must be at least 1");
  if (p.interval <= Duration::zero() || p.fast_interval <= Duration::zero() || p.timeout <= Duration::zero())
    return bad("interval, fast interval and timeout must be positive");
  if (p.flap.enabled && (p.flap.hold <= Duration::zero() || p.flap.max_hold < p.flap.hold ||
                         p.flap.window <= Duration::zero()))
    return bad("flap hold must be positive, max hold >= hold, window positive");
  if (!s.check_names.empty()) {
    if (s.check_names.size() != s.checks.size()) return bad("check names do not match the checks");
    for (std::size_t i = 0; i < s.check_names.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (s.check_names[i] == s.check_names[j] || s.check_names[i].empty())
          return bad(fmt::format("check name \"{}\" empty or given twice", s.check_names[i]));
  }
  for (std::size_t i = 0; i < s.checks.size(); ++i)
    if (auto problem = check_problem(s.checks[i])) return bad(check_label(s, i) + ": " + *problem);
  return true;
}

Monitor::Monitor(asio::io_context& io, std::vector<ServiceSpec> services, StatusCallback on_change)
    : io_(io), on_change_(std::move(on_change)), rng_(std::random_device{}()),
      epoch_(std::chrono::steady_clock::now()), settle_(io) {
  for (auto& spec : services) {
    if (auto ok = validate_service(spec); !ok) {
      std::fprintf(stderr, "health: invalid service given to Monitor: %s\n", ok.error().c_str());
      std::abort();
    }
    if (services_.count(spec.name)) {
      std::fprintf(stderr, "health: duplicate service %s\n", spec.name.c_str());
      std::abort();
    }
    std::string name = spec.name;
    services_.emplace(std::move(name), make_service(std::move(spec), std::nullopt));
  }
}

Monitor::~Monitor() { stop(); }

std::shared_ptr<Monitor::Service> Monitor::make_service(ServiceSpec spec, std::optional<ServiceState> initial) {
  const auto& p = spec.policy;
  const Duration span = p.splay == Duration::max() ? p.interval : p.splay;
  const Instant now = now_instant();
  const Duration delay = first_delay(span, epoch_, now.steady, rng_());
  auto s = std::make_shared<Service>(io_, ServiceCore(std::move(spec), now, delay, initial));
  // A late passing DNS answer after a timeout: the server may be back, check again now.
  std::weak_ptr<Service> weak = s;
  for (auto& c : s->checkers) {
    if (auto* d = dynamic_cast<DnsChecker*>(c.get())) {
      d->on_late_answer([this, weak] {
        auto self = weak.lock();
        if (!self || !running_) return;
        const auto at = now_instant();
        self->core.expedite(at);
        apply(self, self->core.advance(at));
        arm(self);
      });
    }
  }
  // The watched server process exited, or a round found it stopped: down now, without waiting
  // for `fall` failed rounds.
  for (std::size_t i = 0; i < s->checkers.size(); ++i) {
    if (auto* pc = dynamic_cast<ProcessChecker*>(s->checkers[i].get())) {
      pc->on_exit([this, weak, i](std::string reason) {
        auto self = weak.lock();
        if (!self || !running_) return;
        CheckResult r{false, Duration{0}, std::move(reason), false};
        if (on_result_) on_result_(self->core.spec().name, self->labels[i], r);
        apply(self, self->core.fail_now(i, std::move(r), now_instant()));
        arm(self);
      });
    }
  }
  return s;
}

void Monitor::start() {
  running_ = true;
  for (auto& [name, s] : services_) arm(s);
}

void Monitor::stop() {
  running_ = false;
  for (auto& [name, s] : services_) retire(*s);
}

void Monitor::cancel_checks(Service& s) {
  for (auto& r : s.runs)
    if (r) r->cancel();
  s.runs.clear();
}

void Monitor::retire(Service& s) {
  s.timer.cancel();
  cancel_checks(s);
  for (auto& c : s.checkers) {
    if (auto* d = dynamic_cast<DnsChecker*>(c.get())) d->stop_watching();
    if (auto* p = dynamic_cast<ProcessChecker*>(c.get())) p->stop_watching();
  }
}

void Monitor::arm(const std::shared_ptr<Service>& s) {
  if (!running_) return;
  // While a round runs, its deadline is the latest check timeout. Each check's own timer goes
  // off at its timeout and reports it as the check's result (seen by on_result, and by a DNS
  // check that then watches for a late answer); the service's timer trails 1 ms behind, only
  // to cut a check that failed to report at all.
  const auto grace = s->core.round_running() ? std::chrono::milliseconds(1) : std::chrono::milliseconds(0);
  s->timer.expires_at(s->core.next_wakeup() + grace);
  std::weak_ptr<Service> weak = s;
  s->timer.async_wait([this, weak](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) tick(self);
  });
}

void Monitor::tick(const std::shared_ptr<Service>& s) {
  if (!running_) return;
  apply(s, s->core.advance(now_instant()));
  arm(s);
}

void Monitor::apply(const std::shared_ptr<Service>& s, CoreActions actions) {
  if (actions.cancel_round) cancel_checks(*s);
  for (const auto& change : actions.changes) {
    if (!on_change_) continue;
    // Report each change as it happened (a batch can hold two: a round and the end of a hold).
    ServiceStatus st = status_of(*s);
    st.state = change.to;
    st.reason = change.reason;
    st.flap_hold_until = change.flap_hold_until;
    if (!change.flap_hold_until) st.flap_next_hold = Duration{0};
    if (change.to != change.from) st.since = change.at;
    on_change_(st, change.from);
  }
  if (actions.start_round) {
    const auto round = *actions.start_round;
    const auto& checks = s->core.spec().checks;
    s->runs.assign(checks.size(), nullptr);
    std::weak_ptr<Service> weak = s;
    for (std::size_t i = 0; i < checks.size(); ++i) {
      const auto timeout = s->core.check_timeout(i);
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      s->runs[i] = s->checkers[i]->start(timeout, [this, weak, round, i, deadline](CheckResult r) {
        auto self = weak.lock();
        if (!self || !running_) return;
        if (on_result_) on_result_(self->core.spec().name, self->labels[i], r);
        const auto now = now_instant();
        apply(self, self->core.on_result(round, i, std::move(r), now));
        arm(self);  // the round may have ended: the next wakeup moved
        if (now.steady < deadline) settle_kernel_timer(deadline);
      });
    }
  }
}

// A check answered in time cancels its timeout and the service timer's round deadline; without
// this the process would wake up once more per round, at that deadline, to find nothing to do
// (base/reactor_settle.hpp). Only done when nothing else of ours would wake the process before
// the cancelled deadline anyway (no round in flight, next round later): otherwise it would cost
// a system call per result for nothing (many services checked often).
void Monitor::settle_kernel_timer(std::chrono::steady_clock::time_point cancelled_deadline) {
  for (const auto& [name, s] : services_)
    if (s->core.round_running() || s->core.next_wakeup() <= cancelled_deadline) return;
  settle_.settle();
}

ServiceStatus Monitor::status_of(const Service& s) const {
  ServiceStatus st;
  st.name = s.core.spec().name;
  st.state = s.core.state();
  st.reason = s.core.reason();
  st.since = s.core.since();
  st.flap_hold_until = s.core.flap_hold_until();
  if (auto h = s.core.flap_hold()) st.flap_next_hold = h->next_hold;
  const auto& checks = s.core.spec().checks;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    st.checks.push_back(CheckStatus{describe(checks[i]), s.labels[i], s.core.last_results()[i], std::nullopt});
    if (s.dns[i]) st.checks.back().stale_replies = s.dns[i]->stale_replies();
  }
  return st;
}

bool Monitor::restore_flap_hold(const std::string& service, const FlapHold& hold) {
  auto it = services_.find(service);
  if (it == services_.end()) return false;
  apply(it->second, it->second->core.restore_flap_hold(hold, now_instant()));
  arm(it->second);
  return it->second->core.flap_hold().has_value();
}

bool Monitor::clear_flap_hold(const std::string& service) {
  auto it = services_.find(service);
  if (it == services_.end()) return false;
  auto actions = it->second->core.clear_flap_hold(now_instant());
  if (!actions) return false;
  apply(it->second, std::move(*actions));
  arm(it->second);
  return true;
}

std::optional<ServiceStatus> Monitor::status(const std::string& service) const {
  auto it = services_.find(service);
  if (it == services_.end()) return std::nullopt;
  return status_of(*it->second);
}

std::vector<ServiceStatus> Monitor::snapshot() const {
  std::vector<ServiceStatus> out;
  for (const auto& [name, s] : services_) out.push_back(status_of(*s));
  return out;
}

void Monitor::replace(std::vector<ServiceSpec> services) {
  std::map<std::string, std::shared_ptr<Service>> next;
  for (auto& spec : services) {
    if (auto ok = validate_service(spec); !ok) {
      std::fprintf(stderr, "health: invalid service given to Monitor: %s\n", ok.error().c_str());
      std::abort();
    }
    auto it = services_.find(spec.name);
    if (it != services_.end() && it->second->core.spec() == spec) {
      next.emplace(spec.name, it->second);  // unchanged: keep timer, round and counters
      services_.erase(it);
      continue;
    }
    std::optional<ServiceState> keep;
    std::optional<FlapHold> keep_hold;
    if (it != services_.end()) {
      keep = it->second->core.state();
      keep_hold = it->second->core.flap_hold();
      retire(*it->second);
      services_.erase(it);
    }
    std::string name = spec.name;
    auto s = make_service(std::move(spec), keep);
    if (keep_hold) (void)s->core.restore_flap_hold(*keep_hold, now_instant());  // same hold, no news
    if (keep && s->core.state() != *keep && on_change_) on_change_(status_of(*s), *keep);
    if (running_) arm(s);
    next.emplace(std::move(name), std::move(s));
  }
  for (auto& [name, old] : services_) retire(*old);  // removed services
  services_ = std::move(next);
}

}  // namespace herald::health
