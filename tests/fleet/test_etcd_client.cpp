// The etcd client's transport against small scripted HTTP servers on 127.0.0.1 that inject the
// failures a real cluster rarely shows on demand: a member that refuses connections, one that
// says UNAVAILABLE, one that refuses the request itself, an expired token. The real etcd runs in
// tests/integration/test_fleet_etcd*.py.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif
#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <optional>
#include <sstream>

#include "fleet/etcd_client.hpp"
#include "fleet/floor_round.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace herald::fleet;

namespace {

struct Seen {
  std::string target, authorization, body;
};
using Script = std::function<std::pair<unsigned, std::string>(const Seen&)>;

// Answers each request with script(request), several on one connection (HTTP/1.1 keep-alive, as
// etcd's gateway does), connections served at once; records what it saw and counts connections.
class FakeMember {
 public:
  FakeMember(asio::io_context& io, Script script)
      : acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}), script_(std::move(script)) {
    asio::co_spawn(io, serve(), asio::detached);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  std::vector<Seen> seen;
  int accepted = 0;  // connections accepted
  int open = 0;      // connections open now
  int close_after = 0;          // > 0: close each connection after this many replies on it, saying nothing
  std::size_t say_close_at = 0;  // > 0: the reply to this request (1: the first seen) says "Connection:
                                 // close", and the member keeps the connection open all the same
  std::size_t truncate_at = 0;   // > 0: the reply to this request stops half-way, and the connection closes
  std::size_t junk_after = 0;    // > 0: the reply to this request comes with bytes after it, in one write
  void close() { acceptor_.close(); }
  // Closes every connection that waits for its next request, as an idle timeout (or a NAT) does.
  void close_idle() {
    for (auto& w : conns_)
      if (auto c = w.lock(); c && c->idle) {
        boost::system::error_code ec;
        c->sock.close(ec);
      }
  }

 private:
  struct Conn {
    explicit Conn(asio::ip::tcp::socket s) : sock(std::move(s)) {}
    asio::ip::tcp::socket sock;
    bool idle = false;
  };
  asio::awaitable<void> serve() {
    while (acceptor_.is_open()) {
      boost::system::error_code ec;
      auto sock = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++accepted;
      auto c = std::make_shared<Conn>(std::move(sock));
      conns_.push_back(c);
      asio::co_spawn(acceptor_.get_executor(), connection(c), asio::detached);
    }
  }
  asio::awaitable<void> connection(std::shared_ptr<Conn> c) {
    ++open;
    boost::system::error_code ec;
    beast::flat_buffer buf;
    for (int served = 0; close_after == 0 || served < close_after; ++served) {
      c->idle = served > 0;
      http::request<http::string_body> req;
      co_await http::async_read(c->sock, buf, req, asio::redirect_error(asio::use_awaitable, ec));
      c->idle = false;
      if (ec) break;
      Seen s{std::string(req.target()), std::string(req[http::field::authorization]), req.body()};
      seen.push_back(s);
      auto [status, body] = script_(s);
      if (seen.size() == truncate_at) {
        const std::string half = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, body.size() / 2);
        co_await asio::async_write(c->sock, asio::buffer(half), asio::redirect_error(asio::use_awaitable, ec));
        break;
      }
      http::response<http::string_body> res{static_cast<http::status>(status), 11};
      res.set(http::field::content_type, "application/json");
      if (seen.size() == say_close_at) res.set(http::field::connection, "close");
      res.body() = body;
      res.prepare_payload();
      if (seen.size() == junk_after) {
        std::ostringstream out;
        out << res << "HTTP/9 junk\r\n\r\n";
        co_await asio::async_write(c->sock, asio::buffer(out.str()), asio::redirect_error(asio::use_awaitable, ec));
      } else {
        co_await http::async_write(c->sock, res, asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec) break;
    }
    c->sock.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    c->sock.close(ec);
    --open;
  }
  asio::ip::tcp::acceptor acceptor_;
  Script script_;
  std::vector<std::weak_ptr<Conn>> conns_;
};

const std::string kRange = R"({"header":{"revision":"7"},"kvs":[{"key":"YQ==","value":"Yg==","mod_revision":"7"}],"count":"1"})";

// A port on 127.0.0.1 that nothing listens on: bound, then closed.
std::string closed_endpoint(asio::io_context& io) {
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = a.local_endpoint().port();
  a.close();
  return "127.0.0.1:" + std::to_string(port);
}

