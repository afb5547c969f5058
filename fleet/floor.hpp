// The fleet floor: never let failing checks withdraw a service from so many sites that fewer than
// `min-sites` still announce it. Pure: the index and the ledger in, a verdict and a txn out.
//
// Why a ledger and witnesses (docs/fleet.md tells the whole story): when every site's check fails
// at the same moment, each reads the fleet at about the same revision and sees everyone still
// announcing; deciding from that alone, all would withdraw. So:
// - The ledger is one key per site, floor/<service>/<site> ("withdrawn"), written by that site
//   only: it exists while the site counts as withdrawn, even before its published state says so.
//   Put on a withdrawal (under the site's lease: a dead site's key goes with its index key),
//   deleted when the site announces again.
// - Announcing others: the other sites whose index key (index/<service>/<site>) says announced and
//   that have no ledger key. A withdrawal for failing checks needs `floor` of them; the witnesses
//   are the FIRST `floor` in site-name order, so every site failing at once picks the same ones.
// - A floor-checked withdrawal is one txn: put its own ledger key if (a) each witness's index key
//   has the mod_revision read (a changed flag or a vanished key, a dead site's, fails), and (b) no
//   ledger key in [floor/<service>/<first witness>, floor/<service>/<last witness> "\0") was
//   created or changed since the read (one range compare, mod_revision < read revision + 1). So a
//   txn has floor + 1 compares. A key in that span that is not a witness's (a site not announcing,
//   or already withdrawn) can only cause a false conflict; a deleted ledger key is a recovery.
// Safety: etcd executes txns in one serial order. Every committed floor-checked withdrawal saw, at
// its commit, `floor` witnesses announcing, their index unchanged and no ledger key of theirs. So
// right after each such commit at least `floor` other sites announce unledgered; unforced
// withdrawals only ever commit that way, and the count of announcing, unledgered sites can drop
// below the floor only through forced withdrawals (process or address gone, a drain) or leases
// expiring (a dead site). Two failing sites conflict only when one is among the other's witnesses
// (or in their span); the loser's failure branch is the read again, and it decides on fresh state.
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
/// The sites publishing one service, read at one revision from index/<service>/: all of them, or
/// (floor_read_txn with a page) the first ones by name, this site's own key and their count.
struct ServiceIndex {
  std::int64_t revision = 0;
  std::vector<IndexEntry> sites;      // the entries read, sorted by site name
  std::vector<std::string> problems;  // keys that could not be read (skipped)
  std::size_t publishing = 0;         // index keys at the revision, read or not (a bad one too: a
                                      // share floor errs high, the safe side)
  bool complete = true;               // every index key was read
  std::string next_key;               // !complete: where the next page starts (the last key read + "\0")
  const IndexEntry* find(std::string_view site) const;
};
/// The value a site writes at index/<service>/<site>.
const char* index_value(bool announced);
/// Builds the index from a whole range over keys.index_prefix(service) (complete; publishing is
/// the entries read); a key with a bad name or value is left out and reported.
ServiceIndex index_from_range(const Keys& keys, std::string_view service, const RangeResult& range);
/// Adds one more page of the index (a range from index.next_key at index.revision) to `index`:
/// its entries, and where the next one starts unless `page.more` is false.
void add_index_page(const Keys& keys, std::string_view service, ServiceIndex& index, const RangeResult& page);

/// The ledger of one service: the sites with a key floor/<service>/<site>, read as a prefix range.
/// Any value counts (the key's presence is the fact; nothing to parse, nothing to go wrong on the
/// unsafe side); a key whose rest is not a site name is no site's and is left out.
struct Ledger {
  std::vector<std::string> withdrawn;  // sorted, unique
  bool contains(std::string_view site) const;
};
/// The value a site writes at floor/<service>/<site>.
const char* ledger_value();
Ledger ledger_from_range(const Keys& keys, std::string_view service, const RangeResult& range);
/// The ledger keys of `site`, of every service, in a range over keys.floors_prefix() (what
/// `heraldctl fleet forget` deletes with the member record).
std::vector<std::string> ledger_keys_of(const Keys& keys, std::string_view site, const RangeResult& floors);

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
  std::int64_t lease = 0;       // the site's lease for its ledger key (its publisher's); 0: none
};

enum class Verdict {
  Announce,  // checks pass: announce (and leave the ledger if in it)
  Withdraw,  // withdraw: forced (no floor), or the floor allows it; write the ledger key first
  Hold,      // checks fail but withdrawing would breach the floor: keep announcing under guard
};
const char* to_string(Verdict v);

