#include "fleet/member.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/json_fields.hpp"

#include "fleet/floor.hpp"

namespace herald::fleet {

using json = nlohmann::json;

std::string to_json(const Member& m) {
  return json{{"site", m.site}, {"region", m.region}, {"services", m.services}, {"first_seen", m.first_seen},
              {"last_seen", m.last_seen}}
      .dump();
}

Expected<Member, std::string> member_from_json(std::string_view text) {
  try {
    json j = json::parse(text);
    Member m;
    m.site = j.at("site").get<std::string>();
    if (!valid_name(m.site)) return unexpected("invalid site name '" + m.site + "'");
    m.region = j.value("region", std::string());
    m.services = j.value("services", std::vector<std::string>{});
    m.first_seen = int64_field(j, "first_seen");
    m.last_seen = int64_field(j, "last_seen");
    return m;
  } catch (const std::exception& e) {
    return unexpected(std::string("malformed member record: ") + e.what());
  }
}

Member member_of(const SiteState& state, const std::optional<Member>& previous, std::int64_t now) {
  Member m{state.site, state.region, {}, now, now};
  for (const auto& sv : state.services) m.services.push_back(sv.name);
  std::sort(m.services.begin(), m.services.end());
  if (previous && previous->first_seen != 0) m.first_seen = previous->first_seen;
  return m;
}

bool member_matches(const Member& written, const SiteState& state) {
  const Member now = member_of(state, written, written.last_seen);
  return now == written;
}

IndexFlags index_flags(const SiteState& state) {
  IndexFlags f;
  for (const auto& sv : state.services) f[sv.name] = sv.announced;
  return f;
}

Txn publish_txn(const Keys& keys, const SiteState& want, const std::optional<SiteState>& written,
                const IndexFlags& index_written, std::int64_t lease, const std::optional<Member>& member) {
  Txn t;
  if (!written || !(*written == want)) t.success.push_back(Op::put(keys.site(want.site), to_json(want), lease));
  const IndexFlags now = index_flags(want);
  for (const auto& [service, announced] : now) {
    auto it = index_written.find(service);
    if (it == index_written.end() || it->second != announced)
      t.success.push_back(Op::put(keys.index(service, want.site), index_value(announced), lease));
  }
  for (const auto& [service, announced] : index_written)
    if (!now.count(service)) t.success.push_back(Op::del(keys.index(service, want.site)));
  if (member) t.success.push_back(Op::put(keys.member(want.site), to_json(*member)));
  return t;
}

Txn forget_txn(const Keys& keys, std::string_view site, const std::vector<std::string>& ledger_keys) {
  const std::string s = keys.site(site), m = keys.member(site);
  Txn t;
  t.compare.push_back(Compare{s, {}, Compare::Target::Version, Compare::Result::Equal, 0, {}});
  t.compare.push_back(Compare{m, {}, Compare::Target::Version, Compare::Result::Greater, 0, {}});
  t.success.push_back(Op::del(m));
  for (const auto& k : ledger_keys) t.success.push_back(Op::del(k));
  t.failure = {Op::range(s), Op::range(m)};
  return t;
}

}  // namespace herald::fleet
