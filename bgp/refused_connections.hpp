// Inbound connections herald refuses (the remote is no configured peer, or herald is shutting
// down), turned into a bounded number of log lines. Anyone who reaches port 179 can open
// thousands of connections a second; one warning each would flood the journal.
//
// Contract: record() returns the line to log at once for the first refusal from a source in a
// period, and nothing for the following ones, which are only counted. expire(now) returns one
// summary line ("refused N more connections from ADDR in 60s", the time since the period
// began) for every source whose period has ended with refusals counted, and starts a new
// period for it; a source whose period ended with nothing counted is forgotten. So a steady flood from one source writes one line per
// period. At most `max_sources` sources are tracked: refusals from further sources share one
// entry, "untracked sources", with the same rules, so memory stays bounded whatever the number
// of sources. No clock is read: `now` comes in.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bgp/types.hpp"

namespace herald::bgp {

enum class RefusalReason : std::uint8_t { NotConfigured = 0, ShuttingDown = 1 };
inline constexpr std::size_t kRefusalReasons = 2;
// "not a configured peer", "shutting down": the words of the log lines.
std::string_view to_string(RefusalReason r);

class RefusedConnections {
 public:
  using Clock = std::chrono::steady_clock;
  struct Settings {
    Clock::duration period = std::chrono::seconds(60);
    std::size_t max_sources = 256;  // per reason
  };

  explicit RefusedConnections(Settings settings) : settings_(settings) {}
  RefusedConnections() : RefusedConnections(Settings{}) {}

  // A connection from source:port was refused. Returns the line to log now, if any.
  std::optional<std::string> record(const IpAddress& source, std::uint16_t port, RefusalReason reason,
                                    Clock::time_point now);
  // Summary lines of the periods that have ended by `now` (see the contract above).
  std::vector<std::string> expire(Clock::time_point now);
  // Summary lines of every period still open, whatever its age, and forgets every source
  // (herald stops: nothing counted is lost).
  std::vector<std::string> drain(Clock::time_point now);
  // When the earliest open period ends (when expire() next has work); nullopt: nothing tracked.
  std::optional<Clock::time_point> next_expiry() const;

  // Refusals since construction, by reason (for the metric), and the entries held now.
  std::uint64_t total(RefusalReason r) const { return totals_[static_cast<std::size_t>(r)]; }
  std::size_t tracked() const { return entries_.size(); }

 private:
  // nullopt source: the shared entry of untracked sources.
  using Key = std::pair<RefusalReason, std::optional<IpAddress>>;
  struct Entry {
    Clock::time_point period_start;
    std::uint64_t counted = 0;  // refusals after the one logged at once, in this period
  };
  std::string summary(const Key& key, const Entry& e, Clock::time_point now) const;

  Settings settings_;
  std::map<Key, Entry> entries_;
  std::array<std::size_t, kRefusalReasons> sources_{};  // tracked sources per reason
  std::array<std::uint64_t, kRefusalReasons> totals_{};
};

}  // namespace herald::bgp
