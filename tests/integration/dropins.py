"""The shipped systemd drop-ins (packaging/dropins/UNIT.d/herald.conf), read as systemd reads them,
for the tests and the benchmark: their ExecStop= and ExecStartPost= command lines, in order."""
from __future__ import annotations

import os
import shlex

DROPINS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packaging", "dropins")
UNITS = ("unbound", "knot", "nsd", "pdns", "named")


def path(unit: str) -> str:
    return os.path.join(DROPINS, f"{unit}.service.d", "herald.conf")


def commands(unit: str, key: str) -> list[list[str]]:
    """The argv of each `key=` line of the unit's drop-in in the order systemd runs them (an empty
    `key=` resets the list), with the prefixes (-, +, @, :, !) removed and %n substituted."""
    out: list[list[str]] = []
    with open(path(unit)) as f:
        for line in f:
            line = line.strip()
            if not line.startswith(key + "="):
                continue
            value = line[len(key) + 1:].strip()
            if not value:
                out = []
                continue
            value = value.lstrip("-+@:!")
            out.append([a.replace("%n", f"{unit}.service") for a in shlex.split(value)])
    return out


def heraldctl_argv(argv: list[str], heraldctl: str, socket: str) -> list[str]:
    """A drop-in's heraldctl line run against a test's herald: the built binary and its socket."""
    assert argv[0] == "/usr/bin/heraldctl", argv
    return [heraldctl, "--socket", socket, *argv[1:]]
