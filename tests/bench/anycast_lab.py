"""A multi-site DNS anycast lab in network namespaces (issue #18), for tests/bench/anycast.py.

    client      eth0 198.51.100.2/24, 2001:db8:c::2/64              dnsperf
      |
    router      client 198.51.100.1/24, 2001:db8:c::1/64            BIRD 2, AS 65000, forwarding on;
      |  \\      site-a 203.0.113.1/28, 2001:db8:ffff:a::1/64        BGP best routes go into the
      |   \\     site-b 203.0.113.17/28, 2001:db8:ffff:b::1/64       kernel (protocol kernel)
      |    \\
    site a      eth0 203.0.113.2/28, 2001:db8:ffff:a::2/64           a speaker (herald or a contender
    site b      eth0 203.0.113.18/28, 2001:db8:ffff:b::2/64          of contenders.py), AS 65053, and
                lo 192.0.2.53/32, 2001:db8:53::53/128                unbound on the anycast addresses

The router prefers site A while A announces without GRACEFUL_SHUTDOWN (local preference 200
against B's 100; 65535:0 lowers it to 0, as an operator's import filter does for RFC 8326), so
the client's queries go to A and move to B when A's route goes or is de-preferred.
`ip -ts monitor route` in the router timestamps every FIB change (FibMonitor).

The speakers are the contenders of contenders.py, unchanged: each site gets a view of the lab
(SiteLab: its own directory for configs, sockets and logs) and, while a speaker starts,
herald_lab's address constants name that site's link (Site.addresses()).
Everything is created by harness.Lab and removed, by pid and by namespace name, when it closes.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import signal
import time
from dataclasses import dataclass
from typing import Optional

import benchlib as bl
import contenders as ct
from benchlib import harness, hl

ANYCAST_V4, ANYCAST_V6 = hl.SERVICE_V4, hl.SERVICE_V6          # 192.0.2.53, 2001:db8:53::53
PREFIX_V4, PREFIX_V6 = hl.PREFIX_V4, hl.PREFIX_V6
SERVICE = ("dns", ANYCAST_V4, ANYCAST_V6)
CLIENT_V4, CLIENT_ROUTER_V4, CLIENT_NET_V4 = "198.51.100.2", "198.51.100.1", "198.51.100.0/24"
CLIENT_V6, CLIENT_ROUTER_V6, CLIENT_NET_V6 = "2001:db8:c::2", "2001:db8:c::1", "2001:db8:c::/64"
ROUTER_ID = "203.0.113.1"


@dataclass(frozen=True)
class SiteAddr:
    name: str            # "a" or "b"
    router_v4: str
    node_v4: str
    router_v6: str
    node_v6: str
    plen_v4: int
    local_pref: int      # what the router gives this site's routes without 65535:0

    @property
    def iface(self) -> str:
        """The router's interface towards this site."""
        return f"site-{self.name}"


SITES = {
    "a": SiteAddr("a", "203.0.113.1", "203.0.113.2", "2001:db8:ffff:a::1", "2001:db8:ffff:a::2", 28, 200),
    "b": SiteAddr("b", "203.0.113.17", "203.0.113.18", "2001:db8:ffff:b::1", "2001:db8:ffff:b::2", 28, 100),
}


def router_bird_config(check_link: bool = True) -> str:
    """The router: one eBGP session per site, the GRACEFUL_SHUTDOWN filter, a local preference
    per site, and the kernel protocols that install the best BGP routes in its FIB.
    `check link`: a site's link going down ends its session at once (as an operator sets it for
    directly connected eBGP), instead of after the hold time."""
    sessions = ""
    for s in SITES.values():
        sessions += f"""
filter from_site_{s.name} {{
  if (65535, 0) ~ bgp_community then bgp_local_pref = 0;
  else bgp_local_pref = {s.local_pref};
  accept;
}}
protocol bgp site_{s.name} {{
  local {s.router_v4} as {hl.ROUTER_AS};
  neighbor {s.node_v4} as {hl.NODE_AS};
  hold time 9; keepalive time 3;
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  check link {"yes" if check_link else "no"};
  ipv4 {{ import filter from_site_{s.name}; export none; }};
  ipv6 {{ import filter from_site_{s.name}; export none; }};
}}
"""
    return f"""log stderr {{ warning, error, fatal }};
router id {ROUTER_ID};
protocol device {{ scan time 10; }}
protocol kernel kernel4 {{ ipv4 {{ import none; export where source = RTS_BGP; }}; }}
protocol kernel kernel6 {{ ipv6 {{ import none; export where source = RTS_BGP; }}; }}
{sessions}"""


