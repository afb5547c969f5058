// A control::Server on its own io thread in a temporary directory, for tests that act as
// clients. The default handler records each command and its caller and replies
// {"ok":true,"cmd":NAME}; drain of "boom" throws, drain of "nosuch" is refused.
#pragma once
#include <doctest/doctest.h>

#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#include "base/asio.hpp"
#include "daemon/control_client.hpp"
#include "daemon/control_server.hpp"
#include "temp_dir.hpp"

namespace herald::test {

// A server on its own io thread; the handler records what it was asked and by whom.
struct Harness {
  using Server = control::Server;
  using Command = control::Command;
  using Caller = control::Caller;
  using Client = control::Client;
  using json = nlohmann::json;

  TempDir dir;
  boost::asio::io_context io;
  // Keeps run() going after the server stops, so on_loop() always has a thread to run on.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::shared_ptr<Server> server;
  std::thread thread;
  std::mutex mutex;
  std::vector<Command> seen;
  Caller last_caller;

  explicit Harness(Server::Options opts = {}, Server::Handler custom = {}) {
    opts.path = dir / "control.sock";
    auto s = Server::start(io, opts, [this, custom](const Command& c, const Caller& who) -> json {
      {
        std::lock_guard lock(mutex);
        seen.push_back(c);
        last_caller = who;
      }
      if (custom) return custom(c, who);
      if (auto* d = std::get_if<control::Drain>(&c); d && d->target.service == "boom") {
        throw std::runtime_error("controller exploded");
      }
      if (auto* d = std::get_if<control::Drain>(&c); d && d->target.service == "nosuch") {
        return control::error_response("drain: unknown service \"nosuch\"");
      }
      return control::ok_response({{"cmd", std::string(control::command_name(c))}});
    });
    REQUIRE(s.has_value());
    server = s.value();
    thread = std::thread([this] { io.run(); });
  }
  ~Harness() {
    on_loop([this] { server->stop(); });
    work.reset();
    thread.join();  // returns once the listener and every connection are closed
  }
  // Runs `f` on the io thread and waits for it.
  template <typename F>
  std::invoke_result_t<F> on_loop(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return fut.get();
  }
  std::size_t calls() {
    std::lock_guard lock(mutex);
    return seen.size();
  }
  Client connect() {
    auto c = Client::connect(dir / "control.sock");
    REQUIRE(c.has_value());
    c->set_timeout(std::chrono::seconds(5));
    return std::move(c.value());
  }
};

}  // namespace herald::test
