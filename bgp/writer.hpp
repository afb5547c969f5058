// The one way the codec writes bytes: big-endian appends to a byte vector, with length
// placeholders that are patched once the enclosed data is known.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "bgp/types.hpp"

namespace herald::bgp {

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}

  std::size_t size() const { return out_.size(); }
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    const std::uint8_t b[2] = {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    append(b, 2);
  }
  void u32(std::uint32_t v) {
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                               static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    append(b, 4);
  }
  void bytes(std::span<const std::uint8_t> b) { append(b.data(), b.size()); }

  // Reserves a 1- or 2-octet length field; returns its offset for patch8/patch16.
  std::size_t placeholder8() { u8(0); return out_.size() - 1; }
  std::size_t placeholder16() { u16(0); return out_.size() - 2; }
  // Writes the number of bytes appended since the placeholder. Aborts when it does not fit:
  // the encoder's callers must not hand it values the wire format cannot carry.
  void patch8(std::size_t at) {
    std::size_t len = out_.size() - at - 1;
    if (len > 0xFF) std::abort();
    out_[at] = static_cast<std::uint8_t>(len);
  }
  void patch16(std::size_t at) {
    std::size_t len = out_.size() - at - 2;
    if (len > 0xFFFF) std::abort();
    out_[at] = static_cast<std::uint8_t>(len >> 8);
    out_[at + 1] = static_cast<std::uint8_t>(len);
  }
  Bytes& buffer() { return out_; }

 private:
  // One resize and one copy per field: cheaper than growing octet by octet.
  void append(const std::uint8_t* p, std::size_t n) {
    if (n == 0) return;
    const std::size_t at = out_.size();
    out_.resize(at + n);
    std::memcpy(out_.data() + at, p, n);
  }
  Bytes& out_;
};

}  // namespace herald::bgp
