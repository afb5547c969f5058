#!/usr/bin/python3
"""A DNS server that answers slowly: relays each UDP query it receives on --listen to the real
server at --upstream and sends the answer back --delay-ms after the query arrived.

    dns_slow_proxy.py --listen 192.0.2.53:53 --listen [2001:db8:53::53]:53 \
                      --upstream 192.0.2.53:5353 --delay-ms 150

The listening sockets use SO_REUSEPORT, so the proxy can be started while a server bound with
SO_REUSEPORT still holds the same address: the test then stops that server and every query
reaches the proxy, with no moment where nothing answers. Queries unanswered upstream within 2 s
are forgotten. On SIGTERM it prints its counters and exits.
"""
from __future__ import annotations

import argparse
import heapq
import select
import signal
import socket
import sys
import time

UPSTREAM_TIMEOUT = 2.0
MAX_PENDING = 1000


def parse_endpoint(text: str) -> tuple[int, tuple[str, int]]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, (host, int(port))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", action="append", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--delay-ms", type=float, required=True)
    args = ap.parse_args()
    delay = args.delay_ms / 1000.0
    stop = False

    def on_term(_s, _f):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)

    listeners = []
    for ep in args.listen:
        fam, addr = parse_endpoint(ep)
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND: the service address may not be up yet
        s.bind(addr)
        s.setblocking(False)
        listeners.append(s)
    up_family, up_addr = parse_endpoint(args.upstream)

    # upstream socket -> (listener, client address, query arrival time)
    pending: dict[socket.socket, tuple[socket.socket, tuple, float]] = {}
    replies: list[tuple[float, int, socket.socket, tuple, bytes]] = []  # (due, seq, listener, client, data)
    seq = 0
    counters = {"queries": 0, "answered": 0, "lost": 0}
    print(f"slow proxy on {args.listen} -> {args.upstream}, delay {args.delay_ms} ms", flush=True)

    while not stop:
        now = time.monotonic()
        while replies and replies[0][0] <= now:
            _, _, lst, client, data = heapq.heappop(replies)
            try:
                lst.sendto(data, client)
                counters["answered"] += 1
            except OSError:
                counters["lost"] += 1
        for up, (_, _, t) in list(pending.items()):
            if now - t > UPSTREAM_TIMEOUT:
                up.close()
                del pending[up]
                counters["lost"] += 1
        timeout = 0.1 if not replies else max(0.0, min(0.1, replies[0][0] - now))
        try:
            ready, _, _ = select.select(listeners + list(pending), [], [], timeout)
        except InterruptedError:
            continue
        for s in ready:
            if s in pending:
                lst, client, t = pending.pop(s)
                try:
                    data = s.recv(65535)
                except OSError:
                    data = b""
                s.close()
                if data:
                    seq += 1
                    heapq.heappush(replies, (t + delay, seq, lst, client, data))
                continue
            try:
                query, client = s.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                continue
            counters["queries"] += 1
            if len(pending) >= MAX_PENDING:
                counters["lost"] += 1
                continue
            up = socket.socket(up_family, socket.SOCK_DGRAM)
            up.setblocking(False)
            try:
                up.sendto(query, up_addr)
            except OSError:
                up.close()
                counters["lost"] += 1
                continue
            pending[up] = (s, client, time.monotonic())
    print(f"slow proxy exit {counters}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
