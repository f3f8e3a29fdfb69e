#!/usr/bin/env python3
"""Writes docs/tapsets.md from the doc comments of tapsets/*.stp.

Each public function (and probe alias: `probe NAME - summary`, its variables as
@-lines) of the library carries a comment of the form

    /**
     * sfunction NAME - one-line summary
     *
     * @param: what the parameter means
     *
     * Description: what the function does ...
     */
    function NAME:type (param:type, ...) ...

The page has one section per file (in file-name order) with the file's leading
`//` comment as its introduction, then each documented function in the order of
the file: its signature, summary, parameters and description. The output
depends only on the files' contents.

Usage: tools/tapset-docs.py [--root DIR] [--output FILE] [--check]
  --check  write nothing; exit 1 if FILE is not up to date
A public function without a doc comment, or a doc comment that does not name
the function after it, is reported on stderr and makes the exit status 1.
"""

import argparse
import os
import re
import sys

DOC_RE = re.compile(r"/\*\*(.*?)\*/", re.S)
FUNC_RE = re.compile(
    r"\s*(private\s+)?function\s+(\w+)\s*(?::\s*(\w+))?\s*\(([^)]*)\)")
ANY_FUNC_RE = re.compile(
    r"^[ \t]*(private\s+)?function\s+(\w+)\s*(?::\s*(\w+))?\s*\(([^)]*)\)", re.M)
SUMMARY_RE = re.compile(r"^(sfunction|probe)\s+([\w.]+)\s+-\s+(.*)$")
PROBE_RE = re.compile(r"\s*probe\s+([\w.]+)\s*(\+?=)\s*([^{]*)\{")
ANY_PROBE_RE = re.compile(r"^[ \t]*probe\s+([\w.]+)\s*\+?=", re.M)
PARAM_RE = re.compile(r"^@(\w+):\s*(.*)$")


def comment_lines(body):
    """The lines of a /** */ comment without their leading ` * `."""
    out = []
    for line in body.split("\n"):
        line = line.strip()
        if line.startswith("*"):
            line = line[1:]
            if line.startswith(" "):
                line = line[1:]
        out.append(line.rstrip())
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return out


def parse_params(text):
    params = []
    for p in text.split(","):
        p = p.strip()
        if not p:
            continue
        name, _, typ = p.partition(":")
        params.append((name.strip(), typ.strip()))
    return params


def signature(name, ret, params):
    ps = ", ".join(n + (":" + t if t else "") for n, t in params)
    return "function %s%s (%s)" % (name, ":" + ret if ret else "", ps)


def parse_doc(lines):
    """Splits a doc comment into (name, summary, [(param, text)], [paragraphs])."""
    m = SUMMARY_RE.match(lines[0]) if lines else None
    if not m:
        return None
    name, summary = m.group(2), m.group(3).strip()
    params = []
    paragraphs = []
    current = None  # the list of lines being collected
    in_description = False
    for line in lines[1:]:
        if not line:
            current = None
            continue
        pm = PARAM_RE.match(line)
        if pm and not in_description:
            params.append([pm.group(1), [pm.group(2)]])
            current = params[-1][1]
            continue
        if line.startswith("Description:"):
            in_description = True
            line = line[len("Description:"):].strip()
            current = []
            paragraphs.append(current)
            if line:
                current.append(line)
            continue
        if current is None:
            current = []
            paragraphs.append(current)
        current.append(line)
    params = [(n, " ".join(t).strip()) for n, t in params]
    paragraphs = [" ".join(p).strip() for p in paragraphs if p]
    return name, summary, params, paragraphs


def file_intro(text):
    """The leading // comment of a file, as one paragraph per blank-comment break."""
    paras, cur = [], []
    for line in text.split("\n"):
        s = line.strip()
        if not s.startswith("//"):
            break
        s = s[2:].strip()
        if s:
            cur.append(s)
        elif cur:
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    return paras


MD_SPECIAL = re.compile(r"([\\`*<>\[\]|]|(?<![A-Za-z0-9])_)")


def code_spans(text):
    """Splits text into (is_code, piece): @name, "strings" and calls like f(x) are code."""
    pieces, plain, i, n = [], [], 0, len(text)
    while i < n:
        end = None
        c = text[i]
        if c == "@" and i + 1 < n and (text[i + 1].isalnum() or text[i + 1] == "_"):
            end = i + 1
            while end < n and (text[end].isalnum() or text[end] == "_"):
                end += 1
            span = text[i + 1:end]
        elif c == '"':
            close = text.find('"', i + 1)
            while close != -1 and text[close - 1] == "\\" and text[close - 2] != "\\":
                close = text.find('"', close + 1)
            if close != -1:
                end = close + 1
                span = text[i:end]
        elif (c.isalpha() or c == "_") and (i == 0 or not (text[i - 1].isalnum()
                                                           or text[i - 1] == "_")):
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            if j < n and text[j] == ":":  # a typed name such as f:long(...)
                k = j + 1
                while k < n and (text[k].isalnum() or text[k] == "_"):
                    k += 1
                if k > j + 1 and k < n and text[k] == "(":
                    j = k
            if j < n and text[j] == "(":
                depth, k, quoted = 0, j, False
                while k < n:
                    if text[k] == '"' and text[k - 1] != "\\":
                        quoted = not quoted
                    elif not quoted and text[k] == "(":
                        depth += 1
                    elif not quoted and text[k] == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    k += 1
                if k < n:
                    end = k + 1
                    span = text[i:end]
        if end is None:
            plain.append(c)
            i += 1
            continue
        if plain:
            pieces.append((False, "".join(plain)))
            plain = []
        pieces.append((True, span))
        i = end
    if plain:
        pieces.append((False, "".join(plain)))
    return pieces


