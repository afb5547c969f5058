// `heraldctl fleet status`: every site and service of the fleet with its fleet drains, read at one
// revision, as a table for people and as JSON. Pure: the txn answer and `now` in, text out.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "fleet/drain_check.hpp"
#include "fleet/etcd_messages.hpp"
#include "fleet/keys.hpp"
#include "fleet/member.hpp"
#include "fleet/view.hpp"

namespace herald::fleet {

struct FleetStatus {
  FleetView view;                  // view.revision: the revision of the read
  std::vector<DrainEntry> drains;  // every service's, sorted by key
  std::vector<Member> unknown;     // member records without a live sites/ key, sorted by site
};

/// One read at one revision: ranges [sites/, desired/, members/].
Txn status_read_txn(const Keys& keys);
/// A member record without a live site key is `unknown` (its lease expired: herald dead or cut
/// off from etcd). Desired keys and member records that do not parse are left out and reported in
/// view.problems.
Expected<FleetStatus, std::string> fleet_status_from(const Keys& keys, const TxnResult& r);

/// The table: one row per site and service (only `service` when not empty), an unknown site's
/// services as its member record lists them (state "unknown", SINCE its last_seen), then the
/// fleet drains and the problems. `now` (Unix seconds) makes the ages of `since`.
std::string status_text(const FleetStatus& s, std::string_view fleet, std::string_view service, std::int64_t now);
/// {"fleet", "revision", "sites": [status rows], "drains": [...], "problems": [...]}; an unknown
/// site's rows have "state": "unknown", "announced": null and "last_seen".
std::string status_report_json(const FleetStatus& s, std::string_view fleet, std::string_view service);

/// "2026-12-06T16:00:00Z"; "-" for 0.
std::string utc_time(std::int64_t unix_seconds);
/// "45s", "12m", "3h", "2d"; for negative ages (clocks apart) "0s".
std::string age(std::int64_t seconds);

}  // namespace herald::fleet
