#!/usr/bin/python3
"""Captures real BGP messages from BIRD 2 and FRR 8 for the codec's unit tests.

Each router runs in a network namespace of its own, linked by veth to a second namespace
where a tiny BGP speaker (this file, run with --speak) connects to it once over IPv4 (IPv4
unicast) and once over IPv6 (IPv6 unicast). The speaker sends OPEN and KEEPALIVE and records
every message the router sends. The routers export a few static routes carrying a community,
a large community and a MED. Written files (whole messages, header included):

    tests/data/<router>_open.bin        the router's OPEN on the IPv4 session
    tests/data/<router>_open_v6.bin     the router's OPEN on the IPv6 session
    tests/data/<router>_update_v4.bin   first UPDATE with IPv4 NLRI
    tests/data/<router>_update_v6.bin   first UPDATE with MP_REACH_NLRI (IPv6)
    tests/data/<router>_open_role.bin   the router's OPEN on a third, IPv4 session where the
                                        router has the RFC 9234 role provider and the speaker
                                        (192.0.2.3) announces the role customer
    tests/data/<router>_update_otc.bin  first UPDATE with IPv4 NLRI on that session: the router
                                        adds the Only-to-Customer attribute (RFC 9234 5)

Run as root:  /usr/bin/python3 tests/data/capture.py [--out DIR]
Only documentation addresses are used; everything started is stopped by the harness.
"""
from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

ROUTER_AS = 65001
SPEAKER_AS = 65002
ROUTER_V4, SPEAKER_V4 = "192.0.2.1", "192.0.2.2"
ROUTER_V6, SPEAKER_V6 = "2001:db8:1::1", "2001:db8:1::2"
SPEAKER_ROLE_V4 = "192.0.2.3"  # the speaker's address on the session with roles
ROLE_CUSTOMER = 3  # RFC 9234 4.1
MARKER = b"\xff" * 16

# --------------------------------------------------------------------------------------------
# The speaker side (runs inside the speaker's namespace).


def message(msg_type: int, body: bytes) -> bytes:
    return MARKER + struct.pack("!HB", 19 + len(body), msg_type) + body


def open_message(afi: int, router_id: str, role: int | None = None) -> bytes:
    caps = b""
    caps += bytes([1, 4]) + struct.pack("!HBB", afi, 0, 1)  # multiprotocol afi/unicast
    caps += bytes([2, 0])                                   # route refresh
    caps += bytes([65, 4]) + struct.pack("!I", SPEAKER_AS)  # 4-octet AS
    if role is not None:
        caps += bytes([9, 1, role])                         # BGP Role (RFC 9234)
    params = bytes([2, len(caps)]) + caps
    body = struct.pack("!BHH4sB", 4, SPEAKER_AS, 90, socket.inet_aton(router_id), len(params)) + params
    return message(1, body)


def is_end_of_rib(msg: bytes) -> bool:
    body = msg[19:]
    if body == b"\x00\x00\x00\x00":
        return True
    # A lone empty MP_UNREACH_NLRI: withdrawn 0, attributes 6 = flags, 15, 3, AFI, SAFI.
    return len(body) == 10 and body[:4] == b"\x00\x00\x00\x06" and body[5] == 15 and body[6] == 3


def speak(router: str, afi: int, router_id: str, out: str, seconds: float, source: str | None = None,
          role: int | None = None) -> int:
    """Connects to `router` (from `source` if given), plays a minimal BGP peer (announcing `role`
    if given), writes every received message to `out`."""
    deadline = time.monotonic() + seconds
    sock = None
    while sock is None:
        try:
            sock = socket.create_connection((router, 179), timeout=2,
                                            source_address=(source, 0) if source else None)
        except OSError:
            if time.monotonic() > deadline:
                print(f"could not connect to {router}", file=sys.stderr)
                return 1
            time.sleep(0.2)
    sock.sendall(open_message(afi, router_id, role))
    received: list[bytes] = []
    buf = b""
    saw_update_nlri = None
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            chunk = None
        if chunk == b"":
            break
        if chunk:
            buf += chunk
        while len(buf) >= 19:
            length = struct.unpack("!H", buf[16:18])[0]
            if length < 19 or len(buf) < length:
                break
            msg, buf = buf[:length], buf[length:]
            received.append(msg)
            if msg[18] == 1:
                sock.sendall(message(4, b""))  # accept the OPEN
            elif msg[18] == 2 and not is_end_of_rib(msg) and saw_update_nlri is None:
                saw_update_nlri = time.monotonic()
            elif msg[18] == 3:
                deadline = 0
        # Stop at End-of-RIB once routes came (a router may send End-of-RIB before its first
        # routes are ready), or shortly after the first routes if it sends no End-of-RIB.
        if saw_update_nlri is not None and received[-1][18] == 2 and is_end_of_rib(received[-1]):
            break
        if saw_update_nlri is not None and time.monotonic() - saw_update_nlri > 3:
            break
    try:
        sock.sendall(message(3, bytes([6, 2, 0])))  # Cease / Administrative Shutdown
    except OSError:
        pass
    sock.close()
    print("received types: " + " ".join(str(m[18]) for m in received), file=sys.stderr)
    with open(out, "wb") as f:
        for m in received:
            f.write(m)
    return 0


