// load_string / load_file / dump on small inline configs: defaults, every semantic check, the
// error format, password handling and the session-reset helper.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "conf/load.hpp"
#include "conf/values.hpp"

using namespace herald;
using namespace std::chrono_literals;

namespace {

// A valid head: global section and one IPv4 and one IPv6 peer.
const std::string kBase = R"([global]
local-as = 65001
router-id = "192.0.2.10"

[[peer]]
name = "v4"
address = "192.0.2.1"
remote-as = 65000

[[peer]]
name = "v6"
address = "2001:db8::1"
remote-as = 65000
)";

// All error lines of loading `text` as "t.toml", or "" when it loads.
std::string errors(const std::string& text) {
  auto r = conf::load_string(text, "t.toml");
  if (r) return "";
  std::string out;
  for (const auto& e : r.error()) out += e.to_string() + "\n";
  return out;
}

conf::Config load_ok(const std::string& text) {
  auto r = conf::load_string(text, "t.toml");
  if (!r)
    for (const auto& e : r.error()) MESSAGE(e.to_string());
  REQUIRE(r.has_value());
  return *r;
}

}  // namespace

TEST_CASE("defaults of a minimal config") {
  auto c = load_ok(kBase + R"(
[[service]]
name = "dns"
prefixes = ["192.0.2.53", "2001:db8:53::1"]
[[service.check]]
type = "dns"
qname = "example.com."
[[service.check]]
type = "tcp"
)");
  CHECK(c.source == "t.toml");
  CHECK(c.global.local_as == 65001u);
  CHECK(c.global.router_id.to_string() == "192.0.2.10");
  REQUIRE(c.global.listen.size() == 1);
  CHECK(conf::format_endpoint(c.global.listen[0]) == "[::]:179");
  CHECK(c.global.control_socket == "/run/herald/control.sock");
  REQUIRE(c.global.metrics);
  CHECK(c.global.metrics->port == 9179);
  CHECK(c.global.log_level == LogLevel::info);
  CHECK(c.global.user == "herald");
  CHECK(c.global.drain_on_shutdown);
  CHECK_FALSE(c.global.dry_run);
  const conf::PeerConfig& p = c.peers[0];
  CHECK(p.hold_time == 90s);
  CHECK_FALSE(p.keepalive);  // auto: a third of the negotiated hold time
  CHECK(p.connect_retry == 2s);
  CHECK(p.connect_retry_max == 120s);
  CHECK(p.idle_hold == 1s);
  CHECK(p.idle_hold_max == 300s);
  CHECK(p.port == 179);
  CHECK(p.mode == conf::PeerMode::Both);
  CHECK(p.families == std::vector<bgp::Family>{bgp::kIpv4Unicast});
  CHECK(c.peers[1].families == std::vector<bgp::Family>{bgp::kIpv6Unicast});
  CHECK(p.md5_password.empty());
  const conf::ServiceConfig& s = c.services[0];
  CHECK(s.address.interface == "lo");
  CHECK(s.address.bind);
  CHECK(s.address.keep_on_exit);
  CHECK(s.health.interval == 1s);
  CHECK(s.health.timeout == 500ms);
  CHECK(s.health.rise == 2);
  CHECK(s.health.fall == 2);
  CHECK(s.health.start == conf::StartState::Down);
  REQUIRE(s.checks.size() == 2);
  CHECK(s.checks[0].timeout == 500ms);
  CHECK(s.checks[0].dns.server.to_string() == "192.0.2.53");  // the first prefix address
  CHECK(s.checks[0].dns.qtype == 1);
  CHECK(s.checks[0].dns.rcodes == std::vector<std::uint16_t>{0});
  CHECK(s.checks[1].tcp.address.to_string() == "192.0.2.53");
  CHECK(s.checks[1].tcp.port == 53);
  CHECK(s.policy.up.action == conf::Action::Announce);
  CHECK(s.policy.down.action == conf::Action::Withdraw);
  CHECK(s.policy.drained.action == conf::Action::Announce);
  CHECK(s.policy.drained.communities == std::vector<bgp::Community>{bgp::kGracefulShutdown});
  CHECK(s.policy.drain_period == std::optional<conf::Duration>(30s));
}

TEST_CASE("error format and file-level failures") {
  conf::Error e{"f.toml", 3, 7, "peer[0].port", "expected an integer 1..65535, got 0"};
  CHECK(e.to_string() == "f.toml:3:7: peer[0].port: expected an integer 1..65535, got 0");
  CHECK(conf::Error{"f.toml", 0, 0, "", "cannot open"}.to_string() == "f.toml: cannot open");
  auto r = conf::load_file("/nonexistent/herald.toml");
  REQUIRE_FALSE(r);
  CHECK(r.error().at(0).to_string() ==
        "/nonexistent/herald.toml: cannot open: No such file or directory");
  CHECK(errors("a = [1,\n") == "t.toml:1:9: Error while parsing array: encountered end-of-file\n");
  CHECK(errors("") ==
        "t.toml:1:1: global.local-as: required key missing\n"
        "t.toml:1:1: global.router-id: router-id missing and not derivable: set it, or give an "
        "IPv4 peer a local-address\n");
  // Arbitrary bytes are errors, not crashes.
  CHECK_FALSE(errors(std::string("\xff\xfe\x00[[", 5)).empty());
}

TEST_CASE("every error is reported at once, sorted by position") {
  const std::string text = kBase + R"(
hold-time = 90
keepalive = "30s"
mode = "sometimes"
[[service]]
name = "x"
prefixes = ["192.0.2.1/24"]
)";
  CHECK(errors(text) ==
        "t.toml:15:13: peer[1].hold-time: expected a duration with a unit: write \"90s\" for 90 "
        "seconds or \"90ms\" for 90 milliseconds, got integer 90\n"
        "t.toml:17:8: peer[1].mode: expected \"active\", \"passive\" or \"both\", got "
        "\"sometimes\"\n"
        "t.toml:20:13: service \"x\" prefixes[0]: prefix \"192.0.2.1/24\" has host bits set; did "
        "you mean \"192.0.2.0/24\"?\n");
}

TEST_CASE("an invalid value is reported once, not again by the cross-checks") {
  CHECK(errors("[global]\nlocal-as = 1\nrouter-id = \"192.0.2.1\"\n"
               "[[peer]]\nname = \"a\"\naddress = \"x\"\nremote-as = 2\n"
               "[[peer]]\nname = \"b\"\naddress = \"y\"\nremote-as = 2\n") ==
        "t.toml:6:11: peer[0].address: expected an IPv4 or IPv6 address, got \"x\"\n"
        "t.toml:10:11: peer[1].address: expected an IPv4 or IPv6 address, got \"y\"\n");
}

