// The received-prefix sets: Ipv4PrefixSet (exact, roaring-like) against std::set, its container
// conversions and its memory, and ReceivedPrefixes' split by address family.
#include <doctest/doctest.h>

#include <cstdint>
#include <iterator>
#include <random>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "bgp/prefix_set.hpp"

namespace herald::bgp {
namespace {

Prefix pfx(const char* s) { return *Prefix::parse(s); }

constexpr std::uint32_t kBulkBase = 0xC6120000u;  // 198.18.0.0/15, the bulk-route range

// The reference: (length, address with the bits past the length cleared).
using Ref = std::set<std::pair<unsigned, std::uint32_t>>;
std::pair<unsigned, std::uint32_t> ref_key(std::uint32_t address, unsigned length) {
  const std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
  return {length, address & mask};
}

// Every member of `ref` is in `set`, and the count agrees.
void check_same(const Ipv4PrefixSet& set, const Ref& ref) {
  REQUIRE(set.size() == ref.size());
  std::size_t missing = 0;
  for (const auto& [len, addr] : ref) missing += !set.contains(addr, static_cast<std::uint8_t>(len));
  CHECK(missing == 0);
}

TEST_CASE("prefix_set: lengths 0 and 32, same address at other lengths, absent erases") {
  Ipv4PrefixSet s;
  CHECK_FALSE(s.erase(0, 0));  // empty set
  CHECK(s.insert(0, 0));       // 0.0.0.0/0
  CHECK_FALSE(s.insert(0, 0));
  CHECK(s.insert(0, 32));           // 0.0.0.0/32
  CHECK(s.insert(0xFFFFFFFFu, 32));  // 255.255.255.255/32
  CHECK(s.insert(0xC0000200u, 24));  // 192.0.2.0/24
  CHECK(s.insert(0xC0000200u, 25));  // 192.0.2.0/25: same address, other length
  CHECK(s.size() == 5);
  CHECK(s.contains(0, 0));
  CHECK(s.contains(0xFFFFFFFFu, 32));
  CHECK_FALSE(s.contains(0xFFFFFFFEu, 32));
  CHECK_FALSE(s.contains(0xC0000200u, 26));
  CHECK_FALSE(s.erase(0xC0000280u, 25));  // 192.0.2.128/25: absent, in an existing container
  CHECK_FALSE(s.erase(0xC6120000u, 15));  // 198.18.0.0/15: no container of that length
  CHECK(s.size() == 5);
  CHECK(s.erase(0xC0000200u, 24));
  CHECK_FALSE(s.erase(0xC0000200u, 24));
  CHECK(s.contains(0xC0000200u, 25));
  CHECK(s.erase(0, 0));
  CHECK_FALSE(s.contains(0, 0));
  CHECK(s.size() == 3);
  s.clear();
  CHECK(s.size() == 0);
  CHECK_FALSE(s.contains(0, 32));
  CHECK(s.memory_bytes() == sizeof(Ipv4PrefixSet));
  CHECK(s.insert(0, 32));  // usable after clear
  CHECK(s.size() == 1);
}

TEST_CASE("prefix_set: a container turns into a bitmap above 4096 and back below 2048") {
  Ipv4PrefixSet s;
  Ref ref;
  // /32s of 198.18.0.0/16 all share one container (high 16 bits 0xC612); every third address,
  // so the values are not just a run.
  auto add = [&](std::uint32_t i) {
    CHECK(s.insert(kBulkBase + i * 3, 32) == ref.insert(ref_key(kBulkBase + i * 3, 32)).second);
  };
  auto del = [&](std::uint32_t i) {
    CHECK(s.erase(kBulkBase + i * 3, 32) == (ref.erase(ref_key(kBulkBase + i * 3, 32)) == 1));
  };
  const std::size_t base = s.memory_bytes();
  for (std::uint32_t i = 0; i < 4096; ++i) add(i);
  // An array of 4096 values: 8 KiB plus the container record.
  CHECK(s.memory_bytes() - base < 8192 + 256);
  for (std::uint32_t i = 4096; i < 20000; ++i) add(i);
  check_same(s, ref);
  // 20,000 values as an array would be 40 KB; as a bitmap it stays 8 KiB.
  CHECK(s.memory_bytes() - base < 8192 + 256);
  for (std::uint32_t i = 0; i < 20000; i += 2) add(i);  // already present: nothing changes
  CHECK(s.size() == 20000);

  // Down to 3000: still a bitmap (hysteresis), so still 8 KiB.
  for (std::uint32_t i = 3000; i < 20000; ++i) del(i);
  check_same(s, ref);
  CHECK(s.memory_bytes() - base >= 8192);
  // Below 2048: back to an array of 2 bytes per value.
  for (std::uint32_t i = 2047; i < 3000; ++i) del(i);
  check_same(s, ref);
  CHECK(s.size() == 2047);
  CHECK(s.memory_bytes() - base < 2047 * 2 + 256);
  for (std::uint32_t i = 0; i < 20000; ++i) CHECK_FALSE(s.contains(kBulkBase + i * 3 + 1, 32));
  // Down to a handful: the array gives its memory back.
  for (std::uint32_t i = 10; i < 2047; ++i) del(i);
  check_same(s, ref);
  CHECK(s.memory_bytes() - base < 10 * 2 + 256);
  for (std::uint32_t i = 0; i < 10; ++i) del(i);
  CHECK(s.size() == 0);
  CHECK(s.memory_bytes() == base);  // the empty container is gone
}

TEST_CASE("prefix_set: random inserts and erases agree with std::set") {
  std::mt19937 rng(9);
  Ipv4PrefixSet s;
  Ref ref;
  // Lengths: all 0..32, with the long ones (where containers fill up) more likely.
  auto pick_length = [&]() -> unsigned {
    const unsigned r = rng() % 64;
    return r <= 32 ? r : 32 - (r - 33) % 4;
  };
  // Dense keys crowd 198.18.0.0/15 (bitmaps for the longest lengths); sparse ones are anywhere.
  auto pick_address = [&](bool dense) -> std::uint32_t {
    return dense ? kBulkBase + static_cast<std::uint32_t>(rng() % 8192) : static_cast<std::uint32_t>(rng());
  };
  int mismatches = 0;
  // Everything inserted so far: 3 in 4 erases pick from it, so sparse prefixes (which a
  // fresh random pick would almost never hit) get withdrawn too, some of them twice.
  std::vector<std::pair<std::uint32_t, unsigned>> inserted;
  auto round = [&](int ops, unsigned insert_percent) {
    for (int i = 0; i < ops; ++i) {
      unsigned len = pick_length();
      std::uint32_t addr = pick_address(rng() % 4 != 0);
      const bool insert = rng() % 100 < insert_percent;
      if (!insert && !inserted.empty() && rng() % 4 != 0) {
        std::tie(addr, len) = inserted[rng() % inserted.size()];
      }
      const auto len8 = static_cast<std::uint8_t>(len);
      if (insert) {
        inserted.emplace_back(addr, len);
        mismatches += s.insert(addr, len8) != ref.insert(ref_key(addr, len)).second;
      } else {
        mismatches += s.erase(addr, len8) != (ref.erase(ref_key(addr, len)) == 1);
      }
      mismatches += s.size() != ref.size();
    }
    check_same(s, ref);
    // Absent prefixes stay absent (a lookup that answered "yes" to anything would fail here).
    int false_hits = 0;
    for (int i = 0; i < 2000; ++i) {
      const unsigned len = pick_length();
      const std::uint32_t addr = pick_address(i % 2 == 0);
      false_hits += s.contains(addr, static_cast<std::uint8_t>(len)) != (ref.count(ref_key(addr, len)) == 1);
    }
    CHECK(false_hits == 0);
  };
  // Dense /32s in the container of 198.18.0.0/16: what decides array or bitmap.
  auto dense_32s = [&] {
    return std::distance(ref.lower_bound({32, kBulkBase}), ref.lower_bound({32, kBulkBase + 0x10000}));
  };
  round(100000, 85);  // fill: the dense /32 container passes 4096 and becomes a bitmap
  CHECK(dense_32s() > 4096);
  const std::size_t peak = ref.size();
  round(60000, 50);  // churn
  round(150000, 5);   // drain: the bitmap falls below 2048 and becomes an array again
  CHECK(dense_32s() < 2048);
  CHECK(mismatches == 0);
  CHECK(peak > 10000);
  CHECK(ref.size() < peak / 2);
  s.clear();
  CHECK(s.size() == 0);
  CHECK(s.memory_bytes() == sizeof(Ipv4PrefixSet));
  std::size_t left = 0;
  for (const auto& [len, addr] : ref) left += s.contains(addr, static_cast<std::uint8_t>(len));
  CHECK(left == 0);
}

TEST_CASE("prefix_set: memory for dense, sparse and benchmark-shaped tables") {
  SUBCASE("250,000 dense /32s take less than 100 KiB") {
    Ipv4PrefixSet s;
    int refused = 0;
    for (std::uint32_t i = 0; i < 250000; ++i) refused += !s.insert(kBulkBase + i, 32);
    CHECK(refused == 0);
    CHECK(s.size() == 250000);
    CHECK(s.contains(kBulkBase + 249999, 32));
    CHECK_FALSE(s.contains(kBulkBase + 250000, 32));
    CHECK(s.memory_bytes() < 100 * 1024);
    int absent = 0;
    for (std::uint32_t i = 0; i < 250000; ++i) absent += !s.erase(kBulkBase + i, 32);
    CHECK(absent == 0);
    CHECK(s.size() == 0);
    CHECK(s.memory_bytes() == sizeof(Ipv4PrefixSet));  // a withdrawn table gives all memory back
  }
  SUBCASE("100,000 random sparse /24s take less than 400 KiB") {
    Ipv4PrefixSet s;
    std::set<std::uint32_t> ref;
    std::mt19937 rng(24);
    int mismatches = 0;
    while (ref.size() < 100000) {
      const std::uint32_t addr = static_cast<std::uint32_t>(rng()) & 0xFFFFFF00u;
      mismatches += s.insert(addr, 24) != ref.insert(addr).second;
    }
    CHECK(mismatches == 0);
    CHECK(s.size() == 100000);
    CHECK(s.memory_bytes() < 400 * 1024);
    int absent = 0;
    for (auto addr : ref) absent += !s.erase(addr, 24);
    CHECK(absent == 0);
    CHECK(s.size() == 0);
    CHECK(s.memory_bytes() == sizeof(Ipv4PrefixSet));
  }
  SUBCASE("the full-table benchmark's 250,000 nested /32../28s take less than 64 KiB") {
    // Every /32 of 198.18.0.0/15, then every /31, ... until 250,000 (tests/bench/fulltable.py).
    Ipv4PrefixSet s;
    std::size_t n = 0;
    int refused = 0;
    for (unsigned len = 32; len >= 15 && n < 250000; --len) {
      for (std::uint32_t i = 0; i < (1u << (len - 15)) && n < 250000; ++i, ++n) {
        refused += !s.insert(kBulkBase + (i << (32 - len)), static_cast<std::uint8_t>(len));
      }
    }
    CHECK(refused == 0);
    CHECK(s.size() == 250000);
    CHECK(s.memory_bytes() < 64 * 1024);
  }
}

TEST_CASE("prefix_set: received prefixes split IPv4 and IPv6 and give memory back") {
  ReceivedPrefixes r;
  CHECK(r.insert(pfx("192.0.2.0/24")));
  CHECK_FALSE(r.insert(pfx("192.0.2.0/24")));
  CHECK(r.insert(pfx("2001:db8::/32")));
  CHECK_FALSE(r.insert(pfx("2001:db8::/32")));
  CHECK(r.insert(pfx("2001:db8::/48")));  // same address, other length
  CHECK(r.size() == 3);
  CHECK(r.contains(pfx("192.0.2.0/24")));
  CHECK(r.contains(pfx("2001:db8::/48")));
  CHECK_FALSE(r.contains(pfx("2001:db8:1::/48")));
  CHECK_FALSE(r.contains(pfx("192.0.2.0/25")));
  CHECK_FALSE(r.erase(pfx("198.51.100.0/24")));
  CHECK(r.erase(pfx("2001:db8::/32")));
  CHECK(r.size() == 2);

  // 20,000 IPv6 /64s, then withdrawn: the fingerprint table shrinks as it empties.
  const std::size_t before = r.memory_bytes();
  std::set<Prefix> v6;
  int mismatches = 0;
  for (std::uint32_t i = 0; i < 20000; ++i) {
    Prefix p = pfx("2001:db8::/64");
    p.addr.bytes[4] = static_cast<std::uint8_t>(i >> 8);
    p.addr.bytes[5] = static_cast<std::uint8_t>(i);
    p.addr.bytes[7] = static_cast<std::uint8_t>(i % 7);
    mismatches += r.insert(p) != v6.insert(p).second;
  }
  CHECK(mismatches == 0);
  CHECK(r.size() == 2 + v6.size());
  CHECK(r.memory_bytes() > before + v6.size() * 8);
  int missing = 0;
  for (const auto& p : v6) missing += !r.contains(p);
  CHECK(missing == 0);
  int absent = 0;
  for (const auto& p : v6) absent += !r.erase(p);
  CHECK(absent == 0);
  CHECK(r.size() == 2);
  CHECK(r.memory_bytes() < before + 1024);
  r.clear();
  CHECK(r.size() == 0);
  CHECK_FALSE(r.contains(pfx("192.0.2.0/24")));
  CHECK(r.memory_bytes() == sizeof(ReceivedPrefixes));
}

}  // namespace
}  // namespace herald::bgp
