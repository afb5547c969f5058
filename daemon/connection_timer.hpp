// The timer half of a ConnectionTable, shared by the control socket server and the /metrics
// server: admits each new connection through the table, keeps one steady_timer armed at the
// table's earliest deadline, and hands every connection the table names (evicted for a
// newcomer, or timed out) to the server's `drop`. Single-threaded, on the io_context's thread.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/asio.hpp"
#include "daemon/connection_table.hpp"

namespace herald::daemon {

class ConnectionTimer {
 public:
  using Id = ConnectionTable::Id;
  // Closes connection `id` (already out of the table) and reports why.
  using Drop = std::function<void(Id, DropReason)>;

  ConnectionTimer(boost::asio::io_context& io, ConnectionTable::Limits limits, Drop drop);
  // The server that owns this timer: a pending wait keeps it alive, as its own handlers do.
  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  // A connection from `client` arrives now: its id, or nullopt when the table refused it (the
  // caller closes the socket and reports DropReason::refused). A connection evicted to make room
  // is dropped first.
  std::optional<Id> admit(const std::string& client);
  // Connection `id` enters `state` now; the timer re-arms.
  void set_state(Id id, ConnectionTable::State state);
  // Connection `id` is closed: forget it.
  void remove(Id id) { table_.remove(id); }
  std::string explain(DropReason r) const { return table_.explain(r); }
  // Cancels the timer for good; later calls do nothing.
  void stop();

 private:
  // Arms the timer at the table's next deadline unless a wait for that time or earlier is armed
  // (such a wait re-arms itself when it fires).
  void arm();

  ConnectionTable table_;
  Drop drop_;
  std::weak_ptr<void> owner_;
  boost::asio::steady_timer timer_;
  std::optional<ConnectionTable::Clock::time_point> armed_;
  Id next_id_ = 1;
  bool stopped_ = false;
};

}  // namespace herald::daemon
