#!/usr/bin/env python3
"""Runs the VM cases (tests/vm/cases/*.test) in one boot of the test kernel (fetch-kernel.sh).

usage: run-cases.py BUILD-DIR [--cases DIR] [--filter REGEX] [--timeout S] [--keep]
                    [--vm-arg ARG]... [--btap P] [--btaprun P] [--workload P] [--exec P]

The case format is tests/runtime/runtime_test.cpp's (args, status, timeout, requires,
signal, stop-within, stdin, stdin-file, stdout-to, stderr-count, runner, script-args,
stdout-lines; sections
script, stdout, stderr, stdout-regex, stderr-regex), so a runtime case runs here unchanged;
`kmod: NAME...` (guest only) loads kernel modules at boot, for the whole run;
`kmod-later: NAME...` puts them at /lib/modules/later/NAME.ko unloaded, for the case's
command to load.
A case with a script is compiled on the host with `btap -p4 -r KERNEL-DIR`, for the guest's
kernel (its BTF, from the image; LLVM under emulation is slow), its run-time options (-c, -x, -T) moving to btaprun (-vv gives btaprun -v), and run in the guest with
`btaprun`; `runner: btaprun ARGS` gives btaprun's arguments itself. A case without a script
(listing with -l/-L) runs btap itself in the guest, and so does a case with
`runner: btap`, which compiles in the guest (for what needs the guest kernel's BTF);
there, an argument `@GUEST_KSYM:NAME@` is the guest's address of kernel symbol NAME.
Every path is the same on the host and in the guest (the build tree and the work
directory are copied in at their own paths), so @WORKLOAD@ and @SCRIPT@ mean the same
file in both. Prints one line per case and `N passed, M failed`; exits 1 when any case
failed or the VM gave no result.
"""
import argparse
import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class Case:
    def __init__(self, name):
        self.name = name
        self.args = []
        self.status = 0
        self.timeout = 30.0
        self.requires = []  # every `requires:` line
        self.signal = ""
        self.signal_after = 0.0
        self.signal_when = ""
        self.stdout_lines = -1
        self.stop_within = 0.0
        self.stdout_to = ""
        self.stdin = None  # text given through a pipe, which then ends
        self.stdin_file = ""
        self.stderr_counts = []
        self.runner = []
        self.script_args = []
        self.kmods = []
        self.kmods_later = []
        self.sections = {}


def words(line):
    """Shell-like words: spaces separate, single quotes group (as runtime_test.cpp)."""
    out, word, quoted, any_ = [], "", False, False
    for c in line:
        if c == "'":
            quoted, any_ = not quoted, True
        elif not quoted and c in " \t":
            if any_:
                out.append(word)
            word, any_ = "", False
        else:
            word, any_ = word + c, True
    if any_:
        out.append(word)
    return out


def unescape(text):
    """A `stdin:` text: \\n, \\t and \\\\ stand for a newline, a tab and a backslash."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def parse(path, expand):
    c = Case(os.path.splitext(os.path.basename(path))[0])
    section = None
    with open(path) as f:
        text = f.read()
        for line in (text[:-1] if text.endswith("\n") else text).split("\n"):
            if line.startswith("--- "):
                section = line[4:]
                c.sections.setdefault(section, "")
                continue
            if section is not None:
                c.sections[section] += line + "\n"
                continue
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition(":")
            value = expand(value.lstrip(" "))
            if key == "args":
                c.args = words(value)
            elif key == "status":
                c.status = int(value)
            elif key == "timeout":
                c.timeout = float(value)
            elif key == "requires":
                c.requires.append(value)
            elif key == "stdout-lines":
                c.stdout_lines = int(value)
            elif key == "stop-within":
                c.stop_within = float(value)
            elif key == "stdout-to":
                c.stdout_to = value
            elif key == "stdin":
                c.stdin = unescape(value)
            elif key == "stdin-file":
                c.stdin_file = value
            elif key == "stderr-count":
                pattern, _, n = value.rpartition(" ")
                c.stderr_counts.append((pattern, int(n)))
            elif key == "runner":
                c.runner = words(value)
            elif key == "script-args":
                c.script_args = words(value)
            elif key == "kmod":
                # Guest only: kernel modules loaded at boot (for every case of the run).
                c.kmods += words(value)
            elif key == "kmod-later":
                # Guest only: kernel modules put at /lib/modules/later/NAME.ko, not loaded:
                # the case's command loads them (insmod) while the session runs.
                c.kmods_later += words(value)
            elif key == "script-file":
                # A script kept elsewhere in the tree (an example), relative to its root.
                with open(os.path.join(HERE, "..", "..", value)) as script:
                    c.sections["script"] = script.read()
            elif key == "signal":
                w = words(value)
                c.signal = w[0] if w else ""
                if len(w) > 1 and w[1] == "when":  # timed from a line of stderr: host only
                    c.signal_when = value.split("when ", 1)[1]
                else:
                    c.signal_after = float(w[1]) if len(w) > 1 else 1.0
    return c


RUN_OPTIONS = ("-c", "-x", "-T")  # btap's run-time options, which btaprun takes too


def split_run_options(args):
    """btap's arguments -> (compile options for -p4, run options for btaprun)."""
    compile_, run = [], []
    i = 0
    while i < len(args):
        a = args[i]
        if a in RUN_OPTIONS and i + 1 < len(args):
            run += [a, args[i + 1]]
            i += 2
            continue
        if a[:2] in RUN_OPTIONS and len(a) > 2:
            run.append(a)
        elif re.fullmatch(r"-vv+", a):
            # btap says how each probe attaches from -vv on; btaprun, which attaches here,
            # from -v.
            compile_.append(a)
            run.append("-v")
        else:
            compile_.append(a)
        i += 1
    return compile_, run


