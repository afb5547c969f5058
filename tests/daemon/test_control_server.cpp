// Control server over a real Unix socket in a temporary directory: the io_context runs in a
// background thread, the test is a blocking client (control::Client).
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <fstream>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "daemon/control_client.hpp"
#include "daemon/control_server.hpp"
#include "server_harness.hpp"
#include "temp_dir.hpp"

using namespace herald::control;
namespace asio = boost::asio;
using nlohmann::json;
using herald::test::Harness;

namespace {

// A raw client that connects and says nothing (closed when it goes out of scope).
struct Silent {
  int fd = -1;
  explicit Silent(const std::filesystem::path& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, path.c_str());
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  }
  Silent(const Silent&) = delete;
  ~Silent() { ::close(fd); }
  // Whether the server closed the connection within `ms` (EOF or reset).
  bool closed_within(int ms) const {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, ms) != 1) return false;
    char c;
    return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
  }
};

// Records what a server reports to on_drop (called on the io thread).
struct Drops {
  std::mutex mutex;
  std::vector<std::pair<herald::daemon::DropReason, pid_t>> seen;
  void watch(Server::Options& o) {
    o.on_drop = [this](herald::daemon::DropReason r, const std::string&, const Caller& who) {
      std::lock_guard lock(mutex);
      seen.emplace_back(r, who.pid);
    };
  }
  std::size_t count(herald::daemon::DropReason r) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(std::count_if(seen.begin(), seen.end(), [r](auto& d) { return d.first == r; }));
  }
};

json reply_of(Client& c) {
  auto line = c.read_line();
  REQUIRE(line.has_value());
  REQUIRE(line->has_value());
  return json::parse(**line);
}

}  // namespace

TEST_CASE("a command reaches the handler with the caller's credentials") {
  Harness h;
  Client c = h.connect();
  auto r = c.request(Drain{Target{false, "dns", {}}, "maint", false, std::nullopt});
  REQUIRE(r.has_value());
  CHECK(*r == json{{"ok", true}, {"cmd", "drain"}});
  std::lock_guard lock(h.mutex);
  REQUIRE(h.seen.size() == 1);
  CHECK(h.seen[0] == Command{Drain{Target{false, "dns", {}}, "maint", false, std::nullopt}});
  CHECK(h.last_caller.uid == ::getuid());
  CHECK(h.last_caller.gid == ::getgid());
  CHECK(h.last_caller.pid == ::getpid());
}

TEST_CASE("malformed requests get an error, skip the handler, and the connection stays usable") {
  Harness h;
  Client c = h.connect();
  REQUIRE(c.send_line(R"({"cmd":"steer","service":"dns","prepend":99})"));
  CHECK(reply_of(c) == json{{"ok", false}, {"error", "steer: prepend must be an integer 0..16"}});
  REQUIRE(c.send_line("not json"));
  CHECK(reply_of(c)["error"].get<std::string>().rfind("request is not valid JSON at byte 2", 0) == 0);
  CHECK(h.calls() == 0);
  auto r = c.request(Status{});
  REQUIRE(r.has_value());
  CHECK((*r)["ok"] == true);
  CHECK(h.calls() == 1);
}

TEST_CASE("handler errors and exceptions become error replies") {
  Harness h;
  Client c = h.connect();
  auto r = c.request(Drain{Target{false, "nosuch", {}}, "", false, std::nullopt});
  REQUIRE(r.has_value());
  CHECK(*r == json{{"ok", false}, {"error", "drain: unknown service \"nosuch\""}});
  r = c.request(Drain{Target{false, "boom", {}}, "", false, std::nullopt});
  REQUIRE(r.has_value());
  CHECK(*r == json{{"ok", false}, {"error", "internal error: controller exploded"}});
  CHECK(c.request(Status{}).has_value());
}