// Runs one client call to its end (bounded: 10 s) and returns its result.
template <typename T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> out;
  auto wrapper = [](asio::awaitable<T> t, std::optional<T>& o) -> asio::awaitable<void> { o.emplace(co_await std::move(t)); };
  asio::co_spawn(io, wrapper(std::move(task), out), asio::detached);
  for (int i = 0; i < 1000 && !out; ++i) io.run_one_for(std::chrono::milliseconds(10));
  REQUIRE(out);
  return std::move(*out);
}

std::unique_ptr<EtcdClient> client(asio::io_context& io, std::vector<std::string> eps, std::string user = {}) {
  EtcdClientOptions o;
  o.endpoints = std::move(eps);
  o.user = std::move(user);
  o.password = "pw";
  o.timeout = std::chrono::milliseconds(2000);
  auto c = EtcdClient::create(io.get_executor(), o);
  REQUIRE(c);
  return std::move(c.value());
}

}  // namespace

TEST_CASE("a member that refuses connections: the next one answers, and is used first after") {
  asio::io_context io;
  FakeMember b(io, [](const Seen&) { return std::pair{200u, kRange}; });
  auto c = client(io, {closed_endpoint(io), b.endpoint()});
  auto r = run(io, c->get("a"));
  REQUIRE(r);
  CHECK(r->kvs.at(0).value == "b");
  CHECK(c->endpoint() == b.endpoint());
  CHECK(b.seen.at(0).target == "/v3/kv/range");
  CHECK(b.seen.at(0).body == R"({"key":"YQ=="})");
}

TEST_CASE("UNAVAILABLE moves on to the next member; a refusal by etcd does not") {
  asio::io_context io;
  FakeMember down(io, [](const Seen&) {
    return std::pair{503u, std::string(R"({"error":"etcdserver: no leader","code":14,"message":"etcdserver: no leader"})")};
  });
  FakeMember denies(io, [](const Seen&) {
    return std::pair{403u, std::string(R"({"error":"etcdserver: permission denied","code":7,"message":"etcdserver: permission denied"})")};
  });
  FakeMember good(io, [](const Seen&) { return std::pair{200u, std::string(R"({"header":{"revision":"9"}})")}; });

  auto c1 = client(io, {down.endpoint(), good.endpoint()});
  auto r1 = run(io, c1->put("k", "v", 5));
  REQUIRE(r1);
  CHECK(r1.value() == 9);
  CHECK(good.seen.at(0).body == R"({"key":"aw==","lease":"5","value":"dg=="})");

  auto c2 = client(io, {denies.endpoint(), good.endpoint()});
  auto r2 = run(io, c2->put("k", "v"));
  REQUIRE_FALSE(r2);
  CHECK(r2.error().grpc_code == 7);
  CHECK(r2.error().reason == "etcdserver: permission denied");
  CHECK(c2->endpoint() == denies.endpoint());  // the member that refused, for the operator
  CHECK(good.seen.size() == 1);  // not asked again
}

TEST_CASE("every member answers UNAVAILABLE (an election): ask again until one has a leader, within election_wait") {
  asio::io_context io;
  int asked = 0;
  // The first two passes over both members say "leader changed"; then one has a leader.
  auto script = [&asked](const Seen&) {
    ++asked;
    if (asked <= 4)
      return std::pair{503u, std::string(R"({"error":"etcdserver: leader changed","code":14,"message":"etcdserver: leader changed"})")};
    return std::pair{200u, kRange};
  };
  FakeMember a(io, script), b(io, script);
  auto c = client(io, {a.endpoint(), b.endpoint()});
  auto r = run(io, c->get("a"));
  REQUIRE(r);
  CHECK(r->kvs.at(0).value == "b");
  CHECK(asked == 5);

  // Still no leader when election_wait runs out: the call fails, having asked more than once.
  FakeMember never(io, [](const Seen&) {
    return std::pair{503u, std::string(R"({"error":"etcdserver: no leader","code":14,"message":"etcdserver: no leader"})")};
  });
  EtcdClientOptions o;
  o.endpoints = {never.endpoint()};
  o.election_wait = std::chrono::milliseconds(300);
  auto c2 = EtcdClient::create(io.get_executor(), o);
  REQUIRE(c2);
  auto r2 = run(io, c2.value()->get("a"));
  REQUIRE_FALSE(r2);
  CHECK(r2.error().grpc_code == 14);
  CHECK(never.seen.size() >= 2);

  // With election_wait 0, one pass only.
  FakeMember once(io, [](const Seen&) {
    return std::pair{503u, std::string(R"({"error":"etcdserver: no leader","code":14,"message":"etcdserver: no leader"})")};
  });
  o.endpoints = {once.endpoint()};
  o.election_wait = std::chrono::milliseconds(0);
  auto c3 = EtcdClient::create(io.get_executor(), o);
  REQUIRE(c3);
  REQUIRE_FALSE(run(io, c3.value()->get("a")));
  CHECK(once.seen.size() == 1);
}

