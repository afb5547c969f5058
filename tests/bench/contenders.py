"""The four speakers compared by the benchmarks, each started in the node namespace of a
benchlib.Topology and announcing the same service prefixes to the same upstream BIRD:

    herald   native DNS checks (no fork), its own config file, JSON log
    exabgp   ExaBGP 4.2 with one dig_check.sh per service as an API process (prints announce /
             withdraw on stdout)
    gobgp    gobgpd with one dig_check.sh per service calling `gobgp global rib add/del`
    bird     a second BIRD 2 as the speaker, one static protocol per service and family, and one
             dig_check.sh per service running `birdc enable/disable`

A contender reports its processes (for CPU and memory), its speaker daemon's pid and its health
decisions with wall-clock timestamps (herald's log, or the scripts' decision log).
"""
from __future__ import annotations

import datetime
import json
import os
import shlex
from typing import Optional

import benchlib as bl
from benchlib import hl, harness

DIG_CHECK = os.path.join(bl.HERE, "dig_check.sh")


class Settings:
    """Health-check settings shared by every contender in one measurement."""

    def __init__(self, interval_ms: int = 100, timeout_ms: int = 80, rise: int = 2, fall: int = 2,
                 dig_time: int = 1, peers: int = 1, log_level: str = "info"):
        self.interval_ms, self.timeout_ms, self.rise, self.fall = interval_ms, timeout_ms, rise, fall
        self.dig_time, self.peers, self.log_level = dig_time, peers, log_level

    def describe(self) -> str:
        return (f"interval {self.interval_ms} ms, rise {self.rise}, fall {self.fall}, herald timeout "
                f"{self.timeout_ms} ms, dig +time={self.dig_time}")


def peer_addresses(peers: int) -> list[tuple[str, str, str]]:
    """(name, upstream address, node address) of each session."""
    return [("upstream", hl.ROUTER_V4, hl.NODE_V4), ("upstream2", bl.ROUTER_V4_B, bl.NODE_V4_B)][:peers]


class Contender:
    name = "?"

    def __init__(self, topo: bl.Topology, settings: Settings):
        self.topo, self.s, self.lab = topo, settings, topo.lab
        self.procs: list[harness.Proc] = []
        self.speaker: Optional[harness.Proc] = None
        self.decision_log = self.lab.path(f"{self.name}-decisions.log")

    # -- to implement
    def start(self) -> None:
        raise NotImplementedError

    def decisions(self) -> list[tuple[float, str, str]]:
        """(wall time, "up"/"down", service) of each health decision, in order."""
        out = []
        try:
            with open(self.decision_log) as f:
                for line in f:
                    p = line.split()
                    if len(p) == 3:
                        out.append((float(p[0]), p[1], p[2]))
        except FileNotFoundError:
            pass
        return out

    # -- common
    def roots(self) -> list[int]:
        return [p.pid for p in self.procs]

    def speaker_pid(self) -> int:
        assert self.speaker is not None
        return self.speaker.pid

    def alive(self) -> bool:
        return all(p.alive() for p in self.procs)

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop(timeout=3)

    def check_script(self, service: tuple[str, str, str], up_cmd: str, down_cmd: str) -> str:
        """A wrapper that runs dig_check.sh for one service with these settings."""
        tag, v4, _ = service
        args = [tag, v4, bl.QNAME, bl.ANSWER, str(self.s.interval_ms), str(self.s.rise), str(self.s.fall),
                str(self.s.dig_time), self.decision_log, up_cmd, down_cmd]
        path = self.lab.write(f"{self.name}-check-{tag}.sh",
                              "#!/bin/bash\nexec /bin/bash " + shlex.join([DIG_CHECK] + args) + "\n")
        os.chmod(path, 0o755)
        return path

    def start_checks(self, up, down) -> None:
        """One check loop per service as a separate process (GoBGP and BIRD)."""
        for svc in self.topo.services:
            path = self.check_script(svc, up(svc), down(svc))
            self.procs.append(self.topo.node.popen([path], f"{self.name}-check-{svc[0]}"))


