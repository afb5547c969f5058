// The BFD runtime (RFC 5880 async mode, RFC 5881 single hop): the pure session engines of
// bfd_session.hpp bound to UDP sockets and timers on a thread of their own, with its own
// io_context, so that a burst of BGP UPDATEs or a slow health check on the main loop cannot
// delay a BFD packet or a detection timer.
//
// Sockets: one listener per address family on UDP 3784 (IP_RECVTTL / IPV6_RECVHOPLIMIT, every
// packet whose TTL/Hop Limit is not 255 is dropped, RFC 5881 5) and one socket per session,
// bound to its local address (or the wildcard) and a source port in 49152-65535, sending with
// TTL/Hop Limit 255. Received packets are demultiplexed by Your Discriminator, or by source
// address while the neighbor does not know ours yet (RFC 5881 3).
//
// Threading: add/remove/stop may be called from any thread (they post to the BFD thread);
// sessions()/dropped() return a snapshot under a mutex. Observer callbacks run on the `main`
// io_context's thread, posted, and never after the Runtime is destroyed.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bgp/bfd_session.hpp"
#include "bgp/fsm.hpp"
#include "base/asio.hpp"
#include "bgp/transport_endpoint.hpp"

namespace herald::bgp::bfd {

struct RuntimeSettings {
  // Where to receive Control packets; empty: 0.0.0.0:3784 and [::]:3784.
  std::vector<transport::Endpoint> listen;
  // Seeds discriminators and jitter; nullopt: std::random_device.
  std::optional<std::uint64_t> rng_seed;
};

// One session: `name` is the BGP neighbor's name (log lines, lookups).
struct SessionSpec {
  std::string name;
  IpAddress remote;
  std::optional<IpAddress> local;  // nullopt: the kernel picks the source address per route
  SessionConfig config;
  std::uint16_t remote_port = kControlPort;  // another port only in tests (two runtimes, one host)
};

struct SessionSnapshot {
  std::string name;
  IpAddress remote;
  std::optional<IpAddress> local;
  std::uint16_t source_port = 0;  // 0 while no socket could be opened
  SessionStatus status;
  std::uint64_t send_errors = 0;
};

// Dropped received packets by reason (index: PacketError), for metrics.
using DropCounters = std::array<std::uint64_t, kPacketErrorCount>;

struct RuntimeObserver {
  // A session's local state changed; `status` is the session right after the change.
  std::function<void(std::string_view name, const StateChange& change, const SessionStatus& status)> state_change;
  // `name` is the session's (empty for runtime-wide events).
  std::function<void(LogLevel level, std::string_view name, std::string_view text)> log;
};

class Runtime {
 public:
  Runtime(boost::asio::io_context& main, RuntimeSettings settings, RuntimeObserver observer);
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  // stop()s if still running.
  ~Runtime();

  // Opens the listeners now and starts the BFD thread on the main loop's next turn (so a
  // daemon can drop privileges while it is still single-threaded). Returns the errors met
  // (e.g. a listener that could not bind); sessions still run and can send.
  std::vector<std::string> start();
  // Starts a session (Down, slow rate). A name already present is replaced.
  void add(SessionSpec spec);
  // Sends AdminDown (RFC 5880 6.8.16) and forgets the session; unknown names are ignored.
  void remove(const std::string& name);
  // AdminDown on every session, then closes everything and joins the thread (bounded by
  // `limit`). Idempotent.
  void stop(std::chrono::milliseconds limit = std::chrono::milliseconds(500));

  std::vector<SessionSnapshot> sessions() const;
  std::optional<SessionSnapshot> session(std::string_view name) const;
  DropCounters dropped() const;
  // The listeners' bound endpoints (after start()).
  std::vector<transport::Endpoint> listening() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace herald::bgp::bfd
