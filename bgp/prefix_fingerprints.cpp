#include "bgp/prefix_fingerprints.hpp"

namespace herald::bgp {
namespace {

// splitmix64 finalizer: spreads structured fingerprints (IPv4 ones are address|length) over the
// table.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::uint64_t PrefixFingerprints::fingerprint(const Prefix& p) {
  if (p.addr.is_v4()) {
    // Exact: 32 address bits, 8 length bits, and a marker bit that keeps it nonzero.
    return (std::uint64_t{1} << 40) | (std::uint64_t{p.addr.v4_host_order()} << 8) | p.length;
  }
  // FNV-1a over the 16 address octets and the length, then mixed.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (auto b : p.addr.bytes) h = (h ^ b) * 0x100000001b3ULL;
  h = (h ^ p.length) * 0x100000001b3ULL;
  h = mix(h);
  return h == 0 ? 1 : h;
}

std::size_t PrefixFingerprints::slot_of(std::uint64_t fp) const {
  return static_cast<std::size_t>(mix(fp)) & (slots_.size() - 1);
}

void PrefixFingerprints::rehash(std::size_t slots) {
  std::vector<std::uint64_t> old;
  old.swap(slots_);
  slots_.assign(slots, 0);
  size_ = 0;
  for (auto fp : old) {
    if (fp == 0) continue;
    std::size_t i = slot_of(fp);
    while (slots_[i] != 0) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = fp;
    ++size_;
  }
}

bool PrefixFingerprints::insert(const Prefix& p) {
  if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
  const auto fp = fingerprint(p);
  std::size_t i = slot_of(fp);
  while (slots_[i] != 0) {
    if (slots_[i] == fp) return false;
    i = (i + 1) & (slots_.size() - 1);
  }
  slots_[i] = fp;
  ++size_;
  return true;
}

bool PrefixFingerprints::contains(const Prefix& p) const {
  if (slots_.empty()) return false;
  const auto fp = fingerprint(p);
  for (std::size_t i = slot_of(fp); slots_[i] != 0; i = (i + 1) & (slots_.size() - 1)) {
    if (slots_[i] == fp) return true;
  }
  return false;
}

bool PrefixFingerprints::erase(const Prefix& p) {
  if (slots_.empty()) return false;
  const auto fp = fingerprint(p);
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = slot_of(fp);
  while (slots_[i] != fp) {
    if (slots_[i] == 0) return false;
    i = (i + 1) & mask;
  }
  // Backward-shift deletion: pull later members of the probe run into the hole when their home
  // slot does not lie (cyclically) between the hole and their position.
  std::size_t hole = i;
  for (std::size_t j = (hole + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
    const std::size_t home = slot_of(slots_[j]);
    const bool home_between = ((j - home) & mask) < ((j - hole) & mask);
    if (!home_between) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = 0;
  --size_;
  // Give memory back as a table is withdrawn: below 1/8 load, a quarter of the slots still keeps
  // the load under 1/2. The gap between 1/8 and 1/2 keeps it from flapping.
  if (slots_.size() > 16 && size_ * 8 < slots_.size()) rehash(slots_.size() / 4);
  return true;
}

void PrefixFingerprints::clear() {
  std::vector<std::uint64_t>().swap(slots_);
  size_ = 0;
}

}  // namespace herald::bgp
