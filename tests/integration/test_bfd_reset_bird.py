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
- herald logs "BFD down (...): resetting the BGP session" and BIRD records "Received: ..." the
  Cease/BFD Down NOTIFICATION (`show protocols all`);
- in herald's log, after the reset line the next thing herald does towards the peer is the
  IdleHold expiry, and only then "connecting to" (herald's debug line for each connection
  attempt): a reconnect at once (the old stop-then-start) fails here;
- BIRD traces each incoming connection as "accepted" or "rejected" (`debug { events }`): none
  from herald is rejected after the reset;
- once BFD packets pass again: BFD Up at both ends, the session Established, the prefix back in
  BIRD's table.
Budget: under 60 s.
"""
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
LEAVES_IDLE = "state Idle -> "
IDLE_EXPIRED = "IdleHold timer expired"
CONNECTED = f" -> {hl.ROUTER_V4}:179"  # herald's debug line "connected LOCAL -> REMOTE" for each connection


def herald_config(lab: harness.Lab) -> str:
    text = bfd_lab.herald_config(lab)
    for old, new in (("bfd-wait-for-up = true\n", "bfd-wait-for-up = false\n"),
                     (f"bfd-multiplier = {bfd_lab.BFD_MULT}\n", f"bfd-multiplier = {HERALD_MULT}\n"),
                     ("connect-retry = \"1s\"\n", f"connect-retry = \"1s\"\nidle-hold = \"{IDLE_HOLD}\"\n"),
                     ("[global]\n", "[global]\nlog-level = \"debug\"\n")):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def bird_config() -> str:
    return hl.upstream_bird_config(more_config=f"""
protocol bfd {{
  interface "eth0" {{ min rx interval {bfd_lab.BFD_MS} ms; min tx interval {bfd_lab.BFD_MS} ms; multiplier {bfd_lab.BFD_MULT}; }};
}}
""", log="all", hold=3, extra="  bfd on;\n  debug { states, events };")


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
        bird = lab.bird(up, bird_config())
        router = bfd_lab.BirdRouter.__new__(bfd_lab.BirdRouter)
        router.lab, router.ns, router.bird = lab, up, bird
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

        herald_mark = len(node.herald.log().splitlines())
        bird_mark = len(bird.proc.log().splitlines())
        drop_bfd(up)
        try:
            harness.wait_for(lambda: RESET_LINE in "\n".join(node.herald.log().splitlines()[herald_mark:]),
                             timeout=5, what="herald's reset for BFD down")
            harness.wait_for(lambda: "Received:" in router.describe_last_error(), timeout=5,
                             what="BIRD to record herald's NOTIFICATION")
            harness.wait_for(lambda: router.bfd_state() in ("down", "none"), timeout=5, what="BIRD's BFD Down")
        finally:
            pass_bfd(up)
        received = router.describe_last_error()
        print(f"ok: herald reset the session for BFD down; BIRD: {received!r}")
        # BIRD 2.0 has no name for Cease subcode 10 and prints the code ("Unknown error 6.10");
        # later versions name it.
        assert "Received:" in received and ("6.10" in received or "BFD" in received), received

        converge("BFD passes again", timeout=25)

        lines = node.herald.log().splitlines()[herald_mark:]
        reset_at = next(i for i, l in enumerate(lines) if RESET_LINE in l)
        reset_line = lines[reset_at]
        assert "BFD down (Control Detection Time Expired)" in reset_line and "upstream" in reset_line, reset_line
        after = lines[reset_at + 1:]
        leave_at = next((i for i, l in enumerate(after) if LEAVES_IDLE in l), None)
        connect_at = next((i for i, l in enumerate(after) if "connected " in l and CONNECTED in l), None)
        tail = "\n".join(lines[reset_at:reset_at + 30])
        assert leave_at is not None and connect_at is not None, f"herald never connected again after the reset:\n{tail}"
        assert IDLE_EXPIRED in after[leave_at] and leave_at < connect_at, \
            f"herald connected again before its idle hold ended:\n{tail}"
        idle_at = leave_at
        print(f"ok: herald's log: {reset_line.strip()!r}, then {after[idle_at].strip()!r}, "
              f"then {after[connect_at].strip()!r}")

        bird_lines = bird.proc.log().splitlines()[bird_mark:]
        incoming = [l for l in bird_lines if f"Incoming connection from {hl.NODE_V4}" in l]
        assert incoming, "BIRD traced no incoming connection from herald:\n" + "\n".join(bird_lines[-40:])
        rejected = [l for l in incoming if "rejected" in l]
        assert not rejected, "BIRD rejected herald's connection after the reset:\n" + "\n".join(bird_lines[-60:])
        print(f"ok: BIRD accepted herald's new connection ({incoming[-1].strip()!r}); session and {prefix} back")
    return 0


if __name__ == "__main__":
    sys.exit(main())