# --------------------------------------------------------------------------------------------
# The orchestrating side.

BIRD_CONF = f"""
router id {ROUTER_V4};
log stderr all;
protocol device {{ }}
protocol static s4 {{
  ipv4;
  route 198.51.100.0/24 blackhole;
  route 203.0.113.128/25 blackhole;
}}
protocol static s6 {{
  ipv6;
  route 2001:db8:100::/48 blackhole;
  route 2001:db8:200::/56 blackhole;
}}
filter tagged {{
  bgp_community.add(({ROUTER_AS}, 100));
  bgp_large_community.add(({ROUTER_AS}, 1, 2));
  bgp_med = 50;
  accept;
}}
protocol bgp up4 {{
  local {ROUTER_V4} as {ROUTER_AS};
  neighbor {SPEAKER_V4} as {SPEAKER_AS};
  passive on;
  ipv4 {{ import none; export filter tagged; }};
}}
protocol bgp up4role {{
  local {ROUTER_V4} as {ROUTER_AS};
  neighbor {SPEAKER_ROLE_V4} as {SPEAKER_AS};
  passive on;
  local role provider;
  ipv4 {{ import none; export filter tagged; }};
}}
protocol bgp up6 {{
  local {ROUTER_V6} as {ROUTER_AS};
  neighbor {SPEAKER_V6} as {SPEAKER_AS};
  passive on;
  ipv6 {{ import none; export filter tagged; }};
}}
"""

FRR_CONF = f"""
frr defaults traditional
hostname frr-capture
log stdout
!
route-map TAG permit 10
 set community {ROUTER_AS}:100 {ROUTER_AS}:200
 set large-community {ROUTER_AS}:1:2
 set metric 50
!
router bgp {ROUTER_AS}
 bgp router-id {ROUTER_V4}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor {SPEAKER_V4} remote-as {SPEAKER_AS}
 neighbor {SPEAKER_V4} passive
 neighbor {SPEAKER_V6} remote-as {SPEAKER_AS}
 neighbor {SPEAKER_V6} passive
 neighbor {SPEAKER_ROLE_V4} remote-as {SPEAKER_AS}
 neighbor {SPEAKER_ROLE_V4} passive
 neighbor {SPEAKER_ROLE_V4} local-role provider
 address-family ipv4 unicast
  network 198.51.100.0/24 route-map TAG
  network 203.0.113.128/25 route-map TAG
  no neighbor {SPEAKER_V6} activate
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:100::/48 route-map TAG
  network 2001:db8:200::/56 route-map TAG
  neighbor {SPEAKER_V6} activate
 exit-address-family
!
"""


def split(stream: bytes) -> list[bytes]:
    out = []
    while len(stream) >= 19:
        length = struct.unpack("!H", stream[16:18])[0]
        out.append(stream[:length])
        stream = stream[length:]
    return out


def has_classic_nlri(msg: bytes) -> bool:
    body = msg[19:]
    wlen = struct.unpack("!H", body[0:2])[0]
    alen = struct.unpack("!H", body[2 + wlen:4 + wlen])[0]
    return len(body) > 4 + wlen + alen


def has_mp_reach(msg: bytes) -> bool:
    body = msg[19:]
    wlen = struct.unpack("!H", body[0:2])[0]
    alen = struct.unpack("!H", body[2 + wlen:4 + wlen])[0]
    attrs = body[4 + wlen:4 + wlen + alen]
    i = 0
    while i + 3 <= len(attrs):
        flags, code = attrs[i], attrs[i + 1]
        if flags & 0x10:
            length = struct.unpack("!H", attrs[i + 2:i + 4])[0]
            hdr = 4
        else:
            length, hdr = attrs[i + 2], 3
        if code == 14:
            return True
        i += hdr + length
    return False


