"""Shared set-up of herald's BGP interop tests: a router namespace and a herald namespace joined
by one veth link, BIRD 2 / FRR 8 configurations with short timers, herald-speak started with
peers and announcements, and readers of what the ROUTER reports (birdc text, FRR JSON).

Addresses (documentation ranges only):
    router r  eth0 192.0.2.1/24  2001:db8:1::1/64   AS 65000
    herald h  eth0 192.0.2.2/24  2001:db8:1::2/64   AS 65001
"""
from __future__ import annotations

import json
import re
import time
from typing import Optional

import harness

R4, H4 = "192.0.2.1", "192.0.2.2"
R6, H6 = "2001:db8:1::1", "2001:db8:1::2"
ROUTER_AS, HERALD_AS = 65000, 65001


def topology(lab: harness.Lab) -> tuple[harness.Netns, harness.Netns]:
    """The router and herald namespaces with the link between them."""
    r = lab.netns("r")
    h = lab.netns("h")
    lab.link(r, f"{R4}/24", h, f"{H4}/24", v6=(f"{R6}/64", f"{H6}/64"))
    return r, h


# ---------------- BIRD ----------------

def bird_protocol(name: str, neighbor: str, local: str, extra: str = "", neighbor_as: int = HERALD_AS,
                  hold: int = 9, import_filter: str = "all", export_filter: str = "none") -> str:
    """The router's BGP protocol towards herald at `neighbor` (harness.bird_bgp, AS ROUTER_AS);
    the whole config is harness.bird_config(R4, protocols)."""
    return harness.bird_bgp(name, local, ROUTER_AS, neighbor, neighbor_as, hold=hold, extra=extra,
                            import_filter=import_filter, export_filter=export_filter)


def bird_routes(bird: harness.Bird, table: str, proto: str) -> dict[str, dict]:
    """Routes of `table` learned from protocol `proto`, as {prefix: {"as_path": [...],
    "next_hop": [...], "med": int, "local_pref": int, "communities": [(a, b)], "large_communities": [(a, b, c)],
    "origin": str}} parsed from `show route table T protocol P all`."""
    out = bird.ctl(f"show route table {table} protocol {proto} all").stdout
    routes: dict[str, dict] = {}
    cur: Optional[dict] = None
    for line in out.splitlines():
        m = re.match(r"^(\S+/\d+)\s+\S+\s+\[(\S+)", line)
        if m:
            cur = {"proto": m.group(2)}
            routes[m.group(1)] = cur
            continue
        if cur is None:
            continue
        s = line.strip()
        if s.startswith("BGP.as_path:"):
            cur["as_path"] = [int(x) for x in s.split(":", 1)[1].split()]
        elif s.startswith("BGP.next_hop:"):
            cur["next_hop"] = s.split(":", 1)[1].split()
        elif s.startswith("BGP.med:"):
            cur["med"] = int(s.split(":", 1)[1])
        elif s.startswith("BGP.local_pref:"):
            cur["local_pref"] = int(s.split(":", 1)[1])
        elif s.startswith("BGP.community:"):
            cur["communities"] = [(int(a), int(b)) for a, b in re.findall(r"\((\d+),\s*(\d+)\)", s)]
        elif s.startswith("BGP.large_community:"):
            cur["large_communities"] = [tuple(int(x) for x in t)
                                        for t in re.findall(r"\((\d+),\s*(\d+),\s*(\d+)\)", s)]
        elif s.startswith("BGP.origin:"):
            cur["origin"] = s.split(":", 1)[1].strip()
    return routes


def bird_proto_all(bird: harness.Bird, proto: str) -> str:
    return bird.ctl(f"show protocols all {proto}", check=False).stdout


def bird_import_stats(bird: harness.Bird, proto: str, channel: str) -> tuple[int, int]:
    """(updates, withdraws) received on one channel (ipv4 / ipv6) of `proto`: counted per route,
    not per message, so one changed prefix adds exactly one."""
    text = bird_proto_all(bird, proto)
    part = text.split(f"Channel {channel}", 1)
    if len(part) < 2:
        return (-1, -1)
    up = re.search(r"Import updates:\s+(\d+)", part[1])
    wd = re.search(r"Import withdraws:\s+(\d+)", part[1])
    return (int(up.group(1)) if up else -1, int(wd.group(1)) if wd else -1)


