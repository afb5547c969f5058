"""Native DNS health check against a real unbound in a network namespace, via herald-check.

Topology: namespace "dns" (unbound on 192.0.2.53) <-veth-> namespace "cli" (192.0.2.10), where
herald-check runs. Covers: answer, wrong answer, TCP, TC -> TCP retry, SERVFAIL, REFUSED after an
access-control change, frozen server (SIGSTOP), stopped server, and one service (Monitor) going
Up -> Down -> Up -> Drained.
"""
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SERVER = "192.0.2.53"
CLIENT = "192.0.2.10"
REFUSER = "192.0.2.54"
# 40 TXT records of ~40 bytes: far beyond 512 bytes, so a UDP reply without EDNS is truncated.
BIG_TXT = [f"big.example. 60 IN TXT record-{i:02d}-padding-padding-padding-padding" for i in range(40)]


def check(cli, *args, timeout_ms=500):
    """Runs one check in the client namespace; returns its JSON result."""
    return harness.run_check(cli, *args, timeout_ms=timeout_ms)


def dns(cli, *extra, timeout_ms=500):
    return check(cli, "dns", "--server", SERVER, *extra, timeout_ms=timeout_ms)


def expect_fail(res, pattern):
    assert not res["pass"], res
    assert re.search(pattern, res["reason"]), (pattern, res["reason"])


def main():
    harness.require_root()
    t0 = time.monotonic()
    with harness.Lab("hdns") as lab:
        ns = lab.netns("dns")
        cli = lab.netns("cli")
        lab.link(ns, f"{SERVER}/24", cli, f"{CLIENT}/24")
        # SERVFAIL source: fail.example.net is forwarded to a second unbound that refuses
        # everyone, so the first one gives up at once with SERVFAIL (a silent forwarder would
        # make it retry for many seconds).
        ns.run("ip", "addr", "add", f"{REFUSER}/32", "dev", "lo")
        lab.unbound(ns, REFUSER, [], extra="    access-control: 192.0.2.0/24 refuse", name="refuser")
        forward = f"""
forward-zone:
    name: "fail.example.net."
    forward-addr: {REFUSER}
"""
        ub = lab.unbound(ns, SERVER, ["www.example. 60 IN A 192.0.2.53", *BIG_TXT], extra=forward)
        ub.wait_ready()

        print("answers")
        res = dns(cli, "--name", "www.example.", "--type", "A", "--expect", "192.0.2.53")
        assert res["pass"] and res["reason"].startswith("rcode NOERROR, answer 192.0.2.53"), res
        res = dns(cli, "--name", "www.example", "--type", "A", "--rd", "--edns", "1232", "--require-answer")
        assert res["pass"], res

        print("wrong answer")
        expect_fail(dns(cli, "--name", "www.example.", "--type", "A", "--expect", "192.0.2.54"),
                    r"^answer 192\.0\.2\.53 != expected 192\.0\.2\.54$")
        expect_fail(dns(cli, "--name", "nothing.example.", "--type", "A"), r"^rcode NXDOMAIN$")

        print("TCP")
        res = dns(cli, "--tcp", "--name", "www.example.", "--type", "A", "--expect", "192.0.2.53")
        assert res["pass"], res

        print("truncation: UDP without EDNS gets TC, the check retries over TCP")
        res = dns(cli, "--name", "big.example.", "--type", "TXT", "--require-answer")
        assert res["pass"] and res["reason"].startswith("tcp after truncation: rcode NOERROR, 40 answer(s)"), res
        res = dns(cli, "--name", "big.example.", "--type", "TXT", "--edns", "4096")
        assert res["pass"] and "truncation" not in res["reason"], res

        print("SERVFAIL from a forward zone with nothing behind it")
        expect_fail(dns(cli, "--name", "www.fail.example.net.", "--type", "A", "--rd", timeout_ms=3000),
                    r"^rcode SERVFAIL$")

        print("service: up, frozen -> down, thawed -> up, maintenance file -> drained")
        maint = lab.path("maintenance")
        svc = cli.popen([harness.binary("herald-check"), "--service", "anycast-dns", "--run-for", "6000",
                         "--interval", "100", "--fast-interval", "50", "--rise", "2", "--fall", "2",
                         "--timeout", "200", "--maintenance-file", maint,
                         "dns", "--server", SERVER, "--name", "www.example.", "--type", "A",
                         "--expect", "192.0.2.53"], "service")

        def states():
            return [json.loads(l) for l in svc.log().splitlines() if l.startswith("{") and '"state"' in l]

        harness.wait_for(lambda: any(s["event"] == "state" and s["state"] == "Up" for s in states()),
                         timeout=3, what="service Up")
        ub.proc.signal(signal.SIGSTOP)
        harness.wait_for(lambda: states()[-1]["state"] == "Down", timeout=3, what="service Down when frozen")
        down = states()[-1]
        assert "timeout after 200ms (2 failing round(s))" in down["reason"], down
        ub.proc.signal(signal.SIGCONT)
        harness.wait_for(lambda: states()[-1]["state"] == "Up", timeout=3, what="service Up when thawed")
        with open(maint, "w"):
            pass
        harness.wait_for(lambda: states()[-1]["state"] == "Drained", timeout=3, what="service Drained")
        assert "file exists" in states()[-1]["reason"], states()[-1]
        os.unlink(maint)
        harness.wait_for(lambda: states()[-1]["state"] == "Up", timeout=3, what="service undrained")
        svc.popen.wait(timeout=10)
        snap = [s for s in states() if s["event"] == "snapshot"]
        assert snap and snap[0]["state"] == "Up" and snap[0]["checks"][0]["last"]["pass"], snap
        for s in states():
            print(f"  service {s['event']}: {s.get('previous', '')} -> {s['state']}: {s['reason']}")

        print("frozen server: timeout")
        ub.proc.signal(signal.SIGSTOP)
        expect_fail(dns(cli, "--name", "www.example.", "--type", "A"), r"^timeout after 500ms$")
        ub.proc.signal(signal.SIGCONT)
        ub.wait_ready()

        print("access-control changed to refuse: REFUSED")
        with open(ub.conf) as f:
            conf = f.read()
        with open(ub.conf, "w") as f:
            f.write(conf.replace("    access-control: ::/0 allow\n",
                                 "    access-control: ::/0 allow\n    access-control: 192.0.2.0/24 refuse\n"))
        ub.proc.signal(signal.SIGHUP)
        harness.wait_for(lambda: "REFUSED" in dns(cli, "--name", "www.example.", "--type", "A")["reason"],
                         timeout=5, what="unbound to refuse after reload")
        expect_fail(dns(cli, "--name", "www.example.", "--type", "A"), r"^rcode REFUSED$")
        res = dns(cli, "--name", "www.example.", "--type", "A", "--rcode", "NOERROR", "--rcode", "REFUSED")
        assert res["pass"], res

        print("stopped server: refused or timeout")
        ub.proc.stop()
        expect_fail(dns(cli, "--name", "www.example.", "--type", "A"), r"^(connection refused|timeout after 500ms)$")
        expect_fail(dns(cli, "--tcp", "--name", "www.example.", "--type", "A"), r"^(connection refused|timeout after 500ms)$")
    print(f"OK ({time.monotonic() - t0:.1f}s)")


if __name__ == "__main__":
    main()
