// OPEN message (RFC 4271 4.2) with optional parameters in the classic and RFC 9072 extended
// forms, and the capabilities herald understands (RFC 5492 and the RFCs named per code).
// Only the wire format is checked here; meaning is checked by validate_open().
#include <algorithm>

#include "bgp/codec_detail.hpp"

namespace herald::bgp::detail {

namespace {

constexpr std::uint8_t kParamCapabilities = 2;  // RFC 5492 4
constexpr std::uint8_t kExtendedParamsMarker = 255;  // RFC 9072 2

Notification open_error(OpenSubcode sub) { return Notification::make(ErrorCode::OpenMessageError, sub); }
Notification open_unspecific() {
  return Notification{static_cast<std::uint8_t>(ErrorCode::OpenMessageError), 0, {}};
}

// One capability TLV's value into `caps`. A known code with a malformed value is an OPEN error
// (subcode 0, "unspecific": RFC 5492 names no better one).
std::optional<Notification> parse_capability(std::uint8_t code, Cursor v, Capabilities& caps) {
  const std::size_t len = v.remaining();
  switch (static_cast<CapabilityCode>(code)) {
    case CapabilityCode::Multiprotocol: {  // RFC 4760 8: AFI(2) reserved(1) SAFI(1)
      if (len != 4) return open_unspecific();
      Family f;
      f.afi = static_cast<Afi>(v.u16());
      v.u8();
      f.safi = static_cast<Safi>(v.u8());
      caps.multiprotocol.push_back(f);
      return std::nullopt;
    }
    case CapabilityCode::RouteRefresh:
      if (len != 0) return open_unspecific();
      caps.route_refresh = true;
      return std::nullopt;
    case CapabilityCode::EnhancedRouteRefresh:
      if (len != 0) return open_unspecific();
      caps.enhanced_route_refresh = true;
      return std::nullopt;
    case CapabilityCode::ExtendedMessage:
      if (len != 0) return open_unspecific();
      caps.extended_message = true;
      return std::nullopt;
    case CapabilityCode::FourOctetAs:
      if (len != 4) return open_unspecific();
      caps.four_octet_as = v.u32();
      return std::nullopt;
    case CapabilityCode::Role: {  // RFC 9234 4.1
      if (len != 1) return open_unspecific();
      const auto r = static_cast<Role>(v.u8());
      // RFC 9234 4.2: several Role capabilities with different values are a Role Mismatch.
      if (caps.role && *caps.role != r) return open_error(OpenSubcode::RoleMismatch);
      caps.role = r;
      return std::nullopt;
    }
    case CapabilityCode::GracefulRestart: {  // RFC 4724 3
      if (len < 2 || (len - 2) % 4 != 0) return open_unspecific();
      GracefulRestartCapability gr;
      const std::uint16_t flags_time = v.u16();
      gr.restart_state = (flags_time & 0x8000) != 0;
      gr.notification = (flags_time & 0x4000) != 0;  // RFC 8538 3
      gr.restart_time = flags_time & 0x0FFF;
      while (!v.empty()) {
        GracefulRestartCapability::AfFlags af;
        af.family.afi = static_cast<Afi>(v.u16());
        af.family.safi = static_cast<Safi>(v.u8());
        af.forwarding_preserved = (v.u8() & 0x80) != 0;
        gr.families.push_back(af);
      }
      caps.graceful_restart = std::move(gr);
      return std::nullopt;
    }
    case CapabilityCode::Fqdn: {  // hostname capability: len, hostname, len, domain
      FqdnCapability f;
      auto host = v.bytes(v.u8());
      auto domain = v.bytes(v.u8());
      if (!v.ok() || !v.empty()) return open_unspecific();
      f.hostname.assign(host.begin(), host.end());
      f.domain.assign(domain.begin(), domain.end());
      caps.fqdn = std::move(f);
      return std::nullopt;
    }
  }
  auto raw = v.rest();
  caps.unknown.push_back(RawCapability{code, Bytes(raw.begin(), raw.end())});
  return std::nullopt;
}

// The capability TLVs inside one Capabilities optional parameter (RFC 5492 4).
std::optional<Notification> parse_capabilities(Cursor c, Capabilities& caps) {
  while (!c.empty()) {
    const std::uint8_t code = c.u8();
    const std::uint8_t len = c.u8();
    Cursor value = c.sub(len);
    if (!c.ok()) return open_unspecific();
    if (auto err = parse_capability(code, value, caps)) return err;
  }
  return std::nullopt;
}

}  // namespace

Expected<Decoded, Notification> decode_open(ByteSpan body) {
  Cursor c(body);
  Open open;
  open.version = c.u8();
  open.my_as = c.u16();
  open.hold_time = c.u16();
  open.bgp_id = c.u32();
  const std::uint8_t opt_len = c.u8();
  if (!c.ok()) return unexpected(bad_message_length(kHeaderSize + body.size()));

  // RFC 9072 2: a non-extended length of 255 followed by a parameter type of 255 announces the
  // extended form: a 2-octet length, and 2-octet lengths inside every parameter.
  std::size_t params_len = opt_len;
  if (opt_len == kExtendedParamsMarker && !c.rest().empty() &&
      c.rest().front() == kExtendedParamsMarker) {
    open.extended_params = true;
    c.u8();
    params_len = c.u16();
  }
  // The parameters must fill the rest of the message exactly (RFC 4271 4.2, 6.2).
  if (!c.ok() || c.remaining() != params_len) {
    return unexpected(bad_message_length(kHeaderSize + body.size()));
  }
  while (!c.empty()) {
    const std::uint8_t type = c.u8();
    const std::size_t len = open.extended_params ? c.u16() : c.u8();
    Cursor value = c.sub(len);
    if (!c.ok()) return unexpected(open_unspecific());
    if (type == kParamCapabilities) {
      if (auto err = parse_capabilities(value, open.caps)) return unexpected(std::move(*err));
    } else {
      // Kept for validate_open(), which answers 2/4 Unsupported Optional Parameter.
      auto raw = value.rest();
      open.unknown_params.push_back(RawParameter{type, Bytes(raw.begin(), raw.end())});
    }
  }
  return clean(std::move(open));
}

namespace {

void write_capability_header(Writer& w, CapabilityCode code, std::uint8_t len) {
  w.u8(static_cast<std::uint8_t>(code));
  w.u8(len);
}

// All capability TLVs, in code order of the struct fields, unknown ones last in given order.
void write_capabilities(Writer& w, const Capabilities& caps) {
  for (const auto& f : caps.multiprotocol) {
    write_capability_header(w, CapabilityCode::Multiprotocol, 4);
    w.u16(static_cast<std::uint16_t>(f.afi));
    w.u8(0);
    w.u8(static_cast<std::uint8_t>(f.safi));
  }
  if (caps.route_refresh) write_capability_header(w, CapabilityCode::RouteRefresh, 0);
  if (caps.extended_message) write_capability_header(w, CapabilityCode::ExtendedMessage, 0);
  if (caps.role) {
    write_capability_header(w, CapabilityCode::Role, 1);
    w.u8(static_cast<std::uint8_t>(*caps.role));
  }
  if (caps.graceful_restart) {
    const auto& gr = *caps.graceful_restart;
    write_capability_header(w, CapabilityCode::GracefulRestart,
                            static_cast<std::uint8_t>(2 + 4 * std::min<std::size_t>(gr.families.size(), 63)));
    w.u16(static_cast<std::uint16_t>((gr.restart_state ? 0x8000 : 0) | (gr.notification ? 0x4000 : 0) |
                                     (gr.restart_time & 0x0FFF)));
    for (std::size_t i = 0; i < gr.families.size() && i < 63; ++i) {
      w.u16(static_cast<std::uint16_t>(gr.families[i].family.afi));
      w.u8(static_cast<std::uint8_t>(gr.families[i].family.safi));
      w.u8(gr.families[i].forwarding_preserved ? 0x80 : 0);
    }
  }
  if (caps.four_octet_as) {
    write_capability_header(w, CapabilityCode::FourOctetAs, 4);
    w.u32(*caps.four_octet_as);
  }
  if (caps.enhanced_route_refresh) write_capability_header(w, CapabilityCode::EnhancedRouteRefresh, 0);
  if (caps.fqdn) {
    // The capability length is one octet: names that would not fit are cut (domain first).
    const auto& f = *caps.fqdn;
    const std::size_t host = std::min<std::size_t>(f.hostname.size(), 253);
    const std::size_t domain = std::min<std::size_t>(f.domain.size(), 253 - host);
    write_capability_header(w, CapabilityCode::Fqdn, static_cast<std::uint8_t>(2 + host + domain));
    w.u8(static_cast<std::uint8_t>(host));
    w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(f.hostname.data()), host));
    w.u8(static_cast<std::uint8_t>(domain));
    w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(f.domain.data()), domain));
  }
  for (const auto& u : caps.unknown) {
    w.u8(u.code);
    const auto at = w.placeholder8();
    w.bytes(u.value);
    w.patch8(at);
  }
}

}  // namespace

