"""Test hosts for herald's integration tests: network namespaces joined by veth links, and
real BIRD 2, FRR 8 (bgpd) and unbound daemons started inside them.

Rules kept here so that no test can break them:
- only documentation addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32);
- every namespace and process is created by this module and removed by pid / by name we chose;
- every wait is bounded in time.

Use as a context manager:

    with harness.Lab("t1") as lab:
        r = lab.netns("r")            # namespace herald-t1-r
        h = lab.netns("h")
        lab.link(r, "192.0.2.1/24", h, "192.0.2.2/24", v6=("2001:db8:1::1/64", "2001:db8:1::2/64"))
        bird = lab.bird(r, config_text)
        ...
Everything is torn down on exit, also when the test fails.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Callable, Optional

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_dir() -> str:
    """The build directory holding herald's binaries (HERALD_BUILD or <repo>/build)."""
    return os.environ.get("HERALD_BUILD", os.path.join(REPO, "build"))


def binary(name: str) -> str:
    """Path of a built herald binary, searched in the build tree."""
    for sub in ("daemon", "tests/integration", "tests", ""):
        p = os.path.join(build_dir(), sub, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise FileNotFoundError(f"{name} not built under {build_dir()}")


def run(cmd: list[str], check: bool = True, timeout: float = 20, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, timeout=timeout, capture_output=True, text=True, **kw)


def wait_for(pred: Callable[[], object], timeout: float, interval: float = 0.05, what: str = "condition"):
    """Polls pred() until it returns something truthy; raises TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - polling tolerates transient errors
            last_exc = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc})" if last_exc else ""))


class Netns:
    def __init__(self, lab: "Lab", name: str):
        self.lab = lab
        self.name = name

    def cmd(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, *args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
        return run(self.cmd(*args), check=check, timeout=timeout)

    def popen(self, args: list[str], log_name: str, env: Optional[dict] = None, **kw) -> subprocess.Popen:
        """Starts a process inside this namespace; the lab kills it (by pid) on teardown."""
        return self.lab.popen(self.cmd(*args), log_name, env=env, **kw)

    def popen_lines(self, args: list[str], log_name: str, env: Optional[dict] = None) -> "LineProc":
        """Starts a line-protocol process (see LineProc) inside this namespace."""
        return self.lab.popen_lines(self.cmd(*args), log_name, env=env)

    def addrs(self) -> list:
        return json.loads(self.run("ip", "-j", "addr", "show").stdout)


class Proc:
    def __init__(self, popen: subprocess.Popen, log_path: str, name: str):
        self.popen = popen
        self.pid = popen.pid
        self.log_path = log_path
        self.name = name

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 5) -> Optional[int]:
        """SIGTERM, then SIGKILL after `timeout`; reaps the child. Returns its exit status."""
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        return self.popen.returncode

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


class LineProc(Proc):
    """A process that reads commands on stdin and answers on stdout, one line each; its stderr
    goes to the log file. Used for driver programs such as herald-speak."""

    def __init__(self, popen: subprocess.Popen, log_path: str, name: str):
        super().__init__(popen, log_path, name)
        self._pending = b""

    def send(self, line: str) -> None:
        """Writes one command line."""
        assert self.popen.stdin is not None
        self.popen.stdin.write((line.rstrip("\n") + "\n").encode())
        self.popen.stdin.flush()

    def read_line(self, timeout: float = 5) -> str:
        """The next stdout line; raises TimeoutError when none arrives within `timeout` s."""
        import select
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no output line from {self.name} within {timeout}s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise EOFError(f"{self.name} closed its stdout")
                self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode(errors="replace")

    def request(self, line: str, timeout: float = 5) -> str:
        """Sends a command and returns the one-line answer."""
        self.send(line)
        return self.read_line(timeout)

    def stop(self, timeout: float = 5) -> Optional[int]:
        for f in (self.popen.stdin, self.popen.stdout):
            try:
                if f:
                    f.close()
            except OSError:
                pass
        return super().stop(timeout)


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ValueError(f"no VmRSS for pid {pid}")


def _exit_on_signal(signum, _frame) -> None:
    raise SystemExit(128 + signum)


class Lab:
    """A set of namespaces, links and processes owned by one test; removed on exit."""

    def __init__(self, tag: str):
        require_root()
        # SIGTERM (e.g. from a runner's timeout) unwinds like an exception, so __exit__ cleans up.
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_signal)
        # Namespace names: herald-<tag>-<name>; tag should be unique per test.
        self.tag = f"{tag}-{os.getpid() % 100000}"
        self.dir = tempfile.mkdtemp(prefix=f"herald-{tag}-")
        self.namespaces: list[Netns] = []
        self.procs: list[Proc] = []
        self.keep = os.environ.get("HERALD_KEEP_LAB") == "1"

    # --- lifecycle ---
    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # close() must run whatever happens here (a closed stdout makes printing raise).
        try:
            if exc_type is not None:
                self.dump_logs()
        except Exception:  # noqa: BLE001
            pass
        finally:
            self.close()

    def close(self) -> None:
        # A second SIGTERM (a runner's timeout forwarding one to the whole process group) must
        # not cut the clean-up short: it is ignored until the lab is gone.
        previous = signal.getsignal(signal.SIGTERM)
        if previous is _exit_on_signal:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self._close()
        finally:
            if previous is _exit_on_signal:
                signal.signal(signal.SIGTERM, previous)

    def _close(self) -> None:
        for p in reversed(self.procs):
            try:
                p.stop(timeout=3)
            except Exception:  # noqa: BLE001
                pass
        for ns in reversed(self.namespaces):
            run(["ip", "netns", "del", ns.name], check=False)
        self.namespaces.clear()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def dump_logs(self) -> None:
        for p in self.procs:
            text = p.log()
            if text:
                print(f"----- log of {p.name} (pid {p.pid}) -----")
                print(text[-6000:])

    # --- building blocks ---
    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def write(self, name: str, text: str) -> str:
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        return p

    def netns(self, name: str) -> Netns:
        full = f"hd-{self.tag}-{name}"[:15 + 16]
        run(["ip", "netns", "add", full])
        ns = Netns(self, full)
        self.namespaces.append(ns)
        ns.run("ip", "link", "set", "lo", "up")
        # IPv6 addresses must be usable at once (no DAD delay) inside test namespaces.
        ns.run("sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", check=False)
        ns.run("sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0", check=False)
        return ns

    def link(self, a: Netns, a_addr: str, b: Netns, b_addr: str,
             v6: Optional[tuple[str, str]] = None, name_a: str = "eth0", name_b: str = "eth0") -> None:
        """A veth pair between two namespaces with documentation addresses on each end."""
        tmp_a = f"v{os.getpid() % 10000}a{len(self.namespaces)}{len(self.procs)}"[:15]
        tmp_b = f"v{os.getpid() % 10000}b{len(self.namespaces)}{len(self.procs)}"[:15]
        run(["ip", "link", "add", tmp_a, "netns", a.name, "type", "veth", "peer", "name", tmp_b, "netns", b.name])
        a.run("ip", "link", "set", tmp_a, "name", name_a)
        b.run("ip", "link", "set", tmp_b, "name", name_b)
        a.run("ip", "addr", "add", a_addr, "dev", name_a)
        b.run("ip", "addr", "add", b_addr, "dev", name_b)
        if v6:
            a.run("ip", "-6", "addr", "add", v6[0], "dev", name_a, "nodad")
            b.run("ip", "-6", "addr", "add", v6[1], "dev", name_b, "nodad")
        a.run("ip", "link", "set", name_a, "up")
        b.run("ip", "link", "set", name_b, "up")

    def popen(self, argv: list[str], log_name: str, env: Optional[dict] = None, **kw) -> Proc:
        log_path = self.path(f"{log_name}.log")
        logf = open(log_path, "ab")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=full_env, **kw)
        logf.close()
        proc = Proc(p, log_path, log_name)
        self.procs.append(proc)
        return proc

    def popen_lines(self, argv: list[str], log_name: str, env: Optional[dict] = None) -> LineProc:
        """Like popen, with stdin and stdout as pipes for a line protocol (see LineProc)."""
        log_path = self.path(f"{log_name}.log")
        logf = open(log_path, "ab")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=logf, stdin=subprocess.PIPE, env=full_env)
        logf.close()
        proc = LineProc(p, log_path, log_name)
        self.procs.append(proc)
        return proc

    # --- real daemons ---
    def bird(self, ns: Netns, config: str, name: str = "bird") -> "Bird":
        """Starts BIRD 2 in `ns` with `config` (foreground, own control socket)."""
        conf = self.write(f"{name}/bird.conf", config)
        sock = self.path(f"{name}/bird.ctl")
        proc = ns.popen(["bird", "-f", "-c", conf, "-s", sock], name)
        b = Bird(self, ns, proc, sock, conf)
        wait_for(lambda: b.ctl("show status", check=False).returncode == 0 and "Daemon is up" in b.ctl("show status", check=False).stdout,
                 timeout=10, what=f"BIRD in {ns.name} to answer")
        return b

    def frr(self, ns: Netns, bgpd_config: str, name: str = "frr") -> "Frr":
        """Starts FRR's bgpd alone (no zebra) in `ns` with `bgpd_config`."""
        d = self.path(name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o777)
        conf = self.write(f"{name}/bgpd.conf", bgpd_config)
        proc = ns.popen(["/usr/lib/frr/bgpd", "-S", "-Z", "-f", conf, "-i", os.path.join(d, "bgpd.pid"),
                         "--vty_socket", d, "-A", "127.0.0.1", "-P", "0", "--log", "stdout",
                         "--limit-fds", "1024"], name)
        f = Frr(self, ns, proc, d, conf)
        wait_for(lambda: f.vtysh("show bgp summary json", check=False).returncode == 0, timeout=15,
                 what=f"FRR bgpd in {ns.name} to answer")
        return f

    def unbound(self, ns: Netns, address: str, local_data: list[str], extra: str = "",
                name: str = "unbound", port: int = 53) -> "Unbound":
        """Starts unbound on `address` in `ns`, answering `local_data` records authoritatively."""
        d = self.path(name)
        os.makedirs(d, exist_ok=True)
        zone_lines = "\n".join(f'    local-data: "{rr}"' for rr in local_data)
        conf = self.write(f"{name}/unbound.conf", f"""server:
    interface: {address}@{port}
    port: {port}
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{d}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    do-ip6: yes
    access-control: 0.0.0.0/0 allow
    access-control: ::/0 allow
    num-threads: 1
    so-reuseport: no
    local-zone: "example." static
{zone_lines}
{extra}
remote-control:
    control-enable: no
""")
        proc = ns.popen(["unbound", "-d", "-c", conf], name)
        u = Unbound(self, ns, proc, conf, address, port)
        return u


def same_since(a: float, b: float, tolerance: float = 0.02) -> bool:
    """Two Bird.protocol_since() readings of one unchanged session (within `tolerance` seconds;
    a session reset moves it by at least the time since the first reading)."""
    d = abs(a - b) % 86400
    return min(d, 86400 - d) <= tolerance


def bird_config(router_id: str, protocols: str, extra: str = "", log: Optional[str] = "all",
                scan: int = 1) -> str:
    """A BIRD 2 configuration: `log stderr <log>;` (a class list such as "all" or
    "{ warning, error, fatal }"; None keeps BIRD's default), the router id, the device protocol
    scanning interfaces every `scan` seconds, then `extra` (filters, static routes, BFD: what
    the protocols refer to) and `protocols` (bird_bgp() blocks)."""
    head = f"log stderr {log};\n" if log is not None else ""
    return f"""{head}router id {router_id};
protocol device {{ scan time {scan}; }}
{extra}
{protocols}
"""


def bird_bgp(name: str, local: str, local_as: int, neighbor: str, neighbor_as: int, *, hold: int = 9,
             extra: str = "", import_filter: str = "all", export_filter: str = "none",
             families: tuple[str, ...] = ("ipv4", "ipv6"), ipv6_next_hop: Optional[str] = None) -> str:
    """One BIRD BGP protocol with timers short enough for tests (keepalive a third of `hold`,
    reconnect within 2 s), a channel per family in `families` importing `import_filter` ("all",
    "none", "filter NAME") and exporting `export_filter`; `extra` holds further protocol lines
    (password, roles, BFD); `ipv6_next_hop` sets the IPv6 channel's next hop address."""
    channels = ""
    for family in families:
        nh = f" next hop address {ipv6_next_hop};" if family == "ipv6" and ipv6_next_hop else ""
        channels += f"  {family} {{ import {import_filter}; export {export_filter};{nh} }};\n"
    return f"""
protocol bgp {name} {{
  local {local} as {local_as};
  neighbor {neighbor} as {neighbor_as};
  hold time {hold}; keepalive time {max(1, hold // 3)};
  connect delay time 1; connect retry time 2; error wait time 1, 2;
{extra}
{channels}}}
"""


class Bird:
    def __init__(self, lab: Lab, ns: Netns, proc: Proc, sock: str, conf: str):
        self.lab, self.ns, self.proc, self.sock, self.conf = lab, ns, proc, sock, conf

    def ctl(self, command: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["birdc", "-s", self.sock, *command.split()], check=check, timeout=10)

    def routes(self, table: str = "master4") -> str:
        return self.ctl(f"show route table {table} all").stdout

    def protocol_state(self, proto: str) -> str:
        out = self.ctl(f"show protocols {proto}", check=False).stdout
        for line in out.splitlines():
            if line.startswith(proto):
                return line
        return ""

    def protocol_since(self, proto: str) -> float:
        """When `proto` last changed state, as BIRD shows it ("10:00:01.123"), in seconds of the
        day. BIRD keeps that time on its monotonic clock and converts it to wall-clock time for
        each `show protocols`, so the text can move by a millisecond when the system clock is
        slewed: compare two readings with same_since(), not as strings."""
        fields = self.protocol_state(proto).split()
        if len(fields) < 5 or fields[4].count(":") != 2:
            raise AssertionError(f"no 'since' for {proto}: {fields}")
        h, m, sec = fields[4].split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)

    def established(self, proto: str) -> bool:
        return "Established" in self.protocol_state(proto)


