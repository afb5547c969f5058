#include "counters/query_counters.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "base/json_fields.hpp"

namespace herald::counters {

std::string_view to_string(Proto p) { return p == Proto::Udp ? "udp" : "tcp"; }

std::string Counter::address_label() const {
  const unsigned host = target.v6 ? 128 : 32;
  return target.length == host ? target.address : fmt::format("{}/{}", target.address, target.length);
}

std::string Counter::name() const {
  std::string a = target.address;
  std::replace(a.begin(), a.end(), ':', '-');  // nft identifiers: letters, digits, / - _ .
  return fmt::format("q_{}_{}_{}_{}", a, target.length, target.port, to_string(proto));
}

std::vector<Counter> counters_of(const std::vector<Target>& targets) {
  std::vector<Counter> out;
  std::set<std::tuple<std::string, unsigned, std::uint16_t>> seen;
  for (const auto& t : targets) {
    if (!seen.insert({t.address, t.length, t.port}).second) continue;
    out.push_back({t, Proto::Udp});
    out.push_back({t, Proto::Tcp});
  }
  return out;
}

namespace {

std::string rule(const Counter& c) {
  const auto& t = c.target;
  const unsigned host = t.v6 ? 128 : 32;
  const std::string daddr = t.length == host ? t.address : fmt::format("{}/{}", t.address, t.length);
  // TCP: the connection's first segment only (SYN without ACK).
  const std::string proto = c.proto == Proto::Udp ? fmt::format("udp dport {}", t.port)
                                                  : fmt::format("tcp dport {} tcp flags & (syn | ack) == syn", t.port);
  return fmt::format("add rule inet {} input {} daddr {} {} counter name {}\n", kTable, t.v6 ? "ip6" : "ip", daddr,
                     proto, c.name());
}

}  // namespace

std::string install_script(const std::vector<Counter>& wanted, const std::vector<std::string>& existing, bool fresh) {
  std::string s;
  if (fresh) s += fmt::format("add table inet {0}\ndelete table inet {0}\n", kTable);
  s += fmt::format("add table inet {}\n", kTable);
  // Input, at mangle priority (-150): queries delivered to this host, counted before the
  // usual filter-priority firewall rules; policy accept: the chain only counts.
  s += fmt::format("add chain inet {} input {{ type filter hook input priority -150; policy accept; }}\n", kTable);
  s += fmt::format("flush chain inet {} input\n", kTable);
  const std::set<std::string> had(existing.begin(), existing.end());
  std::set<std::string> keep;
  for (const auto& c : wanted) {
    const auto name = c.name();
    if (!keep.insert(name).second) continue;
    if (fresh || !had.count(name)) s += fmt::format("add counter inet {} {}\n", kTable, name);
  }
  for (const auto& c : wanted) s += rule(c);
  if (!fresh)
    for (const auto& name : existing)
      if (!keep.count(name)) s += fmt::format("delete counter inet {} {}\n", kTable, name);
  return s;
}

std::string remove_script() { return fmt::format("delete table inet {}\n", kTable); }

// `list table`, not `list counters table`: nft 1.0.6 fills its cache with the whole ruleset for
// the latter (1.2 s and 150 MB with a 50,000-rule firewall table beside herald's, every
// reading, on herald's one thread) and with herald's table alone for the former (under 10 ms).
std::string list_script() { return fmt::format("list table inet {}\n", kTable); }

Expected<std::map<std::string, std::uint64_t>, std::string> parse_counters(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("nftables") || !j["nftables"].is_array())
    return unexpected(std::string("nft's answer is not its JSON ruleset"));
  std::map<std::string, std::uint64_t> out;
  for (const auto& item : j["nftables"]) {
    if (!item.is_object() || !item.contains("counter")) continue;  // metainfo
    const auto& c = item["counter"];
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string() || !c.contains("packets"))
      return unexpected(std::string("nft's answer has a counter without name or packets"));
    if (c.value("table", "") != kTable) continue;
    const auto& name = c["name"].get_ref<const std::string&>();
    // A count that is negative, a fraction or beyond 2^64-1 is not one nft made: refused, not
    // cast (a float's conversion to an integer that cannot hold it is undefined).
    const auto packets = whole_number<std::uint64_t>(c["packets"]);
    if (!packets)
      return unexpected(fmt::format("nft's answer has counter {} with packets {}, not a whole number 0..2^64-1",
                                    name, c["packets"].dump()));
    out[name] = *packets;
  }
  return out;
}

void Rates::update(const std::map<std::string, std::uint64_t>& packets, Clock::time_point now) {
  std::map<std::string, double> rates;
  if (last_at_ && now > *last_at_) {
    const double dt = std::chrono::duration<double>(now - *last_at_).count();
    for (const auto& [name, value] : packets) {
      auto old = last_.find(name);
      if (old != last_.end() && value >= old->second) rates[name] = static_cast<double>(value - old->second) / dt;
    }
  }
  rates_ = std::move(rates);
  last_ = packets;
  last_at_ = now;
}

std::optional<double> Rates::rate(const std::string& name) const {
  auto it = rates_.find(name);
  if (it == rates_.end()) return std::nullopt;
  return it->second;
}

std::optional<double> Rates::sum(const std::vector<std::string>& names) const {
  std::optional<double> total;
  for (const auto& n : names)
    if (auto r = rate(n)) total = total.value_or(0) + *r;
  return total;
}

bool worth_publishing(std::optional<double> published, std::optional<double> now_qps,
                      std::chrono::steady_clock::duration since_published, std::chrono::steady_clock::duration min_interval) {
  if (!published || !now_qps) return published.has_value() != now_qps.has_value();
  if (since_published < min_interval) return false;
  const double moved = std::fabs(*now_qps - *published);
  return moved > 1.0 && moved > 0.1 * *published;
}

}  // namespace herald::counters
