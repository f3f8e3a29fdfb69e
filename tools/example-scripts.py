#!/usr/bin/env python3
"""Measures how many of the example scripts of Debian's systemtap-doc btap compiles at
`-p4`, and groups the failures by the first error each one reports; with `--vm`, compiles
them for the test VM's kernel instead of this host's, and with `--run` runs them there.

The examples are those tests/fetch-corpus.sh unpacks into
~/.cache/btap/systemtap-doc/usr/share/systemtap/examples ($BTAP_CORPUS replaces
~/.cache/btap). Each example `X.stp` has an `X.meta` whose `test_check:` line is the
command stap's own test suite runs (else `test_installcheck:`, then their `_bpf`
variants); a test is one `.meta` whose command is `stap ...`, named by the `.meta`
(general/py2example.meta and py3example.meta both run pyexample.stp). From that command
the tool keeps what btap needs at -p4: the script (or `-e`), its arguments and the options
`-g -G -D -I -u -W -e --compatible`, `-c CMD` for this host (a bare `process` point
names CMD's program, in stap as in btap), and drops the rest (`-p`, `-x`, `-T`, `-o`,
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

`--vm` compiles for the kernel tests/vm boots (Debian 12's 6.1 cloud kernel, which has
kprobes; tests/vm/fetch-kernel.sh --dbg puts it and its DWARF in
~/.cache/btap/vm/kernel/default): `btap -p4 -r KERNEL-DIR`, as tests/vm/run-cases.py
compiles its cases. `--run` (implies --vm) also runs each compiled example in that VM
with btaprun, all in one boot (tests/vm/run-in-vm.sh). The run takes the `.meta`'s
`test_installcheck:` command (else test_installcheck_bpf, else test_check): its script
arguments and compile options are compiled in (with `$$` made 1, a pid the guest has),
its `-c CMD`, `-x PID` and `-T S` go to btaprun; `-T` is at most --seconds, and a run with
neither `-c` nor `-T` gets `-T --seconds`. A `-c` whose program the guest lacks (it has
busybox only) runs as `-T --seconds` instead, noted in the result. Each run is killed
--run-timeout seconds after its `-T` (twice that after its start, with `-c` alone); a VM
that dies or goes silent for longer is stopped and booted again after the example it was
running, which is reported as the VM's death. The guest loads --kmod modules (by default
fuse, for procfs probes' /dev/fuse, and the modules examples probe or read the types of:
nfsd, btrfs and kvm; a module that fails to load is reported and the run goes on). Each
run is then
  clean   btaprun exited 0 (`output` if it printed to stdout, `silent` if not),
  error   it exited non-zero, classed by its first error: `verifier` (the kernel refused
          the programs; the verifier's last line is part of the cause), `CO-RE` (members
          or types the 6.1 kernel lacks), `attach`, `runtime` (the script's `ERROR:`s)
          or `load` (any other btaprun error),
  timeout, crash (btaprun killed by a signal), vm (the VM died or hung).

Usage: tools/example-scripts.py [--btap PATH] [--corpus DIR] [--jobs N] [--timeout S]
                                [--json FILE] [--compare OLD.json]
                                [--vm] [--kernel-dir DIR] [--run] [--build DIR]
                                [--seconds S] [--run-timeout S] [--filter RE] [--keep DIR]
                                [--kmod NAME] [--vm-arg ARG]
  --json FILE        write every test's command, status and first error (and its run)
  --compare OLD.json also print which tests went from failing to compiling and back
  --vm               compile for the VM's kernel (`-r KERNEL-DIR`)
  --kernel-dir DIR   that kernel's directory (default ~/.cache/btap/vm/kernel/default)
  --run              run the compiled examples in the VM (btaprun and btap_vm_exec from
                     --build, default build/)
  --filter RE        only the tests whose name matches RE
  --keep DIR         put the objects, outputs and the guest's script in DIR and keep them
  --kmod NAME        a kernel module the guest loads at boot (default: fuse, which procfs
                     probes need, nfsd, btrfs, kvm); --vm-arg ARG passes ARG to run-in-vm.sh
"""

import argparse
import base64
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHORT_WITH_VALUE = set("pIeEoRramcxDslLdSBJGT")   # stap's getopt string, minus flags
KEEP_SHORT = set("gGDIuWe")
RUN_SHORT = set("cxT")                             # btaprun's, when running
LONG_WITH_VALUE = {"--runtime", "--compatible", "--remote", "--sysroot", "--sysenv",
                   "--tmpdir", "--privilege", "--vp", "--use-server"}
