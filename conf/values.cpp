// Friendly value syntaxes: durations, AS numbers, communities, prefixes, endpoints, DNS words.
#include "conf/values.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <utility>

namespace herald::conf {
namespace {

using namespace std::chrono_literals;

// Parses an unsigned decimal integer that must fill all of `text`.
std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || v > max) return std::nullopt;
  return v;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string quoted(std::string_view s) { return fmt::format("\"{}\"", s); }

struct Mnemonic {
  std::string_view name;
  std::uint16_t value;
};

// RFC 1035 3.2.2, RFC 3596 (AAAA), RFC 2782 (SRV), RFC 4034 (DNSSEC), RFC 6698 (TLSA),
// RFC 9460 (SVCB/HTTPS), RFC 8659 (CAA).
constexpr std::array<Mnemonic, 21> kQtypes{{
    {"A", 1},      {"NS", 2},     {"CNAME", 5},   {"SOA", 6},     {"PTR", 12},
    {"MX", 15},    {"TXT", 16},   {"AAAA", 28},   {"SRV", 33},    {"NAPTR", 35},
    {"DS", 43},    {"RRSIG", 46}, {"NSEC", 47},   {"DNSKEY", 48}, {"NSEC3", 50},
    {"TLSA", 52},  {"SVCB", 64},  {"HTTPS", 65},  {"ANY", 255},   {"CAA", 257},
    {"NSEC3PARAM", 51},
}};
constexpr std::array<Mnemonic, 4> kQclasses{{{"IN", 1}, {"CH", 3}, {"HS", 4}, {"ANY", 255}}};
// RFC 1035 4.1.1, RFC 2136 (YX*/NX*/NOTAUTH/NOTZONE), RFC 6891 (BADVERS, extended RCODE).
constexpr std::array<Mnemonic, 12> kRcodes{{
    {"NOERROR", 0}, {"FORMERR", 1}, {"SERVFAIL", 2}, {"NXDOMAIN", 3},
    {"NOTIMP", 4},  {"REFUSED", 5}, {"YXDOMAIN", 6}, {"YXRRSET", 7},
    {"NXRRSET", 8}, {"NOTAUTH", 9}, {"NOTZONE", 10}, {"BADVERS", 16},
}};

// Name lookup with the RFC 3597 numeric fallback ("TYPE65", "CLASS3"); `max` bounds it.
template <std::size_t N>
ValueResult<std::uint16_t> parse_mnemonic(std::string_view text,
                                          const std::array<Mnemonic, N>& table,
                                          std::string_view prefix, std::uint64_t max,
                                          std::string_view what) {
  for (const auto& m : table)
    if (iequals(text, m.name)) return m.value;
  if (text.size() > prefix.size() && iequals(text.substr(0, prefix.size()), prefix)) {
    if (auto v = parse_uint(text.substr(prefix.size()), max))
      return static_cast<std::uint16_t>(*v);
  }
  std::string names;
  for (std::size_t i = 0; i < std::min<std::size_t>(N, 6); ++i)
    names += fmt::format("{}{}", i ? ", " : "", table[i].name);
  return unexpected(fmt::format("expected a {} ({}, ... or {}NUMBER), got {}", what, names,
                                prefix, quoted(text)));
}

template <std::size_t N>
std::string format_mnemonic(std::uint16_t v, const std::array<Mnemonic, N>& table,
                            std::string_view prefix) {
  for (const auto& m : table)
    if (m.value == v) return std::string(m.name);
  return fmt::format("{}{}", prefix, v);
}

struct WellKnown {
  std::string_view name;
  bgp::Community value;
};
// RFC 1997, RFC 3765 (NO_PEER), RFC 7611 (ACCEPT_OWN), RFC 7999 (BLACKHOLE),
// RFC 8326 (GRACEFUL_SHUTDOWN), RFC 9494 (LLGR_STALE, NO_LLGR).
constexpr std::array<WellKnown, 9> kWellKnown{{
    {"graceful-shutdown", bgp::kGracefulShutdown},
    {"accept-own", 0xFFFF0001},
    {"llgr-stale", 0xFFFF0006},
    {"no-llgr", 0xFFFF0007},
    {"blackhole", bgp::kBlackhole},
    {"no-export", bgp::kNoExport},
    {"no-advertise", bgp::kNoAdvertise},
    {"no-export-subconfed", bgp::kNoExportSubconfed},
    {"no-peer", 0xFFFFFF04},
}};

constexpr std::int64_t kMaxDurationMs = 30LL * 24 * 3600 * 1000;

}  // namespace