TEST_CASE("unknown keys: did you mean") {
  CHECK(errors(kBase + "hold-tme = \"9s\"\nfoo = 1\n") ==
        "t.toml:14:1: peer[1].hold-tme: unknown key; did you mean \"hold-time\"?\n"
        "t.toml:15:1: peer[1].foo: unknown key\n");
  CHECK(errors("[globl]\n" + kBase) ==
        "t.toml:1:2: globl: unknown key; did you mean \"global\"?\n");
  CHECK(errors(kBase + "[[service]]\nname = \"s\"\nprefixes = [\"192.0.2.53\"]\n"
                       "[service.helth]\nrise = 3\n") ==
        "t.toml:17:10: service \"s\" helth: unknown key; did you mean \"health\"?\n");
}

TEST_CASE("router id: given, derived from the first IPv4 local address, or an error") {
  auto c = load_ok(R"([global]
local-as = 65001
[[peer]]
name = "a"
address = "2001:db8::1"
local-address = "2001:db8::2"
remote-as = 65000
[[peer]]
name = "b"
address = "192.0.2.1"
local-address = "192.0.2.99"
remote-as = 65000
)");
  CHECK(c.global.router_id.to_string() == "192.0.2.99");
  CHECK(errors("[global]\nlocal-as = 1\nrouter-id = \"2001:db8::1\"\n") ==
        "t.toml:3:13: global.router-id: expected a non-zero IPv4 address like \"192.0.2.1\", "
        "got \"2001:db8::1\"\n");
  CHECK(errors("[global]\nlocal-as = 1\nrouter-id = \"0.0.0.0\"\n").find("non-zero") !=
        std::string::npos);
}

TEST_CASE("hold time and keepalive (RFC 4271 4.2)") {
  auto peer = [](const std::string& extra) {
    return "[global]\nlocal-as = 1\nrouter-id = \"192.0.2.1\"\n[[peer]]\nname = \"p\"\n"
           "address = \"192.0.2.2\"\nremote-as = 2\n" + extra;
  };
  auto c = load_ok(peer("hold-time = \"0s\"\n"));
  CHECK(c.peers[0].hold_time == 0s);
  CHECK_FALSE(c.peers[0].keepalive);
  c = load_ok(peer("hold-time = \"10s\"\nkeepalive = \"auto\"\n"));
  CHECK_FALSE(c.peers[0].keepalive);
  c = load_ok(peer("hold-time = \"9s\"\nkeepalive = \"1s\"\n"));
  CHECK(c.peers[0].keepalive == std::optional<conf::Duration>(1s));
  CHECK(errors(peer("hold-time = \"1s\"\n")) ==
        "t.toml:8:13: peer[0].hold-time: a hold time of 1s is not allowed: use 0s or at least 3s "
        "(RFC 4271 4.2)\n");
  CHECK(errors(peer("hold-time = \"2s\"\n")).find("a hold time of 2s is not allowed") !=
        std::string::npos);
  CHECK(errors(peer("hold-time = \"3s500ms\"\n")).find("whole seconds") != std::string::npos);
  CHECK(errors(peer("hold-time = \"18h13m\"\n")).find("up to 65535s") != std::string::npos);
  CHECK(errors(peer("hold-time = \"9s\"\nkeepalive = \"9s\"\n")) ==
        "t.toml:9:13: peer[0].keepalive: expected between 1s and less than hold-time (9s), got "
        "\"9s\"\n");
  CHECK(errors(peer("hold-time = \"0s\"\nkeepalive = \"5s\"\n")).find("must be \"auto\" when hold-time is 0s") !=
        std::string::npos);
  CHECK(errors(peer("connect-retry = \"500ms\"\n")).find("at least 1s") != std::string::npos);
  CHECK(errors(peer("connect-retry = \"5m\"\n")) ==
        "t.toml:4:1: peer[0].connect-retry-max: connect-retry-max (2m) must not be shorter than "
        "connect-retry (5m)\n");
  CHECK(errors(peer("idle-hold = \"0s\"\n")).find("peer[0].idle-hold: expected at least 1s") !=
        std::string::npos);
  CHECK(errors(peer("idle-hold = \"10m\"\n")) ==
        "t.toml:4:1: peer[0].idle-hold-max: idle-hold-max (5m) must not be shorter than "
        "idle-hold (10m)\n");
  CHECK(errors(peer("keepalive = \"1s500ms\"\n")).find("whole seconds or \"auto\"") !=
        std::string::npos);
}

TEST_CASE("peer values: ASNs, families, next hops, role, addresses") {
  auto peer = [](const std::string& extra) {
    return "[global]\nlocal-as = \"1.10\"\nrouter-id = \"192.0.2.1\"\n[[peer]]\nname = \"p\"\n"
           "address = \"192.0.2.2\"\n" + extra;
  };
  auto c = load_ok(peer("remote-as = 4200000000\nrole = \"customer\"\nmax-prefix = 100\n"
                        "gtsm = true\nport = 1179\nmode = \"passive\"\n"));
  CHECK(c.global.local_as == 65546u);
  CHECK(c.peers[0].remote_as == 4200000000u);
  CHECK(c.peers[0].role == conf::BgpRole::Customer);
  CHECK(c.peers[0].max_prefix == std::optional<std::uint32_t>(100));
  CHECK(c.peers[0].gtsm);
  CHECK(c.peers[0].port == 1179);
  CHECK(c.peers[0].mode == conf::PeerMode::Passive);
  c = load_ok(peer("remote-as = 2\nfamilies = [\"ipv6-unicast\", \"ipv4-unicast\", "
                   "\"ipv4-unicast\"]\nnext-hop-v6 = \"2001:db8::5\"\n"
                   "next-hop-v6-link-local = \"fe80::5\"\n"));
  CHECK(c.peers[0].families == std::vector<bgp::Family>{bgp::kIpv4Unicast, bgp::kIpv6Unicast});
  CHECK(c.peers[0].next_hop_v6->to_string() == "2001:db8::5");
  CHECK(errors(peer("remote-as = 2\nfamilies = [\"ipv6-unicast\"]\n")) ==
        "t.toml:8:12: peer[0].families: ipv6-unicast over an IPv4 session needs next-hop-v6\n");
  CHECK(errors(peer("remote-as = 2\nfamilies = []\n")) ==
        "t.toml:8:12: peer[0].families: expected at least one address family\n");
  CHECK(errors(peer("remote-as = 2\nfamilies = [\"l2vpn-evpn\"]\n")) ==
        "t.toml:8:13: peer[0].families[0]: expected \"ipv4-unicast\" or \"ipv6-unicast\", got "
        "\"l2vpn-evpn\"\n");
  CHECK(errors(peer("remote-as = 23456\n")) ==
        "t.toml:7:13: peer[0].remote-as: AS 23456 is AS_TRANS and cannot be configured "
        "(RFC 6793)\n");
  CHECK(errors(peer("remote-as = 2\nlocal-address = \"2001:db8::1\"\n")) ==
        "t.toml:8:17: peer[0].local-address: expected an IPv4 address like the peer address "
        "192.0.2.2\n");
  CHECK(errors(peer("remote-as = 2\nnext-hop-v6-link-local = \"2001:db8::1\"\n"))
            .find("expected an fe80::/10 address") != std::string::npos);
  CHECK(errors(peer("remote-as = 2\nrole = \"boss\"\n")).find("(RFC 9234)") != std::string::npos);
  CHECK(errors(peer("remote-as = 2\nstrict-role = true\n")) ==
        "t.toml:8:15: peer[0].strict-role: needs role (RFC 9234 strict mode)\n");
  CHECK(load_ok(peer("remote-as = 2\nrole = \"peer\"\nstrict-role = true\n")).peers[0].strict_role);
  CHECK(errors(peer("")) == "t.toml:4:1: peer[0].remote-as: required key missing\n");
}

