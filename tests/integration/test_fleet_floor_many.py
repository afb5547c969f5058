#!/usr/bin/python3
"""Many sites failing at once against a real 3-member etcd 3.4 cluster (etcd_lab): the floor's
per-site ledger (floor/<service>/<site>, fleet/floor.hpp) never lets more withdraw than the floor
allows, whatever order etcd commits their txns in.

Twelve sites s01..s12 publish dns (herald-fleet publish, each under its own lease, from its own
namespace); each round starts the floor decision of the failing sites at the same instant
(--start-at-ms, as test_fleet_etcd.py does), every ledger key under its site's lease:
- three rounds of all twelve failing with min-sites 4: exactly 8 withdraw and 4 hold; the
  witnesses (the first four by name) fail too;
- six of the twelve failing (s01..s06, so every failing site's witnesses include failing ones)
  with min-sites 8: exactly 4 withdraw;
- all twelve with min-sites 75% (a floor of 9): exactly 3 withdraw;
- all twelve with min-sites 4 again, each reading the index two keys at a time (--page 2): every
  site reads a further page at its read's revision (etcd's limit, more and revision), and still
  exactly 8 withdraw; and with min-sites 75%, its floor from the index's count, exactly 3.
After each round the ledger holds exactly the sites that withdrew, each key under that site's
lease; then they recover and the ledger is empty again. The assertions are on the ledger keys in
etcd and on each site's verdict, never on timing: the counts follow from etcd's serial order alone.

Run as root: HERALD_BUILD=<build dir> /usr/bin/python3 tests/integration/test_fleet_floor_many.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcd_lab  # noqa: E402
import harness  # noqa: E402

FLEET = "lab"
SITES = [f"s{i:02d}" for i in range(1, 13)]
TTL = 10


def main() -> int:
    harness.require_root()
    etcd_lab.require_etcd()
    exe = harness.binary("herald-fleet")
    with harness.Lab("floormany") as lab:
        etcd = etcd_lab.Cluster(lab)
        eps = etcd.endpoints()
        ns = {s: etcd.site(s) for s in SITES}

        def fleet(*args):
            r = ns[SITES[0]].run(exe, "--endpoints", eps, *args, check=False, timeout=30)
            assert r.returncode == 0, (args, r.stdout, r.stderr)
            return json.loads(r.stdout.strip().splitlines()[-1])

        pubs, lease = {}, {}
        for s in SITES:
            pubs[s] = ns[s].popen([exe, "--endpoints", eps, "publish", "--fleet", FLEET, "--site", s,
                                   "--region", "eu", "--service", "dns", "--ttl", str(TTL)], f"publish-{s}")
        for s in SITES:
            lease[s] = etcd_lab.wait_json_line(pubs[s], lambda j: j.get("event") == "published", 20,
                                               f"site {s} published")["lease"]
        index = fleet("list", "--prefix", f"/herald/{FLEET}/index/dns/")["kvs"]
        assert sorted(kv["key"].rsplit("/", 1)[1] for kv in index) == SITES, index
        assert all(kv["value"] == "announced" for kv in index), index
        print(f"ok: {len(SITES)} sites publish dns, each under its own lease")

        def ledger() -> dict:
            """site -> its ledger key's {value, lease}."""
            kvs = fleet("list", "--prefix", f"/herald/{FLEET}/floor/dns/")["kvs"]
            return {kv["key"].rsplit("/", 1)[1]: kv for kv in kvs}

        def decide(who, fail: bool, min_sites: str, page: int = 0) -> dict:
            """The floor decision of each site of `who`, all starting at the same instant."""
            return etcd_lab.floor_decisions(exe, eps, ns, FLEET, lease, who, fail, min_sites,
                                            etcd_lab.now_ms() + 2000, page)

        def round_(name: str, failing, min_sites: str, withdraw: int, page: int = 0):
            out = decide(failing, True, min_sites, page)
            if page:
                # A first page of 2 index keys has at most 2 announcing others, fewer than the
                # floor: every site read more at its read's revision before deciding.
                assert all(o["pages"] >= 1 for o in out.values()), (name, out)
            else:
                # The default first page (floor + 16) holds all twelve: no further page.
                assert all(o["pages"] == 0 for o in out.values()), (name, out)
            verdicts = {s: o["verdict"] for s, o in out.items()}
            withdrawn = sorted(s for s, v in verdicts.items() if v == "withdraw")
            held = sorted(s for s, v in verdicts.items() if v == "hold")
            assert len(withdrawn) == withdraw and len(held) == len(failing) - withdraw, (name, out)
            for s in held:
                # Held by the count, not for losing too many races in a row.
                assert out[s]["reason"].startswith("held by fleet floor: checks fail but only"), (name, out[s])
            led = ledger()
            assert sorted(led) == withdrawn, (name, sorted(led), out)
            for s, kv in led.items():
                assert kv["value"] == "withdrawn" and kv["lease"] == lease[s], (name, s, kv)
            attempts = sorted(o["attempts"] for o in out.values())
            print(f"ok: {name}: {withdrawn} withdrew, {held} held (txns per site {attempts})")
            # Everyone recovers: each deletes its own key.
            back = decide(withdrawn, False, min_sites)
            assert all(o["verdict"] == "announce" for o in back.values()), back
            assert ledger() == {}, ledger()

        for r in range(1, 4):
            round_(f"round {r}, all 12 failing, min-sites 4", SITES, "4", 8)
        round_("6 of 12 failing (s01..s06), min-sites 8", SITES[:6], "8", 4)
        round_("all 12 failing, min-sites 75% (9)", SITES, "75%", 3)
        round_("all 12 failing, min-sites 4, index read 2 keys a page", SITES, "4", 8, page=2)
        # A share floor from the index's count (count_only) while the entries come in pages.
        round_("all 12 failing, min-sites 75% (9), index read 2 keys a page", SITES, "75%", 3, page=2)

        for s in SITES:
            assert pubs[s].alive(), pubs[s].log()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
