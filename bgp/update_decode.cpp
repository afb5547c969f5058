// UPDATE message decoding (RFC 4271 4.3) with RFC 7606 error handling and the RFC 6793 4.2.3
// merge of AS4_PATH / AS4_AGGREGATOR for sessions without 4-octet AS numbers.
#include <algorithm>
#include <bitset>
#include <fmt/format.h>

#include "bgp/codec_detail.hpp"

namespace herald::bgp::detail {

std::optional<std::vector<Prefix>> decode_prefixes(Cursor c, Afi afi) {
  const unsigned max_len = afi == Afi::Ipv4 ? 32 : 128;
  // First pass validates and counts, so the vector is allocated exactly once.
  std::size_t count = 0;
  for (Cursor scan = c; !scan.empty(); ++count) {
    const std::uint8_t len = scan.u8();
    if (len > max_len) return std::nullopt;
    scan.skip((len + 7u) / 8u);
    if (!scan.ok()) return std::nullopt;
  }
  std::vector<Prefix> out;
  out.reserve(count);
  while (!c.empty()) {
    Prefix p;
    p.addr.afi = afi;
    p.length = c.u8();
    auto b = c.bytes(p.wire_bytes());
    std::copy(b.begin(), b.end(), p.addr.bytes.begin());
    // Trailing bits past the length are irrelevant on the wire (RFC 4271 4.3); the Prefix
    // invariant wants them zero.
    if (p.length % 8 != 0) {
      p.addr.bytes[p.length / 8] &= static_cast<std::uint8_t>(0xFF00u >> (p.length % 8));
    }
    out.push_back(p);
  }
  return out;
}

namespace {

// RFC 6793 4.2.3 path length: an AS_SET counts 1, confederation segments count 0.
std::size_t path_count(const AsPath& p) {
  std::size_t n = 0;
  for (const auto& s : p) {
    if (s.type == AsSegmentType::AsSequence) n += s.asns.size();
    else if (s.type == AsSegmentType::AsSet) n += 1;
  }
  return n;
}

// RFC 6793 4.2.3: rebuild the 4-octet view of a path received from a 2-octet-AS peer.
// The AS4_* attributes stay in `a` only when they were used; ignored ones are dropped.
void merge_as4(AttrDecodeState& st) {
  auto& a = st.attrs;
  if (a.aggregator && a.aggregator->as != kAsTrans) {
    // The aggregator is an old speaker that never saw the AS4_* attributes: ignore both.
    if (a.as4_aggregator || a.as4_path) {
      st.problems.push_back("AS4_AGGREGATOR/AS4_PATH ignored: AGGREGATOR is not AS_TRANS (RFC 6793 4.2.3)");
    }
    a.as4_aggregator.reset();
    a.as4_path.reset();
    return;
  }
  if (a.aggregator && a.as4_aggregator) a.aggregator = a.as4_aggregator;
  if (!a.as4_path) return;
  if (!a.as_path) {
    st.problems.push_back("AS4_PATH ignored: no AS_PATH to merge with (RFC 6793 4.2.3)");
    a.as4_path.reset();
    return;
  }
  const AsPath old_path = a.as_path.value_or(AsPath{});
  const std::size_t n2 = path_count(old_path), n4 = path_count(*a.as4_path);
  if (n2 < n4) {
    st.problems.push_back("AS4_PATH ignored: longer than AS_PATH (RFC 6793 4.2.3)");
    a.as4_path.reset();
    return;
  }
  // Keep the leading (n2 - n4) hops of AS_PATH, then append AS4_PATH.
  AsPath merged;
  std::size_t need = n2 - n4;
  for (const auto& s : old_path) {
    if (need == 0) break;
    if (s.type == AsSegmentType::AsSequence) {
      AsSegment part{s.type, {}};
      const std::size_t take = std::min(need, s.asns.size());
      part.asns.assign(s.asns.begin(), s.asns.begin() + static_cast<std::ptrdiff_t>(take));
      need -= take;
      merged.push_back(std::move(part));
    } else {
      if (s.type == AsSegmentType::AsSet) --need;
      merged.push_back(s);
    }
  }
  merged.insert(merged.end(), a.as4_path->begin(), a.as4_path->end());
  a.as_path = std::move(merged);
}

Notification malformed_attribute_list() {
  return Notification::make(ErrorCode::UpdateMessageError, UpdateSubcode::MalformedAttributeList);
}
Notification invalid_network_field() {
  return Notification::make(ErrorCode::UpdateMessageError, UpdateSubcode::InvalidNetworkField);
}

bool is_mp(std::uint8_t type) {
  return type == static_cast<std::uint8_t>(AttrType::MpReachNlri) ||
         type == static_cast<std::uint8_t>(AttrType::MpUnreachNlri);
}

}  // namespace

Expected<Decoded, Notification> decode_update(ByteSpan body, const CodecOptions& opts) {
  Cursor c(body);
  // RFC 4271 6.3: lengths that exceed the message are a Malformed Attribute List.
  Cursor withdrawn = c.sub(c.u16());
  Cursor attrs = c.sub(c.u16());
  if (!c.ok()) return unexpected(malformed_attribute_list());
  Cursor nlri = c;

  Update u;
  {
    auto w = decode_prefixes(withdrawn, Afi::Ipv4);
    if (!w) return unexpected(invalid_network_field());  // RFC 7606 5.3
    u.withdrawn = std::move(*w);
  }

  AttrDecodeState st{opts, u.attrs, ErrorAction::None, {}, std::nullopt};
  std::bitset<256> seen;
  while (!attrs.empty()) {
    const ByteSpan at = attrs.rest();
    const std::uint8_t flags = attrs.u8();
    const std::uint8_t type = attrs.u8();
    const bool ext = (flags & attr_flags::kExtendedLength) != 0;
    const std::size_t len = ext ? attrs.u16() : attrs.u8();
    const std::size_t header = ext ? 4 : 3;
    if (!attrs.ok() || attrs.remaining() < len) {
      // RFC 7606 4: an attribute overrunning the attribute list (or a stub too short to be an
      // attribute) is treat-as-withdraw, the Total Attribute Length still locating the NLRI.
      // An overrunning MP_* attribute hides NLRI, which only a reset can handle (RFC 7606 5.3).
      if (at.size() >= 2 && is_mp(type)) return unexpected(malformed_attribute_list());
      st.note(ErrorAction::TreatAsWithdraw,
              fmt::format("attribute list: {} octets left do not hold the attribute that starts there "
                          "(treat-as-withdraw)", at.size()));
      break;
    }
    Cursor value = attrs.sub(len);
    const ByteSpan whole = at.first(header + len);
    if (seen[type]) {
      // RFC 7606 3.g: repeated MP_* attributes reset the session; other repeats are dropped.
      if (is_mp(type)) return unexpected(malformed_attribute_list());
      st.note(ErrorAction::AttributeDiscard,
              fmt::format("{}: repeated, later copy discarded", attr_name(type)));
      continue;
    }
    seen[type] = true;
    // The low four flag bits are unused and ignored (RFC 4271 4.3); extended length is ours.
    const auto kept_flags = static_cast<std::uint8_t>(flags & 0xE0);
    decode_attribute(st, kept_flags, type, value, whole);
    if (st.reset) return unexpected(std::move(*st.reset));
  }

  {
    auto n = decode_prefixes(nlri, Afi::Ipv4);
    if (!n) return unexpected(invalid_network_field());  // RFC 7606 5.3
    u.nlri = std::move(*n);
  }
  if (!opts.four_octet_as) merge_as4(st);
  // Unknown attributes in type order: the order the encoder writes them in.
  std::stable_sort(u.attrs.unknown.begin(), u.attrs.unknown.end(),
                   [](const RawAttribute& x, const RawAttribute& y) { return x.type < y.type; });

  // RFC 7606 3.d: missing well-known mandatory attributes make the UPDATE treat-as-withdraw.
  // NEXT_HOP is needed only with classic NLRI (RFC 4760 3).
  const bool reach = !u.nlri.empty() || (u.attrs.mp_reach && !u.attrs.mp_reach->nlri.empty());
  if (reach) {
    auto require = [&](bool present, AttrType t) {
      if (!present && !seen[static_cast<std::uint8_t>(t)]) {
        st.note(ErrorAction::TreatAsWithdraw,
                fmt::format("{}: missing well-known mandatory attribute (treat-as-withdraw)",
                            attr_name(static_cast<std::uint8_t>(t))));
      }
    };
    require(u.attrs.origin.has_value(), AttrType::Origin);
    require(u.attrs.as_path.has_value(), AttrType::AsPath);
    if (!u.nlri.empty()) require(u.attrs.next_hop.has_value(), AttrType::NextHop);
  }
  return Decoded{std::move(u), st.action, std::move(st.problems)};
}

}  // namespace herald::bgp::detail
