// heraldctl as the operator runs it: the real binary against a control server in this process,
// checking the request it sent, its output and its exit status (0 ok, 1 refused, 2 unreachable).
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>
#include <string>

#include "server_harness.hpp"

#ifdef HERALDCTL_PATH

using herald::test::Harness;
using namespace herald::control;
using nlohmann::json;

namespace {

struct Run {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs heraldctl with `args` (already shell-quoted), capturing stdout and stderr.
Run heraldctl(const herald::test::TempDir& dir, const std::string& args) {
  std::string err_file = (dir / "stderr").string();
  std::string cmd = std::string(HERALDCTL_PATH) + " " + args + " 2>" + err_file;
  Run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

json sample_status() {
  return {{"schema", 1},
          {"version", "0.1.0"},
          {"pid", 7},
          {"peers", {{{"name", "r1"}, {"address", "192.0.2.1"}, {"state", "Established"}}}},
          {"services", json::array()}};
}

json handler(const Command& c, const Caller&) {
  if (std::holds_alternative<Status>(c)) return ok_response({{"status", sample_status()}});
  if (auto* d = std::get_if<Drain>(&c); d && d->target.service == "nosuch") {
    return error_response("drain: unknown service \"nosuch\"");
  }
  if (std::holds_alternative<Undrain>(c)) {
    return ok_response({{"message", "undrained dns"}, {"warning", "state not saved"}});
  }
  return ok_response();
}

}  // namespace

TEST_CASE("heraldctl status renders the tables; --json prints the reply") {
  Harness h({}, handler);
  std::string sock = "--socket " + (h.dir / "control.sock").string();
  Run r = heraldctl(h.dir, sock + " status");
  CHECK(r.status == 0);
  CHECK(r.out.find("herald 0.1.0  pid 7\n") == 0);
  CHECK(r.out.find("r1    192.0.2.1  -   Established") != std::string::npos);
  r = heraldctl(h.dir, sock + " status --json");
  CHECK(r.status == 0);
  CHECK(json::parse(r.out)["status"] == sample_status());
}

TEST_CASE("heraldctl sends exactly the command asked for") {
  Harness h({}, handler);
  std::string sock = "--socket " + (h.dir / "control.sock").string();
  CHECK(heraldctl(h.dir, sock + " drain dns --reason 'kernel upgrade'").status == 0);
  CHECK(heraldctl(h.dir, sock + " drain --all").status == 0);
  CHECK(heraldctl(h.dir, sock + " steer dns --prepend 3 --med 50").status == 0);
  CHECK(heraldctl(h.dir, sock + " steer dns --med 7").status == 0);
  CHECK(heraldctl(h.dir, sock + " steer dns --clear").status == 0);
  CHECK(heraldctl(h.dir, sock + " reload").status == 0);
  CHECK(heraldctl(h.dir, sock + " clear-hold dns").status == 0);
  std::lock_guard lock(h.mutex);
  REQUIRE(h.seen.size() == 7);
  CHECK(h.seen[0] == Command{Drain{Target{false, "dns", {}}, "kernel upgrade", false, std::nullopt}});
  CHECK(h.seen[1] == Command{Drain{Target{true, "", {}}, "", false, std::nullopt}});
  CHECK(h.seen[2] == Command{Steer{"dns", 3, 50U}});
  CHECK(h.seen[3] == Command{Steer{"dns", 0, 7U}});
  CHECK(h.seen[4] == Command{SteerClear{"dns"}});
  CHECK(h.seen[5] == Command{Reload{}});
  CHECK(h.seen[6] == Command{ClearHold{"dns"}});
}

TEST_CASE("heraldctl routes and peer: the request sent, the table printed, usage errors never sent") {
  const json groups = json::array({json{{"family", "ipv4-unicast"}, {"origin", "IGP"}, {"as_path", {64500, 64500}},
                                         {"next_hop", "192.0.2.10"}, {"med", 7}, {"local_pref", nullptr},
                                         {"communities", {"65535:0"}}, {"large_communities", json::array()},
                                         {"otc", nullptr}, {"prefix_count", 1}, {"prefixes", {"192.0.2.53/32"}}}});
  const json reply = ok_response({{"truncated", false},
                                  {"peers", {{{"name", "r1"}, {"address", "192.0.2.1"}, {"state", "Established"},
                                              {"disabled", nullptr}, {"prefix_count", 1}, {"groups", groups}}}}});
  Harness h({}, [&](const Command& c, const Caller&) -> json {
    if (std::holds_alternative<Routes>(c)) return reply;
    return ok_response({{"message", "peer r1 disabled"}});
  });
  std::string sock = "--socket " + (h.dir / "control.sock").string();
  Run r = heraldctl(h.dir, sock + " routes r1");
  CHECK(r.status == 0);
  CHECK(r.out.find("PEER r1 192.0.2.1 Established: 1 prefixes sent\n") == 0);
  CHECK(r.out.find("192.0.2.53/32  192.0.2.10  64500 64500  IGP     7    -           65535:0") != std::string::npos);
  r = heraldctl(h.dir, sock + " routes --json");
  CHECK(json::parse(r.out) == reply);
  r = heraldctl(h.dir, sock + " peer disable r1 --reason 'rack move'");
  CHECK(r.status == 0);
  CHECK(r.out == "peer r1 disabled\n");
  CHECK(heraldctl(h.dir, sock + " peer reset r1").status == 0);
  CHECK(heraldctl(h.dir, sock + " peer enable r1").status == 0);
  CHECK(heraldctl(h.dir, sock + " peer enable r1 --reason x").status == 64);
  CHECK(heraldctl(h.dir, sock + " peer stop r1").status == 64);
  CHECK(heraldctl(h.dir, sock + " peer disable").status == 64);
  std::lock_guard lock(h.mutex);
  REQUIRE(h.seen.size() == 5);
  CHECK(h.seen[0] == Command{Routes{"r1"}});
  CHECK(h.seen[1] == Command{Routes{}});
  CHECK(h.seen[2] == Command{PeerAction{PeerActionKind::Disable, "r1", "rack move"}});
  CHECK(h.seen[3] == Command{PeerAction{PeerActionKind::Reset, "r1", ""}});
  CHECK(h.seen[4] == Command{PeerAction{PeerActionKind::Enable, "r1", ""}});
}

TEST_CASE("heraldctl exit statuses: refused 1, unreachable 2, usage 64; warnings on stderr") {
  Harness h({}, handler);
  std::string sock = "--socket " + (h.dir / "control.sock").string();
  Run r = heraldctl(h.dir, sock + " drain nosuch");
  CHECK(r.status == 1);
  CHECK(r.err == "heraldctl: drain: unknown service \"nosuch\"\n");
  CHECK(r.out.empty());

  r = heraldctl(h.dir, sock + " undrain dns");
  CHECK(r.status == 0);
  CHECK(r.out == "undrained dns\n");
  CHECK(r.err == "heraldctl: warning: state not saved\n");

  std::string missing = (h.dir / "absent.sock").string();
  r = heraldctl(h.dir, "--socket " + missing + " status");
  CHECK(r.status == 2);
  CHECK(r.err == "heraldctl: cannot connect to " + missing +
                     ": no such socket: herald is not running, or it uses another control-socket "
                     "(see --socket)\n");
  // With --json the same error is also a {"ok": false} reply on stdout, as the daemon's own.
  r = heraldctl(h.dir, "--json --socket " + missing + " status");
  CHECK(r.status == 2);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["ok"] == false);
  CHECK(j["error"].get<std::string>().find("no such socket: herald is not running") != std::string::npos);

