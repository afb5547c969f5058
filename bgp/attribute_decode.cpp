// Path attribute decoding (RFC 4271 4.3, 5) with the per-attribute error handling of
// RFC 7606 7 (and RFC 6793 6, RFC 7607 for AS numbers, RFC 8092 for large communities).
#include <algorithm>
#include <fmt/format.h>
#include <set>

#include "bgp/codec_detail.hpp"

namespace herald::bgp::detail {

std::string attr_name(std::uint8_t type) {
  // RFC 4456 route-reflection attributes: herald never reflects, so they have no AttrType.
  if (type == kOriginatorId) return "ORIGINATOR_ID";
  if (type == kClusterList) return "CLUSTER_LIST";
  switch (static_cast<AttrType>(type)) {
    case AttrType::Origin: return "ORIGIN";
    case AttrType::AsPath: return "AS_PATH";
    case AttrType::NextHop: return "NEXT_HOP";
    case AttrType::MultiExitDisc: return "MULTI_EXIT_DISC";
    case AttrType::LocalPref: return "LOCAL_PREF";
    case AttrType::AtomicAggregate: return "ATOMIC_AGGREGATE";
    case AttrType::Aggregator: return "AGGREGATOR";
    case AttrType::Communities: return "COMMUNITIES";
    case AttrType::MpReachNlri: return "MP_REACH_NLRI";
    case AttrType::MpUnreachNlri: return "MP_UNREACH_NLRI";
    case AttrType::ExtendedCommunities: return "EXTENDED_COMMUNITIES";
    case AttrType::As4Path: return "AS4_PATH";
    case AttrType::As4Aggregator: return "AS4_AGGREGATOR";
    case AttrType::LargeCommunities: return "LARGE_COMMUNITIES";
    case AttrType::OnlyToCustomer: return "OTC";
  }
  return fmt::format("attribute {}", type);
}

std::optional<AsPath> decode_as_path(Cursor c, std::size_t as_size, std::string& why) {
  AsPath path;
  while (!c.empty()) {
    const std::uint8_t type = c.u8();
    const std::uint8_t count = c.u8();
    if (!c.ok()) {
      why = "truncated segment header";
      return std::nullopt;
    }
    // RFC 7606 7.2: unknown segment types, empty segments and overruns are malformed.
    if (type < 1 || type > 4) {
      why = fmt::format("unknown segment type {}", type);
      return std::nullopt;
    }
    if (count == 0) {
      why = "zero-length segment";
      return std::nullopt;
    }
    if (c.remaining() < count * as_size) {
      why = "segment overruns the attribute";
      return std::nullopt;
    }
    AsSegment seg;
    seg.type = static_cast<AsSegmentType>(type);
    seg.asns.reserve(count);
    for (unsigned i = 0; i < count; ++i) seg.asns.push_back(as_size == 4 ? c.u32() : c.u16());
    path.push_back(std::move(seg));
  }
  return path;
}

namespace {

constexpr std::uint8_t kFlagsMask = attr_flags::kOptional | attr_flags::kTransitive;
constexpr std::uint8_t kWellKnown = attr_flags::kTransitive;
constexpr std::uint8_t kOptTransitive = attr_flags::kOptional | attr_flags::kTransitive;
constexpr std::uint8_t kOptNonTransitive = attr_flags::kOptional;

// RFC 4271 6.3: a NEXT_HOP must be a valid IP host address. These never are: "this network"
// 0/8, multicast 224/4, and 240/4 (reserved, with the limited broadcast). Loopback addresses
// are allowed: a session with a router on the same host runs over them.
std::optional<std::string> unusable_v4_next_hop(const IpAddress& a) {
  const std::uint8_t first = a.bytes[0];
  if (first == 0) return "0.0.0.0/8 is not a host address";
  if (first >= 224 && first < 240) return "multicast address";
  if (first >= 240) return "reserved or broadcast address";
  return std::nullopt;
}
// The IPv6 counterparts for MP_REACH_NLRI: the unspecified address ::, multicast ff00::/8.
std::optional<std::string> unusable_v6_next_hop(const IpAddress& a) {
  if (a.bytes[0] == 0xFF) return "multicast address";
  if (std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; })) {
    return "unspecified address";
  }
  return std::nullopt;
}

