#!/usr/bin/env bash
# Installs the Debian packages herald needs, as root on Debian 12:
#   bash .ci/deps.sh          everything to build, test, fuzz, benchmark and package herald
#   bash .ci/deps.sh --demo   only what tests/demo.sh uses: the toolchain, the libraries, BIRD,
#                             unbound, iproute2 and dig (a fresh machine installs it in a few minutes
#                             rather than pulling qemu, a kernel image, prometheus and lintian)
# Package services (frr, unbound, bird) must not start on install:
# tests and the demo start their own instances inside network namespaces.
set -euo pipefail

DEMO_PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config g++
  # libraries
  libboost-dev libfmt-dev libtomlplusplus-dev libnl-3-dev libnl-route-3-dev doctest-dev
  libldns-dev nlohmann-json3-dev libsystemd-dev libcli11-dev
  # the /metrics registry and text serializer (herald links only libprometheus-cpp-core)
  prometheus-cpp-dev
  # the fleet's etcd client: TLS with client certificates (Boost.Asio SSL over OpenSSL)
  libssl-dev
  # the query counters: herald's own nftables table (libnftables), and nft to look at it in tests
  libnftables-dev nftables
  # the demo's upstream router and DNS server, and what its harness runs
  bird2 unbound iproute2 procps python3 dnsutils
)
PKGS=(
  "${DEMO_PKGS[@]}"
  # sanitizer and fuzzing toolchain
  clang-14 libclang-rt-14-dev
  # more real peers and tools for integration tests
  frr psmisc curl
  # the fleet's store: a 3-member etcd cluster in namespaces, and etcdctl for its users and roles
  etcd-server etcd-client
  # a throw-away VM for the dummy-interface test when the host kernel lacks the dummy driver
  qemu-system-x86 linux-image-cloud-amd64 busybox-static cpio
  # side-by-side benchmarks (the speakers operators use today) and packet captures
  exabgp gobgpd tcpdump dnsperf
  # operations checks
  prometheus systemd dpkg-dev lintian fakeroot
  # a real systemd with its own system bus in a sandbox of namespaces (systemd_lab.py)
  dbus-daemon util-linux
)

case "${1:-}" in
  --demo) PKGS=("${DEMO_PKGS[@]}") ;;
  "") ;;
  *) echo "usage: deps.sh [--demo]" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: must run as root (apt-get install)" >&2
  exit 1
fi

# Keep maintainer scripts from starting frr/unbound/bird/etcd system services.
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
for svc in frr unbound bird etcd; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
