// bench_prefix_set: memory and CPU of one session's received-prefix set on an IPv4 table, for
// Ipv4PrefixSet (what herald uses) and PrefixFingerprints (what it used before).
//
// Two table shapes: "sparse", N random prefixes spread over 1.0.0.0-223.255.255.255 with an
// Internet-like length mix (60% /24, 20% /22-/23, 18% /16-/21, 2% /8-/15 and /25-/32; random
// placement is the worst case for the containers, real tables cluster), and "dense", the
// 250,000 nested /32../28s of tests/bench/fulltable.py. Each is inserted, looked up, and erased;
// reported: bytes per prefix at the peak and nanoseconds per operation.
//
//   bench_prefix_set [prefixes=1000000]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>
#include <vector>

#include "bgp/prefix_fingerprints.hpp"
#include "bgp/prefix_set.hpp"

namespace {

using herald::bgp::IpAddress;
using herald::bgp::Ipv4PrefixSet;
using herald::bgp::Prefix;
using herald::bgp::PrefixFingerprints;

std::vector<Prefix> sparse_table(std::size_t n) {
  std::mt19937 rng(1);
  std::vector<Prefix> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned r = rng() % 100;
    unsigned len = 24;
    if (r >= 60 && r < 80) len = 22 + rng() % 2;
    if (r >= 80 && r < 98) len = 16 + rng() % 6;
    if (r >= 98) len = rng() % 2 == 0 ? 8 + rng() % 8 : 25 + rng() % 8;
    const std::uint32_t addr = 0x01000000u + static_cast<std::uint32_t>(rng() % 0xDF000000u);
    Prefix p;
    p.addr = IpAddress::v4(addr & (~std::uint32_t{0} << (32 - len)));
    p.length = static_cast<std::uint8_t>(len);
    out.push_back(p);
  }
  return out;
}

std::vector<Prefix> dense_table() {
  std::vector<Prefix> out;
  for (unsigned len = 32; len >= 15 && out.size() < 250000; --len) {
    for (std::uint32_t i = 0; i < (1u << (len - 15)) && out.size() < 250000; ++i) {
      Prefix p;
      p.addr = IpAddress::v4(0xC6120000u + (i << (32 - len)));
      p.length = static_cast<std::uint8_t>(len);
      out.push_back(p);
    }
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Inserts, looks up and erases `table` in `set` (through `insert`, `contains`, `erase`) and
// prints one line.
template <class Set, class Insert, class Contains, class Erase>
void run(const char* name, const char* shape, const std::vector<Prefix>& table, Set& set, Insert insert,
         Contains contains, Erase erase) {
  auto t = std::chrono::steady_clock::now();
  for (const auto& p : table) insert(set, p);
  const double t_insert = seconds_since(t);
  const std::size_t distinct = set.size();
  const std::size_t bytes = set.memory_bytes();
  t = std::chrono::steady_clock::now();
  std::size_t hits = 0;
  for (const auto& p : table) hits += contains(set, p);
  const double t_lookup = seconds_since(t);
  t = std::chrono::steady_clock::now();
  for (const auto& p : table) erase(set, p);
  const double t_erase = seconds_since(t);
  if (hits != table.size() || set.size() != 0) {
    std::fprintf(stderr, "bench_prefix_set: %s lost prefixes (%zu of %zu found, %zu left)\n", name, hits,
                 table.size(), set.size());
    std::exit(1);
  }
  const double n = static_cast<double>(table.size());
  std::printf("| %s | %s | %zu | %.1f KiB | %.2f | %.0f | %.0f | %.0f | %zu B |\n", name, shape, distinct,
              static_cast<double>(bytes) / 1024, static_cast<double>(bytes) / static_cast<double>(distinct),
              t_insert / n * 1e9, t_lookup / n * 1e9, t_erase / n * 1e9, set.memory_bytes());
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const auto sparse = sparse_table(n);
  const auto dense = dense_table();
  std::printf("| set | table | distinct | peak memory | bytes/prefix | insert ns | lookup ns | erase ns |"
              " after erase |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  auto v4_insert = [](Ipv4PrefixSet& s, const Prefix& p) { s.insert(p.addr.v4_host_order(), p.length); };
  auto v4_contains = [](Ipv4PrefixSet& s, const Prefix& p) { return s.contains(p.addr.v4_host_order(), p.length); };
  auto v4_erase = [](Ipv4PrefixSet& s, const Prefix& p) { s.erase(p.addr.v4_host_order(), p.length); };
  auto fp_insert = [](PrefixFingerprints& s, const Prefix& p) { s.insert(p); };
  auto fp_contains = [](PrefixFingerprints& s, const Prefix& p) { return s.contains(p); };
  auto fp_erase = [](PrefixFingerprints& s, const Prefix& p) { s.erase(p); };
  for (const auto& [shape, table] : {std::pair{"sparse", &sparse}, std::pair{"dense", &dense}}) {
    Ipv4PrefixSet v4;
    run("Ipv4PrefixSet", shape, *table, v4, v4_insert, v4_contains, v4_erase);
    PrefixFingerprints fp;
    run("PrefixFingerprints", shape, *table, fp, fp_insert, fp_contains, fp_erase);
  }
  return 0;
}
