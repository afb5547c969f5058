"""/metrics of a live herald with a real BIRD 2 upstream, before and after a reload that removes a
peer and a service (docs/metrics.md, issue #20 item 6).

herald has two peers: "upstream" (BIRD, Established) and "spare", an address where no router
answers (never Established), and two services: "dns" (checked against a real unbound) and
"ntp" (no checks). Asserts that states are labels (one series per state, exactly one of them
1) with `herald_peer_up` beside them, that every peer family has the `herald_peer_` prefix and
that the text passes promtool; then reloads without "spare" and "ntp" and asserts that every
series of both is gone from the next scrape, while BIRD keeps its session and the dns prefix
and loses the ntp one.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import herald_lab as hl  # noqa: E402

SPARE = hl.herald_peer("spare", "203.0.113.9", 65099, hl.NODE_V4)  # nobody answers there
NTP = """
[[service]]
name = "ntp"
prefixes = ["198.51.100.123/32"]
"""
BGP_STATES = ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established")


def scrape(site: hl.Site) -> str:
    return site.node.run("curl", "-sf", "http://127.0.0.1:9179/metrics").stdout


def samples(text: str) -> dict:
    """{'name{labels}': value} of every sample line."""
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", text, re.M)}


def mentions(text: str, label: str) -> list:
    return [line for line in text.splitlines() if not line.startswith("#") and label in line]


def main() -> int:
    harness.require_root()
    with harness.Lab("metricsrl") as lab:
        site = hl.Site(lab, "bird")
        site.start_herald(hl.herald_config(lab, extra_services=NTP) + SPARE)
        site.start_dns().wait_ready()
        harness.wait_for(site.session_up, timeout=20, what="BGP session with BIRD")
        site.wait_route(hl.PREFIX_V4, True, timeout=15)
        site.wait_route("198.51.100.123/32", True, timeout=5)
        harness.wait_for(lambda: 'herald_check_results_total{service="dns"' in scrape(site), timeout=10,
                         what="the first check result on /metrics")

        text = scrape(site)
        lint = harness.run(["promtool", "check", "metrics"], check=False, input=text)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        s = samples(text)
        assert s['herald_peer_up{peer="upstream"}'] == 1 and s['herald_peer_up{peer="spare"}'] == 0, text[:3000]
        for peer, now in (("upstream", "Established"), ("spare", None)):
            states = {st: s[f'herald_peer_state{{peer="{peer}",state="{st}"}}'] for st in BGP_STATES}
            assert sum(states.values()) == 1, (peer, states)
            if now:
                assert states[now] == 1, (peer, states)
            else:
                assert states["Established"] == 0, (peer, states)
        for svc in ("dns", "ntp"):
            assert s[f'herald_service_state{{service="{svc}",state="Up"}}'] == 1, text[:3000]
            assert s[f'herald_service_state{{service="{svc}",state="Down"}}'] == 0, text[:3000]
            assert s[f'herald_service_state{{service="{svc}",state="Drained"}}'] == 0, text[:3000]
        assert s['herald_peer_prefixes_announced{peer="upstream"}'] == 3, text[:3000]
        assert s['herald_peer_messages_sent_total{peer="upstream",type="update"}'] >= 1, text[:3000]
        # Every series with a peer label is in a herald_peer_ family.
        other = [l for l in mentions(text, 'peer="') if not l.startswith("herald_peer_")]
        assert not other, other
        assert mentions(text, 'peer="spare"') and mentions(text, 'service="ntp"')
        print("ok: /metrics passes promtool; states are one series per state with one at 1, "
              "herald_peer_up beside them, every peer series is herald_peer_*")

        sent_before = s['herald_peer_messages_sent_total{peer="upstream",type="keepalive"}']
        since = site.bird.protocol_since("herald")
        site.write_config(hl.herald_config(lab))
        r = site.ctl("reload", check=False)
        assert r.returncode == 0, (r.stdout, r.stderr)
        site.wait_route("198.51.100.123/32", False, timeout=10)
        harness.wait_for(lambda: not mentions(scrape(site), 'peer="spare"'), timeout=5,
                         what="the removed peer's series to leave /metrics")
        text = scrape(site)
        assert not mentions(text, 'peer="spare"'), mentions(text, 'peer="spare"')
        assert not mentions(text, 'service="ntp"'), mentions(text, 'service="ntp"')
        s = samples(text)
        assert s['herald_peer_up{peer="upstream"}'] == 1, text[:3000]
        assert s['herald_service_state{service="dns",state="Up"}'] == 1, text[:3000]
        # The session was kept, and so is its counter: the speaker's total, as it is.
        assert s['herald_peer_messages_sent_total{peer="upstream",type="keepalive"}'] >= sent_before, text[:3000]
        assert harness.same_since(site.bird.protocol_since("herald"), since), site.bird.protocol_state("herald")
        assert site.has_route(hl.PREFIX_V4)
        lint = harness.run(["promtool", "check", "metrics"], check=False, input=text)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        print("ok: reload without peer spare and service ntp: their series are gone from /metrics; "
              "BIRD kept its session and the dns prefix, lost the ntp one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
