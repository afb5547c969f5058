// heraldctl: the operator's client of herald's control socket.
//
//   heraldctl [--socket PATH] [--timeout SECONDS] [--json] COMMAND
//   heraldctl status
//   heraldctl drain SERVICE | --all | --unit UNIT [--reason TEXT] [--wait [--settle DURATION]]
//   heraldctl undrain SERVICE | --all | --unit UNIT
//   heraldctl steer SERVICE --prepend N [--med M] | --med M | --clear
//   heraldctl clear-hold SERVICE
//   heraldctl reload
//   heraldctl events
//   heraldctl routes [PEER]
//   heraldctl peer reset|disable|enable PEER [--reason TEXT]
//   heraldctl fleet status|drain|undrain|forget ...   (etcd, not the control socket: heraldctl_fleet.hpp)
//
// --json prints the daemon's reply object (events: one JSON object per line) for every command;
// it is also accepted after the command name. --timeout bounds the connection and the reply
// (events: only the subscription).
//
// Exit status: 0 success; 1 the daemon refused the command (its error on stderr) or the reply
// could not be read in time; 2 the control socket could not be reached; 64 bad command line.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "conf/values.hpp"
#include "daemon/control_client.hpp"
#include "daemon/control_protocol.hpp"
#include "daemon/heraldctl_fleet.hpp"
#include "daemon/status_render.hpp"

