// NOTIFICATION helpers: error names (RFC 4271 4.5 and later registrations), RFC 9003 shutdown
// communication, and human-readable descriptions for logs.
#include <fmt/format.h>

#include "bgp/codec_detail.hpp"

namespace herald::bgp {

namespace {

constexpr std::size_t kMaxShutdownText = 255;  // RFC 9003 2

// RFC 3629 well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(ByteSpan s) {
  Cursor c(s);
  while (!c.empty()) {
    const std::uint8_t b = c.u8();
    if (b < 0x80) continue;
    int extra = 0;
    std::uint32_t cp = 0, min = 0;
    if ((b & 0xE0) == 0xC0) { extra = 1; cp = b & 0x1F; min = 0x80; }
    else if ((b & 0xF0) == 0xE0) { extra = 2; cp = b & 0x0F; min = 0x800; }
    else if ((b & 0xF8) == 0xF0) { extra = 3; cp = b & 0x07; min = 0x10000; }
    else return false;
    if (c.remaining() < static_cast<std::size_t>(extra)) return false;
    for (int i = 0; i < extra; ++i) {
      const std::uint8_t cont = c.u8();
      if ((cont & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cont & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  }
  return true;
}

bool is_shutdown_subcode(std::uint8_t code, std::uint8_t sub) {
  return code == static_cast<std::uint8_t>(ErrorCode::Cease) &&
         (sub == static_cast<std::uint8_t>(CeaseSubcode::AdministrativeShutdown) ||
          sub == static_cast<std::uint8_t>(CeaseSubcode::AdministrativeReset));
}

}  // namespace

Notification Notification::shutdown(std::string_view text, CeaseSubcode sub) {
  std::size_t len = std::min(text.size(), kMaxShutdownText);
  // Never cut a multi-octet character in half: back off over continuation octets.
  if (len < text.size()) {
    while (len > 0 && (static_cast<std::uint8_t>(text[len]) & 0xC0) == 0x80) --len;
  }
  Bytes data;
  data.reserve(len + 1);
  data.push_back(static_cast<std::uint8_t>(len));
  data.insert(data.end(), text.begin(), text.begin() + static_cast<std::ptrdiff_t>(len));
  return make(ErrorCode::Cease, sub, std::move(data));
}

std::optional<std::string> Notification::shutdown_communication() const {
  if (!is_shutdown_subcode(code, subcode) || data.empty()) return std::nullopt;
  Cursor c(data);
  const std::uint8_t len = c.u8();
  auto text = c.bytes(len);
  if (!c.ok() || !valid_utf8(text)) return std::nullopt;
  return std::string(text.begin(), text.end());
}

std::string Notification::describe() const {
  auto s = fmt::format("{}/{} ({}/{})", error_code_name(code), error_subcode_name(code, subcode),
                       code, subcode);
  if (auto text = shutdown_communication()) {
    s += fmt::format(" \"{}\"", *text);
  } else if (!data.empty()) {
    s += " data " + detail::hex(data);
  }
  return s;
}

std::string_view error_code_name(std::uint8_t code) {
  switch (code) {
    case 1: return "Message Header Error";
    case 2: return "OPEN Message Error";
    case 3: return "UPDATE Message Error";
    case 4: return "Hold Timer Expired";
    case 5: return "Finite State Machine Error";
    case 6: return "Cease";
    case 7: return "ROUTE-REFRESH Message Error";
    default: return "Unknown Error";
  }
}

std::string_view error_subcode_name(std::uint8_t code, std::uint8_t subcode) {
  switch (code) {
    case 1:
      switch (subcode) {
        case 1: return "Connection Not Synchronized";
        case 2: return "Bad Message Length";
        case 3: return "Bad Message Type";
      }
      break;
    case 2:
      switch (subcode) {
        case 1: return "Unsupported Version Number";
        case 2: return "Bad Peer AS";
        case 3: return "Bad BGP Identifier";
        case 4: return "Unsupported Optional Parameter";
        case 5: return "Authentication Failure (deprecated)";
        case 6: return "Unacceptable Hold Time";
        case 7: return "Unsupported Capability";
        case 8: case 9: case 10: return "Deprecated";
        case 11: return "Role Mismatch";
      }
      break;
    case 3:
      switch (subcode) {
        case 1: return "Malformed Attribute List";
        case 2: return "Unrecognized Well-known Attribute";
        case 3: return "Missing Well-known Attribute";
        case 4: return "Attribute Flags Error";
        case 5: return "Attribute Length Error";
        case 6: return "Invalid ORIGIN Attribute";
        case 7: return "AS Routing Loop (deprecated)";
        case 8: return "Invalid NEXT_HOP Attribute";
        case 9: return "Optional Attribute Error";
        case 10: return "Invalid Network Field";
        case 11: return "Malformed AS_PATH";
      }
      break;
    case 5:
      switch (subcode) {
        case 0: return "Unspecified Error";
        case 1: return "Receive Unexpected Message in OpenSent State";
        case 2: return "Receive Unexpected Message in OpenConfirm State";
        case 3: return "Receive Unexpected Message in Established State";
      }
      break;
    case 6:
      switch (subcode) {
        case 1: return "Maximum Number of Prefixes Reached";
        case 2: return "Administrative Shutdown";
        case 3: return "Peer De-configured";
        case 4: return "Administrative Reset";
        case 5: return "Connection Rejected";
        case 6: return "Other Configuration Change";
        case 7: return "Connection Collision Resolution";
        case 8: return "Out of Resources";
        case 9: return "Hard Reset";
        case 10: return "BFD Down";
      }
      break;
    case 7:
      if (subcode == 1) return "Invalid Message Length";
      break;
  }
  if (subcode == 0) return "Unspecific";
  return "Unknown Subcode";
}

std::string_view to_string(Role r) {
  switch (r) {
    case Role::Provider: return "provider";
    case Role::RouteServer: return "rs";
    case Role::RsClient: return "rs-client";
    case Role::Customer: return "customer";
    case Role::Peer: return "peer";
  }
  return "unknown-role";
}

namespace detail {

Notification bad_message_length(std::size_t total_length) {
  const auto len = static_cast<std::uint16_t>(std::min<std::size_t>(total_length, 0xFFFF));
  return Notification::make(ErrorCode::MessageHeaderError, HeaderSubcode::BadMessageLength,
                            Bytes{static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)});
}

std::string hex(ByteSpan b) {
  std::string s;
  s.reserve(b.size() * 2);
  for (auto v : b) s += fmt::format("{:02x}", v);
  return s;
}

}  // namespace detail
}  // namespace herald::bgp
