// One BGP TCP connection over Boost.Asio: active connect (bind to a local address first, MD5 and
// GTSM set before the SYN), or adoption of a socket the listener accepted. Bytes read are handed
// out as they arrive; bytes to send are queued and written in order without ever blocking.
//
// Contract:
// - Handlers run on the io_context's thread, never from inside a call to this class (a failure
//   found while connecting is posted, not called back in place).
// - `closed` is called at most once, when the connection ends by itself (connect failure, EOF,
//   read or write error); after the owner calls close() or abort() no handler runs again.
// - close() writes what is queued (e.g. a NOTIFICATION), sends FIN, and discards what the peer
//   still sends until it closes too, so the kernel never answers with a reset that would drop
//   the NOTIFICATION; it never takes longer than the flush limit given at construction. `done`
//   runs when the socket is closed.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bgp/transport_endpoint.hpp"
#include "bgp/transport_socket_options.hpp"
#include "bgp/types.hpp"

namespace herald::bgp::transport {

namespace asio = boost::asio;

// Events of one connection, delivered to its owner.
struct ConnectionHandlers {
  std::function<void()> connected;                                // active connect completed
  std::function<void(std::span<const std::uint8_t>)> bytes;       // data read, in order
  std::function<void(const std::string& reason)> closed;          // the connection ended
  std::function<void(bool drained)> sent;  // a write completed; drained: nothing left queued
};

// Where and how to connect actively.
struct ConnectParams {
  IpAddress remote;
  std::uint16_t port = 179;
  std::optional<IpAddress> local;  // bound (port 0) before connect when set
  SocketOptions options;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // How long close() may spend writing what is still queued before it drops it.
  static constexpr std::chrono::milliseconds kDefaultFlushLimit{2000};

  // Starts an active connection. Failures (socket options, bind, connect) arrive through
  // handlers.closed with a reason such as "TCP_MD5SIG on 192.0.2.1: Operation not permitted".
  static std::shared_ptr<Connection> connect(asio::io_context& io, const ConnectParams& params,
                                             ConnectionHandlers handlers, FaultInjector fault = {},
                                             std::chrono::milliseconds flush_limit = kDefaultFlushLimit);

  // Takes over an accepted socket (already connected) and starts reading. Socket options are
  // applied first; a failure there is posted to handlers.closed.
  static std::shared_ptr<Connection> adopt(asio::ip::tcp::socket socket, const SocketOptions& options,
                                           ConnectionHandlers handlers, FaultInjector fault = {},
                                           std::chrono::milliseconds flush_limit = kDefaultFlushLimit);

  // Queues bytes for writing after everything queued before. Ignored once closing.
  void send(Bytes bytes);
  // Flushes the queue (bounded by the flush limit), then closes. No handler runs afterwards
  // except `done`, which is called exactly once (also if the socket was already gone).
  void close(std::function<void()> done = {});
  // Closes at once, dropping queued bytes. No handler runs afterwards.
  void abort();

  bool is_open() const { return state_ == State::Connecting || state_ == State::Open; }
  // Addresses of the connected socket (nullopt before connect completes).
  std::optional<Endpoint> local_endpoint() const { return local_; }
  std::optional<Endpoint> remote_endpoint() const { return remote_; }
  std::size_t queued_bytes() const { return queued_bytes_; }

  Connection(asio::io_context& io, ConnectionHandlers handlers, FaultInjector fault,
             std::chrono::milliseconds flush_limit, asio::ip::tcp::socket socket);

 private:
  enum class State { Connecting, Open, Closing, Closed };

  void start_connect(const ConnectParams& params);
  void on_connect(const boost::system::error_code& ec);
  void record_endpoints();
  void start_read();
  void start_write();
  void post_write();  // start_write() from the event loop, once, so one handler's sends coalesce
  void fail(const std::string& reason);  // ends the connection by itself: `closed` handler
  void half_close();          // all written: send FIN, wait for the peer's
  void maybe_finish_close();  // both directions done
  void finish_close();        // closes the socket; runs `done`
  int injected(std::string_view op) const { return fault_ ? fault_(op) : 0; }

  asio::io_context& io_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer flush_timer_;
  ConnectionHandlers handlers_;
  FaultInjector fault_;
  std::chrono::milliseconds flush_limit_;
  State state_ = State::Connecting;
  IpAddress peer_;  // for error texts
  std::optional<Endpoint> local_;
  std::optional<Endpoint> remote_;
  std::deque<Bytes> queue_;            // waiting to be written
  std::vector<Bytes> in_flight_;       // being written by one async_write
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool write_posted_ = false;  // a start_write() is posted and has not run yet
  bool sent_fin_ = false;   // closing: our side is shut down after the last byte
  bool peer_done_ = false;  // closing: the peer closed its side (or the socket failed)
  std::function<void()> on_done_;
  std::array<std::uint8_t, 65536> read_buf_{};
};

}  // namespace herald::bgp::transport
