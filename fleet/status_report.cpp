#include "fleet/status_report.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace herald::fleet {

using json = nlohmann::json;

Txn status_read_txn(const Keys& keys) {
  const std::string sites = keys.sites_prefix();
  const std::string desired = keys.desired_prefix();
  return Txn{{}, {Op::range(sites, prefix_end(sites)), Op::range(desired, prefix_end(desired))}, {}};
}

Expected<FleetStatus, std::string> fleet_status_from(const Keys& keys, const TxnResult& r) {
  if (r.ranges.size() != 2) return unexpected("fleet read: expected 2 ranges, got " + std::to_string(r.ranges.size()));
  FleetStatus s;
  s.view = view_from_range(keys, r.ranges[0]);
  s.view.revision = r.revision;
  const std::string prefix = keys.desired_prefix();
  for (const auto& kv : r.ranges[1].kvs) {
    // desired/<service>/...: the service is the first component.
    std::string_view rest = kv.key;
    rest.remove_prefix(std::min(rest.size(), prefix.size()));
    const std::string service(rest.substr(0, rest.find('/')));
    auto target = valid_name(service) ? target_of_key(keys, service, kv.key) : std::nullopt;
    if (!target) {
      s.view.problems.push_back(kv.key + ": not a desired-drain key");
      continue;
    }
    auto value = desired_drain_from_json(kv.value);
    if (!value) {
      s.view.problems.push_back(kv.key + ": " + value.error());
      value = DesiredDrain{};
    }
    s.drains.push_back(DrainEntry{service, *target, std::move(value.value()), kv.key});
  }
  std::sort(s.drains.begin(), s.drains.end(), [](const DrainEntry& x, const DrainEntry& y) { return x.key < y.key; });
  return s;
}

std::string utc_time(std::int64_t t) {
  if (t == 0) return "-";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string age(std::int64_t s) {
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 2 * 3600) return std::to_string(s / 60) + "m";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

namespace {

// Columns padded to their widest cell; the last one is not padded.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string percent(double share) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", share * 100);
  return buf;
}

bool shown(const DrainEntry& d, std::string_view service) { return service.empty() || d.service == service; }

}  // namespace

std::string status_text(const FleetStatus& s, std::string_view fleet, std::string_view service, std::int64_t now) {
  const auto rows = status_rows(s.view, service);
  std::string out = "fleet " + std::string(fleet) + " at etcd revision " + std::to_string(s.view.revision) + ": " +
                    std::to_string(s.view.sites.size()) + " sites publishing\n";
  if (rows.empty()) {
    out += service.empty() ? "no site publishes any service\n" : "no site publishes " + std::string(service) + "\n";
  } else {
    std::vector<std::vector<std::string>> t{
        {"SERVICE", "SITE", "REGION", "STATE", "ANNOUNCED", "SINCE", "LOAD", "VERSION", "REASON"}};
    for (const auto& r : rows)
      t.push_back({r.service, r.site, r.region.empty() ? "-" : r.region, r.state, r.announced ? "yes" : "no",
                   r.since == 0 ? "-" : utc_time(r.since) + " (" + age(now - r.since) + ")",
                   r.load_share ? percent(*r.load_share) : "-", r.version.empty() ? "-" : r.version,
                   r.reason.empty() ? "-" : r.reason});
    out += table(t);
  }
  std::vector<std::vector<std::string>> d{{"SERVICE", "DRAINED", "SINCE", "BY", "REASON"}};
  for (const auto& e : s.drains)
    if (shown(e, service))
      d.push_back({e.service, to_string(e.target), utc_time(e.drain.since), e.drain.by.empty() ? "-" : e.drain.by,
                   e.drain.reason.empty() ? "-" : e.drain.reason});
  out += d.size() == 1 ? "fleet drains: none\n" : "fleet drains:\n" + table(d);
  for (const auto& p : s.view.problems) out += "problem: " + p + "\n";
  return out;
}

std::string status_report_json(const FleetStatus& s, std::string_view fleet, std::string_view service) {
  json j = json::parse(status_json(s.view, service));
  json drains = json::array();
  for (const auto& e : s.drains)
    if (shown(e, service)) {
      const char* scope = e.target.scope == DrainTarget::Scope::Site     ? "site"
                          : e.target.scope == DrainTarget::Scope::Region ? "region"
                                                                         : "all";
      drains.push_back(json{{"service", e.service}, {"scope", scope}, {"name", e.target.name}, {"key", e.key},
                            {"reason", e.drain.reason}, {"by", e.drain.by}, {"since", e.drain.since}});
    }
  j["fleet"] = fleet;
  j["drains"] = std::move(drains);
  return j.dump();
}

}  // namespace herald::fleet
