// Peer::adj_rib_out_as_sent: the Adj-RIB-Out rendered through the encoder, then decoded, so that
// an operator sees what the neighbor received and not a re-derivation of it.
#include <cstdio>
#include <cstdlib>
#include <span>

#include "bgp/codec.hpp"
#include "bgp/peer.hpp"

namespace herald::bgp {

std::vector<SentRoutes> Peer::adj_rib_out_as_sent() const {
  std::vector<SentRoutes> out;
  if (fsm_.established_conn() == 0 || !fsm_.negotiated()) return out;
  const auto& n = *fsm_.negotiated();
  for (const auto& f : n.families) {
    const auto nh = next_hop(f);
    if (!nh) continue;  // nothing of this family was sent (sync_routes skips it too)
    for (const auto& [attrs, prefixes] : rib_out_.grouped(f)) {
      if (prefixes.empty()) continue;
      // The attributes are the same in every UPDATE of the group: one prefix is enough.
      const auto messages = encode_announcements(
          f, wire_attributes(attrs), *nh, f == kIpv6Unicast ? link_local_next_hop() : std::nullopt,
          std::span<const Prefix>(prefixes).first(1), n.codec);
      const Bytes& m = messages.at(0);
      auto decoded = decode(MessageType::Update, ByteSpan(m).subspan(kHeaderSize), n.codec);
      const Update* u = decoded ? std::get_if<Update>(&decoded->message) : nullptr;
      if (!u) {
        std::fprintf(stderr, "bgp: broken invariant: peer %s: our own UPDATE does not decode\n",
                     config_.name.c_str());
        std::abort();
      }
      SentRoutes s{f, u->attrs, prefixes};
      if (s.attributes.mp_reach) s.attributes.mp_reach->nlri.clear();
      out.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace herald::bgp
