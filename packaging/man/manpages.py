#!/usr/bin/python3
"""herald's man pages, generated so they cannot drift from the program.

The options of herald(8) and the options and commands of heraldctl(8) are read from the
programs' own `--help` (the CLI11 definitions in daemon/main.cpp and daemon/heraldctl.cpp are
the single source); herald.toml(5) is docs/configuration.md turned into troff. The hand-written
prose around them (signals, files, exit status) lives in the *.in templates next to this file.

  manpages.py cli    --binary PATH --template T.in --version V --out PAGE
  manpages.py config --markdown docs/configuration.md --template T.in --version V --out PAGE
  manpages.py check  --binary PATH --page PAGE [--dump-config-of TOML]

`check` renders PAGE with groff and fails (exit 1, one line per problem) when an option,
positional or command of `--help` (subcommands included) is missing from it or described
differently, when the page lists an option `--help` does not know, or, with --dump-config-of,
when a key herald prints in `--dump-config` is not described in the page.
"""
import argparse
import os
import re
import subprocess
import sys

# ---------------------------------------------------------------------------------------------
# Reading CLI11's --help


class Entry:
    """One line of a help section: `spec` as CLI11 prints it ("-c,--config TEXT=/etc/..."),
    and its description."""

    def __init__(self, spec, text):
        self.spec = spec
        self.text = text


class Help:
    """A parsed `--help`: the one-line description, the usage after the program name, and the
    entries of each section ("Options", "Positionals", "Subcommands")."""

    def __init__(self):
        self.about = ""
        self.usage = ""
        self.sections = {}


def run_help(binary, args):
    # A sanitizer build's leak report at exit must not make --help look broken.
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    out = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, timeout=20,
                         check=False, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{binary} {' '.join(args)} --help exited with {out.returncode}: "
                         f"{out.stderr.strip()}")
    return out.stdout


def parse_help(text):
    h = Help()
    section = None
    pending = None  # an entry whose description is on the next line
    for line in text.splitlines():
        if not line.strip():  # sections end with a blank line
            section, pending = None, None
            continue
        if line.startswith("Usage: "):
            # "Usage: /path/to/heraldctl drain [OPTIONS] [service]": drop the path.
            parts = line[len("Usage: "):].split(" ", 1)
            h.usage = parts[1] if len(parts) > 1 else ""
            continue
        m = re.match(r"^([A-Z][A-Za-z]*):$", line)
        if m:
            section = m.group(1)
            h.sections.setdefault(section, [])
            pending = None
            continue
        if section is None:
            if not h.about:
                h.about = line.strip()
            continue
        if line.startswith("  ") and not line.startswith("   "):
            cols = re.split(r"\s{2,}", line.strip(), maxsplit=1)
            entry = Entry(cols[0], cols[1] if len(cols) > 1 else "")
            h.sections[section].append(entry)
            pending = entry if len(cols) == 1 else None
        elif pending is not None or h.sections[section]:
            target = pending or h.sections[section][-1]
            target.text = (target.text + " " + line.strip()).strip()
            pending = None
    return h


def help_tree(binary, max_depth=3):
    """The top-level help and, for each subcommand and each of its own subcommands (heraldctl
    fleet status), its own help, named by its path ("fleet status")."""
    top = parse_help(run_help(binary, []))
    subs = []

    def walk(h, path):
        if len(path) >= max_depth:
            return
        for e in h.sections.get("Subcommands", []):
            sub_help = parse_help(run_help(binary, [*path, e.spec]))
            subs.append((" ".join([*path, e.spec]), sub_help))
            walk(sub_help, [*path, e.spec])

    walk(top, [])
    return top, subs


def program_entries(h, with_help=True):
    """Options and positionals of one help; a subcommand's --help is documented once, at the
    top (with_help=False)."""
    return [(sec, e) for sec in ("Positionals", "Options") for e in h.sections.get(sec, [])
            if with_help or e.spec != "-h,--help"]


# ---------------------------------------------------------------------------------------------
# troff output

def esc(text):
    """Escapes plain text for troff: backslashes, and a leading . or ' (control characters)."""
    text = text.replace("\\", "\\e")
    # Non-ASCII characters as named Unicode escapes (groff reads its input as Latin-1).
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    return re.sub(r"^([.'])", r"\\&\1", text)


