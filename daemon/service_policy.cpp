#include "daemon/service_policy.hpp"

#include <algorithm>

namespace herald::daemon {

HealthInput health_without_checks() { return {ServiceState::Up, "no health checks configured"}; }

std::optional<bgp::RouteAttributes> announced_attributes(const conf::StatePolicy& policy,
                                                         const PersistentState::Steering* steering,
                                                         std::uint32_t local_as) {
  if (policy.action != conf::Action::Announce) return std::nullopt;
  bgp::RouteAttributes a;
  a.origin = bgp::Origin::Igp;
  unsigned prepend = policy.prepend;
  a.med = policy.med;
  if (steering) {
    prepend = static_cast<unsigned>(steering->prepend);
    if (steering->med) a.med = steering->med;
  }
  a.as_path_prepend.assign(prepend, local_as);
  a.communities = policy.communities;
  a.large_communities = policy.large_communities;
  a.extended_communities = policy.extended_communities;
  return a;
}

namespace {

template <typename T>
void add_sorted(std::vector<T>& to, const std::vector<T>& more) {
  if (more.empty()) return;
  to.insert(to.end(), more.begin(), more.end());
  std::sort(to.begin(), to.end());
  to.erase(std::unique(to.begin(), to.end()), to.end());
}

}  // namespace

std::optional<bgp::RouteAttributes> announced_attributes(const conf::StatePolicy& policy,
                                                         const PersistentState::Steering* steering,
                                                         const conf::PeerAttributes& peer,
                                                         std::uint32_t local_as) {
  auto a = announced_attributes(policy, steering, local_as);
  if (!a) return a;
  add_sorted(a->communities, peer.communities);
  add_sorted(a->large_communities, peer.large_communities);
  add_sorted(a->extended_communities, peer.extended_communities);
  if (peer.med && !(steering && steering->med)) a->med = peer.med;
  a->local_pref = peer.local_pref;
  a->as_path_prepend.insert(a->as_path_prepend.end(), peer.prepend, local_as);
  return a;
}

std::vector<std::string> drain_holders(const PersistentState& state, const conf::ServiceConfig& service) {
  std::vector<std::string> holders;
  if (state.drain_all) holders.emplace_back("all");
  if (state.drained.count(service.name)) holders.emplace_back("operator");
  if (state.fleet_drains.count(service.name)) holders.emplace_back("fleet");
  for (const auto& unit : service.units)
    if (state.unit_drains.count(unit)) holders.push_back("unit:" + unit);
  return holders;
}

const char* to_string(FloorGrant g) {
  switch (g) {
    case FloorGrant::Hold: return "hold";
    case FloorGrant::Withdraw: return "withdraw";
    case FloorGrant::Local: return "local";
  }
  return "?";
}

namespace {

std::string with_reason(std::string text, const std::string& reason) {
  return reason.empty() ? text : text + ": " + reason;
}

// The state and its reason, by the precedence in the header; `held`: Down but announced under
// the floor's guard policy; `pending`: the floor must answer first, the previous decision stands.
struct Decided {
  ServiceState state = ServiceState::Down;
  std::string reason;
  bool held = false;
  bool pending = false;
};

// The floor's question for a service (nullopt: no [fleet] or no [service.fleet]).
std::optional<FloorQuestion> floor_question(const conf::ServiceConfig& cfg, const HealthInput& health,
                                            const AddressInput& address, const PolicyWorld& world, bool was_up) {
  if (!world.floor || !cfg.fleet) return std::nullopt;
  FloorQuestion q;
  q.checks_fail = health.state == ServiceState::Down;
  q.process_gone = health.process_gone;
  q.address_gone = !address.ready;
  q.drained = health.state == ServiceState::Drained || !drain_holders(*world.operator_state, cfg).empty() ||
              world.shutdown != Shutdown::No;
  q.never_up = !was_up;
  return q;
}

Decided decide(const conf::ServiceConfig& cfg, const HealthInput& health, const AddressInput& address,
               const PolicyWorld& world, const std::optional<FloorQuestion>& question) {
  const PersistentState& op = *world.operator_state;
  const std::string& name = cfg.name;
  if (!address.ready) return {ServiceState::Down, address.reason};
  if (health.state == ServiceState::Down) {
    if (!question || !question->holdable()) return {ServiceState::Down, health.reason};
    auto it = world.floor->find(name);
    if (it == world.floor->end()) return {ServiceState::Down, health.reason, false, true};
    switch (it->second) {
      case FloorGrant::Hold: return {ServiceState::Down, with_reason("held by fleet floor", health.reason), true};
      case FloorGrant::Withdraw: return {ServiceState::Down, health.reason};
      case FloorGrant::Local:
        return {ServiceState::Down, health.reason + " (fleet unreachable: decided locally)"};
    }
  }
  if (health.state == ServiceState::Drained) return {ServiceState::Drained, "maintenance: " + health.reason};
  if (op.drain_all)
    return {ServiceState::Drained, "drained by operator (all services)" +
                                       (op.drain_all->reason.empty() ? "" : ": " + op.drain_all->reason)};
  if (auto it = op.drained.find(std::string(name)); it != op.drained.end())
    return {ServiceState::Drained, "drained by operator" + (it->second.reason.empty() ? "" : ": " + it->second.reason)};
  if (auto it = op.fleet_drains.find(std::string(name)); it != op.fleet_drains.end())
    return {ServiceState::Drained, with_reason("drained by fleet", it->second.reason)};
  for (const auto& unit : cfg.units)
    if (auto it = op.unit_drains.find(unit); it != op.unit_drains.end())
      return {ServiceState::Drained, with_reason("drained by unit " + unit, it->second.reason)};
  if (world.shutdown == Shutdown::Draining) return {ServiceState::Drained, "herald is shutting down"};
  return {ServiceState::Up, health.reason};
}

const conf::StatePolicy* state_policy(const conf::ServiceConfig& cfg, const ServiceDecision& d) {
  if (d.floor_held && cfg.fleet) return &cfg.fleet->held;
  switch (d.state) {
    case ServiceState::Up: return &cfg.policy.up;
    case ServiceState::Down: return &cfg.policy.down;
    case ServiceState::Drained: return d.drain_expired ? nullptr : &cfg.policy.drained;
  }
  return nullptr;
}

bool announces(const conf::ServiceConfig& cfg, const ServiceDecision& d) {
  const auto* p = state_policy(cfg, d);
  return p && p->action == conf::Action::Announce;
}

}  // namespace

void ServicePolicy::set_services(const std::vector<conf::ServiceConfig>& services, WallClock::time_point now) {
  std::vector<Entry> next;
  next.reserve(services.size());
  for (const auto& sc : services) {
    Entry e;
    if (auto* old = find(sc.name)) e = std::move(*old);
    else e.d.since = now;
    e.name = sc.name;
    e.cfg = &sc;
    e.d.announced = announces(sc, e.d);  // the policies may have changed
    next.push_back(std::move(e));
  }
  entries_ = std::move(next);
}

std::vector<PolicyEvent> ServicePolicy::evaluate(std::string_view service, const HealthInput& health,
                                                 const AddressInput& address, const PolicyWorld& world,
                                                 std::string_view cause, WallClock::time_point now) {
  std::vector<PolicyEvent> events;
  Entry* e = find(service);
  if (!e) return events;
  auto& d = e->d;
  d.floor_question = floor_question(*e->cfg, health, address, world, e->was_up);
  auto decided = decide(*e->cfg, health, address, world, d.floor_question);
  d.drain_holders = drain_holders(*world.operator_state, *e->cfg);
  d.floor_pending = decided.pending;
  d.floor_answer.reset();
  if (d.floor_question && d.floor_question->holdable() && !decided.pending) {
    if (auto it = world.floor->find(service); it != world.floor->end()) d.floor_answer = it->second;
  }
  // Waiting for the floor: nothing changes (a service announced stays announced) until it answers.
  if (decided.pending) return events;
  const ServiceState next = decided.state;
  std::string why = std::move(decided.reason);
  if (next == ServiceState::Up) e->was_up = true;
  e->drain_start.update(next, persisted_drain_start(*world.operator_state, service), now);
  d.drain_began = e->drain_start.began();
  if (decided.held != d.floor_held) {
    d.floor_held = decided.held;
    if (decided.held) ++d.floor_holds;
    events.push_back(FloorHoldChanged{std::string(service), decided.held, why});
  }
  if (next == d.state && d.changes > 0) {
    d.reason = std::move(why);
    d.announced = announces(*e->cfg, d);
    return events;
  }
  const bool first = d.changes == 0;
  const ServiceState old = d.state;
  d.state = next;
  d.reason = why;
  d.since = now;
  ++d.changes;
  if (!first || next != ServiceState::Down)
    events.push_back(StateChanged{std::string(service), first ? std::nullopt : std::optional(old), next, why,
                                  std::string(cause)});
  d.drain_expired = false;
  d.drain_ends.reset();
  if (next == ServiceState::Drained) {
    const auto phase = drain_phase(e->cfg->policy.drain_period, *d.drain_began, now);
    if (phase.withdraw) {
      d.drain_expired = true;
      events.push_back(DrainPeriodAlreadyOver{std::string(service), *d.drain_began});
    } else if (phase.remaining) {
      d.drain_ends = now + *phase.remaining;
    }
  }
  d.announced = announces(*e->cfg, d);
  return events;
}

std::vector<PolicyEvent> ServicePolicy::advance(WallClock::time_point now) {
  std::vector<PolicyEvent> events;
  for (auto& e : entries_) {
    if (!e.d.drain_ends || *e.d.drain_ends > now || e.d.state != ServiceState::Drained) continue;
    e.d.drain_ends.reset();
    e.d.drain_expired = true;
    e.d.announced = announces(*e.cfg, e.d);
    events.push_back(DrainPeriodOver{e.cfg->name});
  }
  return events;
}

std::optional<WallClock::time_point> ServicePolicy::next_wakeup() const {
  std::optional<WallClock::time_point> t;
  for (const auto& e : entries_)
    if (e.d.drain_ends) t = t ? std::min(*t, *e.d.drain_ends) : *e.d.drain_ends;
  return t;
}

const ServiceDecision* ServicePolicy::decision(std::string_view service) const {
  const Entry* e = find(service);
  return e ? &e->d : nullptr;
}

std::vector<std::string> ServicePolicy::services() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.cfg->name);
  return out;
}

