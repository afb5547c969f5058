// Fuzz target: arbitrary bytes from an Established neighbor, driven through a Peer.
// Byte 0 picks how the stream is cut into reads; the rest is the TCP stream after the
// handshake. Checks: no crash, and everything the engine sends frames and decodes cleanly.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <variant>

#include "bgp/codec.hpp"
#include "bgp/peer.hpp"

using namespace herald::bgp;

namespace {

// What we send must always be well formed: a broken encoder would reset real sessions.
void check_sent(const Actions& actions, ConnId conn, const CodecOptions& opts) {
  Framer f(kMaxExtendedMessageSize);
  for (const auto& a : actions) {
    if (const auto* s = std::get_if<Send>(&a); s && s->conn == conn) f.append(s->bytes);
  }
  for (;;) {
    auto fr = f.next();
    if (fr.status == Framer::Status::NeedMore) return;
    if (fr.status == Framer::Status::Error) std::abort();
    if (!decode(fr.type, fr.body, opts)) std::abort();
  }
}

PeerConfig config() {
  PeerConfig c;
  c.name = "fuzz";
  c.peer_address = *IpAddress::parse("192.0.2.2");
  c.peer_as = 65001;
  c.local_as = 65000;
  c.router_id = 0xC0000201;
  c.next_hop_v6 = *IpAddress::parse("2001:db8::1");
  c.max_prefix.total = 1000;
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Peer peer(config(), 1);
  auto now = Clock::time_point{} + std::chrono::hours(1);
  peer.set_routes({Route{*Prefix::parse("192.0.2.53/32"), {}},
                   Route{*Prefix::parse("2001:db8:53::1/128"), {}}},
                  now);
  auto a = peer.start(now);
  ConnId conn = 0;
  for (const auto& x : a) {
    if (const auto* c = std::get_if<Connect>(&x)) conn = c->conn;
  }
  peer.on_connected(conn, now, *IpAddress::parse("192.0.2.1"), *IpAddress::parse("192.0.2.2"),
                    false);
  Open o;
  o.my_as = 65001;
  o.hold_time = 90;
  o.bgp_id = 0xC0000202;
  o.caps.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
  o.caps.four_octet_as = 65001;
  o.caps.route_refresh = true;
  o.caps.enhanced_route_refresh = true;
  o.caps.extended_message = true;
  peer.on_bytes(conn, encode(o, CodecOptions{}), now);
  peer.on_bytes(conn, encode(Keepalive{}, CodecOptions{}), now);
  if (peer.state() != State::Established) std::abort();

  CodecOptions opts;
  opts.extended_message = true;
  const std::size_t chunk = 1 + data[0] % 64;
  std::span<const std::uint8_t> rest(data + 1, size - 1);
  while (!rest.empty()) {
    const std::size_t n = std::min(chunk, rest.size());
    now += std::chrono::milliseconds(10);
    check_sent(peer.on_bytes(conn, rest.first(n), now), conn, opts);
    rest = rest.subspan(n);
  }
  // The desired set still applies cleanly whatever happened.
  check_sent(peer.set_routes({}, now), conn, opts);
  (void)peer.status(now);
  return 0;
}