def esc_dash(text):
    """Like esc, and hyphens become minus signs (for option names and literal values)."""
    return esc(text).replace("-", "\\-")


def spec_troff(spec):
    # Option names in bold, the rest (type, default, Env:, Excludes:) as CLI11 prints it.
    head, _, rest = spec.partition(" ")
    names = ",".join(f"\\fB{esc_dash(n)}\\fR" for n in head.split(","))
    return names + (" " + esc_dash(rest) if rest else "")


def entries_troff(entries):
    out = []
    for _, e in entries:
        out += [".TP", spec_troff(e.spec), esc(e.text) if e.text else "\\&"]
    return "\n".join(out)


def cli_page(binary, template, version):
    name = os.path.basename(binary)
    top, subs = help_tree(binary)
    about = top.about.split(": ", 1)[-1]
    options = entries_troff(program_entries(top))
    commands = []
    for sub, h in subs:
        commands += [".SS " + f'"{esc(name)} {esc_dash(h.usage)}"' if h.usage else f".SS {sub}",
                     esc(h.about)]
        entries = program_entries(h, with_help=False)
        if entries:
            commands += [".RS 4", entries_troff(entries), ".RE"]
    subst = {
        "@NAME@": name, "@VERSION@": version, "@ABOUT@": esc(about),
        "@USAGE@": f"\\fB{esc(name)}\\fR {esc_dash(top.usage)}",
        "@OPTIONS@": options, "@COMMANDS@": "\n".join(commands),
    }
    return fill(template, subst)


def fill(template, subst):
    with open(template, encoding="utf-8") as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace(k, v)
    left = re.findall(r"@[A-Z]+@", text)
    if left:
        raise SystemExit(f"{template}: unknown placeholders {left}")
    return text


# ---------------------------------------------------------------------------------------------
# Markdown (the subset docs/configuration.md uses) to troff

def inline(text):
    """`code` -> bold, **strong** -> bold, *emphasis* -> italic, [text](url) -> text."""
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        if i % 2:
            out.append("\\fB" + esc_dash(part) + "\\fR")
            continue
        part = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", part)
        part = esc(part)
        part = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", part)
        part = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\\fI\1\\fR", part)
        out.append(part)
    line = "".join(out)
    return "\\&" + line if line.startswith((".", "'")) else line


def table_cells(line):
    """Cells of a `| a | b |` row, splitting on | outside code spans."""
    cells, cur, code = [], "", False
    for ch in line.strip().strip("|"):
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
    cells.append(cur.strip())
    return cells


def markdown_troff(md):
    out = []
    lines = md.splitlines()
    i = 0
    para = []

    def flush():
        if para:
            out.append(".PP")
            out.extend(inline(p) for p in para)
            para.clear()

    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("```"):
            flush()
            out += [".PP", ".RS 4", ".nf"]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                out.append(esc(lines[i]) if lines[i] else "\\&")
                i += 1
            out += [".fi", ".RE"]
        elif s.startswith("# "):
            flush()  # the title: the man page header says it
        elif s.startswith("## ") or s.startswith("### "):
            flush()
            title = s.lstrip("#").strip()
            macro = ".SH" if s.startswith("## ") else ".SS"
            if macro == ".SH" and "[" not in title:
                title = title.upper()
            out.append(f'{macro} "{inline(title)}"')
        elif s.startswith("|"):
            flush()
            header = table_cells(s)
            i += 1  # the |---| separator
            while i + 1 < len(lines) and lines[i + 1].strip().startswith("|"):
                i += 1
                row = table_cells(lines[i])
                out += [".TP", inline(row[0])]
                for h, cell in zip(header[1:-1], row[1:-1]):
                    if cell:
                        out.append(f"{esc(h)}: {inline(cell)}.")
                        out.append(".br")
                if len(row) == len(header) and row[-1]:
                    out.append(inline(row[-1]))
                elif out[-1] == ".br":
                    out.pop()
        elif s.startswith("- "):
            flush()
            item = [s[2:]]
            while i + 1 < len(lines) and lines[i + 1].startswith("  ") and lines[i + 1].strip():
                i += 1
                item.append(lines[i].strip())
            out += [".IP \\(bu 2", inline(" ".join(item))]
        elif not s:
            flush()
        else:
            para.append(s)
        i += 1
    flush()
    return "\n".join(out)


