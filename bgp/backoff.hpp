// Retry pacing for a BGP session: exponential backoff with RFC 4271 section 10 jitter, used for
// the ConnectRetry timer and for IdleHold damping (RFC 4271 8.1.1 DampPeerOscillations).
// Pure: no clock; randomness comes from a seeded engine owned by the caller.
#pragma once
#include <chrono>
#include <cstdint>
#include <random>

namespace herald::bgp {

using Rng = std::mt19937_64;

// Jitter as RFC 4271 section 10 asks: the base value times a factor uniform in [0.75, 1.0].
std::chrono::milliseconds jittered(std::chrono::milliseconds base, Rng& rng);

// Exponential backoff: the n-th call of next() (n from 0) yields jittered(min(base * 2^n, cap)).
// reset() starts again at base. Contract: base > 0 and cap >= base (checked, aborts otherwise).
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap);
  std::chrono::milliseconds next(Rng& rng);
  // The un-jittered value the next call of next() will use.
  std::chrono::milliseconds peek() const;
  void reset() { step_ = 0; }
  // New bounds (a reload); the number of steps taken so far is kept. Same contract as above.
  void retune(std::chrono::milliseconds base, std::chrono::milliseconds cap);
  unsigned step() const { return step_; }

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  unsigned step_ = 0;
};

}  // namespace herald::bgp