bool has_as0(const AsPath& p) {
  return std::any_of(p.begin(), p.end(), [](const AsSegment& s) {
    return std::find(s.asns.begin(), s.asns.end(), 0u) != s.asns.end();
  });
}

// The RFC 7606 outcome for a malformed instance of each recognised attribute.
ErrorAction malformed_action(AttrType t) {
  switch (t) {
    case AttrType::AtomicAggregate:  // 7.6
    case AttrType::Aggregator:       // 7.7
    case AttrType::As4Path:          // RFC 6793 6
    case AttrType::As4Aggregator:    // RFC 6793 6
      return ErrorAction::AttributeDiscard;
    default:  // ORIGIN 7.1, AS_PATH 7.2, NEXT_HOP 7.3, MED 7.4, LOCAL_PREF 7.5, communities 7.8,
              // 7.14, RFC 8092 6, OTC (RFC 9234 5)
      return ErrorAction::TreatAsWithdraw;
  }
}

bool has_duplicates(const std::vector<LargeCommunity>& v) {
  if (v.size() <= 16) {  // the usual case: a quadratic scan beats allocating
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (std::find(v.begin() + static_cast<std::ptrdiff_t>(i) + 1, v.end(), v[i]) != v.end()) return true;
    }
    return false;
  }
  auto sorted = v;
  std::sort(sorted.begin(), sorted.end());
  return std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
}

class AttributeDecoder {
 public:
  AttributeDecoder(AttrDecodeState& st, std::uint8_t flags, std::uint8_t type, Cursor value,
                   ByteSpan whole)
      : st_(st), flags_(flags), type_(type), v_(value), raw_(value.rest()), whole_(whole) {}

  void run() {
    if (type_ == kOriginatorId) return originator_id();
    if (type_ == kClusterList) return cluster_list();
    switch (static_cast<AttrType>(type_)) {
      case AttrType::Origin: return origin();
      case AttrType::AsPath: return as_path();
      case AttrType::NextHop: return next_hop();
      case AttrType::MultiExitDisc: return med();
      case AttrType::LocalPref: return local_pref();
      case AttrType::AtomicAggregate: return atomic_aggregate();
      case AttrType::Aggregator: return aggregator();
      case AttrType::Communities: return communities();
      case AttrType::MpReachNlri: return mp_reach();
      case AttrType::MpUnreachNlri: return mp_unreach();
      case AttrType::ExtendedCommunities: return extended_communities();
      case AttrType::As4Path: return as4_path();
      case AttrType::As4Aggregator: return as4_aggregator();
      case AttrType::LargeCommunities: return large_communities();
      case AttrType::OnlyToCustomer: return only_to_customer();
    }
    unknown();
  }

 private:
  AttrType t() const { return static_cast<AttrType>(type_); }
  std::size_t len() const { return v_.remaining(); }

  void malformed(const std::string& why) {
    const ErrorAction a = malformed_action(t());
    st_.note(a, fmt::format("{}: {} ({})", attr_name(type_), why,
                            a == ErrorAction::AttributeDiscard ? "attribute discarded"
                                                               : "treat-as-withdraw"));
  }
  // RFC 7606 3.c: Optional/Transitive bits in conflict with the attribute's definition make it
  // malformed, handled like any other malformation of that attribute.
  bool flags_ok(std::uint8_t expected) {
    if ((flags_ & kFlagsMask) == expected) return true;
    malformed(fmt::format("flags {:#04x}, expected {:#04x}", flags_ & kFlagsMask, expected));
    return false;
  }
  bool length_is(std::size_t want) {
    if (len() == want) return true;
    malformed(fmt::format("length {}, expected {}", len(), want));
    return false;
  }
  bool length_multiple(std::size_t unit) {
    if (len() != 0 && len() % unit == 0) return true;
    malformed(fmt::format("length {} is not a non-zero multiple of {}", len(), unit));
    return false;
  }

