#!/bin/bash
# Becomes PID 1 (systemd) of a sandbox made for one test: run as
#   unshare --pid --fork --mount --uts --ipc --cgroup --propagation private [--net] \
#           systemd_sandbox.sh LAB_DIR UNIT_DIR
# from a process already moved into a cgroup of its own (systemd_lab.py does all of this).
# systemd must see nothing it could change on the host, so before it starts:
#  - /, /dev, /sys and /proc/sys are read-only in this mount namespace (the kernel keeps the
#    rest of the host from seeing any mount made here);
#  - /run, /tmp, /var/tmp and /dev/shm are empty tmpfs of its own, the lab directory is bound
#    writable at /run/lab and at its own path;
#  - the cgroup hierarchies are mounted again inside the cgroup namespace: systemd's root is the
#    cgroup the caller made, not the host's;
#  - container=herald-test makes systemd skip what it does only on a real machine (kernel
#    modules, sysctls, the clock), and the units it would start at boot are masked besides: the
#    only units started are the test's, from UNIT_DIR, with no default dependencies.
set -euo pipefail
lab=$1
units=$2
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/lab /run/systemd/system /run/systemd/system.control /run/dbus
mount --bind "$lab" /run/lab
for u in systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service \
         systemd-tmpfiles-setup-dev-early.service systemd-tmpfiles-clean.service \
         systemd-tmpfiles-clean.timer systemd-udevd.service systemd-udevd-control.socket \
         systemd-udevd-kernel.socket systemd-udev-trigger.service systemd-udev-settle.service \
         systemd-sysctl.service systemd-modules-load.service systemd-remount-fs.service \
         systemd-sysusers.service systemd-journald.service systemd-journald.socket \
         systemd-journald-dev-log.socket systemd-journald-audit.socket systemd-journal-flush.service \
         systemd-update-utmp.service systemd-random-seed.service systemd-binfmt.service \
         systemd-hwdb-update.service systemd-machine-id-commit.service systemd-firstboot.service \
         systemd-networkd.service systemd-resolved.service systemd-timesyncd.service \
         systemd-logind.service getty.target sysinit.target basic.target local-fs.target \
         swap.target cryptsetup.target; do
  ln -s /dev/null "/run/systemd/system.control/$u"
done
cp "$units"/* /run/systemd/system.control/
for d in /tmp /var/tmp /dev/shm; do mount -t tmpfs -o mode=1777 tmpfs "$d"; done
mount -t proc proc /proc
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount -t tmpfs -o mode=0755 tmpfs /sys/fs/cgroup
mkdir /sys/fs/cgroup/systemd /sys/fs/cgroup/unified
mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
mount -o remount,bind,ro /sys/fs/cgroup
mount -o remount,bind,ro /sys
mount -o remount,bind,ro /dev
mount -o remount,bind,ro /
# The lab at its own path too, so that paths in configurations mean the same on both sides.
mkdir -p "$lab"
mount --bind /run/lab "$lab"
ip link set lo up
export container=herald-test
exec /lib/systemd/systemd --system --unit=herald-test.target --log-target=console --log-level=info \
  --show-status=false </dev/null
