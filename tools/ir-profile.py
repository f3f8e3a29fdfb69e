#!/usr/bin/env python3
"""Where a script's LLVM IR comes from: instructions per program and per script function.

btap expands script and tapset functions inline at every call (codegen/README.md), so
the IR that LLVM optimises and the BPF backend compiles grows with each call site. This
reads the IR `btap -p3` prints (after the O2 pipeline) and counts, by the debug location
of each instruction:

- the instructions of each program (an LLVM function);
- the instructions of each script or tapset function expanded into them (its innermost
  inlined scope, placed by line in the file the debug info embeds), how many call sites
  it was expanded at, and how many instructions one shared copy of it would save (all
  but one expansion's worth, the average one's).

Usage: tools/ir-profile.py [--top N] FILE.ll
   or: btap -p3 --disable-cache SCRIPT | tools/ir-profile.py -
"""

import argparse
import bisect
import collections
import re
import sys

METADATA = re.compile(r"^!(\d+) = (?:distinct )?(.*)$")
DEFINITION = re.compile(r"^\s*(?:private\s+)?(function|probe)\s+([^\s({]+)")


class Metadata:
    def __init__(self, lines):
        self.nodes = {}
        for line in lines:
            m = METADATA.match(line)
            if m:
                self.nodes[m.group(1)] = m.group(2)
        self.files = {}
        self.places = {}

    def field(self, node, name):
        m = re.search(name + r": !(\d+)", self.nodes.get(node, ""))
        return m.group(1) if m else None

    def file(self, node):
        """The name and definitions (start lines, names) of a DIFile."""
        if node in self.files:
            return self.files[node]
        text = self.nodes.get(node, "")
        name = re.search(r'filename: "([^"]*)"', text)
        source = re.search(r'source: "((?:[^"\\]|\\.)*)"', text)
        starts, names = [], []
        if source:
            body = re.sub(r"\\([0-9A-Fa-f]{2})", lambda h: chr(int(h.group(1), 16)),
                          source.group(1).replace("\\\\", "\\5C"))
            for number, line in enumerate(body.split("\n"), 1):
                d = DEFINITION.match(line)
                if d:
                    starts.append(number)
                    names.append(d.group(1) + " " + d.group(2))
        base = name.group(1).rsplit("/", 1)[-1] if name else "?"
        self.files[node] = (base, starts, names)
        return self.files[node]

    def place(self, location):
        """The definition a DILocation is in ("file: function name") and where it is
        inlined (a DILocation, or None in the program's own code)."""
        if location in self.places:
            return self.places[location]
        scope = self.field(location, "scope")
        for _ in range(64):  # lexical blocks up to their subprogram
            if not scope or self.nodes.get(scope, "").startswith("!DISubprogram"):
                break
            scope = self.field(scope, "scope")
        base, starts, names = self.file(self.field(scope, "file")) if scope else ("?", [], [])
        line = re.search(r"line: (\d+)", self.nodes.get(location, ""))
        i = bisect.bisect_right(starts, int(line.group(1)) if line else 0) - 1
        where = base + ": " + (names[i] if i >= 0 else "?")
        self.places[location] = (where, self.field(location, "inlinedAt"))
        return self.places[location]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ir", help="the IR of btap -p3, - for standard input")
    parser.add_argument("--top", type=int, default=20, help="rows of each table (20)")
    args = parser.parse_args()
    text = sys.stdin.read() if args.ir == "-" else open(args.ir).read()
    lines = text.split("\n")
    md = Metadata(lines)
    programs = collections.Counter()
    size = collections.Counter()
    sites = collections.defaultdict(set)
    program = None
    total = 0
    for line in lines:
        if line.startswith("define "):
            m = re.search(r"@([\w.$]+)\(", line)
            program = m.group(1) if m else "?"
            continue
        if not line.startswith("  ") or line.startswith("  ;") or program is None:
            continue
        total += 1
        programs[program] += 1
        m = re.search(r"!dbg !(\d+)", line)
        if not m:
            continue
        where, inlined_at = md.place(m.group(1))
        if inlined_at is None:
            continue
        size[where] += 1
        sites[where].add((program, inlined_at))
    print(f"{total} instructions in {len(programs)} functions")
    print(f"\n{'instructions':>12}  program")
    for name, n in programs.most_common(args.top):
        print(f"{n:>12}  {name}")
    rows = sorted(((n - n // len(sites[w]), n, len(sites[w]), w) for w, n in size.items()),
                  reverse=True)
    print(f"\n{'instructions':>12} {'sites':>6} {'shared saves':>12}  expanded function")
    for saves, n, k, where in rows[: args.top]:
        print(f"{n:>12} {k:>6} {saves:>12}  {where}")
    print(f"\n{sum(n for n in size.values())} instructions in expanded functions; "
          f"one shared copy of each would save {sum(r[0] for r in rows)}")


if __name__ == "__main__":
    main()