KEEP_LONG = {"--compatible"}
OPERATORS = {"|", "||", "&&", ";", "&"}
OUT_LIMIT, ERR_LIMIT = 2000, 6000                 # bytes of a run's output kept
# The guest's modules: fuse for procfs probes; those whose functions, tracepoints or
# types examples probe (the nfsd tapset and nfsd-*, enospc's btrfs, kvm_service_time).
KMODS = ["fuse", "nfsd", "btrfs", "kvm"]


def shell_words(line, pid):
    """The words of a shell command line, with `$$` (outside single quotes) made pid and
    each backquoted command made 0, up to the first |, ||, && or ;."""
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
            out.append(str(pid))
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
    """{options, script, args, pass, run} from `stap ...`: btap's options, the script (None
    with -e), its arguments, stap's -p and btaprun's options (-c -x -T)."""
    keep, positional, stap_pass, run, n = [], [], None, [], 1
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
            elif flag in RUN_SHORT:
                run += ["-" + flag, value]
                if flag == "c":       # stap -p4 -c CMD: `process` alone names CMD's program
                    keep += ["-c", value]
            break
    script = None if "-e" in keep else (positional or [None])[0]
    args = positional if "-e" in keep else positional[1:]
    return {"options": keep, "script": script, "args": args, "pass": stap_pass, "run": run}


def meta_command(fields, keys, pid):
    """(line, words) of the first of the .meta's fields keys there is, `VAR=value` cut."""
    line = next((fields[k] for k in keys if k in fields), "")
    words = shell_words(line, pid)
    while words and re.fullmatch(r"\w+=.*", words[0]):   # VAR=value stap ...
        words = words[1:]
    return line, words


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
            keys = ("test_check", "test_installcheck", "test_check_bpf", "test_installcheck_bpf")
            line, words = meta_command(fields, keys, os.getpid())
            name = f[:-len(".meta")]
            if not words or os.path.basename(words[0]) != "stap":
                others.append(name)
                continue
            check = stap_command(words)
            if check["script"]:
                used.add(os.path.normpath(os.path.join(folder, check["script"])))
            # What the run compiles and passes to btaprun: the installcheck command, with
            # $$ a pid the guest has (1, its init); a -p command runs nothing.
            run_line, words = meta_command(fields, ("test_installcheck", "test_installcheck_bpf",
                                                    "test_check"), 1)
            run = stap_command(words) if words and os.path.basename(words[0]) == "stap" else None
            if not run or run["pass"] or run["script"] != check["script"]:
                run_line, words = meta_command(fields, keys, 1)
                run = stap_command(words)
                if run["pass"]:
                    run["run"] = []
            tests[name] = {"dir": folder, "stap": line, "options": check["options"],
                           "script": check["script"], "args": check["args"],
                           "meta_pass": check["pass"], "run_stap": run_line, "run": run}
    unrun = sorted(os.path.relpath(s, examples) for s in scripts if s not in used)
    return tests, unrun, others


def cause(line):
    """(cause, names): an error line without its position, hints (after `; `, a second
    sentence or in parentheses) and probe numbers, each `name` in it made `X`."""
    text = re.sub(r"^.*?\b(?:error|ERROR):\s*", "", line).strip()
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


