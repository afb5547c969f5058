#include "health/process_check.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "health/unit_bus.hpp"
#include "health/unit_tracker.hpp"

namespace herald::health {

namespace asio = boost::asio;

herald::Expected<int, std::string> parse_pid(std::string_view text) {
  const auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  if (text.empty()) return herald::unexpected(std::string("empty"));
  long long pid = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || pid > std::numeric_limits<int>::max())
      return herald::unexpected(fmt::format("not a PID: \"{}\"", text.substr(0, 32)));
    pid = pid * 10 + (c - '0');
  }
  if (pid < 1 || pid > std::numeric_limits<int>::max())
    return herald::unexpected(fmt::format("not a PID: \"{}\"", text.substr(0, 32)));
  return static_cast<int>(pid);
}

herald::Expected<char, std::string> parse_proc_state(std::string_view stat) {
  const auto close = stat.rfind(')');
  if (close == std::string_view::npos || close + 2 >= stat.size() || stat[close + 1] != ' ')
    return herald::unexpected(std::string("no state after the command name"));
  const char state = stat[close + 2];
  if (!std::isalpha(static_cast<unsigned char>(state)))
    return herald::unexpected(fmt::format("not a state: '{}'", state));
  return state;
}

bool stopped_state(char state) { return state == 'T' || state == 't'; }

namespace {

// The reason to fail when `pid` is stopped (nullopt: running, or its state could not be read,
// which a gone process explains: its pidfd says so, not this).
std::optional<std::string> stopped_reason(int pid, const std::string& who) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  if (!in) return std::nullopt;
  std::string text;
  std::getline(in, text);
  const auto state = parse_proc_state(text);
  if (!state || !stopped_state(*state)) return std::nullopt;
  return fmt::format("{} stopped (state {}): it answers nothing until continued", who, *state);
}

// pidfd_open(2) through syscall(2): glibc has a wrapper only since 2.36.
int open_pidfd(int pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  errno = ENOSYS;
  return -1;
#endif
}

// A pidfd is readable once its process has exited (zombies included).
bool pidfd_exited(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

class ProcessRun final : public CheckRun {
 public:
  void cancel() override { *cancelled_ = true; }
  std::shared_ptr<bool> cancelled_ = std::make_shared<bool>(false);
};

}  // namespace

// State shared with the pending wait, which may outlive the checker.
struct ProcessWatch : std::enable_shared_from_this<ProcessWatch> {
  ProcessWatch(asio::io_context& io, ProcessCheckSpec s) : spec(std::move(s)), pidfd(io) {}
  ProcessCheckSpec spec;
  asio::posix::stream_descriptor pidfd;
  int pid = 0;
  std::function<void(std::string)> on_exit;
  bool stopped = false;
  bool frozen = false;  // the last run found the watched process stopped (SIGSTOP, a tracer)

  std::string who() const { return fmt::format("process {} (from {})", pid, spec.pidfile); }

  // A live watched process passes unless it is stopped; the first run to find it stopped
  // takes the service down at once (on_exit), the next ones fail until it is continued.
  CheckResult alive() {
    auto why = stopped_reason(pid, who());
    if (!why) {
      frozen = false;
      return {true, Duration{0}, who() + " running", false};
    }
    if (!frozen && on_exit && !stopped) on_exit(*why);
    frozen = true;
    return {false, Duration{0}, *why, false};
  }

  // The watched process ended: forget it and tell at once.
  void exited() {
    const std::string reason = who() + " exited";
    boost::system::error_code ignored;
    pidfd.close(ignored);
    if (on_exit && !stopped) on_exit(reason);
  }

