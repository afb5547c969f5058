// Keeping an idle daemon asleep. Asio's reactor keeps one kernel timer (a timerfd) armed for the
// earliest deadline it was told about; cancelling a wait, or moving it later, does not re-arm
// it, so the process wakes up at the stale deadline to find nothing to do. It re-arms only when
// a wait becomes the first of its timer queue. ReactorSettle::settle() makes that happen on a
// timer whose queue (one per clock type) is always empty, then cancels the wait at once: the
// kernel timer then follows the earliest live deadline. One system call; call it after
// cancelling or postponing waits when nothing else is bound to wake the process sooner.
#pragma once
#include <chrono>

#include "base/asio.hpp"

namespace herald {

class ReactorSettle {
 public:
  explicit ReactorSettle(boost::asio::io_context& io) : timer_(io) {}

  void settle() {
    timer_.expires_after(std::chrono::hours(24));
    timer_.async_wait([](const boost::system::error_code&) {});
    timer_.cancel();
  }

 private:
  // A clock of its own gives the timer a queue of its own; steady_clock in every other respect.
  struct Clock : std::chrono::steady_clock {};
  boost::asio::basic_waitable_timer<Clock> timer_;
};

}  // namespace herald