# ------------------------------------------------------------------ herald

def herald_config(lab: harness.Lab, s: Settings, services: list, *, extra_global: str = "",
                  service_extra: str = "", fast_interval_ms: Optional[int] = None) -> str:
    peers = "".join(hl.herald_peer(name, addr, hl.ROUTER_AS, local, families=["ipv4-unicast", "ipv6-unicast"],
                                   more=f'next-hop-v6 = "{hl.NODE_V6}"\n')
                    for name, addr, local in peer_addresses(s.peers))
    svcs = ""
    for tag, v4, v6 in services:
        svcs += f"""
[[service]]
name = "{tag}"
prefixes = ["{v4}/32", "{v6}/128"]

[service.health]
interval = "{s.interval_ms}ms"
fast-interval = "{fast_interval_ms or s.interval_ms}ms"
timeout = "{s.timeout_ms}ms"
rise = {s.rise}
fall = {s.fall}
splay = false

[service.flap]
max-changes = 0

[[service.check]]
type = "dns"
qname = "{bl.QNAME}"
qtype = "A"
expect = ["{bl.ANSWER}"]
{service_extra}
"""
    more = f'log-format = "json"\nlog-level = "{s.log_level}"\n{extra_global}\n'
    return hl.herald_global(lab, more=more) + peers + f"""
{svcs}
"""


def parse_ts(text: str) -> float:
    """RFC 3339 UTC ("2026-11-29T10:00:00.123Z") -> epoch seconds."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def herald_log_events(log_text: str, msg: str) -> list[dict]:
    out = []
    for line in log_text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if j.get("msg") == msg:
            j["t"] = parse_ts(j["ts"].replace("Z", "+0000"))
            out.append(j)
    return out


class Herald(Contender):
    name = "herald"

    def __init__(self, topo: bl.Topology, settings: Settings, fast_interval_ms: Optional[int] = None):
        super().__init__(topo, settings)
        self.fast_interval_ms = fast_interval_ms
        self.config_path = self.lab.path("herald.toml")

    def start(self, config: Optional[str] = None) -> None:
        self.lab.write("herald.toml", config or herald_config(self.lab, self.s, self.topo.services,
                                                              fast_interval_ms=self.fast_interval_ms))
        self.speaker = self.topo.node.popen([bl.herald_binary(), "-c", self.config_path], "herald")
        self.procs.append(self.speaker)
        sock = self.lab.path("herald.sock")
        harness.wait_for(lambda: os.path.exists(sock) or not self.speaker.alive(), 10, 0.01, "herald's control socket")
        if not self.speaker.alive():
            raise RuntimeError("herald exited at start:\n" + self.speaker.log())

    def decisions(self) -> list[tuple[float, str, str]]:
        out = []
        for j in herald_log_events(self.speaker.log(), "service state change"):
            new = {"Up": "up", "Down": "down"}.get(j.get("new"), j.get("new", "").lower())
            out.append((j["t"], new, j.get("service", "")))
        return out

    def ctl(self, *args: str, check: bool = True):
        return harness.run([bl.herald_binary("heraldctl"), "--socket", self.lab.path("herald.sock"), *args],
                           check=check, timeout=30)


# ------------------------------------------------------------------ ExaBGP

class ExaBGP(Contender):
    name = "exabgp"

    def start(self) -> None:
        self.topo.add_service_addresses()
        procs, names = "", []
        for svc in self.topo.services:
            tag, v4, v6 = svc
            up = (f"echo 'announce route {v4}/32 next-hop {hl.NODE_V4}'; "
                  f"echo 'announce route {v6}/128 next-hop {hl.NODE_V6}'")
            down = f"echo 'withdraw route {v4}/32 next-hop {hl.NODE_V4}'; echo 'withdraw route {v6}/128 next-hop {hl.NODE_V6}'"
            path = self.check_script(svc, up, down)
            procs += f"process check_{tag} {{\n  run {path};\n  encoder text;\n}}\n"
            names.append(f"check_{tag}")
        neighbors = ""
        for _, addr, local in peer_addresses(self.s.peers):
            neighbors += f"""
