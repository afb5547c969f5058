#!/usr/bin/python3
"""A peer AS mismatch: herald-speak expects AS 65099 but the router is AS 65000. herald must
answer the router's OPEN with NOTIFICATION 2/2 (Bad Peer AS, RFC 4271 6.2), which the router
reports (BIRD's last error, FRR's lastNotificationReason), and retry with growing delays
(RFC 4271 8.1.1 DampPeerOscillations) instead of hammering the router.
"""
import re
import sys

import bgp_interop as bi
import harness
from bgp_interop import H4, HERALD_AS, R4

WRONG_AS = 65099


def idle_periods(proc: harness.Proc) -> list[float]:
    """How long herald stayed Idle after each refused OPEN: from entering Idle to the IdleHold
    expiry that starts the next attempt (taken from its log's timestamps)."""
    periods = []
    entered = None
    for line in proc.log().splitlines():
        m = re.match(r"^\s*([\d.]+) info: peer r4: state (\w+) -> (\w+)", line)
        if not m:
            continue
        ts, to = float(m.group(1)), m.group(3)
        if to == "Idle" and "Bad Peer AS" in line:
            entered = ts
        elif m.group(2) == "Idle" and entered is not None:
            periods.append(ts - entered)
            entered = None
    return periods


def check_backoff(proc: harness.Proc) -> None:
    p = bi.wait_until(lambda: (lambda x: x if len(x) >= 2 else None)(idle_periods(proc)), 15,
                      "two Idle periods after refused OPENs")
    # IdleHold starts at 1 s and doubles per consecutive failure, jittered to 75-100%
    # (RFC 4271 8.1.1 DampPeerOscillations): about 1 s, then about 2 s.
    assert 0.7 <= p[0] <= 1.2 and 1.4 <= p[1] <= 2.3, f"no backoff: Idle periods {p}"


def main() -> None:
    harness.require_root()
    t = bi.Timer("peer_as")
    with harness.Lab("bgpasb") as lab:
        r, h = bi.topology(lab)
        bird = lab.bird(r, harness.bird_config(bi.R4, bi.bird_protocol("herald4", H4, R4)))
        # Outbound only: the router's own attempts are refused and do not disturb the timing.
        speak = bi.start_speaker(lab, h, peers=[bi.peer_spec("r4", R4, H4, asn=WRONG_AS)], announce=[],
                                 listen=[], name="herald-bird")
        bi.wait_until(lambda: re.search(r"Last error:\s+Received: Bad peer AS", bi.bird_proto_all(bird, "herald4")),
                      10, "BIRD to report Bad peer AS received")
        st = bi.peer_status(speak, "r4")
        assert st["notifications_sent"].get("2/2", 0) >= 1, st
        t.mark("BIRD: received 2/2")
        check_backoff(speak)
        t.mark("BIRD: attempts back off")
    with harness.Lab("bgpasf") as lab:
        r, h = bi.topology(lab)
        frr = lab.frr(r, bi.frr_config([(H4, HERALD_AS)]))
        # FRR files what happens on connections it accepted under a temporary peer and reports
        # only its own outbound connection: let FRR connect, herald waits passively.
        speak = bi.start_speaker(lab, h, peers=[bi.peer_spec("r4", R4, H4, asn=WRONG_AS, passive=1)], announce=[],
                                 name="herald-frr")
        bi.wait_until(lambda: "Bad Peer AS" in bi.frr_neighbor(frr, H4).get("lastNotificationReason", ""), 10,
                      "FRR to report Bad Peer AS received")
        t.mark("FRR: received 2/2")
        check_backoff(speak)
        t.mark("FRR: attempts back off")
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
