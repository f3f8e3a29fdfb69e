#!/usr/bin/env python3
"""Measures how many of the example scripts of Debian's systemtap-doc btap compiles at
`-p4`, and groups the failures by the first error each one reports.

The examples are those tests/fetch-corpus.sh unpacks into
~/.cache/btap/systemtap-doc/usr/share/systemtap/examples ($BTAP_CORPUS replaces
~/.cache/btap). Each example `X.stp` has an `X.meta` whose `test_check:` line is the
command stap's own test suite runs (else `test_installcheck:`, then their `_bpf`
variants); a test is one `.meta` whose command is `stap ...`, named by the `.meta`
(general/py2example.meta and py3example.meta both run pyexample.stp). From that command
the tool keeps what btap needs at -p4: the script (or `-e`), its arguments and the options
`-g -G -D -I -u -W -e --compatible`, and drops the rest (`-p`, `-c`, `-x`, `-T`, `-o`,
`-d`, `-w`, `-v`, `--all-modules`, `--ldd`, ...): stap -p4 needs no target process, so
neither should btap. Shell words are not run: `$$` becomes this tool's pid and a
`` `command` `` becomes 0; the command ends at `|`, `||`, `&&` or `;`. Each test runs as
`BTAP -p4 -o /dev/null --disable-cache OPTIONS SCRIPT ARGS` in the script's folder, with a
time limit, always at -p4 (the security-band-aids tests ask stap for -p1 only; the JSON
records that as `meta_pass`). Scripts that no `.meta` runs (stapgames' tapset files,
templates, a few others) are not run, only named; `.meta`s of shell-script examples are
counted apart.

The first line with `error:` of a failure is its cause, without its `file:line:col:`, its
hints (after `; `, a second sentence, in parentheses) and with each `quoted` name made `X`;
the table lists the causes with their scripts and the names that were made `X`. Timeouts
and deaths by a signal (crashes) are causes of their own.

Usage: tools/example-scripts.py [--btap PATH] [--corpus DIR] [--jobs N] [--timeout S]
                                [--json FILE] [--compare OLD.json]
  --json FILE        write every test's command, status and first error
  --compare OLD.json also print which tests went from failing to compiling and back
"""

import argparse
import concurrent.futures
import json
import os
import re
import shlex
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHORT_WITH_VALUE = set("pIeEoRramcxDslLdSBJGT")   # stap's getopt string, minus flags
KEEP_SHORT = set("gGDIuWe")
LONG_WITH_VALUE = {"--runtime", "--compatible", "--remote", "--sysroot", "--sysenv",
                   "--tmpdir", "--privilege", "--vp", "--use-server"}
KEEP_LONG = {"--compatible"}
OPERATORS = {"|", "||", "&&", ";", "&"}


def shell_words(line):
    """The words of a shell command line, with `$$` (outside single quotes) made this
    process's pid and each backquoted command made 0, up to the first |, ||, && or ;."""
    out, quote, i = [], None, 0
    while i < len(line):
        c = line[i]
        if c == "\\" and quote != "'":
            out.append(line[i:i + 2])
            i += 2
            continue
        if c in "'\"" and quote in (None, c):
            quote = None if quote else c
        elif quote != "'" and line.startswith("$$", i):
            out.append(str(os.getpid()))
            i += 2
            continue
        elif quote != "'" and c == "`":
            end = line.find("`", i + 1)
            out.append("0")
            i = len(line) if end < 0 else end + 1
            continue
        out.append(c)
        i += 1
    words = shlex.split("".join(out))
    for n, w in enumerate(words):
        if w in OPERATORS:
            return words[:n]
    return words


def stap_command(words):
    """(btap options, script or None, script arguments, stap's -p) from `stap ...`."""
    keep, positional, stap_pass, n = [], [], None, 1
    while n < len(words):
        w = words[n]
        n += 1
        if w == "--":
            positional += words[n:]
            break
        if w.startswith("--"):
            name, eq, value = w.partition("=")
            if name in LONG_WITH_VALUE and not eq and n < len(words):
                value, n = words[n], n + 1
            if name in KEEP_LONG:
                keep.append(f"{name}={value}")
            continue
        if not w.startswith("-") or w == "-":
            positional.append(w)
            continue
        for k, flag in enumerate(w[1:], 1):
            if flag not in SHORT_WITH_VALUE:
                if flag in KEEP_SHORT:
                    keep.append("-" + flag)
                continue
            value = w[k + 1:]
            if not value and n < len(words):
                value, n = words[n], n + 1
            if flag == "p":
                stap_pass = value
            elif flag in KEEP_SHORT:
                keep += ["-" + flag, value]
            break
    if "-e" in keep:
        return keep, None, positional, stap_pass
    return keep, (positional or [None])[0], positional[1:], stap_pass


def find_tests(examples):
    """({name: test}, scripts no .meta runs, .metas whose command is not stap)."""
    tests, others, scripts, used = {}, [], set(), set()
    for folder, _, files in sorted(os.walk(examples)):
        for f in sorted(files):
            path = os.path.join(folder, f)
            if f.endswith(".stp"):
                scripts.add(path)
            if not f.endswith(".meta"):
                continue
            fields = {}
            with open(path, errors="replace") as meta:
                for m in re.finditer(r"^(test_\w+):[ \t]*(.*)$", meta.read(), re.M):
                    fields.setdefault(m.group(1), m.group(2).strip())
            line = next((fields[k] for k in ("test_check", "test_installcheck",
                                             "test_check_bpf", "test_installcheck_bpf")
                         if k in fields), "")
            words = shell_words(line)
            while words and re.fullmatch(r"\w+=.*", words[0]):   # VAR=value stap ...
                words = words[1:]
            name = f[:-len(".meta")]
            if not words or os.path.basename(words[0]) != "stap":
                others.append(name)
                continue
            options, script, args, stap_pass = stap_command(words)
            if script:
                used.add(os.path.normpath(os.path.join(folder, script)))
            tests[name] = {"dir": folder, "stap": line, "options": options,
                           "script": script, "args": args, "meta_pass": stap_pass}
    unrun = sorted(os.path.relpath(s, examples) for s in scripts if s not in used)
    return tests, unrun, others


