// One floor decision through etcd: read the service's index (its first page, and more pages at the
// same revision while they are needed) and ledger at one revision, decide
// (floor.hpp), write this site's ledger key with the txn's compares, under in.lease when the site
// has one (a lease etcd no longer knows, NotFound, is dropped and the write sent again without
// it). When a compare fails (another site's decision came first), wait a random delay that grows
// with each lost race (floor_retry_delay) and decide again on the fresh state the failure branch
// returned. Bounded: after `max_attempts` lost races the answer is Hold (the safe side: a held
// site keeps answering), and the caller tries again later.
#pragma once
#include "fleet/etcd_client.hpp"
#include "fleet/floor.hpp"

namespace herald::fleet {

struct FloorOutcome {
  FloorDecision decision;
  int attempts = 0;         // txns sent (1 when no race was lost)
  std::int64_t revision = 0;  // etcd's revision when the decision was recorded
  int pages = 0;              // index pages read after a read's first (plain ranges at its revision)
};

struct FloorRetry {
  int max_attempts = 16;  // a hold for lost races costs the site lease-ttl; 16 of them cost ~1 s
  std::chrono::milliseconds base{5};  // floor_retry_delay's base and cap
  std::chrono::milliseconds cap{80};
  // Uniform in [0, 1); null: a generator seeded from std::random_device. (A plain pointer keeps
  // FloorRetry trivially destructible: GCC 12 may destroy a temporary in a co_await twice.)
  double (*unit)() = nullptr;
  unsigned page = 0;  // index keys in the read's first page; 0: floor_page(min)
};

boost::asio::awaitable<EtcdResult<FloorOutcome>> run_floor(EtcdClient& etcd, const Keys& keys, const FloorInput& in,
                                                           const MinSites& min, FloorRetry retry = {});

}  // namespace herald::fleet
