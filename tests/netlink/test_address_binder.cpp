// AddressBinder against the in-memory FakeBackend: adopt vs add, keep/remove on exit, events
// with reasons, re-add policies, per-service readiness. No privileges needed.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "netlink/address_binder.hpp"
#include "netlink/fake_backend.hpp"

using namespace herald::netlink;

namespace {

InterfaceAddress addr(const char* text) {
  auto a = InterfaceAddress::parse(text);
  REQUIRE(a);
  return *a;
}

const InterfaceAddress kV4 = *InterfaceAddress::parse("192.0.2.1/32");
const InterfaceAddress kV6 = *InterfaceAddress::parse("2001:db8:53::1/128");
const InterfaceAddress kV4b = *InterfaceAddress::parse("198.51.100.53/32");

// Service "dns" with kV4 and kV6, re-added after removal as `readd` says.
BinderConfig dns_config(ReaddPolicy readd = BinderConfig{}.readd) {
  BinderConfig c;
  c.services = {{"dns", {kV4, kV6}}};
  c.readd = readd;
  return c;
}

// "kind: reason" lines, easy to compare as a whole sequence.
std::vector<std::string> lines(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(std::string(to_string(e.kind)) + ": " + e.reason);
  return out;
}

}  // namespace

TEST_CASE("bind adds missing addresses with NODAD, host scope on lo and the label") {
  FakeBackend fake;
  auto cfg = dns_config();
  cfg.label = "lo:herald";
  AddressBinder b(fake, cfg);
  REQUIRE(b.bind());
  CHECK(fake.has("lo", kV4));
  CHECK(fake.has("lo", kV6));
  CHECK(b.origin(kV4) == Origin::Added);
  CHECK(b.origin(kV6) == Origin::Added);
  CHECK(b.service_ready("dns"));
  CHECK_FALSE(b.service_ready("nope"));

  REQUIRE(fake.add_requests().size() == 2);
  const AddRequest& v4 = fake.add_requests()[0];
  CHECK(v4.address == kV4);
  CHECK(v4.label == "lo:herald");
  CHECK(v4.host_scope);   // lo: keep the anycast address out of source selection
  CHECK_FALSE(v4.nodad);  // DAD is IPv6 only
  const AddRequest& v6 = fake.add_requests()[1];
  CHECK(v6.address == kV6);
  CHECK(v6.label.empty());  // the kernel has no IPv6 labels
  CHECK(v6.nodad);
}

TEST_CASE("bind adopts addresses that are already there and never removes them") {
  FakeBackend fake;
  fake.external_add("lo", kV4);
  auto cfg = dns_config();
  cfg.remove_on_exit = true;
  AddressBinder b(fake, cfg);
  REQUIRE(b.bind());
  CHECK(b.origin(kV4) == Origin::Adopted);
  CHECK(b.origin(kV6) == Origin::Added);
  CHECK(fake.add_requests().size() == 1);  // only the missing one was asked for
  CHECK(b.release().empty());
  CHECK(fake.has("lo", kV4));        // adopted: stays
  CHECK_FALSE(fake.has("lo", kV6));  // added by herald: removed on exit
}

TEST_CASE("herald's label marks IPv4 addresses kept by an earlier run as herald's") {
  FakeBackend fake;
  auto cfg = dns_config();
  cfg.label = "lo:herald";
  {
    AddressBinder first(fake, cfg);  // default: keep on exit
    REQUIRE(first.bind());
    CHECK(first.release().empty());
  }
  fake.external_add("lo", kV4b);  // the operator's, label "lo"
  cfg.remove_on_exit = true;
  cfg.services[0].addresses.push_back(kV4b);
  AddressBinder second(fake, cfg);
  REQUIRE(second.bind());
  CHECK(second.origin(kV4) == Origin::Added);     // labelled lo:herald: ours
  CHECK(second.origin(kV6) == Origin::Adopted);   // IPv6 has no label to tell
  CHECK(second.origin(kV4b) == Origin::Adopted);  // someone else's label
  CHECK(second.release().empty());
  CHECK_FALSE(fake.has("lo", kV4));
  CHECK(fake.has("lo", kV6));
  CHECK(fake.has("lo", kV4b));
}

TEST_CASE("an address appearing between list and add (EEXIST) is adopted, not an error") {
  FakeBackend fake;
  fake.fail_next_add_errno = EEXIST;
  AddressBinder b(fake, dns_config());
  REQUIRE(b.bind());
  CHECK(b.origin(kV4) == Origin::Adopted);
  CHECK(b.origin(kV6) == Origin::Added);
}