ValueResult<Duration> parse_duration(std::string_view text) {
  auto bad = [&] {
    return unexpected(fmt::format(
        "expected a duration string like \"1s\", \"250ms\" or \"1m30s\", got {}", quoted(text)));
  };
  if (text.empty()) return bad();
  if (std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
      text.size() <= 12)
    return unexpected(fmt::format("duration {0} has no unit: write \"{1}s\" for {1} seconds or \"{1}ms\" "
                                  "for {1} milliseconds",
                                  quoted(text), text));
  // Units from largest to smallest; each component must use a smaller unit than the last.
  struct Unit {
    std::string_view suffix;
    std::int64_t ms;
  };
  static constexpr std::array<Unit, 4> kUnits{{{"h", 3600000}, {"m", 60000}, {"s", 1000},
                                               {"ms", 1}}};
  std::int64_t total = 0;
  std::size_t next_unit = 0;  // index of the largest unit still allowed
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    auto amount = parse_uint(text.substr(start, i - start), 1'000'000'000'000ULL);
    if (!amount) return bad();
    std::size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view suffix = text.substr(ustart, i - ustart);
    std::size_t u = next_unit;
    while (u < kUnits.size() && kUnits[u].suffix != suffix) ++u;
    if (u == kUnits.size()) return bad();
    next_unit = u + 1;
    total += static_cast<std::int64_t>(*amount) * kUnits[u].ms;
    if (total > kMaxDurationMs) return unexpected(fmt::format("duration {} is longer than 30 days", quoted(text)));
  }
  return Duration(total);
}

std::string format_duration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {  // not produced by the parser; printed so a broken value is visible
    out = "-";
    ms = -ms;
  }
  const std::int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, r = ms % 1000;
  if (h) out += fmt::format("{}h", h);
  if (m) out += fmt::format("{}m", m);
  if (s) out += fmt::format("{}s", s);
  if (r) out += fmt::format("{}ms", r);
  return out;
}

ValueResult<std::uint32_t> check_asn(std::int64_t value) {
  if (value < 0 || value > 0xFFFFFFFFLL)
    return unexpected(fmt::format("expected an AS number 1..4294967295, got {}", value));
  if (value == 0) return unexpected(std::string("AS 0 is reserved and cannot be used (RFC 7607)"));
  if (value == 23456)
    return unexpected(std::string("AS 23456 is AS_TRANS and cannot be configured (RFC 6793)"));
  return static_cast<std::uint32_t>(value);
}

ValueResult<std::uint32_t> parse_asn(std::string_view text) {
  auto bad = [&] {
    return unexpected(fmt::format(
        "expected an AS number like 65000 or asdot \"1.10\", got {}", quoted(text)));
  };
  if (auto dot = text.find('.'); dot != std::string_view::npos) {
    auto hi = parse_uint(text.substr(0, dot), 0xFFFF);
    auto lo = parse_uint(text.substr(dot + 1), 0xFFFF);
    if (!hi || !lo) return bad();
    return check_asn(static_cast<std::int64_t>((*hi << 16) | *lo));
  }
  auto v = parse_uint(text, 0xFFFFFFFFULL);
  if (!v) return bad();
  return check_asn(static_cast<std::int64_t>(*v));
}

ValueResult<bgp::Community> parse_community(std::string_view text) {
  for (const auto& w : kWellKnown)
    if (iequals(text, w.name)) return w.value;
  auto colon = text.find(':');
  if (colon != std::string_view::npos) {
    auto hi = parse_uint(text.substr(0, colon), 0xFFFF);
    auto lo = parse_uint(text.substr(colon + 1), 0xFFFF);
    if (hi && lo) return static_cast<bgp::Community>((*hi << 16) | *lo);
  }
  return unexpected(fmt::format(
      "expected a community \"ASN:VALUE\" (each 0..65535) or a well-known name "
      "(graceful-shutdown, no-export, no-advertise, no-export-subconfed, no-peer, blackhole, "
      "accept-own, llgr-stale, no-llgr), got {}",
      quoted(text)));
}

std::string format_community(bgp::Community c) {
  for (const auto& w : kWellKnown)
    if (w.value == c) return std::string(w.name);
  return fmt::format("{}:{}", c >> 16, c & 0xFFFF);
}

