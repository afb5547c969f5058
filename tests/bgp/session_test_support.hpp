// Shared helpers of the FSM and Peer tests: a checked config, a neighbor's OPEN, and lookups
// into returned action lists. Time is a plain time_point the tests advance by hand.
#pragma once
#include <chrono>
#include <optional>
#include <variant>
#include <vector>

#include <doctest/doctest.h>

#include "bgp/codec.hpp"
#include "bgp/fsm.hpp"
#include "bgp/peer.hpp"

namespace herald::bgp::testing {

using namespace std::chrono_literals;

inline Clock::time_point t0() { return Clock::time_point{} + 1000h; }

// The two ends of the session base_config() describes.
inline const IpAddress kLocal = *IpAddress::parse("192.0.2.1");
inline const IpAddress kRemote = *IpAddress::parse("192.0.2.2");

// Local side: AS 65000, router id 192.0.2.1, neighbor 192.0.2.2 in AS 65001.
inline PeerConfig base_config() {
  PeerConfig c;
  c.name = "upstream";
  c.peer_address = *IpAddress::parse("192.0.2.2");
  c.peer_as = 65001;
  c.local_as = 65000;
  c.router_id = 0xC0000201;  // 192.0.2.1
  c.hold_time = 90;
  return c;
}

// The neighbor's OPEN: AS 65001, id 192.0.2.2 (higher than ours), both unicast families.
inline Open peer_open(std::uint16_t hold = 90, std::uint32_t bgp_id = 0xC0000202) {
  Open o;
  o.my_as = 65001;
  o.hold_time = hold;
  o.bgp_id = bgp_id;
  o.caps.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
  o.caps.four_octet_as = 65001;
  o.caps.route_refresh = true;
  return o;
}

template <typename T, typename V>
std::vector<T> all_of(const std::vector<V>& actions) {
  std::vector<T> out;
  for (const auto& a : actions) {
    if (const auto* x = std::get_if<T>(&a)) out.push_back(*x);
  }
  return out;
}

template <typename T, typename V>
std::optional<T> first_of(const std::vector<V>& actions) {
  for (const auto& a : actions) {
    if (const auto* x = std::get_if<T>(&a)) return *x;
  }
  return std::nullopt;
}

template <typename V>
std::optional<ArmTimer> armed(const std::vector<V>& actions, TimerKind k) {
  for (const auto& a : actions) {
    if (const auto* x = std::get_if<ArmTimer>(&a); x && x->timer.kind == k) return *x;
  }
  return std::nullopt;
}

template <typename V>
bool cancelled(const std::vector<V>& actions, TimerKind k) {
  for (const auto& a : actions) {
    if (const auto* x = std::get_if<CancelTimer>(&a); x && x->timer.kind == k) return true;
  }
  return false;
}

// The NOTIFICATIONs an Fsm asked to send.
inline std::vector<Notification> notifications(const FsmActions& actions) {
  std::vector<Notification> out;
  for (const auto& s : all_of<SendMessage>(actions)) {
    if (const auto* n = std::get_if<Notification>(&s.message)) out.push_back(*n);
  }
  return out;
}

template <typename V>
bool closes(const std::vector<V>& actions, ConnId id) {
  for (const auto& c : all_of<Close>(actions)) {
    if (c.conn == id) return true;
  }
  return false;
}

// Every message in a Peer's Send actions for `conn`, in order, decoded with the codec (what went
// on the wire).
inline std::vector<Message> sent_messages(const Actions& actions, ConnId conn,
                                          CodecOptions opts = CodecOptions{}) {
  Framer f(kMaxExtendedMessageSize);
  for (const auto& s : all_of<Send>(actions)) {
    if (s.conn == conn) f.append(s.bytes);
  }
  std::vector<Message> out;
  for (;;) {
    auto fr = f.next();
    if (fr.status == Framer::Status::NeedMore) break;
    REQUIRE(fr.status == Framer::Status::Message);
    auto d = decode(fr.type, fr.body, opts);
    REQUIRE(d.has_value());
    out.push_back(d->message);
  }
  return out;
}

}  // namespace herald::bgp::testing
