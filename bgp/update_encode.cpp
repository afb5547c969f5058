// UPDATE encoding (RFC 4271 4.3, RFC 4760, RFC 6793 4.2.2) and the packers that fit as many
// prefixes as possible into each UPDATE, plus End-of-RIB markers (RFC 4724 2).
#include <algorithm>
#include <cstdlib>

#include "bgp/codec_detail.hpp"

namespace herald::bgp {

std::optional<Family> Update::end_of_rib() const {
  if (!withdrawn.empty() || !nlri.empty()) return std::nullopt;
  if (attrs == PathAttributes{}) return kIpv4Unicast;
  if (attrs.mp_unreach && attrs.mp_unreach->withdrawn.empty()) {
    PathAttributes only;
    only.mp_unreach = attrs.mp_unreach;
    if (attrs == only) return attrs.mp_unreach->family;
  }
  return std::nullopt;
}

namespace detail {
namespace {

constexpr std::uint8_t kOpt = attr_flags::kOptional;
constexpr std::uint8_t kTrans = attr_flags::kTransitive;
constexpr std::uint8_t kExt = attr_flags::kExtendedLength;

void require(bool ok) {
  if (!ok) std::abort();  // invalid encoder input: a caller bug
}

// Writes one attribute: the value is produced by `value(w)` after a 2-octet length; when it
// turns out to fit one octet the header is shrunk, so the extended-length bit appears only for
// values longer than 255 octets.
template <typename F>
void write_attr(Writer& w, std::uint8_t flags, std::uint8_t type, F&& value) {
  Bytes& out = w.buffer();
  const std::size_t start = out.size();
  w.u8(static_cast<std::uint8_t>(flags | kExt));
  w.u8(type);
  w.u16(0);
  value(w);
  const std::size_t len = out.size() - start - 4;
  require(len <= 0xFFFF);
  if (len <= 0xFF) {
    out[start] = static_cast<std::uint8_t>(flags & ~kExt);
    out[start + 2] = static_cast<std::uint8_t>(len);
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(start + 3));
  } else {
    out[start + 2] = static_cast<std::uint8_t>(len >> 8);
    out[start + 3] = static_cast<std::uint8_t>(len);
  }
}

void write_as_path(Writer& w, const AsPath& path, bool four, bool skip_confed) {
  for (const auto& s : path) {
    if (skip_confed && (s.type == AsSegmentType::ConfedSequence || s.type == AsSegmentType::ConfedSet)) {
      continue;
    }
    // A segment holds at most 255 ASes: longer ones go out as consecutive segments.
    for (std::size_t i = 0; i < s.asns.size(); i += 255) {
      const std::size_t n = std::min<std::size_t>(255, s.asns.size() - i);
      w.u8(static_cast<std::uint8_t>(s.type));
      w.u8(static_cast<std::uint8_t>(n));
      for (std::size_t k = i; k < i + n; ++k) {
        const std::uint32_t as = s.asns[k];
        if (four) w.u32(as);
        else w.u16(static_cast<std::uint16_t>(as > 0xFFFF ? kAsTrans : as));
      }
    }
  }
}

bool needs_four(const AsPath& p) {
  return std::any_of(p.begin(), p.end(), [](const AsSegment& s) {
    return std::any_of(s.asns.begin(), s.asns.end(), [](std::uint32_t a) { return a > 0xFFFF; });
  });
}

void write_aggregator(Writer& w, std::uint32_t as, bool four, const IpAddress& addr) {
  require(addr.is_v4());
  if (four) w.u32(as);
  else w.u16(static_cast<std::uint16_t>(as));
  w.u32(addr.v4_host_order());
}

void write_mp_reach_head(Writer& w, const MpReach& r) {
  require(r.next_hop.afi == r.family.afi);
  w.u16(static_cast<std::uint16_t>(r.family.afi));
  w.u8(static_cast<std::uint8_t>(r.family.safi));
  const std::size_t nh = r.next_hop.size();
  w.u8(static_cast<std::uint8_t>(r.link_local_next_hop ? 32 : nh));
  w.bytes(std::span<const std::uint8_t>(r.next_hop.bytes).first(nh));
  if (r.link_local_next_hop) {
    require(r.family.afi == Afi::Ipv6 && !r.link_local_next_hop->is_v4());
    w.bytes(r.link_local_next_hop->bytes);
  }
  w.u8(0);  // reserved (RFC 4760 3)
}

void write_prefixes(Writer& w, const std::vector<Prefix>& ps, Afi afi) {
  for (const auto& p : ps) {
    require(p.afi() == afi);
    write_prefix(w, p);
  }
}

// Every attribute except MP_REACH / MP_UNREACH, in ascending type order; unknown attributes
// merge into that order (and pass on with the Partial bit if optional transitive, RFC 4271 5).
// NEXT_HOP is `next_hop` (nullptr: none), so packers need not copy the attributes to set it.
void write_other_attributes(Writer& w, const PathAttributes& a, const IpAddress* next_hop,
                            const CodecOptions& opts) {
  std::vector<const RawAttribute*> raw;
  raw.reserve(a.unknown.size());
  for (const auto& r : a.unknown) raw.push_back(&r);
  std::stable_sort(raw.begin(), raw.end(), [](auto* x, auto* y) { return x->type < y->type; });
  auto next_raw = raw.begin();
  auto raw_below = [&](unsigned limit) {
    for (; next_raw != raw.end() && (*next_raw)->type < limit; ++next_raw) {
      const RawAttribute& r = **next_raw;
      std::uint8_t flags = r.flags & (kOpt | kTrans | attr_flags::kPartial);
      if ((flags & (kOpt | kTrans)) == (kOpt | kTrans)) flags |= attr_flags::kPartial;
      write_attr(w, flags, r.type, [&](Writer& v) { v.bytes(r.value); });
    }
  };
  auto type = [](AttrType t) { return static_cast<std::uint8_t>(t); };
  const bool four = opts.four_octet_as;

  raw_below(type(AttrType::Origin));
  if (a.origin) {
    write_attr(w, kTrans, type(AttrType::Origin),
               [&](Writer& v) { v.u8(static_cast<std::uint8_t>(*a.origin)); });
  }
  raw_below(type(AttrType::AsPath));
  if (a.as_path) {
    write_attr(w, kTrans, type(AttrType::AsPath), [&](Writer& v) { write_as_path(v, *a.as_path, four, false); });
  }
  raw_below(type(AttrType::NextHop));
  if (next_hop) {
    require(next_hop->is_v4());
    write_attr(w, kTrans, type(AttrType::NextHop), [&](Writer& v) { v.u32(next_hop->v4_host_order()); });
  }
  raw_below(type(AttrType::MultiExitDisc));
  if (a.med) write_attr(w, kOpt, type(AttrType::MultiExitDisc), [&](Writer& v) { v.u32(*a.med); });
  raw_below(type(AttrType::LocalPref));
  if (a.local_pref && opts.ibgp) {
    write_attr(w, kTrans, type(AttrType::LocalPref), [&](Writer& v) { v.u32(*a.local_pref); });
  }
  raw_below(type(AttrType::AtomicAggregate));
  if (a.atomic_aggregate) write_attr(w, kTrans, type(AttrType::AtomicAggregate), [](Writer&) {});
  raw_below(type(AttrType::Aggregator));
  if (a.aggregator) {
    // RFC 6793 4.2.2: towards an old speaker a 4-octet aggregator AS becomes AS_TRANS, its
    // real value travelling in AS4_AGGREGATOR.
    const bool trans = !four && (a.aggregator->as > 0xFFFF || a.as4_aggregator);
    write_attr(w, kOpt | kTrans, type(AttrType::Aggregator), [&](Writer& v) {
      write_aggregator(v, trans ? kAsTrans : a.aggregator->as, four, a.aggregator->address);
    });
  }
  raw_below(type(AttrType::Communities));
  if (!a.communities.empty()) {
    write_attr(w, kOpt | kTrans, type(AttrType::Communities), [&](Writer& v) {
      for (auto c : a.communities) v.u32(c);
    });
  }
  raw_below(type(AttrType::ExtendedCommunities));
  if (!a.extended_communities.empty()) {
    write_attr(w, kOpt | kTrans, type(AttrType::ExtendedCommunities), [&](Writer& v) {
      for (const auto& c : a.extended_communities) v.bytes(c);
    });
  }
  raw_below(type(AttrType::As4Path));
  if (!four) {
    if (a.as4_path) {
      write_attr(w, kOpt | kTrans, type(AttrType::As4Path), [&](Writer& v) { write_as_path(v, *a.as4_path, true, true); });
    } else if (a.as_path && needs_four(*a.as_path)) {
      write_attr(w, kOpt | kTrans, type(AttrType::As4Path), [&](Writer& v) { write_as_path(v, *a.as_path, true, true); });
    }
  }
  raw_below(type(AttrType::As4Aggregator));
  if (!four) {
    const Aggregator* agg4 = a.as4_aggregator ? &*a.as4_aggregator
                             : (a.aggregator && a.aggregator->as > 0xFFFF) ? &*a.aggregator
                                                                           : nullptr;
    if (agg4) {
      write_attr(w, kOpt | kTrans, type(AttrType::As4Aggregator),
                 [&](Writer& v) { write_aggregator(v, agg4->as, true, agg4->address); });
    }
  }
  raw_below(type(AttrType::LargeCommunities));
  if (!a.large_communities.empty()) {
    write_attr(w, kOpt | kTrans, type(AttrType::LargeCommunities), [&](Writer& v) {
      for (const auto& c : a.large_communities) {
        v.u32(c.global_admin);
        v.u32(c.local1);
        v.u32(c.local2);
      }
    });
  }
  raw_below(type(AttrType::OnlyToCustomer));
  if (a.otc) write_attr(w, kOpt | kTrans, type(AttrType::OnlyToCustomer), [&](Writer& v) { v.u32(*a.otc); });
  raw_below(256);
}

void write_mp_attributes(Writer& w, const PathAttributes& a) {
  if (a.mp_reach) {
    write_attr(w, kOpt, static_cast<std::uint8_t>(AttrType::MpReachNlri), [&](Writer& v) {
      write_mp_reach_head(v, *a.mp_reach);
      write_prefixes(v, a.mp_reach->nlri, a.mp_reach->family.afi);
    });
  }
  if (a.mp_unreach) {
    write_attr(w, kOpt, static_cast<std::uint8_t>(AttrType::MpUnreachNlri), [&](Writer& v) {
      v.u16(static_cast<std::uint16_t>(a.mp_unreach->family.afi));
      v.u8(static_cast<std::uint8_t>(a.mp_unreach->family.safi));
      write_prefixes(v, a.mp_unreach->withdrawn, a.mp_unreach->family.afi);
    });
  }
}

}  // namespace

void encode_update_body(Writer& w, const Update& u, const CodecOptions& opts) {
  const auto wl = w.placeholder16();
  write_prefixes(w, u.withdrawn, Afi::Ipv4);
  w.patch16(wl);
  const auto al = w.placeholder16();
  write_mp_attributes(w, u.attrs);
  write_other_attributes(w, u.attrs, u.attrs.next_hop ? &*u.attrs.next_hop : nullptr, opts);
  w.patch16(al);
  write_prefixes(w, u.nlri, Afi::Ipv4);
}

}  // namespace detail

