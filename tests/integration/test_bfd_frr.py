"""BFD interop with FRR 8 (zebra + bfdd, `neighbor X bfd profile`): sessions up; herald SIGKILLed ->
FRR drops the route within 3 x 50 ms + 100 ms (measured, and compared with the hold timer alone);
FRR's daemons frozen (SIGSTOP) -> herald's BFD detects it within the detection time and resets BGP; link down
-> both sides down. Budget: under 60 s."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bfd_lab  # noqa: E402
import harness  # noqa: E402


def main() -> int:
    harness.require_root()
    if not os.path.exists("/usr/lib/frr/bfdd"):
        print("FRR's bfdd is not installed (/usr/lib/frr/bfdd)")
        return 1
    with harness.Lab("bfdfrr") as lab:
        bfd_lab.run_scenario(lab, bfd_lab.FrrRouter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
