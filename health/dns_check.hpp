// The native DNS check kept across runs: one connected UDP socket per configured check, reused
// by every probe until a socket error, with a fresh random message id per probe.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "base/asio.hpp"
#include "health/check_run.hpp"
#include "health/check_spec.hpp"

namespace herald::health {

struct DnsChannel;

/// Runs the DNS check `spec` again and again (the Checker contract: one run at a time).
///
/// UDP: the socket is opened (random ephemeral port, RFC 5452 9.2), connected to the server at
/// the first run and kept; any socket error (ICMP port unreachable, send or receive failure)
/// fails that run and closes it, so the next run opens a new one on a new port. A timeout keeps
/// the socket: the late reply then waits in its queue and the next run drops it. Every probe
/// carries a new random id (RFC 5452 9.1: id, question and source must all match); a reply with
/// another id is dropped and counted (stale_replies), and the run keeps waiting for its own.
/// TCP (configured, or after a truncated UDP reply, RFC 7766 5) uses a new connection per run.
///
/// After a UDP run timed out, and until the next run starts, the checker keeps reading its
/// socket: a late reply to one of the last probes that timed out, that would have passed, is the
/// first sign that a frozen server is back, and is reported through on_late_answer() (once per
/// burst; the reply itself still counts as stale and not as a pass).
class DnsChecker final : public Checker {
 public:
  /// Message ids come from `next_id` (tests pass a known sequence); by default random_dns_id().
  DnsChecker(boost::asio::io_context& io, DnsCheckSpec spec,
             std::function<std::uint16_t()> next_id = {});
  ~DnsChecker() override;
  DnsChecker(const DnsChecker&) = delete;
  DnsChecker& operator=(const DnsChecker&) = delete;

  std::shared_ptr<CheckRun> start(Duration timeout, CheckDone done) override;

  /// Called (from the io_context, between runs) when a late passing answer arrives; see above.
  void on_late_answer(std::function<void()> cb);
  /// Stops reading the socket between runs (before the checker is left alone for good).
  void stop_watching();

  /// UDP replies dropped because their id was not the probe's own (late answers to earlier
  /// probes, or forged ones), over the checker's life.
  std::uint64_t stale_replies() const;
  /// UDP sockets opened over the checker's life: 1 while no socket error happened.
  std::uint64_t sockets_opened() const;

 private:
  std::shared_ptr<DnsChannel> ch_;
};

}  // namespace herald::health