def compile_one(btap, folder, options, script, args, timeout, kernel_dir, output):
    """`btap -p4` of one example: {command, status, and for a failure cause, names, error}."""
    target = ["-r", kernel_dir] if kernel_dir else []
    if kernel_dir:   # -c names a program of this host, not of the guest's kernel
        options = [w for i, w in enumerate(options)
                   if "-c" not in (w, options[i - 1] if i else None)]
    cmd = [btap, "-p4", *target, "-o", output, "--disable-cache", *options,
           *([script] if script else []), *args]
    result = {"command": shlex.join(cmd)}
    try:
        p = subprocess.run(cmd, cwd=folder, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**result, "status": "timeout", "cause": f"timed out after {timeout:g} s",
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


def compile_all(opt, btap, tests, kernel_dir, work):
    """Each test's compile result; with --run, each compiled test's object for the run."""
    def one(name, t):
        obj = os.path.join(work, name + ".bo") if work else "/dev/null"
        r = {"dir": t["dir"], "stap": t["stap"], "meta_pass": t["meta_pass"],
             **compile_one(btap, t["dir"], t["options"], t["script"], t["args"],
                           opt.timeout, kernel_dir, obj)}
        if not work or r["status"] != "ok":
            return r
        run = t["run"]
        if (run["options"], run["args"]) != (t["options"], t["args"]):
            again = compile_one(btap, t["dir"], run["options"], run["script"], run["args"],
                                opt.timeout, kernel_dir, obj)
            if again["status"] != "ok":
                r["run"] = {"status": "not compiled", "class": "compile",
                            "cause": "its run's command does not compile: " + again["cause"],
                            "names": again["names"], "error": again["error"],
                            "compile": again["command"]}
                return r
            r["run_compile"] = again["command"]
        r["object"] = obj
        return r

    with concurrent.futures.ThreadPoolExecutor(max(1, opt.jobs)) as pool:
        futures = {name: pool.submit(one, name, t) for name, t in tests.items()}
        return {name: f.result() for name, f in sorted(futures.items())}


# ------------------------------------------------------------------------ runs in the VM

def run_plan(test, seconds):
    """btaprun's options for a test's run: (options, the -c program or None, -T seconds)."""
    opts, command, limit, out = test["run"]["run"], None, None, []
    for flag, value in zip(opts[::2], opts[1::2]):
        if flag == "-T":
            try:
                limit = min(float(value), seconds)
            except ValueError:
                limit = seconds
        elif flag == "-c":
            command = value
            out += [flag, value]
        else:
            out += [flag, value]
    if limit is None and command is None:
        limit = seconds
    if limit is not None:
        out += ["-T", f"{limit:g}"]
    program = None
    if command is not None:
        try:
            program = (shlex.split(command) or [""])[0]
        except ValueError:
            program = command.split()[0] if command.split() else ""
    return out, program, limit


def run_wait(limit, run_timeout):
    """Seconds a run may take: its -T and --run-timeout, or twice that with -c alone."""
    return limit + run_timeout if limit is not None else 2 * run_timeout


def guest_script(names, plans, work, btaprun, case_exec, seconds, run_timeout):
    """The guest's shell script: each example between `@@start NAME` and `@@end`."""
    q = shlex.quote
    lines = ["#!/bin/sh", "# Generated by tools/example-scripts.py --run.",
             f"cd {q(work)} || exit 1"]
    for name in names:
        opts, program, limit = plans[name]
        obj = os.path.join(work, name + ".bo")

        def call(options, limit):
            wait = run_wait(limit, run_timeout)
            return " ".join(q(w) for w in [case_exec, f"{wait:g}", "-", "0", "-",
                                           name + ".out", name + ".err", btaprun,
                                           *options, obj])
        lines.append(f"echo @@start {q(name)}")
        if program is not None:   # its workload's program, else -T SECONDS instead
            without = [w for i, w in enumerate(opts)
                       if "-c" not in (w, opts[i - 1] if i else None)]
            note = f"no program {program} in the VM: ran with -T {seconds:g} instead of -c"
            lines += [f"if command -v {q(program)} >/dev/null 2>&1; then",
                      f"  r=$({call(opts, limit)})",
                      "else",
                      f"  echo @@note {q(name)} {q(note)}",
                      f"  r=$({call(without + ['-T', f'{seconds:g}'], seconds)})",
                      "fi"]
        else:
            lines.append(f"r=$({call(opts, limit)})")
        lines += [f"echo \"@@done {q(name)} $r $(cat {q(name + '.out')} 2>/dev/null | wc -c)\"",
                  f"echo @@out; head -c {OUT_LIMIT} {q(name + '.out')} 2>/dev/null | base64",
                  f"echo @@err; head -c {ERR_LIMIT} {q(name + '.err')} 2>/dev/null | base64",
                  "echo @@end"]
    return "\n".join(lines) + "\n"


def run_verdict(status, timed_out, out_bytes, err, wait):
    """{status, class, cause, names, error} of one run from case_exec's report."""
    lines = err.splitlines()
    if timed_out:
        return {"status": "timeout", "class": "timeout", "names": [], "error": err[-500:],
                "cause": f"still running {wait:g} s after its start: killed"}
    if status > 128:
        try:
            sig = signal.Signals(status - 128).name
        except ValueError:
            sig = f"signal {status - 128}"
        return {"status": "crash", "class": "crash", "cause": f"btaprun killed by {sig}",
                "names": [], "error": err[-500:]}
    if status == 0:
        return {"status": "output" if out_bytes else "silent", "class": "clean"}
    first = next((l for l in lines if re.search(r"\berror:|^ERROR:", l)), "")
    text, names = cause(re.sub(r"\berror: \S+\.bo: ", "error: ", first)) if first else (
        f"exit status {status} without an error: line", [])
    if "cannot attach" in first:
        kind = "attach"
    elif "refused the compiled probes" in first:
        kind = "verifier"
        # The verifier's last line before its statistics says what it refused: part of
        # the cause, with numbers made N.
        stats = next((i for i, l in enumerate(lines) if l.startswith("processed ")), 0)
        last = lines[stats - 1].strip() if stats > 0 else ""
        if last and not last.startswith("libbpf:"):
            text += ": " + re.sub(r"\b\d+\b", "N", last)
    elif re.search(r"this kernel lacks|this kernel's .* has no member|this kernel has no|"
                   r"compiled for a kernel that has it", first):
        kind = "CO-RE"
    elif first.startswith("ERROR:"):
        kind = "runtime"
    else:
        kind = "load"
    return {"status": "error", "class": kind, "cause": text, "names": names,
            "error": first or err[-500:]}


def guest_events(lines):
    """The guest script's report -> ("start", name), ("note", name, text),
    ("done", name, status, timed_out, out_bytes, out, err) and ("line", text)."""
    cur, part = None, None
    for line in lines:
        line = line.rstrip("\n")
        w = line.split(" ", 2)
        if w[0] == "@@start" and len(w) == 2:
            yield ("start", w[1])
        elif w[0] == "@@note" and len(w) == 3:
            yield ("note", w[1], w[2])
        elif w[0] == "@@done":
            w = line.split()
            if len(w) < 7:
                yield ("line", line)
                continue
            cur = {"name": w[1], "status": int(w[2]), "timed_out": w[3] == "1",
                   "seconds": float(w[5]), "out_bytes": int(w[6]), "out": [], "err": []}
            part = None
        elif cur is not None and line in ("@@out", "@@err"):
            part = line[2:]
        elif cur is not None and line == "@@end":
            for key in ("out", "err"):
                cur[key] = base64.b64decode("".join(cur[key])).decode(errors="replace")
            yield ("done", cur)
            cur = None
        elif cur is not None and part:
            cur[part].append(line)
        else:
            yield ("line", line)


def boot(opt, names, plans, work, kernel_dir, tools, results):
    """One boot running names in order; fills results[name]["run"] for those that ended.
    Returns (the name running when the VM ended early or None, what run-in-vm.sh said)."""
    btaprun, case_exec = tools
    with open(os.path.join(work, "guest.sh"), "w") as f:
        f.write(guest_script(names, plans, work, btaprun, case_exec, opt.seconds,
                             opt.run_timeout))
    waits = [run_wait(plans[n][2], opt.run_timeout) for n in names]
    total = 180 + sum(waits)
    cmd = [os.path.join(ROOT, "tests/vm/run-in-vm.sh"), "--timeout", f"{int(total)}",
           "--add", btaprun, "--add", case_exec, "--add", work]
    config, release = os.path.join(kernel_dir, "config"), os.path.join(kernel_dir, "release")
    if os.path.exists(config) and os.path.exists(release):
        with open(release) as f:
            cmd += ["--add", f"{config}:/boot/config-{f.read().strip()}"]
    if opt.kernel_dir:
        cmd += ["--kernel", os.path.join(kernel_dir, "vmlinuz")]
    for kmod in opt.kmod or KMODS:
        cmd += ["--kmod", kmod]
    cmd += opt.vm_arg + ["--", "sh", os.path.join(work, "guest.sh")]
    out_path, err_path = os.path.join(work, "vm.out"), os.path.join(work, "vm.err")
    running, silence_limit = None, 300.0   # the boot (and its image) first
    with open(out_path, "w") as out, open(err_path, "w") as err:
        vm = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=work,
                              stdin=subprocess.DEVNULL)
    last, stopped = time.monotonic(), None
    with open(out_path, errors="replace") as f:
        buf = ""

        def lines():
            nonlocal buf, last, stopped
            while True:
                ended = vm.poll() is not None
                chunk = f.read()
                if chunk:
                    last = time.monotonic()
                    buf += chunk
                    *done, buf = buf.split("\n")
                    yield from done
                if ended:
                    if buf:
                        yield buf
                    return
                if time.monotonic() - last > silence_limit:
                    stopped = f"silent for {silence_limit:g} s: stopped"
                    vm.terminate()
                    try:
                        vm.wait(30)
                    except subprocess.TimeoutExpired:
                        vm.kill()
                time.sleep(0.2)
        for event in guest_events(lines()):
            if event[0] == "start":
                running = event[1]
                silence_limit = run_wait(plans[running][2], opt.run_timeout) + 60
                results[running]["run"] = {"status": "vm", "class": "vm", "names": []}
                print(f"  {running} ...", end="", flush=True)
            elif event[0] == "note":
                results[event[1]].setdefault("run", {})["note"] = event[2]
            elif event[0] == "done":
                r = event[1]
                wait = run_wait(plans[r["name"]][2], opt.run_timeout)
                verdict = run_verdict(r["status"], r["timed_out"], r["out_bytes"], r["err"],
                                      wait)
                note = results[r["name"]].get("run", {}).get("note")
                results[r["name"]]["run"] = {
                    **verdict, "btaprun": shlex.join(plans[r["name"]][0]),
                    "exit": r["status"], "seconds": r["seconds"], "stdout_bytes": r["out_bytes"],
                    "stdout": r["out"], "stderr": r["err"], **({"note": note} if note else {})}
                print(f" {verdict['status']}" + (f" ({verdict['class']}: {verdict['cause']})"
                                                 if verdict["status"] != "output" and
                                                 verdict["status"] != "silent" else ""))
                running = None
    status = vm.wait()
    with open(err_path, errors="replace") as f:
        said = f.read()
    if running is not None or status != 0:
        said = (stopped or f"run-in-vm.sh status {status}") + "\n" + said
    return running, said


