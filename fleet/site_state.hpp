// What a herald publishes about its site at sites/<site>: one JSON object, rewritten on every
// change (never periodically: the lease keep-alive, not a rewrite, says the site is alive).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"

namespace herald::fleet {

/// One service as the site sees it. `state` is the daemon's word (up, down, drained,
/// fleet-drained, held, ...); `announced` says whether the site's routers get the prefixes
/// (a held service is announced); `since` is Unix seconds of the last change of state; `qps`,
/// when the site counts them (item 5 of issue #19), the queries per second arriving on the
/// service's addresses: `heraldctl fleet status` shows each site's share of the service's load.
struct ServiceState {
  std::string name;
  std::string state;
  bool announced = false;
  std::string reason;
  std::int64_t since = 0;
  std::optional<double> qps{};  // absent: the site publishes no query counter
  bool operator==(const ServiceState&) const = default;
};

struct SiteState {
  std::string site;
  std::string region;
  std::string version;  // herald's version
  std::vector<ServiceState> services;
  bool operator==(const SiteState&) const = default;
  const ServiceState* service(std::string_view name) const;
};

std::string to_json(const SiteState& s);
/// Fails with a reason on malformed JSON, a missing or invalid site name, or a bad service.
Expected<SiteState, std::string> site_state_from_json(std::string_view text);

}  // namespace herald::fleet
