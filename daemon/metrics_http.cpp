#include "daemon/metrics_http.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <vector>

#include "base/beast.hpp"
#include "daemon/metrics.hpp"

namespace herald::daemon::metrics {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

namespace {

std::string response(std::string_view status, std::string_view content_type,
                     const std::string& body, bool head_only, std::string_view extra = {}) {
  std::string out = fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
      status, content_type, body.size(), extra);
  if (!head_only) out += body;
  return out;
}

std::string plain(std::string_view status, std::string_view text, bool head_only = false,
                  std::string_view extra = {}) {
  return response(status, "text/plain; charset=utf-8", std::string(text) + "\n", head_only, extra);
}

// The reply to a parsed request head: only GET and HEAD of /metrics (any query) succeed.
std::string route(const http::request_header<>& req, const std::function<std::string()>& render) {
  const bool head_only = req.method() == http::verb::head;
  if (req.method() != http::verb::get && !head_only) {
    return plain("405 Method Not Allowed", "only GET and HEAD", false, "Allow: GET, HEAD\r\n");
  }
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  if (path != "/metrics") return plain("404 Not Found", "not found; metrics are at /metrics", head_only);
  return response("200 OK", kContentType, render(), head_only);
}

// The reply to a request Beast could not parse: 431 past the size bound, else 400 with
// Beast's reason ("bad method", "bad version", ...).
std::string refusal(const boost::system::error_code& ec) {
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return plain("431 Request Header Fields Too Large", "request too large");
  }
  return plain("400 Bad Request", fmt::format("malformed request: {}", ec.message()));
}

bool is_parse_error(const boost::system::error_code& ec) {
  return &ec.category() == &http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

std::string http_reply(std::string_view head, const std::function<std::string()>& render) {
  std::string text(head);
  if (text.size() < 4 || text.compare(text.size() - 4, 4, "\r\n\r\n") != 0) text += "\r\n";
  http::request_parser<http::empty_body> parser;
  boost::system::error_code ec;
  parser.put(asio::buffer(text), ec);
  if (!ec && !parser.is_header_done()) ec = http::error::partial_message;
  if (ec) return refusal(ec);
  return route(parser.get().base(), render);
}

// One scrape: read the request head, answer, close. The server owns it until it closes.
class HttpServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<HttpServer> server, Id id, tcp::socket socket)
      : server_(std::move(server)), id_(id), socket_(std::move(socket)) {}

  void start() { read(); }

  void close() {
    if (closed_) return;
    closed_ = true;
    auto keep = shared_from_this();  // the listener's reference goes away below
    server_->listener_.close_connection(id_, socket_);
  }

 private:
  void read() {
    parser_.header_limit(static_cast<std::uint32_t>(server_->options_.max_request_bytes));
    // Beast parses the head (RFC 9112 2-5); a body, if any, is never read: the reply closes.
    http::async_read_header(socket_, buffer_, parser_, [self = shared_from_this()](
                                                         boost::system::error_code ec, std::size_t) {
      if (self->closed_) return;
      if (!ec) return self->reply(route(self->parser_.get().base(), self->server_->render_));
      if (is_parse_error(ec)) return self->reply(refusal(ec));
      self->close();  // the client went away (before or in the middle of its request)
    });
  }

  void reply(std::string text) {
    server_->listener_.set_state(id_, daemon::ConnectionTable::State::replying);
    out_ = std::move(text);
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](boost::system::error_code, std::size_t) {
                        self->close();
                      });
  }

  std::shared_ptr<HttpServer> server_;
  Id id_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;  // at most the header limit plus one read (64 KiB)
  http::request_parser<http::empty_body> parser_;
  std::string out_;
  bool closed_ = false;
};

HttpServer::HttpServer(asio::io_context& io, Options options, Render render)
    : options_(std::move(options)),
      render_(std::move(render)),
      listener_(io, {options_.max_connections, options_.timeout},
                {// Clients are told apart by address: a flooding address evicts its own connections.
                 [](tcp::socket& socket) {
                   boost::system::error_code ec;
                   auto peer = socket.remote_endpoint(ec).address();
                   return std::pair{peer.to_string(), peer};
                 },
                 [this](Id id, tcp::socket socket, const asio::ip::address&) {
                   return std::make_shared<Connection>(shared_from_this(), id, std::move(socket));
                 },
                 [this](daemon::DropReason r, const std::string& why, const asio::ip::address& from) {
                   if (options_.on_drop) options_.on_drop(r, why, from);
                 }}) {}

Expected<std::shared_ptr<HttpServer>, std::string> HttpServer::start(asio::io_context& io,
                                                                     Options options,
                                                                     Render render) {
  auto server = std::make_shared<HttpServer>(io, options, std::move(render));
  auto& acc = server->listener_.acceptor();
  boost::system::error_code ec;
  std::string_view step = "open";
  acc.open(options.endpoint.protocol(), ec);
  if (!ec) {
    step = "setsockopt SO_REUSEADDR";
    acc.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    step = "bind";
    acc.bind(options.endpoint, ec);
  }
  if (!ec) {
    step = "listen";
    acc.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    auto addr = options.endpoint.address();
    return unexpected(fmt::format("metrics listener on {}{}{}:{}: {}: {}", addr.is_v6() ? "[" : "",
                                  addr.to_string(), addr.is_v6() ? "]" : "",
                                  options.endpoint.port(), step, ec.message()));
  }
  server->listener_.start(server);
  return server;
}

tcp::endpoint HttpServer::local_endpoint() const {
  boost::system::error_code ec;
  return listener_.acceptor().local_endpoint(ec);
}

void HttpServer::stop() { listener_.stop(); }

}  // namespace herald::daemon::metrics
