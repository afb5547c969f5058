#include "fleet/drain.hpp"

#include <nlohmann/json.hpp>

#include "base/json_fields.hpp"

namespace herald::fleet {

std::string desired_key(const Keys& keys, std::string_view service, const DrainTarget& t) {
  switch (t.scope) {
    case DrainTarget::Scope::Site: return keys.desired_site(service, t.name);
    case DrainTarget::Scope::Region: return keys.desired_region(service, t.name);
    case DrainTarget::Scope::All: return keys.desired_all(service);
  }
  std::abort();
}

std::optional<DrainTarget> target_of_key(const Keys& keys, std::string_view service, std::string_view key) {
  const std::string prefix = keys.desired_service_prefix(service);
  if (key.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = key.substr(prefix.size());
  if (rest == "all") return DrainTarget{DrainTarget::Scope::All, {}};
  for (auto [word, scope] : {std::pair{std::string_view("site/"), DrainTarget::Scope::Site},
                             std::pair{std::string_view("region/"), DrainTarget::Scope::Region}}) {
    if (rest.substr(0, word.size()) == word && valid_name(rest.substr(word.size())))
      return DrainTarget{scope, std::string(rest.substr(word.size()))};
  }
  return std::nullopt;
}

bool affects(const DrainTarget& t, std::string_view site, std::string_view region) {
  switch (t.scope) {
    case DrainTarget::Scope::Site: return t.name == site;
    case DrainTarget::Scope::Region: return !region.empty() && t.name == region;
    case DrainTarget::Scope::All: return true;
  }
  std::abort();
}

std::vector<std::string> affected_sites(const FleetView& view, std::string_view service, const DrainTarget& t) {
  std::vector<std::string> out;
  for (const auto& e : view.sites)
    if (e.state.service(service) && affects(t, e.state.site, e.state.region)) out.push_back(e.state.site);
  return out;  // view.sites is sorted
}

std::string to_json(const DesiredDrain& d) {
  return nlohmann::json{{"drain", true}, {"reason", d.reason}, {"by", d.by}, {"since", d.since}}.dump();
}

Expected<DesiredDrain, std::string> desired_drain_from_json(std::string_view text) {
  try {
    auto j = nlohmann::json::parse(text);
    return DesiredDrain{j.value("reason", ""), j.value("by", ""), int64_field(j, "since")};
  } catch (const std::exception& e) {
    return unexpected(std::string("malformed desired drain: ") + e.what());
  }
}

}  // namespace herald::fleet
