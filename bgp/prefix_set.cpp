#include "bgp/prefix_set.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>

namespace herald::bgp {
namespace {

constexpr std::size_t kBitmapWords = 65536 / 16;  // 16-bit words of a bitmap container

// Reallocates `v` to exactly `capacity` elements (which must be >= its size). reserve() never
// shrinks and shrink_to_fit() is only a request, so both directions go through this.
template <class T>
void reallocate(std::vector<T>& v, std::size_t capacity) {
  std::vector<T> t;
  t.reserve(capacity);
  std::move(v.begin(), v.end(), std::back_inserter(t));
  v.swap(t);
}

// Makes room for one more element with 1/8 headroom instead of the usual doubling: the sorted
// vectors here pay a move of their tail on every insert anyway, and the headroom is memory held
// per session for a whole table. `limit` caps the capacity (an array container never needs more
// than kArrayMax).
template <class T>
void make_room(std::vector<T>& v, std::size_t limit) {
  if (v.size() < v.capacity()) return;
  reallocate(v, std::min(limit, v.size() + v.size() / 8 + 4));
}

// Gives memory back once a vector is less than half full, and all of it once it is empty, so a
// withdrawn table does not keep its peak size; the growth headroom (1/8) is far from half, so
// it cannot flap.
template <class T>
void shrink_if_sparse(std::vector<T>& v) {
  if (v.empty()) {
    std::vector<T>().swap(v);
  } else if (v.capacity() > 2 * v.size() + 8) {
    reallocate(v, v.size());
  }
}

}  // namespace

std::uint32_t Ipv4PrefixSet::key_of(std::uint32_t address, std::uint8_t length) {
  if (length > 32) {
    std::fprintf(stderr, "bgp: broken invariant: IPv4 prefix length %u\n", unsigned{length});
    std::abort();
  }
  return length == 0 ? 0 : address >> (32 - length);  // a shift by 32 would be undefined
}

bool Ipv4PrefixSet::container_insert(Container& c, std::uint16_t low) {
  if (c.bitmap) {
    auto& word = c.data[low >> 4];
    const auto bit = static_cast<std::uint16_t>(1u << (low & 15u));
    if ((word & bit) != 0) return false;
    word = static_cast<std::uint16_t>(word | bit);
    ++c.count;
    return true;
  }
  auto it = std::lower_bound(c.data.begin(), c.data.end(), low);
  if (it != c.data.end() && *it == low) return false;
  if (c.count == kArrayMax) {
    // The array is as large as a bitmap: switch, and from here on 1 bit per value.
    std::vector<std::uint16_t> bits(kBitmapWords, 0);
    for (auto v : c.data) bits[v >> 4] = static_cast<std::uint16_t>(bits[v >> 4] | (1u << (v & 15u)));
    bits[low >> 4] = static_cast<std::uint16_t>(bits[low >> 4] | (1u << (low & 15u)));
    c.data.swap(bits);
    c.bitmap = true;
    ++c.count;
    return true;
  }
  const auto pos = it - c.data.begin();
  make_room(c.data, kArrayMax);
  c.data.insert(c.data.begin() + pos, low);
  ++c.count;
  return true;
}

bool Ipv4PrefixSet::container_erase(Container& c, std::uint16_t low) {
  if (c.bitmap) {
    auto& word = c.data[low >> 4];
    const auto bit = static_cast<std::uint16_t>(1u << (low & 15u));
    if ((word & bit) == 0) return false;
    word = static_cast<std::uint16_t>(word & ~bit);
    --c.count;
    if (c.count < kBitmapMin) {
      std::vector<std::uint16_t> values;
      values.reserve(c.count);
      for (std::size_t w = 0; w < kBitmapWords; ++w) {
        for (unsigned b = 0; b < 16; ++b) {
          if ((c.data[w] >> b) & 1u) values.push_back(static_cast<std::uint16_t>(w * 16 + b));
        }
      }
      c.data.swap(values);
      c.bitmap = false;
    }
    return true;
  }
  auto it = std::lower_bound(c.data.begin(), c.data.end(), low);
  if (it == c.data.end() || *it != low) return false;
  c.data.erase(it);
  --c.count;
  shrink_if_sparse(c.data);
  return true;
}

bool Ipv4PrefixSet::container_contains(const Container& c, std::uint16_t low) {
  if (c.bitmap) return ((c.data[low >> 4] >> (low & 15u)) & 1u) != 0;
  return std::binary_search(c.data.begin(), c.data.end(), low);
}

std::vector<std::uint32_t>::const_iterator Ipv4PrefixSet::locate(const Length& l, std::uint16_t high) {
  auto it = std::lower_bound(l.index.begin(), l.index.end(), high,
                             [](std::uint32_t entry, std::uint16_t h) { return (entry >> 16) < h; });
  return it != l.index.end() && (*it >> 16) == high ? it : l.index.end();
}

bool Ipv4PrefixSet::insert(std::uint32_t address, std::uint8_t length) {
  const auto key = key_of(address, length);
  const auto high = static_cast<std::uint16_t>(key >> 16);
  auto& l = by_length_[length];
  Container* c = nullptr;
  if (auto it = locate(l, high); it != l.index.end()) {
    c = &l.containers[*it & 0xFFFFu];
  } else {
    // At most 65536 distinct highs, so a container's position always fits the low 16 bits.
    const auto pos = std::upper_bound(l.index.begin(), l.index.end(), std::uint32_t{high} << 16) - l.index.begin();
    const auto at = static_cast<std::uint32_t>(l.containers.size());
    make_room(l.containers, std::size_t{65536});
    l.containers.push_back(Container{high, false, 0, {}});
    make_room(l.index, std::size_t{65536});
    l.index.insert(l.index.begin() + pos, (std::uint32_t{high} << 16) | at);
    c = &l.containers.back();
  }
  // A container created here is never left empty: a new value always goes in.
  if (!container_insert(*c, static_cast<std::uint16_t>(key))) return false;
  ++size_;
  return true;
}

bool Ipv4PrefixSet::erase(std::uint32_t address, std::uint8_t length) {
  const auto key = key_of(address, length);
  const auto high = static_cast<std::uint16_t>(key >> 16);
  auto& l = by_length_[length];
  const auto it = locate(l, high);
  if (it == l.index.end()) return false;
  const std::uint32_t at = *it & 0xFFFFu;
  if (!container_erase(l.containers[at], static_cast<std::uint16_t>(key))) return false;
  --size_;
  if (l.containers[at].count == 0) {
    // Remove the empty container: the last one takes its place, and its index entry follows.
    l.index.erase(it);
    if (at + 1 != l.containers.size()) {
      l.containers[at] = std::move(l.containers.back());
      const auto moved = locate(l, l.containers[at].high);
      if (moved == l.index.end()) {
        std::fprintf(stderr, "bgp: broken invariant: prefix set container %u not indexed\n",
                     unsigned{l.containers[at].high});
        std::abort();
      }
      l.index[static_cast<std::size_t>(moved - l.index.cbegin())] = (std::uint32_t{l.containers[at].high} << 16) | at;
    }
    l.containers.pop_back();
    shrink_if_sparse(l.containers);
    shrink_if_sparse(l.index);
  }
  return true;
}

bool Ipv4PrefixSet::contains(std::uint32_t address, std::uint8_t length) const {
  const auto key = key_of(address, length);
  const auto& l = by_length_[length];
  const auto it = locate(l, static_cast<std::uint16_t>(key >> 16));
  return it != l.index.end() && container_contains(l.containers[*it & 0xFFFFu], static_cast<std::uint16_t>(key));
}

void Ipv4PrefixSet::clear() {
  for (auto& l : by_length_) l = Length{};
  size_ = 0;
}

std::size_t Ipv4PrefixSet::memory_bytes() const {
  std::size_t n = sizeof(*this);
  for (const auto& l : by_length_) {
    n += l.index.capacity() * sizeof(std::uint32_t) + l.containers.capacity() * sizeof(Container);
    for (const auto& c : l.containers) n += c.data.capacity() * sizeof(std::uint16_t);
  }
  return n;
}

bool ReceivedPrefixes::insert(const Prefix& p) {
  return p.addr.is_v4() ? v4_.insert(p.addr.v4_host_order(), p.length) : v6_.insert(p);
}

bool ReceivedPrefixes::erase(const Prefix& p) {
  return p.addr.is_v4() ? v4_.erase(p.addr.v4_host_order(), p.length) : v6_.erase(p);
}

bool ReceivedPrefixes::contains(const Prefix& p) const {
  return p.addr.is_v4() ? v4_.contains(p.addr.v4_host_order(), p.length) : v6_.contains(p);
}

void ReceivedPrefixes::clear() {
  v4_.clear();
  v6_.clear();
}

std::size_t ReceivedPrefixes::memory_bytes() const {
  return v4_.memory_bytes() + v6_.memory_bytes() - sizeof(v4_) - sizeof(v6_) + sizeof(*this);
}

}  // namespace herald::bgp
