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

namespace {

template <class Containers>
auto find_high(Containers& cs, std::uint16_t high) {
  return std::lower_bound(cs.begin(), cs.end(), high,
                          [](const auto& c, std::uint16_t h) { return c.high < h; });
}

}  // namespace

bool Ipv4PrefixSet::insert(std::uint32_t address, std::uint8_t length) {
  const auto key = key_of(address, length);
  const auto high = static_cast<std::uint16_t>(key >> 16);
  auto& cs = by_length_[length];
  auto it = find_high(cs, high);
  if (it == cs.end() || it->high != high) {
    const auto pos = it - cs.begin();
    make_room(cs, std::size_t{65536});
    it = cs.insert(cs.begin() + pos, Container{high, false, 0, {}});
  }
  // A container created here is never left empty: a new value always goes in.
  if (!container_insert(*it, static_cast<std::uint16_t>(key))) return false;
  ++size_;
  return true;
}

bool Ipv4PrefixSet::erase(std::uint32_t address, std::uint8_t length) {
  const auto key = key_of(address, length);
  const auto high = static_cast<std::uint16_t>(key >> 16);
  auto& cs = by_length_[length];
  auto it = find_high(cs, high);
  if (it == cs.end() || it->high != high) return false;
  if (!container_erase(*it, static_cast<std::uint16_t>(key))) return false;
  --size_;
  if (it->count == 0) {
    cs.erase(it);
    shrink_if_sparse(cs);
  }
  return true;
}

bool Ipv4PrefixSet::contains(std::uint32_t address, std::uint8_t length) const {
  const auto key = key_of(address, length);
  const auto high = static_cast<std::uint16_t>(key >> 16);
  const auto& cs = by_length_[length];
  auto it = find_high(cs, high);
  return it != cs.end() && it->high == high && container_contains(*it, static_cast<std::uint16_t>(key));
}

void Ipv4PrefixSet::clear() {
  for (auto& cs : by_length_) Containers().swap(cs);
  size_ = 0;
}

std::size_t Ipv4PrefixSet::memory_bytes() const {
  std::size_t n = sizeof(*this);
  for (const auto& cs : by_length_) {
    n += cs.capacity() * sizeof(Container);
    for (const auto& c : cs) n += c.data.capacity() * sizeof(std::uint16_t);
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
