"""BFD interop with BIRD 2 (`protocol bfd`, `bfd on`): sessions up; herald SIGKILLed -> BIRD drops
the route within 3 x 50 ms + 100 ms (measured, and compared with the hold timer alone); BIRD
frozen (SIGSTOP) -> herald's BFD detects it within the detection time and resets BGP; link down
-> both sides down. Budget: under 60 s."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bfd_lab  # noqa: E402
import harness  # noqa: E402


def main() -> int:
    harness.require_root()
    with harness.Lab("bfdbird") as lab:
        bfd_lab.run_scenario(lab, bfd_lab.BirdRouter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