  void origin() {
    if (!flags_ok(kWellKnown) || !length_is(1)) return;
    const std::uint8_t o = v_.u8();
    if (o > 2) return malformed(fmt::format("undefined value {}", o));
    st_.attrs.origin = static_cast<Origin>(o);
  }

  void as_path() {
    if (!flags_ok(kWellKnown)) return;
    std::string why;
    auto p = decode_as_path(v_, st_.opts.four_octet_as ? 4 : 2, why);
    if (!p) return malformed(why);
    if (has_as0(*p)) return malformed("contains AS 0 (RFC 7607)");
    st_.attrs.as_path = std::move(*p);
  }

  void next_hop() {
    if (!flags_ok(kWellKnown) || !length_is(4)) return;
    const IpAddress nh = IpAddress::v4(v_.u32());
    // RFC 4271 6.3: a semantically incorrect NEXT_HOP is logged and the route ignored, with no
    // NOTIFICATION; RFC 7606 7.3 makes NEXT_HOP errors treat-as-withdraw, which is that.
    if (auto why = unusable_v4_next_hop(nh)) return malformed(fmt::format("{}: {}", nh.to_string(), *why));
    st_.attrs.next_hop = nh;
  }

  void med() {
    if (!flags_ok(kOptNonTransitive) || !length_is(4)) return;
    st_.attrs.med = v_.u32();
  }

  void local_pref() {
    // RFC 7606 7.5: from an external peer it is discarded whatever it looks like.
    if (!st_.opts.ibgp) {
      st_.note(ErrorAction::AttributeDiscard, "LOCAL_PREF: received from an external peer (attribute discarded)");
      return;
    }
    if (!flags_ok(kWellKnown) || !length_is(4)) return;
    st_.attrs.local_pref = v_.u32();
  }

  // RFC 7606 7.9 / 7.10 (RFC 4456 route reflection): from an external peer these are
  // discarded whatever they hold; from an internal one a bad length is treat-as-withdraw.
  // Valid ones are kept as raw bytes: herald reflects nothing, so nothing reads them.
  void originator_id() { reflection_attribute(len() == 4, "length {}, expected 4"); }
  void cluster_list() {
    reflection_attribute(len() != 0 && len() % 4 == 0, "length {} is not a non-zero multiple of 4");
  }
  void reflection_attribute(bool length_ok, fmt::format_string<std::size_t> length_error) {
    if (!st_.opts.ibgp) {
      st_.note(ErrorAction::AttributeDiscard,
               fmt::format("{}: received from an external peer (attribute discarded)", attr_name(type_)));
      return;
    }
    if (!flags_ok(kOptNonTransitive)) return;
    if (!length_ok) return malformed(fmt::format(length_error, len()));
    keep_raw();
  }

  void atomic_aggregate() {
    if (!flags_ok(kWellKnown) || !length_is(0)) return;
    st_.attrs.atomic_aggregate = true;
  }

  std::optional<Aggregator> read_aggregator(std::size_t as_size) {
    if (!length_is(as_size + 4)) return std::nullopt;
    Aggregator a;
    a.as = as_size == 4 ? v_.u32() : v_.u16();
    a.address = IpAddress::v4(v_.u32());
    if (a.as == 0) {
      malformed("AS 0 (RFC 7607)");
      return std::nullopt;
    }
    return a;
  }

  void aggregator() {
    if (!flags_ok(kOptTransitive)) return;
    if (auto a = read_aggregator(st_.opts.four_octet_as ? 4 : 2)) st_.attrs.aggregator = *a;
  }

  void communities() {
    if (!flags_ok(kOptTransitive) || !length_multiple(4)) return;
    auto& out = st_.attrs.communities;
    out.reserve(len() / 4);
    while (!v_.empty()) out.push_back(v_.u32());
  }

