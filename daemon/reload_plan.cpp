#include "daemon/reload_plan.hpp"

#include <algorithm>

namespace herald::daemon {

namespace {
const conf::PeerConfig* named(const std::vector<conf::PeerConfig>& peers, const std::string& name) {
  auto it = std::find_if(peers.begin(), peers.end(), [&](const auto& p) { return p.name == name; });
  return it == peers.end() ? nullptr : &*it;
}
}  // namespace

std::vector<PeerStep> plan_peer_reload(const std::vector<conf::PeerConfig>& before,
                                       const std::vector<conf::PeerConfig>& after) {
  using A = PeerStep::Action;
  std::vector<PeerStep> plan;
  for (const auto& p : before) {
    const conf::PeerConfig* next = named(after, p.name);
    if (!next) {
      plan.push_back({A::Remove, &p, {}});
      continue;
    }
    if (*next == p) continue;
    std::string changed;
    for (const auto& key : conf::peer_changed_keys(p, *next)) changed += (changed.empty() ? "" : ",") + key;
    plan.push_back({conf::peer_needs_new_session(p, *next) ? A::RestartSession : A::RetuneKeepingSession, next,
                    std::move(changed)});
  }
  for (const auto& p : after)
    if (!named(before, p.name)) plan.push_back({A::Add, &p, {}});
  return plan;
}

namespace {
std::vector<std::string> peers_of(const conf::ServiceConfig& s, const std::vector<conf::PeerConfig>& peers) {
  std::vector<std::string> out;
  for (const auto& p : peers)
    if (s.announced_to(p.name)) out.push_back(p.name);
  return out;
}
std::vector<std::string> missing_from(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> out;
  for (const auto& n : a)
    if (std::find(b.begin(), b.end(), n) == b.end()) out.push_back(n);
  return out;
}
}  // namespace

std::vector<ServicePeersMove> plan_service_peers(const conf::Config& before, const conf::Config& after) {
  std::vector<ServicePeersMove> out;
  for (const auto& s : after.services) {
    auto old = std::find_if(before.services.begin(), before.services.end(),
                            [&](const conf::ServiceConfig& o) { return o.name == s.name; });
    if (old == before.services.end()) continue;
    const auto was = peers_of(*old, before.peers);
    const auto now = peers_of(s, after.peers);
    ServicePeersMove m{s.name, missing_from(was, now), missing_from(now, was)};
    if (!m.left.empty() || !m.joined.empty()) out.push_back(std::move(m));
  }
  return out;
}

std::string restart_refusal(const conf::GlobalConfig& before, const conf::GlobalConfig& after) {
  std::string list;
  for (const auto& key : conf::global_keys_needing_restart(before, after)) list += (list.empty() ? "" : ", ") + key;
  if (list.empty()) return list;
  return "configuration not reloaded: changing " + list + " needs a restart of herald";
}

}  // namespace herald::daemon
