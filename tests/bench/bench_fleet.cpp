// bench_fleet: N simulated herald sites against an etcd cluster, for tests/bench/fleet_scale.py.
// Each site does what herald's fleet code does, with herald's own classes: its own EtcdClient,
// a SitePublisher keeping sites/<site> and the floor's index/<service>/<site> keys under a lease
// (keep-alive every ttl/3, rewritten only on change) with its members/<site> record, and a watch on desired/ that notes when a fleet drain naming it arrives.
//
//   bench_fleet --endpoints A,B,C --fleet F --sites N --services 4 --regions R --ttl 10
//
// Prints one JSON line per event on stdout; reads one command per line on stdin:
//   put KEY                      write a desired key (as heraldctl would), then wait as below
//   wait KEY TIMEOUT_MS          wait until every site the key names has seen it (bounded)
//   del KEY                      delete a desired key
//   floor ROUNDS CONC MIN [spread]  ROUNDS times: CONC sites fail at once and run the floor txn
//                                (fleet/floor_round.hpp), then recover; durations of each. The
//                                failing sites are consecutive by name (the first ones: each
//                                among the others' witnesses, the worst case), or with `spread`
//                                spaced evenly across the fleet
//   read K PAGE                  K times the floor's read alone (floor_read_txn: the count of
//                                dns's index, its first PAGE keys, the site's own, the ledger
//                                keys, parsed); PAGE 0: every index key (the read before paging)
//   sites-read K                 K times every site's whole state, parsed (the floor's read
//                                before the index, to compare)
//   stats                        keep-alive failures, lost leases, watch restarts so far
//   quit                         revoke every lease (the sites leave the view), exit
// Times are CLOCK_MONOTONIC nanoseconds (std::chrono::steady_clock), the clock python's
// time.monotonic_ns() reads, so the script can time a heraldctl it runs against them.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/asio.hpp"
#include "fleet/drain.hpp"
#include "fleet/etcd_client.hpp"
#include "fleet/floor_round.hpp"
#include "fleet/publisher.hpp"
#include "fleet/view.hpp"

namespace asio = boost::asio;
using namespace herald::fleet;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

void say(const json& j) {
  std::fputs((j.dump() + "\n").c_str(), stdout);
  std::fflush(stdout);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto at = s.find(sep, start);
    if (at == std::string::npos) at = s.size();
    if (at > start) out.push_back(s.substr(start, at - start));
    start = at + 1;
  }
  return out;
}

struct Args {
  std::string endpoints, fleet = "bench";
  int sites = 1000, services = 4, regions = 10, ttl = 10, spread_ms = 5000;
};

struct Site {
  std::string name, region;
  std::unique_ptr<EtcdClient> client;
  std::unique_ptr<SitePublisher> pub;
  bool published = false;
  bool watching = false;
};

class Bench {
 public:
  Bench(asio::io_context& io, Args a) : io_(io), a_(std::move(a)), keys_(a_.fleet) {}

  asio::awaitable<int> run() {
    auto eps = split(a_.endpoints, ',');
    EtcdClientOptions op;
    op.endpoints = eps;
    auto oc = EtcdClient::create(io_.get_executor(), op);
    if (!oc) co_return fail(oc.error().reason);
    operator_ = std::move(oc.value());
    for (int i = 0; i < a_.services; ++i) services_.push_back(i == 0 ? "dns" : "svc" + std::to_string(i));
    for (int i = 0; i < a_.sites; ++i) {
      auto s = std::make_unique<Site>();
      char name[32];
      std::snprintf(name, sizeof name, "s%05d", i);
      s->name = name;
      s->region = "r" + std::to_string(i % a_.regions);
      // Each site lists the members starting at a different one, as an operator spreading the
      // load would configure them (every herald tries its first member first).
      EtcdClientOptions o;
      for (std::size_t k = 0; k < eps.size(); ++k) o.endpoints.push_back(eps[(i + k) % eps.size()]);
      auto c = EtcdClient::create(io_.get_executor(), o);
      if (!c) co_return fail(c.error().reason);
      s->client = std::move(c.value());
      sites_.push_back(std::move(s));
    }
    const auto t0 = Clock::now();
    asio::steady_timer t(io_);
    for (std::size_t i = 0; i < sites_.size(); ++i) {
      // Spread the starts: a fleet's heralds do not all start in the same millisecond.
      t.expires_at(t0 + std::chrono::milliseconds(a_.spread_ms * static_cast<long>(i) / a_.sites));
      co_await t.async_wait(asio::use_awaitable);
      start_site(*sites_[i]);
    }
    // Every site published and watching, within a bound.
    for (int polls = 0; polls < 1200; ++polls) {
      if (count(&Site::published) == sites_.size() && count(&Site::watching) == sites_.size()) break;
      t.expires_after(std::chrono::milliseconds(100));
      co_await t.async_wait(asio::use_awaitable);
    }
    say(json{{"event", "ready"}, {"sites", sites_.size()}, {"published", count(&Site::published)},
             {"watching", count(&Site::watching)},
             {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()}});
    co_return co_await commands();
  }

