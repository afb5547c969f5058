#!/usr/bin/env bash
# Packaging checks, as root on Debian 12, against a configured build directory:
#   bash packaging/checks.sh BUILD_DIR
# Builds the .deb with CPack, runs lintian (errors fail), installs the package with dpkg on this
# machine and checks what it did (herald user, shipped config valid, unit verified by
# systemd-analyze, installed man pages match --help, nothing enabled or started), then removes
# it (conffile and user kept) and purges it (everything of herald's gone but the system user and
# group, which Debian practice keeps; the checks delete them afterwards when they created them).
# Prints each check; exits non-zero on the first failure, purging the package on the way out.
# Takes well under two minutes on an already built tree.
set -euo pipefail
BUILD=$(realpath "${1:?usage: packaging/checks.sh BUILD_DIR}")
cd "$(dirname "$0")/.."
UNIT=/lib/systemd/system/herald.service
CONF=/etc/herald/herald.toml

step() { printf '\n---- %s\n' "$*"; }
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }
# check DESCRIPTION COMMAND...: runs COMMAND (bounded), ok or FAIL with its output.
check() {
  local what=$1 out
  shift
  if out=$(timeout 60 "$@" 2>&1); then ok "$what"; else printf '%s\n' "$out" >&2; fail "$what"; fi
}
installed() { dpkg-query -W -f='${db:Status-Status}' herald 2>/dev/null | grep -qv '^not-installed$'; }
# Processes whose executable is the installed daemon (by /proc/PID/exe, not by name).
herald_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = /usr/sbin/herald ] && echo "${p#/proc/}"
  done
  return 0
}

[ "$(id -u)" = 0 ] || fail "must run as root (dpkg -i)"
[ -f "$BUILD/CMakeCache.txt" ] || fail "$BUILD is not a configured build directory"
# This machine must not already have herald: the checks install and purge it.
if installed; then fail "a herald package is already installed here; remove it first"; fi
# The package's postinst creates the herald user and group and the purge keeps them (Debian
# practice); the checks delete them at the end only when they did not exist before.
user_existed=0
if getent passwd herald >/dev/null || getent group herald >/dev/null; then user_existed=1; fi

we_installed=0
cleanup() {
  if [ "$we_installed" = 1 ] && installed; then
    echo "cleanup: dpkg --purge herald"
    dpkg --purge herald >/dev/null 2>&1 || true
  fi
  if [ "$user_existed" = 0 ]; then
    if getent passwd herald >/dev/null; then userdel herald >/dev/null 2>&1 || true; fi
    if getent group herald >/dev/null; then groupdel herald >/dev/null 2>&1 || true; fi
  fi
}
trap cleanup EXIT

step "build and package (cpack)"
# Only what the package holds is built; it is staged with `cmake --install --strip` and CPack
# packs the staged tree (a plain `cpack` in the build directory gives the same package but
# first builds every target, tests included).
timeout 900 cmake --build "$BUILD" --target herald heraldctl man
stage="$BUILD/deb-stage"
rm -rf "$BUILD/deb" "$stage"
DESTDIR="$stage" timeout 120 cmake --install "$BUILD" --prefix /usr --strip >/dev/null
(cd "$BUILD" && timeout 300 cpack -G DEB -D CPACK_INSTALL_CMAKE_PROJECTS= \
   -D "CPACK_INSTALLED_DIRECTORIES=$stage;/" -D CPACK_PACKAGING_INSTALL_PREFIX=/) \
  >"$BUILD/cpack.log" 2>&1 || { cat "$BUILD/cpack.log"; fail "cpack"; }
deb=$(ls "$BUILD"/deb/herald_*.deb)
[ "$(echo "$deb" | wc -l)" = 1 ] || fail "expected one .deb in $BUILD/deb, found: $deb"
ok "built $(basename "$deb")"

step "package contents"
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}')
for f in ./usr/sbin/herald ./usr/bin/heraldctl ./lib/systemd/system/herald.service \
         ./etc/herald/herald.toml ./usr/share/man/man8/herald.8.gz \
         ./usr/share/man/man8/heraldctl.8.gz ./usr/share/man/man5/herald.toml.5.gz \
         ./usr/share/doc/herald/copyright ./usr/share/doc/herald/changelog.gz; do
  grep -qxF "$f" <<<"$contents" || fail "package lacks $f"
done
ok "programs, unit, config, man pages, copyright and changelog are in the package"
check "/etc/herald/herald.toml is a conffile" \
  bash -c "dpkg-deb -I '$deb' conffiles | grep -qx '$CONF'"
version=$(dpkg-deb -f "$deb" Version)
changelog_version=$(sed -n '1s/^herald (\([^)]*\)).*/\1/p' packaging/deb/changelog)
[ "$version" = "$changelog_version" ] ||
  fail "package version $version but packaging/deb/changelog's top entry is $changelog_version"
ok "version $version matches packaging/deb/changelog"
for field in Depends Maintainer Section; do printf '     %s: %s\n' "$field" "$(dpkg-deb -f "$deb" "$field")"; done

step "hardening of the programs (Debian's hardening build flags)"
for prog in daemon/herald daemon/heraldctl; do
  check "$prog: full RELRO (BIND_NOW)" bash -c "readelf -d '$BUILD/$prog' | grep -qE 'BIND_NOW|FLAGS_1.*NOW'"
  check "$prog: stack protector" bash -c "readelf --dyn-syms -W '$BUILD/$prog' | grep -q __stack_chk_fail"
  check "$prog: fortified libc calls" bash -c "readelf --dyn-syms -W '$BUILD/$prog' | grep -qE '__[a-z]+_chk@'"