ValueResult<bgp::LargeCommunity> parse_large_community(std::string_view text) {
  auto c1 = text.find(':');
  auto c2 = c1 == std::string_view::npos ? c1 : text.find(':', c1 + 1);
  if (c2 != std::string_view::npos) {
    auto a = parse_uint(text.substr(0, c1), 0xFFFFFFFFULL);
    auto b = parse_uint(text.substr(c1 + 1, c2 - c1 - 1), 0xFFFFFFFFULL);
    auto c = parse_uint(text.substr(c2 + 1), 0xFFFFFFFFULL);
    if (a && b && c)
      return bgp::LargeCommunity{static_cast<std::uint32_t>(*a), static_cast<std::uint32_t>(*b),
                                 static_cast<std::uint32_t>(*c)};
  }
  return unexpected(fmt::format(
      "expected a large community \"GLOBAL:LOCAL1:LOCAL2\" (each 0..4294967295), got {}",
      quoted(text)));
}

std::string format_large_community(const bgp::LargeCommunity& c) {
  return fmt::format("{}:{}:{}", c.global_admin, c.local1, c.local2);
}

ValueResult<bgp::ExtendedCommunity> parse_extended_community(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return unexpected(fmt::format(
        "expected an extended community \"rt:ASN:VALUE\", \"rt:IPV4:VALUE\", \"soo:...\" or \"0x\" "
        "and 16 hex digits, got {}{}{}",
        quoted(text), why.empty() ? "" : ": ", why));
  };
  if (text.size() == 18 && (text.substr(0, 2) == "0x" || text.substr(0, 2) == "0X")) {
    bgp::ExtendedCommunity c{};
    for (std::size_t i = 0; i < 8; ++i) {
      unsigned v = 0;
      auto digits = text.substr(2 + 2 * i, 2);
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + 2, v, 16);
      if (ec != std::errc{} || ptr != digits.data() + 2) return bad("");
      c[i] = static_cast<std::uint8_t>(v);
    }
    return c;
  }
  const auto c1 = text.find(':');
  const auto c2 = text.rfind(':');
  if (c1 == std::string_view::npos || c2 == c1) return bad("");
  const std::string_view kind_text = text.substr(0, c1);
  bgp::ExtCommunityKind kind;
  if (iequals(kind_text, "rt")) kind = bgp::ExtCommunityKind::RouteTarget;
  else if (iequals(kind_text, "soo") || iequals(kind_text, "ro")) kind = bgp::ExtCommunityKind::RouteOrigin;
  else return bad("the kind is \"rt\" (route target) or \"soo\" (route origin)");
  std::string_view global = text.substr(c1 + 1, c2 - c1 - 1);
  const std::string_view local = text.substr(c2 + 1);
  if (global.find('.') != std::string_view::npos) {
    auto ip = bgp::IpAddress::parse(global);
    if (!ip || !ip->is_v4()) return bad("the administrator is an AS number or an IPv4 address");
    auto v = parse_uint(local, 0xFFFF);
    if (!v) return bad("with an IPv4 address the value is 0..65535 (RFC 4360 3.2)");
    return bgp::ext_community_ipv4(kind, ip->v4_host_order(), static_cast<std::uint16_t>(*v));
  }
  const bool force_four = !global.empty() && (global.back() == 'L' || global.back() == 'l');
  if (force_four) global.remove_suffix(1);
  auto asn = parse_uint(global, 0xFFFFFFFFULL);
  if (!asn) return bad("the administrator is an AS number or an IPv4 address");
  if (*asn <= 0xFFFF && !force_four) {
    auto v = parse_uint(local, 0xFFFFFFFFULL);
    if (!v) return bad("with a two-octet AS the value is 0..4294967295 (RFC 4360 3.1)");
    return bgp::ext_community_as2(kind, static_cast<std::uint16_t>(*asn), static_cast<std::uint32_t>(*v));
  }
  auto v = parse_uint(local, 0xFFFF);
  if (!v) return bad("with a four-octet AS the value is 0..65535 (RFC 5668)");
  return bgp::ext_community_as4(kind, static_cast<std::uint32_t>(*asn), static_cast<std::uint16_t>(*v));
}

std::string format_extended_community(const bgp::ExtendedCommunity& c) { return bgp::to_string(c); }

ValueResult<bgp::IpAddress> parse_address(std::string_view text) {
  if (auto a = bgp::IpAddress::parse(text)) return *a;
  return unexpected(fmt::format("expected an IPv4 or IPv6 address, got {}", quoted(text)));
}

