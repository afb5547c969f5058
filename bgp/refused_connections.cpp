#include "bgp/refused_connections.hpp"

#include <fmt/format.h>

namespace herald::bgp {

namespace {

std::string endpoint_text(const IpAddress& a, std::uint16_t port) {
  return a.is_v4() ? fmt::format("{}:{}", a.to_string(), port) : fmt::format("[{}]:{}", a.to_string(), port);
}

// "60s" (whole seconds from one second on), or "250ms" for the short periods of tests.
std::string duration_text(RefusedConnections::Clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms < 1000 ? fmt::format("{}ms", ms) : fmt::format("{}s", (ms + 500) / 1000);
}

}  // namespace

std::string_view to_string(RefusalReason r) {
  switch (r) {
    case RefusalReason::NotConfigured: return "not a configured peer";
    case RefusalReason::ShuttingDown: return "shutting down";
  }
  return "?";
}

std::optional<std::string> RefusedConnections::record(const IpAddress& source, std::uint16_t port,
                                                      RefusalReason reason, Clock::time_point now) {
  const auto r = static_cast<std::size_t>(reason);
  ++totals_[r];
  Key key{reason, source};
  auto it = entries_.find(key);
  if (it == entries_.end() && sources_[r] >= settings_.max_sources) {
    key.second.reset();
    it = entries_.find(key);
  }
  if (it != entries_.end()) {
    ++it->second.counted;
    return std::nullopt;
  }
  entries_.emplace(key, Entry{now, 0});
  const std::string period = duration_text(settings_.period);
  if (!key.second) {
    return fmt::format("refused connection from {}: {}; {} sources are already tracked, so further refusals from "
                       "untracked sources are counted together for {}",
                       endpoint_text(source, port), to_string(reason), settings_.max_sources, period);
  }
  ++sources_[r];
  return fmt::format("refused connection from {}: {}; further ones from {} are counted for {}",
                     endpoint_text(source, port), to_string(reason), source.to_string(), period);
}

std::string RefusedConnections::summary(const Key& key, const Entry& e, Clock::time_point now) const {
  return fmt::format("refused {} more connection{} from {} in {}: {}", e.counted, e.counted == 1 ? "" : "s",
                     key.second ? key.second->to_string() : std::string("untracked sources"),
                     duration_text(now - e.period_start), to_string(key.first));
}

std::vector<std::string> RefusedConnections::expire(Clock::time_point now) {
  std::vector<std::string> lines;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (now - e.period_start < settings_.period) {
      ++it;
      continue;
    }
    if (e.counted > 0) {
      lines.push_back(summary(it->first, e, now));
      // The flood goes on: a new period, still without a line per connection.
      e = Entry{now, 0};
      ++it;
      continue;
    }
    if (it->first.second) --sources_[static_cast<std::size_t>(it->first.first)];
    it = entries_.erase(it);
  }
  return lines;
}

std::vector<std::string> RefusedConnections::drain(Clock::time_point now) {
  std::vector<std::string> lines;
  for (const auto& [key, e] : entries_)
    if (e.counted > 0) lines.push_back(summary(key, e, now));
  entries_.clear();
  sources_ = {};
  return lines;
}

std::optional<RefusedConnections::Clock::time_point> RefusedConnections::next_expiry() const {
  std::optional<Clock::time_point> first;
  for (const auto& [key, e] : entries_) {
    const auto end = e.period_start + settings_.period;
    if (!first || end < *first) first = end;
  }
  return first;
}

}  // namespace herald::bgp
