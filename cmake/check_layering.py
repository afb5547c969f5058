#!/usr/bin/env python3
"""The build's layering check (docs/layering.md): refuses a cross-layer #include.

Inputs: the source root, the target list CMake writes at configure time (cmake/layering.cmake:
one line per target: name, type, its sources and its direct links), and docs/layering.md, whose
table says which library may link which. It fails, naming file and line, when
  1. a source includes a herald header owned by a target that its own target does not link
     (directly or through the libraries it links): `#include "bgp/x.hpp"` is allowed only in a
     target that links the library listing bgp/x.hpp;
  2. a library links a herald library its row of the table does not allow, or has no row;
  3. a .cpp/.hpp in a directory with a CMakeLists.txt is in no target's source list (an
     explicit list that forgot a file would otherwise skip it silently);
  4. a file other than base/asio.hpp, base/beast.hpp and base/beast_ssl.hpp includes
     <boost/asio/...> or <boost/beast/...> (the one Asio include wrapper).
On success it touches the stamp file, on which every herald target's compilation waits.
Standard library only; runs in well under a second.
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
ASIO_WRAPPERS = {"base/asio.hpp", "base/beast.hpp", "base/beast_ssl.hpp"}
ASIO_INCLUDE = re.compile(r"^boost/(asio|beast)[/.]")
LIBRARY_TYPES = {"STATIC_LIBRARY", "SHARED_LIBRARY", "OBJECT_LIBRARY", "INTERFACE_LIBRARY"}
SOURCE_SUFFIXES = (".cpp", ".hpp", ".h", ".cc")


def read_targets(path):
    """name -> (type, [source paths relative to the root], [direct links])."""
    targets = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            name, kind, sources, links = (line.split("\t") + ["", "", ""])[:4]
            targets[name] = (kind, [s for s in sources.split(",") if s],
                             [l for l in links.split(",") if l])
    return targets


def read_table(path):
    """Library name -> set of libraries it may link, from docs/layering.md's table rows."""
    table = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 3:
                continue
            m = re.fullmatch(r"`(herald_\w+)`", cells[0])
            if m:
                table[m.group(1)] = set(re.findall(r"`(herald_\w+)`", cells[2]))
    return table


def link_name(entry):
    m = re.fullmatch(r"\$<LINK_ONLY:([^>]+)>", entry)
    return m.group(1) if m else entry


def closure(name, links):
    seen, todo = set(), [name]
    while todo:
        for dep in links.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def check(root, targets, table, scanned_dirs):
    errors = []
    herald = set(targets)
    links = {n: {link_name(l) for l in t[2]} & herald for n, t in targets.items()}
    owners = {}
    for name, (_, sources, _) in targets.items():
        for s in sources:
            owners.setdefault(s, set()).add(name)

    # 2. Library links against the table.
    for name, (kind, _, _) in sorted(targets.items()):
        if kind not in LIBRARY_TYPES:
            continue
        if name not in table:
            errors.append(f"docs/layering.md: library {name} has no row in the layering table; "
                          f"add one saying which libraries it may link")
            continue
        for dep in sorted(links[name] - table[name]):
            errors.append(f"docs/layering.md: {name} links {dep}, which its row does not allow")

    # 3. Files no target lists.
    for d in scanned_dirs:
        full = os.path.join(root, d)
        if not os.path.isdir(full):
            continue
        for entry in sorted(os.listdir(full)):
            rel = os.path.normpath(os.path.join(d, entry))
            if entry.endswith(SOURCE_SUFFIXES) and rel not in owners:
                errors.append(f"{rel}: in no target's source list; add it to "
                              f"{os.path.normpath(os.path.join(d, 'CMakeLists.txt'))}")

    # 1 and 4. Includes.
    for rel in sorted(owners):
        if not rel.endswith(SOURCE_SUFFIXES):
            continue
        try:
            with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except FileNotFoundError:
            continue  # CMake's own error names it
        for lineno, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, inc = m.groups()
            where = f"{rel}:{lineno}"
            if kind == "<":
                if ASIO_INCLUDE.match(inc) and rel not in ASIO_WRAPPERS:
                    errors.append(f"{where}: includes <{inc}>; include \"base/asio.hpp\" (or "
                                  f"\"base/beast.hpp\", \"base/beast_ssl.hpp\"), the one Asio "
                                  f"include wrapper")
                continue
            local = os.path.normpath(os.path.join(os.path.dirname(rel), inc))
            if os.path.exists(os.path.join(root, local)):
                header = local
            elif os.path.exists(os.path.join(root, inc)):
                header = os.path.normpath(inc)
            else:
                continue  # not herald's: the compiler will say
            header_owners = owners.get(header)
            if not header_owners:
                errors.append(f"{where}: includes {header}, which is in no target's source list")
                continue
            for target in sorted(owners[rel]):
                reach = closure(target, links) | {target}
                if not header_owners & reach:
                    errors.append(f"{where}: {target} includes {header} of "
                                  f"{', '.join(sorted(header_owners))}, which {target} does not "
                                  f"link (layering: see docs/layering.md)")
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True, help="source root")
    ap.add_argument("--targets", required=True, help="target list written by cmake/layering.cmake")
    ap.add_argument("--table", required=True, help="docs/layering.md")
    ap.add_argument("--dirs", default="", help="';'-separated directories to scan for unlisted files")
    ap.add_argument("--stamp", help="file to touch on success")
    args = ap.parse_args()
    errors = check(args.root, read_targets(args.targets), read_table(args.table),
                   [d for d in args.dirs.split(";") if d])
    if errors:
        for e in errors:
            print(f"layering: {e}", file=sys.stderr)
        print(f"layering: {len(errors)} breach(es); the allowed layering is docs/layering.md",
              file=sys.stderr)
        return 1
    if args.stamp:
        with open(args.stamp, "w", encoding="utf-8") as f:
            f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
