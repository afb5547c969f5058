// Maintenance-file check: the file's existence drains the service (an operator's decision),
// its absence changes nothing. It never fails the service.
#include <chrono>
#include <filesystem>
#include <memory>


#include "health/check_run.hpp"

namespace herald::health {

namespace {

class MaintenanceRun final : public CheckRun {
 public:
  void cancel() override { *cancelled_ = true; }
  std::shared_ptr<bool> cancelled_ = std::make_shared<bool>(false);
};

}  // namespace

std::shared_ptr<CheckRun> start_maintenance_check(boost::asio::io_context& io,
                                                  const MaintenanceFileSpec& spec, CheckDone done) {
  auto run = std::make_shared<MaintenanceRun>();
  boost::asio::post(io, [path = spec.path, done = std::move(done), cancelled = run->cancelled_] {
    if (*cancelled) return;
    const auto start = std::chrono::steady_clock::now();
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    const auto latency = std::chrono::steady_clock::now() - start;
    // An unreadable directory must not withdraw a healthy service: only a seen file drains.
    if (ec) return done(CheckResult{true, latency, "cannot tell (" + ec.message() + "), not draining", false});
    done(CheckResult{true, latency, exists ? "file exists" : "file absent", exists});
  });
  return run;
}

}  // namespace herald::health
