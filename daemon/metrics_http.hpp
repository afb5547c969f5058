// A minimal HTTP/1.1 server for Prometheus scrapes, on the daemon's Asio loop: GET (or HEAD)
// /metrics answers 200 with the exposition text; any other path is 404, any other method 405,
// a request head larger than the bound 431, one Boost.Beast's parser refuses 400. One request
// per connection (Connection: close). Connections are kept by a daemon::Listener
// (daemon/listener.hpp, a ConnectionTable): the request head must arrive within `timeout` of connecting
// and the reply be taken within `timeout` again, and a full table closes an idle connection to
// make room (of the address holding the most, its oldest), so clients that connect and say
// nothing cannot block the scrapes nor hold the daemon's memory or descriptors. Every
// connection dropped so is reported to `on_drop`.
// All member functions must be called on the io_context's thread; call stop() before the
// io_context is destroyed (open connections and the server keep each other alive until then).
#pragma once
#include "base/asio.hpp"
#include "daemon/listener.hpp"
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/expected.hpp"

namespace herald::daemon::metrics {

class HttpServer : public std::enable_shared_from_this<HttpServer> {
 public:
  struct Options {
    boost::asio::ip::tcp::endpoint endpoint;                   // e.g. 127.0.0.1:9153
    std::size_t max_request_bytes = 8192;                      // request line + headers
    std::chrono::milliseconds timeout = std::chrono::seconds(3);  // for the head; for the reply
    std::size_t max_connections = 16;  // beyond: an idle one is closed (see above)
    // Told about every connection the server drops for want of room or time, with a sentence
    // saying why (ConnectionTable::explain) and its address.
    std::function<void(daemon::DropReason, const std::string& why, const boost::asio::ip::address&)> on_drop;
  };
  // Produces the body of a /metrics reply (normally Registry::render).
  using Render = std::function<std::string()>;

  // Binds and listens; the error names the endpoint, e.g.
  // "metrics listener on 127.0.0.1:9153: bind: Address already in use".
  static Expected<std::shared_ptr<HttpServer>, std::string> start(boost::asio::io_context& io,
                                                                Options options, Render render);

  // The bound address (useful with port 0).
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Stops accepting and closes every connection.
  void stop();
  std::size_t connections() const { return listener_.size(); }
  // Connections dropped since start, by reason.
  const daemon::DropCounts& dropped() const { return listener_.dropped(); }

  // Internal: use start().
  HttpServer(boost::asio::io_context& io, Options options, Render render);

 private:
  class Connection;
  using Id = daemon::ConnectionTable::Id;

  Options options_;
  Render render_;
  daemon::Listener<boost::asio::ip::tcp, Connection, boost::asio::ip::address> listener_;
};

// Builds the reply for one request head (exposed for tests; the final empty line may be left
// out), parsed by Boost.Beast: status line, headers (Content-Type, Content-Length,
// Connection: close) and, except for HEAD, the body.
std::string http_reply(std::string_view request_head, const std::function<std::string()>& render);

}  // namespace herald::daemon::metrics
