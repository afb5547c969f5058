// The zone freshness check kept across runs (soa_check.cpp; the verdict is soa_serial.hpp's).
#pragma once
#include <memory>

#include "base/asio.hpp"
#include "health/check_run.hpp"
#include "health/check_spec.hpp"

namespace herald::health {

class SerialWatch;

/// Runs the SOA check `spec` again and again (the Checker contract), remembering when the local
/// serial last changed, for max_unchanged: a new checker (start-up, or a reload that changed
/// the service) starts that clock again at its first answer.
class SoaChecker final : public Checker {
 public:
  SoaChecker(boost::asio::io_context& io, SoaCheckSpec spec);
  std::shared_ptr<CheckRun> start(Duration timeout, CheckDone done) override;

 private:
  boost::asio::io_context& io_;
  SoaCheckSpec spec_;
  std::shared_ptr<SerialWatch> watch_;
};

}  // namespace herald::health
