// Runs a scenario in a forked child inside a fresh network namespace (unshare(CLONE_NEWNET)),
// so tests can add addresses, flap lo and drop capabilities without touching the host.
// doctest assertions cannot cross fork(): the child collects its own results in a Report and
// sends them through a pipe; the parent turns them into doctest failures and messages.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace herald::netlink::test {

class Report {
 public:
  // Records a failure described by `what` unless `ok`. Returns `ok` for early returns.
  bool check(bool ok, const std::string& what);
  void note(const std::string& text) { lines_.push_back("NOTE " + text); }
  void skip(const std::string& why) { lines_.push_back("SKIP " + why); }
  const std::vector<std::string>& lines() const { return lines_; }
  bool failed() const;

 private:
  std::vector<std::string> lines_;
};

// Forks, enters a new network namespace with lo up, runs `scenario`, and reports in the
// calling doctest case (FAIL_CHECK per failure, MESSAGE per note). Skips with a message when
// not root or when namespaces are not available. The child is killed after 20 s.
void run_in_netns(const std::function<void(Report&)>& scenario);

// Runs a shell command in the current (child's) namespace; returns its exit status.
int sh(const std::string& command);
// `ip -j <args>` parsed; null json when ip fails.
nlohmann::json ip_json(const std::string& args);
// The addr_info entry of `local` on `dev` in `ip -j addr show dev <dev>`; null when absent.
nlohmann::json ip_addr_entry(const std::string& dev, const std::string& local);

}  // namespace herald::netlink::test
