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
  const std::string members = keys.members_prefix();
  return Txn{{},
             {Op::range(sites, prefix_end(sites)), Op::range(desired, prefix_end(desired)),
              Op::range(members, prefix_end(members))},
             {}};
}

Expected<FleetStatus, std::string> fleet_status_from(const Keys& keys, const TxnResult& r) {
  if (r.ranges.size() != 3) return unexpected("fleet read: expected 3 ranges, got " + std::to_string(r.ranges.size()));
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
  const std::string mprefix = keys.members_prefix();
  for (const auto& kv : r.ranges[2].kvs) {
    auto m = member_from_json(kv.value);
    if (!m) {
      s.view.problems.push_back(kv.key + ": " + m.error());
      continue;
    }
    if (kv.key != mprefix + m->site) {
      s.view.problems.push_back(kv.key + ": names site '" + m->site + "'");
      continue;
    }
    if (s.view.find(m->site) == nullptr) s.unknown.push_back(std::move(m.value()));
  }
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

// An unknown site's rows: one per service its member record lists ("-" when it lists none).
struct UnknownRow {
  std::string service;
  const Member* member;
};
std::vector<UnknownRow> unknown_rows(const FleetStatus& s, std::string_view service) {
  std::vector<UnknownRow> out;
  for (const auto& m : s.unknown) {
    if (m.services.empty() && service.empty()) out.push_back({"-", &m});
    for (const auto& sv : m.services)
      if (service.empty() || sv == service) out.push_back({sv, &m});
  }
  return out;
}

const char* kUnknownReason = "no live key: its lease expired (herald stopped or cut off from etcd)";

}  // namespace

std::string status_text(const FleetStatus& s, std::string_view fleet, std::string_view service, std::int64_t now) {
  const auto rows = status_rows(s.view, service);
  const auto unknown = unknown_rows(s, service);
  std::string out = "fleet " + std::string(fleet) + " at etcd revision " + std::to_string(s.view.revision) + ": " +
                    std::to_string(s.view.sites.size()) + " sites publishing" +
                    (s.unknown.empty() ? "" : ", " + std::to_string(s.unknown.size()) + " unknown") + "\n";
  if (rows.empty() && unknown.empty()) {
    out += service.empty() ? "no site publishes any service\n" : "no site publishes " + std::string(service) + "\n";
  } else {
    std::vector<std::pair<std::pair<std::string, std::string>, std::vector<std::string>>> body;
    for (const auto& r : rows)
      body.push_back({{r.service, r.site},
                      {r.service, r.site, r.region.empty() ? "-" : r.region, r.state, r.announced ? "yes" : "no",
                       r.since == 0 ? "-" : utc_time(r.since) + " (" + age(now - r.since) + ")",
                       r.load_share ? percent(*r.load_share) : "-", r.version.empty() ? "-" : r.version,
                       r.reason.empty() ? "-" : r.reason}});
    for (const auto& u : unknown) {
      const Member& m = *u.member;
      body.push_back({{u.service, m.site},
                      {u.service, m.site, m.region.empty() ? "-" : m.region, "unknown", "?",
                       m.last_seen == 0 ? "-" : "last seen " + utc_time(m.last_seen) + " (" + age(now - m.last_seen) + ")",
                       "-", "-", kUnknownReason}});
    }
    std::stable_sort(body.begin(), body.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    std::vector<std::vector<std::string>> t{
        {"SERVICE", "SITE", "REGION", "STATE", "ANNOUNCED", "SINCE", "LOAD", "VERSION", "REASON"}};
    for (auto& b : body) t.push_back(std::move(b.second));
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
  for (const auto& u : unknown_rows(s, service)) {
    const Member& m = *u.member;
    j["sites"].push_back(json{{"site", m.site}, {"region", m.region}, {"service", u.service}, {"state", "unknown"},
                              {"announced", nullptr}, {"reason", kUnknownReason}, {"since", m.last_seen},
                              {"version", nullptr}, {"qps", nullptr}, {"load_share", nullptr},
                              {"last_seen", m.last_seen}, {"first_seen", m.first_seen}});
  }
  std::stable_sort(j["sites"].begin(), j["sites"].end(), [](const json& x, const json& y) {
    return std::pair(x["service"].get<std::string>(), x["site"].get<std::string>()) <
           std::pair(y["service"].get<std::string>(), y["site"].get<std::string>());
  });
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