TEST_CASE("MD5 password: inline or from a file, never printed") {
  char dir_template[] = "/tmp/herald-conf-test-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string file = dir + "/bgp.secret";
  std::ofstream(file) << "s3cret-from-file\n";
  auto head = [](const std::string& extra) {
    return "[global]\nlocal-as = 1\nrouter-id = \"192.0.2.1\"\n[[peer]]\nname = \"p\"\n"
           "address = \"192.0.2.2\"\nremote-as = 2\n" + extra;
  };
  auto c = load_ok(head("md5-password = \"inline-secret\"\n"));
  CHECK(c.peers[0].md5_password == "inline-secret");
  std::string text = conf::dump(c);
  CHECK(text.find("inline-secret") == std::string::npos);
  CHECK(text.find("md5-password = \"<redacted>\"") != std::string::npos);

  c = load_ok(head("md5-password-file = \"" + file + "\"\n"));
  CHECK(c.peers[0].md5_password == "s3cret-from-file");  // trailing newline dropped
  CHECK(c.peers[0].md5_password_file == file);
  text = conf::dump(c);
  CHECK(text.find("s3cret") == std::string::npos);
  CHECK(text.find("md5-password-file = \"" + file + "\"") != std::string::npos);
  auto again = conf::load_string(text, "dump");
  REQUIRE(again.has_value());
  CHECK(*again == c);

  // A relative path is taken from the config file's directory.
  auto rel = conf::load_string(head("md5-password-file = \"bgp.secret\"\n"), dir + "/h.toml");
  REQUIRE(rel.has_value());
  CHECK(rel->peers[0].md5_password == "s3cret-from-file");

  CHECK(errors(head("md5-password-file = \"" + dir + "/missing\"\n")) ==
        "t.toml:8:21: peer[0].md5-password-file: cannot read \"" + dir +
            "/missing\": No such file or directory\n");
  CHECK(errors(head("md5-password-file = \"" + dir + "\"\n")) ==
        "t.toml:8:21: peer[0].md5-password-file: \"" + dir + "\" is not a regular file\n");
  CHECK(errors(head("md5-password = \"a\"\nmd5-password-file = \"" + file + "\"\n"))
            .find("not both") != std::string::npos);
  CHECK(errors(head("md5-password = \"" + std::string(81, 'x') + "\"\n"))
            .find("expected 1..80 characters") != std::string::npos);
  std::remove(file.c_str());
  rmdir(dir.c_str());
}

TEST_CASE("global values: listen, metrics, logging, paths") {
  auto g = [](const std::string& extra) {
    return "[global]\nlocal-as = 1\nrouter-id = \"192.0.2.1\"\n" + extra;
  };
  auto c = load_ok(g("listen = false\nmetrics = \"\"\nlog-level = \"debug\"\n"
                     "log-format = \"json\"\nuser = \"\"\nshutdown-timeout = \"1m\"\n"));
  CHECK(c.global.listen.empty());
  CHECK_FALSE(c.global.metrics);
  CHECK(c.global.log_level == LogLevel::debug);
  CHECK(c.global.log_format == conf::LogFormat::Json);
  CHECK(c.global.user.empty());
  CHECK(c.global.shutdown_timeout == 60s);
  c = load_ok(g("listen = [\"192.0.2.1\", \"[2001:db8::1]:1179\"]\nmetrics = false\n"));
  REQUIRE(c.global.listen.size() == 2);
  CHECK(conf::format_endpoint(c.global.listen[0]) == "192.0.2.1:179");
  CHECK(conf::format_endpoint(c.global.listen[1]) == "[2001:db8::1]:1179");
  CHECK_FALSE(c.global.metrics);
  CHECK(errors(g("log-level = \"verbose\"\n")).find("\"notice\"") != std::string::npos);
  CHECK(errors(g("state-dir = \"var/lib\"\n")) ==
        "t.toml:4:13: global.state-dir: expected an absolute path, got \"var/lib\"\n");
  CHECK(errors(g("listen = 179\n")).find("or false, got integer 179") != std::string::npos);
  CHECK(errors(g("listen = false\n[[peer]]\nname = \"p\"\naddress = \"192.0.2.2\"\n"
                 "remote-as = 2\nmode = \"passive\"\n")) ==
        "t.toml:9:8: peer[0].mode: a passive peer needs a listener, but global.listen is false\n");
}

TEST_CASE("services: duplicates, families, health timing, address binding") {
  const std::string svc = "[[service]]\nname = \"dns\"\nprefixes = [\"192.0.2.53\"]\n";
  CHECK(errors(kBase + svc + svc) ==
        "t.toml:18:8: service \"dns\" name: duplicate service name \"dns\" (also service[0], line 15)\n"
        "t.toml:19:13: service \"dns\" prefixes[0]: duplicate prefix 192.0.2.53/32 (also in service "
        "\"dns\", line 16)\n");
  CHECK(errors("[global]\nlocal-as = 1\nrouter-id = \"192.0.2.1\"\n" + svc) ==
        "t.toml:6:13: service \"dns\" prefixes[0]: no peer carries ipv4-unicast, so 192.0.2.53/32 "
        "would never be announced (add the family to a peer's families)\n");
  CHECK(errors(kBase + "[[service]]\nname = \"dns\"\nprefixes = []\n") ==
        "t.toml:16:12: service \"dns\" prefixes: expected at least one prefix\n");
  // A timeout above the interval is accepted: the next round waits for the previous one.
  auto slow = load_ok(kBase + svc + "[service.health]\ninterval = \"10ms\"\nfast-interval = "
                                    "\"10ms\"\ntimeout = \"20ms\"\n");
  CHECK(slow.services[0].health.interval == 10ms);
  CHECK(slow.services[0].health.timeout == 20ms);
  CHECK(errors(kBase + svc + "[service.health]\nrise = 0\n") ==
        "t.toml:18:8: service \"dns\" health.rise: expected an integer 1..1000, got 0\n");
  CHECK(errors(kBase + svc + "[service.flap]\nhold-down = \"10m\"\nhold-down-max = \"5m\"\n")
            .find("must not be shorter than hold-down") != std::string::npos);
  auto c = load_ok(kBase + svc + "[service.address]\ninterface = \"anycast0\"\ndummy = true\n"
                                 "label = \"anycast0:dns\"\nkeep-on-exit = false\n");
  CHECK(c.services[0].address.interface == "anycast0");
  CHECK(c.services[0].address.dummy);
  CHECK(c.services[0].address.label == "anycast0:dns");
  CHECK_FALSE(c.services[0].address.keep_on_exit);
  CHECK(errors(kBase + svc + "[service.address]\nlabel = \"eth0:x\"\n")
            .find("expected \"lo\" or \"lo:SOMETHING\"") != std::string::npos);
  CHECK(errors(kBase + svc + "[service.address]\ninterface = \"a/b\"\n")
            .find("expected an interface name") != std::string::npos);
}

