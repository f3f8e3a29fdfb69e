#!/usr/bin/env python3
"""Checks that no local of the tapset library can be captured by a script's global.

As in stap, an identifier in a function or probe body that is not a parameter binds to
a global of the same name when there is one, the script's globals included
(semantic/resolve_symbols.cpp). A library function whose local is called `n` would
then read and write a script's `global n`. So every local of tapsets/*.stp (in
functions, probe aliases and the library's own probes) must start with `_`, the
library's prefix for what is its own. Exempt are parameters, `catch (VAR)` variables
(always local), globals of the file itself, and a probe alias's documented variables
(the `@name:` lines of its doc comment), which are its interface as in stap.

A local must not have the name of another file's public global either: that global
would capture it (and pull its file in). And a local that a function (or a probe not
on an alias) reads but never assigns is reported: it is always 0 or "", a misspelt
name (as a rename can leave behind).

The check reads the language as btap does, closely enough to know these names: it
expands the library's `@define` macros (`.stpm` files and the file's own), skips the
conditions of `%( ... %? ... %)`, and tells variables from calls (`f(`), arrays (`a[`,
`in a`), members (`->m`) and keywords.

Usage: tools/tapset-locals.py [--root DIR]
  Prints FILE:LINE:COL: for each local a script global could capture, or that is never
  assigned; exit status 1 when there is one.
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|\#[^\n]*|/\*.*?\*/)
  | (?P<embedded>%\{.*?%\})
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<pp>%[(?:)])
  | (?P<target>\$\$?[A-Za-z_0-9]+\$*|\$\#|\$\*)
  | (?P<at>@[A-Za-z_0-9]+)
  | (?P<ident>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<number>0[xX][0-9a-fA-F]+|[0-9]+)
  | (?P<op><<<|<<=|>>=|->|\+\+|--|[-+*/%.&|^]=|==|!=|<=|>=|&&|\|\||<<|>>
          |[-+*/%=<>!~&|^?:.,;(){}\[\]])
""", re.S | re.X)

KEYWORDS = {
    "if", "else", "while", "for", "foreach", "in", "limit", "break", "continue", "next",
    "return", "delete", "try", "catch", "global", "function", "probe", "private", "long",
    "string",
}


class Token:
    __slots__ = ("kind", "text", "file", "line", "col", "offset")

    def __init__(self, kind, text, file, line, col, offset):
        self.kind, self.text, self.file = kind, text, file
        self.line, self.col, self.offset = line, col, offset

    def __repr__(self):
        return "%s:%d:%d %r" % (self.file, self.line, self.col, self.text)


def tokenize(text, file):
    tokens, pos, line, line_start = [], 0, 1, 0
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m:
            raise SyntaxError("%s:%d: cannot read %r" % (file, line, text[pos:pos + 20]))
        kind = m.lastgroup
        if kind not in ("space", "comment", "embedded"):
            tokens.append(Token(kind, m.group(), file, line, pos - line_start + 1, pos))
        newlines = m.group().count("\n")
        if newlines:
            line += newlines
            line_start = pos + m.group().rindex("\n") + 1
        pos = m.end()
    return tokens