neighbor {addr} {{
  router-id {hl.NODE_V4};
  local-address {local};
  local-as {hl.NODE_AS};
  peer-as {hl.ROUTER_AS};
  hold-time 9;
  family {{
    ipv4 unicast;
    ipv6 unicast;
  }}
  api {{
    processes [ {' '.join(names)} ];
  }}
}}
"""
        conf = self.lab.write("exabgp/exabgp.conf", procs + neighbors)
        env = {"exabgp_daemon_user": "root", "exabgp_daemon_daemonize": "false", "exabgp_api_ack": "false",
               "exabgp_api_cli": "false", "exabgp_log_destination": "stdout"}
        self.speaker = self.topo.node.popen(["/usr/bin/python3", "/usr/sbin/exabgp", conf], "exabgp", env=env)
        self.procs.append(self.speaker)


# ------------------------------------------------------------------ GoBGP

class GoBGP(Contender):
    name = "gobgp"

    def start(self) -> None:
        self.topo.add_service_addresses()
        neighbors = ""
        for _, addr, local in peer_addresses(self.s.peers):
            neighbors += f"""
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{addr}"
    peer-as = {hl.ROUTER_AS}
  [neighbors.transport.config]
    local-address = "{local}"
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"""
        conf = self.lab.write("gobgp/gobgpd.toml", f"""
[global.config]
  as = {hl.NODE_AS}
  router-id = "{hl.NODE_V4}"
  port = -1
{neighbors}
""")
        self.speaker = self.topo.node.popen(["gobgpd", "-f", conf, "-t", "toml", "-p", "--pprof-disable",
                                             "--api-hosts", "127.0.0.1:50051"], "gobgpd")
        self.procs.append(self.speaker)
        harness.wait_for(lambda: self.topo.node.run("gobgp", "global", check=False).returncode == 0, 15, 0.1,
                         "gobgpd's API")

        def cmd(verb: str):
            return lambda svc: (f"gobgp global rib -a ipv4 {verb} {svc[1]}/32 nexthop {hl.NODE_V4} >/dev/null; "
                                f"gobgp global rib -a ipv6 {verb} {svc[2]}/128 nexthop {hl.NODE_V6} >/dev/null")
        self.start_checks(cmd("add"), cmd("del"))


# ------------------------------------------------------------------ BIRD as the speaker

class BirdSpeaker(Contender):
    name = "bird"

    def start(self) -> None:
        self.topo.add_service_addresses()
        statics = ""
        for tag, v4, v6 in self.topo.services:
            statics += (f"protocol static {tag}_v4 {{ disabled; ipv4; route {v4}/32 blackhole; }}\n"
                        f"protocol static {tag}_v6 {{ disabled; ipv6; route {v6}/128 blackhole; }}\n")
        sessions = "".join(harness.bird_bgp(name, local, hl.NODE_AS, addr, hl.ROUTER_AS, import_filter="none",
                                            export_filter="where source = RTS_STATIC", ipv6_next_hop=hl.NODE_V6)
                           for name, addr, local in peer_addresses(self.s.peers))
        b = self.lab.bird(self.topo.node, harness.bird_config(hl.NODE_V4, sessions, extra=statics, scan=10,
                                                              log="{ warning, error, fatal }"), name="bird-speaker")
        self.bird = b
        self.speaker = b.proc
        self.procs.append(self.speaker)

        def cmd(verb: str):
            return lambda svc: f"birdc -s {b.sock} {verb} '\"{svc[0]}_v*\"' >/dev/null"
        self.start_checks(cmd("enable"), cmd("disable"))


ALL = {"herald": Herald, "exabgp": ExaBGP, "gobgp": GoBGP, "bird": BirdSpeaker}