def start_frr_with_zebra(lab, ns) -> None:
    """Starts zebra and bgpd in `ns`. With zebra, bgpd knows the interfaces as a real router
    does (it can then add the link-local IPv6 next hop); the zebra socket is our own."""
    import harness

    d = lab.path("frr")
    os.makedirs(d, exist_ok=True)
    os.chmod(lab.dir, 0o711)  # the frr user must reach its directory inside the lab's
    os.chmod(d, 0o777)
    zsock = os.path.join(d, "zserv.api")
    zconf = lab.write("frr/zebra.conf", "hostname frr-capture\n")
    bconf = lab.write("frr/bgpd.conf", FRR_CONF)
    # zebra has no -S; it drops to the frr user, which may write in the 0777 directory.
    ns.popen(["/usr/lib/frr/zebra", "-z", zsock, "-f", zconf, "-i", os.path.join(d, "zebra.pid"),
              "--vty_socket", d, "--vty_addr", "127.0.0.1", "-P", "0", "--log", "stdout"], "zebra")
    harness.wait_for(lambda: os.path.exists(zsock), timeout=10, what="zebra socket")
    ns.popen(["/usr/lib/frr/bgpd", "-S", "-z", zsock, "-f", bconf, "-i", os.path.join(d, "bgpd.pid"),
              "--vty_socket", d, "-A", "127.0.0.1", "-P", "0", "--log", "stdout", "--limit-fds", "1024"], "bgpd")
    harness.wait_for(lambda: harness.run(["vtysh", "--vty_socket", d, "-d", "bgpd", "-c", "show bgp summary json"],
                                         check=False).returncode == 0, timeout=15, what="bgpd to answer")


def capture(router: str, out_dir: str) -> None:
    import harness

    with harness.Lab(f"cap{router[:2]}") as lab:
        r = lab.netns("r")
        h = lab.netns("h")
        lab.link(r, f"{ROUTER_V4}/24", h, f"{SPEAKER_V4}/24", v6=(f"{ROUTER_V6}/64", f"{SPEAKER_V6}/64"))
        h.run("ip", "addr", "add", f"{SPEAKER_ROLE_V4}/24", "dev", "eth0")
        if router == "bird":
            lab.bird(r, BIRD_CONF)
        else:
            start_frr_with_zebra(lab, r)
        files = {}
        procs = []
        for key, afi, addr, extra in ((1, 1, ROUTER_V4, []), (2, 2, ROUTER_V6, []),
                                      ("role", 1, ROUTER_V4, ["--source", SPEAKER_ROLE_V4,
                                                              "--role", str(ROLE_CUSTOMER)])):
            files[key] = lab.path(f"{router}-{key}.raw")
            procs.append(h.popen(["/usr/bin/python3", os.path.abspath(__file__), "--speak", addr, str(afi),
                                  SPEAKER_V4, files[key], "20", *extra], f"speaker-{key}"))
        for p in procs:
            p.popen.wait(timeout=40)
            if p.popen.returncode != 0:
                raise RuntimeError(f"speaker failed: {p.log()}")
            print(f"{router} {p.name}: {p.log().strip()}")
        with open(files[1], "rb") as f:
            v4 = split(f.read())
        with open(files[2], "rb") as f:
            v6 = split(f.read())
        with open(files["role"], "rb") as f:
            role = split(f.read())
        picks = {
            f"{router}_open.bin": next(m for m in v4 if m[18] == 1),
            f"{router}_open_v6.bin": next(m for m in v6 if m[18] == 1),
            f"{router}_update_v4.bin": next(m for m in v4 if m[18] == 2 and has_classic_nlri(m)),
            f"{router}_update_v6.bin": next(m for m in v6 if m[18] == 2 and has_mp_reach(m)),
            f"{router}_open_role.bin": next(m for m in role if m[18] == 1),
            f"{router}_update_otc.bin": next(m for m in role if m[18] == 2 and has_classic_nlri(m)),
        }
        for name, msg in picks.items():
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(msg)
            print(f"{name}: {len(msg)} octets")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speak", nargs=5, metavar=("ROUTER", "AFI", "ROUTER_ID", "OUT", "SECONDS"))
    ap.add_argument("--source", help="with --speak: the speaker's source address")
    ap.add_argument("--role", type=int, help="with --speak: announce this RFC 9234 role")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--only", choices=["bird", "frr"])
    args = ap.parse_args()
    if args.speak:
        router, afi, rid, out, seconds = args.speak
        return speak(router, int(afi), rid, out, float(seconds), args.source, args.role)
    import harness
    harness.require_root()
    for router in ("bird", "frr"):
        if args.only in (None, router):
            capture(router, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
