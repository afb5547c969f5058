// Fleet drains: `heraldctl fleet drain --site S | --region R | --all SERVICE` writes one desired
// key (keys.hpp); each herald reads the desired keys of its services and drains itself when one
// of them names its site, its region or all.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "fleet/keys.hpp"
#include "fleet/view.hpp"

namespace herald::fleet {

struct DrainTarget {
  enum class Scope { Site, Region, All };
  Scope scope = Scope::All;
  std::string name;  // the site or region; empty for All
  bool operator==(const DrainTarget&) const = default;
};

/// The key a drain of `service` at `target` is written to.
std::string desired_key(const Keys& keys, std::string_view service, const DrainTarget& target);
/// The target a desired key names, or nothing when the key is not a desired key of `service`.
std::optional<DrainTarget> target_of_key(const Keys& keys, std::string_view service, std::string_view key);

/// Whether a drain at `target` affects a site of `region`.
bool affects(const DrainTarget& target, std::string_view site, std::string_view region);
/// The sites of the view publishing `service` that a drain at `target` affects, sorted.
std::vector<std::string> affected_sites(const FleetView& view, std::string_view service, const DrainTarget& target);

/// The desired-drain value: who asked, why, when (Unix seconds).
struct DesiredDrain {
  std::string reason;
  std::string by;
  std::int64_t since = 0;
};
std::string to_json(const DesiredDrain& d);
Expected<DesiredDrain, std::string> desired_drain_from_json(std::string_view text);

}  // namespace herald::fleet
