#include "daemon/notify.hpp"

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

#include <cstring>
#include <ctime>

namespace herald::daemon::notify {

Result send(std::string_view state) {
  std::string msg(state);
  // unset_environment = 0: later notifications (watchdog, status) need NOTIFY_SOCKET too.
  int r = sd_notify(0, msg.c_str());
  if (r < 0) return unexpected(fmt::format("sd_notify: {}", std::strerror(-r)));
  return r > 0;
}

Result ready() { return send("READY=1"); }

Result status(std::string_view text) {
  std::string line = "STATUS=";
  for (char c : text) line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  return send(line);
}

Result watchdog() { return send("WATCHDOG=1"); }

Result reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
              static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  return send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", usec));
}

Result stopping() { return send("STOPPING=1"); }

Expected<std::optional<std::chrono::microseconds>, std::string> watchdog_interval() {
  std::uint64_t usec = 0;
  int r = sd_watchdog_enabled(0, &usec);
  if (r < 0) return unexpected(fmt::format("sd_watchdog_enabled: {}", std::strerror(-r)));
  if (r == 0) return std::optional<std::chrono::microseconds>{};
  return std::optional(std::chrono::microseconds(usec));
}

}  // namespace herald::daemon::notify