def guest_word(arg):
    """One word of a guest command line, quoted; `@GUEST_KSYM:NAME@` becomes the address of
    kernel symbol NAME in the guest's /proc/kallsyms (KASLR moves it at every boot)."""
    m = re.fullmatch(r"@GUEST_KSYM:(\w+)@", arg)
    if not m:
        return shlex.quote(arg)
    return f"0x$(awk '$3==\"{m.group(1)}\" {{print $1; exit}}' /proc/kallsyms)"


def requirement_check(requirement):
    """A guest shell test for a `requires:` line, and the reason to skip when it fails."""
    w = words(requirement)
    if len(w) == 2 and w[0] == "tracepoint":
        event = w[1].replace(":", "/")
        return (f"[ -e /sys/kernel/tracing/events/{shlex.quote(event)} ]", f"no tracepoint {w[1]}")
    kprobes = ("[ -e /sys/bus/event_source/devices/kprobe/type ] || "
               "[ -e /sys/kernel/tracing/kprobe_events ]")
    if requirement == "kprobes":
        return (f"{{ {kprobes}; }}", "this kernel has no kprobes")
    if requirement == "no kprobes":  # as runtime_test.cpp: a kernel without them
        return (f"! {{ {kprobes}; }}", "this kernel has kprobes")
    netfilter = "grep -q ' bpf_nf_link_attach$' /proc/kallsyms"
    if requirement == "netfilter links":
        return (netfilter, "this kernel has no BPF netfilter links")
    if requirement == "no netfilter links":
        return (f"! {netfilter}", "this kernel has BPF netfilter links")
    if len(w) == 2 and w[0] == "file":
        return (f"[ -e {shlex.quote(w[1])} ]", f"no file {w[1]}")
    if requirement == "fuse":
        return ("[ -e /dev/fuse ]", "no /dev/fuse")
    if len(w) == 3 and w[:2] == ["kernel", "symbol"]:
        return (f"grep -q ' {w[2]}$' /proc/kallsyms", f"no kernel symbol {w[2]} in /proc/kallsyms")
    return ("false", f"unknown requirement `{requirement}`")


def lines_match(what, patterns, text):
    problems = []
    lines = text.split("\n")
    for pattern in patterns.split("\n"):
        if pattern and not any(re.search(pattern, line) for line in lines):
            problems.append(f"{what} has no line matching /{pattern}/")
    return problems


def check(c, r):
    """The ways result r differs from what case c expects (as runtime_test.cpp checks)."""
    if r["timed_out"]:
        return [f"timed out after {c.timeout:g} s"]
    problems = []
    if r["status"] != c.status:
        problems.append(f"exit status {r['status']}, expected {c.status}")
    for name, got in (("stdout", r["out"]), ("stderr", r["err"])):
        if name in c.sections and got != c.sections[name]:
            problems.append(f"{name} differs; expected:\n{c.sections[name]}")
        if name + "-regex" in c.sections:
            problems += lines_match(name, c.sections[name + "-regex"], got)
    if c.stop_within > 0 and r["stop"] > c.stop_within:
        problems.append(f"took {r['stop']:.2f} s to stop, more than {c.stop_within:g} s")
    for pattern, n in c.stderr_counts:
        got = sum(1 for line in r["err"].split("\n") if re.search(pattern, line))
        if got != n:
            problems.append(f"{got} stderr lines match /{pattern}/, expected {n}")
    if c.stdout_lines >= 0 and r["out"].count("\n") != c.stdout_lines:
        problems.append(f"{r['out'].count(chr(10))} stdout lines, expected {c.stdout_lines}")
    return problems


