// The service policy: what each service's state is and what herald announces for it.
//
// Shaped like bgp::Fsm: it owns no socket, timer or file and reads no clock. The controller
// feeds it inputs with `now` and applies its outputs.
//
// Inputs, per service: its configuration, its health (health::Monitor's state and reason, and
// whether a process check says the DNS server is gone; Up for a service without checks), whether
// its addresses are present. For all services (PolicyWorld): the operator state
// (PersistentState: drains, drain --all, a fail-safe drain, fleet drains, steering, persisted
// drain starts), whether herald shuts down with drain-on-shutdown, the local AS, and with a
// [fleet] the fleet floor's answers (FloorAnswers, from the etcd round the wiring runs). A flap
// hold needs no input of its own: health reports a held service Down.
//
// The decision, evaluated in this order (the first that holds wins):
//   Down    addresses missing / interface down (the route would black-hole traffic);
//   Down    health checks failing (or a flap hold); with a [fleet] and a [service.fleet], when
//           the failure is the checks' alone (the DNS process is not gone, no drain holds it,
//           no shutdown) and the service was Up before in this run (one starting Down has
//           never been seen answering, and there is nothing to keep) the floor decides: its answer Hold keeps the service announced under
//           [service.fleet.held] ("held by fleet floor", floor_held); Withdraw or Local (etcd
//           unreachable: decided alone) withdraw as without the fleet; no answer yet keeps the
//           previous decision unchanged (floor_pending) until the wiring has one;
//   Drained a maintenance file (health Drained);
//   Drained while any drain holder holds it (drain_holders()): drain --all (a fail-safe drain
//           is one), the operator's drain of this service, a fleet drain (a desired key naming
//           this site, its region or all), a drain of a unit it lists in `units` (heraldctl
//           drain --unit); undraining one holder leaves the others' holds;
//   Drained shutdown with drain-on-shutdown;
//   Up      otherwise.
// Each state maps to its [service.policy.STATE] (announce with attributes, or withdraw). A
// Drained service announces its "drained" policy for drain-period counted from when the drain
// began (daemon/drain_period.hpp), then withdraws. Steering replaces prepend (and MED when it
// gives one) of whatever is announced.
//
// Which peers, with what: a service goes to the peers its `peers` names (every peer when it
// names none), and each peer's own attributes (conf::PeerAttributes) are added on top of the
// service's (announced_attributes()).
//
// Outputs: the decided state and reason per service (decision()); the routes to announce, one
// set per peer (peer_routes(): the speaker sends each peer its own set, of the families that
// peer carries; peers with equal sets share one); the next time evaluation is due on its own
// (next_wakeup(): a drain-period end); events: state changes (old/new/reason/cause), a drain
// period that ended or had ended before, and on publish() the prefixes announced and withdrawn
// since the last publication (controller_prefix_log.hpp groups them per service).
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bgp/adj_rib_out.hpp"
#include "bgp/types.hpp"
#include "conf/config.hpp"
#include "daemon/controller_prefix_log.hpp"
#include "daemon/drain_period.hpp"
#include "daemon/state_file.hpp"

