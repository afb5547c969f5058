// Running one check asynchronously on an Asio io_context. Every check is cut at its timeout and
// reports exactly once; nothing here blocks the loop or forks except the exec check.
#pragma once
#include <functional>
#include <memory>
#include <utility>

#include "base/asio.hpp"

#include "health/check_spec.hpp"

namespace herald::health {

/// Receives the result of one check run, always from the io_context (never from start_check).
using CheckDone = std::function<void(CheckResult)>;

/// A check in flight. cancel() stops it (closing sockets, killing the exec process group) and
/// guarantees `done` is not called afterwards; the run still reaps its child in the background.
class CheckRun {
 public:
  virtual ~CheckRun() = default;
  virtual void cancel() = 0;
};

/// Starts `spec` now; it fails with "timeout after <timeout>" if it has not finished by then.
std::shared_ptr<CheckRun> start_check(boost::asio::io_context& io, const CheckSpec& spec,
                                      Duration timeout, CheckDone done);

/// Runs one configured check again and again, keeping what its runs can share (the DNS check's
/// connected UDP socket and its query). One run at a time: start the next run only after the
/// previous one reported or was cancelled (the scheduler never overlaps rounds); starting one
/// while another is in flight is a bug and aborts. Runs in flight outlive their checker safely.
class Checker {
 public:
  virtual ~Checker() = default;
  /// Starts one run now, like start_check: cut at `timeout`, reports once from the io_context.
  virtual std::shared_ptr<CheckRun> start(Duration timeout, CheckDone done) = 0;
};

/// The checker of `spec`: a DnsChecker (dns_check.hpp) for DNS checks, a ProcessChecker
/// (process_check.hpp) for process checks, a SoaChecker (soa_check.hpp) for SOA checks; the
/// other kinds start every run afresh (start_check).
std::unique_ptr<Checker> make_checker(boost::asio::io_context& io, const CheckSpec& spec);

// One starter per kind (used by start_check; exposed for the driver and the benchmark).
std::shared_ptr<CheckRun> start_dns_check(boost::asio::io_context& io, const DnsCheckSpec& spec,
                                          Duration timeout, CheckDone done);
std::shared_ptr<CheckRun> start_tcp_check(boost::asio::io_context& io, const TcpCheckSpec& spec,
                                          Duration timeout, CheckDone done);
std::shared_ptr<CheckRun> start_exec_check(boost::asio::io_context& io, const ExecCheckSpec& spec,
                                           Duration timeout, CheckDone done);
std::shared_ptr<CheckRun> start_maintenance_check(boost::asio::io_context& io,
                                                  const MaintenanceFileSpec& spec, CheckDone done);
/// The zone freshness check: SOA of the local server and of the primary (soa_serial.hpp).
std::shared_ptr<CheckRun> start_soa_check(boost::asio::io_context& io, const SoaCheckSpec& spec,
                                          Duration timeout, CheckDone done);
/// One look at the process (pidfile, then pidfd): passes when it lives; watches nothing after.
std::shared_ptr<CheckRun> start_process_check(boost::asio::io_context& io,
                                              const ProcessCheckSpec& spec, CheckDone done);

/// Makes a run of type R from `args`, starts it and returns it (for cancel()): the starters of
/// the kinds whose runs need nothing shared (TCP, exec, and any new one) are this one line.
template <typename R, typename... Args>
std::shared_ptr<CheckRun> make_started(Args&&... args) {
  auto run = std::make_shared<R>(std::forward<Args>(args)...);
  run->start();
  return run;
}

/// The text of a socket error as a reason: "connection refused", "network unreachable", ...
std::string socket_error_reason(const boost::system::error_code& ec);

}  // namespace herald::health
