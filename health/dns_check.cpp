// The native DNS check: one query over UDP (TCP on TC or when configured), judged by
// judge_dns_reply. No process is spawned: this is what makes it cheap next to dig. A DnsChecker
// keeps its connected UDP socket across runs: with 200 services checked every 250 ms, opening,
// binding, connecting and closing a socket per query was most of herald's CPU
// (tests/bench/checks.py).
#include "health/dns_check.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>

#include <fmt/format.h>

#include "base/beast_ssl.hpp"  // Asio's OpenSSL layer, for DNS over TLS (herald_health links OpenSSL)
#include "health/dns_wire.hpp"
#include "health/format.hpp"

namespace herald::health {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using std::chrono::steady_clock;

class DnsRun;

/// What the runs of one DNS check share: the spec, the query (built once; only its id changes
/// per probe) and the UDP socket. Owned by the DnsChecker and by the run in flight.
struct DnsChannel {
  DnsChannel(asio::io_context& ctx, DnsCheckSpec s, std::function<std::uint16_t()> ids, bool keep)
      : io(ctx), spec(std::move(s)), next_id(std::move(ids)), keep_open(keep), sock(ctx) {
    if (!next_id) next_id = random_dns_id;
    boost::system::error_code ec;
    server = asio::ip::make_address(spec.server, ec);
    if (ec) setup_error = fmt::format("bad server address '{}'", spec.server);
    else if (auto p = make_dns_probe(spec, 0); !p) setup_error = "bad check: " + p.error();
    else probe = std::move(*p);
    if (!setup_error && spec.transport == DnsTransport::Tls) setup_tls();
  }

  // One TLS client context per check (RFC 7858): the CA store is read once, not per probe.
  void setup_tls() {
    tls.emplace(asio::ssl::context::tls_client);
    boost::system::error_code ec;
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1,
                     ec);
    if (!spec.tls.verify) {
      // RFC 8310 5: the opportunistic profile encrypts without authenticating the server.
      tls->set_verify_mode(asio::ssl::verify_none, ec);
      return;
    }
    if (spec.tls.ca_file.empty()) tls->set_default_verify_paths(ec);
    else tls->load_verify_file(spec.tls.ca_file, ec);
    if (ec) {
      setup_error = fmt::format("cannot load CA {}: {}",
                                spec.tls.ca_file.empty() ? std::string("store") : spec.tls.ca_file, ec.message());
      return;
    }
    tls->set_verify_mode(asio::ssl::verify_peer, ec);
    // RFC 8310 8.1: the strict profile matches the authentication name (or the address) in
    // the certificate; X509_check_host / X509_check_ip through Asio.
    tls->set_verify_callback(asio::ssl::host_name_verification(spec.tls.name.empty() ? spec.server : spec.tls.name), ec);
  }

  asio::io_context& io;
  DnsCheckSpec spec;
  std::function<std::uint16_t()> next_id;
  bool keep_open;  ///< false: the one-shot start_dns_check, which closes the socket at the end
  asio::ip::address server;
  std::optional<std::string> setup_error;
  std::optional<asio::ssl::context> tls;  ///< DNS over TLS checks only
  DnsProbe probe;
  udp::socket sock;
  std::weak_ptr<DnsRun> current;
  std::uint64_t stale = 0;
  std::uint64_t opened = 0;
  // Between runs after a timeout: ids of the last probes that timed out (oldest first), the
  // callback for a late passing answer to one of them, and the generation of the wait on the
  // socket (bumped to disown a wait that was cancelled).
  std::vector<std::uint16_t> timed_out;
  std::function<void()> on_late_answer;
  std::uint64_t watch_generation = 0;
  bool watching = false;

  void stop_watching() {
    if (!watching) return;
    watching = false;
    ++watch_generation;
    boost::system::error_code ignore;
    sock.cancel(ignore);
  }
};

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "health: broken invariant: %s\n", what);
  std::abort();
}

// One receive buffer per thread for every UDP check: a reply is judged in the handler that read
// it, so no two checks of a thread ever use it at once, and 200 checks do not keep 200 x 64 KiB.
std::span<std::uint8_t> udp_receive_buffer() {
  static thread_local std::array<std::uint8_t, 65535> buf;
  return buf;
}

// A receive loop drains what is queued (stale replies first) but never spins: beyond this many
// datagrams in one wake-up the run waits for the next readiness.
constexpr int kMaxDatagramsPerWakeup = 64;

// How many timed-out probes a late answer may belong to.
constexpr std::size_t kTimedOutIdsKept = 8;