namespace herald::daemon {

// What health says about a service (health::Monitor's view; see health_input()).
struct HealthInput {
  ServiceState state = ServiceState::Down;
  std::string reason;
  // A process check failed: the DNS server process is gone. The fleet floor never holds such a
  // service (announcing an address nobody answers on only black-holes queries).
  bool process_gone = false;
};

// Whether the service's addresses are on their interface (always ready when bind = false).
struct AddressInput {
  bool ready = true;
  std::string reason;  // why not, when not
};

// Whether herald is shutting down. Draining: with drain-on-shutdown, every service is drained
// first. Withdrawing: without it, states stay as they are (the shutdown withdraws everything).
enum class Shutdown { No, Draining, Withdrawing };

// The fleet floor's answer for one service whose checks fail (docs/fleet.md, fleet/floor.hpp),
// got by the wiring through an etcd transaction.
enum class FloorGrant {
  Hold,      // withdrawing would leave fewer than min-sites announcing: keep announcing, guarded
  Withdraw,  // enough other sites announce (recorded in the floor ledger): withdraw
  Local,     // etcd could not be reached: decide alone, as without the fleet (withdraw)
};
const char* to_string(FloorGrant g);
// Service name -> the answer for its present failure. The wiring drops a service's answer as
// soon as its floor_question changes, so an answer never outlives the failure it was asked for.
using FloorAnswers = std::map<std::string, FloorGrant, std::less<>>;

// What the floor is asked about a service (the fleet::FloorInput facts): only a question with
// checks_fail and none of the others can be held.
struct FloorQuestion {
  bool checks_fail = false;
  bool process_gone = false;
  bool address_gone = false;
  bool drained = false;  // any drain holder, a maintenance file or a shutdown drain
  bool never_up = false;  // not Up once since herald started: nothing to keep announcing
  bool holdable() const { return checks_fail && !process_gone && !address_gone && !drained && !never_up; }
  bool operator==(const FloorQuestion&) const = default;
};

// What holds for every service.
struct PolicyWorld {
  const PersistentState* operator_state = nullptr;  // never null
  Shutdown shutdown = Shutdown::No;
  std::uint32_t local_as = 0;
  // The peers routes go to (the configuration in force); null: none (peer_routes() is empty).
  const std::vector<conf::PeerConfig>* peers = nullptr;
  // nullptr: no [fleet]: the floor never holds a service, exactly as without the fleet.
  const FloorAnswers* floor = nullptr;
};

// One service's state changed (old nullopt: its first decision, shown as "Start"). A service
// whose first decision is Down makes none: nothing was ever announced for it.
struct StateChanged {
  std::string service;
  std::optional<ServiceState> old;
  ServiceState now;
  std::string reason;
  std::string cause;
};
// A drained service's period ended now: its prefixes are withdrawn.
struct DrainPeriodOver {
  std::string service;
};
// A service entered Drained with its period already over (a restart, or Down meanwhile): the
// prefixes withdrawn then stay withdrawn.
struct DrainPeriodAlreadyOver {
  std::string service;
  WallClock::time_point since;
};
// The fleet floor began (held) or stopped holding the service announced although its checks fail.
struct FloorHoldChanged {
  std::string service;
  bool held = false;
  std::string reason;
};
using PolicyEvent = std::variant<StateChanged, DrainPeriodOver, DrainPeriodAlreadyOver, FloorHoldChanged>;

// The decided state of one service.
struct ServiceDecision {
  ServiceState state = ServiceState::Down;
  std::string reason;
  WallClock::time_point since;   // when `state` was entered (or the service was configured)
  bool announced = false;        // its prefixes are in routes()
  bool drain_expired = false;    // Drained for longer than drain-period: withdrawn
  std::optional<WallClock::time_point> drain_began;  // the drain in force (drain_period.hpp)
  std::optional<WallClock::time_point> drain_ends;   // when drain_expired will become true
  std::uint64_t changes = 0;     // state changes so far; 0: not decided yet
  std::vector<std::string> drain_holders;  // drain_holders() at the last evaluation
  // With a [fleet] and a [service.fleet]: what the floor is to be asked now (nullopt otherwise).
  std::optional<FloorQuestion> floor_question;
  bool floor_held = false;     // Down, announced under [service.fleet.held]: "held by fleet floor"
  std::uint64_t floor_holds = 0;  // times floor_held became true (herald_fleet_floor_holds_total)
  bool floor_pending = false;  // holdable, no answer yet: the previous decision stands meanwhile
  std::optional<FloorGrant> floor_answer;  // the answer that decided a holdable failure
};

// What one publication changed: the routes for the speaker and the per-service prefix changes
// (announced/withdrawn since the previous publication) for the log.
struct Publication {
  bgp::PeerRoutes routes;  // every peer of PolicyWorld::peers, with its own set
  std::vector<ServicePrefixChange> changes;
  std::size_t prefixes_before = 0;  // announced by the previous publication
  std::size_t prefixes_now = 0;
};

// Who holds a drain of `service` (in this order): "all" (drain --all), "operator" (its own
// drain), "fleet" (a fleet drain of this site, its region or all), "unit:NAME" for each unit in
// service.units drained with drain --unit NAME. The service is drained while the list is not
// empty.
std::vector<std::string> drain_holders(const PersistentState& state, const conf::ServiceConfig& service);

// Health input of a service without a Monitor entry: it has no checks and is always Up.
HealthInput health_without_checks();

// The attributes a state policy announces with, steering applied (nullopt: withdraw).
std::optional<bgp::RouteAttributes> announced_attributes(const conf::StatePolicy& policy,
                                                         const PersistentState::Steering* steering,
                                                         std::uint32_t local_as);
// The same for one peer: the service's attributes (steering applied) with the peer's on top.
// Communities, large and extended communities: the peer's are added (sorted, unique). MED:
// the peer's replaces the policy's, and steering's (an operator's decision now) replaces both.
// LOCAL_PREF: the peer's (iBGP only; the session sends 100 without it). Prepend: the peer's
// copies of the local AS come after the service's (or steering's).
std::optional<bgp::RouteAttributes> announced_attributes(const conf::StatePolicy& policy,
                                                         const PersistentState::Steering* steering,
                                                         const conf::PeerAttributes& peer,
                                                         std::uint32_t local_as);

class ServicePolicy {
 public:
  // Start and reload: the services of the configuration now in force, which must outlive the
  // policy or the next call (the policy keeps pointers, not copies: a service may list 100,000
  // prefixes). Services kept by name keep their state; new ones start undecided (since = now);
  // removed ones are forgotten (their prefixes leave the next publication).
  void set_services(const std::vector<conf::ServiceConfig>& services, WallClock::time_point now);

