// One floor decision through etcd: read the sites and the ledger at one revision, decide
// (floor.hpp), write the ledger with the txn's compares; when a compare fails, decide again on
// the fresh state the failure branch returned. Bounded: after `max_attempts` lost races the
// answer is Hold (the safe side: a held site keeps answering), and the caller tries again later.
#pragma once
#include "fleet/etcd_client.hpp"
#include "fleet/floor.hpp"

namespace herald::fleet {

struct FloorOutcome {
  FloorDecision decision;
  int attempts = 0;         // txns sent (1 when no race was lost)
  std::int64_t revision = 0;  // etcd's revision when the decision was recorded
};

boost::asio::awaitable<EtcdResult<FloorOutcome>> run_floor(EtcdClient& etcd, const Keys& keys, const FloorInput& in,
                                                           const MinSites& min, int max_attempts = 8);

}  // namespace herald::fleet
