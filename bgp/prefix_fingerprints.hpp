// A set of prefixes kept only to count them, at 16 to 32 bytes per prefix (no per-prefix
// allocation): each prefix becomes a 64-bit fingerprint in an open-addressing table (linear
// probing, load between 1/8 and 1/2, power-of-two size, backward-shift deletion). herald uses it
// for received IPv6 prefixes (ReceivedPrefixes in bgp/prefix_set.hpp); IPv4 ones go to the far
// smaller Ipv4PrefixSet.
// IPv4 fingerprints are exact; IPv6 ones are a 64-bit hash, so two distinct IPv6 prefixes may
// (with probability ~n^2 / 2^65) count as one. Re-announcing a prefix (an implicit withdraw,
// RFC 4271 3.1) does not count twice, which a plain announce-minus-withdraw counter would.
#pragma once
#include <cstdint>
#include <vector>

#include "bgp/types.hpp"

namespace herald::bgp {

class PrefixFingerprints {
 public:
  static std::uint64_t fingerprint(const Prefix& p);  // never 0
  bool insert(const Prefix& p);  // true when it was not present
  bool erase(const Prefix& p);   // true when it was present
  bool contains(const Prefix& p) const;
  std::size_t size() const { return size_; }
  // Empties the set and releases its heap memory.
  void clear();
  // Heap bytes held (the slot table), plus the object itself.
  std::size_t memory_bytes() const { return sizeof(*this) + slots_.capacity() * sizeof(std::uint64_t); }

 private:
  std::size_t slot_of(std::uint64_t fp) const;
  void rehash(std::size_t slots);  // a power of two, > size_
  std::vector<std::uint64_t> slots_;  // 0 = empty; size is a power of two
  std::size_t size_ = 0;
};

}  // namespace herald::bgp
