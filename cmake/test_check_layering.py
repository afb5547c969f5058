#!/usr/bin/env python3
"""The layering check must refuse each kind of breach and accept a clean tree.

Each case builds a small tree in a temporary directory (a base, a bgp and a health library, a
test program, a layering table), breaks one rule, and runs cmake/check_layering.py on it as the
build does. Standard library only; runs in about a second. Exits 0 when every case behaves.
"""
import os
import subprocess
import sys
import tempfile

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_layering.py")

TABLE = """| Library | Holds | May link |
|---|---|---|
| `herald_base` | base | — |
| `herald_bgp` | bgp | `herald_base` |
| `herald_health` | health | `herald_base` |
"""

FILES = {
    "base/expected.hpp": "#pragma once\n",
    "bgp/types.hpp": '#pragma once\n#include "base/expected.hpp"\n',
    "bgp/types.cpp": '#include "bgp/types.hpp"\n#include <vector>\n',
    "health/monitor.hpp": '#pragma once\n#include "base/expected.hpp"\n',
    "health/monitor.cpp": '#include "health/monitor.hpp"\n',
    "tests/test_types.cpp": '#include "bgp/types.hpp"\n#include "base/expected.hpp"\n',
}

TARGETS = {
    "herald_base": ("INTERFACE_LIBRARY", ["base/expected.hpp"], []),
    "herald_bgp": ("STATIC_LIBRARY", ["bgp/types.cpp", "bgp/types.hpp"], ["herald_base", "fmt::fmt"]),
    "herald_health": ("STATIC_LIBRARY", ["health/monitor.cpp", "health/monitor.hpp"],
                      ["herald_base"]),
    "test_bgp": ("EXECUTABLE", ["tests/test_types.cpp"], ["herald_bgp", "doctest::doctest"]),
}


def run(files=None, targets=None, table=TABLE):
    files = dict(FILES, **(files or {}))
    targets = dict(TARGETS, **(targets or {}))
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
                f.write(text)
        with open(os.path.join(root, "targets.txt"), "w", encoding="utf-8") as f:
            for name, (kind, sources, links) in targets.items():
                f.write(f"{name}\t{kind}\t{','.join(sources)}\t{','.join(links)}\n")
        with open(os.path.join(root, "layering.md"), "w", encoding="utf-8") as f:
            f.write(table)
        stamp = os.path.join(root, "stamp")
        p = subprocess.run([sys.executable, CHECKER, "--root", root,
                            "--targets", os.path.join(root, "targets.txt"),
                            "--table", os.path.join(root, "layering.md"),
                            "--dirs", "base;bgp;health;tests", "--stamp", stamp],
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr, os.path.exists(stamp)


failures = []


def expect_refused(name, needle, **kw):
    rc, err, stamped = run(**kw)
    if rc == 0 or stamped or needle not in err:
        failures.append(f"{name}: expected a refusal mentioning {needle!r}, got rc={rc} "
                        f"stamp={stamped} stderr={err!r}")


rc, err, stamped = run()
if rc != 0 or not stamped:
    failures.append(f"clean tree: expected success and a stamp, got rc={rc} stderr={err!r}")

expect_refused("health includes a bgp header",
               "health/monitor.cpp:2: herald_health includes bgp/types.hpp of herald_bgp",
               files={"health/monitor.cpp": '#include "health/monitor.hpp"\n#include "bgp/types.hpp"\n'})
expect_refused("a test includes what it does not link",
               "tests/test_types.cpp:1: test_bgp includes health/monitor.hpp",
               files={"tests/test_types.cpp": '#include "health/monitor.hpp"\n'})
expect_refused("a library links what its row does not allow",
               "herald_health links herald_bgp, which its row does not allow",
               targets={"herald_health": ("STATIC_LIBRARY", ["health/monitor.cpp", "health/monitor.hpp"],
                                          ["herald_base", "herald_bgp"])})
expect_refused("a library without a row", "library herald_policy has no row",
               targets={"herald_policy": ("STATIC_LIBRARY", [], ["herald_base"])})
expect_refused("a file no target lists", "health/forgotten.cpp: in no target's source list",
               files={"health/forgotten.cpp": "int x;\n"})
expect_refused("a header no target lists", "includes health/extra.hpp, which is in no target",
               files={"health/extra.hpp": "#pragma once\n",
                      "health/monitor.cpp": '#include "health/extra.hpp"\n'},
               targets={"herald_health": ("STATIC_LIBRARY",
                                          ["health/monitor.cpp", "health/monitor.hpp"],
                                          ["herald_base"])})
expect_refused("Asio outside the wrapper", "includes <boost/asio/io_context.hpp>",
               files={"bgp/types.cpp": '#include "bgp/types.hpp"\n#include <boost/asio/io_context.hpp>\n'})

for f in failures:
    print(f"FAIL {f}", file=sys.stderr)
print(f"{'FAILED' if failures else 'ok'}: layering check cases")
sys.exit(1 if failures else 0)
