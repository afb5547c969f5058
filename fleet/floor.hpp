// The fleet floor: never let failing checks withdraw a service from so many sites that fewer than
// `min-sites` still announce it. Pure: the view and the ledger in, a verdict and a txn out.
//
// Why a ledger and witnesses (docs/fleet.md tells the whole story): when every site's check fails
// at the same moment, each reads the fleet at about the same revision and sees everyone still
// announcing; deciding from that alone, all would withdraw. So a site withdraws for failing checks
// only through one etcd txn that (1) rewrites the service's ledger (floor/<service>: the sites that
// withdrew) only if it is unchanged since the site read it (compare mod_revision), and (2) only if
// `floor` witnesses, other sites that announce and are not in the ledger, have not changed their
// index key (index/<service>/<site>: announced or not) since (compare each key's mod_revision; a
// vanished key, a dead site's, fails the compare too).
// etcd serialises txns: the first withdrawal rewrites the ledger, every concurrent one fails its
// compare, re-reads (the failure branch returns the fresh sites and ledger in the same answer) and
// decides again, now counting the first site as withdrawn. Hence at most N - floor sites withdraw.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "fleet/etcd_messages.hpp"
#include "fleet/keys.hpp"

namespace herald::fleet {

/// `min-sites`: a count of sites, or a share (percent) of the sites that publish the service.
struct MinSites {
  enum class Kind { Count, Percent };
  Kind kind = Kind::Count;
  unsigned value = 0;
  bool operator==(const MinSites&) const = default;
};
/// "2" or "34%"; a count or a percent in 0..100.
Expected<MinSites, std::string> parse_min_sites(std::string_view text);
std::string to_string(const MinSites& m);
/// The floor for a service published by `sites` sites: the count, or the share rounded up.
unsigned floor_sites(const MinSites& m, std::size_t sites);

/// One site's index key of a service: index/<service>/<site> exists while the site publishes the
/// service (under its lease), "announced" or "not-announced". Its mod_revision changes only when
/// the flag does, which is what a witness compare needs.
struct IndexEntry {
  std::string site;
  bool announced = false;
  std::int64_t mod_revision = 0;
};
/// The sites publishing one service, read at one revision from index/<service>/.
struct ServiceIndex {
  std::int64_t revision = 0;
  std::vector<IndexEntry> sites;      // sorted by site name
  std::vector<std::string> problems;  // keys that could not be read (skipped)
  const IndexEntry* find(std::string_view site) const;
};
/// The value a site writes at index/<service>/<site>.
const char* index_value(bool announced);
/// Builds the index from a range over keys.index_prefix(service); a key with a bad name or value
/// is left out and reported.
ServiceIndex index_from_range(const Keys& keys, std::string_view service, const RangeResult& range);

/// floor/<service>: the sites that withdrew the service and are counted as not announcing, even
/// before their published state says so.
struct Ledger {
  std::int64_t mod_revision = 0;  // 0: the key does not exist yet
  std::vector<std::string> withdrawn;  // sorted, unique
  bool contains(std::string_view site) const;
};
std::string to_json(const Ledger& l);  // {"withdrawn": [...]}
Expected<Ledger, std::string> ledger_from_kv(const KeyValue* kv);  // nullptr: no key yet

/// What this site knows about one of its services. The floor holds only for failing checks:
/// a DNS process or an address that is gone is never held (holding would black-hole queries), and
/// an operator's drain, local or fleet, is never overridden.
struct FloorInput {
  std::string site;
  std::string service;
  bool checks_fail = false;
  bool dns_process_gone = false;
  bool address_gone = false;
  bool operator_drain = false;  // a local drain or a fleet drain naming this site
};

enum class Verdict {
  Announce,  // checks pass: announce (and leave the ledger if in it)
  Withdraw,  // withdraw: forced (no floor), or the floor allows it; write the ledger first
  Hold,      // checks fail but withdrawing would breach the floor: keep announcing under guard
};
const char* to_string(Verdict v);

struct FloorDecision {
  Verdict verdict = Verdict::Announce;
  bool forced = false;           // Withdraw that the floor may not stop
  unsigned floor = 0;            // the floor for this service now
  unsigned others_announcing = 0;  // other sites counted as announcing
  std::vector<std::string> witnesses;  // for a floor-checked Withdraw: the `floor` sites compared
  std::string reason;            // for logs and status ("held by fleet floor: ...")
};

/// Decides for one service of one site. Counts the other live sites of the index that publish
/// the service as announced and are not in the ledger; a withdrawal for failing checks is allowed
/// when that count is at least the floor.
FloorDecision decide_floor(const ServiceIndex& index, const Ledger& ledger, const FloorInput& in, const MinSites& min);

/// One read of everything decide_floor needs, at one revision: ranges [index/<service>/, ledger].
/// Small: one short key and a one-word value per site of the service, whatever the sites publish.
Txn floor_read_txn(const Keys& keys, std::string_view service);
/// The index and ledger from the answer of floor_read_txn, or of a failed floor_write_txn (whose
/// failure branch is the same read).
Expected<std::pair<ServiceIndex, Ledger>, std::string> floor_state_from(const Keys& keys, std::string_view service,
                                                                        const TxnResult& r);

/// The txn that records `decision` (Withdraw: add the site to the ledger; Announce: remove it;
/// Hold: nothing to write, returns nothing). Sites of the ledger that are not in the index any
/// more (their herald is gone) are dropped on the way. Compares: the ledger unchanged since it was
/// read, and for a floor-checked Withdraw every witness's index key unchanged. Failure branch:
/// floor_read_txn's ops, so that the loser of a race has the fresh state in the same answer.
std::optional<Txn> floor_write_txn(const Keys& keys, const ServiceIndex& index, const Ledger& ledger,
                                   const FloorInput& in, const FloorDecision& decision);

/// How long a site that lost `lost` races for the ledger in a row waits before it reads again:
/// uniform in [0, min(cap, base * 2^(lost-1))), drawn from `unit` in [0, 1). Sites that failed
/// together and lost to the same winner spread out instead of colliding again at once.
std::chrono::milliseconds floor_retry_delay(int lost, double unit, std::chrono::milliseconds base = std::chrono::milliseconds(5),
                                            std::chrono::milliseconds cap = std::chrono::milliseconds(80));

}  // namespace herald::fleet
