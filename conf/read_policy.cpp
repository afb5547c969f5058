// [service.policy.up|down|drained]: what is announced for the service in each state.
#include <fmt/format.h>

#include <algorithm>

#include "conf/read_service_parts.hpp"
#include "conf/sections.hpp"

namespace herald::conf::detail {
namespace {

template <typename T, typename F>
void read_sorted_list(TableReader& r, std::string_view k, std::vector<T>& out, F parse) {
  if (!r.get(k)) return;
  std::vector<T> items;
  r.for_each(k, [&](const toml::node& e, const std::string& key) {
    if (auto c = as_parsed<T>(r.ctx(), e, key, parse)) items.push_back(*c);
  });
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  out = std::move(items);
}

}  // namespace

void read_community_lists(TableReader& r, std::vector<bgp::Community>& communities,
                          std::vector<bgp::LargeCommunity>& large,
                          std::vector<bgp::ExtendedCommunity>& extended) {
  read_sorted_list(r, "communities", communities, parse_community);
  read_sorted_list(r, "large-communities", large, parse_large_community);
  read_sorted_list(r, "extended-communities", extended, parse_extended_community);
}

namespace {

// Reads one state's table. `is_drained` allows drain-period.
void read_state(TableReader& r, StatePolicy& sp, std::optional<Duration>* drain_period) {
  Context& ctx = r.ctx();
  if (const auto* n = r.get("action")) {
    if (auto v = as_string(ctx, *n, r.key("action"))) {
      if (*v == "announce") sp.action = Action::Announce;
      else if (*v == "withdraw") sp.action = Action::Withdraw;
      else ctx.error(where(*n), r.key("action"),
                     fmt::format("expected \"announce\" or \"withdraw\", got \"{}\"", *v));
    }
  }
  if (const auto* n = r.get("med"))
    if (auto v = as_int(ctx, *n, r.key("med"), 0, 0xFFFFFFFFLL))
      sp.med = static_cast<std::uint32_t>(*v);
  r.read_uint("prepend", sp.prepend, 0, kMaxPrepend);
  read_community_lists(r, sp.communities, sp.large_communities, sp.extended_communities);
  if (drain_period) {
    if (const auto* n = r.get("drain-period")) {
      if (const auto* b = n->as_boolean(); b && !b->get()) {
        drain_period->reset();
      } else if (auto v = as_duration(ctx, *n, r.key("drain-period"))) {
        if (v->count() == 0)
          ctx.error(where(*n), r.key("drain-period"),
                    "expected a duration above 0s, or false to stay announced while drained");
        else
          *drain_period = *v;
      }
    }
  }

  if (sp.action == Action::Withdraw) {
    // Attributes of a withdrawn route mean nothing: refuse the ones written, drop defaults.
    for (std::string_view k : {"med", "prepend", "communities", "large-communities",
                               "extended-communities", "drain-period"}) {
      if (k == "drain-period" && !drain_period) continue;
      if (const auto* n = r.get(k))
        ctx.error(where(*n), r.key(k), "has no effect with action = \"withdraw\"");
    }
    sp = StatePolicy{};
    sp.action = Action::Withdraw;
    if (drain_period) drain_period->reset();
  }
  r.finish();
}

}  // namespace

void read_state_policy(TableReader& r, StatePolicy& sp) { read_state(r, sp, nullptr); }

void read_policy(TableReader& r, ServicePolicy& p) {
  struct State {
    std::string_view key;
    StatePolicy* policy;
    std::optional<Duration>* drain;
  };
  for (const State& st : {State{"up", &p.up, nullptr}, State{"down", &p.down, nullptr},
                          State{"drained", &p.drained, &p.drain_period}}) {
    if (const toml::table* t = r.table(st.key)) {
      TableReader sr(r.ctx(), *t, r.key(st.key));
      read_state(sr, *st.policy, st.drain);
    }
  }
  r.finish();
}

}  // namespace herald::conf::detail
