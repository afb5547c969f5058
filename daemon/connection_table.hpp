// Who may stay connected to a listener (the control socket, the /metrics endpoint), as pure
// bookkeeping: the caller passes `now` and closes the connections the table names.
//
// - Every connection is in one state. `waiting`: no complete request yet (since it connected or
//   since its last reply was written). `replying`: a request is answered, the reply not yet
//   written out. `subscribed`: an events subscriber, which may rightly sit silent for hours.
// - A waiting or replying connection must leave that state within `request_timeout` of entering
//   it, or expired() names it: a client that connects and says nothing, or sends half a request,
//   or does not read its reply, holds a slot for a few seconds only.
// - When the table is full a newcomer still gets in: it takes the slot of a waiting connection,
//   else of a subscriber; of these, one of the client holding the most connections (a client
//   is what the listener can tell apart: a process id, an address), the oldest of its.
//   Only when every slot is replying (each for at most `request_timeout`) is the newcomer
//   refused. So an operator always gets in, and a client flooding the listener evicts its own
//   connections, not the operator's request that arrived in the middle of its flood.
#pragma once
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::daemon {

// Why a listener dropped a connection (the `reason` label of herald_connections_dropped_total).
enum class DropReason {
  evicted,   // the table was full; this idle connection made room for a newcomer
  refused,   // the table was full of connections being answered; the newcomer was closed
  timed_out  // no complete request (or its reply not taken) within the request timeout
};
std::string_view to_string(DropReason r);
// How many connections a listener dropped, indexed by DropReason.
inline constexpr std::size_t kDropReasons = 3;
using DropCounts = std::array<std::uint64_t, kDropReasons>;

class ConnectionTable {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = std::uint64_t;
  enum class State { waiting, replying, subscribed };
  struct Limits {
    std::size_t max_connections = 64;
    std::chrono::milliseconds request_timeout = std::chrono::seconds(3);
  };
  struct Admission {
    bool admitted = false;
    std::optional<Id> evicted;  // already removed from the table; the caller closes it
  };

  explicit ConnectionTable(Limits limits);

  // A new connection `id` (unique, not in the table) from `client` arrives at `now`, waiting.
  Admission admit(Id id, const std::string& client, Clock::time_point now);
  // `id` enters `state` at `now` (its deadline restarts). Unknown ids are ignored.
  void set_state(Id id, State state, Clock::time_point now);
  // Forgets `id` (closed by either side). Unknown ids are ignored.
  void remove(Id id);
  // The connections whose deadline is at or before `now`, oldest deadline first, removed from
  // the table; the caller closes them.
  std::vector<Id> expired(Clock::time_point now);
  // The earliest deadline, to arm one timer for the whole table; nullopt when none.
  std::optional<Clock::time_point> next_deadline() const;

  std::size_t size() const { return entries_.size(); }
  bool contains(Id id) const { return entries_.count(id) != 0; }
  // Why a connection was dropped, as a sentence for the log, e.g. "all 64 connections in use:
  // closed the one idle longest to make room for a newcomer".
  std::string explain(DropReason r) const;
  const Limits& limits() const { return limits_; }

 private:
  struct Entry {
    State state;
    Clock::time_point since;
    std::string client;
  };
  // The connection in `state` to close for a newcomer; nullopt when none is in `state`.
  std::optional<Id> victim(State state) const;

  Limits limits_;
  std::map<Id, Entry> entries_;
};

}  // namespace herald::daemon
