#!/usr/bin/env python3
"""docs/metrics.md against the code: fails, naming each difference, when they disagree.

From the code: every metric family registered in daemon/*.cpp and daemon/*.hpp, i.e. every call
`registry_.counter|gauge|histogram("name", "help", {"label", ...}, ...)`, or `scrape.counter|gauge(...)`
for a family built at each scrape (comments removed first,
so examples in comments do not count). A registry call whose name is not a string literal is an
error too, and so is any other "herald_..." string literal there: its family could not be checked.

From the document: every table row `| `name` | type | `label`, `label` | meaning |` (labels
`none` for a family without labels), and every `herald_...` name used anywhere in it (the
example alerts, the meanings), which must be a documented family or one of a histogram's
_bucket, _sum and _count series, with only that family's labels (plus `le` on _bucket) in `{...}`.

Usage: check_metrics_doc.py [REPO_ROOT]   (default: two directories up from this file)
Exit status 0 when they agree, 1 with one line per difference otherwise. Python stdlib only.
"""
import pathlib
import re
import sys

KINDS = ("counter", "gauge", "histogram")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def strip_cpp_comments(text: str) -> str:
    """Removes // and /* */ comments, keeping string and character literals and line numbers."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


# registry_.counter("name", "help", {"a", "b"} ...  /  registry().gauge(...)  /  reg.histogram(...)  /  scrape.gauge(...)
CALL = re.compile(r"\b(?:registry_|registry\(\)|registry|reg|scrape)\s*\.\s*(counter|gauge|histogram)\s*\(")
LITERAL_ARGS = re.compile(
    r'\s*"([^"\\]*)"'                      # name
    r'\s*,\s*"(?:[^"\\]|\\.)*"'            # help
    r'(?:\s*,\s*\{([^}]*)\})?')            # labels (optional for counters and gauges)


def code_families(root: pathlib.Path):
    """{name: (kind, [labels], "file:line")} and a list of problems found in the code."""
    families, problems, texts = {}, [], []
    files = sorted(root.glob("daemon/*.cpp")) + sorted(root.glob("daemon/*.hpp"))
    for path in files:
        text = strip_cpp_comments(path.read_text())
        for m in CALL.finditer(text):
            where = f"{path.relative_to(root)}:{text.count(chr(10), 0, m.start()) + 1}"
            args = LITERAL_ARGS.match(text, m.end())
            if not args:
                problems.append(f"{where}: registry.{m.group(1)}() without a literal name and help: "
                                "cannot check it against docs/metrics.md")
                continue
            name, kind = args.group(1), m.group(1)
            labels = re.findall(r'"([^"]*)"', args.group(2) or "")
            if name in families and families[name][:2] != (kind, labels):
                k0, l0, w0 = families[name]
                problems.append(f"{where}: {name} registered as {kind} {labels}, but as {k0} {l0} at {w0}")
                continue
            families.setdefault(name, (kind, labels, where))
        texts.append((path, text))
    # A family registered some other way (a name in a variable, a registry under another name)
    # still has its name as a literal somewhere: every "herald_..." literal must be one found above.
    for path, text in texts:
        for m in re.finditer(r'"(herald_[a-z0-9_]+)"', text):
            if m.group(1) not in families:
                where = f"{path.relative_to(root)}:{text.count(chr(10), 0, m.start()) + 1}"
                problems.append(f"{where}: \"{m.group(1)}\" looks like a metric name, but no registry call "
                                "with it as a literal name was found: cannot check it against docs/metrics.md")
    return families, problems


ROW = re.compile(r"^\|\s*`(herald_\w+)`\s*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|")


def doc_families(doc: pathlib.Path):
    """{name: (kind, [labels], "file:line")}, every (line number, line), and problems in the tables."""
    families, problems, lines = {}, [], []
    for no, line in enumerate(doc.read_text().splitlines(), 1):
        lines.append((no, line))
        m = ROW.match(line)
        if not m:
            continue
        name, kind, label_cell = m.groups()
        where = f"docs/{doc.name}:{no}"
        if kind not in KINDS:
            problems.append(f"{where}: {name}: type '{kind}' is not one of {', '.join(KINDS)}")
        labels = [] if label_cell == "none" else re.findall(r"`([^`]+)`", label_cell)
        if label_cell != "none" and not labels:
            problems.append(f"{where}: {name}: labels cell '{label_cell}' is neither `label`, ... nor none")
        if name in families:
            problems.append(f"{where}: {name} documented twice (first at {families[name][2]})")
            continue
        families[name] = (kind, labels, where)
    return families, lines, problems


USE = re.compile(r"\b(herald_[a-z0-9_]+)(\{[^}]*\})?")


def check_uses(documented, lines, doc_name):
    """Every herald_* name in the text (meanings, alerts) must be a documented family, or one of a
    histogram's series, and use only its labels."""
    problems = []
    for no, line in lines:
        for m in USE.finditer(line):
            name, selector = m.group(1), m.group(2)
            family, allowed = name, None
            if name in documented:
                allowed = set(documented[name][1])
            else:
                for suffix in HISTOGRAM_SUFFIXES:
                    base = name[: -len(suffix)]
                    if name.endswith(suffix) and documented.get(base, ("",))[0] == "histogram":
                        family = base
                        allowed = set(documented[base][1]) | ({"le"} if suffix == "_bucket" else set())
            if allowed is None:
                problems.append(f"{doc_name}:{no}: {name} is used but is not a documented family")
                continue
            matchers = re.sub(r'"(?:[^"\\]|\\.)*"', '""', selector or "")  # values may hold '='
            for label in re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers):
                if label not in allowed:
                    problems.append(f"{doc_name}:{no}: {name} has no label '{label}' "
                                    f"({family} has: {', '.join(sorted(allowed)) or 'none'})")
    return problems


def compare(root: pathlib.Path):
    """(every difference as a line, how many families the code registers)."""
    doc = root / "docs" / "metrics.md"
    code, problems = code_families(root)
    documented, lines, doc_problems = doc_families(doc)
    problems += doc_problems
    if not code:
        problems.append("no metric family found in daemon/*.cpp: the extraction is broken")
    for name, (kind, labels, where) in sorted(code.items()):
        if name not in documented:
            problems.append(f"{where}: {name} ({kind}) is exported but missing from docs/metrics.md")
            continue
        dkind, dlabels, dwhere = documented[name]
        if dkind != kind:
            problems.append(f"{dwhere}: {name} is documented as a {dkind}, the code ({where}) registers a {kind}")
        if dlabels != labels:
            problems.append(f"{dwhere}: {name} is documented with labels {dlabels}, the code ({where}) has {labels}")
    for name, (_, _, dwhere) in sorted(documented.items()):
        if name not in code:
            problems.append(f"{dwhere}: {name} is documented but not registered in daemon/")
    problems += check_uses(documented, lines, f"docs/{doc.name}")
    return problems, len(code)


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
    problems, count = compare(root)
    for p in problems:
        print(p)
    if problems:
        print(f"docs/metrics.md and the code disagree: {len(problems)} difference(s)")
        return 1
    print(f"docs/metrics.md documents the {count} metric families of daemon/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
