// The daemon's /metrics families (each listed in docs/metrics.md): registered once, check
// results recorded as they come, everything else read from the components when scraped.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bgp/speaker.hpp"
#include "conf/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/service_policy.hpp"
#include "daemon/state_file.hpp"
#include "health/monitor.hpp"

namespace herald::daemon {

class ControllerMetrics {
 public:
  // Registers every family on `registry` (which must outlive this), so each is exported, with
  // its help text, before its first sample.
  explicit ControllerMetrics(metrics::Registry& registry);

  // One completed health check (latency histogram, pass/fail counters).
  void record_check_result(const std::string& service, const std::string& check, const health::CheckResult& r);

  struct Inputs {
    const conf::Config& config;
    const PersistentState& state;
    const ServicePolicy& policy;     // a decision for every service of `config`
    const bgp::Speaker* speaker;     // null before start
    const health::Monitor* monitor;  // null before start
  };
  // The exposition text: the components' current values, then registry.render().
  std::string render(const Inputs& in);

 private:
  metrics::Registry& registry_;
  // The speaker and the checks count from 0 again when a reload re-creates a peer or a check,
  // but an exported counter must never go down: each series adds what its source counted since
  // the last scrape (all of it after a restart of the source). The last count seen per series.
  std::map<std::pair<std::string, std::string>, double> last_seen_;
  // The series every check result updates, found once per (service, check) instead of by name
  // and labels on each result (200 checks every 250 ms). Series are never removed, so the
  // pointers stay valid for the registry's lifetime.
  struct CheckSeries {
    metrics::Histogram* latency = nullptr;
    metrics::Counter* pass = nullptr;
    metrics::Counter* fail = nullptr;
  };
  std::map<std::pair<std::string, std::string>, CheckSeries> check_series_;
};

}  // namespace herald::daemon