def run_all(opt, results, tests, work, kernel_dir, tools):
    """Runs every compiled test in the VM, booting again after a VM that died."""
    names = [n for n, r in results.items() if "object" in r]
    plans = {n: run_plan(tests[n], opt.seconds) for n in names}
    boots = 0
    while names:
        boots += 1
        print(f"boot {boots}: {len(names)} examples", flush=True)
        running, said = boot(opt, names, plans, work, kernel_dir, tools, results)
        left = [n for n in names if "status" not in results[n].get("run", {})]
        if running is not None:
            tail = [l for l in said.splitlines() if l.strip()]
            why = next((l for l in tail if re.search(r"Kernel panic|BUG:|Oops|timed out|"
                                                     r"silent", l)), tail[0] if tail else "")
            results[running]["run"] = {
                "status": "vm", "class": "vm", "names": [], "error": said[-2000:],
                "cause": "the VM died or hung during this run: " + re.sub(r"\d+", "N", why)}
            print(f" vm ({why})")
            left = [n for n in names[names.index(running) + 1:] if n in left]
        elif left:   # no example running, yet some never started: the guest itself failed
            for n in left:
                results[n]["run"] = {"status": "vm", "class": "vm", "names": [],
                                     "cause": "not run: the VM ended first",
                                     "error": said[-2000:]}
            print(f"the VM ended before {len(left)} examples ran:\n{said[-2000:]}")
            left = []
        names = left
    return boots


