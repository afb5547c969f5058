// Helpers shared by the codec tests: building messages from bodies and decoding them.
#pragma once
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "bgp/codec.hpp"

namespace herald::bgp::test {

// Concatenates byte lists (keeps test vectors readable field by field).
inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A whole message: 16 x 0xFF marker, 2-octet length, type, body.
inline Bytes with_header(MessageType type, const Bytes& body) {
  Bytes m(16, 0xFF);
  const std::size_t len = kHeaderSize + body.size();
  m.push_back(static_cast<std::uint8_t>(len >> 8));
  m.push_back(static_cast<std::uint8_t>(len));
  m.push_back(static_cast<std::uint8_t>(type));
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

// UPDATE body from its three parts: withdrawn routes, path attributes, NLRI (lengths computed).
inline Bytes update_body(const Bytes& withdrawn, const Bytes& attrs, const Bytes& nlri) {
  Bytes b;
  b.push_back(static_cast<std::uint8_t>(withdrawn.size() >> 8));  // withdrawn routes length
  b.push_back(static_cast<std::uint8_t>(withdrawn.size()));
  b.insert(b.end(), withdrawn.begin(), withdrawn.end());
  b.push_back(static_cast<std::uint8_t>(attrs.size() >> 8));  // total path attribute length
  b.push_back(static_cast<std::uint8_t>(attrs.size()));
  b.insert(b.end(), attrs.begin(), attrs.end());
  b.insert(b.end(), nlri.begin(), nlri.end());
  return b;
}

// A whole UPDATE message (header included) from the three parts of its body.
inline Bytes update_message(const Bytes& withdrawn, const Bytes& attrs, const Bytes& nlri) {
  return with_header(MessageType::Update, update_body(withdrawn, attrs, nlri));
}

// Decodes an UPDATE body that must not reset the session; the RFC 7606 action is the caller's
// to check.
inline Decoded decoded_update(const Bytes& body, const CodecOptions& opts = {}) {
  auto d = decode(MessageType::Update, body, opts);
  REQUIRE(d.has_value());
  return std::move(d.value());
}

// Frames exactly one message out of `wire` and decodes it.
inline Expected<Decoded, Notification> decode_wire(const Bytes& wire, const CodecOptions& opts = {}) {
  Framer f(opts.max_message_size());
  f.append(wire);
  auto frame = f.next();
  REQUIRE(frame.status == Framer::Status::Message);
  CHECK(f.buffered() == 0);
  return decode(frame.type, frame.body, opts);
}

inline Update decode_update_ok(const Bytes& body, const CodecOptions& opts = {}) {
  auto d = decode(MessageType::Update, body, opts);
  REQUIRE(d.has_value());
  CHECK(d->action == ErrorAction::None);
  REQUIRE(std::holds_alternative<Update>(d->message));
  return std::get<Update>(d->message);
}

inline Prefix pfx(const char* text) {
  auto p = Prefix::parse(text);
  REQUIRE(p.has_value());
  return *p;
}
inline IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  REQUIRE(a.has_value());
  return *a;
}

inline Bytes read_file(const std::string& name) {
  std::ifstream in(std::string(HERALD_TEST_DATA) + "/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing test data file " << name);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace herald::bgp::test