def router_frr_config() -> str:
    """The same router in FRR 8's words (bgpd with zebra, which installs the best routes in the
    kernel): a local preference per site, 0 for routes carrying 65535:0 (GRACEFUL_SHUTDOWN),
    nothing sent back to the sites. A directly connected session ends when its link goes down
    (bgpd's default fast-external-failover)."""
    neighbors, families = "", {"ipv4": "", "ipv6": ""}
    maps = "bgp community-list standard gshut seq 5 permit 65535:0\nroute-map to-site deny 10\n"
    for s in SITES.values():
        maps += (f"route-map from-site-{s.name} permit 10\n match community gshut\n set local-preference 0\n"
                 f"route-map from-site-{s.name} permit 20\n set local-preference {s.local_pref}\n")
        neighbors += (f" neighbor {s.node_v4} remote-as {hl.NODE_AS}\n neighbor {s.node_v4} timers 3 9\n"
                      f" neighbor {s.node_v4} timers connect 1\n")
        for fam in families:
            families[fam] += (f"  neighbor {s.node_v4} activate\n  neighbor {s.node_v4} route-map from-site-{s.name} in\n"
                              f"  neighbor {s.node_v4} route-map to-site out\n")
    return (f"frr defaults traditional\nhostname router\n{maps}router bgp {hl.ROUTER_AS}\n bgp router-id {ROUTER_ID}\n"
            f" no bgp ebgp-requires-policy\n{neighbors}"
            + "".join(f" address-family {fam} unicast\n{text} exit-address-family\n" for fam, text in families.items()))


class FrrRouter:
    """zebra and bgpd in the router namespace. zebra runs as the frr user (it refuses root
    outside the frrvty group), so the lab directory is opened for traversal."""

    def __init__(self, lab: harness.Lab, ns: harness.Netns):
        os.chmod(lab.dir, 0o711)
        d = lab.path("frr")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o777)
        zserv = os.path.join(d, "zserv.api")
        zconf = lab.write("frr/zebra.conf", "hostname router\n")
        self.zebra = ns.popen(["/usr/lib/frr/zebra", "-f", zconf, "-i", os.path.join(d, "zebra.pid"), "-z", zserv,
                               "--vty_socket", d, "-A", "127.0.0.1", "-P", "0", "--log", "stdout",
                               "--limit-fds", "1024"], "zebra")
        harness.wait_for(lambda: os.path.exists(zserv) or not self.zebra.alive(), 15, 0.05, "zebra's socket")
        if not self.zebra.alive():
            raise RuntimeError("zebra exited at start: " + self.zebra.log())
        conf = lab.write("frr/bgpd.conf", router_frr_config())
        proc = ns.popen(["/usr/lib/frr/bgpd", "-S", "-z", zserv, "-f", conf, "-i", os.path.join(d, "bgpd.pid"),
                         "--vty_socket", d, "-A", "127.0.0.1", "-P", "0", "--log", "stdout", "--limit-fds", "1024"],
                        "bgpd")
        self.frr = harness.Frr(lab, ns, proc, d, conf)
        harness.wait_for(lambda: self.frr.vtysh("show bgp summary json", check=False).returncode == 0, 15, 0.1,
                         "FRR bgpd to answer")

    def established(self, site: "SiteAddr") -> bool:
        return self.frr.neighbor_state(site.node_v4) == "Established"


