"""A DNS anycast site in namespaces, for end-to-end tests and the demo.

    upstream (router ns)  eth0 203.0.113.1/24, 2001:db8:ffff::1/64   BIRD 2 or FRR 8, AS 65000
          |  veth
    node (herald ns)      eth0 203.0.113.2/24, 2001:db8:ffff::2/64   herald, AS 65053
                          lo   192.0.2.53/32, 2001:db8:53::53/128 (added by herald)
                          unbound answering www.example. A 192.0.2.80 on those addresses

Everything is created by harness.Lab and removed when the lab closes.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from typing import Optional

import harness

ROUTER_V4, NODE_V4 = "203.0.113.1", "203.0.113.2"
ROUTER_V6, NODE_V6 = "2001:db8:ffff::1", "2001:db8:ffff::2"
SERVICE_V4, SERVICE_V6 = "192.0.2.53", "2001:db8:53::53"
PREFIX_V4, PREFIX_V6 = SERVICE_V4 + "/32", SERVICE_V6 + "/128"
ROUTER_AS, NODE_AS = 65000, 65053


# The upstream's import filter: accepts herald's routes and honours GRACEFUL_SHUTDOWN (RFC 8326)
# by lowering local preference, as an operator's import filter would (BIRD does not by itself).
FROM_HERALD_FILTER = """filter from_herald {
  if (65535, 0) ~ bgp_community then bgp_local_pref = 0;
  accept;
}"""


def upstream_bird_config(more_config: str = "", log: Optional[str] = None, **bgp) -> str:
    """BIRD upstream: protocol `herald` towards the node, importing through FROM_HERALD_FILTER
    and exporting nothing; `bgp` holds further harness.bird_bgp() keywords (hold, extra,
    families), `more_config` further config (BFD, more sessions), `log` harness.bird_config's."""
    herald = harness.bird_bgp("herald", ROUTER_V4, ROUTER_AS, NODE_V4, NODE_AS,
                              import_filter="filter from_herald", **bgp)
    return harness.bird_config(ROUTER_V4, herald, extra=FROM_HERALD_FILTER + "\n" + more_config, log=log)


def frr_config() -> str:
    return f"""
frr defaults traditional
router bgp {ROUTER_AS}
 bgp router-id {ROUTER_V4}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor {NODE_V4} remote-as {NODE_AS}
 neighbor {NODE_V4} timers 3 9
 neighbor {NODE_V4} timers connect 2
 address-family ipv4 unicast
  neighbor {NODE_V4} activate
 exit-address-family
 address-family ipv6 unicast
  neighbor {NODE_V4} activate
 exit-address-family
"""


def herald_global(lab: harness.Lab, *, local_as: int = NODE_AS, router_id: str = NODE_V4,
                  drain_on_shutdown: bool = False, more: str = "") -> str:
    """herald's [global] section as the tests run it: no listener (it connects), control socket
    and state in the lab, no user switch, a 5 s shutdown; `more` holds further key lines."""
    return f"""
[global]
local-as = {local_as}
router-id = "{router_id}"
listen = false
control-socket = "{lab.path('herald.sock')}"
state-dir = "{lab.path('state')}"
user = ""
drain-on-shutdown = {"true" if drain_on_shutdown else "false"}
shutdown-timeout = "5s"
{more}"""


def herald_peer(name: str, address: str, remote_as: int, local_address: str, *, hold_time: str = "9s",
                families: Optional[list[str]] = None, more: str = "") -> str:
    """One [[peer]] herald connects to from `local_address` (retrying every second); `families`
    None leaves herald's default; `more` holds further key lines, each ending in a newline."""
    fams = "families = [" + ", ".join(f'"{f}"' for f in families) + "]\n" if families is not None else ""
    return f"""
[[peer]]
name = "{name}"
address = "{address}"
remote-as = {remote_as}
local-address = "{local_address}"
hold-time = "{hold_time}"
connect-retry = "1s"
{fams}{more}"""