// Between runs after a timeout: reads what arrives on the socket. Everything read counts as
// stale (no probe is in flight); a reply to a probe that timed out which would have passed is
// reported once. A socket error closes the socket, as in a run: the next run opens a new one.
void watch_late_answers(const std::shared_ptr<DnsChannel>& ch) {
  if (ch->watching || !ch->sock.is_open() || !ch->on_late_answer || ch->timed_out.empty()) return;
  ch->watching = true;
  const std::uint64_t generation = ++ch->watch_generation;
  ch->sock.async_wait(udp::socket::wait_read, [ch, generation](const boost::system::error_code& e) {
    if (generation != ch->watch_generation) return;  // cancelled: a run took the socket over
    ch->watching = false;
    if (e) return;
    const auto buf = udp_receive_buffer();
    for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
      boost::system::error_code ec;
      const std::size_t n = ch->sock.receive(asio::buffer(buf.data(), buf.size()), 0, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) {
        ch->sock.close(ec);
        return;
      }
      ++ch->stale;
      if (n < 2) continue;
      const std::uint16_t id = static_cast<std::uint16_t>(buf[0] << 8 | buf[1]);
      const auto it = std::find(ch->timed_out.begin(), ch->timed_out.end(), id);
      if (it == ch->timed_out.end()) continue;
      // Judged as its own probe would have been: only the id differs between probes.
      const std::uint16_t current = ch->probe.id;
      ch->probe.id = id;
      const bool pass = judge_dns_reply(buf.first(n), ch->probe).kind == DnsVerdictKind::Pass;
      ch->probe.id = current;
      if (!pass) continue;
      ch->timed_out.clear();  // the rest of the burst says nothing new
      const auto cb = ch->on_late_answer;  // may start a run at once
      cb();
      return;
    }
    watch_late_answers(ch);
  });
}

}  // namespace

class DnsRun final : public CheckRun, public std::enable_shared_from_this<DnsRun> {
 public:
  DnsRun(std::shared_ptr<DnsChannel> ch, Duration timeout, CheckDone done)
      : ch_(std::move(ch)), timeout_(timeout), done_(std::move(done)), tcp_(ch_->io), timer_(ch_->io) {}