def matching(tokens, i, open_text, close_text):
    """The index of the token closing the bracket at tokens[i]."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].text == open_text:
            depth += 1
        elif tokens[j].text == close_text:
            depth -= 1
            if depth == 0:
                return j
    raise SyntaxError("%r is not closed" % tokens[i])


def read_macros(tokens):
    """Removes `@define NAME[(PARAMS)] %( BODY %)` from tokens: (rest, {NAME: (params, body)})."""
    rest, macros, i = [], {}, 0
    while i < len(tokens):
        if tokens[i].text != "@define":
            rest.append(tokens[i])
            i += 1
            continue
        name, i = tokens[i + 1].text, i + 2
        params = []
        if tokens[i].text == "(":
            close = matching(tokens, i, "(", ")")
            params = [t.text for t in tokens[i + 1:close] if t.kind == "ident"]
            i = close + 1
        close = matching(tokens, i, "%(", "%)")
        macros[name] = (params, tokens[i + 1:close])
        i = close + 1
    return rest, macros


def expand(tokens, macros, depth=0):
    """Tokens with macro uses replaced by their bodies (the body's tokens keep their own
    places) and the conditions of `%( COND %? A %: B %)` dropped."""
    if depth > 20:
        raise SyntaxError("macros nest too deep")
    out, i = [], 0
    while i < len(tokens):
        t = tokens[i]
        if t.text == "%(":  # a conditional: both branches stay, the condition goes
            j = i + 1
            while tokens[j].text != "%?":
                j += 1
            i = j + 1
            continue
        if t.text in ("%:", "%)"):
            i += 1
            continue
        name = t.text[1:]
        if t.kind == "at" and name in macros:
            params, body = macros[name]
            args = []
            i += 1
            if params and i < len(tokens) and tokens[i].text == "(":
                close = matching(tokens, i, "(", ")")
                arg, depth_ = [], 0
                for a in tokens[i + 1:close]:
                    if a.text in ("(", "["):
                        depth_ += 1
                    elif a.text in (")", "]"):
                        depth_ -= 1
                    if a.text == "," and depth_ == 0:
                        args.append(arg)
                        arg = []
                    else:
                        arg.append(a)
                args.append(arg)
                i = close + 1
            bound = dict(zip(params, args))
            body_out = []
            for b in body:
                if b.kind == "at" and b.text[1:] in bound:
                    body_out.extend(bound[b.text[1:]])
                else:
                    body_out.append(b)
            out.extend(expand(body_out, macros, depth + 1))
            continue
        out.append(t)
        i += 1
    return out


class Body:
    """A function's or probe's body, with what binds names in it."""

    def __init__(self, kind, name, file, tokens, params=(), points=(), documented=()):
        self.kind, self.name, self.file, self.tokens = kind, name, file, tokens
        self.params = list(params)    # a function's parameters
        self.points = list(points)    # a probe's points, as written ("a.b", "c(1).d")
        self.documented = set(documented)  # an alias's documented variables


DOC_VAR_RE = re.compile(r"^\s*\*\s*@(\w+):", re.M)

# The first parts of probe points that are no alias: points of these give a probe no
# variables of their own (only $target variables).
BUILTIN_POINTS = {"begin", "end", "error", "never", "timer", "perf", "kernel", "kprobe",
                  "kretprobe", "process", "module"}


def documented_before(text, offset):
    """The @-names of the doc comment that ends right before offset (none if none)."""
    end = text.rfind("*/", 0, offset)
    if end == -1 or text[end + 2:offset].strip():
        return []
    start = text.rfind("/**", 0, end)
    return DOC_VAR_RE.findall(text[start:end]) if start != -1 else []


def probe_points(tokens):
    """The points of a probe's head, each as its text without `?`/`!`."""
    points, current, depth = [], [], 0
    for t in tokens:
        if depth == 0 and t.text in (",", "?", "!"):
            if current:
                points.append("".join(current))
            current = []
            continue
        depth += t.text == "("
        depth -= t.text == ")"
        current.append(t.text)
    if current:
        points.append("".join(current))
    return points


def parse_global(tokens, i, names):
    """Reads `global a, b[N], c = V` from tokens[i] (after `global`); returns the end."""
    while True:
        names.add(tokens[i].text)
        i += 1
        if i < len(tokens) and tokens[i].text == "%":  # a wrapping array
            i += 1
        if i < len(tokens) and tokens[i].text == "[":
            i = matching(tokens, i, "[", "]") + 1
        if i < len(tokens) and tokens[i].text == "=":
            i += 2 if tokens[i + 1].text in ("-", "+") else 1
            i += 1
        if i < len(tokens) and tokens[i].text == ",":
            i += 1
            continue
        return i + (i < len(tokens) and tokens[i].text == ";")


def parse_file(path, library_macros, root=ROOT):
    """(public globals, private globals, [Body]) of one tapset file."""
    text = open(path, encoding="utf-8").read()
    file = os.path.relpath(path, root)
    tokens, macros = read_macros(tokenize(text, file))
    tokens = expand(tokens, {**library_macros, **macros})
    public, private, bodies = set(), set(), []
    i = 0
    while i < len(tokens):
        start = tokens[i]
        is_private = start.text == "private"
        i += is_private
        t = tokens[i]
        if t.text == "global":
            i = parse_global(tokens, i + 1, private if is_private else public)
        elif t.text == "function":
            name = tokens[i + 1].text
            j = i + 2
            while tokens[j].text != "(":
                j += 1
            close = matching(tokens, j, "(", ")")
            params = [tokens[k].text for k in range(j + 1, close)
                      if tokens[k].kind == "ident" and tokens[k - 1].text != ":"]
            j = close + 1
            if tokens[j].text == ":":  # stap's `function f (x) : long`
                j += 2
            end = matching(tokens, j, "{", "}")
            bodies.append(Body("function", name, file, tokens[j + 1:end], params=params))
            i = end + 1
        elif t.text == "probe":
            j, assign = i + 1, None
            while tokens[j].text != "{":
                if tokens[j].text == "(":
                    j = matching(tokens, j, "(", ")")
                elif tokens[j].text in ("=", "+=") and assign is None:
                    assign = j
                j += 1
            end = matching(tokens, j, "{", "}")
            if assign is None:
                points = probe_points(tokens[i + 1:j])
                body = Body("probe", ",".join(points), file, tokens[j + 1:end], points=points)
            else:
                body = Body("alias", "".join(x.text for x in tokens[i + 1:assign]), file,
                            tokens[j + 1:end], points=probe_points(tokens[assign + 1:j]),
                            documented=documented_before(text, start.offset))
            bodies.append(body)
            i = end + 1
        else:
            raise SyntaxError("%s:%d:%d: unexpected %r at the top level"
                              % (file, t.line, t.col, t.text))
    return public, private, bodies


ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "%=", ".=", "<<=", ">>=", "&=", "|=", "^=",
              "<<<", "++", "--"}


