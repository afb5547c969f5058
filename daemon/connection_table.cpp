#include "daemon/connection_table.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace herald::daemon {

std::string_view to_string(DropReason r) {
  switch (r) {
    case DropReason::evicted: return "evicted";
    case DropReason::refused: return "refused";
    case DropReason::timed_out: return "timeout";
  }
  return "unknown";
}

ConnectionTable::ConnectionTable(Limits limits) : limits_(limits) {}

std::string ConnectionTable::explain(DropReason r) const {
  switch (r) {
    case DropReason::evicted:
      return fmt::format("all {} connections in use: closed the one idle longest to make room for a newcomer",
                         limits_.max_connections);
    case DropReason::refused:
      return fmt::format("all {} connections in use and being answered: newcomer refused",
                         limits_.max_connections);
    case DropReason::timed_out:
      return fmt::format("no complete request, or reply not taken, within {} ms",
                         limits_.request_timeout.count());
  }
  return "unknown";
}

std::optional<ConnectionTable::Id> ConnectionTable::oldest(State state) const {
  std::optional<Id> best;
  Clock::time_point best_since{};
  // Ties go to the lower id, the one accepted first.
  for (const auto& [id, e] : entries_) {
    if (e.state == state && (!best || e.since < best_since)) {
      best = id;
      best_since = e.since;
    }
  }
  return best;
}

ConnectionTable::Admission ConnectionTable::admit(Id id, Clock::time_point now) {
  Admission a;
  if (entries_.size() >= limits_.max_connections) {
    a.evicted = oldest(State::waiting);
    if (!a.evicted) a.evicted = oldest(State::subscribed);
    if (!a.evicted) return a;
    entries_.erase(*a.evicted);
  }
  // A limit of 0 admits nobody (and evicts nobody: the table is always empty).
  if (entries_.size() >= limits_.max_connections) return a;
  entries_.emplace(id, Entry{State::waiting, now});
  a.admitted = true;
  return a;
}

void ConnectionTable::set_state(Id id, State state, Clock::time_point now) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second = Entry{state, now};
}

void ConnectionTable::remove(Id id) { entries_.erase(id); }

std::vector<ConnectionTable::Id> ConnectionTable::expired(Clock::time_point now) {
  std::vector<std::pair<Clock::time_point, Id>> due;
  for (const auto& [id, e] : entries_) {
    if (e.state != State::subscribed && e.since + limits_.request_timeout <= now) {
      due.emplace_back(e.since, id);
    }
  }
  std::sort(due.begin(), due.end());
  std::vector<Id> out;
  out.reserve(due.size());
  for (const auto& [since, id] : due) {
    entries_.erase(id);
    out.push_back(id);
  }
  return out;
}

std::optional<ConnectionTable::Clock::time_point> ConnectionTable::next_deadline() const {
  std::optional<Clock::time_point> next;
  for (const auto& [id, e] : entries_) {
    if (e.state == State::subscribed) continue;
    auto d = e.since + limits_.request_timeout;
    if (!next || d < *next) next = d;
  }
  return next;
}

}  // namespace herald::daemon