struct FloorDecision {
  Verdict verdict = Verdict::Announce;
  bool forced = false;           // Withdraw that the floor may not stop
  unsigned floor = 0;            // the floor for this service now
  unsigned others_announcing = 0;  // other sites counted as announcing
  std::vector<std::string> witnesses;  // floor-checked Withdraw: the first `floor` announcing others, by name
  std::string reason;            // for logs and status ("held by fleet floor: ...")
};

/// Decides for one service of one site. Counts the other live sites of the index that publish
/// the service as announced and have no ledger key; a withdrawal for failing checks is allowed
/// when that count is at least the floor, with the first `floor` of them (by name) as witnesses.
/// The floor comes from index.publishing (+1 when this site's own key is absent). An incomplete
/// index (the first pages) is enough for a Withdraw: its entries are the first by name, so the
/// witnesses are those of a full read; fewer than the floor in it is a Hold that says so (the
/// caller reads more pages first, floor_more_needed).
FloorDecision decide_floor(const ServiceIndex& index, const Ledger& ledger, const FloorInput& in, const MinSites& min);

/// The first page of the floor's read for `min`: floor + 16 index keys for a count, 128 for a share
/// (whose floor is not known before the count).
unsigned floor_page(const MinSites& min);
/// One read of what decide_floor needs, at one revision R, as one txn of four ranges:
/// (a) how many index keys index/<service>/ holds (count only: publishing, for a share floor),
/// (b) this site's own index key (whether it publishes yet), (c) the ledger floor/<service>/, keys
/// only, (d) the first `page` index keys by name (0: all of them). When (d) has fewer than `floor`
/// announcing unledgered others and etcd says there are more, the caller reads the next pages at
/// the same R (floor_more_needed, add_index_page), so a decision reads floor + a page of keys,
/// not every site's, and still rests on one revision.
Txn floor_read_txn(const Keys& keys, std::string_view service, std::string_view site, unsigned page);
/// The index and ledger from the answer of floor_read_txn, or of a failed floor_write_txn (whose
/// failure branch is the same read). index.revision is the read's revision R.
Expected<std::pair<ServiceIndex, Ledger>, std::string> floor_state_from(const Keys& keys, std::string_view service,
                                                                        std::string_view site, const TxnResult& r);
/// The limit of the next index page to read at index.revision before deciding, or 0 when the
/// decision needs no more: the index is complete, or the decision is not a failing site's, or
/// `floor` announcing unledgered others were found. Otherwise what is missing + 16.
unsigned floor_more_needed(const ServiceIndex& index, const Ledger& ledger, const FloorInput& in, const MinSites& min);

/// The compares that make a withdrawal (a floor-checked one, or a fleet drain's) depend on its
/// `witnesses` (sorted, every one in `index`) at the read of `read_revision`: each witness's index
/// key has the mod_revision read, and one range compare over the ledger keys of the witnesses'
/// span [floor/<service>/<first>, floor/<service>/<last> "\0"): mod_revision < read_revision + 1.
/// No witness: no compare.
std::vector<Compare> witness_compares(const Keys& keys, std::string_view service, const ServiceIndex& index,
                                      const std::vector<std::string>& witnesses, std::int64_t read_revision);

/// The txn that records `decision` in this site's own ledger key, or nothing when there is nothing
/// to write (Hold; Withdraw while the key exists; Announce while it does not).
/// - floor-checked Withdraw: put floor/<service>/<site> (under in.lease) if each witness's index
///   key has the mod_revision read, and no ledger key in the witnesses' span changed since the
///   read (the header comment); floor + 1 compares.
/// - forced Withdraw: the put, no compare (recorded, never refused).
/// - Announce: delete the key, no compare (a recovery only raises the count).
/// Failure branch: floor_read_txn's ops with `page`, so the loser of a race has the fresh state
/// (its first page) in the answer.
std::optional<Txn> floor_write_txn(const Keys& keys, const ServiceIndex& index, const Ledger& ledger,
                                   const FloorInput& in, const FloorDecision& decision, unsigned page);

/// How long a site that lost `lost` races for the ledger in a row waits before it reads again:
/// uniform in [0, min(cap, base * 2^(lost-1))), drawn from `unit` in [0, 1). Sites that failed
/// together and lost to the same winner spread out instead of colliding again at once.
std::chrono::milliseconds floor_retry_delay(int lost, double unit, std::chrono::milliseconds base = std::chrono::milliseconds(5),
                                            std::chrono::milliseconds cap = std::chrono::milliseconds(80));

}  // namespace herald::fleet
