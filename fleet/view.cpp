#include "fleet/view.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

namespace herald::fleet {

const SiteEntry* FleetView::find(std::string_view site) const {
  for (const auto& s : sites)
    if (s.state.site == site) return &s;
  return nullptr;
}

FleetView view_from_range(const Keys& keys, const RangeResult& range) {
  FleetView v;
  v.revision = range.revision;
  const std::string prefix = keys.sites_prefix();
  for (const auto& kv : range.kvs) {
    if (kv.key.compare(0, prefix.size(), prefix) != 0) {
      v.problems.push_back(kv.key + ": not under " + prefix);
      continue;
    }
    const std::string name = kv.key.substr(prefix.size());
    auto st = site_state_from_json(kv.value);
    if (!st) {
      v.problems.push_back(kv.key + ": " + st.error());
      continue;
    }
    if (st->site != name) {
      v.problems.push_back(kv.key + ": names site '" + st->site + "'");
      continue;
    }
    v.sites.push_back(SiteEntry{std::move(st.value()), kv.mod_revision});
  }
  std::sort(v.sites.begin(), v.sites.end(),
            [](const SiteEntry& a, const SiteEntry& b) { return a.state.site < b.state.site; });
  return v;
}

std::vector<StatusRow> status_rows(const FleetView& view, std::string_view service) {
  std::vector<StatusRow> rows;
  for (const auto& e : view.sites)
    for (const auto& sv : e.state.services)
      if (service.empty() || sv.name == service)
        rows.push_back(StatusRow{e.state.site, e.state.region, sv.name, sv.state, sv.reason, e.state.version,
                                 sv.announced, sv.since, sv.qps, std::nullopt});
  std::map<std::string, double> total;  // per service
  for (const auto& r : rows)
    if (r.qps) total[r.service] += *r.qps;
  for (auto& r : rows)
    if (r.qps && total[r.service] > 0) r.load_share = *r.qps / total[r.service];
  std::stable_sort(rows.begin(), rows.end(), [](const StatusRow& a, const StatusRow& b) {
    return std::tie(a.service, a.site) < std::tie(b.service, b.site);
  });
  return rows;
}

std::string status_json(const FleetView& view, std::string_view service) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : status_rows(view, service))
    rows.push_back({{"site", r.site}, {"region", r.region}, {"service", r.service}, {"state", r.state},
                    {"announced", r.announced}, {"reason", r.reason}, {"since", r.since}, {"version", r.version},
                    {"qps", r.qps ? nlohmann::json(*r.qps) : nlohmann::json(nullptr)},
                    {"load_share", r.load_share ? nlohmann::json(*r.load_share) : nlohmann::json(nullptr)}});
  return nlohmann::json{{"revision", view.revision}, {"sites", rows}, {"problems", view.problems}}.dump();
}

}  // namespace herald::fleet
