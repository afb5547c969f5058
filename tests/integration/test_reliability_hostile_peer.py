"""Hostile input from a BGP neighbor: herald answers each malformed message as the RFCs say
and nothing else changes.

    upstream ns  BIRD 2 (AS 65000)  --veth--  node ns: herald (AS 65053) + unbound
                                                 |  eth1 198.51.100.1/24, 2001:db8:e::1/64
    evil ns      scripted peers (AS 65099), one address 198.51.100.N per case --veth--'

Every case has its own passive [[peer]] in herald's config (its own address), so each starts
from a fresh session with no damping left over from the previous one (RFC 4271 8.1.1
DampPeerOscillations would otherwise make consecutive resets wait longer and longer). The
script completes a handshake (and checks that herald announces its two prefixes to it), then
sends the case's bytes and asserts herald's reaction:
- NOTIFY: the NOTIFICATION code/subcode (and data where the RFC fixes it), then the close;
- WITHDRAWN / KEPT / UNCHANGED: the session stays up and herald's count of prefixes received
  from the peer (2 before the case: one IPv4, one IPv6) shows whether the case's routes were
  treated as withdrawn (RFC 7606 treat-as-withdraw) or accepted (attribute discard, unknown
  attributes), with the RFC 7606 log line naming the peer.
After every case BIRD still has both prefixes from herald on a session that never went down,
herald's status agrees, and herald's pid is unchanged. Last, a flood of 20,000 UPDATEs.
"""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402
from bgp_evil_peer import (  # noqa: E402
    AGGREGATOR, AS4_AGGREGATOR, AS4_PATH, AS_PATH, AS_SET, ATOMIC_AGGREGATE, CLUSTER_LIST,
    COMMUNITIES, EXT_COMMUNITIES, EXTENDED, KEEPALIVE, LARGE_COMMUNITIES, LOCAL_PREF, MED,
    MP_REACH, MP_UNREACH, NEXT_HOP, NOTIFICATION, OPEN, OPT_NONTRANS, OPT_TRANS, OPTIONAL,
    ORIGIN, ORIGINATOR_ID, PARTIAL, ROUTE_REFRESH, UPDATE, WELL_KNOWN, EvilPeer, as_path,
    as_path_value, attr, cap_four_octet, cap_mp, cap_route_refresh, default_caps, in_netns, keepalive,
    message, mp_reach_v6, next_hop, notification, open_body, origin, prefix, update)

EVIL_AS = 65099
HERALD_EVIL_V4, HERALD_EVIL_V6 = "198.51.100.1", "2001:db8:e::1"
EVIL_V6 = "2001:db8:e::2"
NH = "198.51.100.250"                          # a valid next hop on the shared subnet
P, Q = "198.18.1.0/24", "198.18.2.0/24"        # IPv4 routes the cases announce
P6, Q6 = "2001:db8:ee::/48", "2001:db8:ef::/48"  # IPv6 routes (MP_REACH_NLRI)
HERALD_ROUTES = {hl.PREFIX_V4, hl.PREFIX_V6}

# Stages at which a case's bytes are sent.
OPEN_STAGE = "open"            # instead of our OPEN (herald has sent its OPEN: OpenSent)
CONFIRM_STAGE = "openconfirm"  # after both OPENs, instead of our KEEPALIVE
EST = "established"            # after the handshake and the baseline routes P and P6
# Outcomes of cases that keep the session (prefixes_received after the case; 2 before it).
WITHDRAWN = ("count", 1, "treat-as-withdraw")   # the case's two routes (and P or P6) gone
KEPT = ("count", 3, None)                       # accepted as they are
DISCARDED = ("count", 3, "attribute discarded")  # accepted without the bad attribute
REPEAT = ("count", 3, "later copy discarded")   # accepted with the first copy of the attribute
UNCHANGED = ("count", 2, None)                  # nothing announced or withdrawn
CLOSED = ("closed",)                            # closed without a NOTIFICATION (RFC 4271 6.4)
ANY = None                                      # data not fixed by the RFC


def notify(code, subcode, data=ANY):
    return ("notify", code, subcode, data)


# Valid attributes and message shapes, so each case line shows only what is wrong.
OR, AS, NHA = origin(), as_path(EVIL_AS), next_hop(NH)
GOOD = OR + AS + NHA


def v4(attrs: bytes) -> bytes:
    """UPDATE announcing P and Q with classic NLRI and these attributes."""
    return update(attrs=attrs, nlri=prefix(P) + prefix(Q))


