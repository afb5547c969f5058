#!/usr/bin/python3
"""A link with impairments, in user space: relays Ethernet frames between two interfaces of one
network namespace and drops or delays them on the way, as `tc qdisc ... netem loss 20% delay
200ms` would (the kernels tests run on do not always have sch_netem).

    fault_relay.py --a nd --b ru --params FILE --seed N

FILE holds JSON {"loss": 0.2, "delay_ms": 200, "both": false}; it is read at start and again on
SIGUSR1. `loss` is the probability of dropping a frame, `delay_ms` the time each frame is held;
both apply to frames entering at --a (the herald side) and, with "both": true, also to frames
entering at --b. A missing file means no impairment. The interfaces carry no addresses: the
namespace's own stack never sees the frames, only this relay does.

On SIGTERM it prints one line of counters and exits.

    fault_relay.py --tx-csum-off eth0

turns off transmit checksum offload on eth0 of the namespace it runs in, and exits. Both end
points of a relayed link need it: a veth leaves TCP/UDP checksums for the receiver to skip, and
once a frame has passed through a packet socket the receiver does check them.
"""
from __future__ import annotations

import argparse
import array
import fcntl
import heapq
import json
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # linux/if_packet.h: a frame this host sent, seen on its way out
MAX_FRAME = 65535
MAX_HELD = 10000     # frames held at once; more are dropped (bounds memory under a flood)
SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17  # linux/ethtool.h: set transmit checksum offload


def tx_csum_off(ifname: str) -> None:
    """ethtool -K IFNAME tx off, through the SIOCETHTOOL ioctl (struct ethtool_value)."""
    value = array.array("I", [ETHTOOL_STXCSUM, 0])
    ifreq = bytearray(40)  # struct ifreq: 16-byte name, then a pointer to the ethtool struct
    ifreq[:16] = ifname.encode().ljust(16, b"\0")
    ifreq[16:24] = value.buffer_info()[0].to_bytes(8, sys.byteorder)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, SIOCETHTOOL, ifreq)


def open_port(name: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((name, 0))
    s.setblocking(False)
    return s


def read_params(path: str) -> dict:
    try:
        with open(path) as f:
            p = json.load(f)
    except FileNotFoundError:
        p = {}
    return {"loss": float(p.get("loss", 0.0)), "delay_ms": float(p.get("delay_ms", 0.0)),
            "both": bool(p.get("both", False))}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tx-csum-off", metavar="IFNAME")
    ap.add_argument("--a", help="interface towards herald")
    ap.add_argument("--b", help="interface towards the router")
    ap.add_argument("--params")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.tx_csum_off:
        tx_csum_off(args.tx_csum_off)
        return 0
    if not (args.a and args.b and args.params):
        ap.error("--a, --b and --params are needed to relay")

    rng = random.Random(args.seed)
    params = read_params(args.params)
    reload_wanted = False
    stop = False

    def on_usr1(_s, _f):
        nonlocal reload_wanted
        reload_wanted = True

    def on_term(_s, _f):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_term)

    a, b = open_port(args.a), open_port(args.b)
    peer = {a: b, b: a}
    held: list[tuple[float, int, socket.socket, bytes]] = []  # (due, seq, out, frame)
    seq = 0
    counters = {"relayed": 0, "dropped": 0, "send_errors": 0, "recv_errors": 0, "overflow": 0}
    print(f"relay {args.a}<->{args.b} seed {args.seed} params {params}", flush=True)

    while not stop:
        if reload_wanted:
            reload_wanted = False
            params = read_params(args.params)
            print(f"params {params}", flush=True)
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, out, frame = heapq.heappop(held)
            try:
                out.send(frame)
                counters["relayed"] += 1
            except OSError:
                counters["send_errors"] += 1
        timeout = 0.2 if not held else max(0.0, held[0][0] - now)
        try:
            ready, _, _ = select.select([a, b], [], [], timeout)
        except InterruptedError:
            continue
        for s in ready:
            for _ in range(64):  # bounded burst per wake-up
                try:
                    frame, addr = s.recvfrom(MAX_FRAME)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # e.g. ENETDOWN while a test holds the port down
                    counters["recv_errors"] += 1
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own transmission on this port
                impaired = s is a or params["both"]
                if impaired and params["loss"] > 0 and rng.random() < params["loss"]:
                    counters["dropped"] += 1
                    continue
                delay = params["delay_ms"] / 1000.0 if impaired else 0.0
                if delay <= 0 and not held:
                    try:
                        peer[s].send(frame)
                        counters["relayed"] += 1
                    except OSError:
                        counters["send_errors"] += 1
                    continue
                if len(held) >= MAX_HELD:
                    counters["overflow"] += 1
                    continue
                seq += 1
                heapq.heappush(held, (time.monotonic() + delay, seq, peer[s], frame))
    print(f"relay exit {counters}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