class Frr:
    def __init__(self, lab: Lab, ns: Netns, proc: Proc, vty_dir: str, conf: str):
        self.lab, self.ns, self.proc, self.vty_dir, self.conf = lab, ns, proc, vty_dir, conf

    def vtysh(self, command: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["vtysh", "--vty_socket", self.vty_dir, "-d", "bgpd", "-c", command], check=check, timeout=10)

    def json(self, command: str) -> dict:
        return json.loads(self.vtysh(command).stdout or "{}")

    def neighbor_state(self, addr: str) -> str:
        j = self.json(f"show bgp neighbors {addr} json")
        return j.get(addr, {}).get("bgpState", "")


class Unbound:
    def __init__(self, lab: Lab, ns: Netns, proc: Proc, conf: str, address: str, port: int):
        self.lab, self.ns, self.proc, self.conf, self.address, self.port = lab, ns, proc, conf, address, port

    def wait_ready(self, name: str = "www.example.", timeout: float = 10) -> None:
        def ok() -> bool:
            r = self.ns.run("dig", f"@{self.address}", "-p", str(self.port), "+time=1", "+tries=1", name, check=False)
            return "status: NOERROR" in r.stdout
        wait_for(ok, timeout=timeout, what=f"unbound on {self.address}")


def run_check(ns: Optional[Netns], *args: str, timeout_ms: int) -> dict:
    """Runs herald-check once with `args` (in `ns`, or here when None) and returns its last JSON
    line, the result, plus "took" (seconds). Asserts that it printed one and that its exit
    code says the same as its "pass"."""
    cmd = [binary("herald-check"), "--timeout", str(timeout_ms), *args]
    t0 = time.monotonic()
    r = ns.run(*cmd, check=False, timeout=15) if ns else run(cmd, check=False, timeout=15)
    took = time.monotonic() - t0
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    assert lines, f"no JSON from {cmd}: rc={r.returncode} stderr={r.stderr}"
    res = lines[-1]
    assert res.get("event") == "result", res
    assert r.returncode == (0 if res["pass"] else 1), (r.returncode, res)
    print(f"  {' '.join(args)[:80]:80} -> pass={res['pass']} {res['reason'][:100]!r} ({took:.2f}s)")
    res["took"] = took
    return res


# ctest's SKIP_RETURN_CODE for integration tests (tests/integration/CMakeLists.txt).
SKIP_EXIT = 77


def require_root() -> None:
    """Exits with SKIP_EXIT (ctest reports the test as skipped, not failed) unless run as root:
    network namespaces, veth links and the daemons inside them need it."""
    if os.geteuid() != 0:
        print("SKIP: integration tests need root (network namespaces)", flush=True)
        raise SystemExit(SKIP_EXIT)

