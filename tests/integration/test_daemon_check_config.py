"""`herald --check-config` asks the host, as the daemon will: a user or control-group that does
not exist, or a peer at one of the host's own addresses (127.0.0.1 here), is refused with
FILE:LINE:COL and exit status 1; `--dump-config` does not look at the host. A bare number of
seconds (`hold-time = 90`) is refused with the exact spelling to write; an error in a named check
names the service and the check. No namespaces
needed."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BASE = """[global]
local-as = 65001
router-id = "192.0.2.10"
{extra}
[[peer]]
name = "up"
address = "{peer}"
remote-as = 65000
"""

NAMED_CHECK = """
[[service]]
name = "dns"
prefixes = ["192.0.2.53/32"]

[[service.check]]
type = "soa"
name = "soa"
zone = "example."
primary = "198.51.100.1"
timeout = "0s"
"""


def herald(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([harness.binary("herald"), *args], capture_output=True, text=True, timeout=20)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="herald-check-") as d:
        path = os.path.join(d, "herald.toml")
        cases = [
            ('user = "herald-no-such-user"\n', "203.0.113.1",
             f'{path}:4:8: global.user: no user "herald-no-such-user" on this host'),
            ('user = ""\ncontrol-group = "herald-no-such-group"\n', "203.0.113.1",
             f'{path}:5:17: global.control-group: no group "herald-no-such-group" on this host'),
            ('user = ""\n', "127.0.0.1",
             f'{path}:8:11: peer[0].address: 127.0.0.1 is an address of this host'),
        ]
        for extra, peer, want in cases:
            with open(path, "w") as f:
                f.write(BASE.format(extra=extra, peer=peer))
            r = herald("--check-config", path)
            assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
            assert want in r.stderr, r.stderr
            d_r = herald("--dump-config", path)
            assert d_r.returncode == 0, d_r.stderr
            print(f"ok: refused: {want}")
        # A bare number where BIRD and FRR read seconds: the error says exactly what to write (#20.8).
        with open(path, "w") as f:
            f.write(BASE.format(extra='user = ""\n', peer="203.0.113.1") + "hold-time = 90\n")
        r = herald("--check-config", path)
        want = (f'{path}:10:13: peer[0].hold-time: expected a duration with a unit: write "90s" for 90 seconds '
                f'or "90ms" for 90 milliseconds, got integer 90')
        assert r.returncode == 1 and want in r.stderr, (r.returncode, r.stderr)
        print(f"ok: refused: {want}")
        # Errors inside a service call it and its check by their names (#20.4).
        with open(path, "w") as f:
            f.write(BASE.format(extra='user = ""\n', peer="203.0.113.1") + NAMED_CHECK)
        r = herald("--check-config", path)
        want = f'{path}:20:11: service "dns" check "soa" timeout: expected a duration above 0s'
        assert r.returncode == 1 and want in r.stderr, (r.returncode, r.stderr)
        print(f"ok: refused: {want}")
        with open(path, "w") as f:
            f.write(BASE.format(extra='user = "root"\ncontrol-group = "root"\n', peer="203.0.113.1"))
        r = herald("--check-config", path)
        assert r.returncode == 0, r.stderr
        print("ok: existing user and group pass")
    print("check-config: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
