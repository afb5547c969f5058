// Configurations whose every value is well-formed but which the daemon cannot run: accounts the
// host lacks, a control socket path too long to bind, peers that are this host (or no host), a
// default route as a service prefix, metrics on port 0. --check-config must refuse each one with
// its place in the file.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

#include "conf/load.hpp"

using namespace herald;

namespace {

const std::string kGlobal = "[global]\nlocal-as = 65001\nrouter-id = \"192.0.2.10\"\n";
const std::string kPeer =
    "\n[[peer]]\nname = \"up\"\naddress = \"203.0.113.1\"\nremote-as = 65000\n";

// A host with exactly these users and groups.
conf::HostLookup fake_host(std::set<std::string> users, std::set<std::string> groups) {
  return conf::HostLookup{
      [users](const std::string& u) -> Expected<bool, std::string> { return users.count(u) > 0; },
      [groups](const std::string& g) -> Expected<bool, std::string> { return groups.count(g) > 0; },
      nullptr,
  };
}

std::string errors(const std::string& text, const conf::HostLookup* host = nullptr) {
  auto r = conf::load_string(text, "t.toml", host);
  return r ? "" : conf::to_string(r.error());
}

}  // namespace

TEST_CASE("global.user and control-group must exist on the host") {
  const auto host = fake_host({"herald", "nobody"}, {"herald", "adm"});
  CHECK(errors(kGlobal + kPeer, &host) == "");  // the default user exists here
  CHECK(errors(kGlobal + "user = \"nobody\"\ncontrol-group = \"adm\"\n" + kPeer, &host) == "");
  CHECK(errors(kGlobal + "user = \"\"\n" + kPeer, &host) == "");  // "" : stays root, no account

  CHECK(errors(kGlobal + "user = \"ghost\"\n" + kPeer, &host) ==
        "t.toml:4:8: global.user: no user \"ghost\" on this host\n");
  CHECK(errors(kGlobal + "control-group = \"ghosts\"\n" + kPeer, &host) ==
        "t.toml:4:17: global.control-group: no group \"ghosts\" on this host\n");

  // The default "herald" on a host without the package: reported at [global].
  const auto bare = fake_host({"nobody"}, {});
  CHECK(errors(kGlobal + kPeer, &bare) ==
        "t.toml:1:1: global.user: no user \"herald\" (the default) on this host: create it (the "
        "herald package does), name another with user = \"NAME\", or keep root with user = \"\"\n");

  // A lookup that fails (NSS unreachable) is an error too, with its reason.
  const conf::HostLookup broken{
      [](const std::string&) -> Expected<bool, std::string> { return unexpected(std::string("ldap down")); },
      nullptr, nullptr};
  CHECK(errors(kGlobal + kPeer, &broken) == "t.toml:1:1: global.user: ldap down\n");

  // Without a HostLookup (golden tests, dumps) accounts are not looked up.
  CHECK(errors(kGlobal + "user = \"ghost\"\n" + kPeer) == "");
}

TEST_CASE("a peer address that is one of the host's own is refused") {
  conf::HostLookup host;
  host.local_addresses = []() -> Expected<std::vector<bgp::IpAddress>, std::string> {
    return std::vector<bgp::IpAddress>{*bgp::IpAddress::parse("127.0.0.1"), *bgp::IpAddress::parse("203.0.113.2")};
  };
  CHECK(errors(kGlobal + kPeer, &host) == "");
  CHECK(errors(kGlobal + "\n[[peer]]\nname = \"me\"\naddress = \"203.0.113.2\"\nremote-as = 65000\n", &host) ==
        "t.toml:7:11: peer[0].address: 203.0.113.2 is an address of this host: a session to it would "
        "reach this host itself\n");
  host.local_addresses = []() -> Expected<std::vector<bgp::IpAddress>, std::string> {
    return unexpected(std::string("cannot list this host's addresses: boom"));
  };
  CHECK(errors(kGlobal + kPeer, &host) == "t.toml:1:1: global: cannot list this host's addresses: boom\n");
}

TEST_CASE("system_host answers for accounts every Linux host has") {
  const auto& host = conf::system_host();
  auto root = host.user_exists("root");
  REQUIRE(root.has_value());
  CHECK(*root);
  auto none = host.user_exists("herald-no-such-user-x9");
  REQUIRE(none.has_value());
  CHECK_FALSE(*none);
  auto g = host.group_exists("root");
  REQUIRE(g.has_value());
  CHECK(*g);
  auto local = host.local_addresses();  // lo is up in every namespace the tests run in
  REQUIRE(local.has_value());
  CHECK(std::find(local->begin(), local->end(), *bgp::IpAddress::parse("127.0.0.1")) != local->end());
}

