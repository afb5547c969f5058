// What one publication of routes changed, per service, and how much of it to write down.
// A service with a 100,000-line prefixes-file must not write 100,000 log lines (and control
// events) at start-up: a service's change of up to kPrefixLinesPerService prefixes is logged
// one line per prefix, a larger one as one summary line (count per family, the first few).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bgp/types.hpp"

namespace herald::daemon {

inline constexpr std::size_t kPrefixLinesPerService = 4;

struct ServicePrefixChange {
  std::string service;
  std::vector<bgp::Prefix> announced;  // announced now, not before
  std::vector<bgp::Prefix> withdrawn;  // announced before, not now
};

// The prefixes announced at one moment, as the announcing services' own lists: the set holds
// no copy (a service may list 100,000 prefixes), so each list must stay alive and unchanged
// until the set is replaced. Within one set a prefix appears once (the config guarantees it).
class AnnouncedSet {
 public:
  void add(const std::string& service, const std::vector<bgp::Prefix>& prefixes) {
    lists_.push_back({service, &prefixes});
  }
  std::size_t size() const;  // prefixes
  bool empty() const { return size() == 0; }

 private:
  friend std::vector<ServicePrefixChange> diff_announced(const AnnouncedSet&, const AnnouncedSet&);
  struct List {
    std::string service;
    const std::vector<bgp::Prefix>* prefixes;
  };
  std::vector<List> lists_;
};

// Compares two announced sets. A prefix counts by presence: one that moved from one service to
// another (a reload) stays announced and is in neither list. Services come in name order;
// services without a change are left out. A service whose list is the very same object in both
// sets is unchanged without looking at its prefixes; when only one side has changed services
// their lists are taken whole, in their own order; otherwise the changed ones are compared
// prefix by prefix, and come out in prefix order.
std::vector<ServicePrefixChange> diff_announced(const AnnouncedSet& before, const AnnouncedSet& after);

// A summary of a long list for one log line: "198.18.0.0/32, 198.18.0.1/32, 198.18.0.2/32, ..."
struct PrefixSummary {
  std::size_t count = 0;
  std::size_t ipv4 = 0;
  std::size_t ipv6 = 0;
  std::string first;  // the first `listed` prefixes, ", "-separated, "..." when there are more
};
PrefixSummary summarise(const std::vector<bgp::Prefix>& prefixes, std::size_t listed = 3);

}  // namespace herald::daemon