TEST_CASE("no member answers: one error naming each member and its failure") {
  asio::io_context io;
  const std::string a = closed_endpoint(io), b = closed_endpoint(io);
  auto c = client(io, {a, b});
  auto r = run(io, c->get("a"));
  REQUIRE_FALSE(r);
  CHECK(r.error().grpc_code == 0);
  CHECK(r.error().reason == "no etcd member answered: etcd member " + a + ": connect: Connection refused; etcd member " +
                                b + ": connect: Connection refused");
}

TEST_CASE("users: log in once, send the token, log in again when etcd says it expired") {
  asio::io_context io;
  int logins = 0;
  FakeMember m(io, [&](const Seen& s) {
    if (s.target == "/v3/auth/authenticate") {
      ++logins;
      return std::pair{200u, R"({"header":{},"token":"tok)" + std::to_string(logins) + R"("})"};
    }
    if (s.authorization != "tok" + std::to_string(logins) || (logins == 1 && s.target == "/v3/lease/grant"))
      return std::pair{401u, std::string(R"({"error":"etcdserver: invalid auth token","code":16,"message":"etcdserver: invalid auth token"})")};
    return std::pair{200u, std::string(R"({"header":{"revision":"3"},"ID":"77","TTL":"10"})")};
  });
  auto c = client(io, {m.endpoint()}, "site-a");
  REQUIRE(run(io, c->get("a")));
  CHECK(logins == 1);
  CHECK(m.seen.at(0).body == R"({"name":"site-a","password":"pw"})");
  CHECK(m.seen.at(1).authorization == "tok1");
  auto g = run(io, c->lease_grant(10));  // tok1 refused for this one: log in again, retry
  REQUIRE(g);
  CHECK(g->id == 77);
  CHECK(logins == 2);
  CHECK(m.seen.back().authorization == "tok2");
  CHECK(m.accepted == 1);  // the token goes with each request, not with the connection
}

TEST_CASE("calls one after another share one connection") {
  asio::io_context io;
  FakeMember m(io, [](const Seen&) { return std::pair{200u, kRange}; });
  auto c = client(io, {m.endpoint()});
  for (int i = 0; i < 5; ++i) REQUIRE(run(io, c->get("a")));
  CHECK(m.seen.size() == 5);
  CHECK(m.accepted == 1);
}

TEST_CASE("a connection the member closed while it was idle: the call goes again on a new one, and etcd sees it once") {
  asio::io_context io;
  FakeMember m(io, [](const Seen&) { return std::pair{200u, std::string(R"({"header":{"revision":"9"}})")}; });
  FakeMember other(io, [](const Seen&) { return std::pair{200u, std::string(R"({"header":{"revision":"1"}})")}; });
  auto c = client(io, {m.endpoint(), other.endpoint()});

  SUBCASE("closed by an idle timeout") {
    REQUIRE(run(io, c->put("k", "v1")));
    REQUIRE(run(io, c->put("k", "v2")));
    m.close_idle();
    auto r = run(io, c->put("k", "v3"));
    REQUIRE(r);
    CHECK(r.value() == 9);
  }
  SUBCASE("closed after two requests without a word") {
    m.close_after = 2;
    REQUIRE(run(io, c->put("k", "v1")));
    REQUIRE(run(io, c->put("k", "v2")));
    auto r = run(io, c->put("k", "v3"));
    REQUIRE(r);
    CHECK(r.value() == 9);
  }
  CHECK(m.accepted == 2);
  REQUIRE(m.seen.size() == 3);  // each put once: the write into the closed connection reached no one
  CHECK(m.seen[0].body == put_body("k", "v1", 0));
  CHECK(m.seen[1].body == put_body("k", "v2", 0));
  CHECK(m.seen[2].body == put_body("k", "v3", 0));
  CHECK(other.seen.empty());  // the member was not taken for failed
  CHECK(c->endpoint() == m.endpoint());
}

