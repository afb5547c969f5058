"""A herald node and one upstream router, both running single-hop BFD, for the BFD interop tests.

    up   (router ns)  eth0 203.0.113.1/24   BIRD 2 (protocol bfd) or FRR 8 (zebra + bfdd + bgpd)
          |  veth
    node (herald ns)  eth0 203.0.113.2/24   herald with bfd = true, unbound on 192.0.2.53

The addresses, AS numbers and herald's base configuration come from herald_lab. Times are
measured here with time.monotonic() around polls of the router's own RIB and BFD table, so each
figure includes at most one poll interval of slack; the figure printed says which.
"""
from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime
from typing import Optional

import harness
import herald_lab as hl

BFD_MS = 50   # both sides: min TX = min RX = 50 ms, multiplier 3
BFD_MULT = 3
DETECT_S = BFD_MS * BFD_MULT / 1000.0


def herald_config(lab: harness.Lab, bfd: bool = True, hold_time: str = "3s") -> str:
    """herald_lab's configuration with BFD on the upstream peer (and BGP waiting for it)."""
    # As a packaged daemon runs: started as root, then down to an unprivileged user while BFD
    # (its own thread) is configured; the privilege drop must happen before that thread starts.
    text = hl.herald_config(lab, hold_time=hold_time).replace('user = ""', 'user = "nobody"')
    if bfd:
        marker = f'next-hop-v6 = "{hl.NODE_V6}"\n'
        assert marker in text
        text = text.replace(marker, marker + f"""bfd = true
bfd-min-tx = "{BFD_MS}ms"
bfd-min-rx = "{BFD_MS}ms"
bfd-multiplier = {BFD_MULT}
bfd-wait-for-up = true
""", 1)
    return text


def upstream_with_bfd(bfd: bool = True) -> str:
    """herald_lab's upstream with its BFD protocol on eth0 and a 3 s hold time; with `bfd`,
    BIRD's BGP asks its BFD protocol for a session to the neighbor."""
    return hl.upstream_bird_config(more_config=f"""
protocol bfd {{
  interface "eth0" {{ min rx interval {BFD_MS} ms; min tx interval {BFD_MS} ms; multiplier {BFD_MULT}; }};
}}
""", hold=3, extra="  bfd on;" if bfd else "")


