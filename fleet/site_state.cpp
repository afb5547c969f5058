#include "fleet/site_state.hpp"

#include <nlohmann/json.hpp>

#include "base/json_fields.hpp"

#include "fleet/keys.hpp"

namespace herald::fleet {

using json = nlohmann::json;

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  return name != "." && name != "..";
}

const ServiceState* SiteState::service(std::string_view name) const {
  for (const auto& s : services)
    if (s.name == name) return &s;
  return nullptr;
}

std::string to_json(const SiteState& s) {
  json services = json::array();
  for (const auto& sv : s.services) {
    json j{{"name", sv.name}, {"state", sv.state}, {"announced", sv.announced}, {"reason", sv.reason}, {"since", sv.since}};
    if (sv.qps) j["qps"] = *sv.qps;
    services.push_back(std::move(j));
  }
  return json{{"site", s.site}, {"region", s.region}, {"version", s.version}, {"services", services}}.dump();
}

Expected<SiteState, std::string> site_state_from_json(std::string_view text) {
  try {
    json j = json::parse(text);
    SiteState s;
    s.site = j.at("site").get<std::string>();
    if (!valid_name(s.site)) return unexpected("invalid site name '" + s.site + "'");
    s.region = j.value("region", "");
    s.version = j.value("version", "");
    for (const auto& sv : j.value("services", json::array())) {
      ServiceState st;
      st.name = sv.at("name").get<std::string>();
      if (!valid_name(st.name)) return unexpected("invalid service name '" + st.name + "'");
      st.state = sv.value("state", "");
      st.announced = sv.value("announced", false);
      st.reason = sv.value("reason", "");
      st.since = int64_field(sv, "since");
      if (auto q = sv.find("qps"); q != sv.end() && !q->is_null()) {
        if (!q->is_number() || q->get<double>() < 0) return unexpected("service '" + st.name + "': qps must be a number >= 0");
        st.qps = q->get<double>();
      }
      s.services.push_back(std::move(st));
    }
    return s;
  } catch (const std::exception& e) {
    return unexpected(std::string("malformed site state: ") + e.what());
  }
}

}  // namespace herald::fleet