done

step "lintian (errors fail; warnings are listed)"
set +e
lint=$(timeout 300 lintian --fail-on error --display-level '>=warning' --tag-display-limit 0 "$deb" 2>&1)
lint_rc=$?
set -e
printf '%s\n' "$lint" | grep -v '^N: ' | sed 's/^/     /' || true
[ $lint_rc -eq 0 ] || fail "lintian reports errors"
ok "lintian: no errors ($(grep -c '^W: ' <<<"$lint" || true) warnings)"

step "install (dpkg -i)"
before_pids=$(herald_pids)
we_installed=1
check "dpkg -i $(basename "$deb")" dpkg -i "$deb"
check "herald system user exists" bash -c 'getent passwd herald | grep -q ":/var/lib/herald:/usr/sbin/nologin$"'
uid=$(id -u herald)
[ "$uid" -lt 1000 ] || fail "herald's uid $uid is not a system uid"
check "herald group exists and is herald's primary group" bash -c '[ "$(id -gn herald)" = herald ]'
ok "herald is uid $uid"
check "herald --check-config $CONF (the shipped config is valid)" /usr/sbin/herald --check-config "$CONF"
check "heraldctl --help runs" /usr/bin/heraldctl --help
check "systemd-analyze verify $UNIT" systemd-analyze verify "$UNIT"
# Exposure 0.0 (locked down) .. 10.0 (unprotected); the unit scores about 2; above 3 means some
# hardening went missing.
exposure=$(systemd-analyze security --offline=true "$UNIT" 2>&1 | sed -n 's/.*Overall exposure level for herald.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security: exposure ${exposure:-?} is at most 3.0" \
  systemd-analyze security --offline=true --threshold=30 "$UNIT"
check "the unit's hardening is in place" bash -c "
  for kv in Type=notify User=herald NoNewPrivileges=yes ProtectSystem=strict WatchdogSec=30s \
            'ExecStartPre=/usr/sbin/herald --check-config $CONF'; do
    grep -qxF \"\$kv\" $UNIT || { echo \"missing \$kv\"; exit 1; }
  done"
for page in herald.8 heraldctl.8 herald.toml.5; do
  zcat "/usr/share/man/man${page##*.}/$page.gz" >"$BUILD/installed-$page"
done
check "installed herald(8) matches /usr/sbin/herald --help" \
  python3 packaging/man/manpages.py check --binary /usr/sbin/herald --page "$BUILD/installed-herald.8"
check "installed heraldctl(8) matches /usr/bin/heraldctl --help" \
  python3 packaging/man/manpages.py check --binary /usr/bin/heraldctl --page "$BUILD/installed-heraldctl.8"
check "installed herald.toml(5) describes every key of --dump-config" \
  python3 packaging/man/manpages.py check --binary /usr/sbin/herald --page "$BUILD/installed-herald.toml.5" \
  --dump-config-of "$CONF"

step "the package started and enabled nothing"
after_pids=$(herald_pids)
[ "$after_pids" = "$before_pids" ] || fail "a herald process appeared after install: $after_pids"
ok "no herald process runs"
state=$(systemctl is-enabled herald.service 2>&1 || true)
[ "$state" = disabled ] || fail "systemctl is-enabled herald.service says '$state', not disabled"
ok "herald.service is disabled"
[ ! -e /run/herald/control.sock ] || fail "/run/herald/control.sock exists"
ok "no control socket"

step "remove (dpkg -r): programs go, conffile and user stay"
# An administrator's enable must not outlive the purge below.
check "systemctl enable herald.service (by the administrator)" systemctl enable herald.service
echo "# local change" >>"$CONF"
check "dpkg -r herald" dpkg -r herald
for f in /usr/sbin/herald /usr/bin/heraldctl "$UNIT" /usr/share/man/man8/herald.8.gz; do
  [ ! -e "$f" ] || fail "$f still exists after remove"
done
ok "programs, unit and man pages removed"
[ -f "$CONF" ] || fail "$CONF was deleted by remove (a conffile must stay until purge)"
ok "$CONF kept"
getent passwd herald >/dev/null || fail "remove deleted the herald user (only purge should)"
ok "herald user kept"

step "purge (dpkg --purge): nothing left but the system user"
check "dpkg --purge herald" dpkg --purge herald
we_installed=0
! installed || fail "dpkg still lists herald"
for f in "$CONF" /etc/herald /var/lib/herald /etc/systemd/system/multi-user.target.wants/herald.service \
         /var/lib/systemd/deb-systemd-helper-enabled/herald.service.dsh-also \
         /usr/share/doc/herald; do
  [ ! -e "$f" ] || fail "$f still exists after purge"
done
ok "conffile, /etc/herald, state, enable link and docs gone"
getent passwd herald >/dev/null || fail "purge deleted the herald user (Debian practice keeps system users)"
getent group herald >/dev/null || fail "purge deleted the herald group"
ok "herald user and group kept"
[ "$(herald_pids)" = "$before_pids" ] || fail "a herald process is running"

echo
echo "packaging checks passed ($(basename "$deb"))"
