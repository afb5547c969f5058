// The fleet as read from etcd at one revision: every live site's published state (a dead herald's
// key went with its lease), and the rows `heraldctl fleet status` shows.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fleet/etcd_messages.hpp"
#include "fleet/keys.hpp"
#include "fleet/site_state.hpp"

namespace herald::fleet {

struct SiteEntry {
  SiteState state;
  std::int64_t mod_revision = 0;  // of its key: the floor's witnesses compare it
};

struct FleetView {
  std::int64_t revision = 0;
  std::vector<SiteEntry> sites;       // sorted by site name
  std::vector<std::string> problems;  // keys that could not be read, with the reason (logged, skipped)
  const SiteEntry* find(std::string_view site) const;
};

/// Builds the view from a range over keys.sites_prefix(). A key whose name and content disagree
/// about the site, or whose JSON is malformed, is left out and reported in `problems`.
FleetView view_from_range(const Keys& keys, const RangeResult& range);

/// One row of `heraldctl fleet status`: one service at one site.
struct StatusRow {
  std::string site, region, service, state, reason, version;
  bool announced = false;
  std::int64_t since = 0;
  std::optional<double> qps{};         // as the site published it
  std::optional<double> load_share{};  // qps / the sum of the service's published qps (0..1)
};
/// The rows for every service, or only `service` when it is not empty, sorted by service then site.
/// A site's load share is its qps over the sum of the qps of the sites that publish one for the
/// same service; none when the site publishes no qps or the sum is 0.
std::vector<StatusRow> status_rows(const FleetView& view, std::string_view service = {});
/// `heraldctl fleet status --json`: {"revision": N, "sites": [...rows...], "problems": [...]}.
std::string status_json(const FleetView& view, std::string_view service = {});

}  // namespace herald::fleet
