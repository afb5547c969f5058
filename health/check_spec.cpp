#include "health/check_spec.hpp"

#include <fmt/format.h>

namespace herald::health {

namespace {
// Brackets an IPv6 literal so that "addr:port" stays readable.
std::string host_port(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}
}  // namespace

std::string describe(const CheckSpec& spec) {
  struct Visitor {
    std::string operator()(const DnsCheckSpec& d) const {
      return fmt::format("dns{} {} {} {}", d.transport == DnsTransport::Tcp ? "/tcp" : "",
                         host_port(d.server, d.port), d.qname, d.qtype);
    }
    std::string operator()(const TcpCheckSpec& t) const {
      return fmt::format("tcp {}", host_port(t.address, t.port));
    }
    std::string operator()(const ExecCheckSpec& e) const {
      return fmt::format("exec {}", e.argv.empty() ? std::string("<empty>") : e.argv.front());
    }
    std::string operator()(const MaintenanceFileSpec& m) const {
      return fmt::format("maintenance {}", m.path);
    }
    std::string operator()(const ProcessCheckSpec& p) const {
      return fmt::format("process {}", p.unit.empty() ? p.pidfile : "unit " + p.unit);
    }
  };
  return std::visit(Visitor{}, spec);
}

}  // namespace herald::health