TEST_CASE("drain-settle: the wait of drain --wait after the withdrawal, 1s unless given") {
  CHECK(load_ok(kBase).global.drain_settle == 1s);
  CHECK(load_ok(kBase.substr(0, kBase.find("[[peer]]")) + "drain-settle = \"2500ms\"\n" +
                kBase.substr(kBase.find("[[peer]]")))
            .global.drain_settle == 2500ms);
  CHECK(errors(kBase.substr(0, kBase.find("[[peer]]")) + "drain-settle = \"2h\"\n" +
               kBase.substr(kBase.find("[[peer]]"))) ==
        "t.toml:5:16: global.drain-settle: expected a duration of at most 1h\n");
}

TEST_CASE("service units: the systemd units whose drain --unit drains the service") {
  const std::string svc = "[[service]]\nname = \"dns\"\nprefixes = [\"192.0.2.53\"]\n";
  CHECK(load_ok(kBase + svc).services[0].units.empty());
  auto c = load_ok(kBase + svc + "units = [\"unbound.service\", \"named.service\"]\n");
  CHECK(c.services[0].units == std::vector<std::string>{"unbound.service", "named.service"});
  CHECK(conf::dump(c).find("units = [\"unbound.service\", \"named.service\"]\n") != std::string::npos);
  CHECK(errors(kBase + svc + "units = [\"unbound.service\", \"unbound.service\"]\n") ==
        "t.toml:17:29: service \"dns\" units[1]: unit \"unbound.service\" is listed twice\n");
  CHECK(errors(kBase + svc + "units = [\"a b\"]\n") ==
        "t.toml:17:10: service \"dns\" units[0]: expected a systemd unit name (e.g. \"unbound.service\"), got \"a b\"\n");
  CHECK(errors(kBase + svc + "units = \"unbound.service\"\n") ==
        "t.toml:17:9: service \"dns\" units: expected an array, got string \"unbound.service\"\n");
}

TEST_CASE("checks: types, fields, timeouts") {
  const std::string svc = kBase + "[[service]]\nname = \"dns\"\nprefixes = [\"2001:db8:53::1\"]\n";
  auto c = load_ok(svc + R"([[service.check]]
type = "dns"
server = "2001:db8::53"
port = 5353
qname = "www.example."
qtype = "aaaa"
rd = false
edns = false
tcp = true
rcodes = ["NXDOMAIN", "NOERROR"]
expect = ["2001:DB8::1"]
expect-answer = true
max-rtt = "100ms"
timeout = "300ms"
[[service.check]]
type = "exec"
command = ["/usr/lib/herald/probe", "--quick"]
[[service.check]]
type = "maintenance-file"
path = "/etc/herald/maintenance"
)");
  const auto& d = c.services[0].checks[0];
  CHECK(d.type == conf::CheckType::Dns);
  CHECK(d.timeout == 300ms);
  CHECK(d.dns.server.to_string() == "2001:db8::53");
  CHECK(d.dns.port == 5353);
  CHECK(d.dns.qtype == 28);
  CHECK_FALSE(d.dns.rd);
  CHECK(d.dns.tcp);
  CHECK(d.dns.rcodes == std::vector<std::uint16_t>{0, 3});
  CHECK(d.dns.expect == std::vector<std::string>{"2001:db8::1"});  // normalized
  CHECK(d.dns.max_rtt == std::optional<conf::Duration>(100ms));
  CHECK(c.services[0].checks[1].exec.command ==
        std::vector<std::string>{"/usr/lib/herald/probe", "--quick"});
  CHECK(c.services[0].checks[2].maintenance_file.path == "/etc/herald/maintenance");

  // A check's own timeout may also exceed the interval (1s by default).
  CHECK(load_ok(svc + "[[service.check]]\ntype = \"dns\"\nqname = \"x.\"\ntimeout = \"3s\"\n")
            .services[0].checks[0].timeout == 3s);
  CHECK(errors(svc + "[[service.check]]\ntype = \"dns\"\nqname = \"x.\"\ntimeout = \"0s\"\n") ==
        "t.toml:20:11: service \"dns\" check \"dns\" timeout: expected a duration above 0s\n");
  CHECK(errors(svc + "[[service.check]]\nname = \"x.\"\n") ==
        "t.toml:17:1: service \"dns\" check \"x.\" type: required key missing\n");
  CHECK(errors(svc + "[[service.check]]\ntype = \"tcp\"\nqname = \"x.\"\n") ==
        "t.toml:19:1: service \"dns\" check \"tcp\" qname: not a key of tcp checks (it belongs to dns checks)\n");
  CHECK(errors(svc + "[[service.check]]\ntype = \"exec\"\ncommand = []\n")
            .find("expected an argv array") != std::string::npos);
  CHECK(errors(svc + "[[service.check]]\ntype = \"exec\"\ncommand = \"/bin/true\"\n") ==
        "t.toml:19:11: service \"dns\" check \"exec\" command: expected an array, got string \"/bin/true\"\n");
  CHECK(errors(svc + "[[service.check]]\ntype = \"dns\"\nqname = \"x.\"\nrcodes = [\"FINE\"]\n")
            .find("service \"dns\" check \"dns\" rcodes[0]: expected a response code") != std::string::npos);
  CHECK(errors(svc + "[service.check]\ntype = \"dns\"\n") ==
        "t.toml:17:1: service \"dns\" check: expected [[service.check]] (an array of tables), got "
        "table\n");
}

TEST_CASE("global dry-run: a boolean, dumped, refused as anything else") {
  const std::string with = std::string(kBase).replace(kBase.find("[global]\n"), 9, "[global]\ndry-run = true\n");
  const auto c = load_ok(with);
  CHECK(c.global.dry_run);
  CHECK(conf::dump(c).find("dry-run = true\n") != std::string::npos);
  CHECK(load_ok(conf::dump(c)).global.dry_run);
  CHECK(errors(std::string(kBase).replace(kBase.find("[global]\n"), 9, "[global]\ndry-run = \"yes\"\n")) ==
        "t.toml:2:11: global.dry-run: expected true or false, got string \"yes\"\n");
}

