// TCP connect check: passes when the three-way handshake completes before the timeout.
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "health/check_run.hpp"
#include "health/format.hpp"

namespace herald::health {

namespace {

namespace asio = boost::asio;
using std::chrono::steady_clock;

class TcpRun final : public CheckRun, public std::enable_shared_from_this<TcpRun> {
 public:
  TcpRun(asio::io_context& io, TcpCheckSpec spec, Duration timeout, CheckDone done)
      : io_(io), spec_(std::move(spec)), timeout_(timeout), done_(std::move(done)), sock_(io), timer_(io) {}

  void start() {
    start_ = steady_clock::now();
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(spec_.address, ec);
    if (ec) {
      asio::post(io_, [self = shared_from_this()] { self->finish(false, fmt::format("bad address '{}'", self->spec_.address)); });
      return;
    }
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->finish(false, "timeout after " + format_duration(self->timeout_));
    });
    sock_.async_connect({addr, spec_.port}, [self = shared_from_this()](const boost::system::error_code& e) {
      if (e) return self->finish(false, socket_error_reason(e));
      self->finish(true, "connected in " + format_duration(steady_clock::now() - self->start_));
    });
  }

  void cancel() override {
    finished_ = true;
    close();
  }

 private:
  void close() {
    boost::system::error_code ignore;
    timer_.cancel();
    sock_.close(ignore);
  }

  void finish(bool pass, std::string reason) {
    if (finished_) return;
    finished_ = true;
    close();
    auto done = std::move(done_);
    done(CheckResult{pass, steady_clock::now() - start_, std::move(reason), false});
  }

  asio::io_context& io_;
  TcpCheckSpec spec_;
  Duration timeout_;
  CheckDone done_;
  asio::ip::tcp::socket sock_;
  asio::steady_timer timer_;
  steady_clock::time_point start_;
  bool finished_ = false;
};

}  // namespace

std::shared_ptr<CheckRun> start_tcp_check(asio::io_context& io, const TcpCheckSpec& spec,
                                          Duration timeout, CheckDone done) {
  return make_started<TcpRun>(io, spec, timeout, std::move(done));
}

}  // namespace herald::health