TEST_CASE("control-socket must fit a Unix socket address (107 bytes)") {
  const std::string fits = "/" + std::string(106, 's');
  const std::string too_long = "/" + std::string(107, 's');
  CHECK(errors(kGlobal + "control-socket = \"" + fits + "\"\n" + kPeer) == "");
  CHECK(errors(kGlobal + "control-socket = \"" + too_long + "\"\n" + kPeer) ==
        "t.toml:4:18: global.control-socket: a Unix socket path is at most 107 bytes, this one "
        "has 108\n");
}

TEST_CASE("metrics on port 0 is refused") {
  CHECK(errors(kGlobal + "metrics = \"127.0.0.1:0\"\n" + kPeer) ==
        "t.toml:4:11: global.metrics: expected a port between 1 and 65535, got 0\n");
  CHECK(errors(kGlobal + "metrics = \"127.0.0.1:9100\"\n" + kPeer) == "");
}

TEST_CASE("a peer must be one other host") {
  auto peer = [](const std::string& address, const std::string& extra = "") {
    return "\n[[peer]]\nname = \"p\"\naddress = \"" + address + "\"\nremote-as = 65000\n" + extra;
  };
  CHECK(errors(kGlobal + peer("0.0.0.0")) ==
        "t.toml:7:11: peer[0].address: 0.0.0.0 is the unspecified address: a BGP neighbor needs "
        "the unicast address of one host\n");
  CHECK(errors(kGlobal + peer("::")).find("peer[0].address: :: is the unspecified address") !=
        std::string::npos);
  CHECK(errors(kGlobal + peer("224.0.0.5")).find("is a multicast address (224.0.0.0/4)") !=
        std::string::npos);
  CHECK(errors(kGlobal + peer("ff02::5")).find("is a multicast address (ff00::/8)") !=
        std::string::npos);
  CHECK(errors(kGlobal + peer("255.255.255.255")).find("is the broadcast address") !=
        std::string::npos);
  CHECK(errors(kGlobal + peer("203.0.113.1", "local-address = \"224.0.0.1\"\n"))
            .find("peer[0].local-address: 224.0.0.1 is a multicast address") != std::string::npos);

  // Equal to a local address: its own local-address, another peer's, a listen address, or
  // inside a prefix herald binds on an interface.
  CHECK(errors(kGlobal + peer("203.0.113.2", "local-address = \"203.0.113.2\"\n")) ==
        "t.toml:7:11: peer[0].address: 203.0.113.2 is the local-address of peer \"p\": a session "
        "to it would reach this host itself\n");
  CHECK(errors(kGlobal + peer("203.0.113.1", "local-address = \"203.0.113.2\"\n") +
               "\n[[peer]]\nname = \"q\"\naddress = \"203.0.113.2\"\nremote-as = 65000\n")
            .find("peer[1].address: 203.0.113.2 is the local-address of peer \"p\"") !=
        std::string::npos);
  CHECK(errors("[global]\nlocal-as = 65001\nrouter-id = \"192.0.2.10\"\nlisten = \"203.0.113.2\"\n" +
               peer("203.0.113.2"))
            .find("peer[0].address: 203.0.113.2 is a global.listen address") != std::string::npos);
  const std::string svc = "\n[[service]]\nname = \"dns\"\nprefixes = [\"203.0.113.0/28\"]\n";
  CHECK(errors(kGlobal + peer("203.0.113.9") + svc)
            .find("peer[0].address: 203.0.113.9 is inside 203.0.113.0/28, which service \"dns\" "
                  "binds on lo") != std::string::npos);
  // Not bound by herald: the prefix is routed elsewhere, the peer may sit in it.
  CHECK(errors(kGlobal + peer("203.0.113.9") + svc + "[service.address]\nbind = false\n") == "");
  CHECK(errors(kGlobal + peer("203.0.113.17") + svc) == "");
}

TEST_CASE("a default route is not a service prefix") {
  CHECK(errors(kGlobal + kPeer + "\n[[service]]\nname = \"dns\"\nprefixes = [\"0.0.0.0/0\"]\n") ==
        "t.toml:12:13: service \"dns\" prefixes[0]: 0.0.0.0/0 is a default route, not a service prefix: "
        "announcing it would draw all traffic to this host\n");
  CHECK(errors(kGlobal + kPeer + "families = [\"ipv4-unicast\", \"ipv6-unicast\"]\n"
                                 "next-hop-v6 = \"2001:db8::2\"\n"
                                 "\n[[service]]\nname = \"dns\"\nprefixes = [\"::/0\"]\n")
            .find("service \"dns\" prefixes[0]: ::/0 is a default route") != std::string::npos);
  CHECK(errors(kGlobal + kPeer + "\n[[service]]\nname = \"dns\"\nprefixes = [\"0.0.0.0/1\"]\n") == "");
}