  // Decides `service` again. Unknown names are ignored (no events). The caller keeps
  // PersistentState::drain_began up to date from decision()->drain_began.
  std::vector<PolicyEvent> evaluate(std::string_view service, const HealthInput& health,
                                    const AddressInput& address, const PolicyWorld& world,
                                    std::string_view cause, WallClock::time_point now);

  // Time passed: drain periods that end at or before `now` withdraw their prefixes.
  std::vector<PolicyEvent> advance(WallClock::time_point now);
  // The earliest time advance() has something to do; nullopt: nothing pending.
  std::optional<WallClock::time_point> next_wakeup() const;

  const ServiceDecision* decision(std::string_view service) const;
  // Names in configuration order.
  std::vector<std::string> services() const;

  // The routes of every announced service with the services' own attributes (steering from
  // world.operator_state): what a peer named by every service, with no attributes of its own,
  // announces.
  std::vector<bgp::Route> routes(const PolicyWorld& world) const;
  // The routes of each peer of world.peers: the services announced to it, with its attributes.
  bgp::PeerRoutes peer_routes(const PolicyWorld& world) const;
  // peer_routes(), and what changed since the previous publish(); remembers this one.
  Publication publish(const PolicyWorld& world);
  // Everything was withdrawn (shutdown): the next publication counts from nothing.
  void forget_published() { published_ = {}; }
  std::size_t services_announced() const;

 private:
  struct Entry {
    // The service's own name: set_services() finds the previous entries by it without reading
    // the previous configuration, which the caller may already have changed or freed.
    std::string name;
    const conf::ServiceConfig* cfg = nullptr;
    ServiceDecision d;
    DrainStart drain_start;
    bool was_up = false;  // decided Up at least once since herald started
  };
  Entry* find(std::string_view service);
  const Entry* find(std::string_view service) const;
  AnnouncedSet announced_set() const;

  std::vector<Entry> entries_;
  AnnouncedSet published_;  // what the last publish() announced
};

}  // namespace herald::daemon
