#include "bgp/route_attributes.hpp"

#include <mutex>
#include <string>
#include <unordered_map>

namespace herald::bgp {

namespace {

// A canonical byte string of the attributes: equal values give equal keys and different values
// different keys (every variable part is preceded by its count, every optional by a flag).
std::string encode_key(const RouteAttributes& a) {
  std::string k;
  const auto u32 = [&k](std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) k.push_back(static_cast<char>((v >> shift) & 0xff));
  };
  const auto opt = [&](const std::optional<std::uint32_t>& v) {
    k.push_back(v ? 1 : 0);
    if (v) u32(*v);
  };
  k.push_back(static_cast<char>(a.origin));
  opt(a.med);
  opt(a.local_pref);
  u32(static_cast<std::uint32_t>(a.as_path_prepend.size()));
  for (auto asn : a.as_path_prepend) u32(asn);
  u32(static_cast<std::uint32_t>(a.communities.size()));
  for (auto c : a.communities) u32(c);
  u32(static_cast<std::uint32_t>(a.large_communities.size()));
  for (const auto& c : a.large_communities) {
    u32(c.global_admin);
    u32(c.local1);
    u32(c.local2);
  }
  u32(static_cast<std::uint32_t>(a.extended_communities.size()));
  for (const auto& c : a.extended_communities) k.append(c.begin(), c.end());
  return k;
}

// The interning table. Entries are weak: the routes own the attributes, the table only finds
// them. The last owner's deleter removes the entry.
class Table {
 public:
  std::shared_ptr<const RouteAttributes> intern(const RouteAttributes& value) {
    std::string key = encode_key(value);
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = entries_[key];
    if (auto live = slot.lock()) return live;
    // Absent, or its last owner is on the way out (its deleter will find a live entry and
    // leave it alone).
    std::shared_ptr<const RouteAttributes> fresh(new RouteAttributes(value), Release{std::move(key)});
    slot = fresh;
    return fresh;
  }

  std::size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }

 private:
  struct Release {
    std::string key;
    void operator()(const RouteAttributes* p) const {
      table().forget(key);
      delete p;
    }
  };

  void forget(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = entries_.find(key); it != entries_.end() && it->second.expired()) entries_.erase(it);
  }

 public:
  // Never destroyed: attributes held by static objects may be released after main returns.
  static Table& table() {
    static Table* t = new Table;
    return *t;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<const RouteAttributes>> entries_;
};

}  // namespace

SharedAttributes::SharedAttributes() {
  // Every route without attributes of its own shares this one; kept for the process's life.
  static const std::shared_ptr<const RouteAttributes> kDefault = Table::table().intern(RouteAttributes{});
  p_ = kDefault;
}

SharedAttributes::SharedAttributes(const RouteAttributes& value) : p_(Table::table().intern(value)) {}

std::size_t SharedAttributes::interned_count() { return Table::table().size(); }

}  // namespace herald::bgp
