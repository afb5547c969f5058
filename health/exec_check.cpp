// Exec check: runs a program (no shell) in its own process group and without capabilities
// (spawn_unprivileged); exit status 0 passes.
// The child's stdout+stderr go to one pipe read by Asio (bounded capture); its exit is seen
// through a pidfd, then reaped with waitpid(WNOHANG), so the loop never blocks. The result is
// reported once both the exit status and the end of the output are in (or at the deadline), so
// the captured text and the count of dropped bytes never depend on which came first.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "health/check_run.hpp"
#include "health/exec_spawn.hpp"
#include "health/format.hpp"

namespace herald::health {

namespace {

namespace asio = boost::asio;
using std::chrono::steady_clock;

constexpr std::size_t kCaptureLimit = 4096;  // bytes of output kept for the reason
constexpr auto kPollPeriod = std::chrono::milliseconds(10);  // only without pidfd support

class ExecRun final : public CheckRun, public std::enable_shared_from_this<ExecRun> {
 public:
  ExecRun(asio::io_context& io, ExecCheckSpec spec, Duration timeout, CheckDone done)
      : io_(io), spec_(std::move(spec)), timeout_(timeout), done_(std::move(done)), out_(io), exit_(io), timer_(io), poll_(io) {}

  ~ExecRun() override {
    // Last resort at teardown (io_context gone with the run pending): the group was killed,
    // SIGKILL cannot be ignored, so this wait is short.
    if (pid_ > 0 && !reaped_) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  void start() {
    start_ = steady_clock::now();
    if (spec_.argv.empty()) return post_fail("empty command");
    if (std::string err = spawn(); !err.empty()) return post_fail(err);
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->on_timeout();
    });
    read_output();
    wait_exit();
  }

  void cancel() override {
    cancelled_ = true;
    kill_group();
    timer_.cancel();
    if (reaped_) finish();  // still waiting for end of output: nobody wants it now
  }

