// Codec throughput: prefixes per second decoded and encoded, for UPDATEs carrying 1, 10, 100
// and 1000 prefixes, IPv4 (classic NLRI) and IPv6 (MP_REACH_NLRI). Single thread.
// Usage: bench_codec [seconds per measurement, default 0.5]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../bgp/anycast_attrs.hpp"
#include "bgp/codec.hpp"

using namespace herald::bgp;
using Clock = std::chrono::steady_clock;

namespace {

// n distinct prefixes: IPv4 /24s in 198.18.0.0/15, IPv6 /48s in 2001:db8::/32.
std::vector<Prefix> prefixes(Afi afi, std::size_t n) {
  std::vector<Prefix> v;
  v.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    Prefix p;
    p.addr.afi = afi;
    if (afi == Afi::Ipv4) {
      p.addr = IpAddress::v4(0xC6120000u + (static_cast<std::uint32_t>(i) << 8));
      p.length = 24;
    } else {
      p.addr = *IpAddress::parse("2001:db8::");
      p.addr.bytes[4] = static_cast<std::uint8_t>(i >> 8);
      p.addr.bytes[5] = static_cast<std::uint8_t>(i);
      p.length = 48;
    }
    v.push_back(p);
  }
  return v;
}

template <typename F>
double per_second(double seconds, std::size_t items_per_call, F&& call) {
  std::size_t calls = 0;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  Clock::time_point now;
  do {
    for (int i = 0; i < 64; ++i) call();
    calls += 64;
    now = Clock::now();
  } while (now < until);
  return static_cast<double>(calls * items_per_call) / std::chrono::duration<double>(now - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  // Extended messages (RFC 8654) so that 1000 IPv6 prefixes fit one UPDATE.
  CodecOptions opts;
  opts.extended_message = true;
  const PathAttributes a = test::anycast_attrs();  // realistic anycast attributes
  std::printf("%-6s %9s %8s %16s %16s\n", "family", "prefixes", "octets", "decode pfx/s", "encode pfx/s");
  for (Afi afi : {Afi::Ipv4, Afi::Ipv6}) {
    const Family fam{afi, Safi::Unicast};
    const IpAddress nh = afi == Afi::Ipv4 ? IpAddress::v4(0xC0000201) : *IpAddress::parse("2001:db8::1");
    for (std::size_t n : {1, 10, 100, 1000}) {
      const auto ps = prefixes(afi, n);
      const auto msgs = encode_announcements(fam, a, nh, std::nullopt, ps, opts);
      if (msgs.size() != 1) std::abort();  // the benchmark wants exactly n prefixes per UPDATE
      const ByteSpan body = ByteSpan(msgs[0]).subspan(kHeaderSize);
      std::size_t sink = 0;
      const double dec = per_second(seconds, n, [&] {
        auto d = decode(MessageType::Update, body, opts);
        if (!d || d->action != ErrorAction::None) std::abort();
        sink += std::get<Update>(d->message).nlri.size();
      });
      const double enc = per_second(seconds, n, [&] {
        auto out = encode_announcements(fam, a, nh, std::nullopt, ps, opts);
        sink += out.size();
      });
      std::printf("%-6s %9zu %8zu %16.0f %16.0f\n", afi == Afi::Ipv4 ? "ipv4" : "ipv6", n,
                  msgs[0].size(), dec, enc);
      if (sink == 0) std::puts("");  // keeps the work observable
    }
  }
  return 0;
}
