// libFuzzer target for the BGP codec: frames and decodes arbitrary bytes, and checks the
// round-trip property: whatever decodes cleanly (no RFC 7606 action) must encode to bytes that
// decode to the same value. Any mismatch aborts.
//
// Input layout: octet 0 selects the session options (bit 0: 4-octet AS, bit 1: iBGP); the
// rest is the TCP byte stream.
#include <cstdio>
#include <cstdlib>

#include "bgp/codec.hpp"

using namespace herald::bgp;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "round trip broken: %s\n", what);
  std::abort();
}

// The encoder marks passed-on unknown optional transitive attributes Partial (RFC 4271 5).
Message expected_after_round_trip(Message m) {
  if (auto* u = std::get_if<Update>(&m)) {
    for (auto& r : u->attrs.unknown) {
      const std::uint8_t ot = attr_flags::kOptional | attr_flags::kTransitive;
      if ((r.flags & ot) == ot) r.flags |= attr_flags::kPartial;
    }
  }
  return m;
}

void exercise_text(const Message& m) {
  if (const auto* n = std::get_if<Notification>(&m)) {
    (void)n->describe();
    (void)n->shutdown_communication();
  } else if (const auto* o = std::get_if<Open>(&m)) {
    OpenPolicy p;
    p.local_as = 65001;
    p.local_bgp_id = 0xC0000201;
    p.required_families = {kIpv4Unicast, kIpv6Unicast};
    p.local_role = Role::Customer;
    (void)validate_open(*o, p);
  } else if (const auto* u = std::get_if<Update>(&m)) {
    (void)u->end_of_rib();
    for (const auto& p : u->nlri) (void)p.to_string();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  CodecOptions opts;
  opts.four_octet_as = (data[0] & 1) != 0;
  opts.ibgp = (data[0] & 2) != 0;
  // Received messages are at most 4096 octets; re-encoding may legitimately grow an UPDATE
  // (an RFC 6793 merge writes the 4-octet path into AS_PATH), so it gets the extended limit.
  CodecOptions reencode = opts;
  reencode.extended_message = true;

  Framer framer;
  framer.append(ByteSpan(data + 1, size - 1));
  for (int i = 0; i < 1000; ++i) {
    auto frame = framer.next();
    if (frame.status == Framer::Status::NeedMore) break;
    if (frame.status == Framer::Status::Error) {
      (void)frame.error.describe();
      break;
    }
    auto decoded = decode(frame.type, frame.body, opts);
    if (!decoded) {
      (void)decoded.error().describe();
      continue;
    }
    exercise_text(decoded->message);
    if (decoded->action != ErrorAction::None) continue;

    const Bytes wire = encode(decoded->message, reencode);
    Framer again(kMaxExtendedMessageSize);
    again.append(wire);
    auto f2 = again.next();
    if (f2.status != Framer::Status::Message) fail("re-encoded message does not frame");
    if (f2.type != frame.type) fail("message type changed");
    if (again.buffered() != 0) fail("re-encoded message has trailing bytes");
    auto d2 = decode(f2.type, f2.body, opts);
    if (!d2) fail("re-encoded message does not decode");
    if (d2->action != ErrorAction::None) fail("re-encoded message has RFC 7606 findings");
    if (!(d2->message == expected_after_round_trip(decoded->message))) fail("value changed");
  }
  return 0;
}
