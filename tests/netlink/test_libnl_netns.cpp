// AddressBinder with the real LibnlBackend, each case in a private network namespace (see
// netns_child.hpp). What herald did is checked twice: through `ip -j` (another program's view)
// and through libnl. Needs root; skips with a message otherwise.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "netlink/address_binder.hpp"
#include "netlink/libnl_backend.hpp"
#include "netns_child.hpp"

using namespace herald::netlink;
using herald::netlink::test::ip_addr_entry;
using herald::netlink::test::ip_json;
using herald::netlink::test::Report;
using herald::netlink::test::run_in_netns;
using herald::netlink::test::sh;
using Clock = std::chrono::steady_clock;

namespace {

const InterfaceAddress kV4 = *InterfaceAddress::parse("192.0.2.1/32");
const InterfaceAddress kV4b = *InterfaceAddress::parse("192.0.2.2/32");
const InterfaceAddress kV4net = *InterfaceAddress::parse("198.51.100.1/24");
const InterfaceAddress kV6 = *InterfaceAddress::parse("2001:db8:53::1/128");

std::unique_ptr<LibnlBackend> open_backend(Report& r) {
  auto b = LibnlBackend::open();
  if (!r.check(b.has_value(), "LibnlBackend::open")) return nullptr;
  return std::move(*b);
}

std::string describe(const std::vector<Event>& events) {
  std::string s;
  for (const auto& e : events) s += fmt::format("[{}: {}] ", to_string(e.kind), e.reason);
  return s;
}

bool has_event(const std::vector<Event>& events, Event::Kind kind, const std::string& reason) {
  return std::any_of(events.begin(), events.end(),
                     [&](const Event& e) { return e.kind == kind && e.reason == reason; });
}

// Waits on the binder's descriptor (as the daemon's loop would) and collects events until
// `done(events)` or `budget` runs out. Returns when the condition held, or nullopt.
std::optional<Clock::duration> wait_events(
    AddressBinder& b, std::vector<Event>& events, Clock::duration budget,
    const std::function<bool(const std::vector<Event>&)>& done) {
  const auto start = Clock::now();
  const auto deadline = start + budget;
  while (!done(events)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{b.fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
    for (auto& e : b.process()) events.push_back(std::move(e));
  }
  return Clock::now() - start;
}

// Waits like wait_events, then records a failure listing what did arrive. (Waiting and
// describing in one r.check() call would describe before waiting: argument order is unspecified.)
bool expect_events(Report& r, AddressBinder& b, std::vector<Event>& ev, Clock::duration budget,
                   const std::function<bool(const std::vector<Event>&)>& done,
                   const std::string& what) {
  const bool got = wait_events(b, ev, budget, done).has_value();
  return r.check(got, what + ": " + describe(ev));
}

bool ip_has(const std::string& dev, const InterfaceAddress& a) {
  return !ip_addr_entry(dev, a.address_string()).is_null();
}

// `ip -d -j link show dev <dev>`: the link's kind ("dummy", "veth", ...), "" when none/absent.
std::string link_kind(const std::string& dev) {
  auto j = ip_json("-d link show dev " + dev);
  if (!j.is_array() || j.empty() || !j[0].contains("linkinfo")) return "";
  return j[0]["linkinfo"].value("info_kind", "");
}

// IFF_UP as `ip -j link` shows it (the "UP" flag).
bool link_up(const std::string& dev) {
  auto j = ip_json("link show dev " + dev);
  if (!j.is_array() || j.empty() || !j[0].contains("flags")) return false;
  const auto& flags = j[0]["flags"];
  return std::find(flags.begin(), flags.end(), "UP") != flags.end();
}

bool libnl_has(AddressBackend& be, const std::string& dev, const InterfaceAddress& a,
               AddressInfo* info = nullptr) {
  auto list = be.addresses(dev);
  if (!list) return false;
  for (const auto& i : *list) {
    if (same_kernel_address(i.address, a)) {
      if (info) *info = i;
      return true;
    }
  }
  return false;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

TEST_CASE("netns: service addresses appear on lo with label, host scope and NODAD") {
  run_in_netns([](Report& r) {
    auto be = open_backend(r);
    if (!be) return;
    BinderConfig cfg;
    cfg.label = "lo:herald";
    cfg.services = {{"dns", {kV4, kV6, kV4net}}};
    AddressBinder b(*be, cfg);
    auto st = b.bind();
    if (!r.check(st.has_value(), st ? "" : "bind: " + st.error().message)) return;
    r.check(b.service_ready("dns"), "service ready after bind");

    // Another program's view: ip -j addr.
    auto v4 = ip_addr_entry("lo", "192.0.2.1");
    if (r.check(!v4.is_null(), "ip shows 192.0.2.1 on lo")) {
      r.check(v4.value("prefixlen", 0) == 32, "192.0.2.1 has /32");
      r.check(v4.value("label", "") == "lo:herald", "192.0.2.1 has label lo:herald: " + v4.dump());
      r.check(v4.value("scope", "") == "host", "192.0.2.1 has host scope: " + v4.dump());
    }
    auto net = ip_addr_entry("lo", "198.51.100.1");
    r.check(!net.is_null() && net.value("prefixlen", 0) == 24, "ip shows 198.51.100.1/24 on lo");
    auto v6 = ip_addr_entry("lo", "2001:db8:53::1");
    if (r.check(!v6.is_null(), "ip shows 2001:db8:53::1 on lo")) {
      r.check(v6.value("prefixlen", 0) == 128, "2001:db8:53::1 has /128");
      r.check(v6.value("nodad", false), "2001:db8:53::1 has nodad: " + v6.dump());
      r.check(!v6.contains("tentative"), "2001:db8:53::1 is not tentative");
    }

    // libnl's view, through the backend's own listing.
    AddressInfo info;
    if (r.check(libnl_has(*be, "lo", kV4, &info), "libnl lists 192.0.2.1/32")) {
      r.check(info.label == "lo:herald", "libnl label lo:herald, got " + info.label);
      r.check(info.host_scope, "libnl host scope");
    }
    if (r.check(libnl_has(*be, "lo", kV6, &info), "libnl lists 2001:db8:53::1/128")) {
      r.check(info.nodad, "libnl IFA_F_NODAD");
    }
    r.check(b.origin(kV4) == Origin::Added, "192.0.2.1 remembered as added");
    // Our own additions echo back as notifications; they change nothing.
    std::vector<Event> ev;
    wait_events(b, ev, std::chrono::milliseconds(50), [](const auto&) { return false; });
    r.check(ev.empty(), "no events from our own additions: " + describe(ev));
  });
}

TEST_CASE("netns: existing addresses are adopted; on exit only herald's are removed") {
  run_in_netns([](Report& r) {
    auto be = open_backend(r);
    if (!be) return;
    r.check(sh("ip addr add 192.0.2.1/32 dev lo") == 0, "ip addr add 192.0.2.1/32");
    BinderConfig cfg;
    cfg.remove_on_exit = true;
    cfg.services = {{"dns", {kV4, kV4b, kV6}}};
    {
      AddressBinder b(*be, cfg);
      auto st = b.bind();
      if (!r.check(st.has_value(), st ? "" : "bind: " + st.error().message)) return;
      r.check(b.origin(kV4) == Origin::Adopted, "192.0.2.1 adopted");
      r.check(b.origin(kV4b) == Origin::Added, "192.0.2.2 added");
      r.check(b.origin(kV6) == Origin::Added, "2001:db8:53::1 added");
      auto errors = b.release();
      r.check(errors.empty(), "release without errors");
    }
    r.check(ip_has("lo", kV4), "adopted 192.0.2.1 kept on exit");
    r.check(!ip_has("lo", kV4b), "added 192.0.2.2 removed on exit");
    r.check(!ip_has("lo", kV6), "added 2001:db8:53::1 removed on exit");
    r.check(!libnl_has(*be, "lo", kV4b), "libnl agrees 192.0.2.2 is gone");

    // Default: keep everything, so a restart does not take the service away.
    BinderConfig keep;
    keep.services = {{"dns", {kV4b}}};
    AddressBinder k(*be, keep);
    r.check(k.bind().has_value(), "bind (keep)");
    r.check(k.release().empty(), "release (keep)");
    r.check(ip_has("lo", kV4b), "kept on exit by default");

    // herald's label marks an address kept by an earlier run as herald's, also in the kernel.
    BinderConfig labelled;
    labelled.label = "lo:herald";
    labelled.services = {{"dns", {kV4net}}};
    {
      AddressBinder first(*be, labelled);
      r.check(first.bind().has_value(), "bind (labelled, keep)");
    }
    labelled.remove_on_exit = true;
    AddressBinder later(*be, labelled);
    r.check(later.bind().has_value(), "bind (labelled, remove on exit)");
    r.check(later.origin(kV4net) == Origin::Added, "labelled address recognised as herald's");
    r.check(later.release().empty(), "release (labelled)");
    r.check(!ip_has("lo", kV4net), "labelled address removed on exit");

    // A second bind of the same configuration is idempotent: all adopted.
    AddressBinder again(*be, keep);
    r.check(again.bind().has_value(), "second bind");
    r.check(again.origin(kV4b) == Origin::Adopted, "second bind adopts");
  });
}

TEST_CASE("netns: removal by `ip addr del` is seen within 100 ms and reported") {
  run_in_netns([](Report& r) {
    auto be = open_backend(r);
    if (!be) return;
    BinderConfig cfg;
    cfg.readd = ReaddPolicy::Never;
    cfg.services = {{"dns", {kV4, kV6}}};
    AddressBinder b(*be, cfg);
    if (!r.check(b.bind().has_value(), "bind")) return;
    r.check(b.fd() >= 0, "binder has a descriptor to wait on");
    std::vector<Event> ev;
    b.process();

    const auto t0 = Clock::now();
    r.check(sh("ip addr del 192.0.2.1/32 dev lo") == 0, "ip addr del 192.0.2.1/32");
    const auto t_ip = Clock::now();
    auto took = wait_events(b, ev, std::chrono::milliseconds(100), [](const auto& e) {
      return has_event(e, Event::Kind::AddressDown, "address 192.0.2.1/32 removed from lo");
    });
    const auto t_seen = Clock::now();
    if (!r.check(took.has_value(), "removal reported within 100 ms: " + describe(ev))) return;
    r.note(fmt::format("ip addr del -> event: {:.2f} ms in total, {:.2f} ms after ip exited",
                       ms(t_seen - t0), ms(t_seen - t_ip)));
    r.check(t_seen - t0 < std::chrono::milliseconds(100), "within 100 ms of running ip");
    r.check(has_event(ev, Event::Kind::ServiceDown,
                      "service dns: address 192.0.2.1/32 removed from lo"),
            "service reported down: " + describe(ev));
    r.check(!b.service_ready("dns"), "service not ready");
    r.check(!ip_has("lo", kV4), "policy Never leaves it removed");

    ev.clear();
    r.check(sh("ip addr add 192.0.2.1/32 dev lo") == 0, "ip addr add back");
    expect_events(
        r, b, ev, std::chrono::milliseconds(100),
        [](const auto& e) {
          return has_event(e, Event::Kind::ServiceUp,
                           "service dns: address 192.0.2.1/32 is back on lo");
        },
        "return reported");
  });
}

TEST_CASE("netns: policy Always puts a removed address back") {
  run_in_netns([](Report& r) {
    auto be = open_backend(r);
    if (!be) return;
    BinderConfig cfg;
    cfg.readd = ReaddPolicy::Always;
    cfg.services = {{"dns", {kV4, kV6}}};
    AddressBinder b(*be, cfg);
    if (!r.check(b.bind().has_value(), "bind")) return;
    std::vector<Event> ev;
    r.check(sh("ip -6 addr del 2001:db8:53::1/128 dev lo") == 0, "ip addr del v6");
    expect_events(
        r, b, ev, std::chrono::milliseconds(100),
        [](const auto& e) {
          return has_event(e, Event::Kind::AddressUp, "address 2001:db8:53::1/128 re-added to lo");
        },
        "re-add reported");
    auto v6 = ip_addr_entry("lo", "2001:db8:53::1");
    r.check(!v6.is_null() && v6.value("nodad", false), "back, with nodad");
    r.check(b.service_ready("dns"), "service ready again");
  });
}

TEST_CASE("netns: interface down/up is seen; IPv6 flushed by the kernel comes back") {
  run_in_netns([](Report& r) {
    auto be = open_backend(r);
    if (!be) return;
    BinderConfig cfg;  // default policy: re-add after the interface is up again
    cfg.services = {{"dns", {kV4, kV6}}};
    AddressBinder b(*be, cfg);
    if (!r.check(b.bind().has_value(), "bind")) return;
    std::vector<Event> ev;
    b.process();
    r.check(sh("ip link set lo down") == 0, "ip link set lo down");
    auto down = wait_events(b, ev, std::chrono::milliseconds(100), [](const auto& e) {
      return has_event(e, Event::Kind::InterfaceDown, "interface lo is down") &&
             has_event(e, Event::Kind::AddressDown, "address 2001:db8:53::1/128 removed from lo");
    });
    if (!r.check(down.has_value(), "lo down reported: " + describe(ev))) return;
    r.note(fmt::format("lo down seen after {:.2f} ms", ms(*down)));
    r.check(has_event(ev, Event::Kind::ServiceDown, "service dns: interface lo is down") ||
                has_event(ev, Event::Kind::ServiceDown,
                          "service dns: address 2001:db8:53::1/128 removed from lo"),
            "service down: " + describe(ev));
    r.check(!b.interface_up(), "binder knows lo is down");

    ev.clear();
    r.check(sh("ip link set lo up") == 0, "ip link set lo up");
    expect_events(
        r, b, ev, std::chrono::milliseconds(100),
        [](const auto& e) {
          return has_event(e, Event::Kind::InterfaceUp, "interface lo is up") &&
                 has_event(e, Event::Kind::ServiceUp,
                           "service dns: address 2001:db8:53::1/128 re-added to lo");
        },
        "lo up and IPv6 re-added");
    r.check(ip_has("lo", kV6), "ip shows the IPv6 address again");
    r.check(ip_has("lo", kV4), "IPv4 survived");
  });
}

TEST_CASE("netns: dummy interface is created, brought up, and deleted on exit") {
  run_in_netns([](Report& r) {
    auto be = open_backend(r);
    if (!be) return;
    BinderConfig cfg;
    cfg.interface = "herald0";
    cfg.create_dummy = true;
    cfg.remove_on_exit = true;
    cfg.label = "herald0:dns";
    cfg.services = {{"dns", {kV4, kV6}}};
    AddressBinder b(*be, cfg);
    auto st = b.bind();
    if (!st && st.error().kind == ErrorKind::Unsupported) {
      r.skip("dummy interfaces: " + st.error().message);
      return;
    }
    if (!r.check(st.has_value(), st ? "" : "bind: " + st.error().message)) return;
    r.check(link_kind("herald0") == "dummy", "ip -d shows herald0 as a dummy");
    r.check(link_up("herald0"), "herald0 is UP");
    auto v4 = ip_addr_entry("herald0", "192.0.2.1");
    r.check(!v4.is_null() && v4.value("scope", "") == "global" &&
                v4.value("label", "") == "herald0:dns",
            "192.0.2.1 on herald0, global scope, labelled");
    std::vector<Event> ev;
    wait_events(b, ev, std::chrono::milliseconds(50), [](const auto&) { return false; });
    r.check(ev.empty(), "creation and set-up echo no events: " + describe(ev));
    r.check(b.release().empty(), "release");
    r.check(ip_json("link show dev herald0").is_null(), "herald0 deleted on exit");
  });
}

TEST_CASE("netns: a named existing interface is brought up; a missing one is named") {
  run_in_netns([](Report& r) {
    auto be = open_backend(r);
    if (!be) return;
    // A veth pair stands in for an operator-made interface (and works on kernels without the
    // dummy driver).
    if (!r.check(sh("ip link add hv0 type veth peer name hv1") == 0, "ip link add veth")) return;
    BinderConfig cfg;
    cfg.interface = "hv0";
    cfg.services = {{"dns", {kV4}}};
    AddressBinder b(*be, cfg);
    auto st = b.bind();
    if (!r.check(st.has_value(), st ? "" : "bind: " + st.error().message)) return;
    r.check(link_kind("hv0") == "veth", "ip -d shows hv0 as a veth");
    r.check(link_up("hv0"), "hv0 brought up");
    r.check(ip_has("hv0", kV4), "192.0.2.1 on hv0");

    // Deleting the interface under herald is reported by name (RTM_DELLINK).
    b.process();
    std::vector<Event> ev;
    r.check(be->delete_link("hv0").has_value(), "delete_link hv0");
    expect_events(
        r, b, ev, std::chrono::milliseconds(100),
        [](const auto& e) {
          return has_event(e, Event::Kind::InterfaceDown, "interface hv0 was deleted");
        },
        "deletion reported");
    r.check(!b.service_ready("dns"), "service down with its interface");
    r.check(ip_json("link show dev hv0").is_null(), "ip no longer shows hv0");

    BinderConfig missing;
    missing.interface = "nosuch0";
    missing.services = {{"dns", {kV4}}};
    AddressBinder m(*be, missing);
    auto e = m.bind();
    if (r.check(!e.has_value(), "bind on a missing interface fails")) {
      r.check(e.error().kind == ErrorKind::NoSuchInterface, "kind NoSuchInterface");
      r.check(e.error().message.find("interface nosuch0 does not exist") != std::string::npos,
              "message names the interface: " + e.error().message);
    }
  });
}

namespace {

// Drops CAP_NET_ADMIN from this process for good: out of the bounding set (needs CAP_SETPCAP,
// which root has), then out of the effective and permitted sets.
bool drop_net_admin(Report& r) {
  if (!r.check(::prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0) == 0, "PR_CAPBSET_DROP")) {
    return false;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (!r.check(::syscall(SYS_capget, &header, data) == 0, "capget")) return false;
  const unsigned word = CAP_NET_ADMIN / 32;
  const unsigned bit = 1u << (CAP_NET_ADMIN % 32);
  data[word].effective &= ~bit;
  data[word].permitted &= ~bit;
  data[word].inheritable &= ~bit;
  return r.check(::syscall(SYS_capset, &header, data) == 0, "capset");
}

}  // namespace

TEST_CASE("netns: without CAP_NET_ADMIN the error names the capability and the address") {
  run_in_netns([](Report& r) {
    auto be = open_backend(r);
    if (!be) return;
    if (!drop_net_admin(r)) return;
    BinderConfig cfg;
    cfg.services = {{"dns", {kV4, kV6}}};
    AddressBinder b(*be, cfg);
    auto st = b.bind();
    if (!r.check(!st.has_value(), "bind must fail without CAP_NET_ADMIN")) return;
    r.check(st.error().kind == ErrorKind::PermissionDenied, "kind PermissionDenied");
    r.check(st.error().message ==
                "adding 192.0.2.1/32 to lo: Operation not permitted (herald needs CAP_NET_ADMIN)",
            "message: " + st.error().message);
    r.check(!ip_has("lo", kV4), "nothing was added");
  });
}

TEST_CASE("netns: a notification overrun (ENOBUFS) is detected and the state re-read") {
  run_in_netns([](Report& r) {
    auto be = open_backend(r);
    auto other = open_backend(r);  // "another program", on its own socket
    if (!be || !other) return;
    BinderConfig cfg;
    cfg.readd = ReaddPolicy::Never;
    cfg.services = {{"dns", {kV4}}};
    AddressBinder b(*be, cfg);
    if (!r.check(b.bind().has_value(), "bind")) return;
    b.process();
    // Shrink the watch socket's buffer (the kernel rounds up to its minimum) and flood it with
    // address notifications from 198.18.0.0/15 while nobody drains.
    int tiny = 1;
    r.check(::setsockopt(b.fd(), SOL_SOCKET, SO_RCVBUFFORCE, &tiny, sizeof tiny) == 0,
            "SO_RCVBUFFORCE");
    for (int i = 0; i < 400; ++i) {
      InterfaceAddress a =
          *InterfaceAddress::parse(fmt::format("198.18.{}.{}/32", i / 200, i % 200 + 1));
      AddRequest req;
      req.interface = "lo";
      req.address = a;
      if (!r.check(other->add(req).has_value(), "flood add " + a.to_string())) return;
    }
    // The change herald must not miss, queued behind the overrun.
    r.check(other->remove("lo", kV4).has_value(), "remove 192.0.2.1/32 behind the flood");
    std::vector<Event> ev;
    expect_events(
        r, b, ev, std::chrono::milliseconds(500),
        [](const auto& e) {
          return has_event(e, Event::Kind::AddressDown, "address 192.0.2.1/32 removed from lo");
        },
        "removal still reported");
    r.check(b.overruns() >= 1, "the overrun was noticed");
    r.check(!b.address_present(kV4), "state re-read");
  });
}
