"""Shared pieces of herald's side-by-side benchmarks (tests/bench/*.py).

- statistics and markdown tables (median, p90, worst, ratio to herald);
- packet captures with tcpdump inside a namespace, read back as BGP messages reassembled per TCP
  direction, each with the kernel timestamp of the packet that completed it;
- CPU (nanosecond schedstat of every thread, plus reaped children) and memory (VmRSS, Pss) of
  a process tree;
- the lab topology: the Site of tests/integration/herald_lab.py (upstream BIRD, node namespace,
  unbound on the service addresses), optionally with a second upstream session.

Everything runs in namespaces created by harness.Lab with documentation addresses; every wait is
bounded and every process is stopped by pid when its lab closes.
"""
from __future__ import annotations

import ipaddress
import math
import os
import re
import statistics
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Iterable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

# The second upstream session (footprint: 2 peers) runs over a second subnet on the same link.
ROUTER_V4_B, NODE_V4_B = "198.51.100.1", "198.51.100.2"
SERVICES = [("dns", "192.0.2.53", "2001:db8:53::53"), ("dns2", "192.0.2.54", "2001:db8:53::54")]
QNAME, ANSWER = "www.example.", "192.0.2.80"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ statistics and tables

def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (q in 0..1) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q * len(s)) - 1))
    return s[k]


def summary(values: list[float]) -> dict:
    """median, p90 and worst of a list (None entries are failures, counted apart)."""
    ok = [v for v in values if v is not None]
    if not ok:
        return {"n": 0, "fail": len(values), "median": None, "p90": None, "worst": None}
    return {"n": len(ok), "fail": len(values) - len(ok), "median": statistics.median(ok),
            "p90": quantile(ok, 0.9), "worst": max(ok)}


def fmt_ms(v: Optional[float], digits: int = 1) -> str:
    return "-" if v is None else f"{v * 1000:.{digits}f}"


def ratio(v: Optional[float], ref: Optional[float]) -> str:
    if v is None or not ref:
        return "-"
    return f"{v / ref:.2f}x"


def table(headers: list[str], rows: Iterable[list], align: Optional[str] = None) -> str:
    """A markdown table; `align` is one character per column, 'l' or 'r' (default: first l)."""
    align = align or ("l" + "r" * (len(headers) - 1))
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def section(title: str, text: str) -> str:
    return f"### {title}\n\n{text}\n"


# ------------------------------------------------------------------ CPU and memory

def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            kids.setdefault(int(rest[1]), []).append(int(d))
        except (OSError, IndexError, ValueError):
            continue
    return kids


def tree(roots: Iterable[int]) -> list[int]:
    """The roots and all their live descendants."""
    kids = _children_map()
    out, todo = [], list(roots)
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_seconds(pid: int) -> float:
    """CPU time of a live process: run time of every thread (schedstat, ns) plus the user and
    system time of its reaped children (cutime + cstime, in clock ticks)."""
    total = 0.0
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0]) / 1e9
            except OSError:
                pass
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        total += (int(rest[13]) + int(rest[14])) / CLK_TCK
    except OSError:
        pass
    return total


def tree_cpu(roots: Iterable[int]) -> float:
    """CPU seconds of a process tree (live processes; dead ones count in their parents)."""
    return sum(cpu_seconds(p) for p in tree(roots))


class CpuWindow:
    """CPU used by a set of process trees between start() and stop(). A process that exits in
    the window takes its own time with it unless its parent reaped it (then the parent has it):
    callers keep the tracked roots alive across the window."""

    def __init__(self, roots: Iterable[int]):
        self.roots = list(roots)
        self.t0 = self.c0 = 0.0
        self.seconds = self.cpu = 0.0

    def start(self) -> "CpuWindow":
        self.t0, self.c0 = time.monotonic(), tree_cpu(self.roots)
        return self

    def stop(self) -> "CpuWindow":
        self.cpu = tree_cpu(self.roots) - self.c0
        self.seconds = time.monotonic() - self.t0
        return self

    @property
    def share(self) -> float:
        """Fraction of one core."""
        return self.cpu / self.seconds if self.seconds else 0.0