TEST_CASE("check names: given, or the type, or type-n when a type repeats; unique per service") {
  const std::string svc = kBase + "[[service]]\nname = \"dns\"\nprefixes = [\"2001:db8:53::1\"]\n";
  const std::string dns = "[[service.check]]\ntype = \"dns\"\nqname = \"x.\"\n";
  const std::string tcp = "[[service.check]]\ntype = \"tcp\"\n";
  auto names = [](const conf::Config& c) {
    std::vector<std::string> out;
    for (const auto& k : c.services[0].checks) out.push_back(k.name);
    return out;
  };
  // One check of a type: named after it; several: type-1, type-2 in file order.
  CHECK(names(load_ok(svc + dns + tcp)) == std::vector<std::string>{"dns", "tcp"});
  CHECK(names(load_ok(svc + dns + tcp + dns)) == std::vector<std::string>{"dns-1", "tcp", "dns-2"});
  // A given name wins, and leaves the other defaults as they were.
  CHECK(names(load_ok(svc + dns + "name = \"soa\"\n" + tcp + dns)) ==
        std::vector<std::string>{"soa", "tcp", "dns-2"});
  // The dump shows every name, and loading the dump gives the same names back.
  const auto c = load_ok(svc + dns + tcp + dns);
  CHECK(conf::dump(c).find("name = \"dns-2\"\ntype = \"dns\"\n") != std::string::npos);
  CHECK(names(load_ok(conf::dump(c))) == names(c));

  // Two checks with one name, given or by default: the second is refused where its name is.
  CHECK(errors(svc + dns + "name = \"a\"\n" + tcp + "name = \"a\"\n") ==
        "t.toml:23:8: service \"dns\" check \"a\" name: duplicate check name \"a\" in the service "
        "(also line 20); give each check its own name = \"...\"\n");
  CHECK(errors(svc + tcp + "name = \"dns\"\n" + dns) ==
        "t.toml:20:1: service \"dns\" check \"dns\" name: duplicate check name \"dns\" in the service "
        "(also line 19); give each check its own name = \"...\"\n");
  CHECK(errors(svc + tcp + "name = \"a b\"\n") ==
        "t.toml:19:8: service \"dns\" check[0].name: expected a name of 1..64 characters "
        "[A-Za-z0-9._-], got \"a b\"\n");
  // The query name was `name` before checks had names: the error says what to write.
  CHECK(errors(svc + "[[service.check]]\ntype = \"dns\"\nname = \"example.com.\"\n") ==
        "t.toml:17:1: service \"dns\" check \"example.com.\" qname: required key missing: the query "
        "name is qname (name = \"example.com.\" names the check); write qname = \"example.com.\"\n");
}

TEST_CASE("process check: an absolute pidfile, required, and its own keys only") {
  const std::string svc = kBase + "[[service]]\nname = \"dns\"\nprefixes = [\"2001:db8:53::1\"]\n";
  auto c = load_ok(svc + "[[service.check]]\ntype = \"process\"\npidfile = \"/run/unbound.pid\"\n");
  CHECK(c.services[0].checks[0].type == conf::CheckType::Process);
  CHECK(c.services[0].checks[0].process.pidfile == "/run/unbound.pid");
  CHECK(conf::dump(c).find("name = \"process\"\ntype = \"process\"\ntimeout = \"500ms\"\npidfile = \"/run/unbound.pid\"\n") !=
        std::string::npos);
  CHECK(errors(svc + "[[service.check]]\ntype = \"process\"\n") ==
        "t.toml:17:1: service \"dns\" check \"process\": a process check needs pidfile (an absolute path) or unit (a "
        "systemd unit name)\n");
  CHECK(errors(svc + "[[service.check]]\ntype = \"process\"\npidfile = \"run/unbound.pid\"\n") ==
        "t.toml:19:11: service \"dns\" check \"process\" pidfile: expected an absolute path, got \"run/unbound.pid\"\n");
  CHECK(errors(svc + "[[service.check]]\ntype = \"process\"\npidfile = \"/run/u.pid\"\npath = \"/x\"\n") ==
        "t.toml:20:1: service \"dns\" check \"process\" path: not a key of process checks (it belongs to "
        "maintenance-file checks)\n");
  CHECK(errors(svc + "[[service.check]]\ntype = \"maintenance-file\"\npath = \"/m\"\npidfile = \"/x\"\n") ==
        "t.toml:20:1: service \"dns\" check \"maintenance-file\" pidfile: not a key of maintenance-file checks (it belongs to "
        "process checks)\n");
}

TEST_CASE("process check: a systemd unit instead of a pidfile, one of the two") {
  const std::string svc = kBase + "[[service]]\nname = \"dns\"\nprefixes = [\"2001:db8:53::1\"]\n";
  auto c = load_ok(svc + "[[service.check]]\ntype = \"process\"\nunit = \"unbound.service\"\n");
  CHECK(c.services[0].checks[0].process.unit == "unbound.service");
  CHECK(c.services[0].checks[0].process.pidfile.empty());
  CHECK(conf::dump(c).find("type = \"process\"\ntimeout = \"500ms\"\nunit = \"unbound.service\"\n") !=
        std::string::npos);
  CHECK(load_ok(svc + "[[service.check]]\ntype = \"process\"\nunit = \"knot@main.service\"\n")
            .services[0].checks[0].process.unit == "knot@main.service");
  CHECK(errors(svc + "[[service.check]]\ntype = \"process\"\nunit = \"u.service\"\npidfile = \"/run/u.pid\"\n") ==
        "t.toml:19:8: service \"dns\" check \"process\" unit: give either pidfile or unit, not both\n");
  CHECK(errors(svc + "[[service.check]]\ntype = \"process\"\nunit = \"unbound\"\n") ==
        "t.toml:19:8: service \"dns\" check \"process\" unit: expected a systemd unit name like \"unbound.service\", got "
        "\"unbound\"\n");
  CHECK(errors(svc + "[[service.check]]\ntype = \"process\"\nunit = \"a b.service\"\n") ==
        "t.toml:19:8: service \"dns\" check \"process\" unit: expected a systemd unit name like \"unbound.service\", got "
        "\"a b.service\"\n");
  CHECK(errors(svc + "[[service.check]]\ntype = \"process\"\nunit = 5\n").find("service \"dns\" check \"process\" unit: expected a string") !=
        std::string::npos);
  CHECK(errors(svc + "[[service.check]]\ntype = \"tcp\"\naddress = \"192.0.2.1\"\nport = 53\nunit = \"u.service\"\n") ==
        "t.toml:21:1: service \"dns\" check \"tcp\" unit: not a key of tcp checks (it belongs to process checks)\n");
}

