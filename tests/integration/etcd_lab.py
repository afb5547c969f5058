"""A 3-member etcd cluster (Debian's etcd-server 3.4) in network namespaces made by harness.Lab,
and site namespaces that reach it, for the fleet's integration tests.

Layout: a switch namespace holds a bridge; every member (e1..e3, 192.0.2.11..13) and every site
(192.0.2.21, .22, ...) has one veth into it, so all of them share 192.0.2.0/24 and nothing else.
Members are started and stopped by pid (harness.Proc); data lives in the lab's temporary directory.

    with harness.Lab("fleet") as lab:
        etcd = etcd_lab.Cluster(lab)
        a = etcd.site("a")
        etcd.ctl(a, "put", "k", "v")
"""
from __future__ import annotations

import json
import os
import shutil
import time

import harness

MEMBERS = 3


def require_etcd() -> None:
    """Exit 77 (skipped) when Debian's etcd-server / etcd-client are not installed."""
    for exe in ("etcd", "etcdctl"):
        if shutil.which(exe) is None:
            print(f"SKIP: {exe} not installed (apt-get install etcd-server etcd-client)")
            raise SystemExit(77)


class Cluster:
    def __init__(self, lab: harness.Lab, members: int = MEMBERS, tls: bool = False,
                 misnamed: tuple[str, ...] = ()):
        """tls: clients must use TLS with a client certificate. misnamed: members whose server
        certificate names 192.0.2.99 instead of their own address (a client must refuse them)."""
        require_etcd()
        self.lab = lab
        self.tls = tls
        self.misnamed = misnamed
        self.scheme = "https" if tls else "http"
        self.switch = lab.netns("sw")
        self.switch.run("ip", "link", "add", "br0", "type", "bridge")
        self.switch.run("ip", "link", "set", "br0", "up")
        self._ports = 0
        self.names = [f"e{i + 1}" for i in range(members)]
        self.addrs = {n: f"192.0.2.{11 + i}" for i, n in enumerate(self.names)}
        self.ns = {n: self._attach(n, self.addrs[n]) for n in self.names}
        self.procs: dict[str, harness.Proc] = {}
        self._sites = 0
        if tls:
            self.pki = Pki(lab)
            for n in self.names:
                self.pki.issue(n, ip="192.0.2.99" if n in misnamed else self.addrs[n])
            self.pki.issue("client", ip=None)
        initial = ",".join(f"{n}=http://{self.addrs[n]}:2380" for n in self.names)
        for n in self.names:
            self.start(n, initial, new=True)
        self.wait_healthy()

    def _attach(self, name: str, addr: str) -> harness.Netns:
        ns = self.lab.netns(name)
        self._ports += 1
        a, b = f"vf{os.getpid() % 10000}a{self._ports}", f"vf{os.getpid() % 10000}b{self._ports}"
        harness.run(["ip", "link", "add", a, "netns", ns.name, "type", "veth", "peer", "name", b,
                     "netns", self.switch.name])
        ns.run("ip", "link", "set", a, "name", "eth0")
        ns.run("ip", "addr", "add", f"{addr}/24", "dev", "eth0")
        ns.run("ip", "link", "set", "eth0", "up")
        self.switch.run("ip", "link", "set", b, "master", "br0")
        self.switch.run("ip", "link", "set", b, "up")
        return ns

    def start(self, name: str, initial: str = "", new: bool = False) -> None:
        """Starts member `name` (again: its data directory keeps its identity)."""
        addr = self.addrs[name]
        data = self.lab.path(f"etcd-{name}")
        argv = ["etcd", "--name", name, "--data-dir", data,
                "--listen-client-urls", f"{self.scheme}://{addr}:2379",
                "--advertise-client-urls", f"{self.scheme}://{addr}:2379",
                "--listen-peer-urls", f"http://{addr}:2380", "--initial-advertise-peer-urls", f"http://{addr}:2380",
                "--heartbeat-interval", "100", "--election-timeout", "1000"]
        if self.tls:
            # Clients must present a certificate signed by the lab's CA.
            argv += ["--cert-file", self.pki.cert(name), "--key-file", self.pki.key(name),
                     "--client-cert-auth", "--trusted-ca-file", self.pki.ca]
        if new:
            argv += ["--initial-cluster", initial, "--initial-cluster-state", "new",
                     "--initial-cluster-token", self.lab.tag]
        self.procs[name] = self.ns[name].popen(argv, f"etcd-{name}")

    def stop(self, name: str) -> None:
        """Kills member `name` by pid (SIGKILL: a crashed member, not a polite leave)."""
        self.procs[name].kill()

    def endpoints(self, names: list[str] | None = None) -> str:
        return ",".join(f"{self.addrs[n]}:2379" for n in (names or self.names))

    def site(self, name: str) -> harness.Netns:
        """A namespace on the cluster's segment for one site's herald (192.0.2.21, .22, ...)."""
        self._sites += 1
        return self._attach(f"s-{name}", f"192.0.2.{20 + self._sites}")

    def ctl_config(self, file: str, *, service: str = "", fleet: str = "") -> str:
        """Writes `file` in the lab: a herald.toml for `heraldctl fleet -c`, with one peer, the
        service dns (`service`: its further sections, e.g. [service.fleet]) and the [fleet] of
        site a in fleet "lab" naming every member (`fleet`: further key lines, e.g. a region,
        credentials or TLS files). Returns its path."""
        quoted = ", ".join(f'"{e}"' for e in self.endpoints().split(","))
        return self.lab.write(file, f"""[global]
local-as = 64500
router-id = "192.0.2.21"

[[peer]]
name = "up1"
address = "192.0.2.254"
remote-as = 64501

[[service]]
name = "dns"
prefixes = ["198.51.100.53/32"]
{service}
[fleet]
name = "lab"
site = "a"
endpoints = [{quoted}]
{fleet}
""")

    def client_tls_keys(self) -> str:
        """The [fleet] key lines of a client with the test CA and the "client" certificate."""
        return f'tls-ca = "{self.pki.ca}"\ntls-cert = "{self.pki.cert("client")}"\ntls-key = "{self.pki.key("client")}"'

    def ctl(self, ns: harness.Netns, *args: str, user: str = "root:root-pw", check: bool = True,
            endpoints: str | None = None):
        """etcdctl (API v3) from `ns`; as `user` once authentication is on (None: no user)."""
        argv = ["etcdctl", "--endpoints", endpoints or self.endpoints(), "--dial-timeout", "3s",
                "--command-timeout", "5s"]
        if user:
            argv += ["--user", user]
        if self.tls:
            argv += ["--cacert", self.pki.ca, "--cert", self.pki.cert("client"), "--key", self.pki.key("client")]
        return ns.run(*argv, *args, check=check, timeout=20)

    def wait_healthy(self, timeout: float = 30) -> None:
        named = [n for n in self.names if n not in self.misnamed]

        def healthy():
            r = self.ctl(self.ns[self.names[0]], "endpoint", "health", "-w", "json",
                         user=None, check=False, endpoints=self.endpoints(named))
            if r.returncode != 0:
                return False
            return all(e.get("health") for e in json.loads(r.stdout))
        harness.wait_for(healthy, timeout=timeout, interval=0.2, what="every etcd member healthy")

    def leader(self) -> str:
        """The name of the member that leads now (as the members report it)."""
        r = self.ctl(self.ns[self.names[0]], "endpoint", "status", "-w", "json", user=None)
        rows = json.loads(r.stdout)
        lead = {row["Status"]["leader"] for row in rows}
        assert len(lead) == 1 and 0 not in lead, f"no single leader: {rows}"
        by_id = {row["Status"]["header"]["member_id"]: row["Endpoint"] for row in rows}
        ep = by_id[lead.pop()]
        return next(n for n in self.names if ep.endswith(f"{self.addrs[n]}:2379"))

    def enable_auth(self) -> None:
        """Creates root (password root-pw) and turns etcd authentication on."""
        n = self.ns[self.names[0]]
        self.ctl(n, "user", "add", "root:root-pw", user=None)
        self.ctl(n, "auth", "enable", user=None)

    def add_site_role(self, fleet: str, site: str, password: str, services: tuple[str, ...] = ("dns",)) -> None:
        """The per-site role of docs/fleet.md: read the fleet, write only its own site key, its own
        member record, and its own index key and floor ledger key of each of its services."""
        n = self.ns[self.names[0]]
        root = f"/herald/{fleet}/"
        role = f"herald-{fleet}-{site}"
        self.ctl(n, "role", "add", role)
        self.ctl(n, "role", "grant-permission", role, "--prefix=true", "read", root)
        self.ctl(n, "role", "grant-permission", role, "readwrite", f"{root}sites/{site}")
        self.ctl(n, "role", "grant-permission", role, "readwrite", f"{root}members/{site}")
        for service in services:
            self.ctl(n, "role", "grant-permission", role, "readwrite", f"{root}index/{service}/{site}")
            self.ctl(n, "role", "grant-permission", role, "readwrite", f"{root}floor/{service}/{site}")
        self.ctl(n, "user", "add", f"{site}:{password}")
        self.ctl(n, "user", "grant-role", site, role)


