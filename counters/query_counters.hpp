// Counting the DNS queries that arrive on each service address, in the kernel (issue #19 item 5,
// docs/metrics.md "Query counters"): herald keeps one nftables table of its own, `inet herald`,
// with one named counter per (address, port, protocol) and one rule feeding it, and reads the
// counters every few seconds. herald does no per-packet work; this file is the pure part: the
// ruleset text, the reading of nft's JSON answer and the rates. The I/O is nft_backend.hpp.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"

namespace herald::counters {

/// The table herald owns: created at start, rewritten at each reload, deleted at exit. Nothing
/// else of the ruleset is touched.
inline constexpr std::string_view kTable = "herald";

enum class Proto { Udp, Tcp };
std::string_view to_string(Proto p);  // "udp", "tcp"

/// One service address to count: `address` is the address text ("192.0.2.53",
/// "2001:db8::53"), `length` its prefix length (a shorter prefix counts every address in it).
struct Target {
  std::string service;
  std::string address;
  bool v6 = false;
  unsigned length = 32;
  std::uint16_t port = 53;
  bool operator==(const Target&) const = default;
};

/// One counter: a target and a protocol. UDP counts datagrams (one query each); TCP counts
/// connections (SYN without ACK), since a segment count would count handshakes and ACKs, and a
/// connection carries at least one query.
struct Counter {
  Target target;
  Proto proto = Proto::Udp;
  /// The address as the metrics' `address` label says it: the bare address for a host prefix,
  /// "ADDRESS/LENGTH" otherwise.
  std::string address_label() const;
  /// The nft object name, unique per (address, length, port, protocol) and a valid nft
  /// identifier (no ':' in it): "q_192.0.2.53_32_53_udp", "q_2001-db8--53_128_53_tcp".
  std::string name() const;
};

/// Every counter of `targets`, UDP and TCP for each; a target whose (address, length, port)
/// an earlier one has (two services on one address) is left out: the first service counts it.
std::vector<Counter> counters_of(const std::vector<Target>& targets);

/// The one nft transaction that makes the table hold exactly `wanted`: the table and its input
/// chain are added (a no-op when they exist), the chain's rules replaced, the counters not yet
/// in `existing` (names) added, and those of `existing` no longer wanted deleted, after the
/// rules that fed them. Counters kept keep their values across a reload. `fresh`: delete the
/// table first (at start: a table a crashed herald left behind starts from zero).
std::string install_script(const std::vector<Counter>& wanted, const std::vector<std::string>& existing, bool fresh);
/// Deletes the table with everything in it.
std::string remove_script();
/// What to run, with JSON output, to read the counters: the listing of herald's table alone,
/// which nft reads without the rest of the host's ruleset.
std::string list_script();

/// The counters of `nft -j list table inet herald`'s answer (its table, chain and rules are
/// skipped): name -> packets. Fails with a reason on text that is not that JSON, and on a
/// counter of herald's table whose packets is not a whole number 0..2^64-1 (naming the counter).
Expected<std::map<std::string, std::uint64_t>, std::string> parse_counters(std::string_view json);

/// The rates: fed with each reading (name -> packets) and its time; the rate of a counter is
/// its growth over the last interval. A counter that went down (the table was recreated) or is
/// new has no rate until the next reading.
class Rates {
 public:
  using Clock = std::chrono::steady_clock;
  void update(const std::map<std::string, std::uint64_t>& packets, Clock::time_point now);
  /// Queries per second of one counter over the last interval; nullopt before two readings.
  std::optional<double> rate(const std::string& name) const;
  /// The sum of the rates of `names` (a service's counters); nullopt when none has a rate.
  std::optional<double> sum(const std::vector<std::string>& names) const;

 private:
  std::map<std::string, std::uint64_t> last_;
  std::optional<Clock::time_point> last_at_;
  std::map<std::string, double> rates_;
};

/// Whether a new rate is worth writing to the fleet (every write is an etcd revision for every
/// site's lease): when nothing was published, when `min_interval` passed since the last write
/// and the rate moved by more than 10 % (and by more than 1 query per second), or when the rate
/// went away. `now` and `published_at` on one clock.
bool worth_publishing(std::optional<double> published, std::optional<double> now_qps,
                      std::chrono::steady_clock::duration since_published, std::chrono::steady_clock::duration min_interval);

}  // namespace herald::counters