def herald_service(name: str, prefixes: list[str], checks: list[str], *, interval: str = "200ms",
                   timeout: str = "500ms", rise: int = 2, fall: int = 2, flap_max_changes: int = 0,
                   more: str = "") -> str:
    """One [[service]] as the tests run it: `prefixes`, checks every `interval` (fast-interval
    the same, no splay), `flap_max_changes` (0: no flap damping), one [[service.check]] for each
    entry of `checks` (its key lines), then `more` (further sections, e.g. a drained policy)."""
    quoted = ", ".join(f'"{p}"' for p in prefixes)
    text = f"""
[[service]]
name = "{name}"
prefixes = [{quoted}]

[service.health]
interval = "{interval}"
fast-interval = "{interval}"
timeout = "{timeout}"
rise = {rise}
fall = {fall}
splay = false

[service.flap]
max-changes = {flap_max_changes}
"""
    for check in checks:
        text += "\n[[service.check]]\n" + check.strip("\n") + "\n"
    return text + more


def upstream_peer(*, hold_time: str = "9s", more: str = "") -> str:
    """The [[peer]] towards the upstream router: both families, next-hop-v6 the node's address;
    `more` holds further key lines, each ending in a newline."""
    return herald_peer("upstream", ROUTER_V4, ROUTER_AS, NODE_V4, hold_time=hold_time,
                       families=["ipv4-unicast", "ipv6-unicast"], more=f'next-hop-v6 = "{NODE_V6}"\n' + more)


def herald_config(lab: harness.Lab, *, interval: str = "100ms", timeout: str = "80ms",
                  rise: int = 2, fall: int = 2, drain_period: str = "2s",
                  extra_services: str = "", drain_on_shutdown: bool = False,
                  hold_time: str = "9s", connect_retry_max: str = "2m", flap_max_changes: int = 6,
                  max_prefix: int = 0, peer_extra: str = "") -> str:
    limit = f"max-prefix = {max_prefix}\n" if max_prefix else ""
    limit += peer_extra
    peer = upstream_peer(hold_time=hold_time, more=f'connect-retry-max = "{connect_retry_max}"\n' + limit)
    www = 'type = "dns"\nname = "www"\nqname = "www.example."\nqtype = "A"\nexpect = ["192.0.2.80"]'
    drained = f"""
[service.policy.drained]
action = "announce"
communities = ["graceful-shutdown"]
drain-period = "{drain_period}"
{extra_services}
"""
    return herald_global(lab, drain_on_shutdown=drain_on_shutdown, more='metrics = "127.0.0.1:9179"\n') + peer + \
        herald_service("dns", [PREFIX_V4, PREFIX_V6], [www], interval=interval, timeout=timeout, rise=rise,
                       fall=fall, flap_max_changes=flap_max_changes, more=drained)


