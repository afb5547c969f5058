"""A real systemd for one test: systemd as PID 1 of fresh PID, mount, UTS, IPC and cgroup
namespaces (optionally inside one of the lab's network namespaces), with a D-Bus system bus of its
own, running the unit files the test gives. Nothing it does reaches the host: see
systemd_sandbox.sh for how it is walled in. Used where herald talks to systemd (the process check
that follows a unit): the machines that run the tests do not boot with systemd as PID 1.

    sd = SystemdSandbox(lab, {"dnstest.service": "..."}, netns=site.node)
    sd.systemctl("start", "dnstest.service")
    herald = sd.popen([herald, "-c", conf], "herald")    # a process inside, in its PID namespace
    sd.close()                                           # SIGKILL to its PID 1, cgroups removed

The lab directory is bound writable at the same path inside, so configurations, sockets and logs
under lab.path() work from both sides.
"""
import os
import shutil
import signal
import subprocess
import time
from typing import Optional

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEMD = "/lib/systemd/systemd"
CGROUP_HIERARCHIES = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")

# The sandbox's own units: a target starting its system bus, and the bus (a dbus-daemon run by
# systemd, as on a real machine, so that systemd registers org.freedesktop.systemd1 on it).
BASE_UNITS = {
    "herald-test.target": """[Unit]
Description=herald test sandbox
DefaultDependencies=no
Wants=dbus.socket dbus.service
""",
    "dbus.socket": """[Unit]
Description=D-Bus system bus socket of the test sandbox
DefaultDependencies=no
[Socket]
ListenStream=/run/dbus/system_bus_socket
""",
    "dbus.service": """[Unit]
Description=D-Bus system bus of the test sandbox
DefaultDependencies=no
Requires=dbus.socket
[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --nosyslog
""",
}


def available() -> Optional[str]:
    """Why a sandbox cannot be made here, or None."""
    for tool in (SYSTEMD, "/usr/bin/dbus-daemon", shutil.which("unshare") or "", shutil.which("nsenter") or ""):
        if not tool or not os.path.exists(tool):
            return f"{tool or 'unshare/nsenter'} not installed"
    for h in CGROUP_HIERARCHIES:
        if not os.path.isdir(h):
            return f"no cgroup hierarchy at {h} (the sandbox expects the hybrid layout)"
    return None


class SystemdSandbox:
    def __init__(self, lab: harness.Lab, units: dict[str, str], netns: Optional[harness.Netns] = None):
        self.lab = lab
        self.cgroup = f"herald-sd-{os.getpid()}-{len(lab.procs)}"
        self.unit_dir = lab.path(f"{self.cgroup}-units")
        os.makedirs(self.unit_dir)
        for name, text in {**BASE_UNITS, **units}.items():
            with open(os.path.join(self.unit_dir, name), "w") as f:
                f.write(text)
        for h in CGROUP_HIERARCHIES:
            os.mkdir(os.path.join(h, self.cgroup))
        # The shell joins the new cgroups, then becomes unshare: systemd's cgroup namespace is
        # rooted there. --kill-child: if the test dies, unshare's death kills the sandbox too.
        join = " ".join(f"echo $$ > {h}/{self.cgroup}/cgroup.procs;" for h in CGROUP_HIERARCHIES)
        inner = ["unshare", "--pid", "--fork", "--kill-child=SIGKILL", "--mount", "--uts", "--ipc",
                 "--cgroup", "--propagation", "private"]
        if netns is None:
            inner.append("--net")
        inner += [os.path.join(HERE, "systemd_sandbox.sh"), lab.dir, self.unit_dir]
        if netns is not None:
            inner = ["ip", "netns", "exec", netns.name] + inner
        self.proc = lab.popen(["/bin/sh", "-c", join + ' exec "$@"', "sh"] + inner, "systemd")
        self.pid1 = self._find_pid1()
        harness.wait_for(lambda: self.systemctl("is-active", "dbus.service", check=False).stdout.strip() == "active",
                         timeout=20, what="the sandbox's systemd and its system bus")

    def _find_pid1(self) -> int:
        """The host PID of the sandbox's systemd (unshare's child, running SYSTEMD)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError("the systemd sandbox exited at start:\n" + self.proc.log())
            try:
                with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except FileNotFoundError:
                children = []
            for c in children:
                try:
                    if os.readlink(f"/proc/{c}/exe") == os.path.realpath(SYSTEMD):
                        return c
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("the sandbox's systemd did not start:\n" + self.proc.log())

    def enter(self) -> list[str]:
        """The command prefix running a program inside (its PID, mount and network namespaces)."""
        return ["nsenter", "-t", str(self.pid1), "--pid", "--mount", "--net", "--uts", "--ipc", "--"]

    def run(self, *args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
        return harness.run(self.enter() + list(args), check=check, timeout=timeout)

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("systemctl", "--no-pager", *args, check=check)

    def show(self, unit: str, prop: str) -> str:
        return self.systemctl("show", "-P", prop, unit).stdout.strip()

    def popen(self, argv: list[str], log_name: str, env: Optional[dict] = None) -> harness.Proc:
        """A process inside the sandbox, owned by the lab (nsenter forks it into the PID namespace)."""
        return self.lab.popen(self.enter() + argv, log_name, env=env)

    def close(self) -> None:
        """Kills the sandbox's PID 1 by its PID (the kernel then kills everything inside) and
        removes its cgroups."""
        try:
            os.kill(self.pid1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for h in CGROUP_HIERARCHIES:
            root = os.path.join(h, self.cgroup)
            # Children first; a cgroup still holding a process (none should) is left and named.
            for d, _subdirs, _files in sorted(os.walk(root), key=lambda w: -w[0].count("/")):
                deadline = time.monotonic() + 5
                while True:
                    try:
                        os.rmdir(d)
                        break
                    except FileNotFoundError:
                        break
                    except OSError as e:
                        if time.monotonic() > deadline:
                            print(f"systemd sandbox: cannot remove cgroup {d}: {e}")
                            break
                        time.sleep(0.05)
