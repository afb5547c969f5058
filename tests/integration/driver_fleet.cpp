// herald-fleet: the fleet's etcd client and floor driven from the command line, for
// tests/integration/test_fleet_etcd.py and by hand. Every answer is one JSON line on stdout.
//   herald-fleet --endpoints 192.0.2.11:2379,192.0.2.12:2379 [--user U --password-file F]
//                [--ca CA --cert C --key K] COMMAND ...
//   publish --fleet F --site S --region R --service dns [--state up] [--announced 1] --ttl 5
//       keeps sites/S published under a lease (SitePublisher) until SIGTERM, then revokes it;
//       prints each of its reports as {"event": first word, "text": ..., "lease": id}
//   view --fleet F [--service dns]          the fleet status JSON (view.hpp)
//   floor --fleet F --site S --service dns --min-sites 2 [--fail] [--start-at-ms T] [--lease ID]
//       one floor decision through etcd (floor_round.hpp); --start-at-ms waits for that
//       CLOCK_REALTIME millisecond so that several sites decide at the same moment; --lease puts
//       the site's ledger key under that lease (a publisher's, as herald does)
//   watch --prefix P --count N [--timeout-ms T]   prints each event; exits after N of them
//   put --key-name K --value V | get --key-name K | del --key-name K
//   list --prefix P                         every key under P: {"revision", "kvs": [{key, value, lease}]}
// Exit status: 0 on success, 1 on an etcd error (printed as {"error": reason, "code": N}).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "base/asio.hpp"
#include "fleet/etcd_client.hpp"
#include "fleet/floor_round.hpp"
#include "fleet/publisher.hpp"
#include "fleet/view.hpp"

namespace asio = boost::asio;
using namespace herald::fleet;
using json = nlohmann::json;

namespace {

void say(const json& j) {
  std::fputs((j.dump() + "\n").c_str(), stdout);
  std::fflush(stdout);
}

int fail(const EtcdError& e) {
  say(json{{"error", e.reason}, {"code", e.grpc_code}});
  return 1;
}

struct Args {
  std::string endpoints, user, password_file, ca, cert, key;
  std::string fleet = "lab", site, region, service = "dns", state = "up", min_sites = "1";
  std::string prefix, k, value;
  bool announced = true, fail_checks = false;
  int ttl = 5, count = 1;
  long long start_at_ms = 0, timeout_ms = 10000;
  std::int64_t lease = 0;
  unsigned page = 0;
};

asio::awaitable<int> publish(EtcdClient& etcd, const Args& a, asio::io_context& io) {
  SiteState st{a.site, a.region, "test", {ServiceState{a.service, a.state, a.announced, "published by herald-fleet", 0}}};
  SitePublisher* self = nullptr;
  SitePublisher pub(etcd, Keys(a.fleet), std::chrono::seconds(a.ttl), [&](const std::string& text) {
    // The first word names the event: published, keep-alive, lease, revoked, ...
    say(json{{"event", text.substr(0, text.find(' '))}, {"text", text}, {"lease", self ? self->lease() : 0},
             {"endpoint", etcd.endpoint()}});
  });
  self = &pub;
  pub.set(st);
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&pub](const boost::system::error_code& ec, int) {
    if (!ec) pub.stop();
  });
  co_await pub.run();
  signals.cancel();
  co_return 0;
}

