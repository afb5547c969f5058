#include "daemon/controller_metrics.hpp"

#include <set>
#include <string>

namespace herald::daemon {

namespace {

// Seconds; a native DNS check on the same host takes well under a millisecond.
const std::vector<double> kCheckLatencyBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
const char* message_type_label(std::size_t i) {
  static const char* names[] = {"", "open", "update", "notification", "keepalive", "route_refresh"};
  return i < 6 ? names[i] : "";
}
double seconds(std::chrono::duration<double> d) { return d.count(); }

constexpr bgp::State kBgpStates[] = {bgp::State::Idle,     bgp::State::Connect,     bgp::State::Active,
                                     bgp::State::OpenSent, bgp::State::OpenConfirm, bgp::State::Established};
constexpr bgp::bfd::State kBfdStates[] = {bgp::bfd::State::AdminDown, bgp::bfd::State::Down, bgp::bfd::State::Init,
                                          bgp::bfd::State::Up};
constexpr ServiceState kServiceStates[] = {ServiceState::Down, ServiceState::Up, ServiceState::Drained};

// A state as one series per possible value: 1 for the current one, 0 for the others, so an
// alert reads `{state="Established"} == 0` and a dashboard can stack them.
template <typename State, std::size_t N>
void add_state(metrics::Scrape::Family& f, const std::string& name, const State (&all)[N], State now) {
  for (State s : all) f.add({name, std::string(to_string(s))}, s == now ? 1 : 0);
}

}  // namespace

ControllerMetrics::ControllerMetrics() {
  registry_.histogram("herald_check_latency_seconds", "Health check latency.", {"service"}, kCheckLatencyBuckets);
  registry_.counter("herald_check_results_total", "Health check results, by outcome.", {"service", "check", "result"});
}

void ControllerMetrics::record_check_result(const std::string& service, const std::string& check,
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
  it->second.latency->Observe(seconds(r.latency));
  (r.pass ? it->second.pass : it->second.fail)->Increment();
}

ControllerMetrics::SpeakerView ControllerMetrics::view_of(const bgp::Speaker& speaker) {
  return {speaker.status(), speaker.refused_connections(bgp::RefusalReason::NotConfigured),
          speaker.refused_connections(bgp::RefusalReason::ShuttingDown), speaker.bfd_dropped()};
}

std::string ControllerMetrics::render(const Inputs& in) {
  metrics::Scrape scrape;
  scrape.gauge("herald_build_info", "herald build information.", {"version"}).add({HERALD_VERSION}, 1);

  // The limit next to the count, so an alert can fire before the session is closed.
  auto& limit = scrape.gauge("herald_peer_max_prefix", "The peer's configured max-prefix (only peers that have one).", {"peer"});
  for (const auto& p : in.config.peers)
    if (p.max_prefix) limit.add({p.name}, static_cast<double>(*p.max_prefix));

  if (in.speaker) {
    auto& up = scrape.gauge("herald_peer_up", "1 while the BGP session is Established, else 0.", {"peer"});
    // An operator's `heraldctl peer disable`: its session is down on purpose (alerts exclude it).
    auto& disabled = scrape.gauge("herald_peer_disabled", "1 while an operator has disabled the peer, else 0.", {"peer"});
    auto& state = scrape.gauge("herald_peer_state", "BGP session state: 1 for the current state, 0 for the others.", {"peer", "state"});
    auto& uptime = scrape.gauge("herald_peer_uptime_seconds", "Seconds since the session became Established (0 when not).", {"peer"});
    auto& sent = scrape.counter("herald_peer_messages_sent_total", "BGP messages sent, by type.", {"peer", "type"});
    auto& recv = scrape.counter("herald_peer_messages_received_total", "BGP messages received, by type.", {"peer", "type"});
    auto& nsent = scrape.counter("herald_peer_notifications_sent_total", "NOTIFICATIONs sent, by code and subcode.", {"peer", "code", "subcode"});
    auto& nrecv = scrape.counter("herald_peer_notifications_received_total", "NOTIFICATIONs received, by code and subcode.", {"peer", "code", "subcode"});
    auto& ann = scrape.gauge("herald_peer_prefixes_announced", "Prefixes in the peer's Adj-RIB-Out.", {"peer"});
    auto& rcv = scrape.gauge("herald_peer_prefixes_received", "Prefixes the peer announces to herald.", {"peer", "family"});
    auto& bup = scrape.gauge("herald_peer_bfd_up", "1 while the peer's BFD session is Up, else 0.", {"peer"});
    auto& bstate = scrape.gauge("herald_peer_bfd_state", "BFD session state (RFC 5880): 1 for the current state, 0 for the others.", {"peer", "state"});
    auto& bflaps = scrape.counter("herald_peer_bfd_flaps_total", "BFD sessions leaving Up.", {"peer"});
    auto& btx = scrape.gauge("herald_peer_bfd_tx_interval_seconds", "Negotiated BFD transmit interval (before jitter).", {"peer"});
    auto& bdetect = scrape.gauge("herald_peer_bfd_detect_time_seconds", "Negotiated BFD detection time (0 before the first packet).", {"peer"});
    bool any_bfd = false;
    for (const auto& ps : in.speaker->peers) {
      const auto& b = ps.bgp;
      up.add({b.name}, b.state == bgp::State::Established ? 1 : 0);
      disabled.add({b.name}, ps.disabled ? 1 : 0);
      add_state(state, b.name, kBgpStates, b.state);
      uptime.add({b.name}, b.uptime ? seconds(*b.uptime) : 0.0);
      for (std::size_t t = 1; t < 6; ++t) {
        sent.add({b.name, message_type_label(t)}, static_cast<double>(b.sent[t]));
        recv.add({b.name, message_type_label(t)}, static_cast<double>(b.received_messages[t]));
      }
      for (const auto& [cs, n] : b.notifications_sent)
        nsent.add({b.name, std::to_string(cs.first), std::to_string(cs.second)}, static_cast<double>(n));
      for (const auto& [cs, n] : b.notifications_received)
        nrecv.add({b.name, std::to_string(cs.first), std::to_string(cs.second)}, static_cast<double>(n));
      std::size_t total = 0;
      for (const auto& [f, n] : b.announced) total += n;
      ann.add({b.name}, static_cast<double>(total));
      for (auto f : {bgp::kIpv4Unicast, bgp::kIpv6Unicast}) {
        auto it = b.received.find(f);
        rcv.add({b.name, bgp::to_string(f)}, it == b.received.end() ? 0.0 : static_cast<double>(it->second));
      }
      if (!ps.bfd) continue;
      any_bfd = true;
      const auto& st = ps.bfd->status;
      bup.add({b.name}, st.state == bgp::bfd::State::Up ? 1 : 0);
      add_state(bstate, b.name, kBfdStates, st.state);
      bflaps.add({b.name}, static_cast<double>(st.flaps));
      btx.add({b.name}, seconds(st.tx_interval));
      bdetect.add({b.name}, seconds(st.detect_time));
    }
    // Anyone who reaches the BGP port can connect: the log aggregates, this counts each one.
    auto& refused = scrape.counter("herald_bgp_connections_refused_total", "Inbound BGP connections refused, by reason.", {"reason"});
    refused.add({"not_configured"}, static_cast<double>(in.speaker->refused_not_configured));
    refused.add({"shutting_down"}, static_cast<double>(in.speaker->refused_shutting_down));
    auto& bdrop = scrape.counter("herald_bfd_packets_dropped_total", "Received BFD packets dropped, by reason.", {"reason"});
    if (any_bfd) {
      for (std::size_t i = 0; i < in.speaker->bfd_dropped.size(); ++i)
        bdrop.add({std::string(bgp::bfd::to_string(static_cast<bgp::bfd::PacketError>(i)))},
                  static_cast<double>(in.speaker->bfd_dropped[i]));
    }
  }

  scrape.gauge("herald_state_file_fail_safe", "1 while every service is drained because the state file could not be read at start.", {})
      .add({}, in.state.fail_safe() ? 1 : 0);
  auto& sstate = scrape.gauge("herald_service_state", "Service state: 1 for the current state, 0 for the others.", {"service", "state"});
  auto& sann = scrape.gauge("herald_service_announced", "1 when the service's prefixes are announced.", {"service"});
  auto& schange = scrape.gauge("herald_service_last_change_timestamp_seconds", "Time of the last service state change.", {"service"});
  auto& schanges = scrape.counter("herald_service_state_changes_total", "Service states entered, the first one included.", {"service"});
  auto& held = scrape.gauge("herald_fleet_floor_held", "1 while the fleet floor keeps the failing service announced.", {"service"});
  auto& holds = scrape.counter("herald_fleet_floor_holds_total", "Times the fleet floor began holding the service.", {"service"});
  for (const auto& sc : in.config.services) {
    const ServiceDecision& d = *in.policy.decision(sc.name);
    add_state(sstate, sc.name, kServiceStates, d.state);
    sann.add({sc.name}, d.announced ? 1 : 0);
    schange.add({sc.name}, seconds(d.since.time_since_epoch()));
    schanges.add({sc.name}, static_cast<double>(d.changes));
    // Only services the floor may hold: those with a [service.fleet] under a [fleet].
    if (in.config.fleet && sc.fleet) {
      held.add({sc.name}, d.floor_held ? 1 : 0);
      holds.add({sc.name}, static_cast<double>(d.floor_holds));
    }
  }

  if (in.queries) {
    scrape.gauge("herald_query_counters_active", "1 while herald counts queries in its nftables table, 0 when query-counters is on but the table could not be made or read.", {})
        .add({}, in.queries->active ? 1 : 0);
    // The kernel's own totals, as they are: a counter kept across reloads keeps its value.
    auto& total = scrape.counter("herald_service_queries_total", "DNS queries arriving on the service address, counted by the kernel: UDP datagrams and TCP connections to the service's DNS port.", {"service", "address", "proto"});
    for (const auto& q : in.queries->series) total.add({q.service, q.address, q.proto}, static_cast<double>(q.packets));
    auto& rate = scrape.gauge("herald_service_queries_per_second", "DNS queries per second arriving on the service's addresses over the last reading interval (the qps a fleet site publishes).", {"service"});
    for (const auto& [service, qps] : in.queries->qps) rate.add({service}, qps);
  }

  if (in.health) {
    auto& up = scrape.gauge("herald_check_up", "Last result of each health check (1 pass, 0 fail).", {"service", "check"});
    auto& lat = scrape.gauge("herald_check_last_latency_seconds", "Latency of the last run of each health check.", {"service", "check"});
    auto& stale = scrape.counter("herald_check_stale_replies_total", "DNS check UDP replies dropped because their id was not the probe's.", {"service", "check"});
    std::set<std::pair<std::string, std::string>> checks;
    std::set<std::string> services;
    for (const auto& h : *in.health) {
      services.insert(h.name);
      for (const auto& c : h.checks) {
        checks.emplace(h.name, c.name);
        if (c.last) {
          up.add({h.name, c.name}, c.last->pass ? 1 : 0);
          lat.add({h.name, c.name}, seconds(c.last->latency));
        }
        // Late answers to timed-out probes (or forged ones, RFC 5452 9.1), for every DNS check.
        if (c.stale_replies) stale.add({h.name, c.name}, static_cast<double>(*c.stale_replies));
      }
    }
    // The recorded series of checks and services a reload removed go with them.
    std::erase_if(check_series_, [&](const auto& e) { return !checks.count(e.first); });
    registry_.counter("herald_check_results_total", "", {"service", "check", "result"})
        .retain([&](const metrics::LabelValues& v) { return checks.count({v[0], v[1]}) > 0; });
    registry_.histogram("herald_check_latency_seconds", "", {"service"}, kCheckLatencyBuckets)
        .retain([&](const metrics::LabelValues& v) { return services.count(v[0]) > 0; });
  }

  auto& dropped = scrape.counter("herald_connections_dropped_total", "Connections closed by the control socket or /metrics listener to keep room, by listener and reason.", {"listener", "reason"});
  for (const auto& [listener, counts] : in.listeners)
    for (std::size_t r = 0; r < counts.size(); ++r)
      dropped.add({listener, std::string(to_string(static_cast<DropReason>(r)))}, static_cast<double>(counts[r]));

  return metrics::render(registry_.collect(), scrape.take());
}

}  // namespace herald::daemon