ValueResult<bgp::Prefix> parse_prefix(std::string_view text) {
  if (auto p = bgp::Prefix::parse(text)) return *p;
  // Tell "host bits set" apart from garbage: it is the common mistake.
  auto slash = text.find('/');
  if (slash != std::string_view::npos) {
    auto addr = bgp::IpAddress::parse(text.substr(0, slash));
    auto len = parse_uint(text.substr(slash + 1), 128);
    if (addr && len && *len <= addr->size() * 8) {
      bgp::IpAddress net = *addr;
      for (std::size_t bit = *len; bit < net.size() * 8; ++bit)
        net.bytes[bit / 8] = static_cast<std::uint8_t>(net.bytes[bit / 8] & ~(0x80u >> (bit % 8)));
      return unexpected(fmt::format("prefix {} has host bits set; did you mean \"{}/{}\"?",
                                    quoted(text), net.to_string(), *len));
    }
  }
  return unexpected(fmt::format(
      "expected a prefix like \"192.0.2.1/32\" or \"2001:db8::1\" (bare address: host prefix), "
      "got {}",
      quoted(text)));
}

ValueResult<Endpoint> parse_endpoint(std::string_view text, std::uint16_t default_port) {
  auto bad = [&] {
    return unexpected(fmt::format(
        "expected \"ADDRESS:PORT\" like \"192.0.2.1:{0}\" or \"[2001:db8::1]:{0}\", got {1}",
        default_port, quoted(text)));
  };
  std::string_view host = text;
  std::optional<std::uint64_t> port = default_port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad();
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad();
      port = parse_uint(rest.substr(1), 65535);
    }
    auto a = bgp::IpAddress::parse(host);
    if (!a || a->is_v4() || !port) return bad();
    return Endpoint{*a, static_cast<std::uint16_t>(*port)};
  }
  auto first = text.find(':');
  if (first != std::string_view::npos && text.find(':', first + 1) == std::string_view::npos) {
    host = text.substr(0, first);  // exactly one colon: IPv4 with port
    port = parse_uint(text.substr(first + 1), 65535);
  }
  auto a = bgp::IpAddress::parse(host);
  if (!a || !port) return bad();
  return Endpoint{*a, static_cast<std::uint16_t>(*port)};
}

std::string format_endpoint(const Endpoint& e) {
  if (e.address.is_v4()) return fmt::format("{}:{}", e.address.to_string(), e.port);
  return fmt::format("[{}]:{}", e.address.to_string(), e.port);
}

ValueResult<std::uint16_t> parse_qtype(std::string_view text) {
  return parse_mnemonic(text, kQtypes, "TYPE", 65535, "query type");
}
std::string format_qtype(std::uint16_t t) { return format_mnemonic(t, kQtypes, "TYPE"); }
ValueResult<std::uint16_t> parse_qclass(std::string_view text) {
  return parse_mnemonic(text, kQclasses, "CLASS", 65535, "query class");
}
std::string format_qclass(std::uint16_t c) { return format_mnemonic(c, kQclasses, "CLASS"); }
ValueResult<std::uint16_t> parse_rcode(std::string_view text) {
  return parse_mnemonic(text, kRcodes, "RCODE", 4095, "response code");
}
std::string format_rcode(std::uint16_t r) { return format_mnemonic(r, kRcodes, "RCODE"); }

ValueResult<std::string> check_dns_name(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return unexpected(fmt::format("expected a DNS name like \"example.com.\" ({}), got {}", why,
                                  quoted(text)));
  };
  if (text.empty()) return bad("empty");
  if (text == ".") return std::string(text);
  std::size_t wire = 1;  // the root label
  std::size_t start = 0;
  while (start < text.size()) {
    auto dot = text.find('.', start);
    std::size_t end = dot == std::string_view::npos ? text.size() : dot;
    std::size_t len = end - start;
    if (len == 0) return bad("empty label");
    if (len > 63) return bad("label longer than 63 octets");
    for (std::size_t i = start; i < end; ++i) {
      auto ch = static_cast<unsigned char>(text[i]);
      if (ch <= ' ' || ch >= 0x7F || ch == '\\') return bad("only printable ASCII, no escapes");
    }
    wire += len + 1;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (wire > 255) return bad("longer than 255 octets");
  return std::string(text);
}

}  // namespace herald::conf
