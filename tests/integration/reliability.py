"""Faults and the convergence check shared by herald's reliability tests.

The check (`converged`) compares three views and passes only when they agree:
  - herald's own status (heraldctl status --json): service states, which services it says it
    announces, its session state and how many prefixes it says it sent;
  - the state the test knows to be true (e.g. "the DNS server is frozen, so the service is Down");
  - the router's RIB (birdc / vtysh): exactly the prefixes of the services herald announces, with
    herald's AS path and next hops, carrying GRACEFUL_SHUTDOWN (RFC 8326) when drained.

The faults work on a herald_lab.Site built with wan=True (the link passes through fault_relay.py,
which can lose and delay frames like tc netem). Every fault is undone by the function that
injects it or by the matching "restore" function, and every wait is bounded.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import random
import signal
import time
from typing import Iterator, Optional

import harness
import herald_lab as hl

HERE = os.path.dirname(os.path.abspath(__file__))
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")
# Where prefixes must point: herald's session address and its configured IPv6 next hop.
NEXT_HOP = {hl.PREFIX_V4: hl.NODE_V4, hl.PREFIX_V6: hl.NODE_V6}


# ------------------------------------------------------------------ convergence

def herald_view(site: hl.Site) -> dict:
    """herald's status, reduced to what the router should show."""
    st = site.status()["status"]
    peer = st["peers"][0]
    services = {s["name"]: s for s in st["services"]}
    want = {}
    for s in st["services"]:
        if s["announced"]:
            for p in s["prefixes"]:
                want[p] = s["state"]
    return {"pid": st["pid"], "peer": peer, "services": services, "want": want}


def session_age(site: hl.Site) -> tuple[str, float]:
    """herald's session: (the time it last changed state, seconds since then), by herald's clock."""
    st = site.status()["status"]
    since = st["peers"][0]["since"]
    parse = lambda t: datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return since, (parse(st["now"]) - parse(since)).total_seconds()


def check_once(site: hl.Site, expect_state: Optional[dict] = None) -> tuple[bool, str]:
    """One comparison of herald's view, the expected service states and the router's RIB.
    Returns (agree, what differs)."""
    v = herald_view(site)
    if expect_state:
        for name, state in expect_state.items():
            got = v["services"].get(name, {}).get("state")
            if got != state:
                return False, f"herald says service {name} is {got}, expected {state}"
    if v["peer"]["state"] != "Established":
        return False, f"herald's session is {v['peer']['state']}"
    if not site.session_up():
        return False, "router's session is not Established"
    if v["peer"]["prefixes_sent"] != len(v["want"]):
        return False, f"herald says it sent {v['peer']['prefixes_sent']} prefixes, wants {len(v['want'])}"
    rib = site.router_routes()
    if set(rib) != set(v["want"]):
        return False, f"router has {sorted(rib)}, herald announces {sorted(v['want'])}"
    for prefix, state in v["want"].items():
        text = rib[prefix]
        hop = NEXT_HOP.get(prefix, hl.NODE_V4 if ":" not in prefix else hl.NODE_V6)
        if hop not in text:
            return False, f"{prefix} at the router lacks next hop {hop}: {text}"
        if str(hl.NODE_AS) not in text:
            return False, f"{prefix} at the router lacks AS {hl.NODE_AS}: {text}"
        if site.bird:  # FRR's table JSON does not list communities
            drained_at_router = "(65535,0)" in text
            if drained_at_router != (state == "Drained"):
                return False, f"{prefix}: service {state} but graceful-shutdown at router is {drained_at_router}"
    return True, "agree"


def converged(site: hl.Site, bound_s: float, expect_state: Optional[dict] = None, what: str = "") -> float:
    """Polls until herald's status, `expect_state` ({service: "Up"|"Down"|"Drained"}) and the
    router's RIB agree (see check_once); returns the seconds it took. Fails the test with the last
    difference when they do not agree within `bound_s`."""
    t0 = time.monotonic()
    last = "not checked"
    while True:
        try:
            ok, last = check_once(site, expect_state)
        except Exception as e:  # noqa: BLE001 - herald or the router may be restarting
            ok, last = False, f"{type(e).__name__}: {e}"
        took = time.monotonic() - t0
        if ok:
            print(f"  converged{' after ' + what if what else ''} in {took:.2f}s (bound {bound_s:g}s)", flush=True)
            return took
        if took > bound_s:
            raise AssertionError(f"not converged{' after ' + what if what else ''} within {bound_s}s: {last}")
        time.sleep(0.1)