  void wait() {
    pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                     [self = shared_from_this(), fd = pidfd.native_handle()](
                         const boost::system::error_code& ec) {
                       // Closed (stopped, or an exit seen by a run first) or replaced meanwhile.
                       if (ec || self->stopped || !self->pidfd.is_open() ||
                           self->pidfd.native_handle() != fd)
                         return;
                       self->exited();
                     });
  }

  // One run: pass while the watched process lives; otherwise look for one in the pidfile.
  CheckResult run() {
    if (pidfd.is_open()) {
      if (!pidfd_exited(pidfd.native_handle())) return alive();
      // Exited and the wait has not run yet: report it now, the wait will find the fd closed.
      const std::string gone = who() + " exited";
      exited();
      return {false, Duration{0}, gone, false};
    }
    std::ifstream in(spec.pidfile);
    if (!in) return {false, Duration{0}, fmt::format("cannot read {}: {}", spec.pidfile, std::strerror(errno)), false};
    // A PID and a newline fit in 16 bytes; a bigger file is not a pidfile (and is not read whole).
    char buf[64];
    in.read(buf, sizeof buf);
    auto parsed = parse_pid(std::string_view(buf, static_cast<std::size_t>(in.gcount())));
    if (!parsed) return {false, Duration{0}, fmt::format("{}: {}", spec.pidfile, parsed.error()), false};
    const int candidate = *parsed;
    const int fd = open_pidfd(candidate);
    if (fd < 0) {
      const int err = errno;
      if (err == ESRCH)
        return {false, Duration{0}, fmt::format("process {} (from {}) not running", candidate, spec.pidfile), false};
      if (err == ENOSYS)
        return {false, Duration{0}, "pidfd_open(2) not supported by this kernel (Linux 5.3 or later needed)", false};
      return {false, Duration{0}, fmt::format("pidfd_open({}): {}", candidate, std::strerror(err)), false};
    }
    if (pidfd_exited(fd)) {  // a zombie not yet reaped by its parent
      ::close(fd);
      return {false, Duration{0}, fmt::format("process {} (from {}) not running", candidate, spec.pidfile), false};
    }
    pid = candidate;
    frozen = false;
    pidfd.assign(fd);
    wait();
    return alive();
  }
};

// The same watch when the PID comes from a systemd unit: what systemd says of the unit (read at
// each round while nothing is watched, and its PropertiesChanged signals) goes through the pure
// UnitTracker, which says which PID to hold a pidfd on and when to go down at once.
struct UnitWatch : std::enable_shared_from_this<UnitWatch> {
  UnitWatch(asio::io_context& io, std::string unit, std::unique_ptr<UnitBus> b)
      : tracker(std::move(unit)), bus(std::move(b)), pidfd(io) {}
  UnitTracker tracker;
  std::unique_ptr<UnitBus> bus;
  asio::posix::stream_descriptor pidfd;
  std::function<void(std::string)> on_exit;
  bool stopped = false;
  bool reading = false;  // one read on the bus at a time
  std::optional<int> frozen;  // the main PID the last run found stopped

  // The tracker's verdict, failed while the watched main PID is stopped (as ProcessWatch::alive).
  CheckResult verdict() {
    CheckResult r = tracker.verdict();
    const auto pid = pidfd.is_open() ? tracker.watching() : std::nullopt;
    auto why = r.pass && pid ? stopped_reason(*pid, fmt::format("unit {} main PID {}", tracker.unit(), *pid))
                             : std::nullopt;
    if (!why) {
      frozen.reset();
      return r;
    }
    if (frozen != pid && on_exit && !stopped) on_exit(*why);
    frozen = pid;
    return {false, Duration{0}, *why, false};
  }

  void wire() {
    std::weak_ptr<UnitWatch> weak = shared_from_this();
    bus->on_change([weak](UnitState u) {
      if (auto self = weak.lock(); self && !self->stopped) self->apply(self->tracker.on_update(u));
    });
    bus->on_lost([weak](std::string why) {
      if (auto self = weak.lock(); self && !self->stopped) self->tracker.on_bus_error(std::move(why));
    });
  }

  void close_pidfd() {
    boost::system::error_code ignored;
    pidfd.close(ignored);
  }

  void apply(const UnitAction& a) {
    if (a.drop_watch) close_pidfd();
    if (a.watch) open_watch(*a.watch);
    if (a.down_now && on_exit && !stopped) on_exit(*a.down_now);
    if (a.reread) read(std::chrono::seconds(1), nullptr);
  }

