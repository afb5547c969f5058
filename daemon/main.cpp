// herald: the daemon. Reads /etc/herald/herald.toml (or -c FILE), then announces the configured
// anycast prefixes to its BGP peers for as long as their services are healthy.
//
//   herald [-c FILE]              run
//   herald --check-config FILE    validate, print every error as FILE:LINE:COL, exit 0/1
//   herald --dump-config FILE     print the normalized, fully defaulted configuration
//   herald --dry-run [-c FILE]    run the checks and decide, but announce nothing (dry-run)
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <unistd.h>

#include "base/asio.hpp"
#include "conf/load.hpp"
#include "daemon/control_server.hpp"
#include "daemon/controller.hpp"
#include "daemon/controller_config.hpp"
#include "daemon/log.hpp"
#include "daemon/privileges.hpp"

namespace {

int print_errors(const std::vector<herald::conf::Error>& errors) {
  for (const auto& e : errors) fmt::print(stderr, "{}\n", e.to_string());
  fmt::print(stderr, "{} error{} in configuration\n", errors.size(), errors.size() == 1 ? "" : "s");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"herald: a BGP speaker that announces a DNS service's anycast prefixes while it is healthy"};
  std::string config_path = herald::conf::kDefaultConfigPath;
  std::string check_path, dump_path;
  bool version = false;
  bool dry_run = false;
  app.add_option("-c,--config", config_path, "configuration file")->capture_default_str();
  app.add_option("--check-config", check_path, "validate FILE and exit (0 valid, 1 invalid)");
  app.add_option("--dump-config", dump_path, "print FILE's normalized configuration with every default");
  app.add_flag("--dry-run", dry_run,
               "run every check and show what would be announced (heraldctl status, routes), without any BGP "
               "session, address change or state file write (as global.dry-run = true)");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);

  if (version) {
    fmt::print("herald {}\n", HERALD_VERSION);
    return 0;
  }
  if (!check_path.empty()) {
    auto r = herald::conf::load_file(check_path, &herald::conf::system_host());
    if (!r) return print_errors(r.error());
    fmt::print("{}: configuration is valid ({} peers, {} services)\n", check_path, r->peers.size(), r->services.size());
    return 0;
  }
  if (!dump_path.empty()) {
    auto r = herald::conf::load_file(dump_path);
    if (!r) return print_errors(r.error());
    fmt::print("{}", herald::conf::dump(*r));
    return 0;
  }

  // Large buffers (a 100,000-prefix list, its routes, a bulk UPDATE burst) get their own
  // mappings, returned to the system when freed. glibc's default raises this threshold after
  // the first such free, after which they come from the heap and stay in RSS for good.
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);

  auto loaded = herald::conf::load_file(config_path, &herald::conf::system_host());
  if (!loaded) return print_errors(loaded.error());
  herald::conf::Config config = std::move(loaded.value());
  if (dry_run) config.global.dry_run = true;
  // Drain wait + Cease flush are bounded by shutdown-timeout; allow 10 s more for the rest.
  const auto exit_deadline = config.global.shutdown_timeout + std::chrono::seconds(10);
  const std::string run_as = config.global.user;
  const std::string state_dir = config.global.state_dir;
  const std::string control_socket = config.global.control_socket;

  herald::log::Logger logger(herald::daemon::log_options(config.global, herald::log::stderr_is_journal()));

  std::signal(SIGPIPE, SIG_IGN);  // a vanished control client must not kill the daemon
  boost::asio::io_context io;
  const bool dry = config.global.dry_run;
  herald::daemon::Controller controller(io, config_path, std::move(config), logger, dry_run);
  if (!controller.start()) return 1;
  // Everything that needs root is open now (port 179, control socket, netlink): keep only
  // CAP_NET_ADMIN and CAP_NET_BIND_SERVICE from here on.
  // A dry run leaves the state directory as it is (it writes nothing there).
  if (auto handed = dry ? herald::Expected<std::string, std::string>(std::string("dry run"))
                        : herald::daemon::hand_over_directory(state_dir, run_as);
      !handed) {
    logger.write(herald::log::Level::error, "cannot drop privileges", {{"reason", handed.error()}});
    controller.abandon_start();
    return 1;
  }
  // Removing the control socket at exit needs its directory writable: give herald the
  // directory when it is the socket's own (as the unit's RuntimeDirectory= does).
  if (::geteuid() == 0 && !run_as.empty()) {
    auto own = herald::control::own_socket_directory(control_socket);
    std::string why = own ? std::string() : own.error();
    if (own) {
      if (auto handed = herald::daemon::hand_over_directory(*own, run_as); !handed) why = handed.error();
    }
    if (!why.empty())
      logger.write(herald::log::Level::warning, "control socket will be left behind at exit",
                   {{"path", control_socket}, {"user", run_as}, {"reason", why}});
  }
  if (auto dropped = herald::daemon::drop_privileges(run_as); !dropped) {
    logger.write(herald::log::Level::error, "cannot drop privileges", {{"reason", dropped.error()}});
    controller.abandon_start();
    return 1;
  } else {
    logger.write(dropped->warning ? herald::log::Level::warning : herald::log::Level::notice, "privileges",
                 {{"reason", dropped->message}});
  }

  boost::asio::signal_set signals(io, SIGHUP, SIGTERM, SIGINT);
  boost::asio::steady_timer deadline(io);
  std::function<void(const boost::system::error_code&, int)> on_signal;
  on_signal = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      logger.write(herald::log::Level::notice, "reload requested", {{"reason", "SIGHUP"}});
      (void)controller.reload();
      signals.async_wait(on_signal);
      return;
    }
    std::string why = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    controller.shutdown(why, [&] {
      signals.cancel();
      deadline.cancel();
      io.stop();
    });
    // Bounded exit: whatever hangs, the process ends.
    deadline.expires_after(exit_deadline);
    deadline.async_wait([&](const boost::system::error_code& e) {
      if (e) return;
      logger.write(herald::log::Level::error, "shutdown took too long, exiting anyway");
      io.stop();
    });
    signals.async_wait([&](const boost::system::error_code& e, int) {
      if (e) return;
      logger.write(herald::log::Level::warning, "second signal, exiting at once");
      io.stop();
    });
  };
  signals.async_wait(on_signal);
  io.run();
  return 0;
}