def stays_converged(site: hl.Site, seconds: float, expect_state: Optional[dict] = None, what: str = "") -> None:
    """Asserts that the views agree at every poll for `seconds` (nothing flaps)."""
    deadline = time.monotonic() + seconds
    polls = 0
    while time.monotonic() < deadline:
        ok, why = check_once(site, expect_state)
        assert ok, f"diverged during {what or 'a stable period'}: {why}"
        polls += 1
        time.sleep(0.1)
    print(f"  stayed converged for {seconds:g}s during {what} ({polls} polls)", flush=True)


# ------------------------------------------------------------------ resources

def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def resources(site: hl.Site) -> dict:
    pid = site.herald.pid
    return {"pid": pid, "fds": fd_count(pid), "rss_kib": harness.rss_kib(pid)}


def is_sanitized(binary: str) -> bool:
    """True when `binary` carries ASan (its RSS then grows by design: quarantine, shadow)."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def rss_bound_kib() -> Optional[int]:
    """Allowed RSS growth of a long-running herald: 4 MiB. None under ASan, whose quarantine keeps
    up to 256 MiB of freed memory resident by design; leaks are then LeakSanitizer's job, when
    herald exits (see stop_herald)."""
    return None if is_sanitized(harness.binary("herald")) else 4096


FD_BOUND = 4  # a DNS check or control connection may be open at the moment of sampling


def assert_no_growth(before: dict, after: dict, what: str) -> None:
    assert before["pid"] == after["pid"], (before, after)
    dfd, drss = after["fds"] - before["fds"], after["rss_kib"] - before["rss_kib"]
    bound = rss_bound_kib()
    print(f"  {what}: fds {before['fds']} -> {after['fds']} ({dfd:+d}, bound +{FD_BOUND}), "
          f"RSS {before['rss_kib']} -> {after['rss_kib']} KiB ({drss:+d}, "
          f"{'bound +' + str(bound) if bound is not None else 'not bounded under ASan'})", flush=True)
    assert dfd <= FD_BOUND, f"{what}: fd growth {dfd}"
    assert bound is None or drss <= bound, f"{what}: RSS growth {drss} KiB"


def stop_herald(site: hl.Site) -> None:
    """SIGTERM; herald must exit 0 within its shutdown bound. Under ASan this is when
    LeakSanitizer runs: a leak makes the exit status non-zero and leaves a report in the log."""
    rc = site.herald.stop(timeout=15)
    assert rc == 0, f"herald exited with status {rc}:\n" + site.herald.log()[-4000:]


def sanitizer_reports(lab: harness.Lab) -> list[str]:
    """Lines of the lab's logs where a sanitizer reported something."""
    found = []
    for p in lab.procs:
        for line in p.log().splitlines():
            if any(m in line for m in SANITIZER_MARKS):
                found.append(f"{p.name}: {line}")
    return found


# ------------------------------------------------------------------ the DNS server

def start_dns(site: hl.Site) -> harness.Unbound:
    """unbound on the service addresses, port 53, with SO_REUSEPORT so a slow proxy can take over
    its address without a gap (see slow_dns)."""
    site.dns = site.lab.unbound(
        site.node, hl.SERVICE_V4, ["www.example. A 192.0.2.80"],
        extra=f"    interface: {hl.SERVICE_V6}@53\n    ip-freebind: yes\n    so-reuseport: yes\n",
        name=f"unbound-{len(site.lab.procs)}")
    return site.dns


def freeze_dns(site: hl.Site) -> None:
    site.dns.proc.signal(signal.SIGSTOP)


def thaw_dns(site: hl.Site) -> None:
    site.dns.proc.signal(signal.SIGCONT)


@contextlib.contextmanager
def slow_dns(site: hl.Site, delay_ms: float) -> Iterator[None]:
    """Within the block every answer to herald's check arrives `delay_ms` late: unbound moves to
    port 5353 behind dns_slow_proxy.py on the service addresses. There is no moment in which
    nothing answers: the proxy shares port 53 (SO_REUSEPORT) before the old unbound leaves, and on
    the way back a new unbound shares it before the proxy leaves."""
    lab = site.lab
    back = lab.unbound(site.node, hl.SERVICE_V4, ["www.example. A 192.0.2.80"],
                       extra="    ip-freebind: yes\n", name=f"unbound-slowback-{len(lab.procs)}", port=5353)
    back.wait_ready()
    proxy = site.node.popen(["/usr/bin/python3", os.path.join(HERE, "dns_slow_proxy.py"),
                             "--listen", f"{hl.SERVICE_V4}:53", "--listen", f"[{hl.SERVICE_V6}]:53",
                             "--upstream", f"{hl.SERVICE_V4}:5353", "--delay-ms", str(delay_ms)],
                            f"slowdns-{len(lab.procs)}")
    harness.wait_for(lambda: "slow proxy on" in proxy.log(), timeout=5, what="slow DNS proxy")
    site.stop_dns()
    try:
        yield
    finally:
        start_dns(site)
        site.dns.wait_ready()
        proxy.stop()
        back.proc.stop()


