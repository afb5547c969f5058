// The daemon's /metrics families (each listed in docs/metrics.md). Check results are recorded as
// they come (latency histogram, pass/fail counters); everything else is read from the
// components' state at each scrape (metrics::Scrape): a series exists while its peer, service
// or check does, and a counter is the total its source keeps, exported as it is. A source that
// a reload re-creates (a peer whose session had to restart, a check of a changed service)
// counts from 0 again; Prometheus's rate() and increase() read that as a counter reset.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bgp/speaker.hpp"
#include "conf/config.hpp"
#include "daemon/connection_table.hpp"
#include "daemon/metrics.hpp"
#include "daemon/service_policy.hpp"
#include "daemon/state_file.hpp"
#include "health/monitor.hpp"

namespace herald::daemon {

class ControllerMetrics {
 public:
  ControllerMetrics();

  // One completed health check (latency histogram, pass/fail counters).
  void record_check_result(const std::string& service, const std::string& check, const health::CheckResult& r);

  // What the speaker keeps, read at the scrape.
  struct SpeakerView {
    std::vector<bgp::SpeakerPeerStatus> peers;
    std::uint64_t refused_not_configured = 0;
    std::uint64_t refused_shutting_down = 0;
    bgp::bfd::DropCounters bfd_dropped{};
  };
  static SpeakerView view_of(const bgp::Speaker& speaker);
  // The query counters (controller_counters.hpp), read from the kernel every few seconds.
  struct QueriesView {
    bool active = false;  // the table is installed and was read; false: on but failed
    struct Series {
      std::string service, address, proto;
      std::uint64_t packets = 0;
    };
    std::vector<Series> series;
    std::map<std::string, double> qps;  // service -> queries per second over the last interval
  };
  struct Inputs {
    const conf::Config& config;
    const PersistentState& state;
    const ServicePolicy& policy;                                // a decision for every service of `config`
    std::optional<SpeakerView> speaker;                         // nullopt before start
    std::optional<std::vector<health::ServiceStatus>> health;  // the monitor's snapshot; nullopt before start
    std::map<std::string, DropCounts> listeners;                // "control", "metrics": connections dropped
    std::optional<QueriesView> queries{};                       // nullopt: query-counters off
  };
  // The exposition text. Check series of a service or check no longer in `in.health` (removed
  // by a reload) are forgotten first.
  std::string render(const Inputs& in);

 private:
  metrics::Registry registry_;
  // The series every check result updates, found once per (service, check) instead of by
  // labels on each result (200 checks every 250 ms); forgotten with their check.
  struct CheckSeries {
    prometheus::Histogram* latency = nullptr;
    prometheus::Counter* pass = nullptr;
    prometheus::Counter* fail = nullptr;
  };
  std::map<std::pair<std::string, std::string>, CheckSeries> check_series_;
};

}  // namespace herald::daemon
