// herald's metrics on the core library of prometheus-cpp (Debian's prometheus-cpp-dev 1.0.1,
// libprometheus-cpp-core): its registry, families and text serializer. Only the core: the HTTP
// side is herald's own listener on its Asio loop (metrics_http.hpp), not prometheus-cpp's
// civetweb exposer, which would add a web server with threads of its own.
//
// Two kinds of family:
// - Registry: series updated as events happen (a check result's latency and outcome), with
//   their label names declared once and series found by label values in that order. Used on
//   the daemon's loop thread only.
// - Scrape: series built at a scrape from the components' state (sessions, services, counters
//   the speaker and the checks keep). A series exists exactly while its source does, so a peer
//   or service removed by a reload leaves the next scrape, and a counter is its source's total,
//   as it is (no copy of it is kept here).
//
//   metrics::Registry reg;
//   reg.counter("herald_check_results_total", "Check runs.", {"service", "check", "result"})
//       .with({"dns", "tcp 192.0.2.53:53", "pass"}).Increment();
//   metrics::Scrape scrape;
//   scrape.gauge("herald_peer_up", "1 when Established.", {"peer"}).add({"upstream"}, 1);
//   std::string text = metrics::render(reg.collect(), scrape.take());
//
// Names must match the Prometheus data model and help texts hold no '\' nor newline (prometheus-cpp
// 1.0.1 writes HELP unescaped); a bad name or a wrong number of label values is a programming
// error and aborts.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

namespace herald::daemon::metrics {

using LabelValues = std::vector<std::string>;

// A registry family whose label names are declared once (in exposition order).
template <typename Metric>  // prometheus::Counter or prometheus::Histogram
class Family {
 public:
  Family(prometheus::Family<Metric>& family, std::vector<std::string> labels,
         std::vector<double> buckets);
  // The series for these label values, created at zero on first use. The reference stays valid
  // until the series is removed.
  Metric& with(const LabelValues& values);
  // Removes every series whose label values `keep` refuses (e.g. of a service a reload removed).
  void retain(const std::function<bool(const LabelValues&)>& keep);

  const std::vector<std::string>& labels() const { return labels_; }

 private:
  prometheus::Family<Metric>& family_;
  std::vector<std::string> labels_;
  std::vector<double> buckets_;  // histograms only
  std::map<LabelValues, Metric*> series_;
};

// The families updated as events happen, on a prometheus::Registry. Registering a name again
// with the same kind and labels returns the existing family; anything else aborts.
class Registry {
 public:
  Registry();
  Family<prometheus::Counter>& counter(const std::string& name, const std::string& help,
                                       std::vector<std::string> labels);
  // `buckets` are upper bounds, strictly increasing; +Inf is implied.
  Family<prometheus::Histogram>& histogram(const std::string& name, const std::string& help,
                                           std::vector<std::string> labels, std::vector<double> buckets);
  // Every family with its series, labels in the declared order.
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::map<std::string, std::unique_ptr<Family<prometheus::Counter>>> counters_;
  std::map<std::string, std::unique_ptr<Family<prometheus::Histogram>>> histograms_;
};

// The families of one scrape, built from the components' state.
class Scrape {
 public:
  class Family {
   public:
    // One series; its label values in the order of the family's label names.
    void add(const LabelValues& values, double value);

   private:
    friend class Scrape;
    prometheus::MetricFamily family_;
    std::vector<std::string> labels_;
  };
  Family& counter(const std::string& name, const std::string& help, std::vector<std::string> labels);
  Family& gauge(const std::string& name, const std::string& help, std::vector<std::string> labels);
  // The families built so far (the Scrape is empty afterwards).
  std::vector<prometheus::MetricFamily> take();

 private:
  Family& family(const std::string& name, const std::string& help, std::vector<std::string> labels,
                 prometheus::MetricType type);
  std::vector<std::unique_ptr<Family>> families_;
};

// The exposition text (format 0.0.4) of `a` and `b`, written by prometheus-cpp's TextSerializer:
// families sorted by name, each family's series by label values; families without series are
// left out.
std::string render(std::vector<prometheus::MetricFamily> a, std::vector<prometheus::MetricFamily> b = {});

// The Content-Type of render()'s output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace herald::daemon::metrics