namespace {

using herald::control::Client;
using herald::control::Command;
using nlohmann::json;

constexpr int kExitRefused = 1;
constexpr int kExitUnreachable = 2;
constexpr int kExitUsage = 64;  // EX_USAGE, sysexits(3)

// An error of heraldctl's own (the daemon unreachable, no reply in time): on stderr, and with
// --json also as the daemon's own error reply shape on stdout, so a script reads one format.
void say_error(const std::string& what, bool json_out) {
  std::cerr << "heraldctl: " << what << "\n";
  if (json_out) std::cout << json{{"ok", false}, {"error", what}}.dump(2) << "\n";
}

// Connects, or prints why not and returns nullopt.
std::optional<Client> connect(const std::string& socket, std::chrono::milliseconds timeout, bool json_out) {
  auto c = Client::connect(socket, timeout);
  if (!c) {
    say_error(c.error(), json_out);
    return std::nullopt;
  }
  return std::move(c.value());
}

// Prints an {"ok":false} reply's error; returns whether the reply was ok.
bool report(const json& reply) {
  if (reply.value("ok", false)) {
    if (auto w = reply.find("warning"); w != reply.end() && w->is_string()) {
      std::cerr << "heraldctl: warning: " << w->get<std::string>() << "\n";
    }
    return true;
  }
  auto e = reply.find("error");
  std::cerr << "heraldctl: " << (e != reply.end() && e->is_string() ? e->get<std::string>()
                                                                     : std::string("command failed"))
            << "\n";
  return false;
}

int run_command(const std::string& socket, std::chrono::milliseconds timeout, const Command& cmd,
                bool json_out) {
  auto client = connect(socket, timeout, json_out);
  if (!client) return kExitUnreachable;
  auto reply = client->request(cmd);
  if (!reply) {
    say_error(reply.error(), json_out);
    return kExitRefused;
  }
  if (json_out) std::cout << reply->dump(2) << "\n";
  if (!report(*reply)) return kExitRefused;
  if (json_out) return 0;
  if (std::holds_alternative<herald::control::Status>(cmd)) {
    std::cout << herald::control::render_status(*reply);
  } else if (std::holds_alternative<herald::control::Routes>(cmd)) {
    std::cout << herald::control::render_routes(*reply);
  } else if (auto m = reply->find("message"); m != reply->end() && m->is_string()) {
    std::cout << m->get<std::string>() << "\n";
  } else {
    std::cout << "ok\n";
  }
  return 0;
}

int run_events(const std::string& socket, std::chrono::milliseconds timeout, bool json_out) {
  auto client = connect(socket, timeout, json_out);
  if (!client) return kExitUnreachable;
  auto reply = client->request(herald::control::Events{});
  if (!reply) {
    say_error(reply.error(), json_out);
    return kExitRefused;
  }
  if (!report(*reply)) return kExitRefused;
  client->set_timeout(std::chrono::milliseconds(0));  // events may be hours apart
  for (;;) {
    auto line = client->read_line();
    if (!line) {
      std::cerr << "heraldctl: " << line.error() << "\n";
      return kExitRefused;
    }
    if (!line->has_value()) {
      std::cerr << "heraldctl: herald closed the event stream\n";
      return 0;
    }
    if (json_out) {
      std::cout << **line << std::endl;
      continue;
    }
    auto ev = json::parse(**line, nullptr, false);
    std::cout << (ev.is_discarded() ? **line : herald::control::render_event(ev)) << std::endl;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"heraldctl: inspect and steer a running herald daemon"};
  app.require_subcommand(1);
  std::string socket(herald::control::kDefaultSocketPath);
  app.add_option("-s,--socket", socket, "herald's control socket")
      ->envname("HERALD_CONTROL_SOCKET")
      ->capture_default_str();
  double timeout_s = 10;
  auto* timeout_opt = app.add_option("-t,--timeout", timeout_s,
                                     "seconds to wait for herald to accept and to reply (drain --wait: "
                                     "120 unless given; give more than drain-period + settle)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  bool json_out = false;
  app.add_flag("--json", json_out, "print herald's reply as JSON (events: one object per line)");

  auto* status = app.add_subcommand("status", "show peers, services and checks");

  std::string service;
  std::string unit;
  bool all = false;
  std::string reason;
  auto* drain = app.add_subcommand("drain", "withdraw a service's prefixes until undrained");
  auto* drain_svc = drain->add_option("service", service, "service name");
  auto* drain_all = drain->add_flag("--all", all, "drain every service");
  drain_svc->excludes(drain_all);
  auto* drain_unit = drain->add_option("--unit", unit,
                                       "drain held by this systemd unit (its services' `units`); "
                                       "distinct from an operator's drain");
  drain_unit->excludes(drain_svc)->excludes(drain_all);
  drain->add_option("-r,--reason", reason, "why (shown in status and logs)");
  bool wait = false;
  std::string settle;
  drain->add_flag("--wait", wait,
                  "reply only once the prefixes are withdrawn from every peer (after drain-period) "
                  "and the settle time has passed");
  drain->add_option("--settle", settle, "with --wait: time for routers to converge (e.g. 2s; default: drain-settle)")
      ->check([](const std::string& v) -> std::string {
        return herald::conf::parse_duration(v) ? "" : "expected a duration like 1s or 500ms";
      });

  auto* undrain = app.add_subcommand("undrain", "announce a drained service again (if healthy)");
  auto* undrain_svc = undrain->add_option("service", service, "service name");
  auto* undrain_all = undrain->add_flag("--all", all, "undrain every service");
  undrain_svc->excludes(undrain_all);
  auto* undrain_unit = undrain->add_option("--unit", unit,
                                           "remove only this unit's drain; other holders keep theirs");
  undrain_unit->excludes(undrain_svc)->excludes(undrain_all);

  std::optional<int> prepend;
  std::optional<std::uint32_t> med;
  bool clear = false;
  auto* steer = app.add_subcommand("steer", "make a service's announcements less preferred");
  steer->add_option("service", service, "service name")->required();
  auto* o_prepend = steer->add_option("--prepend", prepend, "extra AS_PATH prepends (0..16)")
                        ->check(CLI::Range(0, herald::control::kMaxPrepend));
  auto* o_med = steer->add_option("--med", med, "MULTI_EXIT_DISC to send");
  auto* o_clear = steer->add_flag("--clear", clear, "remove the override");
  o_clear->excludes(o_prepend)->excludes(o_med);

  auto* clear_hold = app.add_subcommand("clear-hold", "end a service's flap hold now (it may be announced again)");
  clear_hold->add_option("service", service, "service name")->required();

  auto* reload = app.add_subcommand("reload", "re-read the configuration file");
  auto* events = app.add_subcommand("events", "print state changes as they happen");

  std::string peer_name;
  auto* routes = app.add_subcommand("routes", "show the prefixes announced to each peer, with their attributes as sent");
  routes->add_option("peer", peer_name, "only this peer");

  std::string peer_action;
  auto* peer = app.add_subcommand("peer", "reset, disable or enable one BGP session");
  peer->add_option("action", peer_action,
                   "reset: Cease/Administrative Reset, then reconnect after the idle hold; disable: Cease/Administrative "
                   "Shutdown, stays down (also after a restart) until enable")
      ->required()
      ->check(CLI::IsMember({"reset", "disable", "enable"}));
  peer->add_option("peer", peer_name, "peer name")->required();
  peer->add_option("-r,--reason", reason,
                   "reset, disable: the shutdown communication sent to the peer (RFC 9003) and logged");

  herald::ctl::FleetArgs fleet;
  herald::ctl::add_fleet_commands(app, fleet);
  // --json after the command name too (heraldctl status --json), as operators type it.
  for (auto* sub : {status, drain, undrain, steer, clear_hold, reload, events, routes, peer})
    sub->add_flag("--json", json_out, "print herald's reply as JSON");

  try {
    app.parse(argc, argv);
    if ((*drain || *undrain) && service.empty() && !all && unit.empty()) {
      throw CLI::ValidationError("give a SERVICE, --all or --unit UNIT");
    }
    if (*peer && peer_action == "enable" && !reason.empty()) {
      throw CLI::ValidationError("--reason goes with reset or disable, not enable");
    }
    if (*steer && !clear && !prepend && !med) {
      throw CLI::ValidationError("give --prepend and/or --med, or --clear");
    }
    if (*fleet.fleet) herald::ctl::validate_fleet(fleet);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }

  using namespace herald::control;
  auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000));
  // etcd: --timeout bounds each member's answer; 2 s each unless given.
  if (*fleet.fleet)
    return herald::ctl::run_fleet(fleet, timeout_opt->count() ? timeout : std::chrono::milliseconds(2000), json_out);
  auto run = [&](const Command& cmd) { return run_command(socket, timeout, cmd, json_out); };
  Target target{all, all ? std::string() : service, unit};
  if (*status) return run(Status{});
  if (*drain) {
    if (!settle.empty() && !wait) {
      std::cerr << "heraldctl: --settle needs --wait\n";
      return kExitUsage;
    }
    std::optional<std::int64_t> settle_ms;
    if (!settle.empty())
      settle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*herald::conf::parse_duration(settle)).count();
    // A wait lasts drain-period + settle: longer than the default timeout for a reply.
    if (wait && timeout_opt->count() == 0) timeout = std::chrono::seconds(120);
    return run(Drain{target, reason, wait, settle_ms});
  }
  if (*undrain) return run(Undrain{target});
  if (*steer) {
    if (clear) return run(SteerClear{service});
    return run(Steer{service, prepend.value_or(0), med});
  }
  if (*clear_hold) return run(ClearHold{service});
  if (*reload) return run(Reload{});
  if (*routes) return run(Routes{peer_name});
  if (*peer) {
    const PeerActionKind kind = peer_action == "reset"     ? PeerActionKind::Reset
                                : peer_action == "disable" ? PeerActionKind::Disable
                                                           : PeerActionKind::Enable;
    return run(PeerAction{kind, peer_name, reason});
  }
  if (*events) return run_events(socket, timeout, json_out);
  return kExitUsage;
}
