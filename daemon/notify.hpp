// The systemd service-manager notification protocol (sd_notify(3)) for Type=notify units:
// readiness, status text, watchdog keep-alives, reload and stop announcements. A thin layer over
// libsystemd; outside systemd (no NOTIFY_SOCKET) every call is a harmless no-op.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.hpp"

namespace herald::daemon::notify {

// Result of one notification: true when a message was sent, false when there is no service
// manager to tell (NOTIFY_SOCKET unset); an error text when sending failed.
using Result = Expected<bool, std::string>;

// Sends raw "KEY=VALUE" lines (newline-separated), e.g. "READY=1\nSTATUS=announcing".
Result send(std::string_view state);

// Start-up is complete: peers configured, control socket listening (READY=1).
Result ready();
// One-line status shown by `systemctl status` (STATUS=...); newlines become spaces.
Result status(std::string_view text);
// Watchdog keep-alive (WATCHDOG=1); send at half the interval watchdog_interval() returns.
Result watchdog();
// A configuration reload begins (RELOADING=1 with MONOTONIC_USEC, as systemd 253's
// Type=notify-reload requires); send ready() when it is done.
Result reloading();
// Shutdown begins (STOPPING=1).
Result stopping();

// The watchdog interval systemd expects keep-alives within (WatchdogSec=), or nullopt when the
// watchdog is off for this process; an error text when the environment is malformed.
Expected<std::optional<std::chrono::microseconds>, std::string> watchdog_interval();

}  // namespace herald::daemon::notify