  void open_watch(int pid) {
    const int fd = open_pidfd(pid);
    if (fd < 0) {
      const int err = errno;
      tracker.on_watch_failed(pid, err == ESRCH ? fmt::format("main PID {} not running", pid)
                                   : err == ENOSYS
                                       ? std::string("pidfd_open(2) not supported by this kernel (Linux 5.3 or later needed)")
                                       : fmt::format("pidfd_open({}): {}", pid, std::strerror(err)));
      return;
    }
    if (pidfd_exited(fd)) {
      ::close(fd);
      tracker.on_watch_failed(pid, fmt::format("main PID {} not running", pid));
      return;
    }
    pidfd.assign(fd);
    pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                     [self = shared_from_this(), fd, pid](const boost::system::error_code& ec) {
                       if (ec || self->stopped || !self->pidfd.is_open() || self->pidfd.native_handle() != fd)
                         return;
                       self->apply(self->tracker.on_pid_exited(pid));
                     });
  }

  // Reads the unit through the bus; `done` (if any) gets the verdict afterwards.
  void read(Duration timeout, CheckDone done) {
    if (reading) {  // the read in flight brings the state
      if (done) asio::post(pidfd.get_executor(), [self = shared_from_this(), done] { done(self->verdict()); });
      return;
    }
    reading = true;
    tracker.attempted(UnitTracker::Clock::now());
    bus->read(timeout, [self = shared_from_this(), done = std::move(done)](
                           herald::Expected<UnitState, std::string> r) {
      self->reading = false;
      if (self->stopped) return;
      if (r) {
        self->tracker.on_bus_ok();
        self->apply(self->tracker.on_update(*r));
      } else {
        self->tracker.on_bus_error(r.error());
      }
      if (done) done(self->verdict());
    });
  }

  void run(Duration timeout, CheckDone done) {
    if (auto pid = tracker.watching(); pid && pidfd.is_open() && pidfd_exited(pidfd.native_handle()))
      apply(tracker.on_pid_exited(*pid));  // exited, and the wait has not run yet
    if (!tracker.read_due(UnitTracker::Clock::now())) {
      done(verdict());
      return;
    }
    read(timeout, std::move(done));
  }

  void stop() {
    stopped = true;
    on_exit = nullptr;
    close_pidfd();
    bus->close();
  }
};

ProcessChecker::ProcessChecker(asio::io_context& io, ProcessCheckSpec spec)
    : ProcessChecker(io, spec, spec.unit.empty() ? nullptr : make_systemd_unit_bus(io, spec.unit)) {}

ProcessChecker::ProcessChecker(asio::io_context& io, ProcessCheckSpec spec, std::unique_ptr<UnitBus> bus) {
  if (spec.unit.empty()) {
    w_ = std::make_shared<ProcessWatch>(io, std::move(spec));
  } else {
    u_ = std::make_shared<UnitWatch>(io, spec.unit, std::move(bus));
    u_->wire();
  }
}

ProcessChecker::~ProcessChecker() { stop_watching(); }

std::shared_ptr<CheckRun> ProcessChecker::start(Duration timeout, CheckDone done) {
  if (u_) {
    auto run = std::make_shared<ProcessRun>();
    asio::post(u_->pidfd.get_executor(), [u = u_, timeout, done = std::move(done), cancelled = run->cancelled_] {
      if (*cancelled || u->stopped) return;
      const auto start = std::chrono::steady_clock::now();
      u->run(timeout, [start, done, cancelled, u](CheckResult r) {
        if (*cancelled || u->stopped) return;
        r.latency = std::chrono::steady_clock::now() - start;
        done(std::move(r));
      });
    });
    return run;
  }
  // Nothing here blocks beyond reading a small file, so no timeout of its own is needed.
  auto run = std::make_shared<ProcessRun>();
  asio::post(w_->pidfd.get_executor(), [w = w_, done = std::move(done), cancelled = run->cancelled_] {
    if (*cancelled || w->stopped) return;
    const auto start = std::chrono::steady_clock::now();
    CheckResult r = w->run();
    r.latency = std::chrono::steady_clock::now() - start;
    done(std::move(r));
  });
  return run;
}

void ProcessChecker::on_exit(std::function<void(std::string reason)> cb) {
  if (u_)
    u_->on_exit = std::move(cb);
  else
    w_->on_exit = std::move(cb);
}

void ProcessChecker::stop_watching() {
  if (u_) return u_->stop();
  w_->stopped = true;
  w_->on_exit = nullptr;
  boost::system::error_code ignored;
  w_->pidfd.close(ignored);
}

std::optional<int> ProcessChecker::watched_pid() const {
  if (u_) return u_->pidfd.is_open() ? u_->tracker.watching() : std::nullopt;
  if (!w_->pidfd.is_open()) return std::nullopt;
  return w_->pid;
}

std::shared_ptr<CheckRun> start_process_check(asio::io_context& io, const ProcessCheckSpec& spec,
                                              CheckDone done) {
  // A one-off run (the driver): look at the process once, watch nothing afterwards.
  auto checker = std::make_shared<ProcessChecker>(io, spec);
  auto run = checker->start(std::chrono::seconds(1), [checker, done = std::move(done)](CheckResult r) mutable {
    checker->stop_watching();
    done(std::move(r));
  });
  return run;
}

}  // namespace herald::health
