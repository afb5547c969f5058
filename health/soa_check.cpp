// Zone freshness check: one SOA query to the local server and, when a primary is named, one to
// the primary, at the same time; judge_soa (soa_serial.hpp) compares what they answered.
// Each query is a one-shot native DNS check (UDP, TCP on truncation), so the reply is judged by
// the same code as every DNS check; a SOA check every few seconds does not need kept sockets.
// What a SoaChecker keeps across runs is when the local serial last changed (max-unchanged).
#include <chrono>
#include <memory>

#include "health/check_run.hpp"
#include "health/soa_check.hpp"
#include "health/soa_serial.hpp"

namespace herald::health {

namespace {

using std::chrono::steady_clock;

// The query for the zone's SOA on `server`: authoritative (RD clear), EDNS, an answer required.
DnsCheckSpec soa_query(const SoaCheckSpec& spec, const std::string& server, std::uint16_t port) {
  DnsCheckSpec d;
  d.server = server;
  d.port = port;
  d.qname = spec.zone;
  d.qtype = "SOA";
  d.recursion_desired = false;
  d.edns_udp_size = 1232;
  d.require_answer = true;
  return d;
}

SoaAnswer answer_of(const CheckResult& r) {
  if (r.pass && r.serial) return {r.serial, {}};
  return {std::nullopt, r.pass ? std::string("no SOA serial in the answer") : r.reason};
}

class SoaRun final : public CheckRun, public std::enable_shared_from_this<SoaRun> {
 public:
  // `watch`: the checker's, kept across runs (max-unchanged); null for a one-shot run.
  SoaRun(boost::asio::io_context& io, SoaCheckSpec spec, Duration timeout, std::shared_ptr<SerialWatch> watch,
         CheckDone done)
      : io_(io), spec_(std::move(spec)), timeout_(timeout), watch_(std::move(watch)), done_(std::move(done)) {}

  void start() {
    start_ = steady_clock::now();
    std::weak_ptr<SoaRun> weak = weak_from_this();
    local_run_ = start_dns_check(io_, soa_query(spec_, spec_.server, spec_.port), timeout_,
                                 [weak](CheckResult r) {
                                   if (auto self = weak.lock()) self->got(false, std::move(r));
                                 });
    if (spec_.primary.empty()) return;
    primary_run_ = start_dns_check(io_, soa_query(spec_, spec_.primary, spec_.primary_port), timeout_,
                                   [weak](CheckResult r) {
                                     if (auto self = weak.lock()) self->got(true, std::move(r));
                                   });
  }

  void cancel() override {
    finished_ = true;
    if (local_run_) local_run_->cancel();
    if (primary_run_) primary_run_->cancel();
  }

 private:
  // Both queries report once each (at the latest at the timeout); the verdict waits for both.
  void got(bool from_primary, CheckResult r) {
    if (finished_) return;
    (from_primary ? primary_ : local_) = answer_of(r);
    if (!local_ || (!spec_.primary.empty() && !primary_)) return;
    finished_ = true;
    Duration unchanged{0};
    if (watch_ && local_->serial) unchanged = watch_->observe(*local_->serial, steady_clock::now());
    CheckResult out = judge_soa(spec_, *local_, primary_, std::chrono::system_clock::now(), unchanged);
    out.latency = steady_clock::now() - start_;
    auto done = std::move(done_);
    done(std::move(out));
  }

  boost::asio::io_context& io_;
  SoaCheckSpec spec_;
  Duration timeout_;
  std::shared_ptr<SerialWatch> watch_;
  CheckDone done_;
  steady_clock::time_point start_;
  std::shared_ptr<CheckRun> local_run_, primary_run_;
  std::optional<SoaAnswer> local_, primary_;
  bool finished_ = false;
};

}  // namespace

std::shared_ptr<CheckRun> start_soa_check(boost::asio::io_context& io, const SoaCheckSpec& spec,
                                          Duration timeout, CheckDone done) {
  return make_started<SoaRun>(io, spec, timeout, std::make_shared<SerialWatch>(), std::move(done));
}

SoaChecker::SoaChecker(boost::asio::io_context& io, SoaCheckSpec spec)
    : io_(io), spec_(std::move(spec)), watch_(std::make_shared<SerialWatch>()) {}

std::shared_ptr<CheckRun> SoaChecker::start(Duration timeout, CheckDone done) {
  return make_started<SoaRun>(io_, spec_, timeout, watch_, std::move(done));
}

}  // namespace herald::health