TEST_CASE("default is to keep addresses on exit") {
  FakeBackend fake;
  AddressBinder b(fake, dns_config());
  REQUIRE(b.bind());
  int before = fake.mutation_count();
  CHECK(b.release().empty());
  CHECK(fake.has("lo", kV4));
  CHECK(fake.has("lo", kV6));
  CHECK(fake.mutation_count() == before);
}

TEST_CASE("undo after a failed start removes what herald added, whatever keep-on-exit says") {
  FakeBackend fake;
  fake.external_add("lo", kV4);  // the operator's (or a kept one): adopted, never removed
  AddressBinder b(fake, dns_config());  // default: keep on exit
  REQUIRE(b.bind());
  CHECK(b.origin(kV6) == Origin::Added);
  CHECK(b.undo().empty());
  CHECK(fake.has("lo", kV4));
  CHECK_FALSE(fake.has("lo", kV6));
}

TEST_CASE("undo deletes a dummy interface herald created") {
  FakeBackend fake;
  auto cfg = dns_config();
  cfg.interface = "anycast0";
  cfg.create_dummy = true;
  AddressBinder b(fake, cfg);
  REQUIRE(b.bind());
  CHECK(fake.link("anycast0").has_value());  // created as a dummy
  CHECK(b.undo().empty());
  CHECK_FALSE(fake.link("anycast0").has_value());
}

TEST_CASE("release tolerates an added address that is already gone") {
  FakeBackend fake;
  auto cfg = dns_config();
  cfg.remove_on_exit = true;
  cfg.readd = ReaddPolicy::Never;
  AddressBinder b(fake, cfg);
  REQUIRE(b.bind());
  fake.external_remove("lo", kV4);
  // Not processed yet: the binder still believes it is there; removal meets EADDRNOTAVAIL.
  CHECK(b.release().empty());
  CHECK_FALSE(fake.has("lo", kV6));
}

TEST_CASE("without CAP_NET_ADMIN bind fails naming the capability and the address") {
  FakeBackend fake;
  fake.deny_mutations = true;
  AddressBinder b(fake, dns_config());
  auto r = b.bind();
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::PermissionDenied);
  CHECK(r.error().message ==
        "adding 192.0.2.1/32 to lo: Operation not permitted (herald needs CAP_NET_ADMIN)");
  CHECK_FALSE(b.service_ready("dns"));
}

TEST_CASE("a missing interface is named; a dummy is created and brought up when configured") {
  SUBCASE("not configured to create it") {
    FakeBackend fake;
    auto cfg = dns_config();
    cfg.interface = "dns0";
    AddressBinder b(fake, cfg);
    auto r = b.bind();
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::NoSuchInterface);
    CHECK(r.error().message.find("interface dns0 does not exist") != std::string::npos);
  }
  SUBCASE("created as dummy, global scope, removed on exit") {
    FakeBackend fake;
    auto cfg = dns_config();
    cfg.interface = "dns0";
    cfg.create_dummy = true;
    cfg.remove_on_exit = true;
    AddressBinder b(fake, cfg);
    REQUIRE(b.bind());
    auto l = fake.link("dns0");
    REQUIRE(l);
    CHECK(l->up);
    CHECK(b.interface_up());
    CHECK(fake.has("dns0", kV4));
    CHECK_FALSE(fake.add_requests()[0].host_scope);
    CHECK(b.process().empty());  // the creation's "dns0 is down" echo is no flap
    CHECK(b.release().empty());
    CHECK_FALSE(fake.link("dns0"));  // herald created it, herald deletes it
  }
  SUBCASE("existing dummy is used and kept") {
    FakeBackend fake;
    fake.external_add_link("dns0", false);
    auto cfg = dns_config();
    cfg.interface = "dns0";
    cfg.create_dummy = true;
    cfg.remove_on_exit = true;
    AddressBinder b(fake, cfg);
    REQUIRE(b.bind());
    CHECK(fake.link("dns0")->up);  // brought up
    CHECK(b.release().empty());
    CHECK(fake.link("dns0"));  // not ours to delete
    CHECK_FALSE(fake.has("dns0", kV4));
  }
  SUBCASE("kernel without dummy driver") {
    FakeBackend fake;
    fake.dummy_supported = false;
    auto cfg = dns_config();
    cfg.interface = "dns0";
    cfg.create_dummy = true;
    AddressBinder b(fake, cfg);
    auto r = b.bind();
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Unsupported);
    CHECK(r.error().message.rfind("creating dummy interface dns0: ", 0) == 0);
  }
}

