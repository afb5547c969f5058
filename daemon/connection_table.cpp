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

std::optional<ConnectionTable::Id> ConnectionTable::victim(State state) const {
  std::map<std::string_view, std::size_t> held;
  for (const auto& [id, e] : entries_) ++held[e.client];
  std::optional<Id> best;
  const Entry* b = nullptr;
  // Most connections held by its client, then in its state longest, then accepted first (the
  // map iterates in id order, so a tie keeps the earlier one).
  for (const auto& [id, e] : entries_) {
    if (e.state != state) continue;
    if (b == nullptr || held[e.client] > held[b->client] ||
        (held[e.client] == held[b->client] && e.since < b->since)) {
      best = id;
      b = &e;
    }
  }
  return best;
}

ConnectionTable::Admission ConnectionTable::admit(Id id, const std::string& client,
                                                  Clock::time_point now) {
  Admission a;
  if (entries_.size() >= limits_.max_connections) {
    a.evicted = victim(State::waiting);
    if (!a.evicted) a.evicted = victim(State::subscribed);
    if (!a.evicted) return a;
    entries_.erase(*a.evicted);
  }
  // A limit of 0 admits nobody (and evicts nobody: the table is always empty).
  if (entries_.size() >= limits_.max_connections) return a;
  entries_.emplace(id, Entry{State::waiting, now, client});
  a.admitted = true;
  return a;
}

void ConnectionTable::set_state(Id id, State state, Clock::time_point now) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second.state = state;
  it->second.since = now;
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
