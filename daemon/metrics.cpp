#include "daemon/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace herald::daemon::metrics {

namespace {

[[noreturn]] void invariant_failed(std::string_view what) {
  std::fprintf(stderr, "herald: metrics: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

// Prometheus data model: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*.
bool valid_name(std::string_view s, bool colon_ok) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

void check_family(Kind kind, const std::string& name, const std::vector<std::string>& labels,
                  const std::vector<double>& buckets) {
  if (!valid_name(name, true)) invariant_failed(fmt::format("invalid metric name \"{}\"", name));
  for (const auto& l : labels) {
    if (!valid_name(l, false) || l.rfind("__", 0) == 0 || (kind == Kind::histogram && l == "le")) {
      invariant_failed(fmt::format("invalid label name \"{}\" on {}", l, name));
    }
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    for (std::size_t j = i + 1; j < labels.size(); ++j) {
      if (labels[i] == labels[j]) invariant_failed(fmt::format("duplicate label on {}", name));
    }
  }
  if (kind == Kind::histogram) {
    if (buckets.empty()) invariant_failed(fmt::format("histogram {} has no buckets", name));
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      if (std::isnan(buckets[i]) || std::isinf(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
        invariant_failed(fmt::format("histogram {} buckets must be finite and increasing", name));
      }
    }
  }
}

std::string_view type_name(Kind k) {
  switch (k) {
    case Kind::counter: return "counter";
    case Kind::gauge: return "gauge";
    case Kind::histogram: return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}` (with an optional trailing le label), or "" for no labels at all.
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view le = {}) {
  if (names.empty() && le.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!le.empty()) {
    if (!names.empty()) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);  // shortest text that reads back as the same double
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void Counter::inc(double v) {
  if (!(v >= 0)) invariant_failed("counter increment must be >= 0");
  v_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Histogram(const std::vector<double>& bounds) : bounds_(bounds), counts_(bounds.size()) {}

void Histogram::observe(double v) {
  std::lock_guard lock(mutex_);
  // The first bound >= v; NaN lands in no finite bucket, only in +Inf (count).
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  if (it != bounds_.end() && !std::isnan(v)) ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  ++count_;
  sum_ += v;
}

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard lock(mutex_);
  Snapshot s;
  s.cumulative.resize(counts_.size());
  std::uint64_t run = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    run += counts_[i];
    s.cumulative[i] = run;
  }
  s.count = count_;
  s.sum = sum_;
  return s;
}

template <typename Metric>
Family<Metric>::Family(Kind kind, std::string name, std::string help,
                       std::vector<std::string> labels, std::vector<double> buckets)
    : kind_(kind),
      name_(std::move(name)),
      help_(std::move(help)),
      labels_(std::move(labels)),
      buckets_(std::move(buckets)) {
  // A family without labels has exactly one series: export it from the start (at zero).
  if (labels_.empty()) with(std::vector<std::string>{});
}

template <typename Metric>
Metric& Family<Metric>::with(std::initializer_list<std::string_view> label_values) {
  return with(std::vector<std::string>(label_values.begin(), label_values.end()));
}

template <typename Metric>
Metric& Family<Metric>::with(const std::vector<std::string>& label_values) {
  if (label_values.size() != labels_.size()) {
    invariant_failed(fmt::format("{} takes {} label values, got {}", name_, labels_.size(),
                                 label_values.size()));
  }
  std::lock_guard lock(mutex_);
  auto it = series_.find(label_values);
  if (it == series_.end()) {
    std::unique_ptr<Metric> m;
    if constexpr (std::is_same_v<Metric, Histogram>) {
      m = std::make_unique<Histogram>(buckets_);
    } else {
      m = std::make_unique<Metric>();
    }
    it = series_.emplace(label_values, std::move(m)).first;
  }
  return *it->second;
}

template <typename Metric>
void Family<Metric>::remove(const std::vector<std::string>& label_values) {
  std::lock_guard lock(mutex_);
  series_.erase(label_values);
}

template <typename Metric>
void Family<Metric>::render(std::string& out) const {
  std::lock_guard lock(mutex_);
  if (series_.empty()) return;
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, escape_help(help_), name_,
                     type_name(kind_));
  for (const auto& [values, metric] : series_) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      auto snap = metric->snapshot();
      for (std::size_t i = 0; i < buckets_.size(); ++i) {
        out += fmt::format("{}_bucket{} {}\n", name_,
                           label_set(labels_, values, format_value(buckets_[i])),
                           snap.cumulative[i]);
      }
      out += fmt::format("{}_bucket{} {}\n", name_, label_set(labels_, values, "+Inf"), snap.count);
      out += fmt::format("{}_sum{} {}\n", name_, label_set(labels_, values), format_value(snap.sum));
      out += fmt::format("{}_count{} {}\n", name_, label_set(labels_, values), snap.count);
    } else {
      out += fmt::format("{}{} {}\n", name_, label_set(labels_, values),
                         format_value(metric->value()));
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Entry* Registry::find(const std::string& name, Kind kind,
                                const std::vector<std::string>& labels,
                                const std::vector<double>& buckets) {
  for (auto& e : families_) {
    const std::string* n = nullptr;
    const std::vector<std::string>* l = nullptr;
    const std::vector<double>* b = nullptr;
    if (e.counter) { n = &e.counter->name_; l = &e.counter->labels_; b = &e.counter->buckets_; }
    if (e.gauge) { n = &e.gauge->name_; l = &e.gauge->labels_; b = &e.gauge->buckets_; }
    if (e.histogram) { n = &e.histogram->name_; l = &e.histogram->labels_; b = &e.histogram->buckets_; }
    if (*n != name) continue;
    if (e.kind != kind || *l != labels || *b != buckets) {
      invariant_failed(fmt::format("metric {} registered twice with different shapes", name));
    }
    return &e;
  }
  return nullptr;
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> labels) {
  check_family(Kind::counter, name, labels, {});
  std::lock_guard lock(mutex_);
  if (Entry* e = find(name, Kind::counter, labels, {})) return *e->counter;
  Entry e{Kind::counter, {}, {}, {}};
  e.counter.reset(new Family<Counter>(Kind::counter, std::move(name), std::move(help),
                                      std::move(labels), {}));
  families_.push_back(std::move(e));
  return *families_.back().counter;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels) {
  check_family(Kind::gauge, name, labels, {});
  std::lock_guard lock(mutex_);
  if (Entry* e = find(name, Kind::gauge, labels, {})) return *e->gauge;
  Entry e{Kind::gauge, {}, {}, {}};
  e.gauge.reset(new Family<Gauge>(Kind::gauge, std::move(name), std::move(help), std::move(labels), {}));
  families_.push_back(std::move(e));
  return *families_.back().gauge;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> labels,
                                       std::vector<double> buckets) {
  check_family(Kind::histogram, name, labels, buckets);
  std::lock_guard lock(mutex_);
  if (Entry* e = find(name, Kind::histogram, labels, buckets)) return *e->histogram;
  Entry e{Kind::histogram, {}, {}, {}};
  e.histogram.reset(new Family<Histogram>(Kind::histogram, std::move(name), std::move(help),
                                          std::move(labels), std::move(buckets)));
  families_.push_back(std::move(e));
  return *families_.back().histogram;
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& e : families_) {
    if (e.counter) e.counter->render(out);
    if (e.gauge) e.gauge->render(out);
    if (e.histogram) e.histogram->render(out);
  }
  return out;
}

}  // namespace herald::daemon::metrics
