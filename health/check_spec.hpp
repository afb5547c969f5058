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
/// Tls is DNS over TLS (RFC 7858): TCP framing inside a TLS session, a new one per run.
enum class DnsTransport { Udp, Tcp, Tls };

/// How a DNS-over-TLS check judges the server's certificate.
struct DnsTlsSpec {
  bool verify = true;   ///< verify the chain and the name; false: encryption only (RFC 8310 opportunistic)
  std::string ca_file;  ///< PEM CA bundle; empty: the system's trust store
  std::string name;     ///< name to verify and to send as SNI; empty: the server's address
  bool operator==(const DnsTlsSpec&) const = default;
};

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
  bool nsid = false;  ///< ask for the server's NSID (RFC 5001); needs edns_udp_size
  DnsTlsSpec tls;     ///< used when transport is Tls
  bool operator==(const DnsCheckSpec&) const = default;
};

/// How a zone's SOA serial reads as a time, for SoaCheckSpec::max_age.
enum class SerialFormat {
  Unixtime,  ///< seconds since 1970-01-01 UTC (Knot's and PowerDNS's "unixtime" serial policy)
  Date,      ///< YYYYMMDDnn (RFC 1912 2.2): the start of that UTC day
};

/// Zone freshness: the local server's SOA serial for `zone` is not more than `max_serial_lag`
/// behind the serial on `primary` (RFC 1982 serial arithmetic), and/or the serial read as a time
/// is not older than `max_age`, and/or it changed within `max_unchanged`. At least one of
/// primary, max_age and max_unchanged is set. A primary that does
/// not answer does not fail the check (the lag cannot be judged; failing would withdraw every
/// site at once when the primary goes down): max_age bounds staleness then.
struct SoaCheckSpec {
  std::string server;  ///< IPv4/IPv6 literal of the local server
  std::uint16_t port = 53;
  std::string zone;    ///< absolute or relative zone name
  std::string primary;  ///< IPv4/IPv6 literal; empty: no serial comparison
  std::uint16_t primary_port = 53;
  std::uint32_t max_serial_lag = 0;  ///< below 2^31 (RFC 1982 3.1)
  std::optional<Duration> max_age;
  SerialFormat serial_format = SerialFormat::Unixtime;
  /// Fail when the local serial has not changed for longer than this, as herald saw it (since
  /// the check started: herald cannot know about changes before its first answer).
  std::optional<Duration> max_unchanged;
  bool operator==(const SoaCheckSpec&) const = default;
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
    std::variant<DnsCheckSpec, TcpCheckSpec, ExecCheckSpec, MaintenanceFileSpec, ProcessCheckSpec,
                 SoaCheckSpec>;

/// Short human label of a check for logs and reasons, e.g. "dns 192.0.2.53:53 www.example. A".
std::string describe(const CheckSpec& spec);

/// The outcome of one run of one check.
struct CheckResult {
  bool pass = false;
  Duration latency{0};
  std::string reason;   ///< "rcode SERVFAIL", "timeout after 500ms", "connection refused", ...
  bool drain = false;   ///< set only by the maintenance-file check while the file exists
  /// DNS checks with nsid: the NSID the server returned (RFC 5001), in presentation form
  /// (nsid_text); nullopt when not asked or not returned.
  std::optional<std::string> nsid = std::nullopt;
  /// SOA checks: the local server's serial for the zone, when it answered.
  std::optional<std::uint32_t> serial = std::nullopt;
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
  /// The checks' names (the configuration's, unique in the service), one per check in the
  /// order of `checks`; empty: the checks are known by describe() (tests, drivers).
  std::vector<std::string> check_names;
  bool operator==(const ServiceSpec&) const = default;
};

/// What check `i` of `spec` is called in status, metrics and results: its name, or describe()
/// when the spec names no check.
std::string check_name(const ServiceSpec& spec, std::size_t i);

/// How a reason names check `i`: `check "soa"`, or describe() when the spec names no check.
std::string check_label(const ServiceSpec& spec, std::size_t i);

}  // namespace herald::health