def sleeps(pid: int) -> int:
    """Voluntary context switches of every thread of one process so far: each is the process
    going to sleep, so their count over a window is its wake-ups (0 when it is gone)."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
    except OSError:
        pass
    return total


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, Pss) of one process in KiB; (0, 0) when it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def anon_kib(pid: int) -> int:
    """RssAnon of one process in KiB: its private heap and stacks, without the shared
    libraries and binary pages that VmRSS also counts."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_by_mapping(pid: int) -> list[tuple[str, int]]:
    """Resident KiB per mapped object of one process (binary, each shared library, heap,
    anonymous), largest first, from /proc/PID/smaps: where an RSS figure comes from."""
    sizes: dict[str, int] = {}
    name = "[anon]"
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split()
                if not head:
                    continue
                if "-" in head[0] and not head[0].endswith(":"):
                    name = os.path.basename(head[5]) if len(head) > 5 else "[anon]"
                elif head[0] == "Rss:":
                    sizes[name] = sizes.get(name, 0) + int(head[1])
    except OSError:
        return []
    return sorted(sizes.items(), key=lambda kv: -kv[1])


def tree_memory_kib(roots: Iterable[int]) -> tuple[int, int]:
    rss = pss = 0
    for p in tree(roots):
        r, s = memory_kib(p)
        rss, pss = rss + r, pss + s
    return rss, pss


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


# ------------------------------------------------------------------ packet captures

@dataclass
class BgpMessage:
    ts: float                      # kernel timestamp (CLOCK_REALTIME) of the completing packet
    src: str
    dst: str
    type: int                      # 1 OPEN, 2 UPDATE, 3 NOTIFICATION, 4 KEEPALIVE
    withdrawn: dict = field(default_factory=dict)   # family -> count
    announced: dict = field(default_factory=dict)   # family -> count
    prefixes: set = field(default_factory=set)      # "+192.0.2.53/32" / "-..." (small UPDATEs)


def _prefixes(data: bytes, fam: int, want: bool, out: set, sign: str) -> int:
    """Counts the NLRI prefixes in `data` (RFC 4271 4.3 / RFC 4760 encoding); with `want`, adds
    their text form to `out`."""
    i, n = 0, 0
    width = 4 if fam == 4 else 16
    while i < len(data):
        plen = data[i]
        nbytes = (plen + 7) // 8
        if want:
            raw = data[i + 1:i + 1 + nbytes] + bytes(width - nbytes)
            addr = ipaddress.IPv4Address(raw) if fam == 4 else ipaddress.IPv6Address(raw)
            out.add(f"{sign}{addr}/{plen}")
        i += 1 + nbytes
        n += 1
    return n


def parse_update(body: bytes, msg: BgpMessage, detail: bool) -> None:
    wlen = struct.unpack_from("!H", body, 0)[0]
    msg.withdrawn[4] = _prefixes(body[2:2 + wlen], 4, detail, msg.prefixes, "-")
    off = 2 + wlen
    alen = struct.unpack_from("!H", body, off)[0]
    attrs = body[off + 2:off + 2 + alen]
    msg.announced[4] = _prefixes(body[off + 2 + alen:], 4, detail, msg.prefixes, "+")
    i = 0
    while i < len(attrs):
        flags, code = attrs[i], attrs[i + 1]
        if flags & 0x10:
            ln = struct.unpack_from("!H", attrs, i + 2)[0]
            val = attrs[i + 4:i + 4 + ln]
            i += 4 + ln
        else:
            ln = attrs[i + 2]
            val = attrs[i + 3:i + 3 + ln]
            i += 3 + ln
        if code == 14:       # MP_REACH_NLRI (RFC 4760 3)
            afi = struct.unpack_from("!H", val, 0)[0]
            nhl = val[3]
            fam = 6 if afi == 2 else 4
            msg.announced[fam] = msg.announced.get(fam, 0) + _prefixes(val[5 + nhl:], fam, detail, msg.prefixes, "+")
        elif code == 15:     # MP_UNREACH_NLRI (RFC 4760 4)
            afi = struct.unpack_from("!H", val, 0)[0]
            fam = 6 if afi == 2 else 4
            msg.withdrawn[fam] = msg.withdrawn.get(fam, 0) + _prefixes(val[3:], fam, detail, msg.prefixes, "-")


def _ip(b: bytes) -> str:
    return str(ipaddress.ip_address(b))


