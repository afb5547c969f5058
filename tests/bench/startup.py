#!/usr/bin/python3
"""Start-up: from exec of herald to its OPEN on the wire.

herald (one peer, one service with a DNS check, JSON log) is started directly in the node
namespace (setns in the child before exec, so `ip netns exec` costs nothing); t0 is read in the
child after setns, just before exec, and handed back through a pipe. The capture on the router's side gives the SYN and the OPEN herald sends. Each
round waits until the upstream BIRD accepts connections again (state Active), starts herald,
waits for Established, and stops herald with SIGTERM.

    startup.py [--quick] [--rounds N]
"""
from __future__ import annotations

import argparse
import ctypes
import os
import struct
import subprocess
import sys
import time

import benchlib as bl
import contenders as ct
from benchlib import hl, harness

CLONE_NEWNET = 0x40000000


def syns(path: str, src: str) -> list[float]:
    """Timestamps of TCP SYNs (without ACK) sent by `src`."""
    out = []
    for ts, frame in bl.read_pcap(path):
        p = bl.ip_payload(frame)
        if p and p[0] == 6 and p[1] == src and (p[3][13] & 0x12) == 0x02:
            out.append(ts)
    return out


def main() -> int:
    harness.require_root()
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    a = ap.parse_args()
    rounds = a.rounds or (3 if a.quick else 20)
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    t0s = []
    with harness.Lab("start") as lab:
        topo = bl.Topology(lab)
        topo.add_service_addresses()
        topo.start_dns()
        s = ct.Settings(interval_ms=1000, timeout_ms=500)
        conf = lab.write("herald.toml", ct.herald_config(lab, s, topo.services))
        cap = bl.Capture(lab, topo.up, "eth0", "tcp port 179", "startup")
        nsfd = os.open(f"/run/netns/{topo.node.name}", os.O_RDONLY)

        rfd, wfd = os.pipe()

        def enter_ns():
            if libc.setns(nsfd, CLONE_NEWNET) != 0:
                os._exit(127)
            os.write(wfd, struct.pack("d", time.time()))
        try:
            for i in range(rounds):
                bl.wait_until(lambda: any(w in topo.bird.protocol_state("herald") for w in ("Active", "Connect")),
                              15, "upstream ready to accept", 0.02)
                log = open(lab.path(f"herald-start-{i}.log"), "wb")
                p = subprocess.Popen([bl.herald_binary(), "-c", conf], preexec_fn=enter_ns, pass_fds=(nsfd, wfd),
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                log.close()
                t0s.append(struct.unpack("d", os.read(rfd, 8))[0])
                try:
                    bl.wait_until(lambda: topo.session_up(), 15, "session up", 0.02)
                finally:
                    p.terminate()
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait(timeout=5)
        finally:
            for fd in (nsfd, rfd, wfd):
                os.close(fd)
        path = cap.stop()
        opens = [m.ts for m in bl.bgp_messages(path) if m.src == hl.NODE_V4 and m.type == 1]
        syn = syns(path, hl.NODE_V4)
    to_open, to_syn = [], []
    for t0 in t0s:
        to_open.append(next((t - t0 for t in opens if t >= t0), None))
        to_syn.append(next((t - t0 for t in syn if t >= t0), None))
    so, ss = bl.summary(to_open), bl.summary(to_syn)
    rows = [["exec -> SYN sent", ss["n"], bl.fmt_ms(ss["median"], 2), bl.fmt_ms(ss["p90"], 2), bl.fmt_ms(ss["worst"], 2)],
            ["exec -> OPEN sent", so["n"], bl.fmt_ms(so["median"], 2), bl.fmt_ms(so["p90"], 2), bl.fmt_ms(so["worst"], 2)]]
    text = ("Times in ms from just before exec of herald to the packet on the router's side of the link "
            "(includes the TCP handshake with BIRD for the OPEN).\n\n"
            + bl.table(["interval", "rounds", "median", "p90", "worst"], rows))
    print(bl.section("Start-up: exec to OPEN sent", text), flush=True)
    return 0 if so["fail"] == 0 and so["n"] == rounds else 1


if __name__ == "__main__":
    sys.exit(main())