namespace {

// Bytes one prefix takes in NLRI.
std::size_t prefix_bytes(const Prefix& p) { return 1 + p.wire_bytes(); }

// How many of `ps` starting at `from` fit into `budget` octets (at least one must fit): the
// end index, and the octets they take in `used`.
std::size_t fit(std::span<const Prefix> ps, std::size_t from, std::size_t budget, Afi afi,
                std::size_t& used) {
  used = 0;
  std::size_t i = from;
  for (; i < ps.size(); ++i) {
    if (ps[i].afi() != afi) std::abort();  // one family per call
    const std::size_t b = prefix_bytes(ps[i]);
    if (used + b > budget) break;
    used += b;
  }
  if (i == from) std::abort();  // the attributes leave no room for a single prefix
  return i;
}

constexpr std::size_t kUpdateFixed = kHeaderSize + 4;  // header + both 2-octet lengths
constexpr std::size_t kMaxPrefixBytes = 17;            // a /128

}  // namespace

std::vector<Bytes> encode_announcements(Family family, const PathAttributes& attrs,
                                        const IpAddress& next_hop,
                                        const std::optional<IpAddress>& link_local,
                                        std::span<const Prefix> prefixes, const CodecOptions& opts) {
  if (attrs.mp_reach || attrs.mp_unreach || next_hop.afi != family.afi) std::abort();
  std::vector<Bytes> out;
  if (prefixes.empty()) return out;
  const std::size_t max = opts.max_message_size();

  // The attributes other than the NLRI carrier are the same in every UPDATE: encode them once.
  Bytes block;
  block.reserve(256);
  Writer bw(block);
  if (family.afi == Afi::Ipv4) {
    detail::write_other_attributes(bw, attrs, &next_hop, opts);
    const std::size_t budget = max - kUpdateFixed - block.size();
    if (block.size() + kUpdateFixed + 5 > max) std::abort();
    for (std::size_t i = 0; i < prefixes.size();) {
      std::size_t used = 0;
      const std::size_t end = fit(prefixes, i, budget, Afi::Ipv4, used);
      Bytes& m = out.emplace_back();
      m.reserve(kUpdateFixed + block.size() + used);
      Writer w(m);
      const auto start = detail::begin_message(w, MessageType::Update);
      w.u16(0);
      w.u16(static_cast<std::uint16_t>(block.size()));
      w.bytes(block);
      for (; i < end; ++i) detail::write_prefix(w, prefixes[i]);
      detail::finish_message(m, start, opts);
          }
    return out;
  }

  // RFC 4760 3: MP_REACH_NLRI carries the next hop; no NEXT_HOP attribute.
  detail::write_other_attributes(bw, attrs, nullptr, opts);
  MpReach head;
  head.family = family;
  head.next_hop = next_hop;
  head.link_local_next_hop = link_local;
  // AFI, SAFI, next hop length, next hop(s), reserved octet.
  const std::size_t mp_head = 5 + (link_local ? 32 : next_hop.size());
  // Budget assuming the 4-octet MP_REACH header; a smaller value shrinks it by one octet.
  const std::size_t fixed = kUpdateFixed + 4 + mp_head + block.size();
  if (fixed + kMaxPrefixBytes > max) std::abort();
  const std::size_t budget = max - fixed;
  for (std::size_t i = 0; i < prefixes.size();) {
    std::size_t used = 0;
    const std::size_t end = fit(prefixes, i, budget, family.afi, used);
    Bytes& m = out.emplace_back();
    m.reserve(fixed + used);
    Writer w(m);
    const auto start = detail::begin_message(w, MessageType::Update);
    w.u16(0);
    const auto al = w.placeholder16();
    detail::write_attr(w, attr_flags::kOptional, static_cast<std::uint8_t>(AttrType::MpReachNlri),
                       [&](Writer& v) {
                         detail::write_mp_reach_head(v, head);
                         for (; i < end; ++i) detail::write_prefix(v, prefixes[i]);
                       });
    w.bytes(block);
    w.patch16(al);
    detail::finish_message(m, start, opts);
      }
  return out;
}