TEST_CASE("pipelined requests in one write are answered in order") {
  Harness h;
  Client c = h.connect();
  REQUIRE(c.send_line("{\"cmd\":\"status\"}\n{\"cmd\":\"bogus\"}\r\n{\"cmd\":\"reload\"}"));
  CHECK(reply_of(c)["cmd"] == "status");
  CHECK(reply_of(c)["ok"] == false);
  CHECK(reply_of(c)["cmd"] == "reload");
}

TEST_CASE("an over-long line is refused without buffering it, then the connection recovers") {
  Server::Options opts;
  opts.max_line_bytes = 1024;
  Harness h(opts);
  Client c = h.connect();
  std::string huge(200 * 1024, 'x');  // far beyond the bound, sent without a newline at first
  REQUIRE(c.send_line(huge + R"({"cmd":"status"})"));
  CHECK(reply_of(c) == json{{"ok", false}, {"error", "request line longer than 1 KiB"}});
  auto r = c.request(Status{});
  REQUIRE(r.has_value());
  CHECK((*r)["cmd"] == "status");
  CHECK(h.calls() == 1);
}

TEST_CASE("events: only subscribed connections receive published lines") {
  Harness h;
  Client sub = h.connect();
  Client other = h.connect();
  auto r = sub.request(Events{});
  REQUIRE(r.has_value());
  CHECK((*r)["ok"] == true);
  CHECK(other.request(Status{}).has_value());
  CHECK(h.on_loop([&] { return h.server->subscribers(); }) == 1);

  json ev = {{"event", "service"}, {"service", "dns"}, {"old", "up"}, {"new", "down"}};
  h.on_loop([&] { h.server->publish(ev); });
  CHECK(reply_of(sub) == ev);
  // The subscriber can still send commands; replies and events share one ordered stream.
  REQUIRE(sub.send_line(R"({"cmd":"status"})"));
  CHECK(reply_of(sub)["cmd"] == "status");
  // The other connection got no event: its next line is the reply to its next request.
  auto r2 = other.request(Reload{});
  REQUIRE(r2.has_value());
  CHECK((*r2)["cmd"] == "reload");
}

TEST_CASE("a subscriber that half-closes keeps receiving events") {
  Harness h;
  Client sub = h.connect();
  REQUIRE(sub.request(Events{}).has_value());
  // Shut down our sending side, as `heraldctl events < /dev/null` might.
  sub.close_send();
  CHECK(h.on_loop([&] { return h.server->subscribers(); }) == 1);
  h.on_loop([&] { h.server->publish(json{{"event", "x"}}); });
  CHECK(reply_of(sub) == json{{"event", "x"}});
}

