// Peer: the Fsm plus bytes (framing, decoding, encoding) and routes (Adj-RIB-Out diffs,
// End-of-RIB, ROUTE-REFRESH, received-prefix counting and max-prefix).
#include "bgp/peer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "bgp/otc.hpp"

namespace herald::bgp {

namespace {

MessageType type_of(const Message& m) {
  switch (m.index()) {
    case 0: return MessageType::Open;
    case 1: return MessageType::Update;
    case 2: return MessageType::Notification;
    case 3: return MessageType::Keepalive;
    default: return MessageType::RouteRefresh;
  }
}

std::size_t index_of(MessageType t) { return static_cast<std::size_t>(t); }

// RFC 4486 4: Cease 1 data is AFI (2 octets), SAFI (1 octet), the upper bound (4 octets).
Notification max_prefix_notification(Family f, std::uint32_t limit) {
  const auto afi = static_cast<std::uint16_t>(f.afi);
  Bytes data{static_cast<std::uint8_t>(afi >> 8),     static_cast<std::uint8_t>(afi & 0xFF),
             static_cast<std::uint8_t>(f.safi),       static_cast<std::uint8_t>(limit >> 24),
             static_cast<std::uint8_t>(limit >> 16),  static_cast<std::uint8_t>(limit >> 8),
             static_cast<std::uint8_t>(limit & 0xFF)};
  return Notification::make(ErrorCode::Cease, CeaseSubcode::MaximumPrefixesReached,
                            std::move(data));
}

// RFC 9003 defines the text for 6/2 and 6/4; other subcodes carry no data.
Notification cease(std::string_view reason, CeaseSubcode subcode) {
  return subcode == CeaseSubcode::AdministrativeShutdown || subcode == CeaseSubcode::AdministrativeReset
             ? Notification::shutdown(reason, subcode)
             : Notification::make(ErrorCode::Cease, subcode);
}

}  // namespace

Peer::Peer(PeerConfig config, std::uint64_t rng_seed)
    : config_(std::move(config)), fsm_(config_, rng_seed) {}

ConnId Peer::allocate_conn_id() { return fsm_.allocate_conn_id(); }

void Peer::log(LogLevel level, std::string text, Actions& out) const {
  out.push_back(Log{level, std::move(text)});
}

// ---- Turning Fsm actions into Peer actions ----

void Peer::absorb(FsmActions&& in, Clock::time_point now, Actions& out) {
  // SessionUp waits for the end of the batch so that the StateChange to Established comes
  // first and the initial UPDATEs follow it.
  std::optional<SessionUp> up_later;
  for (auto& a : in) {
    if (auto* s = std::get_if<SendMessage>(&a)) {
      send_message(s->conn, s->message, out);
    } else if (auto* c = std::get_if<Close>(&a)) {
      io_.erase(c->conn);
      out.push_back(*c);
    } else if (auto* up = std::get_if<SessionUp>(&a)) {
      up_later = *up;
    } else if (auto* down = std::get_if<SessionDown>(&a)) {
      out.push_back(*down);
      on_session_down();
    } else {
      std::visit(
          [&](auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (!std::is_same_v<T, SendMessage>) out.push_back(std::move(x));
          },
          a);
    }
  }
  if (up_later && fsm_.established_conn() == up_later->conn) {
    out.push_back(*up_later);
    on_session_up(up_later->conn, now, out);
  }
}

void Peer::send_message(ConnId conn, const Message& m, Actions& out) {
  const auto& n = fsm_.negotiated();
  const CodecOptions opts = n ? n->codec : CodecOptions{};
  if (const auto* notif = std::get_if<Notification>(&m)) {
    ++notif_sent_[{notif->code, notif->subcode}];
  }
  ++sent_[index_of(type_of(m))];
  out.push_back(Send{conn, encode(m, opts)});
}

void Peer::send_bytes(ConnId conn, Bytes b, MessageType type, Clock::time_point now,
                      Actions& out) {
  ++sent_[index_of(type)];
  out.push_back(Send{conn, std::move(b)});
  FsmActions timers;
  fsm_.note_sending(conn, now, timers);
  absorb(std::move(timers), now, out);
}

// ---- Events ----

Actions Peer::start(Clock::time_point now) {
  Actions out;
  absorb(fsm_.start(now), now, out);
  return out;
}

Actions Peer::stop(Clock::time_point now, std::string_view reason, CeaseSubcode subcode) {
  Actions out;
  absorb(fsm_.stop(now, cease(reason, subcode)), now, out);
  return out;
}

Actions Peer::reset(Clock::time_point now, std::string_view reason, CeaseSubcode subcode) {
  Actions out;
  absorb(fsm_.reset(now, cease(reason, subcode)), now, out);
  return out;
}

Actions Peer::on_connected(ConnId conn, Clock::time_point now, const IpAddress& local,
                           const IpAddress& remote, bool inbound) {
  Actions out;
  io_.emplace(conn, ConnIo{});  // erased again by a Close if the Fsm refuses the connection
  absorb(fsm_.connected(conn, now, local, remote, inbound), now, out);
  if (!fsm_.is_open_conn(conn)) io_.erase(conn);
  return out;
}

Actions Peer::on_connect_failed(ConnId conn, Clock::time_point now, std::string_view reason) {
  Actions out;
  absorb(fsm_.connect_failed(conn, now, reason), now, out);
  return out;
}

Actions Peer::on_closed(ConnId conn, Clock::time_point now, std::string_view reason) {
  Actions out;
  absorb(fsm_.closed(conn, now, reason), now, out);
  io_.erase(conn);
  return out;
}

Actions Peer::on_sent(ConnId conn, Clock::time_point now, bool drained) {
  Actions out;
  absorb(fsm_.sent(conn, now, drained), now, out);
  return out;
}

Actions Peer::on_timer(TimerId timer, Clock::time_point now) {
  Actions out;
  absorb(fsm_.timer(timer, now), now, out);
  return out;
}

Actions Peer::keepalive_early(Clock::time_point now) {
  Actions out;
  absorb(fsm_.keepalive_early(now), now, out);
  return out;
}

Actions Peer::on_bytes(ConnId conn, std::span<const std::uint8_t> bytes, Clock::time_point now) {
  Actions out;
  auto io = io_.find(conn);
  if (io == io_.end() || !fsm_.is_open_conn(conn)) return out;  // closed already: drop
  io->second.framer.append(bytes);
  // Stop as soon as the connection is gone: bytes after a fatal error mean nothing.
  while (fsm_.is_open_conn(conn)) {
    io = io_.find(conn);
    if (io == io_.end()) break;
    Framer::Frame frame = io->second.framer.next();
    if (frame.status == Framer::Status::NeedMore) break;
    if (frame.status == Framer::Status::Error) {
      absorb(fsm_.error(conn, now, frame.error, "message header error"), now, out);
      break;
    }
    ++received_messages_[index_of(frame.type)];
    const auto& neg = fsm_.negotiated();
    const CodecOptions opts = neg ? neg->codec : CodecOptions{};
    auto decoded = decode(frame.type, frame.body, opts);
    if (!decoded) {
      absorb(fsm_.error(conn, now, decoded.error(), "malformed message"), now, out);
      break;
    }
    const Message& msg = decoded->message;
    if (const auto* n = std::get_if<Notification>(&msg)) {
      ++notif_received_[{n->code, n->subcode}];
    }
    absorb(fsm_.message(conn, msg, now), now, out);
    if (!fsm_.is_open_conn(conn)) break;
    if (std::holds_alternative<Open>(msg) && fsm_.negotiated()) {
      // RFC 8654 3: larger messages are allowed once both OPENs carried the capability.
      io = io_.find(conn);
      if (io != io_.end()) {
        io->second.framer.set_max_message_size(fsm_.negotiated()->codec.max_message_size());
      }
    }
    if (fsm_.established_conn() != conn) continue;
    if (auto* u = std::get_if<Update>(&decoded->message)) {
      ErrorAction action = decoded->action;
      auto problems = std::move(decoded->problems);
      const SessionFacts facts = session_facts();
      for (auto& p : session_checks(*u, facts)) {
        action = std::max(action, ErrorAction::TreatAsWithdraw);
        problems.push_back(std::move(p));
      }
      for (const auto& p : problems) {
        log(LogLevel::warning, "UPDATE error handled per RFC 7606: " + p, out);
      }
      // RFC 9234 5 ingress: a leaked route is ineligible, taken as withdrawn like a malformed one.
      const bool announces = !u->nlri.empty() || (u->attrs.mp_reach && !u->attrs.mp_reach->nlri.empty());
      if (facts.ebgp && announces) {
        const auto otc = otc_on_ingress(config_.role, facts.peer_as, u->attrs.otc);
        if (otc.leak) {
          action = std::max(action, ErrorAction::TreatAsWithdraw);
          log(LogLevel::warning, "route leak detected: " + *otc.leak, out);
        }
        // Rule 3. herald keeps no received attributes (it counts prefixes), so nothing reads it
        // yet; it is set so that the Update handed on says what the RFC says the route carries.
        if (otc.add) u->attrs.otc = otc.add;
      }
      handle_update(conn, *u, action, now, out);
    } else if (const auto* rr = std::get_if<RouteRefresh>(&msg)) {
      handle_route_refresh(conn, *rr, now, out);
    }
  }
  return out;
}

// ---- Received routes: counted, not stored ----

SessionFacts Peer::session_facts() const {
  const auto& n = *fsm_.negotiated();
  SessionFacts f;
  f.ebgp = config_.is_ebgp(n.peer_as);
  f.peer_as = n.peer_as;
  f.four_octet_as = n.codec.four_octet_as;
  f.own_addresses.push_back(n.local_address);
  for (const auto& a : {next_hop(kIpv4Unicast), next_hop(kIpv6Unicast), link_local_next_hop()}) {
    if (a && *a != n.local_address) f.own_addresses.push_back(*a);
  }
  // herald as a route server's client (RFC 9234 role rs-client) skips the first-AS check.
  f.check_first_as = config_.role != Role::RsClient;
  return f;
}

void Peer::handle_update(ConnId conn, const Update& u, ErrorAction action, Clock::time_point now,
                         Actions& out) {
  if (auto eor = u.end_of_rib()) {
    log(LogLevel::info, "received End-of-RIB for " + to_string(*eor), out);
    return;
  }
  std::vector<std::pair<Family, const std::vector<Prefix>*>> announced;
  std::vector<std::pair<Family, const std::vector<Prefix>*>> withdrawn;
  withdrawn.emplace_back(kIpv4Unicast, &u.withdrawn);
  if (u.attrs.mp_unreach) withdrawn.emplace_back(u.attrs.mp_unreach->family, &u.attrs.mp_unreach->withdrawn);
  announced.emplace_back(kIpv4Unicast, &u.nlri);
  if (u.attrs.mp_reach) announced.emplace_back(u.attrs.mp_reach->family, &u.attrs.mp_reach->nlri);
  if (action == ErrorAction::TreatAsWithdraw) {
    // RFC 7606 2: the routes of a malformed UPDATE are withdrawn; the session stays up.
    std::size_t n = 0;
    for (const auto& [f, ps] : announced) n += ps->size();
    log(LogLevel::warning,
        "treat-as-withdraw: " + std::to_string(n) + " announced prefixes taken as withdrawn", out);
    withdrawn.insert(withdrawn.end(), announced.begin(), announced.end());
    announced.clear();
  }
  for (const auto& [f, ps] : withdrawn) {
    auto it = received_.find(f);
    if (it == received_.end()) continue;
    for (const auto& p : *ps) it->second.erase(p);
  }
  for (const auto& [f, ps] : announced) {
    if (ps->empty()) continue;
    auto& set = received_[f];
    for (const auto& p : *ps) set.insert(p);
  }
  for (const auto& [f, ps] : announced) {
    if (!ps->empty() && max_prefix_passed(conn, f, now, out)) return;
  }
}

bool Peer::max_prefix_passed(ConnId conn, std::optional<Family> announced, Clock::time_point now,
                             Actions& out) {
  // RFC 4486 Cease 1 when a configured limit is passed.
  std::size_t total = 0;
  for (const auto& [f, set] : received_) total += set.size();
  auto over = [&](Family f, std::optional<std::uint32_t> limit, std::size_t count) {
    if (!limit || count <= *limit) return false;
    const std::string text = "maximum prefixes reached: " + std::to_string(count) + " " +
                             to_string(f) + " prefixes, limit " + std::to_string(*limit);
    absorb(fsm_.error(conn, now, max_prefix_notification(f, *limit), text), now, out);
    return true;
  };
  auto count = [&](Family f) {
    auto it = received_.find(f);
    return it == received_.end() ? std::size_t{0} : it->second.size();
  };
  if (over(kIpv4Unicast, config_.max_prefix.ipv4, count(kIpv4Unicast))) return true;
  if (over(kIpv6Unicast, config_.max_prefix.ipv6, count(kIpv6Unicast))) return true;
  // The total is reported against the family that passed it, or (a lowered limit) the
  // family with the most prefixes.
  Family f = kIpv4Unicast;
  if (announced) f = *announced;
  else if (count(kIpv6Unicast) > count(kIpv4Unicast)) f = kIpv6Unicast;
  return over(f, config_.max_prefix.total, total);
}

// ---- Sent routes ----

void Peer::handle_route_refresh(ConnId conn, const RouteRefresh& rr, Clock::time_point now,
                                Actions& out) {
  const auto& n = *fsm_.negotiated();
  if (rr.subtype != RouteRefreshSubtype::Normal) return;  // the neighbor's own BoRR/EoRR markers
  if (!n.route_refresh ||
      std::find(n.families.begin(), n.families.end(), rr.family) == n.families.end()) {
    // RFC 2918 4 / RFC 7313 5: ignore a request for a family that was not negotiated.
    log(LogLevel::info, "ignored ROUTE-REFRESH for " + to_string(rr.family), out);
    return;
  }
  const auto nh = next_hop(rr.family);
  if (!nh) return;
  if (n.enhanced_route_refresh) {
    send_message(conn, RouteRefresh{rr.family, RouteRefreshSubtype::BeginOfRibRefresh}, out);
  }
  resend_family(conn, rr.family, now, out);
  if (n.enhanced_route_refresh) {
    // RFC 7313 4: the neighbor drops what it did not hear again between BoRR and EoRR.
    send_message(conn, RouteRefresh{rr.family, RouteRefreshSubtype::EndOfRibRefresh}, out);
  }
  FsmActions timers;
  fsm_.note_sending(conn, now, timers);
  absorb(std::move(timers), now, out);
}

void Peer::on_session_up(ConnId conn, Clock::time_point now, Actions& out) {
  rib_out_.clear();
  sync_routes(conn, now, out);
  // RFC 4724 2: End-of-RIB after the initial table, for each negotiated family.
  for (const auto& f : fsm_.negotiated()->families) {
    send_bytes(conn, encode_end_of_rib(f, fsm_.negotiated()->codec), MessageType::Update, now, out);
  }
}

void Peer::on_session_down() {
  rib_out_.clear();
  received_.clear();
}

Actions Peer::set_routes(std::vector<Route> desired, Clock::time_point now) {
  return set_routes_shared(std::make_shared<const std::vector<Route>>(std::move(desired)), now);
}

Actions Peer::set_routes_shared(std::shared_ptr<const std::vector<Route>> desired, Clock::time_point now) {
  if (!desired) {
    std::fprintf(stderr, "bgp: broken invariant: peer %s given a null route set\n", config_.name.c_str());
    std::abort();
  }
  Actions out;
  desired_ = std::move(desired);
  const ConnId conn = fsm_.established_conn();
  if (conn != 0) sync_routes(conn, now, out);
  return out;
}

void Peer::resend_family(ConnId conn, Family f, Clock::time_point now, Actions& out) {
  const auto nh = next_hop(f);
  if (!nh) return;
  const auto& n = *fsm_.negotiated();
  for (const auto& [attrs, prefixes] : rib_out_.grouped(f)) {
    for (auto& b : encode_announcements(f, wire_attributes(attrs), *nh,
                                        f == kIpv6Unicast ? link_local_next_hop() : std::nullopt,
                                        prefixes, n.codec)) {
      send_bytes(conn, std::move(b), MessageType::Update, now, out);
    }
  }
}

Actions Peer::reconfigure(PeerConfig config, Clock::time_point now) {
  if (config.check() || !same_session(config_, config)) {
    std::fprintf(stderr, "bgp: broken invariant: peer %s reconfigured with session changes\n",
                 config_.name.c_str());
    std::abort();
  }
  Actions out;
  const ConnId conn = fsm_.established_conn();
  // The next hops in use before the change, per negotiated family.
  std::vector<std::pair<Family, std::pair<std::optional<IpAddress>, std::optional<IpAddress>>>> before;
  if (conn != 0) {
    for (const auto& f : fsm_.negotiated()->families)
      before.push_back({f, {next_hop(f), f == kIpv6Unicast ? link_local_next_hop() : std::nullopt}});
  }
  config_ = std::move(config);  // the Fsm reads it through its reference
  fsm_.reconfigured();
  if (conn == 0) return out;
  if (max_prefix_passed(conn, std::nullopt, now, out)) return out;
  const auto& n = *fsm_.negotiated();
  for (const auto& [f, old] : before) {
    const auto nh = next_hop(f);
    const auto ll = f == kIpv6Unicast ? link_local_next_hop() : std::nullopt;
    if (nh == old.first && ll == old.second) continue;
    if (nh) {
      // Announcing a prefix again replaces its path (RFC 4271 3.1): no withdrawal first.
      log(LogLevel::info, "next hop for " + to_string(f) + " now " + nh->to_string() +
                              ": announcing its routes again", out);
      resend_family(conn, f, now, out);
      continue;
    }
    log(LogLevel::warning,
        "no next hop for " + to_string(f) + " any more: withdrawing its routes (configure one)", out);
    const RibDiff d = rib_out_.diff(f, {});
    for (auto& b : encode_withdrawals(f, d.withdrawn, n.codec)) {
      send_bytes(conn, std::move(b), MessageType::Update, now, out);
    }
    rib_out_.apply(f, d);
  }
  return out;
}

void Peer::sync_routes(ConnId conn, Clock::time_point now, Actions& out) {
  const auto& n = *fsm_.negotiated();
  for (const auto& f : n.families) {
    const auto nh = next_hop(f);
    if (!nh) {
      bool wanted = std::any_of(desired_->begin(), desired_->end(),
                                [&](const Route& r) { return r.prefix.family() == f; });
      if (wanted) {
        log(LogLevel::warning,
            "not announcing " + to_string(f) + ": no next hop of that family (configure one)",
            out);
      }
      continue;
    }
    const RibDiff d = rib_out_.diff(f, *desired_);
    if (d.empty()) continue;
    for (auto& b : encode_withdrawals(f, d.withdrawn, n.codec)) {
      send_bytes(conn, std::move(b), MessageType::Update, now, out);
    }
    for (const auto& [attrs, prefixes] : d.announced) {
      for (auto& b : encode_announcements(f, wire_attributes(attrs), *nh,
                                          f == kIpv6Unicast ? link_local_next_hop() : std::nullopt,
                                          prefixes, n.codec)) {
        send_bytes(conn, std::move(b), MessageType::Update, now, out);
      }
    }
    rib_out_.apply(f, d);
  }
}

PathAttributes egress_attributes(const RouteAttributes& a, const PeerConfig& config, std::uint32_t peer_as) {
  const bool ebgp = config.is_ebgp(peer_as);
  PathAttributes p;
  p.origin = a.origin;
  AsSegment seq;
  seq.type = AsSegmentType::AsSequence;
  // RFC 4271 5.1.2: on eBGP our AS goes first; on iBGP the path is left as configured.
  if (ebgp) seq.asns.push_back(config.local_as);
  seq.asns.insert(seq.asns.end(), a.as_path_prepend.begin(), a.as_path_prepend.end());
  p.as_path = AsPath{};
  if (!seq.asns.empty()) p.as_path->push_back(std::move(seq));
  p.med = a.med;
  // RFC 4271 5.1.5: LOCAL_PREF on iBGP only (100 unless set).
  if (!ebgp) p.local_pref = a.local_pref.value_or(100);
  p.communities = a.communities;
  p.large_communities = a.large_communities;
  p.extended_communities = a.extended_communities;
  // RFC 9234 5 egress: towards a customer, a peer or an RS client our routes carry OTC = our AS.
  if (ebgp) p.otc = otc_on_egress(config.role, config.local_as);
  return p;
}

PathAttributes Peer::wire_attributes(const RouteAttributes& a) const {
  return egress_attributes(a, config_, fsm_.negotiated()->peer_as);
}

std::optional<IpAddress> Peer::next_hop(Family f) const {
  const auto& n = fsm_.negotiated();
  if (f == kIpv4Unicast) {
    if (config_.next_hop_v4) return config_.next_hop_v4;
    if (n && n->local_address.is_v4()) return n->local_address;
    return std::nullopt;
  }
  if (config_.next_hop_v6) return config_.next_hop_v6;
  if (n && !n->local_address.is_v4() && !n->local_address.is_link_local()) return n->local_address;
  return std::nullopt;
}

std::optional<IpAddress> Peer::link_local_next_hop() const {
  if (config_.next_hop_v6_link_local) return config_.next_hop_v6_link_local;
  const auto& n = fsm_.negotiated();
  if (n && n->local_address.is_link_local()) return n->local_address;
  return std::nullopt;
}

// ---- Status ----

PeerStatus Peer::status(Clock::time_point now) const {
  PeerStatus s;
  s.name = config_.name;
  s.state = fsm_.state();
  s.since = fsm_.since();
  if (s.state == State::Established) s.uptime = now - fsm_.since();
  s.last_error = fsm_.last_error();
  if (const auto& n = fsm_.negotiated()) {
    s.hold_time = n->hold_time;
    s.keepalive = n->keepalive;
    s.peer_as = n->peer_as;
    s.peer_bgp_id = n->peer_bgp_id;
    s.families = n->families;
    s.next_hop_v4 = next_hop(kIpv4Unicast);
    s.next_hop_v6 = next_hop(kIpv6Unicast);
    s.next_hop_v6_link_local = link_local_next_hop();
    for (const auto& f : n->families) s.announced[f] = rib_out_.size(f);
  }
  for (const auto& [f, set] : received_) s.received[f] = set.size();
  s.sent = sent_;
  s.received_messages = received_messages_;
  s.notifications_sent = notif_sent_;
  s.notifications_received = notif_received_;
  return s;
}

}  // namespace herald::bgp
