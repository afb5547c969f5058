#include "daemon/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <prometheus/check_names.h>
#include <prometheus/text_serializer.h>

namespace herald::daemon::metrics {

namespace {

[[noreturn]] void invariant_failed(std::string_view what) {
  std::fprintf(stderr, "herald: metrics: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

void check_family(const std::string& name, const std::string& help, const std::vector<std::string>& labels,
                  bool histogram) {
  if (!prometheus::CheckMetricName(name)) invariant_failed(fmt::format("invalid metric name \"{}\"", name));
  if (help.find_first_of("\\\n") != std::string::npos) {
    invariant_failed(fmt::format("help of {} holds a backslash or a newline", name));
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!prometheus::CheckLabelName(labels[i]) || (histogram && labels[i] == "le")) {
      invariant_failed(fmt::format("invalid label name \"{}\" on {}", labels[i], name));
    }
    if (std::find(labels.begin() + static_cast<std::ptrdiff_t>(i) + 1, labels.end(), labels[i]) != labels.end()) {
      invariant_failed(fmt::format("duplicate label \"{}\" on {}", labels[i], name));
    }
  }
}

void check_values(const std::string& name, const std::vector<std::string>& labels, const LabelValues& values) {
  if (values.size() != labels.size()) {
    invariant_failed(fmt::format("{} takes {} label values, got {}", name, labels.size(), values.size()));
  }
}

prometheus::Labels label_map(const std::vector<std::string>& labels, const LabelValues& values) {
  prometheus::Labels m;
  for (std::size_t i = 0; i < labels.size(); ++i) m.emplace(labels[i], values[i]);
  return m;
}

// prometheus-cpp keeps labels in a map (sorted by name): put them back in the declared order.
void order_labels(prometheus::MetricFamily& f, const std::vector<std::string>& labels) {
  for (auto& m : f.metric) {
    std::vector<prometheus::ClientMetric::Label> ordered;
    ordered.reserve(m.label.size());
    for (const auto& name : labels) {
      auto it = std::find_if(m.label.begin(), m.label.end(), [&](const auto& l) { return l.name == name; });
      if (it != m.label.end()) ordered.push_back(*it);
    }
    m.label = std::move(ordered);
  }
}

}  // namespace

template <typename Metric>
Family<Metric>::Family(prometheus::Family<Metric>& family, std::vector<std::string> labels,
                       std::vector<double> buckets)
    : family_(family), labels_(std::move(labels)), buckets_(std::move(buckets)) {}

template <typename Metric>
Metric& Family<Metric>::with(const LabelValues& values) {
  check_values(family_.GetName(), labels_, values);
  auto it = series_.find(values);
  if (it != series_.end()) return *it->second;
  Metric* m = nullptr;
  if constexpr (std::is_same_v<Metric, prometheus::Histogram>) {
    m = &family_.Add(label_map(labels_, values), prometheus::Histogram::BucketBoundaries(buckets_));
  } else {
    m = &family_.Add(label_map(labels_, values));
  }
  series_.emplace(values, m);
  return *m;
}

template <typename Metric>
void Family<Metric>::retain(const std::function<bool(const LabelValues&)>& keep) {
  for (auto it = series_.begin(); it != series_.end();) {
    if (keep(it->first)) {
      ++it;
      continue;
    }
    family_.Remove(it->second);
    it = series_.erase(it);
  }
}

template class Family<prometheus::Counter>;
template class Family<prometheus::Histogram>;

Registry::Registry() : registry_(std::make_shared<prometheus::Registry>()) {}

Family<prometheus::Counter>& Registry::counter(const std::string& name, const std::string& help,
                                               std::vector<std::string> labels) {
  if (auto it = counters_.find(name); it != counters_.end()) {
    if (it->second->labels() != labels) invariant_failed(fmt::format("{} registered twice with other labels", name));
    return *it->second;
  }
  check_family(name, help, labels, false);
  if (histograms_.count(name)) invariant_failed(fmt::format("{} registered twice as another kind", name));
  auto& f = prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  return *counters_.emplace(name, std::make_unique<Family<prometheus::Counter>>(f, std::move(labels),
                                                                                std::vector<double>{}))
              .first->second;
}

Family<prometheus::Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                                   std::vector<std::string> labels, std::vector<double> buckets) {
  if (auto it = histograms_.find(name); it != histograms_.end()) {
    if (it->second->labels() != labels) invariant_failed(fmt::format("{} registered twice with other labels", name));
    return *it->second;
  }
  check_family(name, help, labels, true);
  if (counters_.count(name)) invariant_failed(fmt::format("{} registered twice as another kind", name));
  if (buckets.empty()) invariant_failed(fmt::format("histogram {} has no buckets", name));
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
      invariant_failed(fmt::format("histogram {} buckets must be finite and increasing", name));
    }
  }
  auto& f = prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
  return *histograms_.emplace(name, std::make_unique<Family<prometheus::Histogram>>(f, std::move(labels),
                                                                                    std::move(buckets)))
              .first->second;
}