TEST_CASE("a non-subscriber's EOF closes its connection after the reply") {
  Harness h;
  {
    Client c = h.connect();
    REQUIRE(c.send_line(R"({"cmd":"status"})"));
    CHECK(reply_of(c)["ok"] == true);
  }
  // The server notices the close; poll the loop a bounded number of times.
  std::size_t open = 1;
  for (int i = 0; i < 200 && open != 0; ++i) {
    open = h.on_loop([&] { return h.server->connections(); });
    if (open != 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(open == 0);
}

TEST_CASE("a connection that sends no complete request is closed at the request timeout") {
  Drops drops;
  Server::Options opts;
  opts.request_timeout = std::chrono::milliseconds(100);
  drops.watch(opts);
  Harness h(opts);
  Silent idle(h.dir / "control.sock");
  Silent half(h.dir / "control.sock");
  REQUIRE(::send(half.fd, R"({"cmd":"sta)", 11, 0) == 11);
  CHECK(idle.closed_within(5000));
  CHECK(half.closed_within(5000));
  CHECK(drops.count(herald::daemon::DropReason::timed_out) == 2);
  std::lock_guard lock(drops.mutex);
  CHECK(drops.seen[0].second == ::getpid());  // the caller's credentials come with the report
}

TEST_CASE("a full table of idle connections still admits a newcomer: the oldest idle one goes") {
  Drops drops;
  Server::Options opts;
  opts.max_connections = 4;
  opts.request_timeout = std::chrono::seconds(60);  // only eviction can make room here
  drops.watch(opts);
  Harness h(opts);
  std::vector<std::unique_ptr<Silent>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<Silent>(h.dir / "control.sock"));
    // Accepted in this order: wait for each before opening the next.
    for (int k = 0; k < 400 && h.on_loop([&] { return h.server->connections(); }) != idle.size(); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  REQUIRE(h.on_loop([&] { return h.server->connections(); }) == 4);
  Client c = h.connect();
  auto r = c.request(Drain{Target{false, "dns", {}}, "", false, std::nullopt});
  REQUIRE(r.has_value());
  CHECK((*r)["ok"] == true);
  CHECK(idle[0]->closed_within(5000));
  CHECK_FALSE(idle[1]->closed_within(0));
  CHECK(drops.count(herald::daemon::DropReason::evicted) == 1);
  CHECK(h.on_loop([&] { return h.server->connections(); }) == 4);
}

TEST_CASE("subscribers have no request timeout") {
  Server::Options opts;
  opts.request_timeout = std::chrono::milliseconds(100);
  Harness h(opts);
  Client sub = h.connect();
  REQUIRE(sub.request(Events{}).has_value());
  // A silent connection opened after the subscription times out; the subscriber stays.
  Silent idle(h.dir / "control.sock");
  REQUIRE(idle.closed_within(5000));
  CHECK(h.on_loop([&] { return h.server->subscribers(); }) == 1);
  h.on_loop([&] { h.server->publish(json{{"event", "x"}}); });
  CHECK(reply_of(sub) == json{{"event", "x"}});
}

TEST_CASE("socket file gets the configured mode and group; stop() removes it") {
  Server::Options opts;
  opts.mode = 0660;
  // Root may give the socket any group; anyone else only one of their own (ctest -L unit runs
  // without root).
  const gid_t group = ::geteuid() == 0 ? 4242 : ::getegid();
  opts.group = group;
  auto h = std::make_unique<Harness>(opts);
  auto path = h->dir / "control.sock";
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0660);
  CHECK(st.st_gid == group);
  h->on_loop([&] { h->server->stop(); });
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("start-up refuses a live socket and non-sockets, but replaces a stale socket") {
  Harness live;
  asio::io_context io;
  auto handler = [](const Command&, const Caller&) { return ok_response(); };

  Server::Options same;
  same.path = live.dir / "control.sock";
  auto second = Server::start(io, same, handler);
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error() == "control socket " + same.path.string() +
                              ": another process is listening on it");

  Server::Options file;
  file.path = live.dir / "plain-file";
  std::ofstream(file.path) << "keep me";
  auto third = Server::start(io, file, handler);
  REQUIRE_FALSE(third.has_value());
  CHECK(third.error() == "control socket " + file.path.string() +
                             ": exists and is not a socket; not removing it");
  CHECK(std::filesystem::exists(file.path));

  // A stale socket: bound, then its owner went away without removing it.
  Server::Options stale;
  stale.path = live.dir / "stale.sock";
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, stale.path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    ::close(fd);
  }
  REQUIRE(std::filesystem::exists(stale.path));
  auto fourth = Server::start(io, stale, handler);
  REQUIRE(fourth.has_value());
  fourth.value()->stop();
  CHECK_FALSE(std::filesystem::exists(stale.path));

  Server::Options missing_dir;
  missing_dir.path = live.dir / "no" / "such" / "dir.sock";
  auto fifth = Server::start(io, missing_dir, handler);
  REQUIRE_FALSE(fifth.has_value());
  CHECK(fifth.error().find(": bind: No such file or directory") != std::string::npos);
}

TEST_CASE("client connect errors name the socket path") {
  herald::test::TempDir dir;
  auto c = Client::connect(dir / "absent.sock");
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error() == "cannot connect to " + (dir / "absent.sock").string() +
                         ": no such socket: herald is not running, or it uses another control-socket "
                         "(see --socket)");
}

