// What the controller tells the world about what happened: the policy's events and the
// prefixes a publication changed (log lines, control-socket events), and the
// speaker's log lines and session events.
#include <malloc.h>

#include <algorithm>

#include <fmt/format.h>

#include "daemon/controller.hpp"
#include "daemon/controller_prefix_log.hpp"

namespace herald::daemon {

void Controller::apply(const std::vector<PolicyEvent>& events) {
  for (const auto& ev : events) {
    if (const auto* c = std::get_if<StateChanged>(&ev)) {
      const std::string_view old = c->old ? to_string(*c->old) : std::string_view("Start");
      log_.write(c->now == ServiceState::Up ? log::Level::notice : log::Level::warning, "service state change",
                 {{"service", c->service}, {"old", old}, {"new", to_string(c->now)}, {"reason", c->reason},
                  {"cause", c->cause}});
      publish_event({{"event", "service"}, {"service", c->service}, {"old", old}, {"new", to_string(c->now)},
                     {"reason", c->reason}});
    } else if (const auto* over = std::get_if<DrainPeriodAlreadyOver>(&ev)) {
      // Its period ran out before (herald restarted, or the service was Down meanwhile): the
      // prefixes were withdrawn then and stay so.
      log_.write(log::Level::info, "drain period already over",
                 {{"service", over->service}, {"since", log::format_timestamp(over->since)},
                  {"reason", "drained prefixes stay withdrawn"}});
    } else if (const auto* f = std::get_if<FloorHoldChanged>(&ev)) {
      // Loud: a failing service stays announced because the fleet would otherwise fall below
      // min-sites (docs/fleet.md).
      log_.write(log::Level::warning, f->held ? "held by fleet floor" : "fleet floor hold ended",
                 {{"service", f->service}, {"reason", f->reason}});
      publish_event({{"event", "fleet-floor"}, {"service", f->service}, {"new", f->held ? "held" : "released"},
                     {"reason", f->reason}});
    } else if (const auto* end = std::get_if<DrainPeriodOver>(&ev)) {
      log_.write(log::Level::info, "drain period over",
                 {{"service", end->service}, {"reason", "withdrawing drained prefixes"}});
    }
  }
}

void Controller::publish_routes(std::string_view cause) {
  // Drain starts changed by the evaluate() calls before: one save for all of them.
  if (drain_starts_dirty_) {
    drain_starts_dirty_ = false;
    save_state();
  }
  if (!speaker_) return;
  auto publication = policy_.publish(world());
  speaker_->set_peer_routes(std::move(publication.routes));
  check_drain_waits();  // the withdrawals are now handed to every established session
  // "peers": the sessions the service is announced to that carry the prefix's family, not
  // every Established one; in a dry run, the configured peers that would carry it (no session
  // ever comes up).
  const bool dry = config_.global.dry_run;
  const auto peer_status = speaker_->status();
  const conf::ServiceConfig* counted = nullptr;
  std::size_t peers_v4 = 0, peers_v6 = 0;
  auto count_for = [&](const std::string& service) {
    const auto it = std::find_if(config_.services.begin(), config_.services.end(),
                                 [&](const conf::ServiceConfig& s) { return s.name == service; });
    const conf::ServiceConfig* cfg = it == config_.services.end() ? nullptr : &*it;
    if (counted == cfg && cfg) return;
    counted = cfg;
    if (dry) {
      auto configured = [&](bgp::Family f) {
        return static_cast<std::size_t>(std::count_if(config_.peers.begin(), config_.peers.end(), [&](const conf::PeerConfig& p) {
          return p.carries(f) && (!cfg || cfg->announced_to(p.name));
        }));
      };
      peers_v4 = configured(bgp::kIpv4Unicast);
      peers_v6 = configured(bgp::kIpv6Unicast);
      return;
    }
    std::vector<bgp::SpeakerPeerStatus> to;
    for (const auto& ps : peer_status)
      if (!cfg || cfg->announced_to(ps.bgp.name)) to.push_back(ps);
    peers_v4 = bgp::sessions_carrying(to, bgp::kIpv4Unicast);
    peers_v6 = bgp::sessions_carrying(to, bgp::kIpv6Unicast);
  };
  // A dry run logs the same decisions, saying that nothing went out.
  const std::string_view not_sent = dry ? " (dry run: not sent)" : "";
  auto peers_for = [&](const bgp::Prefix& p) { return p.family() == bgp::kIpv4Unicast ? peers_v4 : peers_v6; };
  // One line (and event) per prefix while a service's change is small; one per service when
  // it is large (controller_prefix_log.hpp).
  for (const auto& change : publication.changes) {
    count_for(change.service);
    for (auto [list, word] : {std::pair{&change.announced, "announced"}, std::pair{&change.withdrawn, "withdrawn"}}) {
      if (list->empty()) continue;
      if (list->size() <= kPrefixLinesPerService) {
        for (const auto& prefix : *list) {
          const std::size_t peers_up = peers_for(prefix);
          std::string pfx = prefix.to_string();
          log_.write(log::Level::notice, fmt::format("prefix {}{}", word, not_sent),
                     {{"service", change.service}, {"prefix", pfx}, {"peers", peers_up}, {"reason", cause}});
          publish_event({{"event", "announce"}, {"service", change.service}, {"prefix", pfx}, {"new", word},
                         {"peers", peers_up}, {"reason", cause}, {"dry_run", dry}});
        }
        continue;
      }
      const PrefixSummary sum = summarise(*list);
      log_.write(log::Level::notice, fmt::format("prefixes {}{}", word, not_sent),
                 {{"service", change.service}, {"count", static_cast<std::uint64_t>(sum.count)},
                  {"ipv4", static_cast<std::uint64_t>(sum.ipv4)}, {"ipv6", static_cast<std::uint64_t>(sum.ipv6)},
                  {"first", sum.first}, {"peers_ipv4", static_cast<std::uint64_t>(peers_v4)},
                  {"peers_ipv6", static_cast<std::uint64_t>(peers_v6)}, {"reason", cause}});
      publish_event({{"event", "announce"}, {"service", change.service}, {"prefixes", sum.count},
                     {"first", sum.first}, {"new", word}, {"peers_ipv4", peers_v4}, {"peers_ipv6", peers_v6},
                     {"reason", cause}, {"dry_run", dry}});
    }
  }
  const bool large = publication.prefixes_before + publication.prefixes_now > 64 * kPrefixLinesPerService;
  update_notify_status();
  fleet_publish_state();
  // A large change leaves megabytes of freed route and diff buffers in the heap; give them back
  // so a bulk service's RSS is what it holds, not what it once built.
  if (large) ::malloc_trim(0);
}

void Controller::log_service_peer_moves(const std::vector<ServicePeersMove>& moves) {
  auto join = [](const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
    return out.empty() ? std::string("-") : out;
  };
  for (const auto& m : moves)
    log_.write(log::Level::notice, "service peers changed",
               {{"service", m.service}, {"removed_peers", join(m.left)}, {"added_peers", join(m.joined)},
                {"reason", "reload"}});
}

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

}  // namespace herald::daemon