 private:
  int fail(const std::string& why) {
    say(json{{"event", "error"}, {"error", why}});
    return 1;
  }
  std::size_t count(bool Site::*flag) const {
    return static_cast<std::size_t>(std::count_if(sites_.begin(), sites_.end(), [&](const auto& s) { return (*s).*flag; }));
  }

  SiteState state_of(const Site& s) const {
    SiteState st{s.name, s.region, "bench", {}};
    for (const auto& sv : services_) {
      ServiceState x{sv, "up", true, "check " + sv + "-local ok", 1796560000};
      x.qps = 1000;
      st.services.push_back(std::move(x));
    }
    return st;
  }

  void start_site(Site& s) {
    s.pub = std::make_unique<SitePublisher>(*s.client, keys_, std::chrono::seconds(a_.ttl), [this, &s](const std::string& text) {
      if (text.rfind("published", 0) == 0) s.published = true;
      else if (text.rfind("keep-alive", 0) == 0) ++keepalive_failures_;
      else if (text.rfind("lease", 0) == 0) ++leases_lost_;
      else if (text.rfind("revoked", 0) != 0) ++other_reports_;
    });
    s.pub->set(state_of(s));
    asio::co_spawn(io_, s.pub->run(), asio::detached);
    asio::co_spawn(io_, watch(s), asio::detached);
  }

  // The site's watch on desired/: notes when a put that names it arrives; restarted from the
  // next revision when it breaks (bounded).
  asio::awaitable<void> watch(Site& s) {
    const std::string prefix = keys_.desired_prefix();
    const std::string end = prefix_end(prefix);
    std::int64_t last = 0;
    for (int attempt = 0; attempt < 100 && !quitting_; ++attempt) {
      auto w = co_await s.client->watch(prefix, end, last == 0 ? 0 : last + 1, [&](const WatchBatch& b) {
        if (b.created) s.watching = true;
        const std::int64_t at = now_ns();
        for (const auto& e : b.events) {
          if (e.deleted) continue;
          for (const auto& sv : services_)
            if (auto t = target_of_key(keys_, sv, e.kv.key); t && affects(*t, s.name, s.region))
              seen_[e.kv.key].push_back(at);
        }
        last = std::max(last, b.revision);
        return !quitting_;
      });
      if (w || quitting_) co_return;
      ++watch_restarts_;
      asio::steady_timer t(io_, std::chrono::milliseconds(200));
      co_await t.async_wait(asio::use_awaitable);
    }
  }

  std::size_t affected_by(const std::string& key) const {
    for (const auto& sv : services_)
      if (auto t = target_of_key(keys_, sv, key))
        return static_cast<std::size_t>(std::count_if(sites_.begin(), sites_.end(), [&](const auto& s) {
          return affects(*t, s->name, s->region);
        }));
    return 0;
  }

