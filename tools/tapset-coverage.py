#!/usr/bin/env python3
"""Writes docs/tapset-coverage.md: which of the tapset functions and probe aliases that
SystemTap 4.8 documents btap has.

The documented names are the manual pages of Debian's systemtap-doc
(`function::NAME.3stap`, `probe::NAME.3stap`), which tests/fetch-corpus.sh unpacks into
~/.cache/btap/systemtap-doc; what btap has is what `btap --dump-functions` and
`btap --dump-probe-aliases` print. The page lists the counts, then every documented name
with its state, grouped by the stap tapset file that defines it (from systemtap-common,
unpacked beside it).

Usage: tools/tapset-coverage.py [--btap PATH] [--corpus DIR] [--output FILE] [--check]
  --check  write nothing; exit 1 if FILE is not up to date
"""

import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# How the example scripts are measured (their figures depend on the kernel and on the
# machine, so they are measured, not generated; the last measurement is quoted).
EXAMPLES = [
    "## Example scripts", "",
    "How many of systemtap-doc's example scripts (each run as its `.meta` says) btap compiles",
    "and runs is measured by `tools/example-scripts.py` (see its docstring; `--compare",
    "OLD.json` names what changed):", "",
    "- at `-p4` for this host's kernel: `python3 tools/example-scripts.py --json ex.json`",
    "- at `-p4` for the test VM's 6.1 kernel (`tests/vm/fetch-kernel.sh --dbg`):",
    "  `python3 tools/example-scripts.py --vm --jobs 1 --json ex-vm.json`",
    "- compiled so and run there with btaprun, all in one boot (`ninja -C build btap btaprun",
    "  btap_vm_exec` first): `python3 tools/example-scripts.py --run --jobs 1 --seconds 2",
    "  --run-timeout 60 --json ex-vm-run.json`", "",
    "Last measured (6.1.0-47-cloud-amd64 in QEMU/TCG, December 2026): 136 of the 191 tests",
    "compile for that kernel; of the 136, 124 ran and exited cleanly",
    "(75 with output, 49 silent), 6 could not attach (5 netfilter hooks, which 6.1",
    "has no BPF links for; one module the guest had not loaded), 2 were refused by the",
    "verifier, 1 met a tracepoint 6.1 lacks, 1 a run-time error, and 2 outlasted the",
    "time limit under TCG (the verifier's or kprobes' work). Compiled again later (`--vm`,",
    "not run): 138 of 191 (psig and procmod_watcher now compile; cve-2013-2094's embedded C",
    "write is refused at compile time). Compiled again (`--vm --jobs 1`, December 2026):",
    "140 of 191 (strace and para-callgraph-verbose now fit 6.1's stack rule); of the 51 that",
    "do not, cve-2016-0728 reads a parameter at a label whose value there is its entry",
    "value (DW_OP_entry_value), which btap now reads as stap does (saved by a kprobe on the",
    "function's entry); what stops it since is its embedded C's call of the kernel's",
    "`key_put`, which BPF code cannot make. Run there",
    "alone, para-callgraph-verbose now loads its 394 functions' programs and traces, until",
    "its `$$parms` read a NULL `$dentry` (a read fault). Compiled again (`--vm --jobs 2`,",
    "December 2026): 143 of 191 (py2example and py3example, through btap's own HelperSDT,",
    "and switchfile, with output-file rotation, now compile; 2048's kernel probe, whose",
    "loops inside loop callbacks are now callbacks too, loads on 6.1).", "",
    "Last measured on this host (6.18, no kernel DWARF, December 2026, `--jobs 2 --timeout",
    "600`): 128 of the 191 tests compile. Of the 63 that do not, 19 name what this kernel",
    "lacks or has not loaded (11 functions, 3 tracepoints, 5 modules: nfsd for 2), 11 need",
    "the kernel's DWARF, 8 write kernel or system-call values, 7 name 32-bit libraries, 12",
    "programs, libraries or their symbols or debug information that are missing here, 2",
    "name kernel members that changed, 2 hardware watchpoints (address 0, kallsyms without",
    "addresses), 1 is glib's probes (its tapset is glib's own), 1 netfilter's bridge hooks.",
    "py2example and py3example (python probes) and switchfile (output-file rotation) now",
    "compile.", "",
]


def documented(corpus, kind, groups):
    """{name: group} for the manual pages `KIND::NAME.3stap(.gz)`, each grouped by the
    stap tapset file that defines it (`groups`), else by its first word."""
    man3 = os.path.join(corpus, "usr/share/man/man3")
    names = {}
    for f in sorted(os.listdir(man3)):
        m = re.fullmatch(kind + r"::(.+)\.3stap(\.gz)?", f)
        if m:
            name = m.group(1)
            names[name] = groups.get(name) or re.split(r"[._]", name)[0]
    return names