TEST_CASE("config validation refuses bad labels and names before touching the kernel") {
  FakeBackend fake;
  auto cfg = dns_config();
  SUBCASE("label not starting with the interface") { cfg.label = "herald"; }
  SUBCASE("label too long") { cfg.label = "lo:herald-is-too-long"; }
  SUBCASE("interface name too long") { cfg.interface = "sixteen-chars-xx"; }
  SUBCASE("duplicate address in a service") { cfg.services[0].addresses.push_back(kV4); }
  AddressBinder b(fake, cfg);
  auto r = b.bind();
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::InvalidConfig);
  CHECK(fake.mutation_count() == 0);
}

TEST_CASE("removal by another program is reported with a reason, and the return too") {
  FakeBackend fake;
  AddressBinder b(fake, dns_config(ReaddPolicy::Never));
  REQUIRE(b.bind());
  CHECK(b.process().empty());  // our own adds echo back: no change of state

  fake.external_remove("lo", kV4);
  CHECK(
      lines(b.process()) ==
      std::vector<std::string>{"address-down: address 192.0.2.1/32 removed from lo",
                               "service-down: service dns: address 192.0.2.1/32 removed from lo"});
  CHECK_FALSE(b.address_present(kV4));
  CHECK_FALSE(b.service_ready("dns"));
  CHECK_FALSE(fake.has("lo", kV4));  // policy Never: not put back

  fake.external_add("lo", kV4);
  CHECK(lines(b.process()) ==
        std::vector<std::string>{"address-up: address 192.0.2.1/32 is back on lo",
                                 "service-up: service dns: address 192.0.2.1/32 is back on lo"});
  CHECK(b.service_ready("dns"));
  CHECK(b.origin(kV4) == Origin::Added);  // still ours: we added it first
}

TEST_CASE("unrelated changes produce no events") {
  FakeBackend fake;
  fake.external_add_link("eth9", true);
  AddressBinder b(fake, dns_config());
  REQUIRE(b.bind());
  b.process();
  fake.external_add("lo", addr("203.0.113.9/32"));
  fake.external_add("eth9", kV4b);
  fake.external_remove("eth9", kV4b);
  fake.external_set_up("eth9", false);
  CHECK(b.process().empty());
}

TEST_CASE("the same address on another interface does not count") {
  FakeBackend fake;
  fake.external_add_link("eth9", true);
  AddressBinder b(fake, dns_config(ReaddPolicy::Never));
  REQUIRE(b.bind());
  fake.external_remove("lo", kV4);
  fake.external_add("eth9", kV4);
  auto ev = b.process();
  CHECK(lines(ev).size() == 2);
  CHECK_FALSE(b.address_present(kV4));
}

TEST_CASE("policy Always re-adds a removed address at once") {
  FakeBackend fake;
  AddressBinder b(fake, dns_config(ReaddPolicy::Always));
  REQUIRE(b.bind());
  fake.external_remove("lo", kV6);
  CHECK(lines(b.process()) ==
        std::vector<std::string>{
            "address-down: address 2001:db8:53::1/128 removed from lo",
            "service-down: service dns: address 2001:db8:53::1/128 removed from lo",
            "address-up: address 2001:db8:53::1/128 re-added to lo",
            "service-up: service dns: address 2001:db8:53::1/128 re-added to lo"});
  CHECK(fake.has("lo", kV6));
  CHECK(b.process().empty());  // the echo of our re-add changes nothing
}

TEST_CASE("an adopted address re-added by herald becomes herald's") {
  FakeBackend fake;
  fake.external_add("lo", kV4);
  AddressBinder b(fake, dns_config(ReaddPolicy::Always));
  REQUIRE(b.bind());
  CHECK(b.origin(kV4) == Origin::Adopted);
  fake.external_remove("lo", kV4);
  b.process();
  CHECK(b.origin(kV4) == Origin::Added);
}

TEST_CASE("a failed re-add is reported with the kernel's reason") {
  FakeBackend fake;
  AddressBinder b(fake, dns_config(ReaddPolicy::Always));
  REQUIRE(b.bind());
  fake.deny_mutations = true;
  fake.external_remove("lo", kV4);
  auto ev = b.process();
  REQUIRE(ev.size() == 3);
  CHECK(ev[2].kind == Event::Kind::ReaddFailed);
  CHECK(ev[2].address == kV4);
  CHECK(ev[2].reason ==
        "adding 192.0.2.1/32 to lo: Operation not permitted (herald needs CAP_NET_ADMIN)");
  CHECK_FALSE(b.service_ready("dns"));
}

