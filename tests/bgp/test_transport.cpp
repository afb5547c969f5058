// Transport tests on the loopback interface: a real listener and real connections, with kernel
// failures injected through the FaultInjector hook (the fail-count idea: the Nth call of a given
// kind fails with a chosen errno). Each test runs the io_context for a bounded time.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>


#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/asio.hpp"
#include "bgp/transport_connection.hpp"
#include "bgp/transport_listener.hpp"
#include "bgp/transport_socket_options.hpp"

using namespace herald::bgp;
using namespace herald::bgp::transport;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

IpAddress loopback4() { return IpAddress::v4(0x7f000001); }

// Fails the `nth` (1-based) call named `op` with `err`; counts every call by name.
struct FailCount {
  FailCount(std::string o, int n, int e) : op(std::move(o)), nth(n), err(e) {}
  std::string op;
  int nth;
  int err;
  std::map<std::string, int> calls;
  FaultInjector hook() {
    return [this](std::string_view name) {
      int n = ++calls[std::string(name)];
      return (name == op && n == nth) ? err : 0;
    };
  }
};

// Runs `io` until `done()` or `limit` elapsed; returns done().
template <typename Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 3000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(10ms);
  }
  return done();
}

// A listener on 127.0.0.1 (ephemeral port) that adopts every accepted socket and records what
// it reads.
struct Server {
  asio::io_context& io;
  std::shared_ptr<Listener> listener;
  std::shared_ptr<Connection> conn;
  Bytes received;
  std::optional<std::string> closed;
  explicit Server(asio::io_context& ctx, SocketOptions opts = {}) : io(ctx) {
    auto l = Listener::open(io, Endpoint{loopback4(), 0}, [this, opts](asio::ip::tcp::socket s, const Endpoint&) {
      ConnectionHandlers h;
      h.bytes = [this](std::span<const std::uint8_t> b) { received.insert(received.end(), b.begin(), b.end()); };
      h.closed = [this](const std::string& r) { closed = r; };
      conn = Connection::adopt(std::move(s), opts, std::move(h));
    });
    REQUIRE(l.has_value());
    listener = *l;
  }
  void start() { listener->start(); }
  std::uint16_t port() const { return listener->local_endpoint().port; }
};

int get_int(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  REQUIRE(::getsockopt(fd, level, name, &v, &len) == 0);
  return v;
}

}  // namespace

TEST_CASE("transport: bytes are delivered in order and close() flushes the queue before the FIN") {
  asio::io_context io;
  Server server(io);
  server.start();
  bool connected = false;
  std::optional<std::string> client_closed;
  ConnectionHandlers h;
  h.connected = [&] { connected = true; };
  h.closed = [&](const std::string& r) { client_closed = r; };
  auto client = Connection::connect(io, ConnectParams{loopback4(), server.port(), loopback4(), {}}, h);
  // Queued before the connect completes: must go out after it, in order.
  client->send(Bytes{1, 2, 3});
  client->send(Bytes{4});
  REQUIRE(run_until(io, [&] { return connected && server.received.size() == 4; }));
  CHECK(server.received == Bytes{1, 2, 3, 4});
  REQUIRE(client->local_endpoint().has_value());
  CHECK(client->local_endpoint()->address == loopback4());
  CHECK(client->remote_endpoint()->port == server.port());

  // A large last message queued right before close() still arrives whole, then the server
  // sees the end of stream.
  Bytes big(200000, 0xAB);
  client->send(big);
  bool done = false;
  client->close([&] { done = true; });
  REQUIRE(run_until(io, [&] { return done && server.closed.has_value(); }));
  CHECK(server.received.size() == 4 + big.size());
  CHECK(*server.closed == "connection closed by peer");
  CHECK_FALSE(client_closed.has_value());  // closing ourselves is not reported as an event
}