def v6(attrs: bytes, nh6: str = EVIL_V6) -> bytes:
    """UPDATE announcing P6 and Q6 in MP_REACH_NLRI (next hop nh6), plus these attributes."""
    return update(attrs=mp_reach_v6(nh6, P6, Q6) + attrs)


def mp_reach_raw(value: bytes, flags: int = OPT_NONTRANS) -> bytes:
    return attr(flags, MP_REACH, value)


V6_NH = struct.pack("!HBB", 2, 1, 16) + bytes.fromhex("20010db8000e00000000000000000002") + b"\x00"
AS2 = as_path(EVIL_AS, as_size=2)  # AS_PATH on a session without 4-octet AS numbers
TWO_OCTET = [cap_mp(1), cap_mp(2), cap_route_refresh()]  # OPEN capabilities without RFC 6793
GARBAGE = bytes((i * 37 + 11) % 256 for i in range(64))


def bad_open(**kw) -> bytes:
    args = dict(my_as=EVIL_AS, hold=9, bgp_id="198.51.100.99",
                caps=[cap_mp(1), cap_mp(2), cap_four_octet(EVIL_AS)])
    args.update(kw)
    return message(OPEN, open_body(args.pop("my_as"), args.pop("hold"), args.pop("bgp_id"), args.pop("caps"), **args))