# ------------------------------------------------------------------ the link

def impair(site: hl.Site, loss: float = 0.0, delay_ms: float = 0.0, both: bool = False) -> None:
    """Sets the relay's loss probability and delay (herald -> router; both ways with both=True)."""
    assert site.relay is not None, "impair() needs a Site built with wan=True"
    with open(site.relay_params, "w") as f:
        json.dump({"loss": loss, "delay_ms": delay_ms, "both": both}, f)
    site.relay.signal(signal.SIGUSR1)


def link(site: hl.Site, up: bool) -> None:
    """Pulls or plugs the cable on herald's side: the relay's port towards the node goes down or
    up, so herald's eth0 loses or regains its carrier."""
    wan = next(ns for ns in site.lab.namespaces if ns.name.endswith("-wan"))
    wan.run("ip", "link", "set", "nd", "up" if up else "down")


# ------------------------------------------------------------------ the router and herald

def restart_router(site: hl.Site, down_s: float = 0.5) -> None:
    """SIGKILL the router, wait `down_s`, start it again with the same configuration."""
    n = len(site.lab.procs)
    if site.bird:
        with open(site.bird.conf) as f:
            conf = f.read()
        site.bird.proc.kill()
        time.sleep(down_s)
        site.bird = site.lab.bird(site.up, conf, name=f"bird-{n}")
    else:
        with open(site.frr.conf) as f:
            conf = f.read()
        site.frr.proc.kill()
        time.sleep(down_s)
        site.frr = site.lab.frr(site.up, conf, name=f"frr-{n}")


def kill_herald(site: hl.Site) -> None:
    """SIGKILL: no NOTIFICATION, no withdrawal; the kernel closes the socket. The control socket
    file stays behind, as after a real crash."""
    site.herald.kill()


def restart_herald(site: hl.Site) -> None:
    """Starts herald again (over the stale control socket) and waits until it answers."""
    old = site.herald.pid if site.herald else None
    site.start_herald()
    harness.wait_for(lambda: site.status()["status"]["pid"] != old, timeout=10, what="restarted herald to answer")


def reload_many(site: hl.Site, configs: list[str], count: int) -> None:
    """`count` reloads through heraldctl, cycling through `configs` and ending on configs[0];
    each must be accepted."""
    for i in range(count):
        site.write_config(configs[(i - count + 1) % len(configs)])
        r = site.ctl("reload", check=False)
        assert r.returncode == 0, f"reload {i + 1} refused: {r.stdout} {r.stderr}"


@contextlib.contextmanager
def tiny_tmpfs(pid: int, path: str, size_kib: int = 64) -> Iterator[str]:
    """A `size_kib` tmpfs mounted on `path` in the mount namespace of process `pid` (herald runs
    under `ip netns exec`, which gives it a mount namespace of its own), unmounted after the block
    (lazily if busy). Yields the path under which the test sees that tmpfs: /proc/PID/root/PATH.
    Nothing is mounted where any other process can see it, and the mount goes away with the
    namespace if the test dies first."""
    harness.run(["nsenter", "-t", str(pid), "-m", "mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755",
                 "herald-test", path])
    try:
        yield f"/proc/{pid}/root{path}"
    finally:
        if harness.run(["nsenter", "-t", str(pid), "-m", "umount", path], check=False).returncode != 0:
            harness.run(["nsenter", "-t", str(pid), "-m", "umount", "-l", path], check=False)


def fill(path: str) -> str:
    """Fills the file system holding `path` with one file; returns the file's name."""
    filler = os.path.join(path, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(100000):  # bounded: 100000 x 4 KiB
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)
    return filler


# ------------------------------------------------------------------ random faults (soak)