TEST_CASE("a reply cut off on a reused connection is not sent again: the member failed") {
  asio::io_context io;
  FakeMember m(io, [](const Seen&) { return std::pair{200u, kRange}; });
  auto c = client(io, {m.endpoint()});
  m.truncate_at = 2;
  REQUIRE(run(io, c->get("a")));
  auto r = run(io, c->get("a"));
  REQUIRE_FALSE(r);
  CHECK(r.error().reason.find("etcd member " + m.endpoint() + ": read: ") != std::string::npos);
  CHECK(m.seen.size() == 2);
  CHECK(m.accepted == 1);
  REQUIRE(run(io, c->get("a")));  // the next call: a new connection
  CHECK(m.accepted == 2);
}

TEST_CASE("a reply that says Connection: close: its connection is not used again") {
  asio::io_context io;
  FakeMember m(io, [](const Seen&) { return std::pair{200u, kRange}; });
  m.say_close_at = 1;  // and the member keeps that connection open: reusing it would go unnoticed
  auto c = client(io, {m.endpoint()});
  for (int i = 0; i < 3; ++i) REQUIRE(run(io, c->get("a")));
  CHECK(m.seen.size() == 3);
  CHECK(m.accepted == 2);  // the first call's, then one for the next two
}

TEST_CASE("a reply followed by more bytes: its connection is not used again") {
  asio::io_context io;
  FakeMember m(io, [](const Seen&) { return std::pair{200u, kRange}; });
  m.junk_after = 1;
  auto c = client(io, {m.endpoint()});
  for (int i = 0; i < 3; ++i) REQUIRE(run(io, c->get("a")));
  CHECK(m.seen.size() == 3);
  CHECK(m.accepted == 2);
}

namespace {
asio::awaitable<void> counted_get(EtcdClient& c, int& done, int& ok) {
  auto r = co_await c.get("a");
  ++done;
  if (r) ++ok;
}
}  // namespace

TEST_CASE("calls at once each get a connection of their own; the pool keeps idle_per_member of them") {
  asio::io_context io;
  FakeMember m(io, [](const Seen&) { return std::pair{200u, kRange}; });
  EtcdClientOptions o;
  o.endpoints = {m.endpoint()};
  o.idle_per_member = 2;
  auto created = EtcdClient::create(io.get_executor(), o);
  REQUIRE(created);
  auto& c = *created.value();
  auto burst = [&](int n) {
    int done = 0, ok = 0;
    for (int i = 0; i < n; ++i) asio::co_spawn(io, counted_get(c, done, ok), asio::detached);
    for (int i = 0; i < 1000 && done < n; ++i) io.run_one_for(std::chrono::milliseconds(10));
    REQUIRE(done == n);
    CHECK(ok == n);
  };
  burst(3);
  CHECK(m.accepted == 3);
  // Two stay open, the third is closed: the member sees it end.
  for (int i = 0; i < 1000 && m.open > 2; ++i) io.run_one_for(std::chrono::milliseconds(10));
  CHECK(m.open == 2);
  burst(3);
  CHECK(m.accepted == 4);  // the two idle ones, and one new (3: no cap; 6: no reuse)
  CHECK(m.seen.size() == 6);
}

TEST_CASE("a reply that is not etcd's JSON is an error with a reason, not a crash") {
  asio::io_context io;
  FakeMember m(io, [](const Seen&) { return std::pair{200u, std::string("<html>proxy</html>")}; });
  auto c = client(io, {m.endpoint()});
  auto r = run(io, c->txn(Txn{}));
  REQUIRE_FALSE(r);
  CHECK(r.error().reason.rfind("txn: malformed reply", 0) == 0);
}