  asio::awaitable<json> wait_seen(const std::string& key, long timeout_ms) {
    const std::size_t want = affected_by(key);
    asio::steady_timer t(io_);
    const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (seen_[key].size() < want && Clock::now() < end) {
      t.expires_after(std::chrono::milliseconds(2));
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return json{{"key", key}, {"affected", want}, {"seen", seen_[key].size()}, {"times_ns", seen_[key]}};
  }

  struct FloorTally {
    json withdraw = json::array(), recover = json::array(), attempts = json::array();
    std::map<std::string, int> verdicts;
    int pending = 0;
  };

  // One site's floor decision, timed: what the floor adds to a withdrawal (or a recovery).
  asio::awaitable<void> floor_one(Site& s, bool fail_checks, MinSites min, std::shared_ptr<FloorTally> tp) {
    FloorTally& tally = *tp;  // shared: outlives a caller that gave up waiting
    const auto start = Clock::now();
    // The ledger key under the site's lease, as herald puts it.
    const FloorInput in{s.name, "dns", fail_checks, false, false, false, s.pub->lease()};
    auto out = co_await run_floor(*s.client, keys_, in, min);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    (fail_checks ? tally.withdraw : tally.recover).push_back(ms);
    if (out) {
      ++tally.verdicts[std::string(fail_checks ? "fail:" : "pass:") + to_string(out->decision.verdict)];
      if (fail_checks) tally.attempts.push_back(out->attempts);
    } else {
      ++tally.verdicts["error: " + out.error().reason.substr(0, 80)];
    }
    --tally.pending;
  }

  asio::awaitable<json> floor(int rounds, int conc, const std::string& min_text, bool spread) {
    auto min = parse_min_sites(min_text);
    if (!min) co_return json{{"event", "error"}, {"error", min.error()}};
    auto tp = std::make_shared<FloorTally>();
    FloorTally& tally = *tp;
    asio::steady_timer t(io_);
    for (int r = 0; r < rounds; ++r) {
      for (bool fail_checks : {true, false}) {
        tally.pending = conc;
        for (int i = 0; i < conc; ++i) {
          const std::size_t n = sites_.size();
          const std::size_t at = spread ? static_cast<std::size_t>(i) * n / static_cast<std::size_t>(conc) + static_cast<std::size_t>(r)
                                        : static_cast<std::size_t>(r * conc + i);
          Site& s = *sites_[at % n];
          asio::co_spawn(io_, floor_one(s, fail_checks, min.value(), tp), asio::detached);
        }
        for (int polls = 0; tally.pending > 0 && polls < 30000; ++polls) {
          t.expires_after(std::chrono::milliseconds(1));
          co_await t.async_wait(asio::use_awaitable);
        }
      }
    }
    co_return json{{"event", "floor"}, {"conc", conc}, {"min_sites", min_text}, {"spread", spread},
                   {"withdraw_ms", tally.withdraw},
                   {"recover_ms", tally.recover}, {"attempts", tally.attempts}, {"verdicts", tally.verdicts}};
  }

  asio::awaitable<int> commands() {
    asio::posix::stream_descriptor in(io_, ::dup(0));
    std::string buf;
    for (;;) {
      boost::system::error_code ec;
      std::size_t n = co_await asio::async_read_until(in, asio::dynamic_buffer(buf), '\n',
                                                       asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;  // stdin closed: as quit
      std::string line = buf.substr(0, n - 1);
      buf.erase(0, n);
      auto w = split(line, ' ');
      if (w.empty()) continue;
      if (w[0] == "quit") break;
      if (w[0] == "put" && w.size() == 2) {
        // (No temporaries with destructors inside co_await expressions: GCC 12 may destroy them
        // twice.)
        std::string value = to_json(DesiredDrain{"bench", "bench_fleet", 0});
        const std::int64_t t0 = now_ns();
        auto p = co_await operator_->put(w[1], std::move(value));
        const std::int64_t t1 = now_ns();
        if (!p) {
          say(json{{"event", "error"}, {"error", p.error().reason}});
          continue;
        }
        json j = co_await wait_seen(w[1], 10000);
        j["event"] = "put";
        j["t0_ns"] = t0;
        j["put_done_ns"] = t1;
        say(j);
      } else if (w[0] == "wait" && w.size() == 3) {
        json j = co_await wait_seen(w[1], std::stol(w[2]));
        j["event"] = "wait";
        say(j);
      } else if (w[0] == "del" && w.size() == 2) {
        auto d = co_await operator_->del(w[1]);
        seen_.erase(w[1]);
        say(json{{"event", "del"}, {"ok", static_cast<bool>(d)}});
      } else if (w[0] == "floor" && (w.size() == 4 || (w.size() == 5 && w[4] == "spread"))) {
        say(co_await floor(std::stoi(w[1]), std::stoi(w[2]), w[3], w.size() == 5));
      } else if (w[0] == "read" && w.size() == 3) {
        // The floor's read alone (its first page: what a decision reads when the page has enough
        // witnesses; PAGE 0: the whole index), at one revision, parsed: its share of a floor
        // decision. Read as the first site would (its own key among the first).
        json times = json::array();
        std::size_t bytes = 0, keys = 0;
        const auto page = static_cast<unsigned>(std::stoul(w[2]));
        const std::size_t want = page == 0 ? sites_.size() : std::min<std::size_t>(page, sites_.size());
        for (int i = 0; i < std::stoi(w[1]); ++i) {
          Txn txn = floor_read_txn(keys_, "dns", sites_.front()->name, page);
          const auto start = Clock::now();
          auto r = co_await operator_->txn(std::move(txn));
          if (!r) break;
          auto st = floor_state_from(keys_, "dns", sites_.front()->name, r.value());
          times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
          bytes = 0;
          for (const auto& rr : r->ranges)
            for (const auto& kv : rr.kvs) bytes += kv.key.size() + kv.value.size();
          keys = st ? st->first.sites.size() : 0;
          if (keys < want || !st || st->first.publishing != sites_.size()) break;
        }
        say(json{{"event", "read"}, {"ms", times}, {"bytes", bytes}, {"keys", keys}, {"page", page}});
      } else if (w[0] == "sites-read" && w.size() == 2) {
        // The floor's read before the index: every site's whole state at one revision, parsed
        // (kept to compare: docs/benchmarks.md's history).
        json times = json::array();
        std::size_t bytes = 0;
        for (int i = 0; i < std::stoi(w[1]); ++i) {
          std::string from = keys_.sites_prefix();
          const auto start = Clock::now();
          auto r = co_await operator_->get_prefix(std::move(from));
          if (!r) break;
          FleetView v = view_from_range(keys_, r.value());
          times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
          bytes = 0;
          for (const auto& kv : r->kvs) bytes += kv.key.size() + kv.value.size();
          if (v.sites.size() != sites_.size()) break;
        }
        say(json{{"event", "sites-read"}, {"ms", times}, {"bytes", bytes}});
      } else if (w[0] == "stats") {
        say(json{{"event", "stats"}, {"keepalive_failures", keepalive_failures_}, {"leases_lost", leases_lost_},
                 {"watch_restarts", watch_restarts_}, {"other_reports", other_reports_},
                 {"published", count(&Site::published)}});
      } else {
        say(json{{"event", "error"}, {"error", "unknown command: " + line}});
      }
    }
    quitting_ = true;
    for (auto& s : sites_)
      if (s->pub) s->pub->stop();
    // Let the publishers revoke their leases (bounded), then stop: the watches end with the loop.
    asio::steady_timer t(io_, std::chrono::seconds(5));
    co_await t.async_wait(asio::use_awaitable);
    say(json{{"event", "quit"}});
    io_.stop();
    co_return 0;
  }

  asio::io_context& io_;
  Args a_;
  Keys keys_;
  std::vector<std::string> services_;
  std::vector<std::unique_ptr<Site>> sites_;
  std::unique_ptr<EtcdClient> operator_;
  std::map<std::string, std::vector<std::int64_t>> seen_;
  int keepalive_failures_ = 0, leases_lost_ = 0, watch_restarts_ = 0, other_reports_ = 0;
  bool quitting_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_fleet: simulated herald sites against etcd (tests/bench/fleet_scale.py)"};
  Args a;
  app.add_option("--endpoints", a.endpoints)->required();
  app.add_option("--fleet", a.fleet);
  app.add_option("--sites", a.sites)->check(CLI::Range(1, 100000));
  app.add_option("--services", a.services)->check(CLI::Range(1, 16));
  app.add_option("--regions", a.regions)->check(CLI::Range(1, 1000));
  app.add_option("--ttl", a.ttl)->check(CLI::Range(2, 300));
  app.add_option("--spread-ms", a.spread_ms)->check(CLI::Range(0, 600000));
  CLI11_PARSE(app, argc, argv);
  asio::io_context io;
  Bench b(io, a);
  int rc = 1;
  asio::co_spawn(io, b.run(), [&](std::exception_ptr e, int r) {
    if (e) std::abort();
    rc = r;
    io.stop();
  });
  io.run();
  return rc;
}
