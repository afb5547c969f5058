// The pending replies of "heraldctl drain --wait": each answers once every service it drained
// is withdrawn (its drain-period over, or a drained policy that withdraws) and a settle time
// has passed since, for the routers to converge.
//
// Pure: the controller passes each waited service's view and `now` after every publication of
// the routes (the withdrawal has then been handed to every established peer's session) and
// from one timer at next_wakeup(); no clock is read here.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace herald::daemon {

class DrainWaits {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = std::uint64_t;

  // What the policy says of one waited service now (nullopt: no longer configured).
  struct View {
    bool drained = false;    // out of service (Drained, or Down): false once Up again
    bool announced = false;  // its prefixes are still in the routes
  };
  using Lookup = std::function<std::optional<View>(const std::string& service)>;

  // A wait that is over: ok, or why not (a service no longer drained or gone).
  struct Done {
    Id id = 0;
    bool ok = false;
    std::string message;
  };

  // Starts a wait for `services` at `now`. `withdrawn_before`: every one of them was already
  // withdrawn before this drain (a drain whose period is long over): the next update() answers
  // at once, without a settle time. No services: answered at once too.
  Id add(std::vector<std::string> services, Clock::duration settle, bool withdrawn_before,
         Clock::time_point now);

  // The waits that are over at `now`, removed. Call after each publication and at
  // next_wakeup().
  std::vector<Done> update(const Lookup& lookup, Clock::time_point now);

  // When update() has a settle time to end; nullopt: nothing timed.
  std::optional<Clock::time_point> next_wakeup() const;
  std::size_t pending() const { return waits_.size(); }

 private:
  struct Wait {
    Id id = 0;
    std::vector<std::string> services;
    Clock::duration settle{};
    Clock::time_point started;
    std::optional<Clock::time_point> withdrawn;  // when every service was seen withdrawn
  };
  std::vector<Wait> waits_;
  Id next_id_ = 1;
};

}  // namespace herald::daemon
