// Metrics on prometheus-cpp: exact exposition text of sample families (order, labels, escaping,
// values), promtool's verdict when it is installed, and the HTTP endpoint over a real loopback
// socket.
#include <doctest/doctest.h>

#include "base/asio.hpp"
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/metrics.hpp"
#include "daemon/metrics_http.hpp"
#include "temp_dir.hpp"

using namespace herald::daemon::metrics;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Families shaped like herald's: a recorded counter and histogram, and scrape-time families
// (per-peer state as a label, a gauge without labels, a label value that needs escaping).
std::string render_sample() {
  Registry reg;
  auto& results = reg.counter("herald_check_results_total", "Check runs.", {"service", "check", "result"});
  results.with({"dns", "udp", "pass"}).Increment(3);
  results.with({"dns", "udp", "fail"}).Increment();
  auto& lat = reg.histogram("herald_check_latency_seconds", "Health check latency.", {"service"}, {0.005, 0.05, 0.5});
  lat.with({"dns"}).Observe(0.001);
  lat.with({"dns"}).Observe(0.02);
  lat.with({"dns"}).Observe(2);
  reg.counter("herald_unused_total", "Has labels but no series yet.", {"peer"});
  Scrape scrape;
  auto& state = scrape.gauge("herald_peer_state", "Session state.", {"peer", "state"});
  state.add({"upstream2", "Idle"}, 1);
  state.add({"upstream1", "Established"}, 1);
  state.add({"upstream1", "Idle"}, 0);
  scrape.gauge("herald_state_file_fail_safe", "Fail-safe.", {}).add({}, 0);
  scrape.counter("herald_peer_messages_sent_total", "Messages.", {"type", "peer"}).add({"update", "we\"ird\\na\nme"}, 12);
  scrape.gauge("herald_peer_up", "No series: left out.", {"peer"});
  return render(reg.collect(), scrape.take());
}

// Families sorted by name, series by label values, labels in the declared order (not sorted by
// name, as prometheus-cpp keeps them), label values escaped.
const char* const kSampleText =
    "# HELP herald_check_latency_seconds Health check latency.\n"
    "# TYPE herald_check_latency_seconds histogram\n"
    "herald_check_latency_seconds_count{service=\"dns\"} 3\n"
    "herald_check_latency_seconds_sum{service=\"dns\"} 2.021\n"
    "herald_check_latency_seconds_bucket{service=\"dns\",le=\"0.005\"} 1\n"
    "herald_check_latency_seconds_bucket{service=\"dns\",le=\"0.05\"} 2\n"
    "herald_check_latency_seconds_bucket{service=\"dns\",le=\"0.5\"} 2\n"
    "herald_check_latency_seconds_bucket{service=\"dns\",le=\"+Inf\"} 3\n"
    "# HELP herald_check_results_total Check runs.\n"
    "# TYPE herald_check_results_total counter\n"
    "herald_check_results_total{service=\"dns\",check=\"udp\",result=\"fail\"} 1\n"
    "herald_check_results_total{service=\"dns\",check=\"udp\",result=\"pass\"} 3\n"
    "# HELP herald_peer_messages_sent_total Messages.\n"
    "# TYPE herald_peer_messages_sent_total counter\n"
    "herald_peer_messages_sent_total{type=\"update\",peer=\"we\\\"ird\\\\na\\nme\"} 12\n"
    "# HELP herald_peer_state Session state.\n"
    "# TYPE herald_peer_state gauge\n"
    "herald_peer_state{peer=\"upstream1\",state=\"Established\"} 1\n"
    "herald_peer_state{peer=\"upstream1\",state=\"Idle\"} 0\n"
    "herald_peer_state{peer=\"upstream2\",state=\"Idle\"} 1\n"
    "# HELP herald_state_file_fail_safe Fail-safe.\n"
    "# TYPE herald_state_file_fail_safe gauge\n"
    "herald_state_file_fail_safe 0\n";

// One blocking HTTP exchange with the server running on `io` in another thread.
std::string http_exchange(const tcp::endpoint& ep, const std::string& request) {
  asio::io_context client_io;
  tcp::socket s(client_io);
  s.connect(ep);
  asio::write(s, asio::buffer(request));
  std::string reply;
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(reply), ec);  // until the server closes
  return reply;
}

struct RunningServer {
  asio::io_context io;
  std::shared_ptr<HttpServer> server;
  std::thread thread;