TEST_CASE("transport: accepted and connected sockets carry NODELAY, CS6 and GTSM TTLs") {
  SocketOptions opts;
  opts.gtsm = true;
  const int fd4 = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd4 >= 0);
  CHECK_FALSE(apply_socket_options(fd4, SocketShape{false, true}, opts, loopback4()).has_value());
  CHECK(get_int(fd4, IPPROTO_TCP, TCP_NODELAY) == 1);
  CHECK(get_int(fd4, IPPROTO_IP, IP_TOS) == 0xC0);
  CHECK(get_int(fd4, IPPROTO_IP, IP_TTL) == 255);
  CHECK(get_int(fd4, IPPROTO_IP, IP_MINTTL) == 255);
  ::close(fd4);

  const int fd6 = ::socket(AF_INET6, SOCK_STREAM, 0);
  REQUIRE(fd6 >= 0);
  auto v6 = IpAddress::parse("2001:db8::1");
  REQUIRE(v6.has_value());
  CHECK_FALSE(apply_socket_options(fd6, SocketShape{true, false}, opts, *v6).has_value());
  CHECK(get_int(fd6, IPPROTO_IPV6, IPV6_TCLASS) == 0xC0);
  CHECK(get_int(fd6, IPPROTO_IPV6, IPV6_UNICAST_HOPS) == 255);
  CHECK(get_int(fd6, IPPROTO_IPV6, IPV6_MINHOPCOUNT) == 255);
  ::close(fd6);
}

TEST_CASE("transport: a failing setsockopt is reported with the option and the peer") {
  asio::io_context io;
  FailCount fc{"setsockopt TCP_MD5SIG", 1, EPERM};
  std::optional<std::string> reason;
  ConnectionHandlers h;
  h.closed = [&](const std::string& r) { reason = r; };
  ConnectParams p{IpAddress::v4(0xC0000201), 179, std::nullopt, {}};  // 192.0.2.1: never contacted
  p.options.md5 = "secret";
  auto c = Connection::connect(io, p, h, fc.hook());
  CHECK_FALSE(reason.has_value());  // posted, never called back from inside connect()
  REQUIRE(run_until(io, [&] { return reason.has_value(); }));
  CHECK(*reason == "TCP_MD5SIG on 192.0.2.1: Operation not permitted");
  CHECK(fc.calls["connect"] == 0);  // stopped before the SYN

  FailCount gtsm{"setsockopt IP_MINTTL", 1, EINVAL};
  reason.reset();
  p.options.md5.reset();
  p.options.gtsm = true;
  c = Connection::connect(io, p, h, gtsm.hook());
  REQUIRE(run_until(io, [&] { return reason.has_value(); }));
  CHECK(*reason == "IP_MINTTL on 192.0.2.1: Invalid argument");
}

TEST_CASE("transport: bind and connect failures become reasons") {
  asio::io_context io;
  std::optional<std::string> reason;
  ConnectionHandlers h;
  h.closed = [&](const std::string& r) { reason = r; };

  FailCount bind_fail{"bind", 1, EADDRNOTAVAIL};
  auto c = Connection::connect(io, ConnectParams{loopback4(), 1, loopback4(), {}}, h, bind_fail.hook());
  REQUIRE(run_until(io, [&] { return reason.has_value(); }));
  CHECK(*reason == "bind 127.0.0.1 for 127.0.0.1: Cannot assign requested address");

  // Nothing listens on this port: the kernel refuses.
  Server server(io);  // not started, then closed: its port is free and known
  const auto port = server.port();
  server.listener->close();
  reason.reset();
  c = Connection::connect(io, ConnectParams{loopback4(), port, std::nullopt, {}}, h);
  REQUIRE(run_until(io, [&] { return reason.has_value(); }));
  CHECK(*reason == "connect to 127.0.0.1: Connection refused");

  auto v6 = IpAddress::parse("2001:db8::1");
  REQUIRE(v6.has_value());
  reason.reset();
  c = Connection::connect(io, ConnectParams{*v6, 179, loopback4(), {}}, h);
  REQUIRE(run_until(io, [&] { return reason.has_value(); }));
  CHECK(*reason == "bind 127.0.0.1 for 2001:db8::1: address family differs from the peer's");
}