  void extended_communities() {
    if (!flags_ok(kOptTransitive) || !length_multiple(8)) return;
    auto& out = st_.attrs.extended_communities;
    out.reserve(len() / 8);
    while (!v_.empty()) {
      ExtendedCommunity e{};
      auto b = v_.bytes(8);
      std::copy(b.begin(), b.end(), e.begin());
      out.push_back(e);
    }
  }

  void large_communities() {
    if (!flags_ok(kOptTransitive) || !length_multiple(12)) return;
    std::vector<LargeCommunity> out;
    out.reserve(len() / 12);
    while (!v_.empty()) {
      LargeCommunity c;
      c.global_admin = v_.u32();
      c.local1 = v_.u32();
      c.local2 = v_.u32();
      out.push_back(c);
    }
    // RFC 8092 5: redundant large communities are removed silently (first one kept).
    if (has_duplicates(out)) {
      std::set<LargeCommunity> seen;
      std::erase_if(out, [&](const LargeCommunity& c) { return !seen.insert(c).second; });
    }
    st_.attrs.large_communities = std::move(out);
  }

  // RFC 9234 5: optional transitive, 4 octets; any other length makes the UPDATE
  // treat-as-withdraw (as do wrong flags, RFC 7606 3.c). The leak checks need the session's
  // roles: route_checks.hpp.
  void only_to_customer() {
    if (!flags_ok(kOptTransitive) || !length_is(4)) return;
    st_.attrs.otc = v_.u32();
  }

  // RFC 6793 4.1: a 4-octet session never carries AS4_* attributes; 6: malformed ones are
  // discarded, and so is an AS4_PATH with confederation segments.
  bool as4_wanted() {
    if (!flags_ok(kOptTransitive)) return false;
    if (st_.opts.four_octet_as) {
      st_.note(ErrorAction::AttributeDiscard,
               fmt::format("{}: received on a 4-octet AS session (attribute discarded)", attr_name(type_)));
      return false;
    }
    return true;
  }

  void as4_path() {
    if (!as4_wanted()) return;
    std::string why;
    auto p = decode_as_path(v_, 4, why);
    if (!p) return malformed(why);
    if (has_as0(*p)) return malformed("contains AS 0 (RFC 7607)");
    for (const auto& s : *p) {
      if (s.type == AsSegmentType::ConfedSequence || s.type == AsSegmentType::ConfedSet) {
        return malformed("contains a confederation segment");
      }
    }
    st_.attrs.as4_path = std::move(*p);
  }

  void as4_aggregator() {
    if (!as4_wanted()) return;
    if (auto a = read_aggregator(4)) st_.attrs.as4_aggregator = *a;
  }

  // MP_REACH / MP_UNREACH problems make the NLRI impossible to locate: session reset
  // (RFC 7606 7.11, 7.12, 5.3). The data is the attribute (RFC 4271 6.3).
  void mp_reset(UpdateSubcode sub) {
    st_.reset = Notification::make(ErrorCode::UpdateMessageError, sub, Bytes(whole_.begin(), whole_.end()));
  }
  void nlri_reset() {
    st_.reset = Notification::make(ErrorCode::UpdateMessageError, UpdateSubcode::InvalidNetworkField);
  }

  // Families herald does not speak: kept as raw bytes (no one here reads them).
  void keep_unsupported_family(Family f) {
    st_.problems.push_back(fmt::format("{}: family {} not supported, kept as raw attribute",
                                       attr_name(type_), to_string(f)));
    keep_raw();
  }