 private:
  std::string spawn() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fmt::format("pipe: {}", std::strerror(errno));
    auto pid = spawn_unprivileged(spec_.argv, fds[1]);
    ::close(fds[1]);
    if (!pid) {
      ::close(fds[0]);
      return pid.error();
    }
    pid_ = *pid;
    out_.assign(fds[0]);
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) exit_.assign(pidfd);
    return {};
  }

  void post_fail(std::string reason) {
    asio::post(io_, [self = shared_from_this(), r = std::move(reason)]() mutable {
      self->report(false, std::move(r));
    });
  }

  void read_output() {
    out_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](const boost::system::error_code& e, std::size_t n) {
      if (self->finished_) return;  // reported (or cancelled) and closed: a late chunk is dropped
      if (e) {
        if (e == asio::error::operation_aborted) return;
        self->eof_ = true;  // end of file: every writer is gone
        return self->try_finish();
      }
      self->keep(n);
      self->read_output();
    });
  }

  void keep(const char* data, std::size_t n) {
    const std::size_t room = kCaptureLimit - std::min(kCaptureLimit, captured_.size());
    captured_.append(data, std::min(n, room));
    dropped_ += n - std::min(n, room);
  }
  void keep(std::size_t n) { keep(chunk_.data(), n); }

  void wait_exit() {
    if (exit_.is_open()) {
      // A pidfd becomes readable when the process exits (pidfd_open(2)).
      exit_.async_wait(asio::posix::descriptor_base::wait_read, [self = shared_from_this()](const boost::system::error_code& e) {
        if (!e) self->try_reap();
      });
    } else {
      poll_.expires_after(kPollPeriod);
      poll_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
        if (!e) self->try_reap();
      });
    }
  }

  void try_reap() {
    // Peek without reaping: while the exited child is an unreaped zombie its pid, which is also
    // the group id, cannot be reused, so killing the group below hits only this check's processes.
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0)
      return wait_exit();  // still running (only possible on the polling path)
    // Grandchildren left in the group would hold the pipe open: they belong to this check.
    kill_group();
    const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == 0) return wait_exit();
    reaped_ = true;
    if (r < 0) wait_error_ = errno;
    boost::system::error_code ignore;
    exit_.close(ignore);
    // A cancelled or timed-out run does not need the rest of the output.
    if (cancelled_ || timed_out_) return finish();
    // The exit was seen, but the pipe may still hold what the child wrote last (and the async
    // reader may hold a chunk not yet handed over): the result waits for end of file, which
    // comes as soon as the killed group is gone, or for the check's deadline (on_timeout).
    try_finish();
  }

  // Reports once both the exit status and the end of the output are in.
  void try_finish() {
    if (reaped_ && eof_) finish();
  }

  // Reads what is already in the pipe without waiting (used only when the deadline passes after
  // the exit: some process outside the group still holds the pipe open). Its own buffer: the
  // async reader may have a completed read pending in chunk_. Bounded: 64 reads of 4 KiB.
  bool drain_ready_output() {
    boost::system::error_code ec;
    out_.non_blocking(true, ec);
    std::array<char, 4096> buf{};
    for (int i = 0; i < 64 && !ec; ++i) {
      const std::size_t n = out_.read_some(asio::buffer(buf), ec);
      if (ec) return ec == asio::error::eof;
      keep(buf.data(), n);
    }
    return false;
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    boost::system::error_code ignore;
    out_.close(ignore);
    exit_.close(ignore);
    timer_.cancel();
    poll_.cancel();
    if (cancelled_) return;
    if (timed_out_) return report(false, "timeout after " + format_duration(timeout_) + ", process group killed");
    if (wait_error_ != 0) return report(false, fmt::format("waitpid: {}", std::strerror(wait_error_)));
    const int status = status_;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return report(true, with_output("exit 0"));
    if (WIFEXITED(status)) return report(false, with_output(fmt::format("exit {}", WEXITSTATUS(status))));
    if (WIFSIGNALED(status)) return report(false, with_output(fmt::format("killed by signal {}", WTERMSIG(status))));
    report(false, with_output("ended abnormally"));
  }

  std::string with_output(std::string head) const {
    std::string text = captured_;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty()) return output_cut_ ? head + " [output still open at the deadline]" : head;
    if (dropped_ > 0) text += fmt::format(" [{} more bytes]", dropped_);
    if (output_cut_) text += " [output still open at the deadline]";
    return head + ": " + text;
  }

  void on_timeout() {
    if (finished_) return;
    if (reaped_) {
      // The check ended in time but its output is still open at the deadline: a process that
      // left the group holds the pipe. Keep what is there and report the exit status.
      if (!drain_ready_output()) output_cut_ = true;
      return finish();
    }
    timed_out_ = true;
    kill_group();  // the pidfd then fires and try_reap() reports the timeout
  }

  void kill_group() {
    // The group id is the child's pid (setpgroup 0); never signal after reaping (pid reuse).
    if (pid_ > 0 && !reaped_) ::kill(-pid_, SIGKILL);
  }

  void report(bool pass, std::string reason) {
    if (cancelled_ || reported_) return;
    reported_ = true;
    auto done = std::move(done_);
    done(CheckResult{pass, steady_clock::now() - start_, std::move(reason), false});
  }

  asio::io_context& io_;
  ExecCheckSpec spec_;
  Duration timeout_;
  CheckDone done_;
  asio::posix::stream_descriptor out_;
  asio::posix::stream_descriptor exit_;
  asio::steady_timer timer_;
  asio::steady_timer poll_;
  steady_clock::time_point start_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  bool timed_out_ = false;
  bool cancelled_ = false;
  bool reported_ = false;
  bool eof_ = false;          // the pipe reached end of file
  bool finished_ = false;     // pipe and pidfd closed, result reported (unless cancelled)
  bool output_cut_ = false;   // the deadline came before end of file
  int status_ = 0;            // from waitpid, once reaped_
  int wait_error_ = 0;        // errno of a failed waitpid
  std::array<char, 4096> chunk_{};
  std::string captured_;
  std::size_t dropped_ = 0;
};

}  // namespace

std::shared_ptr<CheckRun> start_exec_check(asio::io_context& io, const ExecCheckSpec& spec,
                                           Duration timeout, CheckDone done) {
  return make_started<ExecRun>(io, spec, timeout, std::move(done));
}

}  // namespace herald::health
