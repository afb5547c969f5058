#include "bgp/backoff.hpp"

#include <cstdlib>

namespace herald::bgp {

std::chrono::milliseconds jittered(std::chrono::milliseconds base, Rng& rng) {
  // RFC 4271 10: uniformly distributed in 75%..100% of the base value.
  std::uniform_real_distribution<double> factor(0.75, 1.0);
  const double ms = static_cast<double>(base.count()) * factor(rng);
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(ms));
}

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap)
    : base_(base), cap_(cap) {
  if (base_.count() <= 0 || cap_ < base_) std::abort();
}

void Backoff::retune(std::chrono::milliseconds base, std::chrono::milliseconds cap) {
  if (base.count() <= 0 || cap < base) std::abort();
  base_ = base;
  cap_ = cap;
}

std::chrono::milliseconds Backoff::peek() const {
  auto v = base_;
  for (unsigned i = 0; i < step_ && v < cap_; ++i) v *= 2;
  return v < cap_ ? v : cap_;
}

std::chrono::milliseconds Backoff::next(Rng& rng) {
  const auto v = peek();
  if (v < cap_) ++step_;
  return jittered(v, rng);
}

}  // namespace herald::bgp