def indent(text, limit=4000):
    text = text[:limit]
    return "".join("    " + line + "\n" for line in text.split("\n") if line != "") or "    (empty)\n"


def follow(path, proc):
    """The lines of the file at path as they are written, until proc has ended."""
    with open(path, errors="replace") as f:
        partial = ""
        while True:
            ended = proc.poll() is not None
            chunk = f.readline()
            while chunk:
                partial += chunk
                if partial.endswith("\n"):
                    yield partial
                    partial = ""
                chunk = f.readline()
            if ended:
                if partial:
                    yield partial
                return
            time.sleep(0.1)


def guest_events(lines):
    """The guest runner's report -> ("case", result), ("skip", name, reason), ("line", text)."""
    cur, part = None, None
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith("@@case "):
            w = line.split()
            cur = {"name": w[1], "status": int(w[2]), "timed_out": w[3] == "1",
                   "stop": float(w[4]), "seconds": float(w[5]), "out": [], "err": []}
            part = None
        elif line.startswith("@@skip "):
            _, name, reason = line.split(" ", 2)
            yield ("skip", name, reason)
        elif cur is not None and line in ("@@out", "@@err"):
            part = line[2:]
        elif cur is not None and line == "@@end":
            for key in ("out", "err"):
                cur[key] = base64.b64decode("".join(cur[key])).decode(errors="replace")
            yield ("case", cur)
            cur = None
        elif cur is not None and part:
            cur[part].append(line)
        else:
            yield ("line", line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", help="the build tree (btap, btaprun, tests/btap_workload, ...)")
    ap.add_argument("--cases", default=os.path.join(HERE, "cases"))
    ap.add_argument("--filter", default="", help="run only the cases whose name matches")
    ap.add_argument("--timeout", type=float, help="seconds for the whole VM (default: the "
                    "cases' timeouts added up, plus 120)")
    for tool in ("btap", "btaprun", "workload", "exec"):
        ap.add_argument("--" + tool, help=f"the {tool} program (default: from BUILD-DIR)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--vm-arg", action="append", default=[], help="an option for run-in-vm.sh")
    opt = ap.parse_args()

    build = os.path.abspath(opt.build)
    btap = os.path.abspath(opt.btap or os.path.join(build, "btap"))
    btaprun = os.path.abspath(opt.btaprun or os.path.join(build, "btaprun"))
    workload = os.path.abspath(opt.workload or os.path.join(build, "tests", "btap_workload"))
    case_exec = os.path.abspath(opt.exec or os.path.join(build, "tests", "btap_vm_exec"))
    for f in (btap, btaprun, workload, case_exec):
        if not os.access(f, os.X_OK):
            print(f"run-cases.py: {f} is missing; build it first", file=sys.stderr)
            return 1
    # The guest's kernel, for the host's `btap -r`: the directory of the booted image.
    kernel = os.environ.get("BTAP_VM_KERNEL", "")
    for i, a in enumerate(opt.vm_arg):
        if a.startswith("--kernel="):
            kernel = a.split("=", 1)[1]
        elif a == "--kernel" and i + 1 < len(opt.vm_arg):
            kernel = opt.vm_arg[i + 1]
    cache = os.environ.get("BTAP_VM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "btap", "vm")
    kernel_dir = os.path.dirname(kernel) if kernel else os.path.join(cache, "kernel", "default")
    work = os.path.join(build, "tests", "vm-work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    # The programs uprobe cases probe (tests/runtime/programs), when they are built: copied
    # into the guest at their own paths, so host-compiled uprobes find the same files.
    programs = {"@TARGET_O0@": "uprobe_target_O0", "@TARGET_O2@": "uprobe_target_O2",
                "@LIBBTAPTEST@": "libbtaptest.so", "@MANY_FUNCTIONS@": "many_functions"}
    programs = {k: os.path.join(os.path.dirname(workload), v) for k, v in programs.items()}
    programs = {k: v for k, v in programs.items() if os.path.exists(v)}

    def expand(s):
        for macro, path in programs.items():
            s = s.replace(macro, path)
        # @HOST_RELEASE@: `-r @HOST_RELEASE@` compiles for the host's kernel instead of the
        # guest's, so that the object's CO-RE relocations meet another kernel at load.
        # @VM_TAPSETS@: tests/vm/tapsets, test tapsets for `-I`.
        # @SOURCE_DIR@: the source tree, where the programs' DWARF names their sources.
        s = s.replace("@SOURCE_DIR@", os.path.dirname(os.path.dirname(HERE)))
        s = s.replace("@VM_TAPSETS@", os.path.join(HERE, "tapsets")).replace("@BTAP@", btap)
        return s.replace("@WORKLOAD@", workload).replace("@HOST_RELEASE@", os.uname().release)

    names = sorted(f for f in os.listdir(opt.cases) if f.endswith(".test"))
    cases = [parse(os.path.join(opt.cases, f), expand) for f in names]
    cases = [c for c in cases if re.search(opt.filter, c.name)]
    if not cases:
        print("run-cases.py: no cases", file=sys.stderr)
        return 1

    # On the host: scripts written, objects compiled, the guest's shell script generated.
    results, guest = {}, ["#!/bin/sh", "# Generated by run-cases.py: runs the cases, "
                          "reporting each one on standard output.",
                          f"cd {shlex.quote(work)} || exit 1"]
    t0 = time.monotonic()
    for c in cases:
        script = os.path.join(work, c.name + ".stp")
        for name in c.sections:
            c.sections[name] = expand(c.sections[name].replace("@SCRIPT@", script))
        c.args = [a.replace("@SCRIPT@", script) for a in c.args]
        listing = "-l" in c.args or "-L" in c.args
        if "script" not in c.sections and not listing:
            results[c.name] = ("fail", ["no `--- script` section"])
            continue
        if c.signal_when:
            results[c.name] = ("skip", "`signal: ... when` (a signal sent on a line of "
                               "standard error) is run on the host only")
            continue
        if "script" in c.sections:
            with open(script, "w") as f:
                f.write(c.sections["script"])
        if "script" not in c.sections:
            argv = [btap] + c.args
        elif c.runner[:1] == ["btap"]:
            argv = [btap] + c.runner[1:] + c.args + [script] + c.script_args
        else:
            compile_args, run_args = split_run_options(c.args)
            obj = os.path.join(work, c.name + ".bo")
            # With a runner, as in runtime_test.cpp, script-args follow the object
            # (NAME=VALUE globals); otherwise they are the script's, at compile time.
            compile_script_args = [] if c.runner else c.script_args
            target = [] if "-r" in compile_args else ["-r", kernel_dir]
            p = subprocess.run([btap, "-p4"] + target + compile_args + ["-o", obj, script]
                               + compile_script_args, capture_output=True, text=True)
            if p.returncode != 0:
                results[c.name] = ("fail", [f"`btap -p4` on the host failed (status "
                                            f"{p.returncode}):\n{p.stderr}"])
                continue
            argv = [btaprun] + (c.runner[1:] + [obj] + c.script_args if c.runner
                                else run_args + [obj])
        run = [case_exec, f"{c.timeout:g}", c.signal or "-", f"{c.signal_after:g}",
               c.stdout_to or "-", f"{c.name}.out", f"{c.name}.err"] + argv
        q = shlex.quote(c.name)
        command = " ".join(guest_word(a) for a in run)
        if c.stdin is not None:  # through a pipe, as runtime_test.cpp gives it
            with open(os.path.join(work, c.name + ".stdin"), "w") as f:
                f.write(c.stdin)
            command = f"cat {shlex.quote(c.name + '.stdin')} | {command}"
        elif c.stdin_file:
            command += f" < {shlex.quote(c.stdin_file)}"
        # The first requirement that fails is the reason to skip.
        for k, requirement in enumerate(c.requires):
            test, reason = requirement_check(requirement)
            guest += [f"{'elif' if k else 'if'} ! {{ {test}; }}; then",
                      f"  echo @@skip {q} {shlex.quote(reason)}"]
        guest += ["else" if c.requires else "if true; then",
                  f"  r=$({command})",
                  f"  echo \"@@case {q} $r\"; echo @@out; base64 {q}.out; echo @@err; base64 {q}.err",
                  "  echo @@end",
                  "fi"]
    compile_seconds = time.monotonic() - t0
    with open(os.path.join(work, "guest.sh"), "w") as f:
        f.write("\n".join(guest) + "\n")

    # In the guest: one boot for every case.
    pending = [c for c in cases if c.name not in results]
    by_name = {c.name: c for c in cases}
    total = opt.timeout or 120 + sum(c.timeout for c in pending)
    cmd = [os.path.join(HERE, "run-in-vm.sh"), "--timeout", f"{int(total)}"]
    for f in [btap, btaprun, workload, case_exec] + list(programs.values()):
        cmd += ["--add", f]
    # The guest's configuration where the runtime looks (Debian's kernel has no
    # /proc/config.gz), for CONFIG_ values read at load.
    release_file = os.path.join(kernel_dir, "release")
    if os.path.exists(release_file) and os.path.exists(os.path.join(kernel_dir, "config")):
        with open(release_file) as f:
            release = f.read().strip()
        cmd += ["--add", f"{os.path.join(kernel_dir, 'config')}:/boot/config-{release}"]
    for kmod in sorted({m for c in pending for m in c.kmods}):
        cmd += ["--kmod", kmod]
    later = sorted({m for c in pending for m in c.kmods_later})
    if later:
        found = {}
        for root, _, files in os.walk(os.path.join(kernel_dir, "modules"), followlinks=True):
            for f in files:
                if f.endswith(".ko"):
                    found[f[:-3].replace("-", "_")] = os.path.join(root, f)
        for kmod in later:
            if kmod.replace("-", "_") not in found:
                print(f"run-cases.py: kmod-later: no module {kmod} under {kernel_dir}/modules",
                      file=sys.stderr)
                return 1
            cmd += ["--add", f"{found[kmod.replace('-', '_')]}:/lib/modules/later/{kmod}.ko"]
    cmd += opt.vm_arg + ["--put", work, "--", "sh", os.path.join(work, "guest.sh")]
    vm_status, vm_err = None, ""
    passed = failed = skipped = 0

    def report(name, verdict, detail):
        nonlocal passed, failed, skipped
        if verdict == "ok":
            passed += 1
            print(f"ok   {name}{detail}")
        elif verdict == "skip":
            skipped += 1
            print(f"skip {name}: {detail}")
        else:
            failed += 1
            print(f"FAIL {name}: " + "\n".join(detail))
        sys.stdout.flush()

    for name, (verdict, detail) in results.items():
        report(name, verdict, detail)
    boot = time.monotonic()
    if pending:
        with open(os.path.join(work, "vm.err"), "w+") as err:
            # The guest's output goes to a file that is followed, not to a pipe: a reader
            # that falls behind must not hold QEMU up, nor lose the output's end.
            out_path = os.path.join(work, "vm.out")
            with open(out_path, "w") as out:
                vm = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=work)
            for event in guest_events(follow(out_path, vm)):
                if event[0] == "skip":
                    results[event[1]] = ("skip", event[2])
                    report(event[1], "skip", event[2])
                elif event[0] == "case":
                    r = event[1]
                    c = by_name[r["name"]]
                    problems = check(c, r)
                    if problems:
                        problems.append("stdout:\n" + indent(r["out"]) + "stderr:\n" + indent(r["err"]))
                        results[c.name] = ("fail", problems)
                    else:
                        results[c.name] = ("ok", f" ({r['seconds']:.2f} s)")
                    report(c.name, *results[c.name])
                else:
                    print(f"guest: {event[1]}")
            vm_status = vm.wait()
            err.seek(0)
            vm_err = err.read()
    vm_seconds = time.monotonic() - boot
    for c in pending:
        if c.name not in results:
            why = {124: "the VM timed out", 125: "the VM gave no status (see below)"}
            report(c.name, "fail", [f"no result: the VM ended before this case finished "
                                    f"(run-in-vm.sh status {vm_status}: "
                                    f"{why.get(vm_status, 'the guest runner failed')})"])
    if vm_status not in (None, 0) or failed:
        if vm_err:
            print("run-in-vm.sh said:\n" + indent(vm_err, 8000), end="")
    print(f"host compile {compile_seconds:.1f} s, VM {vm_seconds:.1f} s"
          + (f", {skipped} skipped" if skipped else ""))
    print(f"{passed} passed, {failed} failed")
    if not opt.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed or vm_status not in (None, 0) else 0


if __name__ == "__main__":
    sys.exit(main())