# name, stage, bytes, expected reaction, OPEN capabilities (None: the default set).
CASES = [
    # --- Message header (RFC 4271 6.1): 1/1 no data; 1/2 data = the length field; 1/3 data = the type.
    ("marker not all ones", EST, message(KEEPALIVE, marker=b"\xff" * 15 + b"\xfe"), notify(1, 1, b""), None),
    ("length 18 < 19", EST, message(KEEPALIVE, length=18), notify(1, 2, b"\x00\x12"), None),
    ("length 4097 > 4096 (no RFC 8654)", EST, message(UPDATE, length=4097), notify(1, 2, b"\x10\x01"), None),
    ("KEEPALIVE of 20 octets", EST, message(KEEPALIVE, b"\x00"), notify(1, 2, b"\x00\x14"), None),
    ("UPDATE of 22 octets", EST, message(UPDATE, b"\x00\x00\x00"), notify(1, 2, b"\x00\x16"), None),
    ("OPEN of 28 octets", EST, message(OPEN, b"\x04" * 9), notify(1, 2, b"\x00\x1c"), None),
    ("NOTIFICATION of 20 octets", EST, message(NOTIFICATION, b"\x06"), notify(1, 2, b"\x00\x14"), None),
    ("message type 0", EST, message(0), notify(1, 3, b"\x00"), None),
    ("message type 7", EST, message(7), notify(1, 3, b"\x07"), None),
    ("message type 255", EST, message(255, GARBAGE), notify(1, 3, b"\xff"), None),
    # --- OPEN (RFC 4271 6.2; 2/1 data = the highest version we support, 2 octets).
    ("OPEN version 3", OPEN_STAGE, bad_open(version=3), notify(2, 1, b"\x00\x04"), None),
    ("OPEN from AS 65098, configured 65099", OPEN_STAGE, bad_open(my_as=65098, caps=[cap_four_octet(65098)]), notify(2, 2, b""), None),
    ("OPEN with My AS 0 (RFC 7607)", OPEN_STAGE, bad_open(my_as=0, caps=[cap_mp(1)]), notify(2, 2, b""), None),
    ("OPEN with 4-octet AS 0 (RFC 7607)", OPEN_STAGE, bad_open(caps=[cap_four_octet(0)]), notify(2, 2, b""), None),
    ("OPEN with BGP Identifier 0", OPEN_STAGE, bad_open(bgp_id="0.0.0.0"), notify(2, 3, b""), None),
    ("OPEN with herald's own BGP Identifier", OPEN_STAGE, bad_open(bgp_id=hl.NODE_V4), notify(2, 3, b""), None),
    ("OPEN with hold time 1", OPEN_STAGE, bad_open(hold=1), notify(2, 6, b""), None),
    ("OPEN with hold time 2", OPEN_STAGE, bad_open(hold=2), notify(2, 6, b""), None),
    ("OPEN with optional parameter 1 (RFC 5492 4)", OPEN_STAGE, bad_open(params=bytes([1, 2, 0, 0])), notify(2, 4, b""), None),
    # A recognised parameter that is malformed: 2/0 Unspecific (RFC 4271 6.2).
    ("OPEN with a truncated parameter", OPEN_STAGE, bad_open(params=bytes([2, 10, 1, 4])), notify(2, 0), None),
    ("OPEN with a truncated capability", OPEN_STAGE, bad_open(params=bytes([2, 2, 65, 4])), notify(2, 0), None),
    # Optional Parameters Length past the end: the message is shorter than its fields (1/2).
    ("OPEN parameters length past the message", OPEN_STAGE, bad_open(caps=[], opt_len=40), notify(1, 2, b"\x00\x1d"), None),
    # Capabilities herald knows, with a length their RFC forbids: 2/0 (RFC 5492 leaves the
    # subcode open; RFC 4271 6.2 names Unspecific for a recognised but malformed parameter).
    ("Multiprotocol capability of 3 octets", OPEN_STAGE, bad_open(caps=[bytes([1, 3, 0, 1, 0])]), notify(2, 0), None),
    ("4-octet AS capability of 2 octets", OPEN_STAGE, bad_open(caps=[bytes([65, 2, 0xFE, 0x4B])]), notify(2, 0), None),
    ("graceful restart capability of 3 octets", OPEN_STAGE, bad_open(caps=[bytes([64, 3, 0, 0x78, 0])]), notify(2, 0), None),
    ("hostname capability overrunning itself", OPEN_STAGE, bad_open(caps=[bytes([73, 3, 10]) + b"ab"]), notify(2, 0), None),
    # Unknown capabilities and families are ignored (RFC 5492 3): the session comes up.
    ("unknown capability 200 with garbage", EST, keepalive(), UNCHANGED, [cap_mp(1), cap_mp(2), cap_four_octet(EVIL_AS), bytes([200, 16]) + GARBAGE[:16]]),
    ("Multiprotocol capability for AFI 25 SAFI 70", EST, keepalive(), UNCHANGED, [cap_mp(1), cap_mp(2), cap_mp(25, 70), cap_four_octet(EVIL_AS)]),
    # --- Messages out of order: FSM error with the RFC 6608 subcodes.
    ("KEEPALIVE instead of OPEN", OPEN_STAGE, keepalive(), notify(5, 1, b""), None),
    ("UPDATE instead of OPEN", OPEN_STAGE, v4(GOOD), notify(5, 1, b""), None),
    ("UPDATE in OpenConfirm", CONFIRM_STAGE, v4(GOOD), notify(5, 2, b""), None),
    ("OPEN in Established", EST, bad_open(), notify(5, 3, b""), None),
    # A NOTIFICATION is never answered (RFC 4271 6.4), whatever its data.
    ("NOTIFICATION instead of OPEN", OPEN_STAGE, notification(2, 0, GARBAGE), CLOSED, None),
    ("NOTIFICATION with garbage data", EST, notification(99, 77, GARBAGE), CLOSED, None),
    # --- ROUTE-REFRESH: bad length is 7/1 (RFC 7313 5); an unknown AFI is ignored (RFC 2918 4).
    ("ROUTE-REFRESH of 24 octets", EST, message(ROUTE_REFRESH, b"\x00\x01\x00\x01\x00"), notify(7, 1), None),
    ("ROUTE-REFRESH for AFI 99", EST, message(ROUTE_REFRESH, b"\x00\x63\x00\x01"), UNCHANGED, None),
    # --- UPDATE errors that can only be a session reset (RFC 4271 6.3, RFC 7606 5.3, 7.11, 7.12, 3.g).
    ("Withdrawn Routes Length past the message", EST, update(withdrawn_len=100), notify(3, 1, b""), None),
    ("Total Path Attribute Length past the message", EST, update(attrs=GOOD, attrs_len=200, nlri=prefix(P)), notify(3, 1, b""), None),
    ("withdrawn prefix /33", EST, update(withdrawn=b"\x21\xc6\x12\x01\x00\x00"), notify(3, 10, b""), None),
    ("withdrawn prefix overrun", EST, update(withdrawn=b"\x18\xc6\x12"), notify(3, 10, b""), None),
    ("NLRI prefix /33", EST, update(attrs=GOOD, nlri=b"\x21\xc6\x12\x01\x00\x00"), notify(3, 10, b""), None),
    ("NLRI overrun", EST, update(attrs=GOOD, nlri=prefix(P) + b"\x18\xc6\x12"), notify(3, 10, b""), None),
    ("unrecognised well-known attribute 99", EST, v4(GOOD + attr(WELL_KNOWN, 99, b"xy")), notify(3, 2, attr(WELL_KNOWN, 99, b"xy")), None),
    ("MP_REACH_NLRI twice", EST, update(attrs=mp_reach_v6(EVIL_V6, P6) + mp_reach_v6(EVIL_V6, Q6) + OR + AS), notify(3, 1, b""), None),
    ("MP_UNREACH_NLRI twice", EST, update(attrs=attr(OPT_NONTRANS, MP_UNREACH, b"\x00\x02\x01") * 2), notify(3, 1, b""), None),
    ("MP_REACH_NLRI flagged transitive", EST, update(attrs=mp_reach_raw(V6_NH + prefix(P6), OPT_TRANS) + OR + AS), notify(3, 4, mp_reach_raw(V6_NH + prefix(P6), OPT_TRANS)), None),
    ("MP_REACH_NLRI next hop length 5", EST, update(attrs=mp_reach_raw(b"\x00\x02\x01\x05" + b"\x20" * 5 + b"\x00") + OR + AS), notify(3, 9, mp_reach_raw(b"\x00\x02\x01\x05" + b"\x20" * 5 + b"\x00")), None),
    ("MP_REACH_NLRI of 2 octets", EST, update(attrs=mp_reach_raw(b"\x00\x02") + OR + AS), notify(3, 9, mp_reach_raw(b"\x00\x02")), None),
    ("MP_REACH_NLRI prefix /129", EST, update(attrs=mp_reach_raw(V6_NH + b"\x81" + b"\x20" * 17) + OR + AS), notify(3, 10, b""), None),
    ("MP_REACH_NLRI prefix overrun", EST, update(attrs=mp_reach_raw(V6_NH + b"\x30\x20\x01") + OR + AS), notify(3, 10, b""), None),
    ("MP_UNREACH_NLRI prefix /129", EST, update(attrs=attr(OPT_NONTRANS, MP_UNREACH, b"\x00\x02\x01\x81" + b"\x20" * 17)), notify(3, 10, b""), None),
    ("MP_REACH_NLRI overrunning the attribute list", EST, update(attrs=OR + AS + attr(OPT_NONTRANS, MP_REACH, V6_NH, length=60)), notify(3, 1, b""), None),
    # --- RFC 7606 7.1 ORIGIN: bad length, undefined value, wrong flags (3.c) -> treat-as-withdraw.
    ("ORIGIN length 2", EST, v4(attr(WELL_KNOWN, ORIGIN, b"\x00\x00") + AS + NHA), WITHDRAWN, None),
    ("ORIGIN value 3", EST, v4(origin(3) + AS + NHA), WITHDRAWN, None),
    ("ORIGIN flagged optional", EST, v4(attr(OPT_TRANS, ORIGIN, b"\x00") + AS + NHA), WITHDRAWN, None),
    # --- 7.2 AS_PATH: malformed segments, AS 0 (RFC 7607), first-AS check (RFC 4271 6.3) -> treat-as-withdraw.
    ("AS_PATH segment type 5", EST, v4(OR + attr(WELL_KNOWN, AS_PATH, as_path_value(EVIL_AS, seg_type=5)) + NHA), WITHDRAWN, None),
    ("AS_PATH zero-length segment", EST, v4(OR + attr(WELL_KNOWN, AS_PATH, b"\x02\x00") + NHA), WITHDRAWN, None),
    ("AS_PATH segment overrun", EST, v4(OR + attr(WELL_KNOWN, AS_PATH, b"\x02\x03" + struct.pack("!I", EVIL_AS)) + NHA), WITHDRAWN, None),
    ("AS_PATH one octet after the last segment", EST, v4(OR + attr(WELL_KNOWN, AS_PATH, as_path_value(EVIL_AS) + b"\x02") + NHA), WITHDRAWN, None),
    ("AS_PATH with AS 0 (RFC 7607)", EST, v4(OR + as_path(EVIL_AS, 0, 64500) + NHA), WITHDRAWN, None),
    ("AS_PATH leftmost AS not the peer's", EST, v4(OR + as_path(65098, EVIL_AS) + NHA), WITHDRAWN, None),
    ("AS_PATH empty from an external peer", EST, v4(OR + as_path() + NHA), WITHDRAWN, None),
    ("AS_PATH starting with an AS_SET", EST, v4(OR + attr(WELL_KNOWN, AS_PATH, as_path_value(EVIL_AS, seg_type=AS_SET)) + NHA), WITHDRAWN, None),
    ("AS_PATH flagged optional", EST, v4(OR + attr(OPT_TRANS, AS_PATH, as_path_value(EVIL_AS)) + NHA), WITHDRAWN, None),
    # --- 7.3 NEXT_HOP: bad length; semantically incorrect (RFC 4271 6.3: route ignored, no NOTIFICATION).
    ("NEXT_HOP length 5", EST, v4(OR + AS + attr(WELL_KNOWN, NEXT_HOP, b"\xc6\x33\x64\xfa\x00")), WITHDRAWN, None),
    ("NEXT_HOP 0.0.0.0", EST, v4(OR + AS + next_hop("0.0.0.0")), WITHDRAWN, None),
    ("NEXT_HOP 224.0.0.1 (multicast)", EST, v4(OR + AS + next_hop("224.0.0.1")), WITHDRAWN, None),
    ("NEXT_HOP 255.255.255.255", EST, v4(OR + AS + next_hop("255.255.255.255")), WITHDRAWN, None),
    ("NEXT_HOP is herald's own address", EST, v4(OR + AS + next_hop(HERALD_EVIL_V4)), WITHDRAWN, None),
    ("NEXT_HOP flagged optional", EST, v4(OR + AS + attr(OPT_TRANS, NEXT_HOP, b"\xc6\x33\x64\xfa")), WITHDRAWN, None),
    # --- 7.4 MULTI_EXIT_DISC: bad length or flags -> treat-as-withdraw.
    ("MED length 3", EST, v4(GOOD + attr(OPT_NONTRANS, MED, b"\x00\x00\x01")), WITHDRAWN, None),
    ("MED flagged well-known", EST, v4(GOOD + attr(WELL_KNOWN, MED, b"\x00\x00\x00\x01")), WITHDRAWN, None),
    # --- 7.5 LOCAL_PREF from an external peer: attribute discard, whatever it holds.
    ("LOCAL_PREF from an external peer", EST, v4(GOOD + attr(WELL_KNOWN, LOCAL_PREF, b"\x00\x00\x00\x64")), DISCARDED, None),
    ("LOCAL_PREF length 3 from an external peer", EST, v4(GOOD + attr(WELL_KNOWN, LOCAL_PREF, b"\x00\x00\x64")), DISCARDED, None),
    # --- 7.6 ATOMIC_AGGREGATE and 7.7 AGGREGATOR: attribute discard.
    ("ATOMIC_AGGREGATE length 1", EST, v4(GOOD + attr(WELL_KNOWN, ATOMIC_AGGREGATE, b"\x01")), DISCARDED, None),
    ("ATOMIC_AGGREGATE flagged optional", EST, v4(GOOD + attr(OPT_TRANS, ATOMIC_AGGREGATE, b"")), DISCARDED, None),
    ("AGGREGATOR length 7", EST, v4(GOOD + attr(OPT_TRANS, AGGREGATOR, b"\x00\x00\xfe\x4b\xc6\x33\x64")), DISCARDED, None),
    ("AGGREGATOR with AS 0 (RFC 7607)", EST, v4(GOOD + attr(OPT_TRANS, AGGREGATOR, b"\x00" * 4 + b"\xc6\x33\x64\xfa")), DISCARDED, None),
    # --- 7.8 COMMUNITIES: length 0 or not a multiple of 4, or wrong flags -> treat-as-withdraw.
    ("COMMUNITIES length 5", EST, v4(GOOD + attr(OPT_TRANS, COMMUNITIES, b"\xfe\x4b\x00\x01\x02")), WITHDRAWN, None),
    ("COMMUNITIES length 0", EST, v4(GOOD + attr(OPT_TRANS, COMMUNITIES, b"")), WITHDRAWN, None),
    ("COMMUNITIES flagged well-known", EST, v4(GOOD + attr(WELL_KNOWN, COMMUNITIES, b"\xfe\x4b\x00\x01")), WITHDRAWN, None),
    # --- 7.9 ORIGINATOR_ID and 7.10 CLUSTER_LIST from an external peer: attribute discard.
    ("ORIGINATOR_ID from an external peer", EST, v4(GOOD + attr(OPT_NONTRANS, ORIGINATOR_ID, b"\xc6\x33\x64\x09")), DISCARDED, None),
    ("ORIGINATOR_ID length 5 from an external peer", EST, v4(GOOD + attr(OPT_NONTRANS, ORIGINATOR_ID, b"\xc6\x33\x64\x09\x00")), DISCARDED, None),
    ("CLUSTER_LIST length 3 from an external peer", EST, v4(GOOD + attr(OPT_NONTRANS, CLUSTER_LIST, b"\xc6\x33\x64")), DISCARDED, None),
    # --- 7.11 / 7.12 MP_REACH / MP_UNREACH that can be parsed: a next hop that is no host
    # address, or ours, is treat-as-withdraw (RFC 4271 6.3); an unsupported family is ignored.
    ("MP_REACH_NLRI next hop ::", EST, v6(OR + AS, nh6="::"), WITHDRAWN, None),
    ("MP_REACH_NLRI next hop ff02::1", EST, v6(OR + AS, nh6="ff02::1"), WITHDRAWN, None),
    ("MP_REACH_NLRI next hop is herald's own address", EST, v6(OR + AS, nh6=HERALD_EVIL_V6), WITHDRAWN, None),
    ("MP_REACH_NLRI without AS_PATH (RFC 7606 3.d)", EST, v6(OR), WITHDRAWN, None),
    ("MP_REACH_NLRI of AFI 1 SAFI 128 (not negotiated)", EST, update(attrs=mp_reach_raw(b"\x00\x01\x80\x00\x00") + OR + AS), UNCHANGED, None),
    ("MP_UNREACH_NLRI of AFI 25 SAFI 70", EST, update(attrs=attr(OPT_NONTRANS, MP_UNREACH, b"\x00\x19\x46" + GARBAGE[:8])), UNCHANGED, None),
    # --- 7.14 EXTENDED_COMMUNITIES and RFC 8092 6 LARGE_COMMUNITY: bad length -> treat-as-withdraw.
    ("EXTENDED_COMMUNITIES length 9", EST, v4(GOOD + attr(OPT_TRANS, EXT_COMMUNITIES, GARBAGE[:9])), WITHDRAWN, None),
    ("LARGE_COMMUNITY length 13", EST, v4(GOOD + attr(OPT_TRANS, LARGE_COMMUNITIES, GARBAGE[:13])), WITHDRAWN, None),
    # --- RFC 6793 6: AS4_PATH / AS4_AGGREGATOR problems are attribute discard.
    ("AS4_PATH on a 4-octet session", EST, v4(GOOD + attr(OPT_TRANS, AS4_PATH, as_path_value(EVIL_AS))), DISCARDED, None),
    ("AS4_PATH malformed (2-octet session)", EST, v4(OR + AS2 + NHA + attr(OPT_TRANS, AS4_PATH, b"\x02\x01\x00")), DISCARDED, TWO_OCTET),
    ("AS4_PATH with AS 0 (2-octet session)", EST, v4(OR + AS2 + NHA + attr(OPT_TRANS, AS4_PATH, as_path_value(0))), DISCARDED, TWO_OCTET),
    ("AS4_PATH with a confederation segment", EST, v4(OR + AS2 + NHA + attr(OPT_TRANS, AS4_PATH, as_path_value(EVIL_AS, seg_type=3))), DISCARDED, TWO_OCTET),
    ("AS4_AGGREGATOR length 6 (2-octet session)", EST, v4(OR + AS2 + NHA + attr(OPT_TRANS, AS4_AGGREGATOR, b"\xfe\x4b\xc6\x33\x64\xfa")), DISCARDED, TWO_OCTET),
    # --- RFC 7606 3.d: missing well-known mandatory attributes -> treat-as-withdraw.
    ("UPDATE without ORIGIN", EST, v4(AS + NHA), WITHDRAWN, None),
    ("UPDATE without AS_PATH", EST, v4(OR + NHA), WITHDRAWN, None),
    ("UPDATE without NEXT_HOP", EST, v4(OR + AS), WITHDRAWN, None),
    ("UPDATE with NLRI and no attributes", EST, v4(b""), WITHDRAWN, None),
    # --- RFC 7606 3.g: repeated attributes, even conflicting ones: later copies discarded.
    ("ORIGIN twice, IGP then INCOMPLETE", EST, v4(GOOD + origin(2)), REPEAT, None),
    ("NEXT_HOP twice, conflicting", EST, v4(GOOD + next_hop("198.51.100.251")), REPEAT, None),
    ("AS_PATH twice, conflicting", EST, v4(GOOD + as_path(EVIL_AS, 64500)), REPEAT, None),
    ("COMMUNITIES twice", EST, v4(GOOD + attr(OPT_TRANS, COMMUNITIES, b"\xfe\x4b\x00\x01") * 2), REPEAT, None),
    # --- RFC 7606 4: an attribute longer than what is left of the attribute list -> treat-as-withdraw.
    ("attribute overrunning the attribute list", EST, v4(GOOD + attr(OPT_TRANS, COMMUNITIES, b"\xfe\x4b", length=8)), WITHDRAWN, None),
    # --- Unknown optional attributes are kept whatever they contain (RFC 4271 5, 9).
    ("unknown optional transitive with garbage", EST, v4(GOOD + attr(OPT_TRANS, 200, GARBAGE)), KEPT, None),
    ("unknown optional transitive, partial, 1000 octets", EST, v4(GOOD + attr(OPT_TRANS | PARTIAL, 201, GARBAGE * 15 + GARBAGE[:40])), KEPT, None),
    ("unknown optional non-transitive, extended length 0", EST, v4(GOOD + attr(OPTIONAL | EXTENDED, 202, b"")), KEPT, None),
    ("unknown optional transitive with low flag bits set", EST, v4(GOOD + attr(OPT_TRANS | 0x0F, 203, GARBAGE[:5])), KEPT, None),
]