  RunningServer(HttpServer::Options opts, HttpServer::Render render) {
    auto s = HttpServer::start(io, opts, std::move(render));
    REQUIRE(s.has_value());
    server = s.value();
    thread = std::thread([this] { io.run(); });
  }
  ~RunningServer() {
    // stop() must run before the loop ends: open connections and the server own each other.
    std::promise<void> stopped;
    asio::post(io, [this, &stopped] {
      server->stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
    io.stop();
    thread.join();
  }
};

HttpServer::Options loopback() {
  HttpServer::Options o;
  o.endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
  return o;
}

}  // namespace

TEST_CASE("registry and scrape families render the exact exposition text (prometheus-cpp)") {
  CHECK(render_sample() == kSampleText);
}

TEST_CASE("registering the same family again returns it; retain() removes series") {
  Registry reg;
  auto& a = reg.counter("x_total", "help", {"peer"});
  auto& b = reg.counter("x_total", "other help", {"peer"});
  CHECK(&a == &b);
  a.with({"r1"}).Increment(2);
  a.with({"r2"}).Increment();
  CHECK(b.with({"r1"}).Value() == 2);
  a.retain([](const LabelValues& v) { return v[0] != "r1"; });
  CHECK(render(reg.collect()) == "# HELP x_total help\n# TYPE x_total counter\nx_total{peer=\"r2\"} 1\n");
  // A series created again after its removal starts from zero.
  CHECK(a.with({"r1"}).Value() == 0);
}

TEST_CASE("values as the text format writes them") {
  Scrape scrape;
  auto& g = scrape.gauge("g", "g", {"v"});
  g.add({"int"}, 3);
  g.add({"frac"}, 0.25);
  g.add({"big"}, 1e21);
  g.add({"inf"}, std::numeric_limits<double>::infinity());
  g.add({"time"}, 1765038000.125);
  CHECK(render(scrape.take()) ==
        "# HELP g g\n# TYPE g gauge\n"
        "g{v=\"big\"} 1e+21\ng{v=\"frac\"} 0.25\ng{v=\"inf\"} +Inf\ng{v=\"int\"} 3\n"
        "g{v=\"time\"} 1765038000.125\n");
}

TEST_CASE("promtool accepts the rendered text") {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    MESSAGE("promtool not installed: skipped");
    return;
  }
  herald::test::TempDir dir;
  {
    std::ofstream out(dir / "metrics.txt");
    out << render_sample();
  }
  std::string cmd = "promtool check metrics < " + (dir / "metrics.txt").string() +
                    " > " + (dir / "promtool.out").string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(dir / "promtool.out");
  std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO("promtool: " << report);
  CHECK(rc == 0);
}