def cause(line):
    """(cause, names): an error line without its position, hints (after `; `, a second
    sentence or in parentheses) and probe numbers, each `name` in it made `X`."""
    text = re.sub(r"^.*?\berror:\s*", "", line).strip()
    text = re.sub(r"^\S+:\d+:\d+:\s*", "", text)      # LLVM's errors repeat the position
    names = []

    def mask(m):   # each name becomes \0INDEX\0 while hints are cut
        names.append(m.group(1))
        return f"\0{len(names) - 1}\0"
    text = re.sub(r"`([^`]*)`", mask, text)
    text = re.split(r"; |\.\s+(?=[A-Z])", text)[0]
    text = re.sub(r"\s*\([^()]*\)", "", text)
    text = re.sub(r"\s*\([^()]*$", "", text).rstrip(".")
    text = re.sub(r"\bprobe_\d+\b", "probe_N", text)
    kept = [names[int(i)] for i in re.findall(r"\0(\d+)\0", text)]
    return re.sub(r"\0\d+\0", "`X`", text), kept


def run(btap, test, timeout):
    cmd = [btap, "-p4", "-o", "/dev/null", "--disable-cache", *test["options"],
           *([test["script"]] if test["script"] else []), *test["args"]]
    result = {"dir": test["dir"], "command": shlex.join(cmd), "stap": test["stap"],
              "meta_pass": test["meta_pass"]}
    try:
        p = subprocess.run(cmd, cwd=test["dir"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**result, "status": "timeout", "cause": f"timed out after {timeout} s",
                "names": [], "error": ""}
    first = next((l for l in p.stderr.splitlines() if re.search(r"\berror:", l)), "")
    if p.returncode < 0:
        sig = signal.Signals(-p.returncode).name
        return {**result, "status": "crash", "cause": f"btap killed by {sig}", "names": [],
                "error": first or p.stderr.strip()[-500:]}
    if p.returncode == 0:
        return {**result, "status": "ok"}
    text, names = cause(first) if first else (
        f"exit status {p.returncode} without an error: line", [])
    return {**result, "status": "error", "cause": text, "names": names,
            "error": first or p.stderr.strip()[-500:]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--btap", default=os.path.join(ROOT, "build/btap"))
    ap.add_argument("--corpus", default=os.path.join(
        os.environ.get("BTAP_CORPUS", os.path.expanduser("~/.cache/btap")), "systemtap-doc"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--json")
    ap.add_argument("--compare")
    opt = ap.parse_args()

    examples = os.path.join(opt.corpus, "usr/share/systemtap/examples")
    if not os.path.isdir(examples):
        print(f"{examples}: not found; run tests/fetch-corpus.sh", file=sys.stderr)
        return 2
    btap = os.path.abspath(opt.btap)
    tests, unrun, others = find_tests(examples)
    with concurrent.futures.ThreadPoolExecutor(max(1, opt.jobs)) as pool:
        futures = {name: pool.submit(run, btap, t, opt.timeout) for name, t in tests.items()}
        results = {name: f.result() for name, f in sorted(futures.items())}

    ok = sorted(n for n, r in results.items() if r["status"] == "ok")
    print(f"examples: {len(ok)} of {len(results)} compile at -p4")
    print(f"not run: {len(unrun)} scripts that no .meta runs ({' '.join(unrun) or '-'}), "
          f"{len(others)} .meta files of shell-script examples ({' '.join(others) or '-'})")
    groups = {}
    for name, r in results.items():
        if r["status"] != "ok":
            groups.setdefault(r["cause"], []).append((name, r["names"]))
    if groups:
        print("\n| cause | count | scripts | names |\n|---|---|---|---|")
        for text, members in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
            names = " ".join(f"`{x}`" for x in sorted({x for _, ns in members for x in ns}))
            row = [text, str(len(members)), " ".join(n for n, _ in members), names or "—"]
            print("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    if opt.json:
        with open(opt.json, "w") as f:
            json.dump({"btap": btap, "examples": examples, "compiled": len(ok),
                       "tests": len(results), "results": results}, f, indent=1)
            f.write("\n")
    if opt.compare:
        with open(opt.compare) as f:
            old = json.load(f)["results"]
        fixed = [n for n in ok if n in old and old[n]["status"] != "ok"]
        broken = [n for n, r in results.items()
                  if r["status"] != "ok" and old.get(n, {}).get("status") == "ok"]
        print(f"\nsince {opt.compare}: {len(fixed)} now compile, {len(broken)} no longer do")
        for n in fixed:
            print(f"  + {n}")
        for n in broken:
            print(f"  - {n}: {results[n]['error'] or results[n]['cause']}")
        added = sorted(set(results) - set(old))
        gone = sorted(set(old) - set(results))
        if added or gone:
            print(f"  tests added: {' '.join(added) or '-'}; gone: {' '.join(gone) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
