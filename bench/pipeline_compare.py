#!/usr/bin/env python3
"""Compares the BPF code two compilers make of every runtime and VM case, program by program.

usage: pipeline_compare.py BUILD_DIR [--base ENV=VALUE]... [--new ENV=VALUE]...
                           [--base-btap P] [--new-btap P] [--filter REGEX] [--jobs N]

Each case's script (tests/runtime/cases, then tests/vm/cases for the VM's 6.1 kernel with
`-r`, as tests/vm/run-cases.py compiles them) is compiled with `btap -p4 --disable-cache`
twice: once by the base compiler, once by the new one (the same binary by default, told
apart by environment settings such as `--base BTAP_PIPELINE_O2=1` while a change keeps both
pipelines). The size of each function of the two objects (each program, each BPF-to-BPF callee) is
compared in 8-byte instruction slots (a 64-bit immediate load counts two). Prints every function whose size
differs, the cases whose compile succeeded in one only, then the totals and the largest
growth and shrinkage.
"""
import argparse
import importlib.util
import os
import re
import struct
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load_run_cases():
    spec = importlib.util.spec_from_file_location(
        "run_cases", os.path.join(ROOT, "tests", "vm", "run-cases.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def code_functions(path):
    """{"section function": 8-byte slots} of each function of an ELF64 little-endian object
    (a program, or a BPF-to-BPF callee; several programs may share a section)."""
    with open(path, "rb") as f:
        data = f.read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
               for i in range(shnum)]

    def text(table, offset):
        start = headers[table][4] + offset
        return data[start:data.index(b"\0", start)].decode()

    out = {}
    for sh in headers:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        strtab, offset, size, entsize = sh[6], sh[4], sh[5], sh[9]
        for at in range(offset, offset + size, entsize):
            name, info, _other, shndx, _value, length = struct.unpack_from("<IBBHQQ", data, at)
            if info & 0xF == 2 and length:  # STT_FUNC
                section = text(shstrndx, headers[shndx][0])
                out[f"{section} {text(strtab, name)}"] = length // 8
    return out


def case_argvs(rc, build, kernel_dir, regex):
    """(label, argv without -o, script path and text) for each case with a script."""
    workload = os.path.join(build, "tests", "btap_workload")
    programs = {"@TARGET_O0@": "uprobe_target_O0", "@TARGET_O2@": "uprobe_target_O2",
                "@LIBBTAPTEST@": "libbtaptest.so", "@MANY_FUNCTIONS@": "many_functions"}
    programs = {k: os.path.join(build, "tests", v) for k, v in programs.items()}

    def expand(s):
        for macro, path in programs.items():
            s = s.replace(macro, path)
        s = s.replace("@VM_TAPSETS@", os.path.join(ROOT, "tests", "vm", "tapsets"))
        s = s.replace("@BTAP@", os.path.join(build, "btap"))
        s = s.replace("@PROGRAMS_DIR@", os.path.join(build, "tests"))
        return s.replace("@WORKLOAD@", workload).replace("@HOST_RELEASE@", os.uname().release)

    out = []
    for kind, folder in (("runtime", "tests/runtime/cases"), ("vm", "tests/vm/cases")):
        directory = os.path.join(ROOT, folder)
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".test"):
                continue
            label = f"{kind}/{name[:-5]}"
            if regex and not re.search(regex, label):
                continue
            c = rc.parse(os.path.join(directory, name), expand)
            if "script" not in c.sections or "-l" in c.args or "-L" in c.args:
                continue
            compile_args, _ = rc.split_run_options(c.args)
            kept, i = [], 0
            while i < len(compile_args):
                a = compile_args[i]
                if a == "-o" and i + 1 < len(compile_args):
                    i += 2
                    continue
                if not re.fullmatch(r"-p\d|-vv*|-k", a):
                    kept.append(a)
                i += 1
            if kind == "vm" and "-r" not in kept:
                kept = ["-r", kernel_dir] + kept
            script_args = [] if c.runner else c.script_args
            out.append((label, kept, script_args, c.sections["script"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build")
    ap.add_argument("--base", action="append", default=[], metavar="ENV=VALUE")
    ap.add_argument("--new", action="append", default=[], metavar="ENV=VALUE")
    ap.add_argument("--base-btap")
    ap.add_argument("--new-btap")
    ap.add_argument("--filter", default="")
    ap.add_argument("--exclude", default="")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--jobs", type=int, default=2)
    opt = ap.parse_args()
    build = os.path.abspath(opt.build)
    btap = os.path.join(build, "btap")
    base_btap, new_btap = opt.base_btap or btap, opt.new_btap or btap
    base_env = dict(kv.split("=", 1) for kv in opt.base)
    new_env = dict(kv.split("=", 1) for kv in opt.new)
    cache = os.environ.get("BTAP_VM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "btap", "vm")
    kernel_dir = os.path.join(cache, "kernel", "default")
    rc = load_run_cases()
    cases = case_argvs(rc, build, kernel_dir, opt.filter)
    if opt.exclude:
        cases = [c for c in cases if not re.search(opt.exclude, c[0])]
    work = tempfile.mkdtemp(prefix="btap-pipeline-")

    def one(case):
        label, args, script_args, text = case
        stem = label.replace("/", "_")
        script = os.path.join(work, stem + ".stp")
        with open(script, "w") as f:
            f.write(text)
        tail = [script] + script_args
        head = ["-p4", "--disable-cache"] + args
        results = []
        for which, exe, env in (("base", base_btap, base_env), ("new", new_btap, new_env)):
            obj = os.path.join(work, f"{stem}.{which}.bo")
            full_env = dict(os.environ)
            full_env.update(env)
            try:
                p = subprocess.run([exe] + head + ["-o", obj] + tail, env=full_env,
                                   capture_output=True, text=True, timeout=opt.timeout)
            except subprocess.TimeoutExpired:
                results.append((None, f"no object after {opt.timeout} s"))
                continue
            if p.returncode != 0:
                results.append((None, (p.stderr.strip().splitlines() or ["?"])[-1]))
            else:
                results.append((code_functions(obj), None))
                os.unlink(obj)
        os.unlink(script)
        return label, results

    total_base = total_new = 0
    compared = differing = 0
    changes = []
    pool = ThreadPoolExecutor(max_workers=opt.jobs)
    done = pool.map(one, cases)
    # Each case's lines as it comes (in order), so that a long run shows its progress.
    for label, ((base, base_err), (new, new_err)) in done:
        if base is None or new is None:
            if (base is None) != (new is None):
                print(f"{label}: compiles with {'new' if base is None else 'base'} only: "
                      f"{base_err or new_err}")
            continue
        compared += 1
        for fn in sorted(set(base) | set(new)):
            b, n = base.get(fn, 0), new.get(fn, 0)
            total_base += b
            total_new += n
            if b != n:
                differing += 1
                changes.append((n - b, b, n, label, fn))
                print(f"{label} {fn}: {b} -> {n} ({n - b:+d})", flush=True)
    pool.shutdown()
    print(f"{len(cases)} cases, {compared} compiled by both; {differing} functions differ; "
          f"instructions {total_base} -> {total_new} ({total_new - total_base:+d})")
    changes.sort()
    for title, rows in (("largest growth", changes[::-1][:10]), ("largest shrinkage", changes[:10])):
        rows = [r for r in rows if (r[0] > 0) == (title == "largest growth")]
        if rows:
            print(title + ":")
            for delta, b, n, label, fn in rows:
                print(f"  {label} {fn}: {b} -> {n} ({delta:+d}, {100.0 * delta / b:+.0f}%)"
                      if b else f"  {label} {fn}: {b} -> {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