TEST_CASE("http_reply: status codes for each kind of request") {
  auto render = [] { return std::string("m 1\n"); };
  CHECK(http_reply("GET /metrics HTTP/1.1\r\nHost: x\r\n", render) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        "Content-Length: 4\r\nConnection: close\r\n\r\nm 1\n");
  CHECK(http_reply("GET /metrics?x=1 HTTP/1.0\r\n", render).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(http_reply("HEAD /metrics HTTP/1.1\r\n", render) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        "Content-Length: 4\r\nConnection: close\r\n\r\n");
  CHECK(http_reply("GET / HTTP/1.1\r\n", render).rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
  std::string r405 = http_reply("POST /metrics HTTP/1.1\r\n", render);
  CHECK(r405.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
  CHECK(r405.find("Allow: GET, HEAD\r\n") != std::string::npos);
  CHECK(http_reply("GET /metrics\r\n", render).rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(http_reply("GET /metrics SPDY/3\r\n", render).rfind("HTTP/1.1 400", 0) == 0);
  // Beast's parser checks the whole head (RFC 9112 5), not only the request line.
  std::string no_colon = http_reply("GET /metrics HTTP/1.1\r\nno colon here\r\n", render);
  CHECK(no_colon.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(no_colon.find("malformed request: ") != std::string::npos);
  CHECK(http_reply("GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n", render).rfind("HTTP/1.1 400", 0) == 0);
  CHECK(http_reply("G@T /metrics HTTP/1.1\r\n", render).rfind("HTTP/1.1 400", 0) == 0);
  CHECK(http_reply("GET /metrics HTTP/1.1\r\n\r\n", render).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
}

TEST_CASE("HTTP over a real loopback socket: /metrics, 404, oversize, idle deadline") {
  auto opts = loopback();
  opts.max_request_bytes = 512;
  opts.timeout = std::chrono::milliseconds(200);
  RunningServer srv(opts, [] { return render_sample(); });
  auto ep = srv.server->local_endpoint();
  REQUIRE(ep.port() != 0);

  std::string ok = http_exchange(ep, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string body(kSampleText);
  CHECK(ok == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "Content-Length: " + std::to_string(body.size()) +
              "\r\nConnection: close\r\n\r\n" + body);

  CHECK(http_exchange(ep, "GET /favicon.ico HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404 Not Found", 0) == 0);
  std::string big = "GET /metrics HTTP/1.1\r\nX-Pad: " + std::string(1000, 'a');
  CHECK(http_exchange(ep, big).rfind("HTTP/1.1 431 Request Header Fields Too Large", 0) == 0);
  // A client that never finishes its request is dropped at the deadline with no reply.
  CHECK(http_exchange(ep, "GET /metr").empty());
}

TEST_CASE("listening on a busy port is a clear error value") {
  asio::io_context io;
  auto first = HttpServer::start(io, loopback(), [] { return std::string(); });
  REQUIRE(first.has_value());
  HttpServer::Options o;
  o.endpoint = first.value()->local_endpoint();
  auto second = HttpServer::start(io, o, [] { return std::string(); });
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error() == "metrics listener on 127.0.0.1:" + std::to_string(o.endpoint.port()) +
                              ": bind: Address already in use");
}

TEST_CASE("HTTP: silent connections filling every slot do not block a scrape; the oldest goes") {
  auto opts = loopback();
  opts.max_connections = 4;
  opts.timeout = std::chrono::seconds(60);  // only eviction can make room here
  std::mutex mutex;
  std::vector<herald::daemon::DropReason> drops;
  opts.on_drop = [&](herald::daemon::DropReason r, const std::string& why, const asio::ip::address& from) {
    CHECK(why.find("all 4 connections in use") == 0);
    std::lock_guard lock(mutex);
    drops.push_back(r);
    CHECK(from.to_string() == "127.0.0.1");
  };
  RunningServer srv(opts, [] { return render_sample(); });
  auto ep = srv.server->local_endpoint();
  asio::io_context client_io;
  std::vector<tcp::socket> silent;
  auto connections = [&] {
    std::promise<std::size_t> p;
    asio::post(srv.io, [&] { p.set_value(srv.server->connections()); });
    return p.get_future().get();
  };
  for (std::size_t i = 0; i < 6; ++i) {
    silent.emplace_back(client_io).connect(ep);
    // Accepted in this order: wait for each before opening the next.
    std::size_t want = std::min<std::size_t>(i + 1, 4);
    auto dropped = [&] {
      std::lock_guard lock(mutex);
      return drops.size();
    };
    for (int k = 0; k < 400 && (connections() != want || (i >= 4 && dropped() != i - 3)); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  CHECK(http_exchange(ep, "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 OK", 0) == 0);
  // The first three were evicted (two by silent newcomers, one by the scrape), in order.
  std::string rest;
  boost::system::error_code ec;
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(asio::read(silent[i], asio::dynamic_buffer(rest), ec) == 0);
    CHECK(ec == asio::error::eof);
  }
  std::lock_guard lock(mutex);
  CHECK(drops == std::vector<herald::daemon::DropReason>(3, herald::daemon::DropReason::evicted));
  // The listener keeps the count /metrics exports (herald_connections_dropped_total).
  std::promise<herald::daemon::DropCounts> counts;
  asio::post(srv.io, [&] { counts.set_value(srv.server->dropped()); });
  CHECK(counts.get_future().get() == herald::daemon::DropCounts{3, 0, 0});
}

TEST_CASE("HTTP: a request head arriving a few bytes at a time is framed whole") {
  RunningServer srv(loopback(), [] { return std::string("m 1\n"); });
  auto ep = srv.server->local_endpoint();
  asio::io_context client_io;
  tcp::socket c(client_io);
  c.connect(ep);
  std::string req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  for (std::size_t i = 0; i < req.size(); i += 5) {
    asio::write(c, asio::buffer(req.data() + i, std::min<std::size_t>(5, req.size() - i)));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::string reply;
  boost::system::error_code ec;
  asio::read(c, asio::dynamic_buffer(reply), ec);
  CHECK(reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
}