def names(body):
    """The tokens of body that name variables (not calls, arrays, members or keywords),
    each with how it binds: "catch" (a catch variable: always local), "write" (assigned,
    incremented or a foreach key) or "read"."""
    toks = body.tokens
    foreach_keys = set()  # the indexes of foreach's keys and value
    for k, t in enumerate(toks):
        if t.text == "foreach":
            j = k + 2
            while toks[j].text != "in":
                foreach_keys.add(j)
                j += 1
    for k, t in enumerate(toks):
        if t.kind != "ident" or t.text in KEYWORDS:
            continue
        prev = toks[k - 1].text if k else ""
        nxt = toks[k + 1].text if k + 1 < len(toks) else ""
        if prev == "->" or nxt in ("(", "[") or prev == "in":  # member, call, array
            continue
        if prev == "(" and k >= 2 and toks[k - 2].text == "catch":
            yield t, "catch"
        elif nxt in ASSIGN_OPS or prev in ("++", "--") or k in foreach_keys:
            yield t, "write"
        else:
            yield t, "read"


def glob_match(pattern, name):
    """Whether an alias name matches a probe point (`*` within a part, `**` across)."""
    regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^.]*")
    return re.fullmatch(regex, name) is not None


def check(root):
    tapsets = os.path.join(root, "tapsets")
    files = sorted(f for f in os.listdir(tapsets) if f.endswith((".stp", ".stpm")))
    library_macros = {}
    for f in files:
        if f.endswith(".stpm"):
            text = open(os.path.join(tapsets, f), encoding="utf-8").read()
            library_macros.update(read_macros(tokenize(text, f))[1])
    parsed = {}
    for f in files:
        if f.endswith(".stp"):
            try:
                parsed[f] = parse_file(os.path.join(tapsets, f), library_macros, root)
            except IndexError:
                raise SyntaxError("tapsets/%s: a bracket or statement is not closed" % f)
    public_of, aliases = {}, []
    for f, (public, _, bodies) in parsed.items():
        for g in public:
            public_of.setdefault(g, f)
        aliases += [b for b in bodies if b.kind == "alias"]
    # An alias made of others (`signal.send.return = __signal.send.X.return, ...`) gives
    # them its documented variables: they set them for it.
    changed = True
    while changed:
        changed = False
        for outer in aliases:
            for inner in aliases:
                if any(glob_match(p, inner.name) for p in outer.points) and \
                        not outer.documented <= inner.documented:
                    inner.documented |= outer.documented
                    changed = True
    problems, count = [], 0
    for f, (public, private, bodies) in parsed.items():
        own = public | private
        for body in bodies:
            count += 1
            # A probe on an alias reads the alias's variables; only the names it
            # assigns are its own.
            on_alias = any(p.split(".")[0].split("(")[0] not in BUILTIN_POINTS
                           for p in body.points)
            seen = set(body.params)
            written, first_read = set(), {}
            for t, how in names(body):
                n = t.text
                if how == "read":
                    first_read.setdefault(n, t)
                else:
                    written.add(n)
                if n in seen or n in own:
                    continue
                if how == "catch":
                    seen.add(n)
                    continue
                if on_alias and how == "read":
                    continue
                seen.add(n)  # each name is reported once per body
                what = "%s `%s`" % (body.kind, body.name)
                if n in public_of:
                    problems.append("%s:%d:%d: `%s` in %s is the global of %s; give the "
                                    "local another name" % (t.file, t.line, t.col, n, what,
                                                            public_of[n]))
                elif not n.startswith("_") and n not in body.documented:
                    problems.append("%s:%d:%d: local `%s` of %s can be captured by a "
                                    "script's `global %s`; name it `__%s`"
                                    % (t.file, t.line, t.col, n, what, n, n))
            # A local only read is always 0 or "": a misspelt name.
            for n, t in first_read.items():
                if not on_alias and n not in written and n not in body.params and \
                        n not in own and n not in public_of:
                    problems.append("%s:%d:%d: local `%s` of %s `%s` is read but never "
                                    "assigned; a misspelt name?"
                                    % (t.file, t.line, t.col, n, body.kind, body.name))
    return problems, count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=ROOT)
    args = ap.parse_args()
    try:
        problems, count = check(args.root)
    except SyntaxError as e:  # a file this reading does not follow
        print("tapset-locals: cannot read the library: %s" % e, file=sys.stderr)
        return 2
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print("tapset-locals: %d problem(s) with the library's locals" % len(problems),
              file=sys.stderr)
        return 1
    print("tapset-locals: %d bodies, no local a script global can capture" % count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