TEST_CASE("a floor round pages at its read's revision; a page compacted away starts the round over once, from a fresh read") {
  // Sites a..d publish dns; this one, z, does not yet. min-sites 2, a first page of 2 keys.
  const Keys keys("f");
  const std::string ix = keys.index_prefix("dns");
  auto kv = [](const std::string& k, const char* v, int rev) {
    return R"({"key":")" + base64_encode(k) + R"(","value":")" + base64_encode(v) + R"(","mod_revision":")" +
           std::to_string(rev) + R"("})";
  };
  auto read_answer = [&](int rev, const std::string& page, bool more, int count) {
    const std::string h = R"({"revision":")" + std::to_string(rev) + R"("})";
    return R"({"header":{"revision":")" + std::to_string(rev) + R"("},"succeeded":true,"responses":[)"
           R"({"response_range":{"header":)" + h + R"(,"count":")" + std::to_string(count) + R"("}},)"
           R"({"response_range":{"header":)" + h + R"(}},{"response_range":{"header":)" + h + R"(}},)"
           R"({"response_range":{"header":)" + h + R"(,"kvs":[)" + page + "]" + (more ? R"(,"more":true)" : "") +
           R"(,"count":")" + std::to_string(count) + R"("}}]})";
  };
  const std::string compacted =
      R"({"error":"etcdserver: mvcc: required revision has been compacted","code":11,"message":"etcdserver: mvcc: required revision has been compacted"})";
  // The first read (revision 10): a and b, neither announcing, and more. The page after b at 10:
  // compacted (`compactions` times). A fresh read (revision 12): a, b not announcing, c, d
  // announcing, all of them. The write: committed at 13.
  int compactions = 1;
  int reads = 0;
  bool always_paged = false;  // every read answers as the first one
  asio::io_context io;
  FakeMember m(io, [&](const Seen& s) {
    if (s.target == "/v3/kv/range") {
      if (compactions-- > 0) return std::pair{400u, compacted};
      return std::pair{200u, std::string(R"({"header":{"revision":"14"}})")};
    }
    REQUIRE(s.target == "/v3/kv/txn");
    if (s.body.find("request_put") != std::string::npos)
      return std::pair{200u, std::string(R"({"header":{"revision":"13"},"succeeded":true})")};
    if (++reads == 1 || always_paged) return std::pair{200u, read_answer(10, kv(ix + "a", "not-announced", 3) + "," + kv(ix + "b", "not-announced", 4), true, 4)};
    return std::pair{200u, read_answer(12, kv(ix + "a", "not-announced", 3) + "," + kv(ix + "b", "not-announced", 4) + "," +
                                               kv(ix + "c", "announced", 5) + "," + kv(ix + "d", "announced", 6), false, 4)};
  });
  auto c = client(io, {m.endpoint()});
  const FloorInput in{"z", "dns", true, false, false, false, 0};
  FloorRetry retry;
  retry.page = 2;
  auto out = run(io, run_floor(*c, keys, in, MinSites{MinSites::Kind::Count, 2}, retry));
  if (!out) FAIL(out.error().reason);
  CHECK(out->decision.verdict == Verdict::Withdraw);
  CHECK(out->decision.witnesses == std::vector<std::string>{"c", "d"});
  CHECK(out->revision == 13);
  CHECK(out->pages == 0);  // the one page read failed
  REQUIRE(m.seen.size() == 4);
  // The read: four ranges, the page's limit 2 as a string.
  CHECK(m.seen[0].body.find(R"("limit":"2")") != std::string::npos);
  CHECK(m.seen[0].body.find(R"("count_only":true)") != std::string::npos);
  // The page: from just after b, to the index's end, at the read's revision 10, what is missing + 16.
  CHECK(m.seen[1].target == "/v3/kv/range");
  CHECK(m.seen[1].body == range_body(ix + "b" + std::string(1, '\0'), prefix_end(ix), 10, 18));
  // Compacted: a fresh read, then the write, whose compares are against the fresh read's 12.
  CHECK(m.seen[2].target == "/v3/kv/txn");
  CHECK(m.seen[3].body.find(R"("mod_revision":"13","range_end")") != std::string::npos);

  // Compacted again after the fresh read: the round fails (the caller decides again later).
  compactions = 2;
  always_paged = true;
  m.seen.clear();
  auto twice = run(io, run_floor(*c, keys, FloorInput{"z", "dns", true, false, false, false, 0},
                                 MinSites{MinSites::Kind::Count, 2}, retry));
  REQUIRE_FALSE(twice);
  CHECK(twice.error().grpc_code == 11);
  REQUIRE(m.seen.size() == 4);  // read, page, fresh read, page: once, not again
  CHECK(m.seen[3].target == "/v3/kv/range");
}
