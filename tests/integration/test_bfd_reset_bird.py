"""BFD Down without `bfd-wait-for-up`, against BIRD 2: herald resets the BGP session with
Cease/BFD Down (6/10) and connects again only after the idle hold, while BGP's TCP stays up.

    up   (router ns)  eth0 203.0.113.1/24   BIRD 2 (protocol bfd, `bfd on`, `debug { events }`)
          |  veth
    node (herald ns)  eth0 203.0.113.2/24   herald: bfd = true, bfd-wait-for-up = false

BFD is brought down by dropping only UDP 3784/3785 in the router namespace (a table of the
test's own, deleted again); TCP 179 keeps flowing. herald's multiplier is 10 and BIRD's 3, so
herald detects the loss after 3 x 50 ms and BIRD only after 10 x 50 ms: herald's NOTIFICATION
reaches BIRD before BIRD's own BFD would take the session down, and BIRD's BFD is down before
herald's idle hold (3 s) ends, so the new connection meets a BIRD with nothing left to tear down.

Checked, each on an event:
- herald logs "BFD down (Control Detection Time Expired): resetting the BGP session" and BIRD
  logs that it "Received:" the Cease/BFD Down NOTIFICATION (BIRD 2.0 has no name for subcode
  10 and logs "herald: Received: Unknown error 6.10");
- herald's peer transitions after the reset (its event stream, which carries each one; the log
  holds back a line identical to a recent one): Established -> Idle "reset: ... (IdleHold)",
  then Idle -> Connect "IdleHold timer expired", then one connection straight to Established.
  The old stop-then-start went Idle -> Connect "start" at once and met BIRD still handling
  the NOTIFICATION: in some runs BIRD accepted the TCP connection and "rejected" it (its trace,
  then a reset by peer at herald), in others its BGP listener was closed while the protocol
  restarted ("connect failed: ... Connection refused" in herald's log, asserted absent here);
- BIRD traces each incoming connection as "accepted" or "rejected" (`debug { events }`): none
  from herald is rejected after the reset (a refusal at TCP level, as above, BIRD does not log:
  herald's side covers that one);
- once BFD packets pass again: BFD Up at both ends, the session Established, the prefix back in
  BIRD's table.
Budget: under 60 s.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bfd_lab  # noqa: E402
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

HERALD_MULT = 10   # BIRD's detection time: 10 x 50 ms
IDLE_HOLD = "3s"
TABLE = "herald_test_bfd_drop"
RESET_LINE = "resetting the BGP session"
IDLE_EXPIRED = "IdleHold timer expired"


def herald_config(lab: harness.Lab) -> str:
    text = bfd_lab.herald_config(lab)
    for old, new in (("bfd-wait-for-up = true\n", "bfd-wait-for-up = false\n"),
                     (f"bfd-multiplier = {bfd_lab.BFD_MULT}\n", f"bfd-multiplier = {HERALD_MULT}\n"),
                     ("connect-retry = \"1s\"\n", f"connect-retry = \"1s\"\nidle-hold = \"{IDLE_HOLD}\"\n")):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def bird_config() -> str:
    return hl.upstream_bird_config(more_config=f"""
protocol bfd {{
  interface "eth0" {{ min rx interval {bfd_lab.BFD_MS} ms; min tx interval {bfd_lab.BFD_MS} ms; multiplier {bfd_lab.BFD_MULT}; }};
}}
""", log="all", hold=3, extra="  bfd on;\n  debug { states, events };")


def peer_events(node: bfd_lab.Node) -> list:
    if not node.events:
        return []
    return [e for e in (json.loads(l) for l in node.events.log().splitlines() if l.startswith("{"))
            if e.get("event") == "peer"]


def drop_bfd(ns: harness.Netns) -> None:
    """Drops BFD control and echo packets both ways in `ns`, in a table of the test's own."""
    harness.run(ns.cmd("nft", "-f", "-"), input=f"""
table inet {TABLE} {{
  chain bfd_in {{ type filter hook input priority 0; udp dport {{ 3784, 3785 }} drop; }}
  chain bfd_out {{ type filter hook output priority 0; udp dport {{ 3784, 3785 }} drop; }}
}}
""")


def pass_bfd(ns: harness.Netns) -> None:
    ns.run("nft", "delete", "table", "inet", TABLE, check=False)