# ---------------------------------------------------------------------------- reporting

def table(groups):
    """A markdown table of {cause: [(name, names)]}, the biggest groups first."""
    print("\n| cause | count | scripts | names |\n|---|---|---|---|")
    for text, members in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
        names = " ".join(f"`{x}`" for x in sorted({x for _, ns in members for x in ns}))
        row = [text, str(len(members)), " ".join(n for n, _ in members), names or "—"]
        print("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")


def report_runs(results):
    runs = {n: r["run"] for n, r in results.items() if "run" in r}
    ran = {n: r for n, r in runs.items() if r["class"] != "compile"}
    clean = [n for n, r in ran.items() if r["class"] == "clean"]
    output = [n for n in clean if ran[n]["status"] == "output"]
    noted = [n for n, r in ran.items() if r.get("note")]
    print(f"\nrun in the VM: {len(clean)} of {len(ran)} ran and exited cleanly "
          f"({len(output)} printed output, {len(clean) - len(output)} printed nothing); "
          f"{len(ran) - len(clean)} failed" +
          (f"; {len(runs) - len(ran)} more compiled only with -p4's arguments, not with "
           f"their run's" if len(runs) > len(ran) else ""))
    if noted:
        print(f"ran with -T instead of -c (the guest lacks the program): {' '.join(noted)}")
    by_class = {}
    for n, r in runs.items():
        if r["class"] != "clean":
            by_class.setdefault(r["class"], []).append(n)
    if by_class:
        print("failures by kind: " + ", ".join(
            f"{k} {len(v)}" for k, v in sorted(by_class.items(), key=lambda kv: -len(kv[1]))))
        groups = {}
        for n, r in runs.items():
            if r["class"] != "clean":
                groups.setdefault(f"{r['class']}: {r['cause']}", []).append(
                    (n, r.get("names", [])))
        table(groups)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--btap", default=os.path.join(ROOT, "build/btap"))
    ap.add_argument("--corpus", default=os.path.join(
        os.environ.get("BTAP_CORPUS", os.path.expanduser("~/.cache/btap")), "systemtap-doc"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--json")
    ap.add_argument("--compare")
    ap.add_argument("--filter", default="")
    ap.add_argument("--vm", action="store_true")
    ap.add_argument("--kernel-dir")
    ap.add_argument("--run", action="store_true")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--run-timeout", type=float, default=30)
    ap.add_argument("--keep")
    ap.add_argument("--vm-arg", action="append", default=[])
    ap.add_argument("--kmod", action="append")
    opt = ap.parse_args()

    examples = os.path.join(opt.corpus, "usr/share/systemtap/examples")
    if not os.path.isdir(examples):
        print(f"{examples}: not found; run tests/fetch-corpus.sh", file=sys.stderr)
        return 2
    btap = os.path.abspath(opt.btap)
    kernel_dir = None
    if opt.vm or opt.run or opt.kernel_dir:
        cache = os.environ.get("BTAP_VM_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "btap", "vm")
        kernel_dir = os.path.abspath(opt.kernel_dir or os.path.join(cache, "kernel", "default"))
        if not os.path.exists(os.path.join(kernel_dir, "vmlinuz")):
            print(f"{kernel_dir}: no kernel; run tests/vm/fetch-kernel.sh --dbg", file=sys.stderr)
            return 2
    tools = None
    if opt.run:
        tools = (os.path.join(opt.build, "btaprun"), os.path.join(opt.build, "tests/btap_vm_exec"))
        tools = tuple(os.path.abspath(t) for t in tools)
        for t in tools:
            if not os.access(t, os.X_OK):
                print(f"{t} is missing; build it first", file=sys.stderr)
                return 2
    tests, unrun, others = find_tests(examples)
    tests = {n: t for n, t in tests.items() if re.search(opt.filter, n)}
    work = None
    if opt.run:
        work = os.path.abspath(opt.keep) if opt.keep else tempfile.mkdtemp(prefix="btap-examples-")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
    results = compile_all(opt, btap, tests, kernel_dir, work)
    boots = run_all(opt, results, tests, work, kernel_dir, tools) if opt.run else 0

    ok = sorted(n for n, r in results.items() if r["status"] == "ok")
    release = ""
    if kernel_dir and os.path.exists(os.path.join(kernel_dir, "release")):
        with open(os.path.join(kernel_dir, "release")) as f:
            release = f.read().strip()
    target = f" for {release or kernel_dir}" if kernel_dir else ""
    print(f"examples: {len(ok)} of {len(results)} compile at -p4{target}")
    print(f"not run: {len(unrun)} scripts that no .meta runs ({' '.join(unrun) or '-'}), "
          f"{len(others)} .meta files of shell-script examples ({' '.join(others) or '-'})")
    groups = {}
    for name, r in results.items():
        if r["status"] != "ok":
            groups.setdefault(r["cause"], []).append((name, r["names"]))
    if groups:
        table(groups)
    if opt.run:
        report_runs(results)
    if opt.json:
        with open(opt.json, "w") as f:
            json.dump({"btap": btap, "examples": examples, "kernel": kernel_dir,
                       "release": release or None, "compiled": len(ok), "tests": len(results),
                       "boots": boots, "results": results}, f, indent=1)
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
    if work and not opt.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
