// RFC 4271 6.3 semantic checks of received routes that depend on the session.
#include "bgp/route_checks.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace herald::bgp {

namespace {

// RFC 4271 6.3: "the leftmost AS in the AS_PATH ... is equal to the autonomous system number
// of the peer that sent the message". An empty path or one starting with an AS_SET (or a
// confederation segment, which an external peer never sends, RFC 5065 5) has no such AS.
std::optional<std::string> first_as_problem(const AsPath& path, const SessionFacts& s) {
  if (path.empty()) return "AS_PATH is empty on an external session";
  const AsSegment& first = path.front();
  if (first.type != AsSegmentType::AsSequence || first.asns.empty()) {
    return "AS_PATH does not start with an AS_SEQUENCE on an external session";
  }
  const std::uint32_t leftmost = first.asns.front();
  if (leftmost == s.peer_as) return std::nullopt;
  // RFC 6793 4.2.2: a 2-octet speaker writes AS_TRANS for a 4-octet AS.
  if (!s.four_octet_as && s.peer_as > 0xFFFF && leftmost == kAsTrans) return std::nullopt;
  return fmt::format("leftmost AS {} is not the peer's AS {}", leftmost, s.peer_as);
}

}  // namespace

std::vector<std::string> session_checks(const Update& u, const SessionFacts& s) {
  std::vector<std::string> out;
  const bool classic = !u.nlri.empty();
  const bool mp = u.attrs.mp_reach && !u.attrs.mp_reach->nlri.empty();
  if (!classic && !mp) return out;
  // RFC 4271 6.3: a NEXT_HOP that is the receiving speaker's own address is semantically
  // incorrect (the route would loop back to us); log it and ignore the route.
  auto own = [&](const IpAddress& a) {
    return std::find(s.own_addresses.begin(), s.own_addresses.end(), a) != s.own_addresses.end();
  };
  if (classic && u.attrs.next_hop && own(*u.attrs.next_hop)) {
    out.push_back(fmt::format("NEXT_HOP {} is our own address (treat-as-withdraw)",
                              u.attrs.next_hop->to_string()));
  }
  if (mp && own(u.attrs.mp_reach->next_hop)) {
    out.push_back(fmt::format("MP_REACH_NLRI: next hop {} is our own address (treat-as-withdraw)",
                              u.attrs.mp_reach->next_hop.to_string()));
  }
  // RFC 7606 7.2: a route that fails the first-AS check SHOULD be treat-as-withdraw. A missing
  // AS_PATH is the codec's finding (RFC 7606 3.d), not repeated here.
  if (s.ebgp && s.check_first_as && u.attrs.as_path) {
    if (auto why = first_as_problem(*u.attrs.as_path, s)) {
      out.push_back("AS_PATH: " + *why + " (treat-as-withdraw)");
    }
  }
  return out;
}

}  // namespace herald::bgp