  void mp_reach() {
    if ((flags_ & kFlagsMask) != kOptNonTransitive) return mp_reset(UpdateSubcode::AttributeFlagsError);
    MpReach r;
    r.family.afi = static_cast<Afi>(v_.u16());
    r.family.safi = static_cast<Safi>(v_.u8());
    const std::uint8_t nh_len = v_.u8();
    if (!v_.ok()) return mp_reset(UpdateSubcode::OptionalAttributeError);
    if (r.family != kIpv4Unicast && r.family != kIpv6Unicast) return keep_unsupported_family(r.family);
    // RFC 4760 3 / RFC 2545 3: 4 octets for IPv4, 16 or 32 (global + link-local) for IPv6.
    const bool v6 = r.family.afi == Afi::Ipv6;
    const bool nh_ok = v6 ? (nh_len == 16 || nh_len == 32) : nh_len == 4;
    auto nh = v_.bytes(nh_len);
    v_.u8();  // reserved (formerly number of SNPAs)
    if (!nh_ok || !v_.ok()) return mp_reset(UpdateSubcode::OptionalAttributeError);
    Cursor nhc(nh);
    r.next_hop.afi = r.family.afi;
    auto global = nhc.bytes(v6 ? 16 : 4);
    std::copy(global.begin(), global.end(), r.next_hop.bytes.begin());
    if (nh_len == 32) {
      IpAddress ll;
      ll.afi = Afi::Ipv6;
      auto b = nhc.bytes(16);
      std::copy(b.begin(), b.end(), ll.bytes.begin());
      r.link_local_next_hop = ll;
    }
    auto nlri = decode_prefixes(v_, r.family.afi);
    if (!nlri) return nlri_reset();
    r.nlri = std::move(*nlri);
    // RFC 4271 6.3 by analogy (RFC 4760 defines no semantic check): a next hop that is not a
    // host address makes the routes unusable; they stay in r.nlri so the caller withdraws them.
    const auto unusable = v6 ? unusable_v6_next_hop(r.next_hop) : unusable_v4_next_hop(r.next_hop);
    if (unusable && !r.nlri.empty()) {
      st_.note(ErrorAction::TreatAsWithdraw, fmt::format("MP_REACH_NLRI: next hop {}: {} (treat-as-withdraw)",
                                                         r.next_hop.to_string(), *unusable));
    }
    st_.attrs.mp_reach = std::move(r);
  }

  void mp_unreach() {
    if ((flags_ & kFlagsMask) != kOptNonTransitive) return mp_reset(UpdateSubcode::AttributeFlagsError);
    MpUnreach u;
    u.family.afi = static_cast<Afi>(v_.u16());
    u.family.safi = static_cast<Safi>(v_.u8());
    if (!v_.ok()) return mp_reset(UpdateSubcode::OptionalAttributeError);
    if (u.family != kIpv4Unicast && u.family != kIpv6Unicast) return keep_unsupported_family(u.family);
    auto w = decode_prefixes(v_, u.family.afi);
    if (!w) return nlri_reset();
    u.withdrawn = std::move(*w);
    st_.attrs.mp_unreach = std::move(u);
  }

  void unknown() {
    // RFC 4271 6.3: an unrecognised well-known attribute resets the session; data = attribute.
    if (!(flags_ & attr_flags::kOptional)) {
      st_.reset = Notification::make(ErrorCode::UpdateMessageError,
                                     UpdateSubcode::UnrecognizedWellKnownAttribute,
                                     Bytes(whole_.begin(), whole_.end()));
      return;
    }
    keep_raw();
  }

  void keep_raw() {
    st_.attrs.unknown.push_back(RawAttribute{flags_, type_, Bytes(raw_.begin(), raw_.end())});
  }

  AttrDecodeState& st_;
  std::uint8_t flags_;
  std::uint8_t type_;
  Cursor v_;
  ByteSpan raw_;    // the whole value, for attributes kept as bytes
  ByteSpan whole_;  // flags, type, length and value as received
};

}  // namespace

void decode_attribute(AttrDecodeState& st, std::uint8_t flags, std::uint8_t type, Cursor value,
                      ByteSpan whole) {
  AttributeDecoder(st, flags, type, value, whole).run();
}

}  // namespace herald::bgp::detail