def md(text):
    """Markdown for comment text: code-like pieces in backticks, the rest escaped."""
    out = []
    for is_code, piece in code_spans(text):
        if is_code:
            fence = "``" if "`" in piece else "`"
            pad = " " if piece.startswith("`") or piece.endswith("`") else ""
            out.append(fence + pad + piece + pad + fence)
        else:
            out.append(MD_SPECIAL.sub(r"\\\1", piece))
    return "".join(out)


def process_file(path, problems):
    text = open(path, encoding="utf-8").read()
    rel = os.path.basename(path)
    entries = []
    documented = set()  # offsets of function keywords that have a doc comment
    for m in DOC_RE.finditer(text):
        doc = parse_doc(comment_lines(m.group(1)))
        if doc is None:
            continue
        pm = PROBE_RE.match(text, m.end())
        if pm:  # a probe alias: its variables are its parameters
            documented.add(pm.start(1))
            if pm.group(1) != doc[0]:
                problems.append("%s: doc comment for %s precedes probe %s"
                                % (rel, doc[0], pm.group(1)))
                continue
            points = " ".join(pm.group(3).split())
            doc = (doc[0], doc[1], [(n, t, "") for n, t in doc[2]], doc[3])
            entries.append(("probe %s %s %s" % (doc[0], pm.group(2), points), doc))
            continue
        fm = FUNC_RE.match(text, m.end())
        if not fm:
            problems.append("%s: the doc comment of %s is not followed by a function"
                            % (rel, doc[0]))
            continue
        private, fname, ret, params = fm.group(1), fm.group(2), fm.group(3), fm.group(4)
        documented.add(fm.start(2))
        if fname != doc[0]:
            problems.append("%s: doc comment for %s precedes function %s"
                            % (rel, doc[0], fname))
            continue
        if private:
            problems.append("%s: %s is private but documented" % (rel, fname))
            continue
        params = parse_params(params)
        names = [n for n, _ in params]
        doc_names = [p[0] for p in doc[2]]
        if names != doc_names:
            problems.append("%s: %s documents parameters %s but takes %s"
                            % (rel, fname, doc_names, names))
        types = dict(params)
        doc = (doc[0], doc[1], [(n, t, types.get(n, "")) for n, t in doc[2]], doc[3])
        entries.append((signature(fname, ret, params), doc))
    for fm in ANY_FUNC_RE.finditer(text):
        if fm.group(1) or fm.start(2) in documented:
            continue
        problems.append("%s: public function %s has no doc comment" % (rel, fm.group(2)))
    for pm in ANY_PROBE_RE.finditer(text):
        if pm.group(1).startswith("_") or pm.start(1) in documented:
            continue
        problems.append("%s: probe alias %s has no doc comment" % (rel, pm.group(1)))
    return rel, file_intro(text), entries


def render(files):
    out = ["# The tapset library", "",
           "<!-- Generated by tools/tapset-docs.py from tapsets/*.stp; do not edit. -->", "",
           "btap's own tapset library: the SystemTap functions it provides, written in "
           "the SystemTap language in `tapsets/`. Names, parameters and types follow "
           "SystemTap's tapsets.", ""]
    out.append("## Contents")
    out.append("")
    for rel, _, entries in files:
        if not entries:
            continue
        names = []
        for _, doc in entries:
            if doc[0] not in names:
                names.append(doc[0])
        out.append("- [%s](#%s): %s" % (rel, re.sub(r"[^a-z0-9-]", "", rel.lower()),
                                        ", ".join("`%s`" % n for n in names)))
    out.append("")
    for rel, intro, entries in files:
        if not entries:
            continue
        out.append("## %s" % rel)
        out.append("")
        for p in intro:
            out.append(md(p))
            out.append("")
        for sig, (name, summary, params, paragraphs) in entries:
            out.append("### %s" % name)
            out.append("")
            out.append("```")
            out.append(sig)
            out.append("```")
            out.append("")
            out.append(md(summary) + ".")
            out.append("")
            if params:
                for pname, ptext, ptype in params:
                    typ = " (%s)" % ptype if ptype else ""
                    out.append("- `%s`%s: %s" % (pname, typ, md(ptext)))
                out.append("")
            for p in paragraphs:
                out.append(md(p))
                out.append("")
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(here),
                    help="the source tree (default: the parent of tools/)")
    ap.add_argument("--output", help="default: ROOT/docs/tapsets.md")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if the output is not up to date; write nothing")
    args = ap.parse_args()
    tapsets = os.path.join(args.root, "tapsets")
    output = args.output or os.path.join(args.root, "docs", "tapsets.md")
    problems = []
    paths = sorted(os.path.join(tapsets, f) for f in os.listdir(tapsets)
                   if f.endswith(".stp"))
    files = [process_file(p, problems) for p in paths]
    text = render(files)
    for p in problems:
        print("tapset-docs: " + p, file=sys.stderr)
    if args.check:
        try:
            current = open(output, encoding="utf-8").read()
        except OSError:
            current = None
        if current != text:
            print("tapset-docs: %s is out of date; run tools/tapset-docs.py" % output,
                  file=sys.stderr)
            return 1
        return 1 if problems else 0
    with open(output, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