TEST_CASE("policies per state") {
  const std::string svc = kBase + "[[service]]\nname = \"dns\"\nprefixes = [\"192.0.2.53\"]\n";
  auto c = load_ok(svc + R"([service.policy.up]
med = 10
prepend = 2
communities = ["65000:100", "no-export", "65000:100"]
large-communities = ["65000:1:2"]
[service.policy.down]
action = "announce"
prepend = 16
[service.policy.drained]
drain-period = false
)");
  const auto& p = c.services[0].policy;
  CHECK(p.up.med == std::optional<std::uint32_t>(10));
  CHECK(p.up.prepend == 2);
  CHECK(p.up.communities == std::vector<bgp::Community>{0xFDE80064u, bgp::kNoExport});
  CHECK(p.up.large_communities == std::vector<bgp::LargeCommunity>{{65000, 1, 2}});
  CHECK(p.down.action == conf::Action::Announce);
  CHECK(p.down.prepend == 16);
  CHECK(p.drained.communities == std::vector<bgp::Community>{bgp::kGracefulShutdown});
  CHECK_FALSE(p.drain_period);

  c = load_ok(svc + "[service.policy.drained]\naction = \"withdraw\"\n");
  CHECK(c.services[0].policy.drained.action == conf::Action::Withdraw);
  CHECK(c.services[0].policy.drained.communities.empty());
  CHECK_FALSE(c.services[0].policy.drain_period);

  CHECK(errors(svc + "[service.policy.down]\nmed = 5\ncommunities = [\"1:1\"]\n") ==
        "t.toml:18:7: service \"dns\" policy.down.med: has no effect with action = \"withdraw\"\n"
        "t.toml:19:15: service \"dns\" policy.down.communities: has no effect with action = "
        "\"withdraw\"\n");
  CHECK(errors(svc + "[service.policy.up]\nprepend = 17\n") ==
        "t.toml:18:11: service \"dns\" policy.up.prepend: expected an integer 0..16, got 17\n");
  CHECK(errors(svc + "[service.policy.up]\ndrain-period = \"1s\"\n") ==
        "t.toml:18:1: service \"dns\" policy.up.drain-period: unknown key\n");
  CHECK(errors(svc + "[service.policy.up]\ncommunities = [\"65536:1\"]\n")
            .find("service \"dns\" policy.up.communities[0]: expected a community") != std::string::npos);
}

TEST_CASE("peer_session_params_equal: which changes reset a session") {
  auto c = load_ok(kBase);
  conf::PeerConfig a = c.peers[0], b = a;
  CHECK(conf::peer_session_params_equal(a, b));
  b.description = "changed";
  b.max_prefix = 10;
  b.next_hop_v4 = bgp::IpAddress::parse("192.0.2.77");
  b.connect_retry = 60s;
  b.mode = conf::PeerMode::Active;
  CHECK(conf::peer_session_params_equal(a, b));
  auto differs = [&](auto mutate) {
    conf::PeerConfig x = a;
    mutate(x);
    return !conf::peer_session_params_equal(a, x);
  };
  CHECK(differs([](conf::PeerConfig& x) { x.remote_as = 1; }));
  CHECK(differs([](conf::PeerConfig& x) { x.hold_time = 30s; }));
  CHECK(differs([](conf::PeerConfig& x) { x.md5_password = "k"; }));
  CHECK(differs([](conf::PeerConfig& x) { x.families.push_back(bgp::kIpv6Unicast); }));
  CHECK(differs([](conf::PeerConfig& x) { x.role = conf::BgpRole::Peer; }));
  CHECK(differs([](conf::PeerConfig& x) { x.gtsm = true; }));
  CHECK(differs([](conf::PeerConfig& x) { x.port = 1179; }));
  CHECK(differs([](conf::PeerConfig& x) { x.keepalive = 10s; }));
  CHECK(differs([](conf::PeerConfig& x) { x.strict_role = true; }));
}

TEST_CASE("peer_changed_keys: the keys a reload changed, by their configuration names") {
  auto c = load_ok(kBase);
  const conf::PeerConfig a = c.peers[0];
  CHECK(conf::peer_changed_keys(a, a).empty());
  conf::PeerConfig b = a;
  b.description = "changed";
  b.hold_time = 30s;
  b.md5_password = "secret";
  CHECK(conf::peer_changed_keys(a, b) == std::vector<std::string>{"description", "hold-time", "md5-password"});
  auto one = [&](auto mutate) {
    conf::PeerConfig x = a;
    mutate(x);
    const auto keys = conf::peer_changed_keys(a, x);
    return keys.size() == 1 ? keys[0] : std::string("<") + std::to_string(keys.size()) + " keys>";
  };
  CHECK(one([](conf::PeerConfig& x) { x.name = "other"; }) == "name");
  CHECK(one([](conf::PeerConfig& x) { x.address = *bgp::IpAddress::parse("192.0.2.99"); }) == "address");
  CHECK(one([](conf::PeerConfig& x) { x.remote_as = 1; }) == "remote-as");
  CHECK(one([](conf::PeerConfig& x) { x.local_address = bgp::IpAddress::parse("192.0.2.98"); }) == "local-address");
  CHECK(one([](conf::PeerConfig& x) { x.port = 1179; }) == "port");
  CHECK(one([](conf::PeerConfig& x) { x.mode = conf::PeerMode::Passive; }) == "mode");
  CHECK(one([](conf::PeerConfig& x) { x.keepalive = 10s; }) == "keepalive");
  CHECK(one([](conf::PeerConfig& x) { x.connect_retry = 9s; }) == "connect-retry");
  CHECK(one([](conf::PeerConfig& x) { x.connect_retry_max = 9min; }) == "connect-retry-max");
  CHECK(one([](conf::PeerConfig& x) { x.idle_hold = 9s; }) == "idle-hold");
  CHECK(one([](conf::PeerConfig& x) { x.idle_hold_max = 9min; }) == "idle-hold-max");
  CHECK(one([](conf::PeerConfig& x) { x.md5_password_file = "/etc/herald/k"; }) == "md5-password-file");
  CHECK(one([](conf::PeerConfig& x) { x.gtsm = true; }) == "gtsm");
  CHECK(one([](conf::PeerConfig& x) { x.families.push_back(bgp::kIpv6Unicast); }) == "families");
  CHECK(one([](conf::PeerConfig& x) { x.next_hop_v4 = bgp::IpAddress::parse("192.0.2.77"); }) == "next-hop-v4");
  CHECK(one([](conf::PeerConfig& x) { x.next_hop_v6 = bgp::IpAddress::parse("2001:db8::77"); }) == "next-hop-v6");
  CHECK(one([](conf::PeerConfig& x) { x.next_hop_v6_link_local = bgp::IpAddress::parse("fe80::77"); }) ==
        "next-hop-v6-link-local");
  CHECK(one([](conf::PeerConfig& x) { x.max_prefix = 10; }) == "max-prefix");
  CHECK(one([](conf::PeerConfig& x) { x.role = conf::BgpRole::Peer; }) == "role");
  CHECK(one([](conf::PeerConfig& x) { x.strict_role = true; }) == "strict-role");
  CHECK(one([](conf::PeerConfig& x) { x.bfd = conf::BfdConfig{}; }) == "bfd");
  conf::PeerConfig with_bfd = a;
  with_bfd.bfd = conf::BfdConfig{};
  conf::PeerConfig faster = with_bfd;
  faster.bfd->min_tx = 50ms;
  faster.bfd->multiplier = 5;
  CHECK(conf::peer_changed_keys(with_bfd, faster) == std::vector<std::string>{"bfd-min-tx", "bfd-multiplier"});
}