std::vector<bgp::Route> ServicePolicy::routes(const PolicyWorld& world) const {
  std::vector<bgp::Route> routes;
  std::size_t total = 0;
  for (const auto& e : entries_)
    if (e.d.announced) total += e.cfg->prefixes.size();
  routes.reserve(total);
  const auto& steering = world.operator_state->steering;
  for (const auto& e : entries_) {
    if (!e.d.announced) continue;
    auto it = steering.find(e.cfg->name);
    auto attrs = announced_attributes(*state_policy(*e.cfg, e.d), it == steering.end() ? nullptr : &it->second,
                                      world.local_as);
    const bgp::SharedAttributes shared(*attrs);  // interned once per service, not once per prefix
    for (const auto& prefix : e.cfg->prefixes) routes.push_back({prefix, shared});
  }
  return routes;
}

bgp::PeerRoutes ServicePolicy::peer_routes(const PolicyWorld& world) const {
  bgp::PeerRoutes out;
  if (!world.peers) return out;
  const auto& steering = world.operator_state->steering;
  // Per announced service: its policy and steering, found once.
  struct Announced {
    const Entry* entry;
    const conf::StatePolicy* policy;
    const PersistentState::Steering* steer;
    bgp::SharedAttributes plain;  // for peers without attributes of their own
  };
  std::vector<Announced> announced;
  for (const auto& e : entries_) {
    if (!e.d.announced) continue;
    auto it = steering.find(e.cfg->name);
    const auto* steer = it == steering.end() ? nullptr : &it->second;
    const auto* policy = state_policy(*e.cfg, e.d);
    announced.push_back({&e, policy, steer, *announced_attributes(*policy, steer, world.local_as)});
  }
  // Peers whose (service, attributes) lists are equal share one set: interning makes equal
  // attributes one address, so the list of pointers identifies the set.
  std::map<std::vector<std::pair<std::size_t, const bgp::RouteAttributes*>>,
           std::shared_ptr<const std::vector<bgp::Route>>>
      sets;
  const conf::PeerAttributes none;
  for (const auto& peer : *world.peers) {
    std::vector<std::pair<std::size_t, bgp::SharedAttributes>> mine;
    for (std::size_t i = 0; i < announced.size(); ++i) {
      const auto& a = announced[i];
      if (!a.entry->cfg->announced_to(peer.name)) continue;
      if (peer.attributes == none) mine.emplace_back(i, a.plain);
      else mine.emplace_back(i, *announced_attributes(*a.policy, a.steer, peer.attributes, world.local_as));
    }
    std::vector<std::pair<std::size_t, const bgp::RouteAttributes*>> key;
    key.reserve(mine.size());
    for (const auto& [i, attrs] : mine) key.emplace_back(i, attrs.get());
    auto& set = sets[key];
    if (!set) {
      std::size_t total = 0;
      for (const auto& m : mine) total += announced[m.first].entry->cfg->prefixes.size();
      std::vector<bgp::Route> routes;
      routes.reserve(total);
      for (const auto& [i, attrs] : mine)
        for (const auto& prefix : announced[i].entry->cfg->prefixes) routes.push_back({prefix, attrs});
      set = std::make_shared<const std::vector<bgp::Route>>(std::move(routes));
    }
    out.emplace(peer.name, set);
  }
  return out;
}

Publication ServicePolicy::publish(const PolicyWorld& world) {
  Publication p;
  p.routes = peer_routes(world);
  AnnouncedSet now = announced_set();
  p.changes = diff_announced(published_, now);
  p.prefixes_before = published_.size();
  p.prefixes_now = now.size();
  published_ = std::move(now);
  return p;
}

std::size_t ServicePolicy::services_announced() const {
  return static_cast<std::size_t>(
      std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.d.announced; }));
}

AnnouncedSet ServicePolicy::announced_set() const {
  AnnouncedSet set;
  for (const auto& e : entries_)
    if (e.d.announced) set.add(e.cfg->name, e.cfg->prefixes);
  return set;
}

ServicePolicy::Entry* ServicePolicy::find(std::string_view service) {
  for (auto& e : entries_)
    if (e.name == service) return &e;
  return nullptr;
}

const ServicePolicy::Entry* ServicePolicy::find(std::string_view service) const {
  for (const auto& e : entries_)
    if (e.name == service) return &e;
  return nullptr;
}

}  // namespace herald::daemon
