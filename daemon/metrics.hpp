// A small metrics registry (counters, gauges, histograms, each a family with labels) and its
// rendering in the Prometheus text exposition format 0.0.4. Debian 12 does ship prometheus-cpp
// 1.0.1; moving to its core registry is planned (README, dependencies).
//
//   Registry reg;
//   auto& updates = reg.counter("herald_bgp_updates_sent_total", "UPDATE messages sent.", {"peer"});
//   updates.with({"upstream1"}).inc();
//   auto& lat = reg.histogram("herald_check_latency_seconds", "Health check latency.",
//                             {"service"}, {0.001, 0.01, 0.1, 1});
//   lat.with({"dns"}).observe(0.004);
//   std::string text = reg.render();
//
// Names must match the Prometheus data model ([a-zA-Z_:][a-zA-Z0-9_:]*, labels without the
// reserved "__" prefix); a bad name or a wrong number of label values is a programming error and
// aborts. Updating a series is thread-safe and lock-free for counters and gauges.
#pragma once
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace herald::daemon::metrics {

// A value that only goes up (resets only when the process restarts).
class Counter {
 public:
  // Adds `v`; negative or NaN increments abort (a counter must not go down).
  void inc(double v = 1.0);
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

// A value that goes up and down (sessions established, prefixes announced).
class Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) noexcept { v_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) noexcept { v_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

// Observations counted into fixed upper bounds (the family's buckets), plus their sum.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // per bound, observations <= bound
    std::uint64_t count = 0;                // all observations (the +Inf bucket)
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double>& bounds_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> counts_;  // per bound, not cumulative
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

enum class Kind { counter, gauge, histogram };

// All series of one metric name, one per combination of label values.
template <typename Metric>
class Family {
 public:
  // The series for these label values (in the order of the family's label names), created at
  // zero on first use. The reference stays valid for the registry's lifetime unless remove()d.
  Metric& with(std::initializer_list<std::string_view> label_values);
  Metric& with(const std::vector<std::string>& label_values);
  // Forgets a series (e.g. a peer removed by a reload) so it is no longer exported.
  void remove(const std::vector<std::string>& label_values);

  const std::string& name() const { return name_; }

 private:
  friend class Registry;
  Family(Kind kind, std::string name, std::string help, std::vector<std::string> labels,
         std::vector<double> buckets);
  void render(std::string& out) const;

  Kind kind_;
  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  std::vector<double> buckets_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

// The set of families one daemon exports. Registering an existing name again with the same kind
// and labels returns the existing family (so a reload can re-register); anything else aborts.
class Registry {
 public:
  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> labels = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  // `buckets` are upper bounds, strictly increasing; +Inf is implied.
  Family<Histogram>& histogram(std::string name, std::string help,
                               std::vector<std::string> labels, std::vector<double> buckets);

  // The exposition text (format 0.0.4): families in registration order, series sorted by label
  // values, each family with its # HELP and # TYPE lines. Families without series are omitted.
  std::string render() const;

 private:
  struct Entry {
    Kind kind;
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
  };
  Entry* find(const std::string& name, Kind kind, const std::vector<std::string>& labels,
              const std::vector<double>& buckets);

  mutable std::mutex mutex_;
  std::vector<Entry> families_;
};

// Exposition-format helpers (exposed for tests): a sample value ("3", "0.25", "+Inf", "NaN"),
// a label value with \\, \" and \n escaped, and HELP text with \\ and \n escaped.
std::string format_value(double v);
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);

// The Content-Type of render()'s output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace herald::daemon::metrics