TEST_CASE("load_file: real files, size limit, error list formatting") {
  auto r = conf::load_file(HERALD_CONF_SAMPLES "/minimal.toml");
  REQUIRE(r.has_value());
  CHECK(r->source == HERALD_CONF_SAMPLES "/minimal.toml");
  auto big = conf::load_file("/dev/zero");  // endless input is refused, not read forever
  REQUIRE_FALSE(big);
  CHECK(conf::to_string(big.error()) ==
        "/dev/zero: larger than 1 MiB; not a herald configuration\n");
  auto bad = conf::load_string("[global]\nlocal-as = 0\nrouter-id = \"1.2.3.4\"\nx = 1\n", "b");
  REQUIRE_FALSE(bad);
  CHECK(conf::to_string(bad.error()) ==
        "b:2:12: global.local-as: AS 0 is reserved and cannot be used (RFC 7607)\n"
        "b:4:1: global.x: unknown key\n");
}

TEST_CASE("enum spellings match the config words") {
  CHECK(to_string(LogLevel::warning) == "warning");
  CHECK(conf::to_string(conf::PeerMode::Passive) == "passive");
  CHECK(conf::to_string(conf::BgpRole::RouteServerClient) == "rs-client");
  CHECK(conf::to_string(conf::CheckType::MaintenanceFile) == "maintenance-file");
  CHECK(conf::to_string(conf::CheckType::Process) == "process");
  CHECK(conf::to_string(conf::Action::Withdraw) == "withdraw");
  CHECK(conf::to_string(conf::Combine::Any) == "any");
  CHECK(conf::to_string(conf::StartState::Up) == "up");
  CHECK(conf::to_string(conf::LogFormat::Json) == "json");
}

TEST_CASE("service peers: names existing peers; unknown ones get did-you-mean, twice is refused") {
  auto c = load_ok(kBase + R"(
[[service]]
name = "dns"
prefixes = ["192.0.2.53"]
peers = ["v4"]
)");
  CHECK(c.services[0].peers == std::vector<std::string>{"v4"});
  CHECK(c.services[0].announced_to("v4"));
  CHECK_FALSE(c.services[0].announced_to("v6"));
  CHECK(load_ok(kBase + "[[service]]\nname = \"dns\"\nprefixes = [\"192.0.2.53\"]\n").services[0].announced_to("v6"));
  CHECK(errors(kBase + R"(
[[service]]
name = "dns"
prefixes = ["192.0.2.53"]
peers = ["v5", "v4", "v4", "upstream"]
)") == "t.toml:18:10: service \"dns\" peers[0]: no [[peer]] is named \"v5\"; did you mean \"v4\"?\n"
       "t.toml:18:22: service \"dns\" peers[2]: peer \"v4\" is listed twice\n"
       "t.toml:18:28: service \"dns\" peers[3]: no [[peer]] is named \"upstream\"\n");
  CHECK(errors(kBase + "[[service]]\nname = \"dns\"\nprefixes = [\"192.0.2.53\"]\npeers = []\n") ==
        "t.toml:17:9: service \"dns\" peers: expected at least one peer name (leave peers out to announce to every peer)\n");
}

TEST_CASE("service peers: a prefix whose family none of the service's peers carries is refused") {
  CHECK(errors(kBase + R"(
[[service]]
name = "dns"
prefixes = ["2001:db8:53::1"]
peers = ["v4"]
)") == "t.toml:17:13: service \"dns\" prefixes[0]: none of the service's peers carries ipv6-unicast, so "
       "2001:db8:53::1/128 would never be announced (add the family to one of them, or a peer that carries "
       "it to the service's peers)\n");
}

TEST_CASE("peer attributes: read, normalized, dumped and loaded back; local-pref only on iBGP") {
  const std::string text = R"([global]
local-as = 65001
router-id = "192.0.2.10"

[[peer]]
name = "ebgp"
address = "192.0.2.1"
remote-as = 65000
communities = ["65001:2", "no-export", "65001:2"]
large-communities = ["65001:1:1"]
extended-communities = ["soo:192.0.2.10:7", "rt:65001:100"]
med = 20
prepend = 2

[[peer]]
name = "ibgp"
address = "192.0.2.2"
remote-as = 65001
local-pref = 200

[[service]]
name = "dns"
prefixes = ["192.0.2.53"]
[service.policy.up]
extended-communities = ["rt:65001:53"]
)";
  auto c = load_ok(text);
  const auto& a = c.peers[0].attributes;
  CHECK(a.communities == std::vector<bgp::Community>{0xFDE90002u, bgp::kNoExport});
  CHECK(a.large_communities == std::vector<bgp::LargeCommunity>{{65001, 1, 1}});
  REQUIRE(a.extended_communities.size() == 2);
  CHECK(conf::format_extended_community(a.extended_communities[0]) == "rt:65001:100");  // sorted
  CHECK(a.med == 20u);
  CHECK(a.prepend == 2u);
  CHECK(!a.local_pref);
  CHECK(c.peers[1].attributes.local_pref == 200u);
  REQUIRE(c.services[0].policy.up.extended_communities.size() == 1);
  auto again = conf::load_string(conf::dump(c), "dump.toml");
  REQUIRE(again);
  CHECK(*again == c);
  const std::string dumped = conf::dump(c);
  CHECK(dumped.find("extended-communities = [\"rt:65001:100\", \"soo:192.0.2.10:7\"]") != std::string::npos);
  CHECK(dumped.find("local-pref = 200") != std::string::npos);

  CHECK(errors(kBase + "local-pref = 150\n") ==
        "t.toml:14:14: peer[1].local-pref: peer \"v6\" is eBGP (remote-as 65000, local-as 65001): LOCAL_PREF is "
        "sent to iBGP peers only (RFC 4271 5.1.5); use med or prepend towards an external peer\n");
  CHECK(errors(kBase + "prepend = 17\nextended-communities = [\"rt:1\"]\n").find("peer[1].prepend") != std::string::npos);
  CHECK(errors(kBase + "[[service]]\nname = \"dns\"\nprefixes = [\"192.0.2.53\"]\n[service.policy.down]\n"
                       "action = \"withdraw\"\nextended-communities = [\"rt:1:1\"]\n") ==
        "t.toml:19:24: service \"dns\" policy.down.extended-communities: has no effect with action = \"withdraw\"\n");
}

TEST_CASE("peer attributes and service peers: a reload changing them keeps the session") {
  for (const char* key : {"communities", "large-communities", "extended-communities", "med", "prepend", "local-pref"}) {
    CAPTURE(key);
    bool found = false;
    for (const auto& f : conf::peer_fields())
      if (std::string_view(f.key) == key) {
        found = true;
        CHECK(f.on_change == conf::SessionOnChange::Keeps);
      }
    CHECK(found);
  }
  conf::PeerConfig a, b;
  b.attributes.med = 5;
  b.attributes.extended_communities = {bgp::ext_community_as2(bgp::ExtCommunityKind::RouteTarget, 1, 1)};
  CHECK_FALSE(conf::peer_needs_new_session(a, b));
  CHECK(conf::peer_changed_keys(a, b) == std::vector<std::string>{"extended-communities", "med"});
}

