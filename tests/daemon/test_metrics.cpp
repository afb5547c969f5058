// Metrics registry: exact exposition text of a sample registry, escaping, value formatting,
// promtool's verdict when it is installed, and the HTTP endpoint over a real loopback socket.
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

// A registry shaped like herald's: per-peer counters and gauges, a per-service histogram.
void fill_sample(Registry& reg) {
  auto& updates = reg.counter("herald_bgp_updates_sent_total", "UPDATE messages sent to a peer.",
                              {"peer"});
  updates.with({"upstream1"}).inc(3);
  updates.with({"upstream2"}).inc();
  reg.gauge("herald_bgp_sessions_established", "Peers in state Established.").with({}).set(2);
  auto& lat = reg.histogram("herald_check_latency_seconds", "Health check latency.",
                            {"service", "check"}, {0.005, 0.05, 0.5});
  lat.with({"dns", "udp"}).observe(0.001);
  lat.with({"dns", "udp"}).observe(0.02);
  lat.with({"dns", "udp"}).observe(2);
  reg.gauge("herald_service_up", "1 when the service is announced.\nSee \\docs.", {"service"})
      .with({"we\"ird\\na\nme"})
      .set(1);
  reg.counter("herald_unused_total", "Has labels but no series yet.", {"peer"});
}

const char* const kSampleText =
    "# HELP herald_bgp_updates_sent_total UPDATE messages sent to a peer.\n"
    "# TYPE herald_bgp_updates_sent_total counter\n"
    "herald_bgp_updates_sent_total{peer=\"upstream1\"} 3\n"
    "herald_bgp_updates_sent_total{peer=\"upstream2\"} 1\n"
    "# HELP herald_bgp_sessions_established Peers in state Established.\n"
    "# TYPE herald_bgp_sessions_established gauge\n"
    "herald_bgp_sessions_established 2\n"
    "# HELP herald_check_latency_seconds Health check latency.\n"
    "# TYPE herald_check_latency_seconds histogram\n"
    "herald_check_latency_seconds_bucket{service=\"dns\",check=\"udp\",le=\"0.005\"} 1\n"
    "herald_check_latency_seconds_bucket{service=\"dns\",check=\"udp\",le=\"0.05\"} 2\n"
    "herald_check_latency_seconds_bucket{service=\"dns\",check=\"udp\",le=\"0.5\"} 2\n"
    "herald_check_latency_seconds_bucket{service=\"dns\",check=\"udp\",le=\"+Inf\"} 3\n"
    "herald_check_latency_seconds_sum{service=\"dns\",check=\"udp\"} 2.021\n"
    "herald_check_latency_seconds_count{service=\"dns\",check=\"udp\"} 3\n"
    "# HELP herald_service_up 1 when the service is announced.\\nSee \\\\docs.\n"
    "# TYPE herald_service_up gauge\n"
    "herald_service_up{service=\"we\\\"ird\\\\na\\nme\"} 1\n";

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

TEST_CASE("sample registry renders the exact exposition text") {
  Registry reg;
  fill_sample(reg);
  CHECK(reg.render() == kSampleText);
}

TEST_CASE("registering the same family again returns it; series can be removed") {
  Registry reg;
  auto& a = reg.counter("x_total", "help", {"peer"});
  auto& b = reg.counter("x_total", "other help", {"peer"});
  CHECK(&a == &b);
  a.with({"r1"}).inc(2);
  a.with({"r2"}).inc();
  CHECK(b.with({"r1"}).value() == 2);
  a.remove({"r1"});
  CHECK(reg.render() == "# HELP x_total help\n# TYPE x_total counter\nx_total{peer=\"r2\"} 1\n");
}

TEST_CASE("gauges go both ways; histograms count NaN only in +Inf") {
  Registry reg;
  auto& g = reg.gauge("g", "g").with({});
  g.inc(5);
  g.dec(7);
  CHECK(g.value() == -2);
  auto& h = reg.histogram("h", "h", {}, {1}).with({});
  h.observe(1);  // le is inclusive
  h.observe(std::numeric_limits<double>::quiet_NaN());
  auto snap = h.snapshot();
  CHECK(snap.cumulative == std::vector<std::uint64_t>{1});
  CHECK(snap.count == 2);
}

TEST_CASE("value and escape formatting") {
  CHECK(format_value(3) == "3");
  CHECK(format_value(0.25) == "0.25");
  CHECK(format_value(1e21) == "1e+21");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
  CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  CHECK(escape_help("a\\b\"c\nd") == "a\\\\b\"c\\nd");
}

TEST_CASE("promtool accepts the rendered text") {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    MESSAGE("promtool not installed: skipped");
    return;
  }
  herald::test::TempDir dir;
  Registry reg;
  fill_sample(reg);
  {
    std::ofstream out(dir / "metrics.txt");
    out << reg.render();
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
  Registry reg;
  fill_sample(reg);
  auto opts = loopback();
  opts.max_request_bytes = 512;
  opts.timeout = std::chrono::milliseconds(200);
  RunningServer srv(opts, [&reg] { return reg.render(); });
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
  Registry reg;
  fill_sample(reg);
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
  RunningServer srv(opts, [&reg] { return reg.render(); });
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
