// herald-addr: binds service addresses with AddressBinder + LibnlBackend and prints every
// event, the way the daemon wires the watch into its Asio loop. Used by test_netlink_addr.py
// and handy by hand:
//   herald-addr --address 192.0.2.1/32 --address 2001:db8:53::1/128 --label lo:herald
// Output, one line each (flushed): "bound <addr> added|adopted", "ready",
// "event <kind> <reason>", "released", or "error <message>" (exit 1).
//
// GCC 12 reports -Wnull-dereference false positives inside Asio's scheduler and libstdc++
// strings once inlined into CLI11/Asio at -O2; this test driver turns the warning off.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "base/asio.hpp"
#include "netlink/address_binder.hpp"
#include "netlink/libnl_backend.hpp"

namespace asio = boost::asio;
using namespace herald::netlink;

namespace {

void say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

// Waits for readability of the binder's descriptor, drains it, and waits again. The
// stream_descriptor never owns the descriptor: the backend does (see main's release()).
void arm(asio::posix::stream_descriptor& sd, AddressBinder& binder) {
  sd.async_wait(asio::posix::stream_descriptor::wait_read, [&sd, &binder](const auto& ec) {
    if (ec) return;  // cancelled on shutdown
    for (const Event& e : binder.process())
      say(fmt::format("event {} {}", to_string(e.kind), e.reason));
    arm(sd, binder);
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Bind DNS service addresses through netlink and report changes"};
  BinderConfig cfg;
  std::vector<std::string> addresses;
  std::string service = "dns";
  std::string readd = "after-up";
  double seconds = 0;
  app.add_option("--interface", cfg.interface, "interface (default lo)");
  app.add_option("--address", addresses, "service address, e.g. 192.0.2.1/32")->required();
  app.add_option("--service", service, "service name");
  app.add_option("--label", cfg.label, "IPv4 label, e.g. lo:herald");
  app.add_flag("--create-dummy", cfg.create_dummy, "create the interface as dummy if missing");
  app.add_flag("--remove-on-exit", cfg.remove_on_exit, "remove what herald added on exit");
  app.add_option("--readd", readd, "never | after-up | always")
      ->check(CLI::IsMember({"never", "after-up", "always"}));
  app.add_option("--seconds", seconds, "exit after this long (0: run until SIGTERM/SIGINT)");
  CLI11_PARSE(app, argc, argv);

  cfg.readd = readd == "never"    ? ReaddPolicy::Never
              : readd == "always" ? ReaddPolicy::Always
                                  : ReaddPolicy::AfterInterfaceUp;
  ServiceAddresses svc{service, {}};
  for (const auto& text : addresses) {
    auto a = InterfaceAddress::parse(text);
    if (!a) {
      say("error bad address " + text);
      return 2;
    }
    svc.addresses.push_back(*a);
  }
  cfg.services.push_back(svc);

  auto backend = LibnlBackend::open();
  if (!backend) {
    say("error " + backend.error().message);
    return 1;
  }
  AddressBinder binder(**backend, cfg);
  if (auto st = binder.bind(); !st) {
    say("error " + st.error().message);
    for (const auto& e : binder.release()) say("error " + e.message);
    return 1;
  }
  for (const auto& a : svc.addresses) {
    say(fmt::format("bound {} {}", a.to_string(),
                    binder.origin(a) == Origin::Added ? "added" : "adopted"));
  }
  say(binder.service_ready(service) ? "ready" : "not-ready");

  asio::io_context io;
  asio::posix::stream_descriptor sd(io, binder.fd());
  arm(sd, binder);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer timer(io);
  auto stop = [&] {
    signals.cancel();
    timer.cancel();
    sd.cancel();
    sd.release();  // the backend owns and closes the descriptor
  };
  signals.async_wait([&](const auto& ec, int) {
    if (!ec) stop();
  });
  if (seconds > 0) {
    timer.expires_after(std::chrono::milliseconds(static_cast<long>(seconds * 1000)));
    timer.async_wait([&](const auto& ec) {
      if (!ec) stop();
    });
  }
  io.run();
  int rc = 0;
  for (const auto& e : binder.release()) {
    say("error " + e.message);
    rc = 1;
  }
  say("released");
  return rc;
}
