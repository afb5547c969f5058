// herald-check: runs one health check (or one service built around it) from command-line
// arguments and prints one JSON line per result or state change. Used by the integration tests
// against a real unbound, real listeners and real processes.
//
//   herald-check dns --server 192.0.2.53 --name www.example. --type A --expect 192.0.2.53
//   herald-check tcp --address 192.0.2.53 --port 53
//   herald-check exec --timeout 500 -- /bin/sleep 5
//   herald-check process --unit unbound.service      (or --pidfile /run/unbound.pid)
//   herald-check --service dns1 --run-for 3000 --interval 200 --rise 2 dns --server ...
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "health/check_run.hpp"
#include "health/format.hpp"
#include "health/monitor.hpp"

namespace health = herald::health;

using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

double ms(health::Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

json result_json(const std::string& check, const health::CheckResult& r) {
  return json{{"event", "result"}, {"check", check}, {"pass", r.pass}, {"drain", r.drain},
              {"latency_ms", ms(r.latency)}, {"reason", r.reason}};
}

json status_json(const health::ServiceStatus& s) {
  json checks = json::array();
  for (const auto& c : s.checks) {
    json j{{"check", c.check}};
    if (c.last) j["last"] = result_json(c.check, *c.last);
    checks.push_back(j);
  }
  json out{{"service", s.name}, {"state", health::to_string(s.state)}, {"reason", s.reason},
           {"since", health::format_utc(s.since.wall)}, {"checks", checks}};
  if (s.flap_hold_until) out["flap_hold_until"] = health::format_utc(s.flap_hold_until->wall);
  return out;
}

void print(const json& j) {
  std::puts(j.dump().c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run one herald health check and print JSON lines"};
  app.require_subcommand(1);
  unsigned timeout_ms = 1000;
  unsigned count = 1;
  std::string service;
  unsigned run_for_ms = 3000, interval_ms = 200, fast_ms = 100, rise = 2, fall = 2;
  bool start_up = false;
  std::string maintenance_file;
  app.add_option("--timeout", timeout_ms, "check timeout in ms");
  app.add_option("--count", count, "run the check this many times, one after the other");
  app.add_option("--service", service, "run a service (name) around the check instead");
  app.add_option("--run-for", run_for_ms, "service mode: run this long (ms), then print a snapshot");
  app.add_option("--interval", interval_ms, "service mode: interval (ms)");
  app.add_option("--fast-interval", fast_ms, "service mode: interval while a change is pending (ms)");
  app.add_option("--rise", rise, "service mode: passing rounds to go up");
  app.add_option("--fall", fall, "service mode: failing rounds to go down");
  app.add_flag("--start-up", start_up, "service mode: start up");
  app.add_option("--maintenance-file", maintenance_file, "service mode: add a maintenance-file check");

  health::DnsCheckSpec dns;
  auto* d = app.add_subcommand("dns", "native DNS query");
  d->add_option("--server", dns.server)->required();
  d->add_option("--port", dns.port);
  d->add_option("--name", dns.qname)->required();
  d->add_option("--type", dns.qtype);
  d->add_option("--class", dns.qclass);
  d->add_flag("--rd", dns.recursion_desired, "set RD");
  std::uint16_t edns = 0;
  d->add_option("--edns", edns, "EDNS0 UDP buffer size (0: no EDNS)");
  bool use_tcp = false;
  d->add_flag("--tcp", use_tcp, "query over TCP");
  std::vector<std::string> rcodes;
  d->add_option("--rcode", rcodes, "accepted rcode (repeatable; default NOERROR)");
  std::string expect;
  d->add_option("--expect", expect, "RDATA that must be in the answer");
  d->add_flag("--require-answer", dns.require_answer);
  unsigned max_rtt_ms = 0;
  d->add_option("--max-rtt", max_rtt_ms, "fail above this RTT (ms)");

  health::TcpCheckSpec tcp;
  auto* t = app.add_subcommand("tcp", "TCP connect");
  t->add_option("--address", tcp.address)->required();
  t->add_option("--port", tcp.port)->required();

  health::ExecCheckSpec exec;
  auto* e = app.add_subcommand("exec", "run a command (no shell)");
  e->add_option("command", exec.argv, "command and arguments (after --)")->required()->expected(-1);

  health::MaintenanceFileSpec maint;
  auto* m = app.add_subcommand("maintenance", "maintenance file");
  m->add_option("--file", maint.path)->required();

  health::ProcessCheckSpec proc;
  auto* pr = app.add_subcommand("process", "the DNS server's process, by pidfile or systemd unit");
  auto* pidfile_opt = pr->add_option("--pidfile", proc.pidfile);
  pr->add_option("--unit", proc.unit)->excludes(pidfile_opt);

  CLI11_PARSE(app, argc, argv);

  health::CheckSpec spec;
  if (d->parsed()) {
    if (edns) dns.edns_udp_size = edns;
    if (use_tcp) dns.transport = health::DnsTransport::Tcp;
    if (!rcodes.empty()) dns.accepted_rcodes = rcodes;
    if (!expect.empty()) dns.expect_answers = {expect};
    if (max_rtt_ms) dns.max_rtt = std::chrono::milliseconds(max_rtt_ms);
    spec = dns;
  } else if (t->parsed()) {
    spec = tcp;
  } else if (e->parsed()) {
    spec = exec;
  } else if (pr->parsed()) {
    spec = proc;
  } else {
    spec = maint;
  }
  const health::Duration timeout = std::chrono::milliseconds(timeout_ms);
  boost::asio::io_context io;

  if (!service.empty()) {
    health::ServiceSpec s;
    s.name = service;
    s.policy.interval = std::chrono::milliseconds(interval_ms);
    s.policy.fast_interval = std::chrono::milliseconds(fast_ms);
    s.policy.timeout = timeout;
    s.policy.rise = rise;
    s.policy.fall = fall;
    s.policy.start_up = start_up;
    s.policy.splay = 0ms;
    s.checks.push_back(spec);
    if (!maintenance_file.empty()) s.checks.push_back(health::MaintenanceFileSpec{maintenance_file});
    if (auto ok = health::validate_service(s); !ok) {
      print(json{{"event", "error"}, {"reason", ok.error()}});
      return 2;
    }
    health::Monitor mon(io, {s}, [](const health::ServiceStatus& st, health::ServiceState prev) {
      json j = status_json(st);
      j["event"] = "state";
      j["previous"] = health::to_string(prev);
      print(j);
    });
    mon.start();
    io.run_for(std::chrono::milliseconds(run_for_ms));
    for (const auto& st : mon.snapshot()) {
      json j = status_json(st);
      j["event"] = "snapshot";
      print(j);
    }
    mon.stop();
    io.restart();
    io.run_for(200ms);  // let cancelled exec checks reap their children
    return 0;
  }

  bool last_pass = false;
  const std::string label = health::describe(spec);
  for (unsigned i = 0; i < count; ++i) {
    bool finished = false;
    auto run = health::start_check(io, spec, timeout, [&](health::CheckResult r) {
      finished = true;
      last_pass = r.pass;
      print(result_json(label, r));
    });
    io.restart();
    // Bounded: the check cuts itself at `timeout`; the margin covers reaping a killed child.
    io.run_for(timeout + 2s);
    if (!finished) {
      run->cancel();
      print(json{{"event", "error"}, {"check", label}, {"reason", "check did not report"}});
      return 3;
    }
  }
  return last_pass ? 0 : 1;
}
