#!/usr/bin/python3
"""herald-addr creating its own dummy interface through libnl, for real.

The scenario (a busybox/POSIX shell script) runs where the kernel has the dummy driver:
- in a network namespace the test creates, when the host kernel can make dummy links;
- otherwise inside a throw-away virtual machine: Debian's cloud kernel (linux-image-cloud-amd64,
  installed by .ci/deps.sh) booted by qemu with an initramfs this
  test builds from busybox, the kernel's dummy.ko, herald-addr and iproute2 with their shared
  libraries. The VM has no network card; its serial console is the scenario's output.

Either way the same lines are checked: the interface is created as kind dummy and brought up,
the IPv4 address carries herald's label, the IPv6 one is NODAD, removal by another program and
the link going down are reported as events, remove-on-exit deletes the interface herald created
(and only that: a dummy interface that was already there is adopted and kept).

Run as root: HERALD_BUILD=<build dir> /usr/bin/python3 tests/integration/test_netlink_dummy.py
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Prints marker lines the checker below parses. `addr` is the herald-addr binary; every wait is
# bounded (at most 50 polls of 0.1 s).
SCENARIO = r"""
addr="$1"; tmp="$2"
ip() { "${IP:-ip}" "$@"; }  # the VM sets IP=/bin/ip: busybox would run its own applet
say() { echo "@@ $*"; }
wait_line() {  # file, line: up to 5 s
  i=0
  while [ $i -lt 50 ]; do
    grep -qxF "$2" "$1" && return 0
    sleep 0.1; i=$((i + 1))
  done
  say "TIMEOUT waiting for '$2' in $1"; sed 's/^/@@ LOG /' "$1"; return 1
}

# 1. herald creates hd0, binds both addresses, sees them go and the link go down, and on exit
#    deletes the interface it made.
"$addr" --interface hd0 --create-dummy --address 192.0.2.1/32 --address 2001:db8:53::1/128 \
  --label hd0:herald --readd never --remove-on-exit > "$tmp/a.log" 2>&1 &
pid=$!
wait_line "$tmp/a.log" ready && say "READY"
say "LINK $(ip -j -d link show dev hd0)"
say "ADDR $(ip -j addr show dev hd0)"
ip addr del 192.0.2.1/32 dev hd0
wait_line "$tmp/a.log" "event address-down address 192.0.2.1/32 removed from hd0" && say "SAW-REMOVAL"
ip link set hd0 down
wait_line "$tmp/a.log" "event interface-down interface hd0 is down" && say "SAW-DOWN"
kill -TERM $pid; wait $pid; say "EXIT1 $?"
sed 's/^/@@ LOG1 /' "$tmp/a.log"
if ip link show dev hd0 > /dev/null 2>&1; then say "AFTER1 present"; else say "AFTER1 gone"; fi

# 2. A dummy interface someone else made is adopted: herald adds its address, and on exit
#    removes that address but leaves the interface alone.
ip link add hd1 type dummy && ip link set hd1 up
"$addr" --interface hd1 --create-dummy --address 192.0.2.2/32 --remove-on-exit --seconds 0.5 \
  > "$tmp/b.log" 2>&1; say "EXIT2 $?"
sed 's/^/@@ LOG2 /' "$tmp/b.log"
if ip link show dev hd1 > /dev/null 2>&1; then say "AFTER2 present"; else say "AFTER2 gone"; fi
say "ADDR2 $(ip -j addr show dev hd1)"
ip link del hd1

