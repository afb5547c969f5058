// A minimal HTTP/1.1 server for Prometheus scrapes, on the daemon's Asio loop: GET (or HEAD)
// /metrics answers 200 with the exposition text; any other path is 404, any other method 405,
// a request head larger than the bound 431, garbage 400. One request per connection
// (Connection: close), a deadline per connection and a cap on concurrent connections, so a
// misbehaving scraper cannot hold the daemon's memory or descriptors.
#pragma once
#include "daemon/asio.hpp"
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "bgp/expected.hpp"

namespace herald::daemon::metrics {

class HttpServer : public std::enable_shared_from_this<HttpServer> {
 public:
  struct Options {
    boost::asio::ip::tcp::endpoint endpoint;                   // e.g. 127.0.0.1:9153
    std::size_t max_request_bytes = 8192;                      // request line + headers
    std::chrono::milliseconds timeout = std::chrono::seconds(5);  // whole exchange
    std::size_t max_connections = 16;                          // beyond: accepted and closed
  };
  // Produces the body of a /metrics reply (normally Registry::render).
  using Render = std::function<std::string()>;

  // Binds and listens; the error names the endpoint, e.g.
  // "metrics listener on 127.0.0.1:9153: bind: Address already in use".
  static Expected<std::shared_ptr<HttpServer>, std::string> start(boost::asio::io_context& io,
                                                                Options options, Render render);

  // The bound address (useful with port 0).
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Stops accepting; connections in progress finish or time out.
  void stop();

  // Internal: use start().
  HttpServer(boost::asio::io_context& io, Options options, Render render);

 private:
  class Connection;
  void accept();

  Options options_;
  Render render_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  std::size_t active_ = 0;
};

// Builds the reply for one complete request head (exposed for tests): status line, headers
// (Content-Type, Content-Length, Connection: close) and, except for HEAD, the body.
std::string http_reply(std::string_view request_head, const std::function<std::string()>& render);

}  // namespace herald::daemon::metrics