def herald_site_config(lab: harness.Lab, settings: ct.Settings, fast_interval_ms: Optional[int],
                       dns_pidfile: Optional[str] = None) -> str:
    """contenders.py's herald configuration with the session damping capped at 2 s, as the BIRD
    contender's `error wait time 1, 2`: the link-down event flaps A's session every few seconds,
    and herald's default (doubling up to 5 min, docs/configuration.md `idle-hold-max`) would make
    later rounds wait minutes for A to come back. It changes no loss: B serves meanwhile."""
    # With dns_pidfile, a process check watches unbound's PID: its exit withdraws at once.
    extra = f'[[service.check]]\ntype = "process"\npidfile = "{dns_pidfile}"\n' if dns_pidfile else ""
    text = ct.herald_config(lab, settings, [SERVICE], fast_interval_ms=fast_interval_ms, service_extra=extra)
    # The unit whose drop-in (packaging/dropins/unbound.service.d) the restart-dropin event runs.
    name = f'name = "{SERVICE[0]}"\n'
    if name not in text:
        raise RuntimeError("contenders.herald_config no longer names the service so: update herald_site_config")
    text = text.replace(name, name + 'units = ["unbound.service"]\n', 1)
    key = 'connect-retry = "1s"\n'
    if key not in text:
        raise RuntimeError("contenders.herald_config no longer sets connect-retry: update herald_site_config")
    return text.replace(key, key + 'idle-hold-max = "2s"\n')


class SiteLab(harness.Lab):
    """A view of a Lab with its own directory: contenders.py names its files (herald.toml,
    herald.sock, exabgp/, the decision log) after the lab, so each site gets one. Namespaces and
    processes are the parent's lists: the parent stops and removes them."""

    def __init__(self, parent: harness.Lab, sub: str):  # noqa: super().__init__ would make a new lab
        self.parent = parent
        self.tag = parent.tag
        self.dir = os.path.join(parent.dir, sub)
        os.makedirs(self.dir, exist_ok=True)
        self.namespaces = parent.namespaces
        self.procs = parent.procs
        self.keep = parent.keep

    def close(self) -> None:
        pass