def bird_channel_up(bird: harness.Bird, proto: str, channel: str) -> bool:
    text = bird_proto_all(bird, proto)
    part = text.split(f"Channel {channel}", 1)
    return len(part) == 2 and re.search(r"State:\s+UP", part[1].split("Channel", 1)[0]) is not None


# ---------------- FRR ----------------

def frr_config(neighbors: list[tuple[str, int]], extra_neighbor: str = "", extra_global: str = "",
               hold: int = 9) -> str:
    """bgpd configuration with `neighbors` [(address, as)] active in both families."""
    nb = ""
    af4 = ""
    af6 = ""
    for addr, asn in neighbors:
        nb += f" neighbor {addr} remote-as {asn}\n neighbor {addr} timers connect 2\n"
        nb += f" neighbor {addr} timers {max(1, hold // 3)} {hold}\n"
        # bgpd runs without zebra: it knows no interfaces, so skip the connected-nexthop check.
        nb += f" neighbor {addr} disable-connected-check\n"
        nb += "".join(f" {line.format(addr=addr)}\n" for line in extra_neighbor.splitlines() if line.strip())
        af4 += f"  neighbor {addr} activate\n"
        af6 += f"  neighbor {addr} activate\n"
    return f"""frr defaults traditional
hostname r
log stdout debugging
!
router bgp {ROUTER_AS}
 bgp router-id {R4}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 timers bgp {max(1, hold // 3)} {hold}
{extra_global}{nb} address-family ipv4 unicast
{af4} exit-address-family
 address-family ipv6 unicast
{af6} exit-address-family
!
"""


def frr_routes(frr: harness.Frr, family: str) -> dict:
    """{prefix: [paths]} of `show bgp <family> unicast json`."""
    j = frr.json(f"show bgp {family} unicast json")
    return j.get("routes", {})


def frr_neighbor(frr: harness.Frr, addr: str) -> dict:
    return frr.json(f"show bgp neighbors {addr} json").get(addr, {})


# ---------------- herald-speak ----------------

def peer_spec(name: str, address: str, local: str, asn: int = ROUTER_AS, hold: int = 9, **kw) -> str:
    items = [f"name={name}", f"address={address}", f"as={asn}", f"local={local}", f"hold={hold}",
             "connect_retry=1", "idle_hold=1"]
    items += [f"{k}={v}" for k, v in kw.items()]
    return ",".join(items)


def start_speaker(lab: harness.Lab, ns: harness.Netns, peers: list[str], announce: list[str],
                  listen: Optional[list[str]] = None, name: str = "herald") -> harness.LineProc:
    """herald-speak in `ns`; by default it also listens dual-stack on port 179 so the router
    may connect in as well ([] for outbound only)."""
    argv = [harness.binary("herald-speak"), "--local-as", str(HERALD_AS), "--router-id", H4, "--seed", "1"]
    for p in peers:
        argv += ["--peer", p]
    for a in announce:
        argv += ["--announce", a]
    for l in (["[::]:179"] if listen is None else listen):
        argv += ["--listen", l]
    return ns.popen_lines(argv, name)


def status(proc: harness.LineProc) -> dict:
    return json.loads(proc.request("status"))


def peer_status(proc: harness.LineProc, name: str) -> dict:
    for p in status(proc)["peers"]:
        if p["name"] == name:
            return p
    raise KeyError(name)


def wait_until(pred, timeout: float, what: str, interval: float = 0.1):
    return harness.wait_for(pred, timeout=timeout, interval=interval, what=what)


class Timer:
    """Prints how long each phase of a test took (to keep the suite's runtime visible)."""

    def __init__(self, name: str):
        self.name = name
        self.t0 = time.monotonic()

    def mark(self, what: str) -> None:
        print(f"[{self.name}] {time.monotonic() - self.t0:6.2f}s {what}", flush=True)
