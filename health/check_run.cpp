#include "health/check_run.hpp"

#include <algorithm>
#include <cctype>

#include "health/dns_check.hpp"
#include "health/process_check.hpp"
#include "health/soa_check.hpp"

namespace herald::health {

namespace {

// TCP, exec and maintenance checks keep nothing between runs: a fresh connection, process or
// stat() each time is what they test.
class FreshChecker final : public Checker {
 public:
  FreshChecker(boost::asio::io_context& io, CheckSpec spec) : io_(io), spec_(std::move(spec)) {}
  std::shared_ptr<CheckRun> start(Duration timeout, CheckDone done) override {
    return start_check(io_, spec_, timeout, std::move(done));
  }

 private:
  boost::asio::io_context& io_;
  CheckSpec spec_;
};

}  // namespace

std::unique_ptr<Checker> make_checker(boost::asio::io_context& io, const CheckSpec& spec) {
  if (const auto* d = std::get_if<DnsCheckSpec>(&spec)) return std::make_unique<DnsChecker>(io, *d);
  if (const auto* p = std::get_if<ProcessCheckSpec>(&spec)) return std::make_unique<ProcessChecker>(io, *p);
  if (const auto* s = std::get_if<SoaCheckSpec>(&spec)) return std::make_unique<SoaChecker>(io, *s);
  return std::make_unique<FreshChecker>(io, spec);
}

std::shared_ptr<CheckRun> start_check(boost::asio::io_context& io, const CheckSpec& spec,
                                      Duration timeout, CheckDone done) {
  struct Visitor {
    boost::asio::io_context& io;
    Duration timeout;
    CheckDone& done;
    std::shared_ptr<CheckRun> operator()(const DnsCheckSpec& s) const {
      return start_dns_check(io, s, timeout, std::move(done));
    }
    std::shared_ptr<CheckRun> operator()(const TcpCheckSpec& s) const {
      return start_tcp_check(io, s, timeout, std::move(done));
    }
    std::shared_ptr<CheckRun> operator()(const ExecCheckSpec& s) const {
      return start_exec_check(io, s, s.timeout.value_or(timeout), std::move(done));
    }
    std::shared_ptr<CheckRun> operator()(const MaintenanceFileSpec& s) const {
      return start_maintenance_check(io, s, std::move(done));
    }
    std::shared_ptr<CheckRun> operator()(const ProcessCheckSpec& s) const {
      return start_process_check(io, s, std::move(done));
    }
    std::shared_ptr<CheckRun> operator()(const SoaCheckSpec& s) const {
      return start_soa_check(io, s, timeout, std::move(done));
    }
  };
  return std::visit(Visitor{io, timeout, done}, spec);
}

std::string socket_error_reason(const boost::system::error_code& ec) {
  namespace e = boost::asio::error;
  if (ec == e::connection_refused) return "connection refused";
  if (ec == e::network_unreachable) return "network unreachable";
  if (ec == e::host_unreachable) return "host unreachable";
  if (ec == e::connection_reset) return "connection reset";
  if (ec == e::eof) return "connection closed by peer";
  std::string m = ec.message();
  if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  return m;
}

}  // namespace herald::health
