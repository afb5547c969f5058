#include "bgp/transport_connection.hpp"


#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace herald::bgp::transport {

namespace ip = asio::ip;
using boost::system::error_code;

Connection::Connection(asio::io_context& io, ConnectionHandlers handlers, FaultInjector fault,
                       std::chrono::milliseconds flush_limit, ip::tcp::socket socket)
    : io_(io),
      socket_(std::move(socket)),
      flush_timer_(io),
      handlers_(std::move(handlers)),
      fault_(std::move(fault)),
      flush_limit_(flush_limit) {}

std::shared_ptr<Connection> Connection::connect(asio::io_context& io, const ConnectParams& params,
                                                ConnectionHandlers handlers, FaultInjector fault,
                                                std::chrono::milliseconds flush_limit) {
  auto c = std::make_shared<Connection>(io, std::move(handlers), std::move(fault), flush_limit,
                                        ip::tcp::socket(io));
  c->peer_ = params.remote;
  c->start_connect(params);
  return c;
}

std::shared_ptr<Connection> Connection::adopt(ip::tcp::socket socket, const SocketOptions& options,
                                              ConnectionHandlers handlers, FaultInjector fault,
                                              std::chrono::milliseconds flush_limit) {
  auto& io = static_cast<asio::io_context&>(socket.get_executor().context());
  auto c = std::make_shared<Connection>(io, std::move(handlers), std::move(fault), flush_limit,
                                        std::move(socket));
  c->record_endpoints();
  if (c->remote_) c->peer_ = c->remote_->address;
  error_code ec;
  const auto local = c->socket_.local_endpoint(ec);
  if (ec) {
    c->fail(fmt::format("accepted socket from {}: {}", c->peer_.to_string(), ec.message()));
    return c;
  }
  SocketShape shape{local.protocol() == ip::tcp::v6(), c->peer_.is_v4()};
  // MD5 was keyed on the listener; the accepted socket inherits it.
  SocketOptions rest = options;
  rest.md5.reset();
  if (auto e = apply_socket_options(c->socket_.native_handle(), shape, rest, c->peer_, c->fault_)) {
    c->fail(e->what);
    return c;
  }
  c->state_ = State::Open;
  c->start_read();
  return c;
}

void Connection::start_connect(const ConnectParams& params) {
  const bool v6 = !params.remote.is_v4();
  error_code ec;
  socket_.open(v6 ? ip::tcp::v6() : ip::tcp::v4(), ec);
  if (ec) return fail(fmt::format("socket for {}: {}", params.remote.to_string(), ec.message()));
  const int fd = socket_.native_handle();
  // RFC 2385: the key must be in place before the SYN leaves.
  if (params.options.md5) {
    if (auto e = set_md5_key(fd, v6, params.remote, *params.options.md5, fault_)) return fail(e->what);
  }
  if (auto e = apply_socket_options(fd, SocketShape{v6, !v6}, params.options, params.remote, fault_)) {
    return fail(e->what);
  }
  if (params.local) {
    if (params.local->is_v4() != params.remote.is_v4()) {
      return fail(fmt::format("bind {} for {}: address family differs from the peer's",
                              params.local->to_string(), params.remote.to_string()));
    }
    int err = injected("bind");
    if (err == 0) {
      socket_.bind(ip::tcp::endpoint(to_asio(*params.local), 0), ec);
      if (ec) err = ec.value();
    }
    if (err != 0) {
      return fail(fmt::format("bind {} for {}: {}", params.local->to_string(), params.remote.to_string(),
                              std::strerror(err)));
    }
  }
  if (int err = injected("connect"); err != 0) {
    return fail(fmt::format("connect to {}: {}", params.remote.to_string(), std::strerror(err)));
  }
  socket_.async_connect(ip::tcp::endpoint(to_asio(params.remote), params.port),
                        [self = shared_from_this()](const error_code& e) { self->on_connect(e); });
}

void Connection::on_connect(const error_code& ec) {
  if (state_ != State::Connecting) return;  // closed or aborted meanwhile
  if (ec) return fail(fmt::format("connect to {}: {}", peer_.to_string(), ec.message()));
  state_ = State::Open;
  record_endpoints();
  start_read();
  if (handlers_.connected) handlers_.connected();
  // Anything queued while connecting goes out now.
  if (state_ == State::Open || state_ == State::Closing) start_write();
}

void Connection::record_endpoints() {
  error_code ec;
  auto l = socket_.local_endpoint(ec);
  if (!ec) local_ = from_asio(l);
  auto r = socket_.remote_endpoint(ec);
  if (!ec) remote_ = from_asio(r);
}

void Connection::start_read() {
  socket_.async_read_some(
      asio::buffer(read_buf_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
        if (self->state_ == State::Closing) {
          // Closing: what the peer says no longer matters, but reading it keeps the kernel from
          // answering our close() with a reset that could destroy the NOTIFICATION in flight.
          if (ec) {
            self->peer_done_ = true;
            return self->maybe_finish_close();
          }
          return self->start_read();
        }
        if (self->state_ != State::Open) return;
        int err = ec ? 0 : self->injected("read");
        if (ec == asio::error::eof) return self->fail("connection closed by peer");
        if (ec) return self->fail(fmt::format("read from {}: {}", self->peer_.to_string(), ec.message()));
        if (err != 0) return self->fail(fmt::format("read from {}: {}", self->peer_.to_string(), std::strerror(err)));
        if (self->handlers_.bytes) self->handlers_.bytes(std::span<const std::uint8_t>(self->read_buf_.data(), n));
        if (self->state_ == State::Open || self->state_ == State::Closing) self->start_read();
      });
}

