#include "daemon/controller_status.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>

#include "bgp/peer.hpp"
#include "conf/values.hpp"
#include "daemon/controller_config.hpp"
#include "daemon/log.hpp"
#include "daemon/would_send.hpp"

namespace herald::daemon {

using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

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


// The wall-clock time of a steady_clock instant in the past.
SystemClock::time_point wall_of(SteadyClock::time_point t) {
  auto age = SteadyClock::now() - t;
  return SystemClock::now() - std::chrono::duration_cast<SystemClock::duration>(age);
}


// How many of a service's prefixes `status` lists (prefix_count has them all).
constexpr std::size_t kStatusPrefixes = 16;


// The routes of one service a dry run would send to each configured peer (would_send_routes,
// the same derivation as "routes" in a dry run), one row per prefix; at most kStatusPrefixes per
// peer, `count` says how many in all. "self" stands for a next hop the session would choose.
nlohmann::json would_send(const conf::Config& config, const conf::ServiceConfig& service,
                          const bgp::Speaker& speaker) {
  using nlohmann::json;
  json peers = json::array();
  for (const auto& p : config.peers) {
    if (!service.announced_to(p.name)) continue;
    const auto groups = would_send_routes(config, p, speaker);
    std::map<bgp::Prefix, const bgp::PathAttributes*> routes;
    for (const auto& g : groups)
      for (const auto& prefix : g.prefixes) routes.emplace(prefix, &g.attributes);
    json list = json::array();
    std::size_t count = 0;
    for (const auto& prefix : service.prefixes) {
      auto it = routes.find(prefix);
      if (it == routes.end()) continue;
      if (++count > kStatusPrefixes) continue;
      const bgp::PathAttributes& a = *it->second;
      json r;
      r["prefix"] = prefix.to_string();
      r["next_hop"] = a.next_hop ? a.next_hop->to_string() : std::string("self");
      json path = json::array();
      if (a.as_path)
        for (const auto& seg : *a.as_path)
          for (auto asn : seg.asns) path.push_back(asn);
      r["as_path"] = path;
      r["med"] = a.med ? json(*a.med) : json(nullptr);
      r["local_pref"] = a.local_pref ? json(*a.local_pref) : json(nullptr);
      json comms = json::array();
      for (auto c : a.communities) comms.push_back(conf::format_community(c));
      r["communities"] = comms;
      json large = json::array();
      for (const auto& c : a.large_communities) large.push_back(bgp::to_string(c));
      r["large_communities"] = large;
      json ext = json::array();
      for (const auto& c : a.extended_communities) ext.push_back(bgp::to_string(c));
      r["extended_communities"] = ext;
      r["otc"] = a.otc ? json(*a.otc) : json(nullptr);
      list.push_back(r);
    }
    peers.push_back({{"peer", p.name}, {"count", count}, {"routes", list}});
  }
  return peers;
}

}  // namespace