class FrrBfd:
    """zebra, bfdd and bgpd in one namespace (bgpd registers BFD sessions through zebra)."""

    def __init__(self, lab: harness.Lab, ns: harness.Netns, bfd: bool = True):
        self.lab, self.ns = lab, ns
        # The FRR daemons drop to the frr user: they must reach their files in the lab.
        os.chmod(lab.dir, 0o755)
        self.dir = lab.path("frr")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o777)
        zsock = os.path.join(self.dir, "zserv.api")
        common = ["--vty_socket", self.dir, "-z", zsock, "--log", "stdout", "-A", "127.0.0.1", "-P", "0",
                  "--limit-fds", "1024"]
        def conf(name: str, text: str) -> str:
            p = lab.write(f"frr/{name}.conf", text)
            os.chmod(p, 0o666)
            return p
        self.zebra = ns.popen(["/usr/lib/frr/zebra", "-f", conf("zebra", "hostname up\n"),
                               "-i", os.path.join(self.dir, "zebra.pid")] + common, "zebra")
        harness.wait_for(lambda: os.path.exists(zsock), timeout=10, what="zebra's socket")
        self.bfdd = ns.popen(["/usr/lib/frr/bfdd", "-f", conf("bfdd", f"""
bfd
 profile fast
  receive-interval {BFD_MS}
  transmit-interval {BFD_MS}
  detect-multiplier {BFD_MULT}
 !
!
"""), "-i", os.path.join(self.dir, "bfdd.pid"), "--bfdctl", os.path.join(self.dir, "bfdd.sock")] + common, "bfdd")
        bgp = hl.frr_config().replace(" neighbor 203.0.113.2 timers 3 9\n", " neighbor 203.0.113.2 timers 1 3\n")
        if bfd:
            # With the source address known up front, bgpd registers the BFD session once; without
            # it, bgpd re-registers it once BGP is up and bfdd restarts it (one flap).
            bgp = bgp.replace(" neighbor 203.0.113.2 timers connect 2\n",
                              " neighbor 203.0.113.2 timers connect 2\n neighbor 203.0.113.2 update-source 203.0.113.1\n"
                              " neighbor 203.0.113.2 bfd profile fast\n")
        self.bgpd = ns.popen(["/usr/lib/frr/bgpd", "-f", conf("bgpd", bgp), "-i", os.path.join(self.dir, "bgpd.pid")]
                             + common, "bgpd")
        harness.wait_for(lambda: self.vtysh("bgpd", "show bgp summary json", check=False).returncode == 0,
                         timeout=15, what="FRR bgpd to answer")

    def vtysh(self, daemon: str, command: str, check: bool = True):
        return self.ns.run("vtysh", "--vty_socket", self.dir, "-d", daemon, "-c", command, check=check)

    def bfd_peers(self) -> list:
        r = self.vtysh("bfdd", "show bfd peers json", check=False)
        try:
            return json.loads(r.stdout) if r.returncode == 0 else []
        except ValueError:
            return []

    def bfd_state(self) -> str:
        peers = [p for p in self.bfd_peers() if p.get("peer") == hl.NODE_V4]
        return peers[0].get("status", "none") if peers else "none"

    def routes(self) -> dict:
        out = {}
        for fam in ("ipv4", "ipv6"):
            r = self.vtysh("bgpd", f"show bgp {fam} unicast json", check=False)
            try:
                out.update(json.loads(r.stdout).get("routes", {}))
            except ValueError:
                pass
        return out

    def session_up(self) -> bool:
        r = self.vtysh("bgpd", f"show bgp neighbor {hl.NODE_V4} json", check=False)
        try:
            return json.loads(r.stdout)[hl.NODE_V4]["bgpState"] == "Established"
        except (ValueError, KeyError):
            return False

    def procs(self) -> list:
        return [self.zebra, self.bfdd, self.bgpd]


def bird_bfd_state(bird: harness.Bird) -> str:
    """The state of BIRD's BFD session to herald ("Up", "Down", "Init", or "none")."""
    for line in bird.ctl("show bfd sessions", check=False).stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == hl.NODE_V4 and len(parts) >= 3:
            return parts[2]
    return "none"


class Node:
    """herald and unbound in the node namespace; events streamed to a log for timestamps."""

    def __init__(self, lab: harness.Lab, ns: harness.Netns):
        self.lab, self.ns = lab, ns
        self.config_path = lab.path("herald.toml")
        self.herald: Optional[harness.Proc] = None
        self.events: Optional[harness.Proc] = None
        self.dns = lab.unbound(ns, hl.SERVICE_V4, ["www.example. A 192.0.2.80"], extra="    ip-freebind: yes\n")

    def start(self, config: str) -> None:
        with open(self.config_path, "w") as f:
            f.write(config)
        sock = self.lab.path("herald.sock")
        if os.path.exists(sock):
            os.unlink(sock)  # left behind by a SIGKILLed herald
        self.herald = self.ns.popen([harness.binary("herald"), "-c", self.config_path], f"herald-{len(self.lab.procs)}")
        harness.wait_for(lambda: os.path.exists(sock) or not self.herald.alive(), timeout=10, what="herald's control socket")
        if not self.herald.alive():
            raise RuntimeError("herald exited at start:\n" + self.herald.log())
        self.events = self.lab.popen([harness.binary("heraldctl"), "--socket", sock, "events", "--json"],
                                     f"events-{len(self.lab.procs)}")

    def kill(self) -> float:
        """SIGKILL herald; returns the monotonic time of the kill."""
        t = time.monotonic()
        self.herald.signal(signal.SIGKILL)
        self.herald.popen.wait(timeout=5)
        if self.events:
            self.events.kill()
        return t

    def status(self) -> dict:
        r = harness.run([harness.binary("heraldctl"), "--socket", self.lab.path("herald.sock"), "status", "--json"],
                        timeout=10)
        return json.loads(r.stdout)["status"]

    def peer_bfd(self) -> Optional[dict]:
        return self.status()["peers"][0].get("bfd")

    def bfd_events(self) -> list:
        if not self.events:
            return []
        return [e for e in (json.loads(l) for l in self.events.log().splitlines() if l.startswith("{"))
                if e.get("event") == "bfd"]


