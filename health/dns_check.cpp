// The native DNS check: one query over UDP (TCP on TC or when configured), judged by
// judge_dns_reply. No process is spawned: this is what makes it cheap next to dig.
#include <array>
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "health/check_run.hpp"
#include "health/dns_wire.hpp"
#include "health/format.hpp"

namespace health {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using std::chrono::steady_clock;

class DnsRun final : public CheckRun, public std::enable_shared_from_this<DnsRun> {
 public:
  DnsRun(asio::io_context& io, DnsCheckSpec spec, Duration timeout, CheckDone done)
      : io_(io), spec_(std::move(spec)), timeout_(timeout), done_(std::move(done)), udp_(io), tcp_(io), timer_(io) {}

  void start() {
    start_ = steady_clock::now();
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(spec_.server, ec);
    if (ec) return post_fail(fmt::format("bad server address '{}'", spec_.server));
    server_ = addr;
    auto probe = make_dns_probe(spec_, random_dns_id());
    if (!probe) return post_fail("bad check: " + probe.error());
    probe_ = std::move(*probe);

    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->on_timeout();
    });
    if (spec_.transport == DnsTransport::Tcp) start_tcp();
    else start_udp();
  }

  void cancel() override {
    finished_ = true;
    close_all();
  }

 private:
  void post_fail(std::string reason) {
    asio::post(io_, [self = shared_from_this(), r = std::move(reason)]() mutable { self->finish(false, std::move(r)); });
  }

  void start_udp() {
    const udp::endpoint ep(server_, spec_.port);
    boost::system::error_code ec;
    udp_.open(ep.protocol(), ec);
    // Port 0: the kernel picks a random ephemeral source port (RFC 5452 9.2).
    if (!ec) udp_.bind(udp::endpoint(ep.protocol(), 0), ec);
    // A connected socket only accepts datagrams from the server and reports ICMP port
    // unreachable as "connection refused" on the next receive.
    if (!ec) udp_.connect(ep, ec);
    if (ec) return post_fail(socket_error_reason(ec));
    udp_.async_send(asio::buffer(probe_.wire), [self = shared_from_this()](const boost::system::error_code& e, std::size_t) {
      if (self->finished_) return;
      if (e) return self->finish(false, socket_error_reason(e));
      self->receive_udp();
    });
  }

  void receive_udp() {
    udp_.async_receive(asio::buffer(buf_), [self = shared_from_this()](const boost::system::error_code& e, std::size_t n) {
      if (self->finished_) return;
      if (e) return self->finish(false, socket_error_reason(e));
      self->judge(n, false);
    });
  }

  void start_tcp() {
    const tcp::endpoint ep(server_, spec_.port);
    tcp_.async_connect(ep, [self = shared_from_this()](const boost::system::error_code& e) {
      if (self->finished_) return;
      if (e) return self->finish(false, self->tcp_prefix() + socket_error_reason(e));
      // RFC 1035 4.2.2 / RFC 7766 8: a two-byte length precedes every message on TCP.
      const auto n = self->probe_.wire.size();
      self->tcp_out_.assign({static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n & 0xff)});
      self->tcp_out_.insert(self->tcp_out_.end(), self->probe_.wire.begin(), self->probe_.wire.end());
      asio::async_write(self->tcp_, asio::buffer(self->tcp_out_), [self](const boost::system::error_code& we, std::size_t) {
        if (self->finished_) return;
        if (we) return self->finish(false, self->tcp_prefix() + socket_error_reason(we));
        self->read_tcp_length();
      });
    });
  }

  void read_tcp_length() {
    asio::async_read(tcp_, asio::buffer(len_), [self = shared_from_this()](const boost::system::error_code& e, std::size_t) {
      if (self->finished_) return;
      if (e) return self->finish(false, self->tcp_prefix() + socket_error_reason(e));
      const std::size_t n = static_cast<std::size_t>(self->len_[0]) << 8 | self->len_[1];
      asio::async_read(self->tcp_, asio::buffer(self->buf_.data(), n), [self](const boost::system::error_code& re, std::size_t got) {
        if (self->finished_) return;
        if (re) return self->finish(false, self->tcp_prefix() + socket_error_reason(re));
        self->judge(got, true);
      });
    });
  }

  void judge(std::size_t n, bool over_tcp) {
    const DnsVerdict v = judge_dns_reply(std::span<const std::uint8_t>(buf_.data(), n), probe_);
    switch (v.kind) {
      case DnsVerdictKind::Ignore:
        ++ignored_;
        last_ignored_ = v.reason;
        return over_tcp ? read_tcp_length() : receive_udp();
      case DnsVerdictKind::Truncated:
        if (over_tcp) return finish(false, "truncated reply over TCP");
        retried_tcp_ = true;
        udp_.close();
        return start_tcp();
      case DnsVerdictKind::Fail:
        return finish(false, tcp_prefix() + v.reason);
      case DnsVerdictKind::Pass: {
        const auto rtt = steady_clock::now() - start_;
        if (auto bad = rtt_violation(rtt, spec_.max_rtt)) return finish(false, *bad);
        return finish(true, fmt::format("{}{} in {}", tcp_prefix(), v.reason, format_duration(rtt)));
      }
    }
  }

  std::string tcp_prefix() const { return retried_tcp_ ? "tcp after truncation: " : ""; }

  void on_timeout() {
    if (finished_) return;
    std::string r = "timeout after " + format_duration(timeout_);
    if (ignored_ > 0) r += fmt::format(" (ignored {} reply(s), last: {})", ignored_, last_ignored_);
    finish(false, tcp_prefix() + r);
  }

  void close_all() {
    boost::system::error_code ignore;
    timer_.cancel();
    udp_.close(ignore);
    tcp_.close(ignore);
  }

  void finish(bool pass, std::string reason) {
    if (finished_) return;
    finished_ = true;
    close_all();
    auto done = std::move(done_);
    done(CheckResult{pass, steady_clock::now() - start_, std::move(reason), false});
  }

  asio::io_context& io_;
  DnsCheckSpec spec_;
  Duration timeout_;
  CheckDone done_;
  asio::ip::address server_;
  DnsProbe probe_;
  udp::socket udp_;
  tcp::socket tcp_;
  asio::steady_timer timer_;
  steady_clock::time_point start_;
  // Left uninitialised on purpose: a receive reports how many bytes it wrote and only those are
  // read. Zeroing 64 KiB for every check was ~9% of herald's CPU with 200 services checked
  // every 250 ms (tests/bench/checks.py).
  std::array<std::uint8_t, 65535> buf_;
  std::array<std::uint8_t, 2> len_{};
  std::vector<std::uint8_t> tcp_out_;
  bool finished_ = false;
  bool retried_tcp_ = false;
  unsigned ignored_ = 0;
  std::string last_ignored_;
};

}  // namespace

std::shared_ptr<CheckRun> start_dns_check(asio::io_context& io, const DnsCheckSpec& spec,
                                          Duration timeout, CheckDone done) {
  auto run = std::make_shared<DnsRun>(io, spec, timeout, std::move(done));
  run->start();
  return run;
}

}  // namespace health