nlohmann::json build_status(const StatusInputs& in) {
  using nlohmann::json;
  json st;
  st["schema"] = 1;
  st["version"] = HERALD_VERSION;
  st["pid"] = ::getpid();
  st["started"] = log::format_timestamp(in.started);
  st["now"] = log::format_timestamp(SystemClock::now());
  st["local_as"] = in.config.global.local_as;
  st["router_id"] = in.config.global.router_id.to_string();
  // A dry run: nothing below was sent; "would_send" in each service says what would be.
  st["dry_run"] = in.config.global.dry_run;
  st["drain_all"] = in.state.drain_all ? json{{"reason", in.state.drain_all->reason},
                                            {"since", log::format_timestamp(SystemClock::time_point(std::chrono::milliseconds(in.state.drain_all->since_ms)))},
                                            {"fail_safe", in.state.drain_all->fail_safe}}
                                     : json(nullptr);
  json peers = json::array();
  if (in.speaker) {
    for (const auto& ps : in.speaker->status()) {
      const auto& b = ps.bgp;
      json p;
      p["name"] = b.name;
      auto cfg = std::find_if(in.config.peers.begin(), in.config.peers.end(), [&](const auto& c) { return c.name == b.name; });
      if (cfg != in.config.peers.end()) {
        p["address"] = cfg->address.to_string();
        p["remote_as"] = cfg->remote_as;
        if (!cfg->description.empty()) p["description"] = cfg->description;
      }
      p["state"] = bgp::to_string(b.state);
      // An operator's "heraldctl peer disable": the session stays down (state Idle) until enabled.
      if (auto d = in.state.disabled_peers.find(b.name); d != in.state.disabled_peers.end()) {
        p["disabled"] = {{"reason", d->second.reason},
                         {"since", log::format_timestamp(SystemClock::time_point(std::chrono::milliseconds(d->second.since_ms)))}};
      } else {
        p["disabled"] = nullptr;
      }
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
  if (in.monitor)
    for (auto& h : in.monitor->snapshot()) health_now[h.name] = h;
  json services = json::array();
  for (const auto& sc : in.config.services) {
    const auto* s = &sc;
    const ServiceDecision& d = *in.policy.decision(sc.name);
    json j;
    j["name"] = sc.name;
    j["state"] = to_string(d.state);
    j["since"] = log::format_timestamp(d.since);
    j["reason"] = d.reason;
    // The first few only: a prefixes-file of 100,000 lines would make a reply of megabytes,
    // more than the control socket queues for one client.
    json prefixes = json::array();
    for (std::size_t i = 0; i < s->prefixes.size() && i < kStatusPrefixes; ++i)
      prefixes.push_back(s->prefixes[i].to_string());
    j["prefixes"] = prefixes;
    j["prefix_count"] = s->prefixes.size();
    j["announced"] = d.announced;
    // The peers the service goes to (its `peers` key, or every peer).
    json to = json::array();
    for (const auto& peer : in.config.peers)
      if (s->announced_to(peer.name)) to.push_back(peer.name);
    j["peers"] = to;
    if (in.config.global.dry_run && in.speaker) j["would_send"] = would_send(in.config, sc, *in.speaker);
    // With a [fleet] and a [service.fleet]: what the fleet floor does with it.
    if (d.floor_question)
      j["floor"] = d.floor_pending                            ? "deciding"
                   : !d.floor_answer                          ? "none"
                   : *d.floor_answer == FloorGrant::Hold      ? "held"
                   : *d.floor_answer == FloorGrant::Withdraw  ? "withdrawn"
                                                              : "local";
    json checks = json::array();
    if (auto it = health_now.find(s->name); it != health_now.end()) {
      for (const auto& c : it->second.checks) {
        json cj;
        cj["name"] = c.name;
        cj["kind"] = c.check.substr(0, c.check.find(' '));
        cj["target"] = c.check;
        if (c.last) {
          cj["ok"] = c.last->pass;
          cj["latency_ms"] = std::chrono::duration<double, std::milli>(c.last->latency).count();
          cj["detail"] = c.last->reason;
          // Which server instance answered (RFC 5001), and the zone's serial of a SOA check.
          if (c.last->nsid) cj["nsid"] = *c.last->nsid;
          if (c.last->serial) cj["serial"] = *c.last->serial;
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
    if (auto it = in.state.drained.find(s->name); it != in.state.drained.end()) {
      j["drain"] = {{"reason", it->second.reason}, {"since", log::format_timestamp(SystemClock::time_point(std::chrono::milliseconds(it->second.since_ms)))},
                    {"all", false}};
    } else if (in.state.drain_all) {
      j["drain"] = {{"reason", in.state.drain_all->reason},
                    {"since", log::format_timestamp(SystemClock::time_point(std::chrono::milliseconds(in.state.drain_all->since_ms)))}, {"all", true}};
    } else if (auto f = in.state.fleet_drains.find(s->name); f != in.state.fleet_drains.end()) {
      j["drain"] = {{"reason", f->second.reason},
                    {"since", log::format_timestamp(SystemClock::time_point(std::chrono::milliseconds(f->second.since_ms)))},
                    {"all", false}, {"fleet", true}};
    } else {
      j["drain"] = nullptr;
      for (const auto& unit : s->units)
        if (auto u = in.state.unit_drains.find(unit); u != in.state.unit_drains.end()) {
          j["drain"] = {{"reason", u->second.reason},
                        {"since", log::format_timestamp(SystemClock::time_point(std::chrono::milliseconds(u->second.since_ms)))},
                        {"all", false}, {"unit", unit}};
          break;
        }
    }
    // Every holder of the drain: the service stays drained until the last one undrains.
    j["drain_holders"] = drain_holders(in.state, *s);
    if (auto it = in.state.steering.find(s->name); it != in.state.steering.end()) {
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

}  // namespace herald::daemon
