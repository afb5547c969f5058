// The daemon's persistent operator state: drains, steering overrides and running flap holds, so
// that a service drained for maintenance (or held down for flapping) stays so across a restart
// or a crash.
//
// Stored as JSON in <state dir>/herald.state and replaced atomically: write a temporary file in
// the same directory, fsync it, rename it over the old one, fsync the directory (so the rename
// itself survives a power cut). Failures are values: the daemon keeps running with its in-memory
// state and reports that it could not persist it.
//
// A state file that exists but cannot be read or decoded fails safe: the daemon cannot know what
// the operator had drained, so it starts with every service drained (a fail-safe "drain --all"
// whose drain-period counts as over) until an operator has looked and runs "heraldctl undrain
// --all". Only a missing file (first start) means "nothing drained".
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.hpp"

namespace herald::daemon {

// The operator's decisions that must outlive the process.
struct PersistentState {
  struct DrainRecord {
    std::string reason;      // operator's text, may be empty
    // UNIX milliseconds when the drain was requested (whole seconds would shorten a fresh
    // drain's period by up to one second). Files from before hold "since" in seconds.
    std::int64_t since_ms = 0;
    // Set by load() when the state file could not be read: the drain-period counts as already
    // over (prefixes are withdrawn at once, never announced as drained) and the metric
    // herald_state_file_fail_safe is 1 while it is in force.
    bool fail_safe = false;
    bool operator==(const DrainRecord&) const = default;
  };
  struct Steering {
    int prepend = 0;                   // extra AS_PATH copies of our AS (0..16)
    std::optional<std::uint32_t> med;  // MULTI_EXIT_DISC to send; nullopt: none
    bool operator==(const Steering&) const = default;
  };
  // A running flap hold (health::FlapHold on the wall clock).
  struct FlapHold {
    std::int64_t until = 0;         // UNIX seconds when the hold ends (rounded up)
    std::int64_t next_hold_ms = 0;  // length of the hold after this one
    bool operator==(const FlapHold&) const = default;
  };
  std::optional<DrainRecord> drain_all;          // "drain --all": every service
  std::map<std::string, DrainRecord> drained;    // service name -> drain
  // systemd unit name -> its drain ("heraldctl drain --unit NAME", e.g. from the unit's
  // ExecStop): drains every service listing the unit in `units`. Held apart from `drained` so
  // that the unit's undrain after its start removes its own hold only.
  std::map<std::string, DrainRecord> unit_drains;
  // Service name -> the fleet drain in force (a desired key naming this site, its region or all;
  // docs/fleet.md). Persisted so that a partition from etcd or a restart does not undo it; only
  // the fleet's own undrain (the key deleted) removes it, never the operator's undrain.
  std::map<std::string, DrainRecord> fleet_drains;
  std::map<std::string, Steering> steering;      // service name -> override
  std::map<std::string, FlapHold> flap_holds;    // service name -> hold in force
  // Service name -> UNIX milliseconds when the drain in force began, whatever its cause (operator,
  // maintenance file, shutdown), kept until the service is Up again: a restart then goes on
  // with the same drain-period instead of starting a new one (daemon/drain_period.hpp).
  std::map<std::string, std::int64_t> drain_began;
  // Peer name -> its "heraldctl peer disable" (reason: the RFC 9003 shutdown communication
  // sent; since_ms: when). A disabled peer gets no session, across restarts, until enabled.
  std::map<std::string, DrainRecord> disabled_peers;

  bool empty() const {
    return !drain_all && drained.empty() && unit_drains.empty() && fleet_drains.empty() && steering.empty() &&
           flap_holds.empty() && drain_began.empty() && disabled_peers.empty();
  }
  bool fail_safe() const { return drain_all && drain_all->fail_safe; }
  bool operator==(const PersistentState&) const = default;
};

// The JSON text of a state (version 1, pretty-printed for an operator reading it).
std::string encode_state(const PersistentState& state);
// Parses encode_state()'s output; the error says what is wrong and where (field name).
Expected<PersistentState, std::string> decode_state(std::string_view text);

// Test hook: consulted before each system call of a load or save with its name ("open", "read",
// "write", "fsync", "rename", "fsync dir"); a non-zero errno makes the call fail with that errno.
using FileFaultInjector = std::function<int(std::string_view operation)>;

// What load() found. `problem` is set when the file exists but could not be used (unreadable or
// corrupt); the state is then the fail-safe one: only a fail-safe drain_all.
struct LoadResult {
  PersistentState state;
  std::optional<std::string> problem;
};

// The state file of one state directory.
class StateFile {
 public:
  static constexpr std::string_view kFileName = "herald.state";
  // Bigger than any real state (thousands of services); a larger file is treated as corrupt.
  static constexpr std::size_t kMaxBytes = 4 * 1024 * 1024;

  explicit StateFile(std::filesystem::path dir, FileFaultInjector inject = {});

  const std::filesystem::path& path() const { return path_; }

  // Dry run: load() reads the file but never moves or replaces it (a corrupt one still fails
  // safe), and save() writes nothing and succeeds.
  void set_read_only() { read_only_ = true; }
  bool read_only() const { return read_only_; }

  // Reads the state. A missing file is an empty state with no problem. A file that cannot be
  // read or decoded gives the fail-safe state (every service drained since `now`) and a
  // `problem` sentence for the operator naming the file and what to do. The bad file is moved
  // aside as "herald.state.corrupt-<UTC time>" (or ".unreadable-", never over an earlier copy)
  // and the fail-safe state saved in its place, so that a restart stays drained; a file that
  // cannot be moved is left in place (and fails safe again at the next start).
  LoadResult load(std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

  // Atomically replaces the file with `state`. Returns an error sentence naming the file, the
  // failed step and the errno text, e.g. "cannot save state file /var/lib/herald/herald.state:
  // write: No space left on device"; the old file is then left intact.
  std::optional<std::string> save(const PersistentState& state) const;

 private:
  int fault(std::string_view op) const { return inject_ ? inject_(op) : 0; }

  std::filesystem::path dir_;
  std::filesystem::path path_;
  FileFaultInjector inject_;
  bool read_only_ = false;
};

}  // namespace herald::daemon
