#!/usr/bin/python3
"""herald-speak when its router fails, with BIRD 2 as the router:

1. BIRD is killed (SIGKILL) and started again: herald reconnects and BIRD holds the prefixes again.
2. BIRD is frozen (SIGSTOP): herald's hold timer (3 s) fires, herald sends NOTIFICATION 4/0 and
   closes; after SIGCONT the session comes back and BIRD holds the prefixes again.
"""
import signal
import sys
import time

import bgp_interop as bi
import harness
from bgp_interop import H4, R4

V4 = "203.0.113.53/32"
V6 = "2001:db8:53::1/128"


def main() -> None:
    harness.require_root()
    t = bi.Timer("router_failure")
    with harness.Lab("bgpfail") as lab:
        r, h = bi.topology(lab)
        # herald proposes hold 3; the session uses the lower of the two (RFC 4271 4.2).
        config = harness.bird_config(bi.R4, bi.bird_protocol("herald4", H4, R4, hold=9))
        bird = lab.bird(r, config)
        speak = bi.start_speaker(lab, h, peers=[bi.peer_spec("r4", R4, H4, hold=3, nexthop6=bi.H6)],
                                 announce=[V4, V6 + ",med=7"])

        def routes_at(b: harness.Bird) -> bool:
            return V4 in bi.bird_routes(b, "master4", "herald4") and V6 in bi.bird_routes(b, "master6", "herald4")

        bi.wait_until(lambda: bird.established("herald4") and routes_at(bird), 15, "session and routes at BIRD")
        t.mark("Established, routes at BIRD")

        # --- 1. router killed and restarted ---
        bird.proc.kill()
        bi.wait_until(lambda: bi.peer_status(speak, "r4")["state"] != "Established", 10,
                      "herald to notice the dead router")
        t.mark("herald saw the session end")
        bird2 = lab.bird(r, config, name="bird-restarted")
        bi.wait_until(lambda: bird2.established("herald4") and routes_at(bird2), 20,
                      "session and routes at the restarted BIRD")
        t.mark("reconnected and re-announced after restart")

        # --- 2. router frozen: hold timer ---
        st = bi.peer_status(speak, "r4")
        assert st["hold_time"] == 3, st
        sent_before = st["notifications_sent"].get("4/0", 0)
        frozen_at = time.monotonic()
        bird2.proc.signal(signal.SIGSTOP)
        try:
            bi.wait_until(lambda: bi.peer_status(speak, "r4")["notifications_sent"].get("4/0", 0) > sent_before,
                          10, "herald to send NOTIFICATION 4/0 (Hold Timer Expired)")
            elapsed = time.monotonic() - frozen_at
            # Fires after the 3 s hold time (counted from the last KEEPALIVE, so 2..3.5 s).
            assert 1.5 <= elapsed <= 5, f"hold timer fired after {elapsed:.1f}s"
            st = bi.peer_status(speak, "r4")
            assert st["state"] != "Established", st
            assert "Hold" in st["last_error"] or "hold" in st["last_error"], st
        finally:
            bird2.proc.signal(signal.SIGCONT)
        t.mark(f"hold timer fired after {elapsed:.1f}s")
        # BIRD reads the NOTIFICATION once it runs again.
        bi.wait_until(lambda: "Hold timer expired" in bi.bird_proto_all(bird2, "herald4"), 10,
                      "BIRD to report the received Hold Timer Expired")
        bi.wait_until(lambda: bird2.established("herald4") and routes_at(bird2), 20,
                      "session and routes back after SIGCONT")
        t.mark("reconnected after SIGCONT")
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
