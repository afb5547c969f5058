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
      const char* transport = d.transport == DnsTransport::Tcp   ? "/tcp"
                              : d.transport == DnsTransport::Tls ? "/tls"
                                                                 : "";
      return fmt::format("dns{} {} {} {}", transport, host_port(d.server, d.port), d.qname, d.qtype);
    }
    std::string operator()(const SoaCheckSpec& s) const {
      return fmt::format("soa {} {}", host_port(s.server, s.port), s.zone);
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

std::string check_name(const ServiceSpec& spec, std::size_t i) {
  return spec.check_names.empty() ? describe(spec.checks.at(i)) : spec.check_names.at(i);
}

std::string check_label(const ServiceSpec& spec, std::size_t i) {
  return spec.check_names.empty() ? describe(spec.checks.at(i))
                                  : fmt::format("check \"{}\"", spec.check_names.at(i));
}

}  // namespace herald::health