class Site:
    """One site: its namespace, its unbound and its speaker (a contenders.py Contender)."""

    def __init__(self, lab: harness.Lab, router: harness.Netns, router_bird: harness.Bird, addr: SiteAddr):
        self.addr = addr
        self.lab = SiteLab(lab, f"site-{addr.name}")
        self.ns = self.lab.netns(f"s{addr.name}")   # its processes log into the site's directory
        lab.link(router, f"{addr.router_v4}/{addr.plen_v4}", self.ns, f"{addr.node_v4}/{addr.plen_v4}",
                 v6=(f"{addr.router_v6}/64", f"{addr.node_v6}/64"), name_a=addr.iface, name_b="eth0")
        # Linux drops a link's IPv6 addresses when it goes down unless told to keep them.
        self.ns.run("sysctl", "-q", "-w", "net.ipv6.conf.eth0.keep_addr_on_down=1")
        self.client_routes()
        self.topo = bl.Topology.attach(self.lab, router, self.ns, router_bird, services=[SERVICE])
        self.speaker: Optional[ct.Contender] = None
        self.kind = ""
        self.herald_config = ""

    def client_routes(self) -> None:
        """Answers go back to the client through the router (only the lab's own subnets). The
        kernel drops these routes when the link goes down: set them again after it comes up."""
        self.ns.run("ip", "route", "replace", CLIENT_NET_V4, "via", self.addr.router_v4)
        self.ns.run("ip", "-6", "route", "replace", CLIENT_NET_V6, "via", self.addr.router_v6)

    def link(self, up: bool) -> None:
        """Site's link to the router down or up (with the routes back to the client)."""
        self.ns.run("ip", "link", "set", "eth0", "up" if up else "down")
        if up:
            self.client_routes()

    @contextlib.contextmanager
    def addresses(self):
        """herald_lab's router and node addresses name this site's link while the block runs
        (contenders.py reads them when it writes a speaker's configuration)."""
        saved = (hl.ROUTER_V4, hl.NODE_V4, hl.ROUTER_V6, hl.NODE_V6)
        hl.ROUTER_V4, hl.NODE_V4, hl.ROUTER_V6, hl.NODE_V6 = (self.addr.router_v4, self.addr.node_v4,
                                                              self.addr.router_v6, self.addr.node_v6)
        try:
            yield
        finally:
            hl.ROUTER_V4, hl.NODE_V4, hl.ROUTER_V6, hl.NODE_V6 = saved

    # -- DNS server
    def start_dns(self, wait: bool = False) -> harness.Unbound:
        return self.topo.start_dns(wait=wait)

    def dns_answers(self) -> bool:
        r = self.ns.run("dig", f"@{ANYCAST_V4}", bl.QNAME, "A", "+short", "+time=1", "+tries=1", check=False)
        return bl.ANSWER in r.stdout

    # -- speaker
    def start_speaker(self, kind: str, settings: ct.Settings, fast_interval_ms: Optional[int] = None,
                      watch_dns_process: bool = False) -> ct.Contender:
        """watch_dns_process (herald only): unbound writes a pidfile and herald's process check
        watches it (issue #18: a crash is noticed when the process ends, not by probes)."""
        self.kind = kind
        if watch_dns_process:
            self.topo.dns_pidfile = self.lab.path("unbound.pid")
        cls = ct.ALL[kind]
        c = cls(self.topo, settings, fast_interval_ms) if kind == "herald" else cls(self.topo, settings)
        with self.addresses():
            if kind == "herald":
                self.herald_config = herald_site_config(self.lab, settings, fast_interval_ms,
                                                        self.topo.dns_pidfile if watch_dns_process else None)
                c.start(self.herald_config)
            else:
                c.start()
        self.speaker = c
        return c

    def restart_speaker(self) -> None:
        """Starts the same speaker again after it stopped (its service addresses stay on lo, as
        after a real crash or upgrade)."""
        c = self.speaker
        assert c is not None
        c.procs = [p for p in c.procs if p.alive()]
        with self.addresses():
            if self.kind == "herald":
                c.start(self.herald_config)
            elif self.kind == "exabgp":
                self._start_exabgp_again(c)
            else:
                self._start_bird_again(c)

    def _start_exabgp_again(self, c: ct.Contender) -> None:
        # ExaBGP.start() also puts the addresses on lo, which are still there: start it without.
        saved = c.topo.add_service_addresses
        c.topo.add_service_addresses = lambda: None
        try:
            c.start()
        finally:
            c.topo.add_service_addresses = saved

    def _start_bird_again(self, c: ct.Contender) -> None:
        # The check loops live on; a new BIRD on the same control socket and config takes their
        # birdc calls. Its statics start disabled, as they would after a real restart, until the
        # check loop's next decision - which dig_check.sh only makes on a change: enable the
        # ones the check loop last left enabled, as the loop's state says.
        bird = c.bird
        proc = self.ns.popen(["bird", "-f", "-c", bird.conf, "-s", bird.sock], f"{c.name}-again")
        bird.proc = proc
        c.speaker = proc
        c.procs.insert(0, proc)
        harness.wait_for(lambda: "Daemon is up" in bird.ctl("show status", check=False).stdout, 10, 0.02,
                         "the speaker BIRD to answer")
        decisions = c.decisions()
        if decisions and decisions[-1][1] == "up":
            bird.ctl('enable "dns_v*"', check=False)

    def speaker_tree(self) -> list[int]:
        return bl.tree(self.speaker.roots()) if self.speaker else []

    def kill_speaker(self, sig: int) -> None:
        """Sends `sig` to the speaker daemon; with SIGKILL, its helper processes (ExaBGP's check
        loops) go with it, by pid, as a service manager's cgroup kill does."""
        c = self.speaker
        daemon = c.speaker
        helpers = [p for p in bl.tree([daemon.pid]) if p != daemon.pid] if c.name == "exabgp" else []
        if sig == signal.SIGKILL:
            daemon.kill()
            for pid in helpers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        else:
            daemon.stop(timeout=10)
            for pid in helpers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        c.procs = [p for p in c.procs if p is not daemon]