class Site:
    """The two namespaces, the router, the DNS server and herald."""

    def __init__(self, lab: harness.Lab, router: str = "bird", wan: bool = False, bird_log: Optional[str] = None):
        """wan=True puts a namespace "wan" between router and node whose two interfaces are joined
        only by fault_relay.py (self.relay), so a test can make the link lose and delay frames.
        bird_log: BIRD's log classes on its stderr (its proc log), e.g. "all"; None: BIRD's default."""
        self.lab = lab
        self.up = lab.netns("up")
        self.node = lab.netns("node")
        self.relay: Optional[harness.Proc] = None
        self.relay_params = lab.path("relay.json")
        if wan:
            self._wan_link()
        else:
            lab.link(self.up, f"{ROUTER_V4}/24", self.node, f"{NODE_V4}/24",
                     v6=(f"{ROUTER_V6}/64", f"{NODE_V6}/64"))
        self.router_kind = router
        self.bird: Optional[harness.Bird] = None
        self.frr: Optional[harness.Frr] = None
        if router == "bird":
            self.bird = lab.bird(self.up, upstream_bird_config(log=bird_log))
        else:
            self.frr = lab.frr(self.up, frr_config())
        self.dns: Optional[harness.Unbound] = None
        self.herald: Optional[harness.Proc] = None
        self.config_path = lab.path("herald.toml")
        # Where herald's control socket is (the config's control-socket must say the same).
        self.socket = lab.path("herald.sock")

    def _wan_link(self) -> None:
        wan = self.lab.netns("wan")
        relay = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_relay.py")
        tag = os.getpid() % 10000
        for ns, end, mid, addrs in ((self.up, f"w{tag}u", "ru", (f"{ROUTER_V4}/24", f"{ROUTER_V6}/64")),
                                    (self.node, f"w{tag}n", "nd", (f"{NODE_V4}/24", f"{NODE_V6}/64"))):
            harness.run(["ip", "link", "add", end, "netns", ns.name, "type", "veth", "peer", "name", mid,
                         "netns", wan.name])
            ns.run("ip", "link", "set", end, "name", "eth0")
            ns.run("ip", "addr", "add", addrs[0], "dev", "eth0")
            ns.run("ip", "-6", "addr", "add", addrs[1], "dev", "eth0", "nodad")
            ns.run("ip", "link", "set", "eth0", "up")
            ns.run("/usr/bin/python3", relay, "--tx-csum-off", "eth0")
            # No addresses and no IPv6 on the relay's ports: only the relay handles their frames.
            wan.run("sysctl", "-q", "-w", f"net.ipv6.conf.{mid}.disable_ipv6=1", check=False)
            wan.run("ip", "link", "set", mid, "promisc", "on", "up")
        self.relay = wan.popen(["/usr/bin/python3", relay, "--a", "nd", "--b", "ru", "--params", self.relay_params,
                                "--seed", os.environ.get("HERALD_FAULT_SEED", "1")], "relay")

    # --- DNS server ---
    def start_dns(self) -> harness.Unbound:
        # ip-freebind: unbound may start before herald has put the service address on lo.
        self.dns = self.lab.unbound(self.node, SERVICE_V4, ["www.example. A 192.0.2.80"],
                                    extra=f"    interface: {SERVICE_V6}@53\n    ip-freebind: yes\n",
                                    name=f"unbound-{len(self.lab.procs)}")
        return self.dns

    def stop_dns(self) -> None:
        if self.dns:
            self.dns.proc.stop()
            self.dns = None

    # --- herald ---
    def write_config(self, text: str) -> None:
        with open(self.config_path, "w") as f:
            f.write(text)

    def start_herald(self, config: Optional[str] = None, env: Optional[dict] = None) -> harness.Proc:
        if config is not None:
            self.write_config(config)
        self.herald = self.node.popen([harness.binary("herald"), "-c", self.config_path],
                                      f"herald-{len(self.lab.procs)}", env=env)
        harness.wait_for(lambda: os.path.exists(self.socket) or not self.herald.alive(),
                         timeout=10, what="herald's control socket")
        if not self.herald.alive():
            raise RuntimeError("herald exited at start:\n" + self.herald.log())
        return self.herald

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return harness.run([harness.binary("heraldctl"), "--socket", self.socket, *args],
                           check=check, timeout=10)

    def status(self) -> dict:
        return json.loads(self.ctl("status", "--json").stdout)

    # --- what the router sees ---
    def router_routes(self) -> dict:
        """prefix -> attribute text, from the router's own RIB."""
        if self.bird:
            out = {}
            for table in ("master4", "master6"):
                text = self.bird.ctl(f"show route table {table} all", check=False).stdout
                current = None
                for line in text.splitlines():
                    m = re.match(r"^(\S+/\d+)\s+", line)
                    if m:
                        current = m.group(1)
                        out[current] = line
                    elif current:
                        out[current] += "\n" + line
            return out
        out = {}
        for fam in ("ipv4", "ipv6"):
            j = self.frr.json(f"show bgp {fam} unicast json")
            for prefix, paths in j.get("routes", {}).items():
                out[prefix] = json.dumps(paths)
        return out

    def has_route(self, prefix: str) -> bool:
        return prefix in self.router_routes()

    def session_up(self) -> bool:
        if self.bird:
            return self.bird.established("herald")
        return self.frr.neighbor_state(NODE_V4) == "Established"

    def wait_route(self, prefix: str, present: bool, timeout: float, interval: float = 0.02) -> float:
        """Seconds until `prefix` is (or is no longer) in the router's RIB."""
        t0 = time.monotonic()
        harness.wait_for(lambda: self.has_route(prefix) == present, timeout=timeout, interval=interval,
                         what=f"{prefix} {'in' if present else 'gone from'} the router's RIB")
        return time.monotonic() - t0