  void start() {
    start_ = steady_clock::now();
    if (ch_->setup_error) return post_fail(*ch_->setup_error);
    // RFC 5452 9.1: a fresh unpredictable id per query, so a late or forged reply to an earlier
    // probe cannot pass for this one.
    const std::uint16_t id = ch_->next_id();
    ch_->probe.id = id;
    ch_->probe.wire.at(0) = static_cast<std::uint8_t>(id >> 8);
    ch_->probe.wire.at(1) = static_cast<std::uint8_t>(id & 0xff);

    ch_->stop_watching();  // this run reads the socket now (late replies count as stale)
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->on_timeout();
    });
    if (ch_->spec.transport == DnsTransport::Tcp) start_tcp();
    else if (ch_->spec.transport == DnsTransport::Tls) start_tls();
    else start_udp();
  }

  void cancel() override {
    finished_ = true;
    release();
  }

  /// Reported or cancelled: the channel may start the next run.
  bool finished() const { return finished_; }

 private:
  void post_fail(std::string reason) {
    asio::post(ch_->io, [self = shared_from_this(), r = std::move(reason)]() mutable {
      self->finish(false, std::move(r));
    });
  }

  void start_udp() {
    auto& sock = ch_->sock;
    boost::system::error_code ec;
    if (!sock.is_open()) {
      const udp::endpoint ep(ch_->server, ch_->spec.port);
      sock.open(ep.protocol(), ec);
      // Port 0: the kernel picks a random ephemeral source port (RFC 5452 9.2).
      if (!ec) sock.bind(udp::endpoint(ep.protocol(), 0), ec);
      // A connected socket only accepts datagrams from the server and reports ICMP port
      // unreachable as "connection refused" on the next receive.
      if (!ec) sock.connect(ep, ec);
      // Sends and receives are tried at once and only wait for readiness when they would block.
      if (!ec) sock.non_blocking(true, ec);
      if (ec) return socket_failed(ec, true);
      ++ch_->opened;
    }
    // A query is far below the socket buffer: a non-blocking send completes or fails at once.
    sock.send(asio::buffer(ch_->probe.wire), 0, ec);
    if (ec) return socket_failed(ec, true);
    wait_udp();
  }

  void wait_udp() {
    ch_->sock.async_wait(udp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& e) {
      if (self->finished_) return;
      if (e) return self->socket_failed(e, false);
      self->read_udp();
    });
  }

  void read_udp() {
    const auto buf = udp_receive_buffer();
    for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
      boost::system::error_code ec;
      const std::size_t n = ch_->sock.receive(asio::buffer(buf.data(), buf.size()), 0, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) return wait_udp();
      if (ec) return socket_failed(ec, false);
      const auto reply = buf.first(n);
      if (n >= 2 && (reply[0] << 8 | reply[1]) != ch_->probe.id) {
        // Most often the answer to an earlier probe that timed out: drop it, count it, wait on.
        ++ch_->stale;
        ignored("wrong id");
        continue;
      }
      if (!judge(reply, false)) return;  // finished, or moved to TCP
    }
    wait_udp();
  }

  void start_tcp() {
    const tcp::endpoint ep(ch_->server, ch_->spec.port);
    tcp_.async_connect(ep, [self = shared_from_this()](const boost::system::error_code& e) {
      if (self->finished_) return;
      if (e) return self->finish(false, self->tcp_prefix() + socket_error_reason(e));
      self->send_framed(self->tcp_);
    });
  }

  // DNS over TLS (RFC 7858 3.3): connect, handshake (verifying as the context says), then the
  // same two-byte-length framing as TCP inside the session. A new session per run.
  void start_tls() {
    tls_.emplace(ch_->io, *ch_->tls);
    // SNI with the authentication name (RFC 8310 8.1); an address is not sent (RFC 6066 3).
    // SSL_set_tlsext_host_name spelled out: the macro casts old-style.
    if (!ch_->spec.tls.name.empty())
      SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(ch_->spec.tls.name.c_str()));
    const tcp::endpoint ep(ch_->server, ch_->spec.port);
    tls_phase_ = "tls connect: ";
    tls_->lowest_layer().async_connect(ep, [self = shared_from_this()](const boost::system::error_code& e) {
      if (self->finished_) return;
      if (e) return self->finish(false, self->tls_phase_ + socket_error_reason(e));
      self->tls_phase_ = "tls handshake: ";
      self->tls_->async_handshake(asio::ssl::stream_base::client, [self](const boost::system::error_code& he) {
        if (self->finished_) return;
        if (he) return self->finish(false, self->tls_phase_ + socket_error_reason(he));
        self->tls_phase_ = "tls: ";
        self->send_framed(*self->tls_);
      });
    });
  }

  // RFC 1035 4.2.2 / RFC 7766 8: a two-byte length precedes every message on a stream.
  template <typename Stream>
  void send_framed(Stream& stream) {
    const auto& wire = ch_->probe.wire;
    const auto n = wire.size();
    tcp_out_.assign({static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n & 0xff)});
    tcp_out_.insert(tcp_out_.end(), wire.begin(), wire.end());
    asio::async_write(stream, asio::buffer(tcp_out_), [self = shared_from_this(), &stream](const boost::system::error_code& we, std::size_t) {
      if (self->finished_) return;
      if (we) return self->finish(false, self->stream_prefix() + socket_error_reason(we));
      self->read_framed(stream);
    });
  }

  template <typename Stream>
  void read_framed(Stream& stream) {
    asio::async_read(stream, asio::buffer(len_), [self = shared_from_this(), &stream](const boost::system::error_code& e, std::size_t) {
      if (self->finished_) return;
      if (e) return self->finish(false, self->stream_prefix() + socket_error_reason(e));
      const std::size_t n = static_cast<std::size_t>(self->len_[0]) << 8 | self->len_[1];
      self->tcp_in_.resize(n);
      asio::async_read(stream, asio::buffer(self->tcp_in_), [self, &stream](const boost::system::error_code& re, std::size_t got) {
        if (self->finished_) return;
        if (re) return self->finish(false, self->stream_prefix() + socket_error_reason(re));
        if (self->judge(std::span<const std::uint8_t>(self->tcp_in_.data(), got), true)) self->read_framed(stream);
      });
    });
  }

  // What a failure interrupted: for DNS over TLS the phase (connect, handshake, exchange).
  std::string stream_prefix() const { return tls_ ? tls_phase_ : tcp_prefix(); }

  // Judges one reply; true when the run keeps waiting for another on the same transport.
  bool judge(std::span<const std::uint8_t> reply, bool over_tcp) {
    const DnsVerdict v = judge_dns_reply(reply, ch_->probe);
    switch (v.kind) {
      case DnsVerdictKind::Ignore:
        ignored(v.reason);
        return true;
      case DnsVerdictKind::Truncated:
        if (over_tcp) {
          finish(false, "truncated reply over TCP");
          return false;
        }
        // The UDP socket stays open for the next run; nothing waits on it any more.
        retried_tcp_ = true;
        start_tcp();
        return false;
      case DnsVerdictKind::Fail:
        finish(false, tcp_prefix() + v.reason, &v);
        return false;
      case DnsVerdictKind::Pass: {
        const auto rtt = steady_clock::now() - start_;
        if (auto bad = rtt_violation(rtt, ch_->spec.max_rtt)) finish(false, *bad, &v);
        else finish(true, fmt::format("{}{} in {}", tcp_prefix(), v.reason, format_duration(rtt)), &v);
        return false;
      }
    }
    return false;
  }

  void ignored(std::string why) {
    ++ignored_;
    last_ignored_ = std::move(why);
  }

  std::string tcp_prefix() const { return retried_tcp_ ? "tcp after truncation: " : ""; }

  // A UDP socket error fails the run and closes the socket: the next run opens a new one.
  // `now` errors happened inside start() and must still be reported from the io_context.
  void socket_failed(const boost::system::error_code& ec, bool now) {
    boost::system::error_code ignore;
    ch_->sock.close(ignore);
    if (now) return post_fail(socket_error_reason(ec));
    finish(false, socket_error_reason(ec));
  }

  void on_timeout() {
    if (finished_) return;
    if (ch_->spec.transport == DnsTransport::Udp && !retried_tcp_) {
      auto& ids = ch_->timed_out;
      if (ids.size() == kTimedOutIdsKept) ids.erase(ids.begin());
      ids.push_back(ch_->probe.id);
      timed_out_ = true;
    }
    std::string r = "timeout after " + format_duration(timeout_);
    if (ignored_ > 0) r += fmt::format(" (ignored {} reply(s), last: {})", ignored_, last_ignored_);
    finish(false, stream_prefix() + r);
  }

  // Stops everything this run waits for. The UDP socket stays open for the next run unless
  // the channel is a one-shot one.
  void release() {
    boost::system::error_code ignore;
    timer_.cancel();
    tcp_.close(ignore);
    if (tls_) tls_->lowest_layer().close(ignore);
    if (!ch_->sock.is_open()) return;
    if (ch_->keep_open) ch_->sock.cancel(ignore);
    else ch_->sock.close(ignore);
  }

  // `v`: the verdict on the reply, when there is one (its NSID and SOA serial go with the result).
  void finish(bool pass, std::string reason, const DnsVerdict* v = nullptr) {
    if (finished_) return;
    finished_ = true;
    release();
    if (timed_out_ && ch_->keep_open) watch_late_answers(ch_);
    else if (pass) ch_->timed_out.clear();  // answered in time: older probes are history
    CheckResult r{pass, steady_clock::now() - start_, std::move(reason), false};
    if (v && v->nsid) r.nsid = nsid_text(*v->nsid);
    if (v) r.serial = v->soa_serial;
    auto done = std::move(done_);
    done(std::move(r));
  }

  std::shared_ptr<DnsChannel> ch_;
  Duration timeout_;
  CheckDone done_;
  tcp::socket tcp_;
  std::optional<asio::ssl::stream<tcp::socket>> tls_;  // DNS over TLS runs only
  std::string tls_phase_;
  asio::steady_timer timer_;
  steady_clock::time_point start_;
  std::array<std::uint8_t, 2> len_{};
  std::vector<std::uint8_t> tcp_out_;
  std::vector<std::uint8_t> tcp_in_;
  bool finished_ = false;
  bool retried_tcp_ = false;
  bool timed_out_ = false;
  unsigned ignored_ = 0;
  std::string last_ignored_;
};

