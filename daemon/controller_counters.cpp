// The query counters' wiring (controller_counters.hpp): what to count comes from the
// configuration (each service prefix, at the port of the service's first DNS check without TLS,
// else 53), the table is made or rewritten by counters_apply() at start and reload, read by a
// timer, and deleted by counters_stop(). A failure (no nf_tables in the kernel, no
// CAP_NET_ADMIN) is logged once with nft's reason and leaves herald running without counting:
// the counters never stop a start or a reload.
#include "daemon/controller_counters.hpp"

#include <cmath>

#include "daemon/controller.hpp"
#include "daemon/controller_fleet.hpp"

namespace herald::daemon {

namespace {

std::vector<counters::Target> query_targets(const conf::Config& config) {
  std::vector<counters::Target> out;
  for (const auto& sc : config.services) {
    std::uint16_t port = 53;
    for (const auto& c : sc.checks)
      if (c.type == conf::CheckType::Dns && !c.dns.tls) {
        port = c.dns.port;
        break;
      }
    for (const auto& p : sc.prefixes)
      out.push_back({sc.name, p.addr.to_string(), !p.addr.is_v4(), p.length, port});
  }
  return out;
}

}  // namespace

void Controller::counters_apply(std::string_view cause) {
  const bool want = config_.global.query_counters && !config_.global.dry_run;
  if (!want) {
    if (!counters_) return;
    counters_stop();
    log_.write(log::Level::notice, "query counters off",
               {{"table", "inet herald"}, {"reason", "query-counters is off after the " + std::string(cause)}});
    fleet_publish_state();  // without its qps
    return;
  }
  if (!counters_) counters_ = std::make_unique<CountersLink>(io_, counters::make_libnftables_backend());
  const bool was_active = counters_->active;
  const auto targets = query_targets(config_);
  if (auto err = counters_->table.install(targets)) {
    counters_off("nftables refused the table: " + *err, cause);
    return;
  }
  counters_->active = true;
  log_.write(log::Level::info, "query counters on",
             {{"table", "inet herald"}, {"cause", cause},
              {"counters", static_cast<std::uint64_t>(counters_->table.counters().size())},
              {"reason", "counting the queries arriving on each service address, read every 5 s"}});
  // Reading now would make a rate over the moments since the last reading: the timer goes on.
  if (!was_active) counters_read();
}

void Controller::counters_off(const std::string& why, std::string_view cause) {
  CountersLink& c = *counters_;
  c.active = false;
  c.timer.cancel();
  // Nothing stale: no series, and the fleet is told the site counts no more.
  c.packets.clear();
  c.qps.clear();
  c.rates = counters::Rates();
  log_.write(log::Level::warning, "query counters off",
             {{"table", "inet herald"}, {"cause", cause}, {"reason", why + "; herald runs without counting"}});
  counters_publish();
}

void Controller::counters_stop() {
  if (!counters_) return;
  counters_->timer.cancel();
  if (counters_->table.installed())
    if (auto err = counters_->table.remove())
      log_.write(log::Level::warning, "query counters table not deleted", {{"table", "inet herald"}, {"reason", *err}});
  counters_.reset();
}

void Controller::counters_read() {
  CountersLink& c = *counters_;
  auto r = c.table.read();
  if (!r || r->size() < c.table.counters().size()) {
    // The table went (an operator's `nft flush ruleset`, a firewall reload): make it again.
    const std::string why = r ? std::string("counters missing from the table") : r.error();
    log_.write_limited(log::Level::warning, "query counters table gone",
                       {{"table", "inet herald"}, {"reason", why + "; making it again"}});
    c.table.forget();
    if (auto err = c.table.install(query_targets(config_))) {
      counters_off("nftables refused the table: " + *err, "table gone");
      return;
    }
    r = c.table.read();
    if (!r) {
      counters_off("nftables cannot list the table: " + r.error(), "table gone");
      return;
    }
  }
  c.active = true;
  c.packets = *r;
  c.rates.update(c.packets, std::chrono::steady_clock::now());
  c.qps.clear();
  std::map<std::string, std::vector<std::string>> names;
  for (const auto& counter : c.table.counters()) names[counter.target.service].push_back(counter.name());
  for (const auto& [service, list] : names)
    if (auto q = c.rates.sum(list)) c.qps[service] = *q;
  counters_publish();

  c.timer.expires_after(CountersLink::kReadInterval);
  c.timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && counters_ && !shutting_down_) counters_read();
  });
}

void Controller::counters_publish() {
  if (!fleet_ || !counters_) return;
  CountersLink& c = *counters_;
  // One write carries every service: write when one of them is worth it, at most once per
  // 3 lease-ttl (the keep-alives' own pace is a third of it).
  const auto now = std::chrono::steady_clock::now();
  const auto since = c.published_at ? now - *c.published_at : std::chrono::steady_clock::duration::max();
  const auto min_interval = 3 * fleet_->cfg.lease_ttl;
  bool worth = false;
  for (const auto& sc : config_.services) {
    auto pub = c.published.find(sc.name);
    auto cur = c.qps.find(sc.name);
    worth = worth || counters::worth_publishing(pub == c.published.end() ? std::nullopt : std::optional(pub->second),
                                                cur == c.qps.end() ? std::nullopt : std::optional(cur->second),
                                                since, min_interval);
  }
  if (!worth) return;
  c.published = c.qps;
  c.published_at = now;
  fleet_publish_state();
}

std::optional<double> Controller::published_qps(const std::string& service) const {
  if (!counters_) return std::nullopt;
  auto it = counters_->published.find(service);
  if (it == counters_->published.end()) return std::nullopt;
  return std::round(it->second * 10) / 10;  // a tenth of a query per second is plenty
}

std::optional<ControllerMetrics::QueriesView> Controller::queries_view() const {
  if (!config_.global.query_counters || config_.global.dry_run) return std::nullopt;
  ControllerMetrics::QueriesView v;
  if (!counters_) return v;
  v.active = counters_->active;
  for (const auto& counter : counters_->table.counters()) {
    auto it = counters_->packets.find(counter.name());
    if (it == counters_->packets.end()) continue;
    v.series.push_back({counter.target.service, counter.address_label(), std::string(counters::to_string(counter.proto)),
                        it->second});
  }
  for (const auto& sc : config_.services)  // not a service a reload removed since the reading
    if (auto it = counters_->qps.find(sc.name); it != counters_->qps.end()) v.qps[sc.name] = it->second;
  return v;
}

}  // namespace herald::daemon
