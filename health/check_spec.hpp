// What a health check is (its configuration) and what one run of it produces.
// Pure data: no I/O here. health/ knows nothing about BGP: it only says whether a service works.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace herald::health {

using Duration = std::chrono::nanoseconds;

/// DNS transport of a DnsCheckSpec. Udp falls back to TCP when the reply is truncated (TC).
enum class DnsTransport { Udp, Tcp };

/// One native DNS query (RFC 1035 4.1) and what its reply must look like to pass.
struct DnsCheckSpec {
  std::string server;            ///< IPv4/IPv6 literal; the daemon passes the anycast address
  std::uint16_t port = 53;
  std::string qname = ".";       ///< absolute or relative name; a trailing dot is added if missing
  std::string qtype = "SOA";     ///< mnemonic understood by ldns: A, AAAA, SOA, NS, TXT, ...
  std::string qclass = "IN";
  bool recursion_desired = false;  ///< RD bit (RFC 1035 4.1.1)
  std::optional<std::uint16_t> edns_udp_size;  ///< EDNS0 OPT with this buffer size (RFC 6891 6.2.3)
  DnsTransport transport = DnsTransport::Udp;
  std::vector<std::string> accepted_rcodes = {"NOERROR"};  ///< mnemonics, e.g. NOERROR, NXDOMAIN
  std::vector<std::string> expect_answers;  ///< RDATA values of type qtype that must all be in the answer
  bool require_answer = false;               ///< at least one answer RR of type qtype
  std::optional<Duration> max_rtt;           ///< fail when the reply took longer
  bool operator==(const DnsCheckSpec&) const = default;
};

/// A TCP three-way handshake to address:port; passes when connect() succeeds.
struct TcpCheckSpec {
  std::string address;
  std::uint16_t port = 0;
  bool operator==(const TcpCheckSpec&) const = default;
};

/// A program run without a shell, in its own process group; exit status 0 passes.
struct ExecCheckSpec {
  std::vector<std::string> argv;  ///< argv[0] is looked up in PATH when it has no '/'
  std::optional<Duration> timeout;  ///< own timeout; the service timeout when unset
  bool operator==(const ExecCheckSpec&) const = default;
};

/// While `path` exists the service is Drained (withdrawn on purpose), not failed.
struct MaintenanceFileSpec {
  std::string path;
  bool operator==(const MaintenanceFileSpec&) const = default;
};

/// The DNS server's process, named by the pidfile it writes or by its systemd unit (its MainPID,
/// read over D-Bus). Passes while that process lives; its exit (and, with a unit, the unit going
/// to "deactivating") is reported at once (a pidfd watch, process_check.hpp) and takes the
/// service Down without waiting for `fall` failing rounds. Exactly one of the two is set.
struct ProcessCheckSpec {
  std::string pidfile;  ///< absolute path of a file holding the decimal PID, or ""
  std::string unit;     ///< systemd unit name, e.g. "unbound.service", or ""
  bool operator==(const ProcessCheckSpec&) const = default;
};

/// Any one check.
using CheckSpec =
    std::variant<DnsCheckSpec, TcpCheckSpec, ExecCheckSpec, MaintenanceFileSpec, ProcessCheckSpec>;

/// Short human label of a check for logs and reasons, e.g. "dns 192.0.2.53:53 www.example. A".
std::string describe(const CheckSpec& spec);

/// The outcome of one run of one check.
struct CheckResult {
  bool pass = false;
  Duration latency{0};
  std::string reason;   ///< "rcode SERVFAIL", "timeout after 500ms", "connection refused", ...
  bool drain = false;   ///< set only by the maintenance-file check while the file exists
  bool operator==(const CheckResult&) const = default;
};

/// How the results of several checks of one service are combined.
enum class Combine { All, Any };

/// Flap damping: more than `max_changes` Up/Down changes within `window` hold the service Down
/// for `hold`, doubled on each repeated hold up to `max_hold`.
struct FlapSpec {
  bool enabled = true;
  unsigned max_changes = 4;
  Duration window = std::chrono::seconds(60);
  Duration hold = std::chrono::seconds(30);
  Duration max_hold = std::chrono::seconds(600);
  bool operator==(const FlapSpec&) const = default;
};

/// Scheduling and hysteresis of one service (everything except the checks themselves).
struct ServicePolicy {
  Duration interval = std::chrono::seconds(2);
  Duration fast_interval = std::chrono::milliseconds(500);  ///< while a state change is pending
  Duration timeout = std::chrono::seconds(1);  ///< every check of a round is cut at this
  unsigned rise = 2;   ///< consecutive passing rounds to go Down -> Up
  unsigned fall = 3;   ///< consecutive failing rounds to go Up -> Down
  bool start_up = false;  ///< start Up instead of Down-until-rise
  Combine combine = Combine::All;
  FlapSpec flap;
  Duration splay = Duration::max();  ///< max random first-run offset; max() means "interval"
  bool operator==(const ServicePolicy&) const = default;
};

/// One health-checked service.
struct ServiceSpec {
  std::string name;
  ServicePolicy policy;
  std::vector<CheckSpec> checks;
  bool operator==(const ServiceSpec&) const = default;
};

}  // namespace herald::health