def event_time(e: dict) -> float:
    """An event's wall-clock timestamp in seconds since the epoch."""
    return datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp()


def measure_gone(has_route, t0: float, timeout: float, interval: float = 0.005) -> float:
    """Seconds from t0 (monotonic) until has_route() is false; polled every `interval`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not has_route():
            return time.monotonic() - t0
        time.sleep(interval)
    raise AssertionError(f"route still present after {timeout} s")


class BirdRouter:
    """The upstream as BIRD 2 with `protocol bfd` and `bfd on` in the BGP protocol."""
    name = "BIRD"

    def __init__(self, lab: harness.Lab, ns: harness.Netns, config: Optional[str] = None):
        """`config`: BIRD's configuration, upstream_with_bfd() unless given."""
        self.lab, self.ns = lab, ns
        self.bird = lab.bird(ns, config if config is not None else upstream_with_bfd(bfd=True))

    def bfd_state(self) -> str:
        return bird_bfd_state(self.bird).lower()

    def has_route(self, prefix: str) -> bool:
        return any(l.startswith(prefix + " ") for l in self.bird.ctl("show route", check=False).stdout.splitlines())

    def session_up(self) -> bool:
        return self.bird.established("herald")

    def pids(self) -> list:
        return [self.bird.proc.pid]

    def without_bfd(self) -> None:
        with open(self.bird.conf, "w") as f:
            f.write(upstream_with_bfd(bfd=False))
        self.bird.ctl("configure")

    def describe_last_error(self) -> str:
        for line in self.bird.ctl("show protocols all herald", check=False).stdout.splitlines():
            if "Last error" in line or "Received:" in line:
                return line.strip()
        return ""


class FrrRouter:
    """The upstream as FRR 8: zebra + bfdd + bgpd with `neighbor X bfd profile fast`."""
    name = "FRR"

    def __init__(self, lab: harness.Lab, ns: harness.Netns):
        self.lab, self.ns = lab, ns
        self.frr = FrrBfd(lab, ns, bfd=True)

    def bfd_state(self) -> str:
        return self.frr.bfd_state().lower()

    def has_route(self, prefix: str) -> bool:
        # zebra installs bgpd's best routes in the kernel: the FIB is where a route's removal
        # ends, and `ip route` answers in a few ms where each vtysh call costs 30-60 ms.
        r = self.ns.run("ip", "-4", "route", "show", prefix, check=False)
        return "proto bgp" in r.stdout

    def session_up(self) -> bool:
        return self.frr.session_up()

    def pids(self) -> list:
        return [p.pid for p in self.frr.procs()]

    def without_bfd(self) -> None:
        self.ns.run("vtysh", "--vty_socket", self.frr.dir, "-d", "bgpd", "-c", "configure terminal",
                    "-c", "router bgp 65000", "-c", f"no neighbor {hl.NODE_V4} bfd")

    def describe_last_error(self) -> str:
        r = self.frr.vtysh("bgpd", f"show bgp neighbor {hl.NODE_V4} json", check=False)
        try:
            n = json.loads(r.stdout)[hl.NODE_V4]
            return f"last reset: {n.get('lastResetDueTo', '?')}; last NOTIFICATION: {n.get('lastNotificationReason', '?')}"
        except (ValueError, KeyError):
            return ""