class Pki:
    """A throw-away CA and certificates made with the openssl command in the lab's directory."""

    def __init__(self, lab: harness.Lab):
        self.dir = lab.path("pki")
        os.makedirs(self.dir, exist_ok=True)
        self.ca = os.path.join(self.dir, "ca.pem")
        self._ca_key = os.path.join(self.dir, "ca.key")
        harness.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                     "-subj", "/CN=herald-lab-ca", "-keyout", self._ca_key, "-out", self.ca])

    def cert(self, name: str) -> str:
        return os.path.join(self.dir, f"{name}.pem")

    def key(self, name: str) -> str:
        return os.path.join(self.dir, f"{name}.key")

    def issue(self, name: str, ip: str | None) -> None:
        """A certificate for `name` (CN=name), with `ip` as its subjectAltName when given."""
        csr = os.path.join(self.dir, f"{name}.csr")
        ext = os.path.join(self.dir, f"{name}.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            f.write("extendedKeyUsage=serverAuth,clientAuth\n")
            if ip:
                f.write(f"subjectAltName=IP:{ip}\n")
        harness.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                     "-keyout", self.key(name), "-out", csr])
        harness.run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self._ca_key,
                     "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", self.cert(name)])


def wait_json_line(proc: harness.Proc, pred, timeout: float, what: str) -> dict:
    """Waits for a JSON line of `proc`'s output that satisfies pred; returns it."""
    def find():
        for line in proc.log().splitlines():
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if pred(j):
                return j
        return None
    return harness.wait_for(find, timeout=timeout, interval=0.05, what=what)


def now_ms() -> int:
    return int(time.time() * 1000)


def floor_decisions(exe: str, eps: str, ns: dict, fleet: str, lease: dict, who, fail: bool, min_sites: str,
                    start_ms: int, page: int = 0, timeout: float = 60) -> dict:
    """The floor decision of each site of `who` (driver_fleet `floor`, in the site's namespace,
    under its lease), all starting at the same instant start_ms: site -> its JSON answer."""
    procs = {}
    for s in who:
        args = [exe, "--endpoints", eps, "floor", "--fleet", fleet, "--site", s, "--service", "dns",
                "--min-sites", min_sites, "--start-at-ms", str(start_ms), "--lease", str(lease[s])]
        if page:
            args += ["--page", str(page)]
        if fail:
            args.append("--fail")
        procs[s] = ns[s].popen(args, f"floor-{s}-{start_ms}")
    out = {}
    for s, p in procs.items():
        p.popen.wait(timeout=timeout)
        assert p.popen.returncode == 0, p.log()
        out[s] = json.loads(p.log().strip().splitlines()[-1])
    return out