TEST_CASE("soa check: zone, primary and lag, max-age and serial format, dumped back") {
  const std::string svc = kBase + "[[service]]\nname = \"dns\"\nprefixes = [\"192.0.2.53\"]\n";
  auto c = load_ok(svc + R"([[service.check]]
type = "soa"
zone = "example."
primary = "198.51.100.1"
primary-port = 5353
max-serial-lag = 2
max-age = "48h"
serial-format = "date"
)");
  const auto& s = c.services[0].checks[0];
  CHECK(s.type == conf::CheckType::Soa);
  CHECK(s.soa.server.to_string() == "192.0.2.53");  // the service's address by default
  CHECK(s.soa.port == 53);
  CHECK(s.soa.zone == "example.");
  CHECK(s.soa.primary->to_string() == "198.51.100.1");
  CHECK(s.soa.primary_port == 5353);
  CHECK(s.soa.max_serial_lag == 2);
  CHECK(s.soa.max_age == std::optional<conf::Duration>(48h));
  CHECK(s.soa.serial_format == conf::SerialFormat::Date);
  CHECK(conf::dump(c).find("type = \"soa\"\ntimeout = \"500ms\"\nserver = \"192.0.2.53\"\nport = 53\n"
                           "zone = \"example.\"\nprimary = \"198.51.100.1\"\nprimary-port = 5353\n"
                           "max-serial-lag = 2\nmax-age = \"48h\"\nserial-format = \"date\"\n") != std::string::npos);
  const std::string soa = svc + "[[service.check]]\ntype = \"soa\"\nzone = \"example.\"\n";
  CHECK(errors(soa) ==
        "t.toml:17:1: service \"dns\" check \"soa\" type: a soa check needs at least one of primary = \"ADDRESS\" "
        "(serial lag), max-age = \"DURATION\" (serial age) and max-unchanged = \"DURATION\" (time since "
        "the serial changed)\n");
  auto u = load_ok(soa + "max-unchanged = \"6h\"\n");
  CHECK(u.services[0].checks[0].soa.max_unchanged == std::optional<conf::Duration>(6h));
  CHECK(conf::dump(u).find("zone = \"example.\"\nmax-unchanged = \"6h\"\n") != std::string::npos);
  CHECK(errors(soa + "max-unchanged = \"0s\"\n") ==
        "t.toml:20:17: service \"dns\" check \"soa\" max-unchanged: expected a duration above 0s\n");
  CHECK(errors(soa + "max-serial-lag = 1\nmax-age = \"1h\"\n") ==
        "t.toml:20:18: service \"dns\" check \"soa\" max-serial-lag: max-serial-lag needs a primary to compare with "
        "(primary = \"ADDRESS\")\n");
  CHECK(errors(soa + "primary = \"198.51.100.1\"\nmax-serial-lag = 2147483648\n")
            .find("max-serial-lag: expected an integer") != std::string::npos);
  CHECK(errors(soa + "max-age = \"1h\"\nserial-format = \"epoch\"\n") ==
        "t.toml:21:17: service \"dns\" check \"soa\" serial-format: expected \"unixtime\" or \"date\" (YYYYMMDDnn), "
        "got \"epoch\"\n");
  CHECK(errors(soa + "primary = \"198.51.100.1\"\nserial-format = \"date\"\n") ==
        "t.toml:21:17: service \"dns\" check \"soa\" serial-format: serial-format is only used with max-age\n");
  CHECK(errors(soa + "primary = \"198.51.100.1\"\nqtype = \"A\"\n") ==
        "t.toml:21:1: service \"dns\" check \"soa\" qtype: not a key of soa checks (it belongs to dns checks)\n");
  CHECK(errors(svc + "[[service.check]]\ntype = \"soa\"\nprimary = \"198.51.100.1\"\n") ==
        "t.toml:17:1: service \"dns\" check \"soa\" zone: required key missing\n");
}

TEST_CASE("dns check: nsid and DNS over TLS keys") {
  const std::string svc = kBase + "[[service]]\nname = \"dns\"\nprefixes = [\"192.0.2.53\"]\n";
  const std::string dns = svc + "[[service.check]]\ntype = \"dns\"\nqname = \"www.example.\"\n";
  auto c = load_ok(dns + "tls = true\ntls-ca = \"/etc/herald/ca.pem\"\ntls-name = \"dns.example\"\nnsid = true\n");
  const auto& d = c.services[0].checks[0].dns;
  CHECK(d.tls);
  CHECK(d.port == 853);  // RFC 7858 3.1
  CHECK(d.tls_verify);
  CHECK(d.tls_ca == "/etc/herald/ca.pem");
  CHECK(d.tls_name == "dns.example");
  CHECK(d.nsid);
  CHECK(conf::dump(c).find("nsid = true\ntls = true\ntls-verify = true\ntls-ca = \"/etc/herald/ca.pem\"\n"
                           "tls-name = \"dns.example\"\n") != std::string::npos);
  CHECK(load_ok(dns + "tls = true\nport = 8853\n").services[0].checks[0].dns.port == 8853);
  CHECK_FALSE(load_ok(dns + "tls = true\ntls-verify = false\n").services[0].checks[0].dns.tls_verify);
  CHECK(errors(dns + "tls-name = \"dns.example\"\n") ==
        "t.toml:20:12: service \"dns\" check \"dns\" tls-name: tls-name is only used with tls = true\n");
  CHECK(errors(dns + "tls = true\ntcp = true\n") ==
        "t.toml:20:7: service \"dns\" check \"dns\" tls: tls = true runs over TCP already: drop tcp = true\n");
  CHECK(errors(dns + "tls = true\ntls-ca = \"ca.pem\"\n") ==
        "t.toml:21:10: service \"dns\" check \"dns\" tls-ca: expected an absolute path, got \"ca.pem\"\n");
  CHECK(errors(dns + "edns = false\nnsid = true\n") ==
        "t.toml:21:8: service \"dns\" check \"dns\" nsid: nsid = true needs edns = true (NSID is an EDNS option)\n");
}

TEST_CASE("query-counters: on by default with a [fleet] section, off without; written, it wins") {
  const std::string head = kBase.substr(0, kBase.find("[[peer]]"));
  const std::string rest = kBase.substr(kBase.find("[[peer]]"));
  const std::string fleet = "\n[fleet]\nname = \"prod\"\nsite = \"ams1\"\nendpoints = [\"192.0.2.11:2379\"]\n";
  CHECK(!load_ok(kBase).global.query_counters);
  CHECK(load_ok(kBase + fleet).global.query_counters);
  CHECK(load_ok(head + "query-counters = true\n" + rest).global.query_counters);
  CHECK(!load_ok(head + "query-counters = false\n" + rest + fleet).global.query_counters);
  CHECK(errors(head + "query-counters = \"yes\"\n" + rest) ==
        "t.toml:5:18: global.query-counters: expected true or false, got string \"yes\"\n");
}
