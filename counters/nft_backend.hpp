// The narrow interface between the query counters and the kernel's nftables: one call runs an
// nft script as one transaction. Everything that needs CAP_NET_ADMIN for the counters goes
// through here (LibnftablesBackend, Debian's libnftables), so QueryCounterTable runs against a
// fake in tests.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/expected.hpp"
#include "counters/query_counters.hpp"

namespace herald::counters {

class NftBackend {
 public:
  virtual ~NftBackend() = default;
  /// Runs `script` (nft's syntax, one transaction: all or nothing). Returns nft's output (JSON
  /// when `json`), or nft's error text, which names the command and the kernel's reason
  /// ("Operation not permitted", "No such file or directory").
  virtual Expected<std::string, std::string> run(const std::string& script, bool json) = 0;
};

/// libnftables: one nft context, output and errors buffered. Never blocks longer than one
/// netlink round trip to the kernel.
std::unique_ptr<NftBackend> make_libnftables_backend();

/// herald's table: what is installed, and its reading. Errors are values with nft's reason.
class QueryCounterTable {
 public:
  explicit QueryCounterTable(NftBackend& nft) : nft_(nft) {}
  /// Makes the table count exactly `targets` (fresh at the first call: a table left behind by a
  /// crashed herald is replaced). On failure nothing changed (one transaction).
  std::optional<std::string> install(const std::vector<Target>& targets);
  /// Every installed counter's packets, by counter name; fails when the table is gone (an
  /// operator's `nft flush ruleset`): install() again then.
  Expected<std::map<std::string, std::uint64_t>, std::string> read();
  /// Deletes the table; nothing when none was installed.
  std::optional<std::string> remove();
  /// The table is gone (someone deleted it): the next install() makes it afresh.
  void forget() { installed_ = false; }
  const std::vector<Counter>& counters() const { return counters_; }
  bool installed() const { return installed_; }

 private:
  NftBackend& nft_;
  std::vector<Counter> counters_;
  bool installed_ = false;
};

}  // namespace herald::counters