def read_pcap(path: str) -> Iterable[tuple[float, bytes]]:
    """(timestamp, frame) of every packet of a pcap file (microsecond or nanosecond)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        endian = "<"
    else:
        endian = ">"
        magic = struct.unpack_from(">I", data, 0)[0]
    scale = 1e-9 if magic == 0xa1b23c4d else 1e-6
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(endian + "IIII", data, off)
        off += 16
        yield sec + frac * scale, data[off:off + incl]
        off += incl


def ip_payload(frame: bytes) -> Optional[tuple[int, str, str, bytes]]:
    """(protocol, src, dst, payload) of an Ethernet frame carrying IPv4 or IPv6."""
    if len(frame) < 14:
        return None
    etype = struct.unpack_from("!H", frame, 12)[0]
    ip = frame[14:]
    if etype == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        return ip[9], _ip(ip[12:16]), _ip(ip[16:20]), ip[ihl:total]
    if etype == 0x86DD and len(ip) >= 40:
        plen = struct.unpack_from("!H", ip, 4)[0]
        return ip[6], _ip(ip[8:24]), _ip(ip[24:40]), ip[40:40 + plen]
    return None


def bgp_messages(path: str, detail_limit: int = 8) -> list[BgpMessage]:
    """Every BGP message in a capture, reassembled per TCP direction (in-order veth traffic;
    retransmitted bytes are skipped by sequence number). UPDATEs with at most `detail_limit`
    prefixes get their prefixes listed."""
    streams: dict[tuple, list] = {}   # (src, sport, dst, dport) -> [next_seq, buffer]
    out: list[BgpMessage] = []
    for ts, frame in read_pcap(path):
        p = ip_payload(frame)
        if not p or p[0] != 6:
            continue
        proto, src, dst, seg = p
        sport, dport, seq = struct.unpack_from("!HHI", seg, 0)
        doff = (seg[12] >> 4) * 4
        flags = seg[13]
        data = seg[doff:]
        key = (src, sport, dst, dport)
        if flags & 0x02:                      # SYN: a new stream starts after it
            streams[key] = [(seq + 1) & 0xFFFFFFFF, b""]
            continue
        st = streams.get(key)
        if not data:
            continue
        if st is None:                        # the capture started mid-stream: assume a boundary
            st = streams[key] = [seq, b""]
        skip = (st[0] - seq) & 0xFFFFFFFF
        if skip >= 0x80000000:               # a gap: captured out of order; resynchronise
            st[0], st[1] = seq, b""
            skip = 0
        if skip >= len(data):
            continue
        data = data[skip:]
        st[0] = (st[0] + len(data)) & 0xFFFFFFFF
        buf = st[1] + data
        while len(buf) >= 19:
            ln = struct.unpack_from("!H", buf, 16)[0]
            if buf[:16] != b"\xff" * 16 or ln < 19:
                buf = b""                     # not a BGP stream (or lost sync)
                break
            if len(buf) < ln:
                break
            m = BgpMessage(ts, src, dst, buf[18])
            if m.type == 2:
                body = buf[19:ln]
                parse_update(body, m, detail=len(body) < 40 * detail_limit)
            out.append(m)
            buf = buf[ln:]
        st[1] = buf
    return out


def dns_queries(path: str, server: str) -> list[tuple[float, str]]:
    """(timestamp, query name) of every UDP DNS query to `server`:53 in a capture."""
    out = []
    for ts, frame in read_pcap(path):
        p = ip_payload(frame)
        if not p or p[0] != 17 or p[2] != server:
            continue
        seg = p[3]
        if struct.unpack_from("!H", seg, 2)[0] != 53:
            continue
        msg = seg[8:]
        if len(msg) < 13 or msg[2] & 0x80:   # a response, not a query
            continue
        labels, i = [], 12
        while i < len(msg) and msg[i] != 0 and len(labels) < 20:
            labels.append(msg[i + 1:i + 1 + msg[i]].decode(errors="replace"))
            i += 1 + msg[i]
        out.append((ts, ".".join(labels) + "."))
    return out


class Capture:
    """tcpdump writing a pcap file inside a namespace (packet-buffered, kernel timestamps)."""

    def __init__(self, lab: harness.Lab, ns: harness.Netns, iface: str, bpf: str, name: str,
                 snaplen: int = 0):
        self.path = lab.path(f"{name}.pcap")
        args = ["tcpdump", "-i", iface, "-U", "--immediate-mode", "-n", "-w", self.path]
        if snaplen:
            args += ["-s", str(snaplen)]
        self.proc = ns.popen(args + bpf.split(), f"tcpdump-{name}")
        harness.wait_for(lambda: "listening on" in self.proc.log() or not self.proc.alive(), 10, 0.02,
                         f"tcpdump on {iface} in {ns.name}")
        if not self.proc.alive():
            raise RuntimeError("tcpdump did not start: " + self.proc.log())

    def stop(self) -> str:
        """Stops tcpdump (SIGTERM flushes the file) and returns the pcap path."""
        time.sleep(0.05)
        self.proc.stop()
        return self.path


# ------------------------------------------------------------------ topology

def upstream_bird_config(second_session: bool = False, extra: str = "") -> str:
    """herald_lab's upstream (protocol `herald` towards the node), optionally with a second
    session `herald2` between ROUTER_V4_B and NODE_V4_B; BIRD logs warnings and errors only."""
    more = ""
    if second_session:
        more = harness.bird_bgp("herald2", ROUTER_V4_B, hl.ROUTER_AS, NODE_V4_B, hl.NODE_AS,
                                import_filter="filter from_herald")
    return hl.upstream_bird_config(more_config=more + extra, log="{ warning, error, fatal }")


class Topology:
    """The router (upstream BIRD) and node namespaces of herald_lab.Site, with the service
    addresses' DNS server on the node. The speaker under test is started by a contender."""

    def __init__(self, lab: harness.Lab, second_session: bool = False, bird_extra: str = "",
                 services: list = SERVICES[:1]):
        self.lab = lab
        self.services = services
        self.up = lab.netns("up")
        self.node = lab.netns("node")
        lab.link(self.up, f"{hl.ROUTER_V4}/24", self.node, f"{hl.NODE_V4}/24",
                 v6=(f"{hl.ROUTER_V6}/64", f"{hl.NODE_V6}/64"))
        if second_session:
            self.up.run("ip", "addr", "add", f"{ROUTER_V4_B}/24", "dev", "eth0")
            self.node.run("ip", "addr", "add", f"{NODE_V4_B}/24", "dev", "eth0")
        self.bird = lab.bird(self.up, upstream_bird_config(second_session, bird_extra), name="upstream")
        self.dns: Optional[harness.Unbound] = None
        self.dns_count = 0
        self.dns_pidfile: Optional[str] = None  # set: unbound writes its PID there

    @classmethod
    def attach(cls, lab: harness.Lab, up: harness.Netns, node: harness.Netns, bird: harness.Bird,
               services: list = SERVICES[:1]) -> "Topology":
        """A Topology over namespaces and an upstream BIRD that the caller set up itself."""
        t = cls.__new__(cls)
        t.lab, t.up, t.node, t.bird, t.services = lab, up, node, bird, services
        t.dns, t.dns_count, t.dns_pidfile = None, 0, None
        return t

    def add_service_addresses(self) -> None:
        """Puts the service addresses on the node's lo (for speakers that do not do it)."""
        for _, v4, v6 in self.services:
            self.node.run("ip", "addr", "add", f"{v4}/32", "dev", "lo")
            self.node.run("ip", "-6", "addr", "add", f"{v6}/128", "dev", "lo", "nodad")

    def start_dns(self, local_data: Optional[list[str]] = None, wait: bool = True) -> harness.Unbound:
        """unbound on every service address (freebind: the address may come later)."""
        extra = "    ip-freebind: yes\n"
        if self.dns_pidfile:
            extra += f'    pidfile: "{self.dns_pidfile}"\n'
        first = self.services[0][1]
        for _, v4, v6 in self.services:
            if v4 != first:
                extra += f"    interface: {v4}@53\n"
            extra += f"    interface: {v6}@53\n"
        self.dns_count += 1
        self.dns = self.lab.unbound(self.node, first, local_data or [f"{QNAME} A {ANSWER}"], extra=extra,
                                    name=f"unbound-{self.dns_count}")
        if wait:
            self.dns.wait_ready(timeout=10)
        return self.dns

    def stop_dns(self) -> None:
        if self.dns:
            self.dns.proc.stop()
            self.dns = None

    def route_present(self, prefix: str) -> bool:
        table = "master6" if ":" in prefix else "master4"
        r = self.bird.ctl(f"show route {prefix} table {table}", check=False)
        return prefix in r.stdout

    def wait_route(self, prefix: str, present: bool, timeout: float, interval: float = 0.01) -> Optional[float]:
        """Wall-clock time when the router's RIB first showed `prefix` present/absent (None on
        timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.route_present(prefix) == present:
                return time.time()
            time.sleep(interval)
        return None

    def route_count(self, protocol: str = "herald", table: str = "master4") -> int:
        out = self.bird.ctl(f"show route count table {table} protocol {protocol}", check=False).stdout
        m = re.search(r"(\d+) of \d+ routes", out)
        return int(m.group(1)) if m else 0

    def session_up(self, protocol: str = "herald") -> bool:
        return self.bird.established(protocol)


def wait_until(pred, timeout: float, what: str, interval: float = 0.05):
    return harness.wait_for(pred, timeout=timeout, interval=interval, what=what)


def herald_binary(name: str = "herald") -> str:
    return harness.binary(name)


def git_hash() -> str:
    r = subprocess.run(["git", "-C", harness.REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"