void Connection::send(Bytes bytes) {
  if (state_ != State::Connecting && state_ != State::Open) return;
  if (bytes.empty()) return;
  queued_bytes_ += bytes.size();
  queue_.push_back(std::move(bytes));
  if (state_ == State::Open) post_write();
}

void Connection::post_write() {
  // The write starts from the event loop, not from inside send(): every message the caller
  // queues in the same handler (an IPv4 and an IPv6 withdrawal from one set_routes, say) then
  // leaves in one gathered write, usually one TCP segment, instead of the first alone and the
  // rest one loop turn later.
  if (writing_ || write_posted_) return;
  write_posted_ = true;
  asio::post(io_, [self = shared_from_this()] {
    self->write_posted_ = false;
    if (self->state_ == State::Open) self->start_write();
  });
}

void Connection::start_write() {
  if (writing_ || queue_.empty()) {
    if (!writing_ && queue_.empty() && state_ == State::Closing) half_close();
    return;
  }
  // Everything queued so far goes out in one gathered write, in order.
  in_flight_.clear();
  std::vector<asio::const_buffer> bufs;
  while (!queue_.empty()) {
    in_flight_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  bufs.reserve(in_flight_.size());
  for (const auto& b : in_flight_) bufs.emplace_back(asio::buffer(b));
  writing_ = true;
  if (int err = injected("write"); err != 0) {
    // Report like a failed write: asynchronously, as the kernel would.
    asio::post(io_, [self = shared_from_this(), err] {
      self->writing_ = false;
      if (self->state_ == State::Open)
        self->fail(fmt::format("write to {}: {}", self->peer_.to_string(), std::strerror(err)));
      else if (self->state_ == State::Closing)
        self->finish_close();  // the NOTIFICATION cannot get out: nothing left to wait for
    });
    return;
  }
  asio::async_write(socket_, bufs, [self = shared_from_this()](const error_code& ec, std::size_t n) {
    self->writing_ = false;
    self->queued_bytes_ -= std::min(self->queued_bytes_, n);
    self->in_flight_.clear();
    if (self->state_ == State::Closed) return;
    if (ec) {
      if (self->state_ == State::Closing) return self->finish_close();
      return self->fail(fmt::format("write to {}: {}", self->peer_.to_string(), ec.message()));
    }
    if (self->state_ == State::Open && self->handlers_.sent) self->handlers_.sent(self->queue_.empty());
    if (self->state_ == State::Closed) return;  // the handler may have closed or aborted
    self->start_write();
  });
}

void Connection::fail(const std::string& reason) {
  if (state_ == State::Closed || state_ == State::Closing) return;
  state_ = State::Closed;
  error_code ignored;
  socket_.close(ignored);
  flush_timer_.cancel();
  auto closed = std::move(handlers_.closed);
  handlers_ = {};
  // Never call back from inside a call the owner made (connect/adopt/send): post it.
  if (closed) asio::post(io_, [closed = std::move(closed), reason] { closed(reason); });
}

void Connection::close(std::function<void()> done) {
  if (state_ == State::Closing) {
    // A second close only adds a completion.
    if (done) {
      auto prev = std::move(on_done_);
      on_done_ = [prev = std::move(prev), done = std::move(done)] {
        if (prev) prev();
        done();
      };
    }
    return;
  }
  handlers_ = {};
  on_done_ = std::move(done);
  if (state_ == State::Closed || state_ == State::Connecting) {
    // Nothing can be flushed on a socket that never connected.
    state_ = State::Closing;
    return finish_close();
  }
  state_ = State::Closing;
  flush_timer_.expires_after(flush_limit_);
  flush_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec && self->state_ == State::Closing) self->finish_close();
  });
  start_write();
}

void Connection::abort() {
  handlers_ = {};
  on_done_ = nullptr;
  queue_.clear();
  state_ = State::Closed;
  flush_timer_.cancel();
  error_code ignored;
  socket_.close(ignored);
}

void Connection::half_close() {
  if (sent_fin_) return;
  sent_fin_ = true;
  error_code ignored;
  // RFC 4271 8.2.2: the NOTIFICATION precedes the close. A FIN after the last byte lets the
  // peer read it; we then wait (bounded by the flush timer) for the peer to close its side.
  socket_.shutdown(ip::tcp::socket::shutdown_send, ignored);
  maybe_finish_close();
}

void Connection::maybe_finish_close() {
  if (sent_fin_ && peer_done_) finish_close();
}

void Connection::finish_close() {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  flush_timer_.cancel();
  queue_.clear();
  error_code ignored;
  socket_.close(ignored);
  if (auto done = std::move(on_done_)) {
    on_done_ = nullptr;
    asio::post(io_, std::move(done));
  }
}

}  // namespace herald::bgp::transport