TEST_CASE("transport: messages sent from one handler leave in one gathered write") {
  // An IPv4 and an IPv6 withdrawal produced by one set_routes() must not be split into a write
  // for the first and another one loop turn later: they should reach the wire together.
  asio::io_context io;
  Server server(io);
  server.start();
  FailCount fc{"none", 0, 0};  // fails nothing; counts the writes
  bool connected = false;
  ConnectionHandlers h;
  h.connected = [&] { connected = true; };
  auto c = Connection::connect(io, ConnectParams{loopback4(), server.port(), std::nullopt, {}}, h, fc.hook());
  REQUIRE(run_until(io, [&] { return connected && server.conn != nullptr; }));
  const int before = fc.calls["write"];
  c->send(Bytes{1, 2});
  c->send(Bytes{3});
  c->send(Bytes{4, 5, 6});
  REQUIRE(run_until(io, [&] { return server.received.size() == 6; }));
  CHECK(server.received == Bytes{1, 2, 3, 4, 5, 6});
  CHECK(fc.calls["write"] - before == 1);
  // A send from a later handler is a write of its own.
  c->send(Bytes{7});
  REQUIRE(run_until(io, [&] { return server.received.size() == 7; }));
  CHECK(fc.calls["write"] - before == 2);
}

TEST_CASE("transport: a failed write ends the connection with a reason") {
  asio::io_context io;
  Server server(io);
  server.start();
  FailCount fc{"write", 2, EPIPE};
  bool connected = false;
  std::optional<std::string> reason;
  ConnectionHandlers h;
  h.connected = [&] { connected = true; };
  h.closed = [&](const std::string& r) { reason = r; };
  auto c = Connection::connect(io, ConnectParams{loopback4(), server.port(), std::nullopt, {}}, h, fc.hook());
  c->send(Bytes{1});
  REQUIRE(run_until(io, [&] { return server.received.size() == 1; }));
  c->send(Bytes{2});  // the second write fails
  REQUIRE(run_until(io, [&] { return reason.has_value(); }));
  CHECK(*reason == "write to 127.0.0.1: Broken pipe");
  CHECK_FALSE(c->is_open());
  c->send(Bytes{3});  // ignored after the end
  REQUIRE(run_until(io, [&] { return server.closed.has_value(); }));
  CHECK(server.received == Bytes{1});
}

TEST_CASE("transport: a failed read ends the connection with a reason") {
  asio::io_context io;
  FailCount fc{"read", 1, ECONNRESET};
  std::optional<std::string> reason;
  std::shared_ptr<Connection> accepted;
  auto l = Listener::open(io, Endpoint{loopback4(), 0}, [&](asio::ip::tcp::socket s, const Endpoint&) {
    ConnectionHandlers h;
    h.closed = [&](const std::string& r) { reason = r; };
    accepted = Connection::adopt(std::move(s), SocketOptions{}, std::move(h), fc.hook());
  });
  REQUIRE(l.has_value());
  (*l)->start();
  auto c = Connection::connect(io, ConnectParams{loopback4(), (*l)->local_endpoint().port, std::nullopt, {}}, {});
  c->send(Bytes{9});
  REQUIRE(run_until(io, [&] { return reason.has_value(); }));
  CHECK(*reason == "read from 127.0.0.1: Connection reset by peer");
}

TEST_CASE("transport: listener errors are values") {
  asio::io_context io;
  Server first(io);
  auto second = Listener::open(io, Endpoint{loopback4(), first.port()}, {});
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().what ==
        "bind listener 127.0.0.1:" + std::to_string(first.port()) + ": Address already in use");
}

TEST_CASE("transport: MD5 keys must match for the handshake to complete") {
  asio::io_context io;
  Server server(io);
  REQUIRE_FALSE(server.listener->set_md5(loopback4(), "right").has_value());
  server.start();
  bool connected = false;
  ConnectionHandlers h;
  h.connected = [&] { connected = true; };

  ConnectParams wrong{loopback4(), server.port(), std::nullopt, {}};
  wrong.options.md5 = "wrong";
  auto bad = Connection::connect(io, wrong, h);
  // The kernel drops the badly signed SYN: no connection within a generous bound.
  CHECK_FALSE(run_until(io, [&] { return connected; }, 500ms));
  bad->abort();

  ConnectParams right = wrong;
  right.options.md5 = "right";
  auto good = Connection::connect(io, right, h);
  REQUIRE(run_until(io, [&] { return connected; }));
  good->send(Bytes{7, 7});
  REQUIRE(run_until(io, [&] { return server.received.size() == 2; }));

  CHECK(server.listener->set_md5(loopback4(), std::string(81, 'k'))->what ==
        "TCP_MD5SIG on 127.0.0.1: key longer than 80 octets");
}