class Hostile:
    def __init__(self, lab: harness.Lab, n_peers: int):
        self.lab = lab
        self.site = hl.Site(lab, "bird")
        self.evil_ns = lab.netns("evil")
        lab.link(self.evil_ns, "198.51.100.2/24", self.site.node, f"{HERALD_EVIL_V4}/24",
                 v6=(f"{EVIL_V6}/64", f"{HERALD_EVIL_V6}/64"), name_b="eth1")
        batch = "".join(f"addr add {self.address(i)}/32 dev eth0\n" for i in range(n_peers))
        harness.run(["ip", "-n", self.evil_ns.name, "-batch", "-"], input=batch)
        peers = "".join(f"""
[[peer]]
name = "{self.name(i)}"
address = "{self.address(i)}"
remote-as = {EVIL_AS}
mode = "passive"
hold-time = "9s"
families = ["ipv4-unicast", "ipv6-unicast"]
next-hop-v6 = "{HERALD_EVIL_V6}"
""" for i in range(n_peers))
        config = hl.herald_config(lab).replace("listen = false", f'listen = "{HERALD_EVIL_V4}:179"')
        self.site.start_herald(config + peers)
        self.site.start_dns().wait_ready()
        harness.wait_for(self.site.session_up, timeout=20, what="BGP session with BIRD")
        self.site.wait_route(hl.PREFIX_V4, True, timeout=15)
        self.site.wait_route(hl.PREFIX_V6, True, timeout=5)
        self.pid = self.site.herald.pid
        self.bird_since = self.bird_session_since()

    @staticmethod
    def name(i: int) -> str:
        return f"evil-{i:03d}"

    @staticmethod
    def address(i: int) -> str:
        return f"198.51.100.{10 + i}"

    def bird_session_since(self) -> float:
        return self.site.bird.protocol_since("herald")

    def peer_status(self, status: dict, name: str) -> dict:
        return next(p for p in status["status"]["peers"] if p["name"] == name)

    def connect(self, i: int) -> EvilPeer:
        with in_netns(self.evil_ns.name):
            return EvilPeer.connect(self.address(i), HERALD_EVIL_V4)

    def received(self, i: int) -> int:
        return self.peer_status(self.site.status(), self.name(i))["prefixes_received"]

    def log_has(self, i: int, text: str) -> bool:
        return any(self.name(i) in line and text in line for line in self.site.herald.log().splitlines())

    def check_unaffected(self, what: str) -> None:
        """herald alive with the same pid, BIRD's session never reset and both routes there,
        herald's own status agreeing."""
        assert self.site.herald.alive(), f"herald died after {what}:\n" + self.site.herald.log()[-3000:]
        routes = self.site.router_routes()
        assert hl.PREFIX_V4 in routes and hl.PREFIX_V6 in routes, (what, routes)
        assert harness.same_since(self.bird_session_since(), self.bird_since), (
            what, self.bird_since, self.site.bird.protocol_state("herald"))
        st = self.site.status()
        assert st["status"]["pid"] == self.pid, (what, st["status"]["pid"])
        up = self.peer_status(st, "upstream")
        assert up["state"] == "Established" and up["prefixes_sent"] == 2, (what, up)
        svc = st["status"]["services"][0]
        assert svc["state"] == "Up" and svc["announced"], (what, svc)

    def run_case(self, i: int, case) -> str:
        name, stage, payload, expected, caps = case
        peer = self.connect(i)
        try:
            if stage == OPEN_STAGE:
                peer.send(payload)
            elif stage == CONFIRM_STAGE:
                peer.send(message(OPEN, open_body(EVIL_AS, 9, self.address(i), caps or default_caps(EVIL_AS))))
                t, _ = peer.read()
                assert t == OPEN, t
                peer.send(payload)
            else:
                peer.handshake(EVIL_AS, self.address(i), caps=caps, wait_routes=HERALD_ROUTES)
                assert peer.routes == HERALD_ROUTES, (name, peer.routes)
                as_path_ok = AS2 if caps is TWO_OCTET else AS
                peer.send(update(attrs=OR + as_path_ok + NHA, nlri=prefix(P)))
                peer.send(update(attrs=mp_reach_v6(EVIL_V6, P6) + OR + as_path_ok))
                harness.wait_for(lambda: self.received(i) == 2, timeout=5, what=f"{name}: baseline routes at herald")
                peer.send(payload)
            if expected[0] == "notify":
                code, sub, data = peer.expect_notification()
                assert (code, sub) == expected[1:3], f"{name}: got {code}/{sub} data {data.hex()}, want {expected[1]}/{expected[2]}"
                if expected[3] is not None:
                    assert data == expected[3], f"{name}: {code}/{sub} data {data.hex()}, want {expected[3].hex()}"
                result = f"NOTIFICATION {code}/{sub}" + (f" data {data.hex()}" if data else "")
            elif expected[0] == "closed":
                peer.expect_closed()
                result = "closed, no NOTIFICATION"
            else:
                _, want, log_text = expected
                harness.wait_for(lambda: self.received(i) == want, timeout=5,
                                 what=f"{name}: {want} prefixes received at herald (now {self.received(i)})")
                if log_text:
                    harness.wait_for(lambda: self.log_has(i, log_text), timeout=3,
                                     what=f"{name}: herald's log line with {log_text!r}")
                peer.send(keepalive())
                peer.drain(0.05)  # fails on a NOTIFICATION
                st = self.peer_status(self.site.status(), self.name(i))
                assert st["state"] == "Established", (name, st)
                result = f"session up, {want} prefixes received" + (f", {log_text}" if log_text else "")
            return result
        finally:
            peer.leave()

    def flood(self, i: int, count: int = 20000) -> None:
        """count UPDATEs of one /32 each from 198.18.0.0/15; hold time 3 s so herald's
        KEEPALIVEs are due every second while it works through them."""
        peer = self.connect(i)
        try:
            peer.handshake(EVIL_AS, self.address(i), hold=3, wait_routes=HERALD_ROUTES)
            base = struct.unpack("!I", bytes([198, 18, 0, 0]))[0]
            msgs = b"".join(update(attrs=GOOD, nlri=b"\x20" + struct.pack("!I", base + k)) for k in range(count))
            t0 = time.monotonic()
            kas_before = peer.keepalives
            peer.send(msgs, timeout=30)
            sent = time.monotonic() - t0
            deadline = time.monotonic() + 30
            while self.received(i) != count:
                assert time.monotonic() < deadline, f"herald has {self.received(i)} of {count} flood prefixes"
                peer.send(keepalive())
                peer.drain(0.3)
            took = time.monotonic() - t0
            # Keep the session going for two more hold-time thirds: herald's KEEPALIVEs must flow.
            for _ in range(5):
                peer.send(keepalive())
                peer.drain(0.5)
            gaps = [b - a for a, b in zip(peer.keepalive_times, peer.keepalive_times[1:])]
            assert peer.keepalives - kas_before >= 2, (peer.keepalives, kas_before)
            assert max(gaps) < 2.5, gaps
            st = self.peer_status(self.site.status(), self.name(i))
            assert st["state"] == "Established" and st["prefixes_received"] == count, st
            print(f"ok: flood of {count} UPDATEs ({len(msgs)} octets) sent in {sent:.2f}s, all counted by "
                  f"herald after {took:.2f}s; session up, {peer.keepalives - kas_before} KEEPALIVEs from herald, "
                  f"largest gap {max(gaps):.2f}s")
        finally:
            peer.leave()


def main() -> int:
    harness.require_root()
    t_start = time.monotonic()
    with harness.Lab("hostile") as lab:
        h = Hostile(lab, len(CASES) + 1)
        print(f"ok: lab up with herald, BIRD, unbound and {len(CASES) + 1} passive evil peers "
              f"in {time.monotonic() - t_start:.1f}s")
        for i, case in enumerate(CASES):
            result = h.run_case(i, case)
            h.check_unaffected(case[0])
            print(f"ok: {case[0]}: {result}; BIRD and herald's announcements unaffected")
        h.flood(len(CASES))
        h.check_unaffected("the flood")
        print("ok: after the flood BIRD still has both prefixes on the same session")
        # With a sanitizer build (HERALD_BUILD pointing at one) any report fails the test.
        log = h.site.herald.log()
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert marker not in log, log[log.index(marker) - 200:][:3000]
    print(f"hostile peer: all {len(CASES)} cases and the flood passed in {time.monotonic() - t_start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
