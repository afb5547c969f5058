// bench_health: CPU cost of the native DNS check, and proof that it creates no process.
//
// A responder thread answers "www.example. A" on 127.0.0.1 (random port). The main thread runs
// N checks one after the other on an io_context, each on a fresh socket, then N more through one
// DnsChecker (one kept socket, as the daemon runs them), and reports CPU time per check (thread
// CPU clock of the io thread) and wall time of each way. Before the checks, the io thread installs a seccomp
// filter that makes fork, vfork, execve and process-creating clone fail with EPERM; an exec check
// run afterwards must therefore fail, which shows the filter was active while every DNS check
// passed.
//
//   bench_health [checks=2000]
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "health/check_run.hpp"
#include "health/dns_check.hpp"

namespace health = herald::health;

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

sock_filter stmt(unsigned short code, unsigned k) { return sock_filter{code, 0, 0, k}; }
sock_filter jump(unsigned short code, unsigned k, unsigned char jt, unsigned char jf) {
  return sock_filter{code, jt, jf, k};
}

// Forbids creating processes on the calling thread (threads are still allowed).
bool forbid_process_creation() {
  const unsigned errno_eperm = SECCOMP_RET_ERRNO | EPERM;
  const unsigned errno_enosys = SECCOMP_RET_ERRNO | ENOSYS;
  std::vector<sock_filter> f = {
      stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // other arch: leave alone
      stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_fork, 6, 0),
      jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_vfork, 5, 0),
      jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_execve, 4, 0),
      jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_execveat, 3, 0),
      jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 4, 0),  // glibc falls back to clone
      jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 4, 0),
      stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      stmt(BPF_RET | BPF_K, errno_eperm),
      stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // (unused slot keeps offsets readable)
      stmt(BPF_RET | BPF_K, errno_enosys),
      // clone: allowed only for threads (CLONE_THREAD in the flags, first argument).
      stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args)),
      jump(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
      stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      stmt(BPF_RET | BPF_K, errno_eperm),
  };
  sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// Answers every query with its question plus "A 192.0.2.53" (RFC 1035 4.1), until stopped.
void responder(int fd, const std::atomic<bool>& stop) {
  std::vector<unsigned char> buf(512);
  while (!stop.load()) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = recvfrom(fd, buf.data(), 512 - 16, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 12) continue;  // timeout (SO_RCVTIMEO) or runt
    std::vector<unsigned char> r(buf.begin(), buf.begin() + n);
    r[2] = 0x84;  // QR=1 AA=1
    r[3] = 0x00;  // NOERROR
    r[7] = 1;     // ANCOUNT 1
    const unsigned char answer[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 53};
    r.insert(r.end(), std::begin(answer), std::end(answer));
    sendto(fd, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int checks = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 2;
  socklen_t alen = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen);
  std::atomic<bool> stop{false};
  std::thread th(responder, fd, std::cref(stop));

  const bool sandboxed = forbid_process_creation();
  boost::asio::io_context io;
  health::DnsCheckSpec spec;
  spec.server = "127.0.0.1";
  spec.port = ntohs(addr.sin_port);
  spec.qname = "www.example.";
  spec.qtype = "A";
  spec.expect_answers = {"192.0.2.53"};

  // Two ways: a fresh socket per check (start_dns_check), and the daemon's way, one DnsChecker
  // keeping its connected socket across checks.
  health::DnsChecker checker(io, spec);
  int done = 0, passed = 0;
  bool kept = false;
  std::function<void()> next = [&] {
    auto report = [&](health::CheckResult r) {
      passed += r.pass ? 1 : 0;
      if (!r.pass && done == 0) std::fprintf(stderr, "first failure: %s\n", r.reason.c_str());
      if (++done < checks) next();
    };
    if (kept) checker.start(std::chrono::seconds(1), report);
    else health::start_dns_check(io, spec, std::chrono::seconds(1), report);
  };
  double cpu_per[2] = {0, 0}, wall_per[2] = {0, 0};
  int passed_all = 0;
  for (int mode = 0; mode < 2; ++mode) {
    kept = mode == 1;
    done = passed = 0;
    const double cpu0 = thread_cpu_seconds();
    const auto wall0 = std::chrono::steady_clock::now();
    next();
    io.restart();
    io.run();
    cpu_per[mode] = (thread_cpu_seconds() - cpu0) / checks;
    wall_per[mode] = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count() / checks;
    passed_all += passed;
  }

  // The exec check must fail now if the sandbox is in force.
  std::string exec_reason;
  health::start_exec_check(io, health::ExecCheckSpec{{"/bin/true"}, std::nullopt}, std::chrono::seconds(1),
                           [&](health::CheckResult r) { exec_reason = r.reason; });
  io.restart();
  io.run();
  stop = true;
  th.join();
  close(fd);

  std::printf("dns checks: 2 x %d, passed: %d\n", checks, passed_all);
  std::printf("fresh socket per check: io thread CPU per check: %.1f us, wall per check: %.1f us\n",
              cpu_per[0] * 1e6, wall_per[0] * 1e6);
  std::printf("kept socket (DnsChecker): io thread CPU per check: %.1f us, wall per check: %.1f us\n",
              cpu_per[1] * 1e6, wall_per[1] * 1e6);
  std::printf("process creation forbidden by seccomp during the checks: %s\n", sandboxed ? "yes" : "NO (filter not installed)");
  std::printf("exec check under the same filter: %s\n", exec_reason.c_str());
  return passed_all == 2 * checks && sandboxed ? 0 : 1;
}
