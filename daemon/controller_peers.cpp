// The controller's per-peer operator commands: "routes" (the Adj-RIB-Out as sent) and "peer
// reset|disable|enable". A disable is persisted (state_.disabled_peers) like a drain, so the
// session stays down across restarts; the speaker does the NOTIFICATIONs (RFC 4486, RFC 9003).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "conf/values.hpp"
#include "daemon/controller.hpp"
#include "daemon/routes_json.hpp"
#include "daemon/would_send.hpp"

namespace herald::daemon {

using SystemClock = std::chrono::system_clock;

namespace {

std::vector<std::string> peer_names(const conf::Config& config) {
  std::vector<std::string> out;
  for (const auto& p : config.peers) out.push_back(p.name);
  return out;
}

// `routes: unknown peer "upstrem1" (did you mean "upstream1"?) (configured: upstream1, upstream2)`
std::string unknown_peer_error(std::string_view verb, std::string_view name, const std::vector<std::string>& known) {
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  return fmt::format("{}: unknown peer \"{}\"{} (configured: {})", verb, name, control::did_you_mean(name, known),
                     list.empty() ? "none" : list);
}

}  // namespace

bgp::SpeakerPeerConfig Controller::speaker_peer_now(const conf::PeerConfig& peer) const {
  auto out = speaker_peer(config_, peer);
  out.disabled = state_.disabled_peers.count(peer.name) > 0;
  return out;
}

std::vector<bgp::SpeakerPeerConfig> Controller::speaker_peers_now() const {
  std::vector<bgp::SpeakerPeerConfig> out;
  for (const auto& p : config_.peers) out.push_back(speaker_peer_now(p));
  return out;
}

nlohmann::json Controller::do_routes(const control::Routes& r) const {
  const auto known = peer_names(config_);
  if (!r.peer.empty() && std::find(known.begin(), known.end(), r.peer) == known.end())
    return control::error_response(unknown_peer_error("routes", r.peer, known));
  nlohmann::json peers = nlohmann::json::array();
  std::size_t budget = kRoutesListed;
  bool truncated = false;
  if (speaker_) {
    for (const auto& ps : speaker_->status()) {
      const auto& b = ps.bgp;
      if (!r.peer.empty() && b.name != r.peer) continue;
      nlohmann::json p;
      p["name"] = b.name;
      auto cfg = std::find_if(config_.peers.begin(), config_.peers.end(), [&](const auto& c) { return c.name == b.name; });
      p["address"] = cfg != config_.peers.end() ? nlohmann::json(cfg->address.to_string()) : nlohmann::json(nullptr);
      p["state"] = bgp::to_string(b.state);
      if (auto d = state_.disabled_peers.find(b.name); d != state_.disabled_peers.end())
        p["disabled"] = {{"reason", d->second.reason}};
      else
        p["disabled"] = nullptr;
      // A dry run opens no session: what would be sent instead, as the status's would_send.
      const auto sent = config_.global.dry_run && cfg != config_.peers.end()
                            ? would_send_routes(config_, *cfg, *speaker_)
                            : speaker_->adj_rib_out_as_sent(b.name).value_or(std::vector<bgp::SentRoutes>{});
      std::size_t count = 0;
      for (const auto& s : sent) count += s.prefixes.size();
      p["prefix_count"] = count;
      p["groups"] = sent_routes_json(sent, budget, truncated);
      peers.push_back(std::move(p));
    }
  }
  return control::ok_response({{"peers", peers}, {"truncated", truncated}, {"dry_run", config_.global.dry_run}});
}

nlohmann::json Controller::do_peer(const control::PeerAction& a, const control::Caller& caller) {
  const auto verb = "peer " + std::string(control::to_string(a.action));
  const auto known = peer_names(config_);
  const bool configured = std::find(known.begin(), known.end(), a.peer) != known.end();
  const auto uid = static_cast<std::int64_t>(caller.uid);
  if (!configured) {
    // A peer disabled, then removed from the configuration: enable forgets the record.
    if (a.action == control::PeerActionKind::Enable && state_.disabled_peers.erase(a.peer) > 0) {
      log_.write(log::Level::notice, "peer enabled", {{"peer", a.peer}, {"uid", uid}, {"configured", false}});
      auto warn = save_state();
      nlohmann::json r = {{"message", "peer " + a.peer + " is not configured; its disable record was removed"}};
      if (warn) r["warning"] = *warn;
      return control::ok_response(r);
    }
    return control::error_response(unknown_peer_error(verb, a.peer, known));
  }
  if (!speaker_) return control::error_response(verb + ": the BGP speaker is not running");
  switch (a.action) {
    case control::PeerActionKind::Reset: {
      if (state_.disabled_peers.count(a.peer))
        return control::error_response(fmt::format("{}: peer {} is disabled; use \"heraldctl peer enable {}\"",
                                                   verb, a.peer, a.peer));
      if (auto err = speaker_->reset_peer(a.peer, a.reason)) return control::error_response(verb + ": " + *err);
      log_.write(log::Level::notice, "peer reset", {{"peer", a.peer}, {"reason", a.reason}, {"uid", uid},
                                                    {"notification", "Cease/Administrative Reset (6/4)"}});
      publish_event({{"event", "peer-reset"}, {"peer", a.peer}, {"reason", a.reason}, {"uid", caller.uid}});
      auto cfg = std::find_if(config_.peers.begin(), config_.peers.end(), [&](const auto& c) { return c.name == a.peer; });
      return control::ok_response({{"message", "peer " + a.peer + " reset (sent Cease/Administrative Reset); it reconnects in " +
                                                   conf::format_duration(cfg->idle_hold) + " (idle-hold)"}});
    }
    case control::PeerActionKind::Disable: {
      const bool already = state_.disabled_peers.count(a.peer) > 0;
      const std::int64_t now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(SystemClock::now().time_since_epoch()).count();
      auto& rec = state_.disabled_peers[a.peer];
      rec.reason = a.reason;
      if (!already) rec.since_ms = now_ms;
      auto warn = save_state();
      if (auto err = speaker_->disable_peer(a.peer, a.reason)) return control::error_response(verb + ": " + *err);
      log_.write(log::Level::notice, "peer disabled", {{"peer", a.peer}, {"reason", a.reason}, {"uid", uid},
                                                       {"notification", "Cease/Administrative Shutdown (6/2)"}});
      publish_event({{"event", "peer-disable"}, {"peer", a.peer}, {"reason", a.reason}, {"uid", caller.uid}});
      nlohmann::json r = {{"message", already ? "peer " + a.peer + " was already disabled; reason updated"
                                              : "peer " + a.peer +
                                                    " disabled (sent Cease/Administrative Shutdown); it stays "
                                                    "down until \"heraldctl peer enable " + a.peer + "\""}};
      if (warn) r["warning"] = *warn;
      return control::ok_response(r);
    }
    case control::PeerActionKind::Enable: {
      if (!state_.disabled_peers.erase(a.peer))
        return control::ok_response({{"message", "peer " + a.peer + " is not disabled; nothing changed"}});
      auto warn = save_state();
      if (auto err = speaker_->enable_peer(a.peer)) return control::error_response(verb + ": " + *err);
      log_.write(log::Level::notice, "peer enabled", {{"peer", a.peer}, {"uid", uid}});
      publish_event({{"event", "peer-enable"}, {"peer", a.peer}, {"uid", caller.uid}});
      nlohmann::json r = {{"message", "peer " + a.peer + " enabled; the session starts"}};
      if (warn) r["warning"] = *warn;
      return control::ok_response(r);
    }
  }
  return control::error_response(verb + ": unknown action");
}

}  // namespace herald::daemon
