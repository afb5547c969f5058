#include "daemon/routes_json.hpp"

#include <fmt/format.h>

namespace herald::daemon {

using nlohmann::json;

namespace {

json as_path_json(const bgp::AsPath& path) {
  json out = json::array();
  for (const auto& seg : path) {
    if (seg.type == bgp::AsSegmentType::AsSequence || seg.type == bgp::AsSegmentType::ConfedSequence) {
      for (auto asn : seg.asns) out.push_back(asn);
    } else {
      out.push_back(seg.asns);  // a set: one element holding its members
    }
  }
  return out;
}

std::string_view origin_name(bgp::Origin o) {
  switch (o) {
    case bgp::Origin::Igp: return "IGP";
    case bgp::Origin::Egp: return "EGP";
    case bgp::Origin::Incomplete: return "incomplete";
  }
  return "incomplete";
}

template <typename T>
json optional_json(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

json sent_routes_json(const std::vector<bgp::SentRoutes>& sent, std::size_t& budget, bool& truncated) {
  json groups = json::array();
  for (const auto& s : sent) {
    const auto& a = s.attributes;
    json g;
    g["family"] = bgp::to_string(s.family);
    g["origin"] = a.origin ? json(origin_name(*a.origin)) : json(nullptr);
    g["as_path"] = a.as_path ? as_path_json(*a.as_path) : json::array();
    if (a.as4_path) g["as4_path"] = as_path_json(*a.as4_path);
    if (a.mp_reach) {
      g["next_hop"] = a.mp_reach->next_hop.to_string();
      if (a.mp_reach->link_local_next_hop) g["link_local_next_hop"] = a.mp_reach->link_local_next_hop->to_string();
    } else {
      g["next_hop"] = a.next_hop ? json(a.next_hop->to_string()) : json(nullptr);
    }
    g["med"] = optional_json(a.med);
    g["local_pref"] = optional_json(a.local_pref);
    json comms = json::array();
    for (auto c : a.communities) comms.push_back(fmt::format("{}:{}", c >> 16, c & 0xFFFF));
    g["communities"] = comms;
    json large = json::array();
    for (const auto& c : a.large_communities) large.push_back(bgp::to_string(c));
    g["large_communities"] = large;
    json ext = json::array();
    for (const auto& c : a.extended_communities) ext.push_back(bgp::to_string(c));
    g["extended_communities"] = ext;
    g["otc"] = optional_json(a.otc);
    g["prefix_count"] = s.prefixes.size();
    json prefixes = json::array();
    for (const auto& p : s.prefixes) {
      if (budget == 0) {
        truncated = true;
        break;
      }
      prefixes.push_back(p.to_string());
      --budget;
    }
    g["prefixes"] = prefixes;
    groups.push_back(std::move(g));
  }
  return groups;
}

}  // namespace herald::daemon