namespace {

std::shared_ptr<CheckRun> start_run(const std::shared_ptr<DnsChannel>& ch, Duration timeout, CheckDone done) {
  if (auto prev = ch->current.lock(); prev && !prev->finished())
    broken("a DNS check started while its previous run is still in flight");
  auto run = std::make_shared<DnsRun>(ch, timeout, std::move(done));
  ch->current = run;
  run->start();
  return run;
}

}  // namespace

DnsChecker::DnsChecker(asio::io_context& io, DnsCheckSpec spec, std::function<std::uint16_t()> next_id)
    : ch_(std::make_shared<DnsChannel>(io, std::move(spec), std::move(next_id), true)) {}

void DnsChecker::on_late_answer(std::function<void()> cb) { ch_->on_late_answer = std::move(cb); }

void DnsChecker::stop_watching() {
  ch_->stop_watching();
  ch_->on_late_answer = nullptr;
}

DnsChecker::~DnsChecker() {
  stop_watching();
  // A run still in flight keeps the channel alive and closes nothing; the socket goes with it.
  if (auto run = ch_->current.lock(); !run || run->finished()) {
    boost::system::error_code ignore;
    ch_->sock.close(ignore);
  }
}

std::shared_ptr<CheckRun> DnsChecker::start(Duration timeout, CheckDone done) {
  return start_run(ch_, timeout, std::move(done));
}

std::uint64_t DnsChecker::stale_replies() const { return ch_->stale; }
std::uint64_t DnsChecker::sockets_opened() const { return ch_->opened; }

std::shared_ptr<CheckRun> start_dns_check(asio::io_context& io, const DnsCheckSpec& spec,
                                          Duration timeout, CheckDone done) {
  return start_run(std::make_shared<DnsChannel>(io, spec, std::function<std::uint16_t()>{}, false),
                   timeout, std::move(done));
}

}  // namespace herald::health
