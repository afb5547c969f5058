// What a site writes besides its state, and the txn that writes it all at once. Pure.
//
//  - members/<site>: the fleet's record that the site exists, without a lease, so that a site
//    whose lease expired (herald dead, or cut off from etcd) is still listed by `heraldctl fleet
//    status`, as unknown, with when it was last seen. Written when a lease is granted (start,
//    rejoin), when the site's region or services change, once an hour, and at a clean stop; at
//    rest that is one write per site per hour. Removed only by an operator (`heraldctl fleet
//    forget`), refused while the site is live.
//  - index/<service>/<site> (keys.hpp, floor.hpp): under the lease, rewritten only when the
//    service's announced flag changes.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "fleet/etcd_messages.hpp"
#include "fleet/keys.hpp"
#include "fleet/site_state.hpp"

namespace herald::fleet {

struct Member {
  std::string site;
  std::string region;
  std::vector<std::string> services;  // the services the site published when last seen
  std::int64_t first_seen = 0;        // Unix seconds
  std::int64_t last_seen = 0;
  bool operator==(const Member&) const = default;
};
std::string to_json(const Member& m);
/// Fails on malformed JSON or an invalid site name.
Expected<Member, std::string> member_from_json(std::string_view text);
/// The member record of `state` seen `now`; `first_seen` is kept from `previous` when there is one.
Member member_of(const SiteState& state, const std::optional<Member>& previous, std::int64_t now);
/// Whether `written` still describes `state` (same region and services): no rewrite needed.
bool member_matches(const Member& written, const SiteState& state);

/// The index flags a site publishes: service -> announced.
using IndexFlags = std::map<std::string, bool>;
IndexFlags index_flags(const SiteState& state);

/// One txn writing what changed, atomically: sites/<site> (when it differs from `written`),
/// index/<service>/<site> for each flag that differs from `index_written` (a removed service's
/// key deleted), both under `lease`, and the member record when given (no lease). No compares.
Txn publish_txn(const Keys& keys, const SiteState& want, const std::optional<SiteState>& written,
                const IndexFlags& index_written, std::int64_t lease, const std::optional<Member>& member);

/// `heraldctl fleet forget --site S`: deletes members/S, and the site's floor ledger keys given
/// (ledger_keys_of), only while sites/S does not exist (the site is not live) and members/S does;
/// the failure branch reads both, to say why.
Txn forget_txn(const Keys& keys, std::string_view site, const std::vector<std::string>& ledger_keys = {});

}  // namespace herald::fleet