TEST_CASE("the socket's own directory: only the socket in it, not sticky, not world-writable") {
  herald::test::TempDir dir;
  auto run = dir / "run";
  std::filesystem::create_directory(run);
  ::chmod(run.c_str(), 0755);
  asio::io_context io;
  auto handler = [](const Command&, const Caller&) { return ok_response(); };
  Server::Options o;
  o.path = run / "control.sock";
  auto server = Server::start(io, o, handler);
  REQUIRE(server.has_value());
  auto own = own_socket_directory(o.path);
  REQUIRE(own.has_value());
  CHECK(*own == run);

  ::chmod(run.c_str(), 01777);
  CHECK(own_socket_directory(o.path).error() == run.string() + " is sticky or writable by anyone");
  ::chmod(run.c_str(), 0755);
  std::ofstream(run / "other") << "x";
  CHECK(own_socket_directory(o.path).error() == run.string() + " holds other files");
  std::filesystem::remove(run / "other");
  CHECK(own_socket_directory(o.path).has_value());
  server.value()->stop();
  CHECK(own_socket_directory(dir / "absent" / "x.sock").error() == (dir / "absent").string() + " is not a directory");
}

TEST_CASE("group lookup") {
  auto root = lookup_group("root");
  REQUIRE(root.has_value());
  CHECK(*root == 0);
  auto none = lookup_group("herald-no-such-group");
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error() == "group \"herald-no-such-group\" does not exist");
}

TEST_CASE("a deferred reply (drain --wait) comes later, with no request timeout meanwhile") {
  herald::test::TempDir dir;
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::vector<Server::Reply> pending;  // touched on the io thread only
  Server::Options opts;
  opts.path = dir / "control.sock";
  opts.request_timeout = std::chrono::milliseconds(100);
  auto s = Server::start(io, opts, Server::AsyncHandler([&](const Command& c, const Caller&, Server::Reply reply) {
                           if (auto* d = std::get_if<Drain>(&c); d && d->wait) pending.push_back(std::move(reply));
                           else reply(ok_response({{"cmd", std::string(command_name(c))}}));
                         }));
  REQUIRE(s.has_value());
  auto server = s.value();
  std::thread thread([&] { io.run(); });
  auto on_loop = [&](auto f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    asio::post(io, [&task] { task(); });
    return fut.get();
  };
  {
    auto c = Client::connect(dir / "control.sock");
    REQUIRE(c.has_value());
    c->set_timeout(std::chrono::seconds(5));
    REQUIRE(c->send_line(to_line(to_json(Drain{Target{false, "dns", {}}, "", true, std::nullopt}))).has_value());
    for (int k = 0; k < 1000 && on_loop([&] { return pending.size(); }) == 0; ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(on_loop([&] { return pending.size(); }) == 1);
    // A silent connection opened now times out; the pending one is kept past the timeout.
    Silent idle(dir / "control.sock");
    REQUIRE(idle.closed_within(5000));
    CHECK(on_loop([&] { return server->connections(); }) == 1);
    on_loop([&] {
      pending[0](ok_response({{"message", "withdrawn"}}));
      pending[0](ok_response({{"message", "twice"}}));  // a second call is ignored
      return 0;
    });
    CHECK(reply_of(*c) == json{{"ok", true}, {"message", "withdrawn"}});
    auto r = c->request(Status{});  // and the connection goes on
    REQUIRE(r.has_value());
    CHECK((*r)["cmd"] == "status");
    REQUIRE(c->send_line(to_line(to_json(Drain{Target{true, "", {}}, "", true, std::nullopt}))).has_value());
    for (int k = 0; k < 1000 && on_loop([&] { return pending.size(); }) < 2; ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }  // the client goes away before its reply
  for (int k = 0; k < 1000 && on_loop([&] { return server->connections(); }) != 0; ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  on_loop([&] {
    if (pending.size() == 2) pending[1](ok_response());  // no connection: a no-op
    return 0;
  });
  on_loop([&] {
    server->stop();
    return 0;
  });
  work.reset();
  thread.join();
}