  CHECK(heraldctl(h.dir, sock + " steer dns").status == 64);
  CHECK(heraldctl(h.dir, sock + " steer dns --prepend 17").status == 64);
  CHECK(heraldctl(h.dir, sock + " drain").status == 64);
  CHECK(heraldctl(h.dir, sock + " drain dns --all").status == 64);
  CHECK(heraldctl(h.dir, sock + " clear-hold").status == 64);
  CHECK(h.calls() == 2);  // none of the usage errors reached the daemon
}

TEST_CASE("heraldctl: a socket nobody listens on is named, and said to be left by a herald that ended") {
  herald::test::TempDir dir;
  std::string stale = (dir / "stale.sock").string();
  {
    // Bound but never listening: what a herald killed before it could remove its socket leaves.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", stale.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    ::close(fd);
  }
  Run r = heraldctl(dir, "--socket " + stale + " drain dns");
  CHECK(r.status == 2);
  CHECK(r.err == "heraldctl: cannot connect to " + stale +
                     ": the socket exists but nothing listens: herald is not running (the socket was "
                     "left by a herald that ended)\n");
}

TEST_CASE("heraldctl --timeout: a herald that never replies is reported as running but not answering") {
  std::promise<void> release;
  auto released = release.get_future().share();
  Harness h({}, [released](const Command&, const Caller&) {
    released.wait();  // holds the server's only thread: no reply until the test lets go
    return ok_response();
  });
  std::string sock = (h.dir / "control.sock").string();
  Run r = heraldctl(h.dir, "--timeout 0.3 --socket " + sock + " status");
  release.set_value();
  CHECK(r.status == 1);
  CHECK(r.err == "heraldctl: herald at " + sock +
                     " did not reply within 300 ms: it is running but busy or stuck (see its log; "
                     "--timeout sets the limit)\n");
  CHECK(heraldctl(h.dir, "--timeout 0 --socket " + sock + " status").status == 64);
}

TEST_CASE("heraldctl --json prints the reply of every command, before or after the command name") {
  Harness h({}, handler);
  std::string sock = "--socket " + (h.dir / "control.sock").string();
  Run r = heraldctl(h.dir, sock + " --json undrain dns");
  CHECK(r.status == 0);
  CHECK(json::parse(r.out) == json{{"ok", true}, {"message", "undrained dns"}, {"warning", "state not saved"}});
  r = heraldctl(h.dir, sock + " drain nosuch --json");
  CHECK(r.status == 1);
  CHECK(json::parse(r.out) == json{{"ok", false}, {"error", "drain: unknown service \"nosuch\""}});
  r = heraldctl(h.dir, sock + " --json reload");
  CHECK(r.status == 0);
  CHECK(json::parse(r.out)["ok"] == true);
}

TEST_CASE("heraldctl events prints pushed events until the daemon closes") {
  Harness h({}, handler);
  std::string sock = "--socket " + (h.dir / "control.sock").string();
  // Publish once the subscription exists, then stop the server so heraldctl sees EOF.
  std::thread pusher([&] {
    for (int i = 0; i < 500 && h.on_loop([&] { return h.server->subscribers(); }) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    h.on_loop([&] {
      h.server->publish({{"ts", "t1"}, {"event", "service"}, {"service", "dns"}, {"old", "Up"},
                         {"new", "Down"}});
      h.server->stop();
    });
  });
  Run r = heraldctl(h.dir, sock + " events");
  pusher.join();
  CHECK(r.status == 0);
  CHECK(r.out == "t1 service service=dns Up -> Down\n");
  CHECK(r.err == "heraldctl: herald closed the event stream\n");
}

#endif  // HERALDCTL_PATH
