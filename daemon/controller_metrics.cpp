#include "daemon/controller_metrics.hpp"

#include <string>

namespace herald::daemon {

namespace {

// Seconds; a native DNS check on the same host takes well under a millisecond.
const std::vector<double> kCheckLatencyBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
std::string family_label(bgp::Family f) { return bgp::to_string(f); }
const char* message_type_label(std::size_t i) {
  static const char* names[] = {"", "open", "update", "notification", "keepalive", "route_refresh"};
  return i < 6 ? names[i] : "";
}

}  // namespace

ControllerMetrics::ControllerMetrics(metrics::Registry& registry) : registry_(registry) {
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
  registry_.gauge("herald_fleet_floor_held", "1 while the fleet floor keeps the failing service announced.", {"service"});
  registry_.counter("herald_fleet_floor_holds_total", "Times the fleet floor began holding the service.", {"service"});
  registry_.gauge("herald_check_up", "Last result of each health check (1 pass, 0 fail).", {"service", "check"});
  registry_.gauge("herald_check_last_latency_seconds", "Latency of the last run of each health check.", {"service", "check"});
  registry_.histogram("herald_check_latency_seconds", "Health check latency.", {"service"}, kCheckLatencyBuckets);
  registry_.counter("herald_check_results_total", "Health check results, by outcome.", {"service", "check", "result"});
  registry_.counter("herald_connections_dropped_total", "Connections closed by the control socket or /metrics listener to keep room, by listener and reason.", {"listener", "reason"});
  registry_.counter("herald_check_stale_replies_total", "DNS check UDP replies dropped because their id was not the probe's.", {"service", "check"});
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
  it->second.latency->observe(std::chrono::duration<double>(r.latency).count());
  (r.pass ? it->second.pass : it->second.fail)->inc();
}

std::string ControllerMetrics::render(const Inputs& in) {
  auto counter_set = [this](metrics::Family<metrics::Counter>& fam, const std::vector<std::string>& labels, double v) {
    std::string key = fam.name();
    for (const auto& l : labels) key += "\x1f" + l;
    auto& seen = last_seen_[{fam.name(), key}];
    double delta = v >= seen ? v - seen : v;  // a re-created peer starts again from 0
    seen = v;
    if (delta > 0) fam.with(labels).inc(delta);
  };
  if (in.speaker) {
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
    for (const auto& p : in.config.peers) {
      if (p.max_prefix) limit.with({p.name}).set(static_cast<double>(*p.max_prefix));
      else limit.remove({p.name});  // a reload took the limit away
    }
    for (const auto& ps : in.speaker->status()) {
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
                static_cast<double>(in.speaker->refused_connections(bgp::RefusalReason::NotConfigured)));
    counter_set(refused, {"shutting_down"},
                static_cast<double>(in.speaker->refused_connections(bgp::RefusalReason::ShuttingDown)));
    refused.with({"not_configured"});  // exported from 0 on
    // BFD (RFC 5880): state as the RFC's numbers (0 AdminDown, 1 Down, 2 Init, 3 Up).
    auto& bstate = registry_.gauge("herald_bfd_session_state", "", {"peer"});
    auto& bflaps = registry_.counter("herald_bfd_session_flaps_total", "", {"peer"});
    auto& btx = registry_.gauge("herald_bfd_tx_interval_seconds", "", {"peer"});
    auto& bdetect = registry_.gauge("herald_bfd_detect_time_seconds", "", {"peer"});
    for (const auto& ps : in.speaker->status()) {
      if (!ps.bfd) continue;
      const auto& st = ps.bfd->status;
      bstate.with({ps.bgp.name}).set(static_cast<double>(st.state));
      bflaps.with({ps.bgp.name});  // exported from 0 on, not only after the first flap
      counter_set(bflaps, {ps.bgp.name}, static_cast<double>(st.flaps));
      btx.with({ps.bgp.name}).set(std::chrono::duration<double>(st.tx_interval).count());
      bdetect.with({ps.bgp.name}).set(std::chrono::duration<double>(st.detect_time).count());
    }
    const auto dropped = in.speaker->bfd_dropped();
    auto& bdrop = registry_.counter("herald_bfd_packets_dropped_total", "", {"reason"});
    for (std::size_t i = 0; i < dropped.size(); ++i)
      if (dropped[i] > 0)
        counter_set(bdrop, {std::string(bgp::bfd::to_string(static_cast<bgp::bfd::PacketError>(i)))},
                    static_cast<double>(dropped[i]));
  }
  registry_.gauge("herald_state_file_fail_safe", "", {}).with(std::vector<std::string>{}).set(in.state.fail_safe() ? 1 : 0);
  auto& sstate = registry_.gauge("herald_service_state", "", {"service"});
  auto& sann = registry_.gauge("herald_service_announced", "", {"service"});
  auto& schange = registry_.gauge("herald_service_last_change_timestamp_seconds", "", {"service"});
  for (const auto& sc : in.config.services) {
    const ServiceDecision& d = *in.policy.decision(sc.name);
    sstate.with({sc.name}).set(d.state == ServiceState::Down ? 0 : d.state == ServiceState::Up ? 1 : 2);
    sann.with({sc.name}).set(d.announced ? 1 : 0);
    schange.with({sc.name}).set(std::chrono::duration<double>(d.since.time_since_epoch()).count());
    // Only services the floor may hold: those with a [service.fleet] under a [fleet].
    if (in.config.fleet && sc.fleet)
      registry_.gauge("herald_fleet_floor_held", "", {"service"}).with({sc.name}).set(d.floor_held ? 1 : 0);
  }
  if (in.monitor) {
    auto& up = registry_.gauge("herald_check_up", "", {"service", "check"});
    auto& lat = registry_.gauge("herald_check_last_latency_seconds", "", {"service", "check"});
    auto& stale = registry_.counter("herald_check_stale_replies_total", "", {"service", "check"});
    for (const auto& h : in.monitor->snapshot())
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