def config_page(markdown, template, version):
    with open(markdown, encoding="utf-8") as f:
        body = markdown_troff(f.read())
    return fill(template, {"@VERSION@": version, "@REFERENCE@": body})


# ---------------------------------------------------------------------------------------------
# Checking a page against the program

def render(page):
    """The page as plain text, one logical line per output line (very long line length)."""
    out = subprocess.run(["groff", "-man", "-Tascii", "-rLL=400n", "-P-c", "-P-b", "-P-u", page],
                         capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise SystemExit(f"groff failed on {page}: {out.stderr.strip()}")
    return [re.sub(r"\s+", " ", ln).strip() for ln in out.stdout.splitlines()]


def norm(s):
    return re.sub(r"\s+", " ", s).strip()


def find_entry(text, spec, desc):
    """True when the rendered page has the line `spec` directly followed by `desc`, or both on
    one line (troff puts a tag shorter than the indent on the description's line)."""
    want = norm(spec)
    for k, ln in enumerate(text):
        if ln == want:
            following = next((x for x in text[k + 1:] if x), "")
            if not desc or following == norm(desc):
                return True
        if desc and ln == norm(spec + " " + desc):
            return True
    return False


def check_cli(binary, page):
    problems = []
    text = render(page)
    top, subs = help_tree(binary)
    known = set()
    for _, e in program_entries(top):
        known |= {norm(e.spec), norm(e.spec + " " + e.text)}
        if not find_entry(text, e.spec, e.text):
            problems.append(f"option `{e.spec}` ({e.text}) of --help is missing or described differently")
    for sub, h in subs:
        if not any(ln == norm(f"{os.path.basename(binary)} {h.usage}") for ln in text):
            problems.append(f"command `{sub}`: usage `{h.usage}` is not a heading of the page")
        if not any(ln == norm(h.about) for ln in text):
            problems.append(f"command `{sub}`: description `{h.about}` is missing")
        for _, e in program_entries(h, with_help=False):
            known |= {norm(e.spec), norm(e.spec + " " + e.text)}
            if not find_entry(text, e.spec, e.text):
                problems.append(f"command `{sub}`: `{e.spec}` ({e.text}) is missing or described differently")
    about = top.about.split(": ", 1)[-1]
    if not any(about in ln for ln in text):
        problems.append(f"the description `{about}` is missing")
    # The other direction: every option-looking tag of the page must be one --help prints.
    for ln in dict.fromkeys(text):
        if re.match(r"^--?[A-Za-z]", ln) and ln not in known:
            problems.append(f"the page documents `{ln}`, which --help does not know")
    return problems


def check_config_keys(binary, toml, page):
    out = subprocess.run([binary, "--dump-config", toml], capture_output=True, text=True,
                         timeout=20, check=False)
    if out.returncode != 0:
        return [f"{binary} --dump-config {toml} failed: {out.stderr.strip()}"]
    text = "\n".join(render(page))
    problems = []
    for key in sorted({m.group(1) for m in re.finditer(r"^([a-z][a-z0-9-]*) = ", out.stdout, re.M)}):
        if not re.search(r"(?<![\w-])" + re.escape(key) + r"(?![\w-])", text):
            problems.append(f"key `{key}` printed by --dump-config is not described in the page")
    return problems


def main():
    ap = argparse.ArgumentParser(description="generate or check herald's man pages")
    ap.add_argument("mode", choices=["cli", "config", "check"])
    ap.add_argument("--binary")
    ap.add_argument("--markdown")
    ap.add_argument("--template")
    ap.add_argument("--version", default="")
    ap.add_argument("--out")
    ap.add_argument("--page")
    ap.add_argument("--dump-config-of")
    a = ap.parse_args()
    if a.mode == "check":
        problems = []
        if a.dump_config_of:
            problems += check_config_keys(a.binary, a.dump_config_of, a.page)
        else:
            problems += check_cli(a.binary, a.page)
        for p in problems:
            print(f"{a.page}: {p}")
        print(f"{a.page}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        return 1 if problems else 0
    page = cli_page(a.binary, a.template, a.version) if a.mode == "cli" else \
        config_page(a.markdown, a.template, a.version)
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