# 3. Default keep-on-exit: the interface and addresses herald made stay for the DNS server.
"$addr" --interface hd2 --create-dummy --address 192.0.2.3/32 --seconds 0.5 > "$tmp/c.log" 2>&1
say "EXIT3 $?"
say "ADDR3 $(ip -j addr show dev hd2)"
ip link del hd2
say "DONE"
"""

# /init of the VM: mounts, loads the kernel's own dummy module, runs the scenario, powers off.
VM_INIT = """#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp && mount -t tmpfs tmp /tmp
insmod /dummy.ko || echo "@@ INSMOD-FAILED"
ip link set lo up
echo "@@ BOOTED"
IP=/bin/ip sh /scenario.sh /bin/herald-addr /tmp
poweroff -f
"""


def host_has_dummy(lab: harness.Lab) -> bool:
    ns = lab.netns("probe")
    r = ns.run("ip", "link", "add", "hprobe", "type", "dummy", check=False)
    return r.returncode == 0


def copy_with_libs(exe: str, root: str, dest: str) -> None:
    """Copies `exe` to root/dest and every shared library ldd names to the same path in root."""
    target = os.path.join(root, dest.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(exe, target)
    out = harness.run(["ldd", exe]).stdout
    for line in out.splitlines():
        parts = line.split()
        path = None
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            path = parts[2]
        elif parts and parts[0].startswith("/"):
            path = parts[0]  # the dynamic loader itself
        if path:
            t = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(t), exist_ok=True)
            shutil.copy2(os.path.realpath(path), t)


def build_initramfs(work: str, kernel_version: str, exe: str) -> str:
    root = os.path.join(work, "root")
    for d in ("bin", "sbin", "proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    busybox = shutil.which("busybox") or "/bin/busybox"
    shutil.copy2(busybox, os.path.join(root, "bin/busybox"))
    # busybox applets as links; iproute2's `ip` (for -j JSON) replaces busybox's.
    for applet in ("sh", "mount", "insmod", "sleep", "grep", "sed", "cat", "kill", "poweroff",
                   "echo", "mkdir"):
        os.symlink("busybox", os.path.join(root, "bin", applet))
    copy_with_libs(shutil.which("ip") or "/usr/sbin/ip", root, "/bin/ip")
    copy_with_libs(exe, root, "/bin/herald-addr")
    ko = glob.glob(f"/lib/modules/{kernel_version}/kernel/drivers/net/dummy.ko*")
    if not ko:
        raise FileNotFoundError(f"dummy.ko not found for kernel {kernel_version}")
    if ko[0].endswith(".ko"):
        shutil.copy2(ko[0], os.path.join(root, "dummy.ko"))
    else:
        raise RuntimeError(f"compressed module {ko[0]} not supported by this test")
    with open(os.path.join(root, "init"), "w") as f:
        f.write(VM_INIT)
    os.chmod(os.path.join(root, "init"), 0o755)
    with open(os.path.join(root, "scenario.sh"), "w") as f:
        f.write(SCENARIO)
    image = os.path.join(work, "initramfs.cpio")
    files = subprocess.run(["find", "."], cwd=root, check=True, capture_output=True).stdout
    with open(image, "wb") as out:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files,
                       stdout=out, check=True, timeout=60)
    return image


def run_in_vm(exe: str) -> str:
    kernels = sorted(glob.glob("/boot/vmlinuz-*-cloud-amd64"))
    qemu = shutil.which("qemu-system-x86_64")
    if not kernels or not qemu:
        raise FileNotFoundError("no dummy driver on this kernel and no VM kernel/qemu to test in "
                                "(install linux-image-cloud-amd64 and qemu-system-x86)")
    kernel = kernels[-1]
    version = os.path.basename(kernel)[len("vmlinuz-"):]
    work = tempfile.mkdtemp(prefix="herald-dummy-vm-")
    try:
        image = build_initramfs(work, version, exe)
        # Plain emulation: the VM lives ~10 s and KVM is not always usable (nested
        # virtualisation has been seen to hang this kernel's boot).
        argv = [qemu, "-accel", "tcg", "-m", "256", "-smp", "1", "-display", "none", "-monitor", "none",
                "-serial", "stdio", "-no-reboot", "-nic", "none",
                "-kernel", kernel, "-initrd", image,
                "-append", "console=ttyS0 panic=-1 quiet rdinit=/init"]
        print(f"booting {os.path.basename(kernel)} in qemu")
        start = time.monotonic()
        # qemu is this test's own child: the timeout kills it (by its pid) if the VM hangs.
        r = subprocess.run(argv, capture_output=True, timeout=180)
        print(f"VM ran {time.monotonic() - start:.1f} s, exit {r.returncode}")
        return r.stdout.decode(errors="replace").replace("\r", "")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_on_host(lab: harness.Lab, exe: str) -> str:
    ns = lab.netns("h")
    tmp = lab.path("scenario")
    os.makedirs(tmp, exist_ok=True)
    script = lab.write("scenario.sh", SCENARIO)
    return ns.run("sh", script, exe, tmp, timeout=60).stdout


def markers(output: str) -> dict:
    m: dict = {}
    for line in output.splitlines():
        if not line.startswith("@@ "):
            continue
        key, _, rest = line[3:].partition(" ")
        m.setdefault(key, []).append(rest)
    return m


def check(output: str) -> None:
    m = markers(output)
    assert "DONE" in m, "scenario did not finish:\n" + output[-4000:]
    assert "TIMEOUT" not in m and "INSMOD-FAILED" not in m, output[-4000:]
    assert "READY" in m, output[-4000:]

    link = json.loads(m["LINK"][0])[0]
    assert link["ifname"] == "hd0" and link["linkinfo"]["info_kind"] == "dummy", link
    assert "UP" in link["flags"], f"herald did not bring hd0 up: {link['flags']}"
    infos = {a["local"]: a for a in json.loads(m["ADDR"][0])[0]["addr_info"]}
    v4, v6 = infos.get("192.0.2.1"), infos.get("2001:db8:53::1")
    assert v4 and v4["prefixlen"] == 32 and v4.get("label") == "hd0:herald", infos
    assert v6 and v6["prefixlen"] == 128 and v6.get("nodad"), infos

    assert "SAW-REMOVAL" in m and "SAW-DOWN" in m, output[-4000:]
    assert m["EXIT1"] == ["0"], m.get("LOG1")
    assert m["AFTER1"] == ["gone"], "the dummy interface herald created outlived remove-on-exit"

    assert m["EXIT2"] == ["0"], m.get("LOG2")
    assert "bound 192.0.2.2/32 added" in m.get("LOG2", []), m.get("LOG2")
    assert m["AFTER2"] == ["present"], "herald deleted an interface it did not create"
    left = json.loads(m["ADDR2"][0])[0].get("addr_info", [])
    assert not any(a.get("local") == "192.0.2.2" for a in left), left

    assert m["EXIT3"] == ["0"]
    kept = json.loads(m["ADDR3"][0])[0].get("addr_info", [])
    assert any(a.get("local") == "192.0.2.3" for a in kept), f"keep-on-exit lost the address: {kept}"


def main() -> int:
    harness.require_root()
    exe = harness.binary("herald-addr")
    with harness.Lab("nldummy") as lab:
        if host_has_dummy(lab):
            print("host kernel has the dummy driver: running in a namespace")
            output = run_on_host(lab, exe)
        else:
            print("host kernel has no dummy driver: running in a VM")
            output = run_in_vm(exe)
    check(output)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
