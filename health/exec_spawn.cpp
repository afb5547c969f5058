#include "health/exec_spawn.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

extern char** environ;

namespace herald::health {

namespace {

// What the child tells the parent through the error pipe when it cannot exec. Only plain
// integers cross it: the child writes them with one write(2).
enum class Step : int { Group, Stdin, Output, Descriptors, Signals, Ambient, Capabilities, NoNewPrivs, Exec };

const char* step_name(Step s) {
  switch (s) {
    case Step::Group: return "setpgid";
    case Step::Stdin: return "stdin from /dev/null";
    case Step::Output: return "output pipe";
    case Step::Descriptors: return "closing descriptors";
    case Step::Signals: return "signal mask";
    case Step::Ambient: return "clearing ambient capabilities";
    case Step::Capabilities: return "clearing capabilities";
    case Step::NoNewPrivs: return "PR_SET_NO_NEW_PRIVS";
    case Step::Exec: return "exec";
  }
  return "?";
}

struct ChildError {
  int step;
  int err;
};

// Everything below runs in the forked child of a possibly multi-threaded process: system calls
// only (async-signal-safe), no allocation, no locks, no exceptions.
[[noreturn]] void fail(int err_fd, Step step, int err) {
  const ChildError e{static_cast<int>(step), err};
  [[maybe_unused]] auto n = ::write(err_fd, &e, sizeof e);
  ::_exit(127);
}

// Makes `fd` one of 0..2 and keeps it across exec (dup2 onto itself keeps close-on-exec).
bool place(int fd, int target) {
  if (fd != target) return ::dup2(fd, target) == target;
  return ::fcntl(target, F_SETFD, 0) == 0;
}

[[noreturn]] void child(char* const* argv, int out_fd, int err_fd) {
  // Above 2 first, so that placing 0..2 below cannot overwrite either (a daemon started with a
  // closed stdin gets its pipes there).
  if (err_fd < 3) err_fd = ::fcntl(err_fd, F_DUPFD_CLOEXEC, 3);
  if (err_fd < 0) ::_exit(127);
  if (out_fd < 3) out_fd = ::fcntl(out_fd, F_DUPFD_CLOEXEC, 3);
  if (out_fd < 0) fail(err_fd, Step::Output, errno);
  if (::setpgid(0, 0) != 0) fail(err_fd, Step::Group, errno);

  // Default dispositions (a handler address means nothing after exec, but an ignored signal
  // would stay ignored) and an empty mask: the daemon blocks signals for its signal_set.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // EINVAL for KILL, STOP
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) fail(err_fd, Step::Signals, errno);

  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || !place(null_fd, 0)) fail(err_fd, Step::Stdin, errno);
  if (!place(out_fd, 1) || !place(out_fd, 2)) fail(err_fd, Step::Output, errno);
  // The daemon's sockets must not leak into checks (Asio does not open them close-on-exec).
  // err_fd is close-on-exec: it stays open until exec succeeds, then the parent sees EOF.
  if (err_fd > 3 && ::syscall(SYS_close_range, 3u, static_cast<unsigned>(err_fd - 1), 0u) != 0)
    fail(err_fd, Step::Descriptors, errno);
  if (::syscall(SYS_close_range, static_cast<unsigned>(err_fd + 1), ~0u, 0u) != 0)
    fail(err_fd, Step::Descriptors, errno);

  // Bounding set: only possible with CAP_SETPCAP (herald still root); EPERM otherwise, and
  // EINVAL past the kernel's last capability. Best effort: no_new_privs below already makes
  // the bounding set unable to grant anything.
  for (unsigned long cap = 0; cap < 64; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) break;
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) fail(err_fd, Step::Ambient, errno);
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3> none_caps{};  // all zero
  if (::syscall(SYS_capset, &header, none_caps.data()) != 0) fail(err_fd, Step::Capabilities, errno);
  // Without it, exec of a setuid or file-capability program (or any program while uid 0) would
  // hand capabilities back.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(err_fd, Step::NoNewPrivs, errno);

  ::execvpe(argv[0], argv, environ);
  fail(err_fd, Step::Exec, errno);
}

}  // namespace

herald::Expected<pid_t, std::string> spawn_unprivileged(const std::vector<std::string>& argv, int out_fd) {
  // Built before fork: the child must not allocate.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return herald::unexpected(fmt::format("pipe: {}", std::strerror(errno)));
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(err_pipe[0]);
    ::close(err_pipe[1]);
    return herald::unexpected(fmt::format("cannot start {}: fork: {}", argv[0], std::strerror(err)));
  }
  if (pid == 0) {
    ::close(err_pipe[0]);
    child(args.data(), out_fd, err_pipe[1]);
  }
  ::close(err_pipe[1]);
  // EOF when exec succeeded (the write end was close-on-exec), a ChildError when it did not.
  ChildError e{};
  ssize_t n;
  do {
    n = ::read(err_pipe[0], &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (n == 0) return pid;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof e)) return herald::unexpected(fmt::format("cannot start {}: the child failed before exec", argv[0]));
  const auto step = static_cast<Step>(e.step);
  if (step == Step::Exec) return herald::unexpected(fmt::format("exec {}: {}", argv[0], std::strerror(e.err)));
  return herald::unexpected(fmt::format("cannot start {}: {}: {}", argv[0], step_name(step), std::strerror(e.err)));
}

}  // namespace herald::health