class Faults:
    """Injects one fault of the list at a time, checks what must be true while it lasts, undoes
    it and returns the bound within which the site must converge again. The bounds follow the
    lab's timers: hold time 3 s (HOLD), connect retry 1 s backing off to at most 4 s, DNS checks
    every 100 ms with an 80 ms timeout, rise 2 / fall 2."""

    HOLD = 3.0
    UP, DOWN, DRAINED = {"dns": "Up"}, {"dns": "Down"}, {"dns": "Drained"}

    def __init__(self, site: hl.Site, rng: random.Random, configs: list[str]):
        self.site, self.rng, self.configs = site, rng, configs
        self.herald_restarts = 0

    def run(self, name: str) -> float:
        return getattr(self, name)()

    def _herald_sees_session_down(self) -> None:
        harness.wait_for(lambda: herald_view(self.site)["peer"]["state"] != "Established", timeout=self.HOLD + 1.5,
                         what="herald to report its session down")

    # Faults that end the BGP session. herald damps reconnection after each session failure (RFC
    # 4271 8.1.1 DampPeerOscillations: IdleHold 1 s doubling up to 300 s, forgotten after a session
    # that lasted 60 s), so the soak allows at most MAX_DROPS of them until the session has been up
    # for 60 s again; the bound after one of them includes the longest IdleHold that allows (8 s).
    SESSION = ("router_kill", "link_flap", "lossy_link")
    MAX_DROPS = 4
    SESSION_BOUND = 20 + 8

    def router_kill(self) -> float:
        """Router SIGKILL: herald's status must show the session down before the restart."""
        n = len(self.site.lab.procs)
        router = self.site.bird or self.site.frr
        with open(router.conf) as f:
            conf = f.read()
        router.proc.kill()
        self._herald_sees_session_down()
        time.sleep(self.rng.uniform(0.0, 2.0))
        if self.site.bird:
            self.site.bird = self.site.lab.bird(self.site.up, conf, name=f"bird-{n}")
        else:
            self.site.frr = self.site.lab.frr(self.site.up, conf, name=f"frr-{n}")
        return self.SESSION_BOUND

    def link_flap(self) -> float:
        """Cable pulled for 0.5..5 s; when longer than the hold time, both ends must have dropped
        the session (and the router the routes) before it is plugged back."""
        down = self.rng.uniform(0.5, 5.0)
        t0 = time.monotonic()
        link(self.site, False)
        try:
            if down > self.HOLD + 1.5:
                self.site.wait_route(hl.PREFIX_V4, False, timeout=self.HOLD + 1.5)
                self._herald_sees_session_down()
            time.sleep(max(0.0, t0 + down - time.monotonic()))
        finally:
            link(self.site, True)
        # A session that outlived a short outage can still end now: the lost KEEPALIVEs come back
        # only with TCP's backed-off retransmission, possibly after the hold time. Wait that out,
        # so the drop belongs to this fault and not to the check of the next one.
        time.sleep(self.HOLD)
        return self.SESSION_BOUND

    def lossy_link(self) -> float:
        """20% loss and 200 ms delay towards the router for 2..6 s."""
        impair(self.site, loss=0.2, delay_ms=200)
        try:
            time.sleep(self.rng.uniform(2.0, 6.0))
        finally:
            impair(self.site)
        time.sleep(self.HOLD)  # as after link_flap: a late hold-timer expiry belongs to this fault
        return self.SESSION_BOUND

    def dns_freeze(self) -> float:
        """unbound SIGSTOPped for 0.1..3 s; from 1 s on it must be withdrawn while frozen."""
        frozen = self.rng.uniform(0.1, 3.0)
        t0 = time.monotonic()
        freeze_dns(self.site)
        try:
            if frozen >= 1.0:
                converged(self.site, 2.0, self.DOWN, "DNS frozen (during)")
            time.sleep(max(0.0, t0 + frozen - time.monotonic()))
        finally:
            thaw_dns(self.site)
        return 10

    def dns_slow(self) -> float:
        """Answers 20 ms late (within the 80 ms timeout: must stay announced) or 200 ms late
        (beyond it: must be withdrawn)."""
        delay = self.rng.choice([20, 200])
        with slow_dns(self.site, delay):
            if delay == 20:
                stays_converged(self.site, self.rng.uniform(1.0, 3.0), self.UP, "DNS 20 ms late")
            else:
                converged(self.site, 3, self.DOWN, "DNS 200 ms late (during)")
        return 10

    def herald_kill(self) -> float:
        """herald SIGKILL: the router must drop its routes (at once, or after the hold time if
        the FIN were lost) before herald is restarted."""
        kill_herald(self.site)
        self.site.wait_route(hl.PREFIX_V4, False, timeout=self.HOLD + 1)
        time.sleep(self.rng.uniform(0.0, 1.0))
        restart_herald(self.site)
        self.herald_restarts += 1
        return 20

    def reloads(self) -> float:
        reload_many(self.site, self.configs, self.rng.randint(5, 20))
        return 10

    def drain_cycle(self) -> float:
        """Drain (graceful-shutdown, withdrawn after the drain period), then undrain."""
        self.site.ctl("drain", "dns", "--reason", "soak")
        try:
            converged(self.site, 2, self.DRAINED, "drain (during)")
            time.sleep(self.rng.uniform(0.1, 3.0))
        finally:
            self.site.ctl("undrain", "dns")
        return 10