def main() -> int:
    harness.require_root()
    with harness.Lab("bfdreset") as lab:
        up = lab.netns("up")
        node_ns = lab.netns("node")
        lab.link(up, f"{hl.ROUTER_V4}/24", node_ns, f"{hl.NODE_V4}/24", v6=(f"{hl.ROUTER_V6}/64", f"{hl.NODE_V6}/64"))
        router = bfd_lab.BirdRouter(lab, up, bird_config())
        bird = router.bird
        os.chmod(lab.dir, 0o755)  # herald runs as nobody and must reach its state directory
        node = bfd_lab.Node(lab, node_ns)
        prefix = hl.PREFIX_V4

        def converge(what: str, timeout: float = 20) -> None:
            harness.wait_for(lambda: router.bfd_state() == "up", timeout=timeout, what=f"BIRD BFD Up ({what})")
            harness.wait_for(lambda: (node.peer_bfd() or {}).get("state") == "Up", timeout=timeout,
                             what=f"herald BFD Up ({what})")
            harness.wait_for(lambda: node.status()["peers"][0]["state"] == "Established", timeout=timeout,
                             what=f"herald's BGP session ({what})")
            harness.wait_for(router.session_up, timeout=timeout, what=f"BGP with BIRD ({what})")
            harness.wait_for(lambda: router.has_route(prefix), timeout=timeout, what=f"{prefix} at BIRD ({what})")

        node.start(herald_config(lab))
        node.dns.wait_ready()
        converge("start")
        assert "BGP waits for BFD Up" not in node.herald.log()
        print("ok: BFD Up and BGP Established with BIRD (bfd-wait-for-up = false)")

        # The stream carries the BFD session coming Up: it is connected before BFD is taken down.
        harness.wait_for(lambda: any(e["new"] == "Up" for e in node.bfd_events()), timeout=5,
                         what="herald's event stream to carry BFD Up")
        events_mark = len(peer_events(node))
        herald_mark = len(node.herald.log().splitlines())
        bird_mark = len(bird.proc.log().splitlines())
        drop_bfd(up)
        try:
            harness.wait_for(lambda: RESET_LINE in "\n".join(node.herald.log().splitlines()[herald_mark:]),
                             timeout=5, what="herald's reset for BFD down")
            received = harness.wait_for(
                lambda: next((l for l in bird.proc.log().splitlines()[bird_mark:] if "herald: Received:" in l), None),
                timeout=5, what="BIRD to log herald's NOTIFICATION")
            harness.wait_for(lambda: router.bfd_state() in ("down", "none"), timeout=5, what="BIRD's BFD Down")
        finally:
            pass_bfd(up)
        print(f"ok: herald reset the session for BFD down; BIRD: {received!r}")
        # BIRD 2.0 has no name for Cease subcode 10 and prints the code ("Unknown error 6.10");
        # later versions name it.
        assert "Received:" in received and ("6.10" in received or "BFD" in received), received

        converge("BFD passes again", timeout=25)

        lines = node.herald.log().splitlines()[herald_mark:]
        reset_line = next(l for l in lines if RESET_LINE in l)
        assert "BFD down (Control Detection Time Expired)" in reset_line and "peer=upstream" in reset_line, reset_line
        # The order of herald's peer transitions comes from its event stream: the log holds back
        # a line identical to a recent one (the old immediate restart's "state Idle -> Connect:
        # start" repeated the first start's), the events carry every transition.
        def moves_to_established():
            m = peer_events(node)[events_mark:]
            return m if any(e["new"] == "Established" for e in m) else None
        moves = harness.wait_for(moves_to_established, timeout=5, what="herald's event stream to carry Established")
        shown = "\n".join(f"{e['old']} -> {e['new']}: {e['reason']}" for e in moves[:12])
        assert len(moves) >= 2 and moves[0]["old"] == "Established" and moves[0]["new"] == "Idle" \
            and "Cease/BFD Down (6/10)" in moves[0]["reason"], shown
        assert moves[1]["old"] == "Idle" and moves[1]["new"] == "Connect" \
            and moves[1]["reason"].startswith(IDLE_EXPIRED), f"herald connected again before its idle hold ended:\n{shown}"
        assert moves[0]["reason"].startswith("reset: ") and "(IdleHold)" in moves[0]["reason"], shown
        # From the reset to Established: one connection, neither refused nor failed.
        up_at = next(i for i, e in enumerate(moves) if e["new"] == "Established")
        assert [(e["old"], e["new"]) for e in moves[1:up_at + 1]] == \
            [("Idle", "Connect"), ("Connect", "OpenSent"), ("OpenSent", "OpenConfirm"), ("OpenConfirm", "Established")], \
            f"herald's reconnect after the reset was not one clean connection:\n{shown}"
        failed = [l for l in lines if "connect failed" in l]
        assert not failed, "herald's connection was refused after the reset:\n" + "\n".join(failed)
        print(f"ok: herald's log: {reset_line.strip()!r}; its transitions: "
              + "; ".join(f"{e['old']} -> {e['new']}: {e['reason']}" for e in moves[:up_at + 1]))

        bird_lines = bird.proc.log().splitlines()[bird_mark:]
        incoming = [l for l in bird_lines if f"Incoming connection from {hl.NODE_V4}" in l]
        assert incoming, "BIRD traced no incoming connection from herald:\n" + "\n".join(bird_lines[-40:])
        rejected = [l for l in incoming if "rejected" in l]
        assert not rejected, "BIRD rejected herald's connection after the reset:\n" + "\n".join(bird_lines[-60:])
        print(f"ok: BIRD accepted herald's new connection ({incoming[-1].strip()!r}); session and {prefix} back")
    return 0


if __name__ == "__main__":
    sys.exit(main())
