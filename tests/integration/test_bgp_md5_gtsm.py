#!/usr/bin/python3
"""TCP MD5 signatures (RFC 2385) and GTSM (RFC 5082) between herald-speak and BIRD 2, then FRR 8.

Per router, three sessions on one link:
    192.0.2.1 <-> 192.0.2.2      MD5 with the same password on both sides: Established
    2001:db8:1::1 <-> ::2        GTSM on both sides (TTL 255 sent, 255 required): Established
    192.0.2.3 <-> 192.0.2.4      MD5 with a different password: never Established
Asserted on what the router reports.
"""
import sys
import time

import bgp_interop as bi
import harness
from bgp_interop import H4, H6, HERALD_AS, R4, R6

R4B, H4B = "192.0.2.3", "192.0.2.4"
V4 = "203.0.113.53/32"


def add_second_pair(r: harness.Netns, h: harness.Netns) -> None:
    r.run("ip", "addr", "add", f"{R4B}/24", "dev", "eth0")
    h.run("ip", "addr", "add", f"{H4B}/24", "dev", "eth0")


def herald_peers() -> list[str]:
    return [bi.peer_spec("md5", R4, H4, md5="s3cret"),
            bi.peer_spec("gtsm", R6, H6, gtsm=1, nexthop4=H4),
            bi.peer_spec("md5wrong", R4B, H4B, md5="not-the-password")]


def check_bird(lab: harness.Lab, t: bi.Timer) -> None:
    r, h = bi.topology(lab)
    add_second_pair(r, h)
    protos = (bi.bird_protocol("sig_ok", H4, R4, extra='    password "s3cret";')
              + bi.bird_protocol("ttl_sec", H6, R6, extra="    ttl security on;")
              + bi.bird_protocol("sig_bad", H4B, R4B, extra='    password "s3cret";'))
    bird = lab.bird(r, harness.bird_config(bi.R4, protos))
    speak = bi.start_speaker(lab, h, peers=herald_peers(), announce=[V4], name="herald-bird")
    bi.wait_until(lambda: bird.established("sig_ok") and bird.established("ttl_sec"), 15,
                  "BIRD: MD5 and GTSM sessions Established")
    bi.wait_until(lambda: V4 in bi.bird_routes(bird, "master4", "sig_ok")
                  and V4 in bi.bird_routes(bird, "master4", "ttl_sec"), 10, "BIRD: prefix over both")
    t.mark("BIRD: MD5 and GTSM Established")
    # Both sides retry every 1-2 s; give the mismatched pair a few attempts.
    time.sleep(3)
    assert not bird.established("sig_bad"), bird.protocol_state("sig_bad")
    assert bi.peer_status(speak, "md5wrong")["state"] != "Established"
    st = {p["name"]: p for p in bi.status(speak)["peers"]}
    assert st["md5"]["md5"] and st["gtsm"]["gtsm"], st
    t.mark("BIRD: wrong MD5 password never Established")
    speak.stop()
    bird.proc.stop()


def check_frr(lab: harness.Lab, t: bi.Timer) -> None:
    r, h = bi.topology(lab)
    add_second_pair(r, h)
    extra = {H4: " neighbor {addr} password s3cret\n",
             H6: " neighbor {addr} ttl-security hops 1\n",
             H4B: " neighbor {addr} password s3cret\n"}
    config = bi.frr_config([(H4, HERALD_AS), (H6, HERALD_AS), (H4B, HERALD_AS)])
    # Per-neighbor lines go right after that neighbor's remote-as line.
    for addr, line in extra.items():
        config = config.replace(f" neighbor {addr} remote-as {HERALD_AS}\n",
                                f" neighbor {addr} remote-as {HERALD_AS}\n" + line.format(addr=addr))
    frr = lab.frr(r, config)
    speak = bi.start_speaker(lab, h, peers=herald_peers(), announce=[V4], name="herald-frr")
    bi.wait_until(lambda: frr.neighbor_state(H4) == "Established" and frr.neighbor_state(H6) == "Established",
                  15, "FRR: MD5 and GTSM sessions Established")
    t.mark("FRR: MD5 and GTSM Established")
    time.sleep(3)
    assert frr.neighbor_state(H4B) != "Established", frr.neighbor_state(H4B)
    assert bi.peer_status(speak, "md5wrong")["state"] != "Established"
    t.mark("FRR: wrong MD5 password never Established")


def main() -> None:
    harness.require_root()
    t = bi.Timer("md5_gtsm")
    with harness.Lab("bgpsecb") as lab:
        check_bird(lab, t)
    with harness.Lab("bgpsecf") as lab:
        check_frr(lab, t)
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