TEST_CASE("transport: close() sends FIN at once, then waits for the peer's, bounded by the flush limit") {
  asio::io_context io;
  // The server never closes its side: the client must give up after its flush limit.
  std::shared_ptr<Connection> accepted;
  bool server_saw_eof = false;
  auto l = Listener::open(io, Endpoint{loopback4(), 0}, [&](asio::ip::tcp::socket s, const Endpoint&) {
    ConnectionHandlers h;
    h.closed = [&](const std::string&) { server_saw_eof = true; };
    // Keep the socket open without reacting: adopt, but never close from this side.
    accepted = Connection::adopt(std::move(s), SocketOptions{}, std::move(h));
  });
  REQUIRE(l.has_value());
  (*l)->start();
  bool connected = false;
  int sent_events = 0;
  bool drained = false;
  ConnectionHandlers h;
  h.connected = [&] { connected = true; };
  h.sent = [&](bool d) {
    ++sent_events;
    drained = d;
  };
  // A flush limit far beyond run_until's 3 s: finishing within run_until is finishing early.
  auto c = Connection::connect(io, ConnectParams{loopback4(), (*l)->local_endpoint().port, std::nullopt, {}}, h, {},
                               60s);
  REQUIRE(run_until(io, [&] { return connected; }));
  c->send(Bytes{1, 2});
  REQUIRE(run_until(io, [&] { return sent_events > 0 && drained; }));

  // The server's Connection reports EOF and closes its socket, so the client finishes early...
  bool done = false;
  c->close([&] { done = true; });
  REQUIRE(run_until(io, [&] { return done; }));
  CHECK(server_saw_eof);

  // ...but a peer that keeps its side open (a raw socket nobody reads) costs the flush limit.
  asio::ip::tcp::acceptor raw(io, asio::ip::tcp::endpoint(transport::to_asio(loopback4()), 0));
  asio::ip::tcp::socket raw_peer(io);
  bool accepted_raw = false;
  raw.async_accept(raw_peer, [&](const boost::system::error_code& ec) { accepted_raw = !ec; });
  connected = false;
  auto c2 = Connection::connect(io, ConnectParams{loopback4(), raw.local_endpoint().port(), std::nullopt, {}}, h, {},
                                300ms);
  REQUIRE(run_until(io, [&] { return connected && accepted_raw; }));
  done = false;
  const auto t0 = std::chrono::steady_clock::now();
  c2->close([&] { done = true; });
  REQUIRE(run_until(io, [&] { return done; }));
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 290ms);  // it waited for the limit (the upper bound is run_until's)
}

TEST_CASE("transport: a failed accept does not stop the listener") {
  asio::io_context io;
  FailCount fc{"accept", 1, EMFILE};
  int adopted = 0;
  std::vector<std::shared_ptr<Connection>> keep;
  auto l = Listener::open(io, Endpoint{loopback4(), 0}, [&](asio::ip::tcp::socket s, const Endpoint&) {
    ++adopted;
    keep.push_back(Connection::adopt(std::move(s), SocketOptions{}, {}));
  }, fc.hook());
  REQUIRE(l.has_value());
  (*l)->start();
  std::optional<std::string> first_closed;
  ConnectionHandlers h1;
  h1.closed = [&](const std::string& r) { first_closed = r; };
  auto c1 = Connection::connect(io, ConnectParams{loopback4(), (*l)->local_endpoint().port, std::nullopt, {}}, h1);
  // The first accepted socket is dropped (as if out of descriptors): its client sees the end.
  REQUIRE(run_until(io, [&] { return first_closed.has_value(); }));
  CHECK(adopted == 0);
  auto c2 = Connection::connect(io, ConnectParams{loopback4(), (*l)->local_endpoint().port, std::nullopt, {}}, {});
  REQUIRE(run_until(io, [&] { return adopted == 1; }));
  CHECK(fc.calls["accept"] == 2);
}
