"""A scripted BGP-4 peer that can say anything, for tests of herald's reaction to bad input.

Standard library only. It speaks just enough BGP to get a session Established (OPEN with the
capabilities a test chooses, KEEPALIVE) and then sends whatever bytes the test builds, reads
herald's messages, decodes NOTIFICATIONs (code, subcode, data) and the prefixes of UPDATEs.

Sockets are created inside a test's network namespace with setns(2) on the calling thread
and keep that namespace after the thread switches back (a socket belongs to the namespace it
was made in), so no helper process is needed:

    with in_netns("hd-t-evil"):
        peer = EvilPeer.connect("198.51.100.10", "198.51.100.1")
    peer.handshake(my_as=65099, bgp_id="198.51.100.10")
    peer.send(update(attrs=..., nlri=prefix("198.18.0.0/24")))
    code, subcode, data = peer.expect_notification()

Every read has a timeout; nothing here loops without a bound.
"""
from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import select
import socket
import struct
import time
from typing import Iterator, Optional

MARKER = b"\xff" * 16
OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH = 1, 2, 3, 4, 5
# Attribute flags (RFC 4271 4.3).
OPTIONAL, TRANSITIVE, PARTIAL, EXTENDED = 0x80, 0x40, 0x20, 0x10
WELL_KNOWN = TRANSITIVE
OPT_TRANS = OPTIONAL | TRANSITIVE
OPT_NONTRANS = OPTIONAL
# Attribute type codes.
ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR, COMMUNITIES = range(1, 9)
ORIGINATOR_ID, CLUSTER_LIST, MP_REACH, MP_UNREACH, EXT_COMMUNITIES = 9, 10, 14, 15, 16
AS4_PATH, AS4_AGGREGATOR, LARGE_COMMUNITIES = 17, 18, 32
AS_SET, AS_SEQUENCE = 1, 2

_CLONE_NEWNET = 0x40000000


# ---------------------------------------------------------------- network namespaces

