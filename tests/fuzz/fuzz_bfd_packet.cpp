// libFuzzer target for the BFD Control packet decoder and the session engine behind it.
// Property 1: whatever decodes must encode to the 24-octet form that decodes to the same value.
// Property 2: feeding decoded packets to a session never breaks its invariants (it aborts on
// a broken one) and its state stays one of the four RFC 5880 states.
//
// Input layout: a sequence of records, each one octet N (datagram length, at most 64) then N
// octets; after each datagram the clock advances by 10 ms and due timers fire.
#include <cstdio>
#include <cstdlib>
#include <span>

#include "bgp/bfd_session.hpp"

using namespace herald::bgp;
using namespace herald::bgp::bfd;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "bfd fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  Session session(SessionConfig{std::chrono::milliseconds(50), std::chrono::milliseconds(50), 3}, 0x11, 1);
  auto now = Clock::time_point{} + std::chrono::hours(1);
  std::optional<Clock::time_point> tx_due, detect_due;
  auto apply = [&](const Actions& actions) {
    for (const auto& a : actions) {
      if (auto* t = std::get_if<ArmTimer>(&a)) {
        (t->timer == Timer::Transmit ? tx_due : detect_due) = now + t->after;
      } else if (auto* c = std::get_if<CancelTimer>(&a)) {
        (c->timer == Timer::Transmit ? tx_due : detect_due).reset();
      } else if (auto* s = std::get_if<SendPacket>(&a)) {
        auto back = decode(encode(s->packet));
        if (!back || !(*back == s->packet)) fail("own packet does not decode to itself");
      }
    }
  };
  apply(session.start(now));
  int records = 0;
  while (!in.empty() && records++ < 64) {
    const std::size_t n = std::min<std::size_t>(in[0] % 65, in.size() - 1);
    auto datagram = in.subspan(1, n);
    in = in.subspan(1 + n);
    auto p = decode(datagram);
    if (p) {
      auto again = decode(encode(*p));
      if (!again || !(*again == *p)) fail("round trip changed the packet");
      auto r = session.receive(*p, now);
      if (r) apply(*r);
    }
    now += std::chrono::milliseconds(10);
    for (int i = 0; i < 4; ++i) {
      if (tx_due && *tx_due <= now) { tx_due.reset(); apply(session.timer(Timer::Transmit, now)); }
      if (detect_due && *detect_due <= now) { detect_due.reset(); apply(session.timer(Timer::Detect, now)); }
    }
    if (static_cast<std::uint8_t>(session.state()) > 3) fail("state out of range");
  }
  return 0;
}