std::vector<Bytes> encode_withdrawals(Family family, std::span<const Prefix> prefixes,
                                      const CodecOptions& opts) {
  std::vector<Bytes> out;
  const std::size_t max = opts.max_message_size();
  const bool v4 = family.afi == Afi::Ipv4;
  // IPv4: classic withdrawn routes. Others: MP_UNREACH_NLRI (4-octet header, AFI, SAFI).
  const std::size_t budget = max - kUpdateFixed - (v4 ? 0 : 4 + 3);
  for (std::size_t i = 0; i < prefixes.size();) {
    std::size_t used = 0;
    const std::size_t end = fit(prefixes, i, budget, family.afi, used);
    Bytes& m = out.emplace_back();
    m.reserve(max - budget + used);
    Writer w(m);
    const auto start = detail::begin_message(w, MessageType::Update);
    if (v4) {
      const auto wl = w.placeholder16();
      for (; i < end; ++i) detail::write_prefix(w, prefixes[i]);
      w.patch16(wl);
      w.u16(0);
    } else {
      w.u16(0);
      const auto al = w.placeholder16();
      detail::write_attr(w, attr_flags::kOptional, static_cast<std::uint8_t>(AttrType::MpUnreachNlri),
                         [&](Writer& v) {
                           v.u16(static_cast<std::uint16_t>(family.afi));
                           v.u8(static_cast<std::uint8_t>(family.safi));
                           for (; i < end; ++i) detail::write_prefix(v, prefixes[i]);
                         });
      w.patch16(al);
    }
    detail::finish_message(m, start, opts);
      }
  return out;
}

Bytes encode_end_of_rib(Family family, const CodecOptions& opts) {
  Update u;
  if (family != kIpv4Unicast) u.attrs.mp_unreach = MpUnreach{family, {}};
  return encode(u, opts);
}

}  // namespace herald::bgp
