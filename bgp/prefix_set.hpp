// Exact sets of received prefixes, small enough to hold a neighbor's full table: herald keeps,
// per session and family, the prefixes the neighbor currently announces only to count them
// (status, metrics, max-prefix RFC 4486). Re-announcing a prefix (an implicit withdraw,
// RFC 4271 3.1) does not count twice, which a plain announce-minus-withdraw counter would.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bgp/prefix_fingerprints.hpp"
#include "bgp/types.hpp"

namespace herald::bgp {

// An exact set of IPv4 prefixes, compressed like a roaring bitmap. One structure per prefix
// length 0..32; a prefix's key is its network bits (address >> (32 - length); 0 for length 0).
// The high 16 bits of the key pick a container, the low 16 bits are stored inside it: a sorted
// array of 16-bit values while it holds at most 4096 of them (2 bytes per prefix), a 65,536-bit
// bitmap (8 KiB) above that, back to an array below 2048 so that a count wandering around the
// threshold does not convert on every update. The containers of one length are found through a
// flat index sorted by their high 16 bits (binary search); the index holds 4-byte entries
// pointing into an unordered vector of containers, so creating a container moves 4 bytes per
// container of that length, not a whole container record. Empty containers are removed, and
// vectors much larger than their contents are shrunk, so a withdrawn table gives its memory back.
// Cost: a sparse table (a real Internet table: mostly /24s spread over the space) takes about
// 2 bytes per prefix; a dense one (every /32 of a /16) 1 bit per prefix.
// Lookups are O(log containers + log 4096); inserting or erasing in an array container moves up
// to 8 KiB.
class Ipv4PrefixSet {
 public:
  // `address` in host byte order. Bits past `length` are ignored (a Prefix has them zero).
  // A length above 32 is a broken invariant (the UPDATE decoder refuses it): abort.
  bool insert(std::uint32_t address, std::uint8_t length);  // true when it was not present
  bool erase(std::uint32_t address, std::uint8_t length);   // true when it was present
  bool contains(std::uint32_t address, std::uint8_t length) const;
  std::size_t size() const { return size_; }
  // Empties the set and releases its heap memory.
  void clear();
  // Heap bytes held (vector capacities), plus the object itself.
  std::size_t memory_bytes() const;

  // A container's array turns into a bitmap when it would exceed kArrayMax values, and a bitmap
  // back into an array when it falls below kBitmapMin.
  static constexpr std::uint32_t kArrayMax = 4096;
  static constexpr std::uint32_t kBitmapMin = 2048;

 private:
  struct Container {
    std::uint16_t high = 0;    // high 16 bits of the keys it holds
    bool bitmap = false;       // data: a bitmap of 4096 16-bit words, else sorted values
    std::uint32_t count = 0;   // values held, 1..65536 (0 only while being removed)
    std::vector<std::uint16_t> data;
  };
  // The containers of one prefix length.
  struct Length {
    std::vector<std::uint32_t> index;  // high << 16 | position in `containers`, sorted by high
    std::vector<Container> containers;  // in no particular order
  };

  static std::uint32_t key_of(std::uint32_t address, std::uint8_t length);
  static std::vector<std::uint32_t>::const_iterator locate(const Length& l, std::uint16_t high);
  static bool container_insert(Container& c, std::uint16_t low);
  static bool container_erase(Container& c, std::uint16_t low);
  static bool container_contains(const Container& c, std::uint16_t low);

  std::array<Length, 33> by_length_;  // subscript: prefix length
  std::size_t size_ = 0;
};

// The received-prefix set of one session: exact IPv4 (Ipv4PrefixSet) and 64-bit fingerprints
// for IPv6 (PrefixFingerprints: two distinct IPv6 prefixes may, with probability ~n^2 / 2^65,
// count as one). Each prefix goes to the structure of its address family.
class ReceivedPrefixes {
 public:
  bool insert(const Prefix& p);  // true when it was not present
  bool erase(const Prefix& p);   // true when it was present
  bool contains(const Prefix& p) const;
  std::size_t size() const { return v4_.size() + v6_.size(); }
  // Empties the set and releases its heap memory.
  void clear();
  std::size_t memory_bytes() const;

 private:
  Ipv4PrefixSet v4_;
  PrefixFingerprints v6_;
};

}  // namespace herald::bgp