def run_scenario(lab: harness.Lab, make_router) -> None:
    """The BFD interop scenario against one router; prints the measured figures."""
    up = lab.netns("up")
    node_ns = lab.netns("node")
    lab.link(up, f"{hl.ROUTER_V4}/24", node_ns, f"{hl.NODE_V4}/24", v6=(f"{hl.ROUTER_V6}/64", f"{hl.NODE_V6}/64"))
    router = make_router(lab, up)
    os.chmod(lab.dir, 0o755)  # herald runs as nobody and must reach its state directory
    node = Node(lab, node_ns)
    prefix = hl.PREFIX_V4

    def converge(what: str, timeout: float = 20) -> None:
        harness.wait_for(lambda: router.bfd_state() == "up", timeout=timeout, what=f"{router.name} BFD Up ({what})")
        harness.wait_for(lambda: node.status()["peers"][0]["state"] == "Established", timeout=timeout,
                         what=f"herald's BGP session ({what})")
        harness.wait_for(router.session_up, timeout=timeout, what=f"BGP with {router.name} ({what})")
        harness.wait_for(lambda: router.has_route(prefix), timeout=timeout, what=f"{prefix} at {router.name} ({what})")

    # 1. Up: BFD first, then BGP (bfd-wait-for-up), fast timers negotiated both ways.
    node.start(herald_config(lab))
    node.dns.wait_ready()  # answers once herald has put the service address on lo
    converge("start")
    harness.wait_for(lambda: (node.peer_bfd() or {}).get("tx_interval_ms") == BFD_MS, timeout=5,
                     what="herald's poll sequence to 50 ms")
    b = node.peer_bfd()
    assert b["state"] == "Up" and b["detect_time_ms"] == BFD_MS * BFD_MULT, b
    with open(f"/proc/{node.herald.pid}/status") as f:
        uid_line = next(line for line in f if line.startswith("Uid:"))
    assert uid_line.split()[1:] == ["65534"] * 4, f"herald did not drop to nobody: {uid_line}"
    assert "BGP waits for BFD Up before starting" in node.herald.log(), node.herald.log()[-2000:]
    text = harness.run([harness.binary("heraldctl"), "--socket", lab.path("herald.sock"), "status"]).stdout
    assert "\nBFD\n" in text and "50 ms" in text, text
    metrics = node.ns.run("curl", "-sf", "http://127.0.0.1:9179/metrics").stdout
    for want in ('herald_peer_bfd_up{peer="upstream"} 1', 'herald_peer_bfd_state{peer="upstream",state="Up"} 1',
                 'herald_peer_bfd_state{peer="upstream",state="Down"} 0',
                 'herald_peer_bfd_tx_interval_seconds{peer="upstream"} 0.05',
                 'herald_peer_bfd_detect_time_seconds{peer="upstream"} 0.15', 'herald_peer_bfd_flaps_total{peer="upstream"} '):
        assert want in metrics, (want, metrics[:3000])
    print(f"ok: BFD Up with {router.name} at {BFD_MS} ms x {BFD_MULT}, BGP started after it; status, heraldctl and metrics show it")

    # 2. herald dies. SIGKILL: the kernel still closes herald's TCP socket, so the FIN already
    # ends the session. A frozen herald (SIGSTOP: a hung host sends nothing at all) is what only
    # BFD or the hold timer can find out.
    t0 = node.kill()
    t_kill = measure_gone(lambda: router.has_route(prefix), t0, timeout=10)
    print(f"measured: herald SIGKILL -> {prefix} gone at {router.name} with BFD: {1000 * t_kill:.0f} ms "
          f"(the kernel's FIN reaches the router first)")
    assert t_kill <= DETECT_S + 0.1 + 0.005, t_kill
    node.start(herald_config(lab))
    converge("restart after kill")
    harness.wait_for(lambda: (node.peer_bfd() or {}).get("tx_interval_ms") == BFD_MS, timeout=5, what="poll")
    t0 = time.monotonic()
    node.herald.signal(signal.SIGSTOP)
    try:
        t_bfd = measure_gone(lambda: router.has_route(prefix), t0, timeout=10)
        harness.wait_for(lambda: router.bfd_state() in ("down", "none"), timeout=3, what=f"{router.name} BFD Down")
    finally:
        node.herald.signal(signal.SIGCONT)
    budget = DETECT_S + 0.1
    print(f"measured: herald frozen (SIGSTOP) -> {prefix} gone at {router.name} with BFD {BFD_MS} ms x {BFD_MULT}: "
          f"{1000 * t_bfd:.0f} ms (budget 3 x {BFD_MS} + 100 = {1000 * budget:.0f} ms; polled every 5 ms)")
    assert t_bfd <= budget + 0.005, t_bfd
    converge("herald thawed", timeout=25)

    # 3. Router frozen: herald's BFD detects it within the detection time and resets BGP (6/10).
    harness.wait_for(lambda: (node.peer_bfd() or {}).get("tx_interval_ms") == BFD_MS, timeout=5, what="poll")
    time.sleep(0.3)  # the events stream is connected
    stopped_at = time.time()
    for pid in router.pids():
        os.kill(pid, signal.SIGSTOP)
    try:
        def downs() -> list:
            return [e for e in node.bfd_events() if e["new"] == "Down" and event_time(e) > stopped_at]
        harness.wait_for(downs, timeout=3, what="herald's BFD Down event")
        ev = downs()[0]
        took = event_time(ev) - stopped_at
        print(f"measured: {router.name} SIGSTOP -> herald BFD Down after {1000 * took:.0f} ms "
              f"(detection time {1000 * DETECT_S:.0f} ms; diag {ev['diag']!r})")
        assert ev["diag"] == "Control Detection Time Expired", ev
        assert took <= DETECT_S + 0.1, took
        harness.wait_for(lambda: node.status()["peers"][0]["state"] != "Established", timeout=2,
                         what="herald's BGP session to go down")
        assert "6/10" in node.status()["peers"][0]["last_error"], node.status()["peers"][0]
    finally:
        for pid in router.pids():
            os.kill(pid, signal.SIGCONT)
    converge("after SIGCONT", timeout=25)
    print(f"ok: herald sent Cease/BFD Down (6/10); {router.name} resumed: BFD and BGP back")

    # 4. Link down: both ends take BFD and BGP down. (BIRD removes a session whose interface is
    # gone instead of showing it Down: "none".)
    node.ns.run("ip", "link", "set", "eth0", "down")
    try:
        harness.wait_for(lambda: (node.peer_bfd() or {}).get("state") == "Down", timeout=2, what="herald BFD Down (link)")
        harness.wait_for(lambda: router.bfd_state() in ("down", "none") and not router.session_up(), timeout=3,
                         what=f"{router.name} BFD and BGP down (link)")
        seen = router.bfd_state()
        assert node.status()["peers"][0]["state"] != "Established"
    finally:
        node.ns.run("ip", "link", "set", "eth0", "up")
    print(f"ok: link down -> BFD Down and BGP down at herald and at {router.name} (its BFD session: {seen})")
    assert (node.peer_bfd() or {}).get("flaps", 0) >= 2, node.peer_bfd()
    converge("link back", timeout=25)

    # 5. The same two failures without BFD: only the FIN or the hold timer (3 s) tell the router.
    node.kill()
    router.without_bfd()
    node.start(herald_config(lab, bfd=False))
    harness.wait_for(router.session_up, timeout=20, what="BGP without BFD")
    harness.wait_for(lambda: router.has_route(prefix), timeout=10, what="route without BFD")
    t0 = time.monotonic()
    node.herald.signal(signal.SIGSTOP)
    try:
        t_hold = measure_gone(lambda: router.has_route(prefix), t0, timeout=10, interval=0.02)
    finally:
        node.herald.signal(signal.SIGCONT)
    print(f"measured: herald frozen -> {prefix} gone at {router.name} without BFD (hold time 3 s): "
          f"{1000 * t_hold:.0f} ms, vs {1000 * t_bfd:.0f} ms with BFD")
    assert t_hold > 1.0, t_hold
