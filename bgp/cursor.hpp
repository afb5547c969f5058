// The one way the codec reads bytes: a bounds-checked cursor over a byte span.
#pragma once
#include <cstdint>
#include <span>

namespace herald::bgp {

// Reads big-endian integers and sub-ranges from a span, front to back. A read past the end
// never touches memory: it marks the cursor failed (sticky), empties it and returns zero or an
// empty span, so a parser can read a fixed layout and test ok() once afterwards.
class Cursor {
 public:
  explicit Cursor(std::span<const std::uint8_t> s, bool ok = true) : s_(s), ok_(ok) {}

  std::size_t remaining() const { return s_.size(); }
  bool empty() const { return s_.empty(); }
  bool ok() const { return ok_; }
  // The unread bytes (for error data that must quote the input).
  std::span<const std::uint8_t> rest() const { return s_; }

  std::uint8_t u8() {
    if (!need(1)) return 0;
    std::uint8_t v = s_.front();
    s_ = s_.subspan(1);
    return v;
  }
  std::uint16_t u16() {
    if (!need(2)) return 0;
    auto v = static_cast<std::uint16_t>((s_[0] << 8) | s_[1]);
    s_ = s_.subspan(2);
    return v;
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = (std::uint32_t{s_[0]} << 24) | (std::uint32_t{s_[1]} << 16) |
                      (std::uint32_t{s_[2]} << 8) | std::uint32_t{s_[3]};
    s_ = s_.subspan(4);
    return v;
  }
  // The next `len` bytes as a span (empty and failed if fewer remain).
  std::span<const std::uint8_t> bytes(std::size_t len) {
    if (!need(len)) return {};
    auto v = s_.first(len);
    s_ = s_.subspan(len);
    return v;
  }
  // A cursor over the next `len` bytes; failed (and this one too) if fewer remain.
  Cursor sub(std::size_t len) {
    bool was_ok = need(len);
    auto v = bytes(len);
    return Cursor(v, was_ok);
  }
  void skip(std::size_t len) { (void)bytes(len); }

 private:
  bool need(std::size_t n) {
    if (s_.size() >= n) return true;
    ok_ = false;
    s_ = {};
    return false;
  }
  std::span<const std::uint8_t> s_;
  bool ok_ = true;
};

}  // namespace herald::bgp