@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Runs the body with this thread in network namespace `name` (from `ip netns add`)."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(target, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name}")
        try:
            yield
        finally:
            if libc.setns(own, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the test's namespace")
    finally:
        os.close(target)
        os.close(own)


# ---------------------------------------------------------------- message builders

def message(msg_type: int, body: bytes = b"", *, length: Optional[int] = None,
            marker: bytes = MARKER) -> bytes:
    """A whole message; `length` and `marker` may be forced to wrong values."""
    n = 19 + len(body) if length is None else length
    return marker + struct.pack("!HB", n, msg_type) + body


def keepalive() -> bytes:
    return message(KEEPALIVE)


def notification(code: int, subcode: int, data: bytes = b"") -> bytes:
    return message(NOTIFICATION, bytes([code, subcode]) + data)


def cap_mp(afi: int, safi: int = 1) -> bytes:
    """Multiprotocol capability (RFC 4760 8)."""
    return bytes([1, 4]) + struct.pack("!HBB", afi, 0, safi)


def cap_four_octet(asn: int) -> bytes:
    """4-octet AS capability (RFC 6793)."""
    return bytes([65, 4]) + struct.pack("!I", asn)


def cap_route_refresh() -> bytes:
    return bytes([2, 0])


def default_caps(asn: int) -> list[bytes]:
    return [cap_mp(1), cap_mp(2), cap_route_refresh(), cap_four_octet(asn)]


def open_body(my_as: int, hold: int, bgp_id: str, caps: Optional[list[bytes]] = None, *,
              version: int = 4, params: Optional[bytes] = None,
              opt_len: Optional[int] = None) -> bytes:
    """OPEN body. `caps` go into one Capabilities parameter (type 2); `params` replaces the
    whole optional-parameters field; `opt_len` forces its length octet."""
    if params is None:
        cap_bytes = b"".join(caps or [])
        params = bytes([2, len(cap_bytes)]) + cap_bytes if cap_bytes else b""
    n = len(params) if opt_len is None else opt_len
    as2 = my_as if my_as <= 0xFFFF else 23456
    return struct.pack("!BHH4sB", version, as2, hold, socket.inet_aton(bgp_id), n) + params


def prefix(text: str) -> bytes:
    """NLRI encoding of one prefix: length octet, then the minimal address octets."""
    net = ipaddress.ip_network(text)
    n = (net.prefixlen + 7) // 8
    return bytes([net.prefixlen]) + net.network_address.packed[:n]


def attr(flags: int, type_code: int, value: bytes, *, length: Optional[int] = None) -> bytes:
    """One path attribute; the extended-length form when the flag is set or the value needs it;
    `length` forces the length field."""
    n = len(value) if length is None else length
    if flags & EXTENDED or n > 255:
        return struct.pack("!BBH", flags | EXTENDED, type_code, n) + value
    return struct.pack("!BBB", flags, type_code, n) + value


def as_path_value(*asns: int, seg_type: int = AS_SEQUENCE, as_size: int = 4) -> bytes:
    fmt = "!I" if as_size == 4 else "!H"
    return bytes([seg_type, len(asns)]) + b"".join(struct.pack(fmt, a) for a in asns)


def origin(value: int = 0) -> bytes:
    return attr(WELL_KNOWN, ORIGIN, bytes([value]))


def as_path(*asns: int, as_size: int = 4) -> bytes:
    return attr(WELL_KNOWN, AS_PATH, as_path_value(*asns, as_size=as_size) if asns else b"")


def next_hop(address: str) -> bytes:
    return attr(WELL_KNOWN, NEXT_HOP, socket.inet_aton(address))


def mp_reach_v6(next_hop_v6: str, *prefixes: str) -> bytes:
    value = struct.pack("!HBB", 2, 1, 16) + ipaddress.IPv6Address(next_hop_v6).packed + b"\x00"
    return attr(OPT_NONTRANS, MP_REACH, value + b"".join(prefix(p) for p in prefixes))


def mp_unreach_v6(*prefixes: str) -> bytes:
    return attr(OPT_NONTRANS, MP_UNREACH, struct.pack("!HB", 2, 1) + b"".join(prefix(p) for p in prefixes))


def update_body(withdrawn: bytes = b"", attrs: bytes = b"", nlri: bytes = b"", *,
                withdrawn_len: Optional[int] = None, attrs_len: Optional[int] = None) -> bytes:
    """UPDATE body; the two length fields may be forced to wrong values."""
    wl = len(withdrawn) if withdrawn_len is None else withdrawn_len
    al = len(attrs) if attrs_len is None else attrs_len
    return struct.pack("!H", wl) + withdrawn + struct.pack("!H", al) + attrs + nlri


def update(withdrawn: bytes = b"", attrs: bytes = b"", nlri: bytes = b"", **kw) -> bytes:
    return message(UPDATE, update_body(withdrawn, attrs, nlri, **kw))


# ---------------------------------------------------------------- message parsing

def parse_prefixes(data: bytes, afi: int) -> list[str]:
    out, i = [], 0
    while i < len(data):
        plen = data[i]
        n = (plen + 7) // 8
        raw = data[i + 1:i + 1 + n]
        if plen > (32 if afi == 1 else 128) or len(raw) != n:
            raise ValueError(f"bad prefix at offset {i}")
        size = 4 if afi == 1 else 16
        addr = ipaddress.ip_address(raw + bytes(size - n))
        out.append(f"{addr}/{plen}")
        i += 1 + n
    return out


def parse_update(body: bytes) -> dict:
    """{'withdrawn': [...], 'announced': [...], 'attrs': {type: (flags, value)}, 'eor': family}.
    Prefixes are strings, IPv4 and IPv6 (MP_REACH / MP_UNREACH) together."""
    wl = struct.unpack_from("!H", body, 0)[0]
    withdrawn = parse_prefixes(body[2:2 + wl], 1)
    al = struct.unpack_from("!H", body, 2 + wl)[0]
    attrs_raw = body[4 + wl:4 + wl + al]
    announced = parse_prefixes(body[4 + wl + al:], 1)
    attrs, i = {}, 0
    while i < len(attrs_raw):
        flags, t = attrs_raw[i], attrs_raw[i + 1]
        if flags & EXTENDED:
            n, h = struct.unpack_from("!H", attrs_raw, i + 2)[0], 4
        else:
            n, h = attrs_raw[i + 2], 3
        attrs[t] = (flags, attrs_raw[i + h:i + h + n])
        i += h + n
    eor = None
    if MP_REACH in attrs:
        v = attrs[MP_REACH][1]
        afi, nhl = struct.unpack_from("!H", v, 0)[0], v[3]
        announced += parse_prefixes(v[5 + nhl:], afi)
    if MP_UNREACH in attrs:
        v = attrs[MP_UNREACH][1]
        afi = struct.unpack_from("!H", v, 0)[0]
        withdrawn += parse_prefixes(v[3:], afi)
        if len(v) == 3 and len(attrs) == 1:
            eor = "ipv6-unicast" if afi == 2 else f"afi {afi}"
    if not body[4:] and wl == 0 and al == 0 and len(body) == 4:
        eor = "ipv4-unicast"
    return {"withdrawn": withdrawn, "announced": announced, "attrs": attrs, "eor": eor}


class SessionClosed(Exception):
    """herald closed the TCP connection."""


# ---------------------------------------------------------------- the peer

class EvilPeer:
    """One TCP connection to herald, driven message by message."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.sock.setblocking(False)
        self.buf = b""
        self.herald_open: Optional[bytes] = None
        self.routes: set[str] = set()       # what herald announces to us, by prefix
        self.keepalives = 0                 # KEEPALIVEs received from herald
        self.keepalive_times: list[float] = []

    @classmethod
    def connect(cls, local: str, remote: str, port: int = 179, timeout: float = 5) -> "EvilPeer":
        """Connects from `local` (must exist in the current namespace) to herald."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((local, 0))
        s.settimeout(timeout)
        s.connect((remote, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(s)

    @classmethod
    def accept(cls, listener: socket.socket, timeout: float = 10) -> "EvilPeer":
        """Accepts herald's connection on a listening socket the test made."""
        listener.settimeout(timeout)
        s, _ = listener.accept()
        return cls(s)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    # --- bytes ---
    def send(self, data: bytes, timeout: float = 10) -> None:
        """Writes all of `data`, reading (and keeping) herald's messages meanwhile so that
        neither side can block the other."""
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("herald did not take our bytes in time")
            r, w, _ = select.select([self.sock], [self.sock], [], left)
            if r:
                self._fill()
            if w:
                try:
                    n = self.sock.send(view[:65536])
                except BlockingIOError:
                    continue
                except (ConnectionResetError, BrokenPipeError) as e:
                    raise SessionClosed(f"herald closed the connection while we were sending: {e}")
                view = view[n:]

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except ConnectionResetError as e:
            raise SessionClosed(f"connection reset: {e}")
        if not chunk:
            raise SessionClosed("herald closed the connection")
        self.buf += chunk

    def read(self, timeout: float = 5) -> tuple[int, bytes]:
        """The next whole message from herald: (type, body). Raises TimeoutError or
        SessionClosed. KEEPALIVEs and UPDATEs are also recorded (keepalives, routes)."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 19:
                n, t = struct.unpack_from("!HB", self.buf, 16)
                if len(self.buf) >= n:
                    body, self.buf = self.buf[19:n], self.buf[n:]
                    self._note(t, body)
                    return t, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no message from herald within {timeout}s")
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                self._fill()

    def _note(self, t: int, body: bytes) -> None:
        if t == KEEPALIVE:
            self.keepalives += 1
            self.keepalive_times.append(time.monotonic())
        elif t == UPDATE:
            u = parse_update(body)
            self.routes.difference_update(u["withdrawn"])
            self.routes.update(u["announced"])

    def drain(self, seconds: float) -> None:
        """Reads (and records) whatever herald sends for `seconds`; fails if it closes."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                t, body = self.read(timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                return
            if t == NOTIFICATION:
                raise AssertionError(f"herald sent NOTIFICATION {body[0]}/{body[1]} data {body[2:].hex()}")

    # --- session ---
    def handshake(self, my_as: int, bgp_id: str, hold: int = 9, caps: Optional[list[bytes]] = None,
                  timeout: float = 5, wait_routes: Optional[set[str]] = None) -> bytes:
        """Sends our OPEN, reads herald's, exchanges KEEPALIVEs. With `wait_routes`, also reads
        until herald has announced those prefixes and sent End-of-RIB. Returns herald's OPEN."""
        self.send(message(OPEN, open_body(my_as, hold, bgp_id, default_caps(my_as) if caps is None else caps)))
        t, body = self.read(timeout)
        if t != OPEN:
            raise AssertionError(f"expected herald's OPEN, got type {t}: {body.hex()}")
        self.herald_open = body
        self.send(keepalive())
        t, body = self.read(timeout)
        if t != KEEPALIVE:
            raise AssertionError(f"expected KEEPALIVE, got type {t}: {body.hex()}")
        if wait_routes is not None:
            deadline = time.monotonic() + timeout
            eors: set[str] = set()
            while not (wait_routes <= self.routes and eors):
                t, body = self.read(max(0.01, deadline - time.monotonic()))
                if t == NOTIFICATION:
                    raise AssertionError(f"NOTIFICATION {body[0]}/{body[1]} during the initial table")
                if t == UPDATE and parse_update(body)["eor"]:
                    eors.add(parse_update(body)["eor"])
        return self.herald_open

    def expect_notification(self, timeout: float = 5) -> tuple[int, int, bytes]:
        """Reads until herald's NOTIFICATION; returns (code, subcode, data). Then checks that
        herald closes the connection (RFC 4271 6: the connection is closed after it)."""
        deadline = time.monotonic() + timeout
        while True:
            t, body = self.read(max(0.01, deadline - time.monotonic()))
            if t == NOTIFICATION:
                result = (body[0], body[1], body[2:])
                break
        try:
            while True:
                self.read(max(0.01, deadline - time.monotonic()))
        except SessionClosed:
            return result
        except TimeoutError:
            raise AssertionError(f"herald sent NOTIFICATION {result[0]}/{result[1]} but kept the connection open")

    def expect_closed(self, timeout: float = 5) -> None:
        """Reads until herald closes the connection; fails on a NOTIFICATION."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                t, body = self.read(max(0.01, deadline - time.monotonic()))
                if t == NOTIFICATION:
                    raise AssertionError(f"unexpected NOTIFICATION {body[0]}/{body[1]}")
        except SessionClosed:
            return

    def leave(self) -> None:
        """Ends the session politely: Cease / Administrative Shutdown, then close."""
        with contextlib.suppress(OSError, SessionClosed, TimeoutError):
            self.send(notification(6, 2), timeout=1)
        self.close()
