#!/usr/bin/env bash
# Installs every Debian package herald needs to build, test, fuzz, package and run its demo.
# Runs as root on Debian 12. Package services (frr, unbound, bird) must not start on install:
# tests and the demo start their own instances inside network namespaces.
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config g++ clang-14 libclang-rt-14-dev
  # libraries
  libboost-dev libfmt-dev libtomlplusplus-dev libnl-3-dev libnl-route-3-dev doctest-dev
  libldns-dev nlohmann-json3-dev libsystemd-dev libcli11-dev
  # real peers and services for integration tests and the demo
  bird2 frr unbound iproute2 procps psmisc python3 curl dnsutils
  # a throw-away VM for the dummy-interface test when the host kernel lacks the dummy driver
  qemu-system-x86 linux-image-cloud-amd64 busybox-static cpio
  # side-by-side benchmarks (the speakers operators use today) and packet captures
  exabgp gobgpd tcpdump
  # operations checks
  prometheus systemd dpkg-dev lintian fakeroot
)

if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: must run as root (apt-get install)" >&2
  exit 1
fi

# Keep maintainer scripts from starting frr/unbound/bird system services.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
# Services installed by packages must not be left running outside our namespaces.
for svc in frr unbound bird; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
