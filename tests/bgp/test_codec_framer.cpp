// Framing a TCP byte stream into messages (RFC 4271 4.1, 6.1).
#include "codec_test_util.hpp"

using namespace herald::bgp;
using namespace herald::bgp::test;

namespace {
const Bytes kKeepalive = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // marker (8 of 16)
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // marker (16 of 16)
    0x00, 0x13,                                      // length 19
    0x04,                                            // type KEEPALIVE
};

Bytes header(std::uint16_t len, std::uint8_t type) {
  Bytes h(16, 0xFF);
  h.push_back(static_cast<std::uint8_t>(len >> 8));  // length, high octet
  h.push_back(static_cast<std::uint8_t>(len));       // length, low octet
  h.push_back(type);                                 // type
  return h;
}

Notification frame_error(const Bytes& wire, std::size_t max = kMaxMessageSize) {
  Framer f(max);
  f.append(wire);
  auto frame = f.next();
  REQUIRE(frame.status == Framer::Status::Error);
  // Sticky: the session has to close; more bytes change nothing.
  f.append(kKeepalive);
  CHECK(f.next().status == Framer::Status::Error);
  return frame.error;
}
}  // namespace

TEST_CASE("framer yields whole messages fed one octet at a time") {
  const Bytes notif = with_header(MessageType::Notification, {0x06, 0x02});
  const Bytes stream = cat({kKeepalive, notif, kKeepalive});
  Framer f;
  std::vector<Framer::Frame> frames;
  for (auto b : stream) {
    f.append(Bytes{b});
    for (auto fr = f.next(); fr.status != Framer::Status::NeedMore; fr = f.next()) {
      REQUIRE(fr.status == Framer::Status::Message);
      frames.push_back(fr);
    }
  }
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].type == MessageType::Keepalive);
  CHECK(frames[0].body.empty());
  CHECK(frames[1].type == MessageType::Notification);
  CHECK(frames[1].body == Bytes{0x06, 0x02});
  CHECK(frames[2].type == MessageType::Keepalive);
  CHECK(f.buffered() == 0);
}

TEST_CASE("framer yields several messages from one chunk and keeps a partial tail") {
  Framer f;
  const Bytes stream = cat({kKeepalive, kKeepalive, Bytes(kKeepalive.begin(), kKeepalive.begin() + 5)});
  f.append(stream);
  CHECK(f.next().status == Framer::Status::Message);
  CHECK(f.next().status == Framer::Status::Message);
  CHECK(f.next().status == Framer::Status::NeedMore);
  CHECK(f.buffered() == 5);
  f.append(Bytes(kKeepalive.begin() + 5, kKeepalive.end()));
  CHECK(f.next().status == Framer::Status::Message);
  CHECK(f.next().status == Framer::Status::NeedMore);
}

TEST_CASE("framer: bad marker is 1/1 without data") {
  Bytes wire = kKeepalive;
  wire[7] = 0xFE;  // one marker octet wrong
  auto n = frame_error(wire);
  CHECK(n.code == 1);
  CHECK(n.subcode == 1);
  CHECK(n.data.empty());
}

TEST_CASE("framer: bad lengths are 1/2 with the length field as data") {
  SUBCASE("below the header size") {
    auto n = frame_error(header(18, 4));
    CHECK(n == Notification{1, 2, {0x00, 0x12}});
  }
  SUBCASE("above 4096 without extended messages") {
    auto n = frame_error(header(4097, 2));
    CHECK(n == Notification{1, 2, {0x10, 0x01}});
  }
  SUBCASE("KEEPALIVE must be exactly 19") {
    auto n = frame_error(cat({header(20, 4), {0x00}}));
    CHECK(n == Notification{1, 2, {0x00, 0x14}});
  }
  SUBCASE("OPEN shorter than 29") {
    auto n = frame_error(header(28, 1));
    CHECK(n == Notification{1, 2, {0x00, 0x1C}});
  }
  SUBCASE("UPDATE shorter than 23") {
    auto n = frame_error(header(22, 2));
    CHECK(n == Notification{1, 2, {0x00, 0x16}});
  }
  SUBCASE("NOTIFICATION shorter than 21") {
    auto n = frame_error(header(20, 3));
    CHECK(n == Notification{1, 2, {0x00, 0x14}});
  }
  SUBCASE("ROUTE-REFRESH shorter than 23") {
    auto n = frame_error(header(22, 5));
    CHECK(n == Notification{1, 2, {0x00, 0x16}});
  }
}

TEST_CASE("framer: unknown type is 1/3 with the type as data") {
  auto n = frame_error(header(19, 6));
  CHECK(n == Notification{1, 3, {0x06}});
  n = frame_error(header(19, 0));
  CHECK(n == Notification{1, 3, {0x00}});
}

TEST_CASE("framer: header errors are reported before the body arrives") {
  Framer f;
  f.append(header(5000, 2));  // no body yet
  CHECK(f.next().status == Framer::Status::Error);
}

TEST_CASE("framer accepts 65535-octet messages once extended messages are negotiated") {
  Bytes body(65535 - kHeaderSize, 0);
  body[1] = 0x00;  // withdrawn length 0 (the rest is not decoded here)
  const Bytes wire = with_header(MessageType::Update, body);
  Framer f;
  f.set_max_message_size(kMaxExtendedMessageSize);
  f.append(wire);
  auto fr = f.next();
  REQUIRE(fr.status == Framer::Status::Message);
  CHECK(fr.body.size() == 65535 - kHeaderSize);
}