TEST_CASE("interface down/up: reported, IPv6 flushed by the kernel is restored on up") {
  FakeBackend fake;
  AddressBinder b(fake, dns_config());  // default policy AfterInterfaceUp
  REQUIRE(b.bind());
  b.process();

  fake.external_set_up("lo", false);
  CHECK(lines(b.process()) ==
        std::vector<std::string>{
            "address-down: address 2001:db8:53::1/128 removed from lo",
            "service-down: service dns: address 2001:db8:53::1/128 removed from lo",
            "interface-down: interface lo is down"});
  CHECK_FALSE(b.interface_up());
  CHECK(b.address_present(kV4));  // IPv4 addresses survive a link down

  fake.external_set_up("lo", true);
  CHECK(lines(b.process()) ==
        std::vector<std::string>{
            "interface-up: interface lo is up",
            "address-up: address 2001:db8:53::1/128 re-added to lo",
            "service-up: service dns: address 2001:db8:53::1/128 re-added to lo"});
  CHECK(fake.has("lo", kV6));
  CHECK(b.service_ready("dns"));
}

TEST_CASE("interface down with policy Never: up again, but IPv6 stays missing") {
  FakeBackend fake;
  AddressBinder b(fake, dns_config(ReaddPolicy::Never));
  REQUIRE(b.bind());
  fake.external_set_up("lo", false);
  fake.external_set_up("lo", true);
  auto l = lines(b.process());
  CHECK(l.back() == "interface-up: interface lo is up");
  CHECK_FALSE(b.service_ready("dns"));
  CHECK_FALSE(fake.has("lo", kV6));
}

TEST_CASE("per-service readiness with a shared address") {
  FakeBackend fake;
  BinderConfig cfg;
  cfg.readd = ReaddPolicy::Never;
  cfg.services = {{"auth", {kV4, kV6}}, {"resolver", {kV4b, kV6}}};
  AddressBinder b(fake, cfg);
  REQUIRE(b.bind());
  CHECK(fake.add_requests().size() == 3);  // kV6 is added once for both
  fake.external_remove("lo", kV4);
  auto ev = b.process();
  REQUIRE(ev.size() == 2);
  CHECK(ev[1].kind == Event::Kind::ServiceDown);
  CHECK(ev[1].service == "auth");
  CHECK_FALSE(b.service_ready("auth"));
  CHECK(b.service_ready("resolver"));
  fake.external_remove("lo", kV6);
  ev = b.process();
  REQUIRE(ev.size() == 2);  // auth is already down: only resolver changes
  CHECK(ev[1].service == "resolver");
}

TEST_CASE("a deleted dummy interface is reported; with Always it is re-created") {
  FakeBackend fake;
  auto cfg = dns_config();
  cfg.interface = "dns0";
  cfg.create_dummy = true;
  SUBCASE("AfterInterfaceUp: reported only") {
    AddressBinder b(fake, cfg);
    REQUIRE(b.bind());
    b.process();
    fake.external_delete_link("dns0");
    auto l = lines(b.process());
    CHECK(std::find(l.begin(), l.end(), "interface-down: interface dns0 was deleted") != l.end());
    CHECK_FALSE(b.interface_up());
    CHECK_FALSE(b.service_ready("dns"));
    CHECK_FALSE(fake.link("dns0"));
  }
  SUBCASE("Always: re-created, brought up, addresses back") {
    cfg.readd = ReaddPolicy::Always;
    AddressBinder b(fake, cfg);
    REQUIRE(b.bind());
    b.process();
    fake.external_delete_link("dns0");
    auto l = lines(b.process());
    CHECK(l.back() == "service-up: service dns: address 2001:db8:53::1/128 re-added to dns0");
    CHECK(fake.link("dns0")->up);
    CHECK(fake.has("dns0", kV4));
    CHECK(fake.has("dns0", kV6));
    CHECK(b.service_ready("dns"));
    CHECK(b.process().empty());
  }
}

TEST_CASE("after a notification overrun the binder re-reads the kernel state") {
  FakeBackend fake;
  AddressBinder b(fake, dns_config(ReaddPolicy::Never));
  REQUIRE(b.bind());
  fake.external_remove("lo", kV4);
  fake.overflow();  // the notification for the removal is lost
  CHECK(
      lines(b.process()) ==
      std::vector<std::string>{"address-down: address 192.0.2.1/32 removed from lo",
                               "service-down: service dns: address 192.0.2.1/32 removed from lo"});
  CHECK_FALSE(b.address_present(kV4));
  CHECK(b.overruns() == 1);
}