asio::awaitable<int> run(EtcdClient& etcd, const std::string& cmd, const Args& a, asio::io_context& io) {
  Keys keys(a.fleet);
  if (cmd == "publish") co_return co_await publish(etcd, a, io);
  if (cmd == "view") {
    auto r = co_await etcd.get_prefix(keys.sites_prefix());
    if (!r) co_return fail(r.error());
    std::fputs((status_json(view_from_range(keys, r.value()), a.service) + "\n").c_str(), stdout);
    co_return 0;
  }
  if (cmd == "floor") {
    auto min = parse_min_sites(a.min_sites);
    if (!min) co_return fail(EtcdError{min.error()});
    if (a.start_at_ms > 0) {
      auto at = std::chrono::system_clock::time_point(std::chrono::milliseconds(a.start_at_ms));
      asio::system_timer t(io, at);
      co_await t.async_wait(asio::use_awaitable);
    }
    FloorInput in{a.site, a.service, a.fail_checks, false, false, false, a.lease};
    FloorRetry retry;
    retry.page = a.page;
    auto out = co_await run_floor(etcd, keys, in, min.value(), retry);
    if (!out) co_return fail(out.error());
    say(json{{"site", a.site}, {"verdict", to_string(out->decision.verdict)}, {"reason", out->decision.reason},
             {"attempts", out->attempts}, {"floor", out->decision.floor}, {"witnesses", out->decision.witnesses},
             {"revision", out->revision}, {"pages", out->pages}});
    co_return 0;
  }
  if (cmd == "watch") {
    // A broken stream (its member died) is watched again from the next revision, on whichever
    // member answers: no event is lost or repeated.
    int seen = 0;
    std::int64_t last = 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto w = co_await etcd.watch(a.prefix, prefix_end(a.prefix), last == 0 ? 0 : last + 1, [&](const WatchBatch& b) {
        if (b.created) say(json{{"event", "created"}, {"revision", b.revision}, {"endpoint", etcd.endpoint()}});
        for (const auto& e : b.events) {
          say(json{{"event", e.deleted ? "delete" : "put"}, {"key", e.kv.key}, {"revision", e.kv.mod_revision}});
          ++seen;
        }
        last = std::max(last, b.revision);
        return seen < a.count;
      }, std::chrono::milliseconds(a.timeout_ms));
      if (w) co_return 0;
      say(json{{"event", "watch-broken"}, {"reason", w.error().reason}, {"next_revision", last + 1}});
    }
    co_return fail(EtcdError{"watch broke 5 times"});
  }
  if (cmd == "put") {
    auto r = co_await etcd.put(a.k, a.value);
    if (!r) co_return fail(r.error());
    say(json{{"revision", r.value()}});
    co_return 0;
  }
  if (cmd == "del") {
    auto r = co_await etcd.del(a.k);
    if (!r) co_return fail(r.error());
    say(json{{"revision", r.value()}});
    co_return 0;
  }
  if (cmd == "get" || cmd == "list") {
    EtcdResult<RangeResult> r = RangeResult{};
    if (cmd == "get") r = co_await etcd.get(a.k);
    else r = co_await etcd.get_prefix(a.prefix);
    if (!r) co_return fail(r.error());
    json kvs = json::array();
    for (const auto& kv : r->kvs) kvs.push_back(json{{"key", kv.key}, {"value", kv.value}, {"lease", kv.lease}});
    say(json{{"revision", r->revision}, {"kvs", kvs}});
    co_return 0;
  }
  co_return fail(EtcdError{"unknown command " + cmd});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"herald-fleet: the fleet's etcd client, for tests"};
  Args a;
  app.add_option("--endpoints", a.endpoints, "etcd members, comma-separated host:port")->required();
  app.add_option("--user", a.user);
  app.add_option("--password-file", a.password_file);
  app.add_option("--ca", a.ca);
  app.add_option("--cert", a.cert);
  app.add_option("--key", a.key);
  app.add_option("--fleet", a.fleet);
  app.add_option("--site", a.site);
  app.add_option("--region", a.region);
  app.add_option("--service", a.service);
  app.add_option("--state", a.state);
  app.add_option("--announced", a.announced);
  app.add_option("--ttl", a.ttl);
  app.add_option("--min-sites", a.min_sites);
  app.add_flag("--fail", a.fail_checks);
  app.add_option("--start-at-ms", a.start_at_ms);
  app.add_option("--lease", a.lease, "floor: the lease of the site's ledger key");
  app.add_option("--page", a.page, "floor: index keys per page (0: the default for min-sites)");
  app.add_option("--prefix", a.prefix);
  app.add_option("--count", a.count);
  app.add_option("--timeout-ms", a.timeout_ms);
  app.add_option("--key-name", a.k, "the key of put/get/del");
  app.add_option("--value", a.value);
  std::string cmd;
  app.add_option("command", cmd)->required();
  CLI11_PARSE(app, argc, argv);

  EtcdClientOptions opts;
  opts.endpoints = split_endpoints(a.endpoints);
  opts.user = a.user;
  if (!a.password_file.empty()) {
    std::ifstream f(a.password_file);
    std::getline(f, opts.password);
  }
  opts.tls = !a.ca.empty();
  opts.ca_file = a.ca;
  opts.cert_file = a.cert;
  opts.key_file = a.key;
  opts.timeout = std::chrono::milliseconds(1500);

  asio::io_context io;
  auto client = EtcdClient::create(io.get_executor(), opts);
  if (!client) return fail(client.error());
  int rc = 1;
  asio::co_spawn(io, run(*client.value(), cmd, a, io), [&rc](std::exception_ptr e, int r) {
    if (e) std::abort();  // a broken invariant: the client reports errors as values
    rc = r;
  });
  io.run();
  return rc;
}