class FibMonitor:
    """`ip -ts monitor route` in the router: every FIB change with a microsecond timestamp."""

    LINE = re.compile(r"^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)\] (Deleted )?(\S+) (.*)$")

    def __init__(self, lab: harness.Lab, router: harness.Netns):
        self.proc = router.popen(["ip", "-ts", "monitor", "route"], "fib-monitor")
        time.sleep(0.1)
        if not self.proc.alive():
            raise RuntimeError("ip monitor did not start: " + self.proc.log())

    def changes(self, dest: str) -> list[tuple[float, bool, str]]:
        """(wall time, deleted, device) of every change of the route to `dest` (an address). The
        device names the site: a next hop can be global or link-local (FRR prefers the
        link-local one a BIRD speaker sends along)."""
        out = []
        for line in self.proc.log().splitlines():
            m = self.LINE.match(line)
            if not m or m.group(3) not in (dest, dest + ("/128" if ":" in dest else "/32")):
                continue
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
            dev = re.search(r"dev (\S+)", m.group(4))
            out.append((t, bool(m.group(2)), dev.group(1) if dev else ""))
        return out

    def first_via(self, dest: str, dev: str, after: float) -> Optional[float]:
        """When the FIB first sent `dest` out of `dev` after `after` (None: not yet)."""
        return next((t for t, deleted, d in self.changes(dest) if t >= after and not deleted and d == dev), None)


class AnycastLab:
    """The client, the router and two sites, in one harness.Lab."""

    def __init__(self, lab: harness.Lab, check_link: bool = True, router: str = "bird"):
        """router: "bird" (BIRD 2 with its kernel protocols) or "frr" (FRR 8's bgpd and zebra)."""
        self.lab = lab
        self.router_kind = router
        self.router = lab.netns("rt")
        self.client = lab.netns("cl")
        lab.link(self.router, f"{CLIENT_ROUTER_V4}/24", self.client, f"{CLIENT_V4}/24",
                 v6=(f"{CLIENT_ROUTER_V6}/64", f"{CLIENT_V6}/64"), name_a="client", name_b="eth0")
        self.client.run("ip", "route", "add", f"{ANYCAST_V4}/32", "via", CLIENT_ROUTER_V4)
        self.client.run("ip", "-6", "route", "add", f"{ANYCAST_V6}/128", "via", CLIENT_ROUTER_V6)
        self.router.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        self.router.run("sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")
        # Placeholders: Site() needs the router's BIRD, and BIRD's config names the site links;
        # BIRD starts after the links exist so that `check link` sees them up.
        self.bird: Optional[harness.Bird] = None
        self.frr: Optional[FrrRouter] = None
        self.sites: dict[str, Site] = {}
        for name, addr in SITES.items():
            self.sites[name] = Site(lab, self.router, None, addr)  # type: ignore[arg-type]
        if router == "frr":
            self.frr = FrrRouter(lab, self.router)
        else:
            self.bird = lab.bird(self.router, router_bird_config(check_link), name="router")
            for s in self.sites.values():
                s.topo.bird = self.bird
        self.fib = FibMonitor(lab, self.router)

    @property
    def a(self) -> Site:
        return self.sites["a"]

    @property
    def b(self) -> Site:
        return self.sites["b"]

    def fib_dev(self, dest: str = ANYCAST_V4) -> str:
        """The router's current interface towards `dest` ("" when it has no route)."""
        r = self.router.run("ip", "-6" if ":" in dest else "-4", "-j", "route", "show", dest, check=False)
        try:
            routes = json.loads(r.stdout or "[]")
        except ValueError:
            return ""
        return routes[0].get("dev", "") if routes else ""

    def via_site(self, dest: str = ANYCAST_V4) -> str:
        """"a", "b" or "" for where the router sends `dest` now."""
        dev = self.fib_dev(dest)
        for name, s in self.sites.items():
            if dev == s.addr.iface:
                return name
        return ""

    def session_up(self, site: str) -> bool:
        if self.frr:
            return self.frr.established(SITES[site])
        return self.bird.established(f"site_{site}")

    def client_answers(self, dest: str = ANYCAST_V4) -> bool:
        r = self.client.run("dig", f"@{dest}", bl.QNAME, "A", "+short", "+time=1", "+tries=1", check=False)
        return bl.ANSWER in r.stdout
