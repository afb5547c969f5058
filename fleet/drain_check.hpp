// What `heraldctl fleet drain|undrain` reads, decides and writes. Pure: a txn answer in, a verdict
// and the next txn out.
//
// A fleet drain may not leave fewer sites announcing a service than its floor (min-sites), unless
// forced. The check counts, at one revision, the sites that publish the service as announced (in
// their state and their index key, written in one txn), have no floor ledger key (they withdrew)
// and are not named by a fleet drain already written; the new drain takes away the ones it names.
// The write is a txn that succeeds only if nothing it counted on moved since the read: no desired
// key of the service written since (a second operator's drain), and the floor's own witness
// compares (floor.hpp, witness_compares) over the first `floor` remaining sites: each one's index
// key unchanged, and no ledger key in their span created or changed. So two drains issued at once,
// or a drain and floor-checked withdrawals, cannot together go below the floor.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "fleet/drain.hpp"
#include "fleet/etcd_messages.hpp"
#include "fleet/floor.hpp"
#include "fleet/keys.hpp"
#include "fleet/view.hpp"

namespace herald::fleet {

/// One desired key: a fleet drain of `service` at `target`.
struct DrainEntry {
  std::string service;
  DrainTarget target;
  DesiredDrain drain;
  std::string key;
};
/// "site ams1", "region eu", "all".
std::string to_string(const DrainTarget& t);

/// The fleet as one service sees it at one revision: its sites, its index, its ledger and its fleet
/// drains.
struct ServiceSnapshot {
  FleetView view;  // view.revision: the revision of the read
  ServiceIndex index;
  Ledger ledger;
  std::vector<DrainEntry> drains;
};

/// One read at one revision: ranges [sites/, index/<service>/, floor/<service>/, desired/<service>/].
Txn service_read_txn(const Keys& keys, std::string_view service);
/// The snapshot from the answer of service_read_txn, or of a failed drain_txn / undrain_txn
/// (their failure branch is that read). Desired keys that do not parse are left out and
/// reported in view.problems.
Expected<ServiceSnapshot, std::string> service_snapshot_from(const Keys& keys, std::string_view service,
                                                             const TxnResult& r);

struct DrainCheck {
  bool allowed = false;
  unsigned floor = 0;                   // min-sites for the sites publishing the service
  std::size_t publishing = 0;           // sites publishing the service
  std::vector<std::string> affected;    // sites publishing the service that the drain names
  std::vector<std::string> announcing;  // counted as announcing before the drain
  std::vector<std::string> remaining;   // counted as announcing after it
  std::vector<std::string> witnesses;   // the first `floor` of `remaining` (by name), compared by drain_txn
  std::string reason;                   // why refused, or what the drain leaves
};

/// Whether a drain of `service` at `target` keeps the floor `min`. A drain that takes no
/// announcing site away (its sites already withdrew or are drained) is always allowed.
DrainCheck check_drain(const ServiceSnapshot& s, std::string_view service, const DrainTarget& target,
                       const MinSites& min);

/// Writes the desired key. Unforced: with the compares above (use only when check.allowed).
/// Forced: no compare. Failure branch: service_read_txn's ops.
Txn drain_txn(const Keys& keys, std::string_view service, const DrainTarget& target, const DesiredDrain& value,
              const ServiceSnapshot& s, const DrainCheck& check, bool force);

/// Deletes the desired key if it exists (compare version > 0); failure branch: service_read_txn's
/// ops, so a missing key is reported with the drains that do exist.
Txn undrain_txn(const Keys& keys, std::string_view service, const DrainTarget& target);

}  // namespace herald::fleet
