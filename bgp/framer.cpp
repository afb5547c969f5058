// Message framing over a TCP byte stream (RFC 4271 4.1 header, 6.1 header error handling).
#include <algorithm>

#include "bgp/codec_detail.hpp"

namespace herald::bgp {

void Framer::append(ByteSpan bytes) {
  // Drop consumed bytes once they dominate the buffer, so it never grows without bound.
  if (pos_ > 0 && pos_ * 2 >= buf_.size()) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

namespace {

// The per-type length rule of RFC 4271 6.1 (RFC 2918 for ROUTE-REFRESH: at least 23; a longer
// one is judged by the decoder, which owes RFC 7313 5 its own error).
bool length_fits_type(MessageType type, std::size_t len) {
  switch (type) {
    case MessageType::Open: return len >= detail::kMinOpenSize;
    case MessageType::Update: return len >= detail::kMinUpdateSize;
    case MessageType::Notification: return len >= detail::kMinNotificationSize;
    case MessageType::Keepalive: return len == detail::kKeepaliveSize;
    case MessageType::RouteRefresh: return len >= detail::kRouteRefreshSize;
  }
  return false;
}

bool known_type(std::uint8_t t) { return t >= 1 && t <= 5; }

}  // namespace

Framer::Frame Framer::next() {
  Frame f;
  if (failed_) {
    f.status = Status::Error;
    f.error = *failed_;
    return f;
  }
  Cursor c(ByteSpan(buf_).subspan(pos_));
  if (c.remaining() < kHeaderSize) return f;  // NeedMore
  auto marker = c.bytes(16);
  const std::uint16_t length = c.u16();
  const std::uint8_t type = c.u8();

  auto fail = [&](Notification n) {
    failed_ = std::move(n);
    f.status = Status::Error;
    f.error = *failed_;
    return f;
  };
  if (!std::all_of(marker.begin(), marker.end(), [](std::uint8_t b) { return b == 0xFF; })) {
    return fail(Notification::make(ErrorCode::MessageHeaderError,
                                   HeaderSubcode::ConnectionNotSynchronized));
  }
  if (length < kHeaderSize || length > max_) return fail(detail::bad_message_length(length));
  if (!known_type(type)) {
    return fail(Notification::make(ErrorCode::MessageHeaderError, HeaderSubcode::BadMessageType,
                                   Bytes{type}));
  }
  const auto mtype = static_cast<MessageType>(type);
  if (!length_fits_type(mtype, length)) return fail(detail::bad_message_length(length));
  if (c.remaining() < length - kHeaderSize) return f;  // NeedMore: body incomplete

  auto body = c.bytes(length - kHeaderSize);
  f.status = Status::Message;
  f.type = mtype;
  f.body.assign(body.begin(), body.end());
  pos_ += length;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return f;
}

}  // namespace herald::bgp