void encode_open_body(Writer& w, const Open& open) {
  w.u8(open.version);
  w.u16(open.my_as);
  w.u16(open.hold_time);
  w.u32(open.bgp_id);

  Bytes caps;
  Writer cw(caps);
  write_capabilities(cw, open.caps);

  std::size_t classic = caps.empty() ? 0 : 2 + caps.size();
  for (const auto& p : open.unknown_params) classic += 2 + p.value.size();
  // A classic length of 255 followed by a first parameter of type 255 reads as the RFC 9072
  // marker, so that one layout must use the extended form too.
  const bool looks_extended = classic == 255 && caps.empty() && !open.unknown_params.empty() &&
                              open.unknown_params.front().type == kExtendedParamsMarker;
  // RFC 9072: the extended form when asked for or when the classic one cannot carry it.
  const bool extended = open.extended_params || classic > 255 || looks_extended;
  if (!extended) {
    const auto at = w.placeholder8();
    if (!caps.empty()) {
      w.u8(kParamCapabilities);
      w.u8(static_cast<std::uint8_t>(caps.size()));
      w.bytes(caps);
    }
    for (const auto& p : open.unknown_params) {
      w.u8(p.type);
      w.u8(static_cast<std::uint8_t>(p.value.size()));
      w.bytes(p.value);
    }
    w.patch8(at);
    return;
  }
  w.u8(kExtendedParamsMarker);
  w.u8(kExtendedParamsMarker);
  const auto at = w.placeholder16();
  if (!caps.empty()) {
    w.u8(kParamCapabilities);
    const auto cap_at = w.placeholder16();
    w.bytes(caps);
    w.patch16(cap_at);
  }
  for (const auto& p : open.unknown_params) {
    w.u8(p.type);
    const auto p_at = w.placeholder16();
    w.bytes(p.value);
    w.patch16(p_at);
  }
  w.patch16(at);
}

}  // namespace herald::bgp::detail