def tapset_files(library):
    """{name: file} for the functions and aliases of stap's tapset files (`library`: the
    unpacked systemtap-common's tapset folder), the file named without folder or `.stp`."""
    defined = {}
    definition = re.compile(r"^\s*(?:function\s+([A-Za-z_][A-Za-z_0-9]*)|"
                            r"probe\s+([A-Za-z_][A-Za-z_0-9.]*)\s*(?:\+?=|,))", re.M)
    for folder, _, files in sorted(os.walk(library)):
        for f in sorted(files):
            if not f.endswith(".stp"):
                continue
            with open(os.path.join(folder, f), errors="replace") as text:
                for m in definition.finditer(text.read()):
                    defined.setdefault(m.group(1) or m.group(2), f[:-4])
    return defined


def btap_names(btap, option):
    # stap documents functions and aliases it keeps only for older scripts (task_exe_file,
    # behind `%( systemtap_v <= "3.2" %?`; signal.handle.return, "2.1"): they count where
    # `--compatible` gives them.
    out = "".join(subprocess.run([btap, *extra, option], capture_output=True, text=True,
                                 check=True).stdout
                  for extra in ([], ["--compatible=3.2"], ["--compatible=2.1"]))
    names = set()
    for line in out.splitlines():
        if option == "--dump-functions":
            names.add(line.split(":", 1)[0])
        else:  # "a = b = points" or "a += points"
            head = re.split(r" \+?= ", line)
            for part in head[:-1] if len(head) > 1 else head:
                names.add(part.strip())
    return names


def refused_functions():
    """{name: reason} for btap's tapset functions that only refuse (`__btap_refused`):
    what a BPF program cannot do, an error where a script calls it."""
    refused = {}
    pattern = re.compile(r'function\s+([A-Za-z_][A-Za-z_0-9]*)[^{]*\{\s*__btap_refused\("([^"]*)"\)')
    folder = os.path.join(ROOT, "tapsets")
    for f in sorted(os.listdir(folder)):
        if f.endswith(".stp"):
            with open(os.path.join(folder, f)) as text:
                for m in pattern.finditer(text.read()):
                    refused[m.group(1)] = m.group(2)
    return refused


def table(title, docs, have):
    rows = [f"## {title}", "",
            f"{sum(1 for n in docs if n in have)} of {len(docs)} documented.", ""]
    groups = {}
    for name, group in docs.items():
        groups.setdefault(group, []).append(name)
    rows += ["| stap tapset | present | missing |", "|---|---|---|"]
    for group in sorted(groups):
        present = [f"`{n}`" for n in sorted(groups[group]) if n in have]
        missing = [f"`{n}`" for n in sorted(groups[group]) if n not in have]
        rows.append(f"| {group} | {' '.join(present) or '—'} | {' '.join(missing) or '—'} |")
    return rows + [""]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--btap", default=os.path.join(ROOT, "build/btap"))
    ap.add_argument("--corpus", default=os.path.join(
        os.environ.get("BTAP_CORPUS", os.path.expanduser("~/.cache/btap")), "systemtap-doc"))
    ap.add_argument("--output", default=os.path.join(ROOT, "docs/tapset-coverage.md"))
    ap.add_argument("--check", action="store_true")
    opt = ap.parse_args()

    library = os.path.join(os.path.dirname(opt.corpus),
                           "systemtap-common/usr/share/systemtap/tapset")
    groups = tapset_files(library)
    functions = documented(opt.corpus, "function", groups)
    aliases = documented(opt.corpus, "probe", groups)
    have_functions = btap_names(opt.btap, "--dump-functions")
    have_aliases = btap_names(opt.btap, "--dump-probe-aliases")
    page = ["# Tapset coverage", "",
            "Which of the tapset functions and probe aliases that SystemTap 4.8 documents",
            "(its `function::` and `probe::` manual pages) btap has. Written by",
            "`tools/tapset-coverage.py` from `btap --dump-functions` and",
            "`btap --dump-probe-aliases`; do not edit.", "",
            f"- functions: {sum(1 for n in functions if n in have_functions)} of "
            f"{len(functions)}",
            f"- probe aliases: {sum(1 for n in aliases if n in have_aliases)} of {len(aliases)}",
            ""]
    refused = {n: why for n, why in refused_functions().items() if n in functions}
    if refused:
        at = next(i for i, line in enumerate(page) if line.startswith("- functions:"))
        page[at] += (f" ({len(refused)} of them errors that say why a BPF program cannot do "
                     "them: see the end)")
    page += EXAMPLES
    page += table("Functions", functions, have_functions)
    page += table("Probe aliases", aliases, have_aliases)
    if refused:
        page += ["## Refused under BPF", "",
                 "Calling these is an error at the call that gives the reason.", "",
                 "| function | why |", "|---|---|"]
        page += [f"| `{n}` | {why} |" for n, why in sorted(refused.items())]
    text = "\n".join(page).rstrip("\n") + "\n"
    if opt.check:
        try:
            with open(opt.output) as f:
                current = f.read()
        except OSError:
            current = ""
        if current != text:
            print(f"{opt.output} is out of date: run tools/tapset-coverage.py", file=sys.stderr)
            return 1
        return 0
    with open(opt.output, "w") as f:
        f.write(text)
    print(f"{opt.output}: functions {sum(1 for n in functions if n in have_functions)}/"
          f"{len(functions)}, aliases {sum(1 for n in aliases if n in have_aliases)}/{len(aliases)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