std::vector<prometheus::MetricFamily> Registry::collect() const {
  auto families = registry_->Collect();
  for (auto& f : families) {
    if (auto it = counters_.find(f.name); it != counters_.end()) order_labels(f, it->second->labels());
    if (auto it = histograms_.find(f.name); it != histograms_.end()) order_labels(f, it->second->labels());
  }
  return families;
}

void Scrape::Family::add(const LabelValues& values, double value) {
  check_values(family_.name, labels_, values);
  prometheus::ClientMetric m;
  m.label.reserve(labels_.size());
  for (std::size_t i = 0; i < labels_.size(); ++i) m.label.push_back({labels_[i], values[i]});
  if (family_.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family_.metric.push_back(std::move(m));
}

Scrape::Family& Scrape::counter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return family(name, help, std::move(labels), prometheus::MetricType::Counter);
}

Scrape::Family& Scrape::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return family(name, help, std::move(labels), prometheus::MetricType::Gauge);
}

Scrape::Family& Scrape::family(const std::string& name, const std::string& help, std::vector<std::string> labels,
                               prometheus::MetricType type) {
  for (auto& f : families_) {
    if (f->family_.name == name) invariant_failed(fmt::format("{} built twice in one scrape", name));
  }
  check_family(name, help, labels, false);
  auto f = std::make_unique<Family>();
  f->family_.name = name;
  f->family_.help = help;
  f->family_.type = type;
  f->labels_ = std::move(labels);
  families_.push_back(std::move(f));
  return *families_.back();
}

std::vector<prometheus::MetricFamily> Scrape::take() {
  std::vector<prometheus::MetricFamily> out;
  out.reserve(families_.size());
  for (auto& f : families_) out.push_back(std::move(f->family_));
  families_.clear();
  return out;
}

std::string render(std::vector<prometheus::MetricFamily> a, std::vector<prometheus::MetricFamily> b) {
  for (auto& f : b) a.push_back(std::move(f));
  std::erase_if(a, [](const prometheus::MetricFamily& f) { return f.metric.empty(); });
  std::sort(a.begin(), a.end(), [](const auto& x, const auto& y) { return x.name < y.name; });
  for (std::size_t i = 1; i < a.size(); ++i) {
    if (a[i].name == a[i - 1].name) invariant_failed(fmt::format("{} exported twice", a[i].name));
  }
  for (auto& f : a) {
    std::sort(f.metric.begin(), f.metric.end(),
              [](const auto& x, const auto& y) { return x.label < y.label; });
    for (std::size_t i = 1; i < f.metric.size(); ++i) {
      if (f.metric[i].label == f.metric[i - 1].label) {
        invariant_failed(fmt::format("{} has two series with the same labels", f.name));
      }
    }
  }
  return prometheus::TextSerializer().Serialize(a);
}

}  // namespace herald::daemon::metrics
