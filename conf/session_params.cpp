// Which peer settings a reload can apply without resetting the BGP session, and which global
// settings it cannot apply at all.
#include "conf/config.hpp"

#include <algorithm>

namespace herald::conf {

namespace {

#define HERALD_FIELD(key, member, on_change) \
  PeerField { key, on_change, [](const PeerConfig& a, const PeerConfig& b) { return a.member != b.member; } }
constexpr auto kKeeps = SessionOnChange::Keeps;
constexpr auto kNew = SessionOnChange::NeedsNew;

// Every [[peer]] key, in the order of docs/configuration.md, with what a change of it does to a
// running session. Everything negotiated in OPEN (AS, hold time, families, role: RFC 4271 4.2,
// RFC 4760 8, RFC 9234 4), fixed when the TCP connection is made (addresses, port, MD5 key,
// GTSM TTL) or the session's identity (name) needs a new session. BFD settings restart the BFD
// session, and with it the BGP session it guards. The others only change what herald logs,
// sends next or does on the next connection attempt.
const PeerField kPeerFields[] = {
    HERALD_FIELD("name", name, kNew),
    HERALD_FIELD("description", description, kKeeps),
    HERALD_FIELD("address", address, kNew),
    HERALD_FIELD("remote-as", remote_as, kNew),
    HERALD_FIELD("local-address", local_address, kNew),
    HERALD_FIELD("port", port, kNew),
    HERALD_FIELD("mode", mode, kKeeps),
    HERALD_FIELD("hold-time", hold_time, kNew),
    HERALD_FIELD("keepalive", keepalive, kNew),
    HERALD_FIELD("connect-retry", connect_retry, kKeeps),
    HERALD_FIELD("connect-retry-max", connect_retry_max, kKeeps),
    HERALD_FIELD("idle-hold", idle_hold, kKeeps),
    HERALD_FIELD("idle-hold-max", idle_hold_max, kKeeps),
    HERALD_FIELD("md5-password", md5_password, kNew),
    // Where the key came from: the key itself is md5-password.
    HERALD_FIELD("md5-password-file", md5_password_file, kKeeps),
    HERALD_FIELD("gtsm", gtsm, kNew),
    HERALD_FIELD("families", families, kNew),
    HERALD_FIELD("next-hop-v4", next_hop_v4, kKeeps),
    HERALD_FIELD("next-hop-v6", next_hop_v6, kKeeps),
    HERALD_FIELD("next-hop-v6-link-local", next_hop_v6_link_local, kKeeps),
    HERALD_FIELD("max-prefix", max_prefix, kKeeps),
    HERALD_FIELD("role", role, kNew),
    HERALD_FIELD("strict-role", strict_role, kNew),
    PeerField{"bfd", kNew, [](const PeerConfig& a, const PeerConfig& b) { return a.bfd.has_value() != b.bfd.has_value(); }},
    PeerField{"bfd-min-tx", kNew, [](const PeerConfig& a, const PeerConfig& b) { return a.bfd && b.bfd && a.bfd->min_tx != b.bfd->min_tx; }},
    PeerField{"bfd-min-rx", kNew, [](const PeerConfig& a, const PeerConfig& b) { return a.bfd && b.bfd && a.bfd->min_rx != b.bfd->min_rx; }},
    PeerField{"bfd-multiplier", kNew, [](const PeerConfig& a, const PeerConfig& b) { return a.bfd && b.bfd && a.bfd->multiplier != b.bfd->multiplier; }},
    PeerField{"bfd-wait-for-up", kNew, [](const PeerConfig& a, const PeerConfig& b) { return a.bfd && b.bfd && a.bfd->wait_for_up != b.bfd->wait_for_up; }},
    // What herald puts into its own UPDATEs to this peer: the next publication sends the
    // changed routes again (RFC 4271 3.1: a new announcement replaces the old path).
    HERALD_FIELD("communities", attributes.communities, kKeeps),
    HERALD_FIELD("large-communities", attributes.large_communities, kKeeps),
    HERALD_FIELD("extended-communities", attributes.extended_communities, kKeeps),
    HERALD_FIELD("med", attributes.med, kKeeps),
    HERALD_FIELD("prepend", attributes.prepend, kKeeps),
    HERALD_FIELD("local-pref", attributes.local_pref, kKeeps),
};
#undef HERALD_FIELD

// A field added to PeerConfig or BfdConfig changes their size: add it to kPeerFields (with its
// key and whether it needs a new session), then update the sizes here. (Checked where the
// sizes were taken: 64-bit libstdc++.)
#if defined(__GLIBCXX__) && defined(__x86_64__)
static_assert(sizeof(PeerConfig) == 392 + sizeof(PeerAttributes), "PeerConfig changed: list the new field in kPeerFields");
static_assert(sizeof(BfdConfig) == 24, "BfdConfig changed: list the new field in kPeerFields");
static_assert(sizeof(PeerAttributes) == 96, "PeerAttributes changed: list the new field in kPeerFields");
#endif

}  // namespace

std::span<const PeerField> peer_fields() { return kPeerFields; }

bool peer_needs_new_session(const PeerConfig& a, const PeerConfig& b) {
  return std::any_of(std::begin(kPeerFields), std::end(kPeerFields),
                     [&](const PeerField& f) { return f.on_change == SessionOnChange::NeedsNew && f.differs(a, b); });
}

bool peer_session_params_equal(const PeerConfig& a, const PeerConfig& b) { return !peer_needs_new_session(a, b); }

std::vector<std::string> peer_changed_keys(const PeerConfig& a, const PeerConfig& b) {
  std::vector<std::string> out;
  for (const auto& f : kPeerFields)
    if (f.differs(a, b)) out.emplace_back(f.key);
  return out;
}

std::vector<std::string> global_keys_needing_restart(const GlobalConfig& a, const GlobalConfig& b) {
  // Settings that live in sockets opened once at start, or in the privileges dropped then.
  std::vector<std::string> out;
  auto note = [&](bool differs, const char* key) {
    if (differs) out.emplace_back(key);
  };
  note(a.local_as != b.local_as, "global.local-as");
  note(a.router_id != b.router_id, "global.router-id");
  note(a.listen != b.listen, "global.listen");
  note(a.control_socket != b.control_socket || a.control_group != b.control_group,
       "global.control-socket/control-group");
  note(a.metrics != b.metrics, "global.metrics");
  note(a.state_dir != b.state_dir, "global.state-dir");
  note(a.user != b.user, "global.user");
  // A dry run has no sessions and no addresses to hand over; a live daemon has no way back.
  note(a.dry_run != b.dry_run, "global.dry-run");
  return out;
}

bool ServiceConfig::announced_to(std::string_view peer) const {
  return peers.empty() || std::find(peers.begin(), peers.end(), peer) != peers.end();
}

bool PeerConfig::carries(bgp::Family f) const {
  return std::find(families.begin(), families.end(), f) != families.end();
}

}  // namespace herald::conf
