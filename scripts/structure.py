#!/usr/bin/env python3
"""Structure facts of the fkload library, for reviews and closing notes.

    python3 scripts/structure.py            # the report
    python3 scripts/structure.py --check    # exit 1 on an import cycle or a
                                            # function over 80 lines

It reads src/ (the library: src/main.rs and src/cli/ are the binary's and are
left out, as are `#[cfg(test)]` modules) and prints:

- the import cycles among the library's files (strongly connected components
  of the graph "file A names a path of file B": `use crate::...`, `crate::...`
  in code, `super::...`);
- the layers (the longest chain of imports below each file, on the graph with
  each cycle collapsed), with each file's size in lines;
- the ten longest functions (test code left out);
- the public items in rustdoc (`cargo doc --no-deps --lib`, counted in
  target/doc/fkload/all.html), when `--rustdoc` is given.

It is a reading aid, not a parser: comments, strings and char literals are
blanked before it looks at paths and braces.
"""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
LIMIT = 80


def strip(text):
    """Blanks comments, string and char literals (keeping line breaks)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 20]) and not (
            i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            # A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def without_tests(text):
    """The text before a `#[cfg(test)]` module (tests come last here)."""
    m = re.search(r"#\[cfg\(test\)\]\s*(pub(\([a-z]+\))?\s+)?mod\s+\w+\s*\{", text)
    return text[: m.start()] if m else text


def library_files(with_cli=False):
    files = {}
    for dirpath, _, names in os.walk(SRC):
        for name in sorted(names):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, SRC)
            binary = rel == "main.rs" or rel.startswith("cli" + os.sep)
            if binary and not with_cli:
                continue
            if binary:
                rel = os.path.join("bin", rel)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib"):
                parts = parts[:-1]
            files["::".join(parts) or "lib"] = path
    return files


def expand(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = tree.strip()
    m = re.match(r"^([\w:]*?)(::)?\{(.*)\}$", tree, re.S)
    if not m:
        return [tree]
    prefix, body = m.group(1), m.group(3)
    items, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    out = []
    for it in items:
        it = it.strip()
        if not it:
            continue
        for e in expand(it):
            e = re.sub(r"\s+as\s+\w+$", "", e.strip())
            out.append(f"{prefix}::{e}" if prefix else e)
    return out


def resolve(path, me, modules):
    """The library file a path names (`crate::a::b::C` -> `a::b` or `a`)."""
    parts = [p for p in path.split("::") if p]
    me = "" if me == "lib" else me
    if not parts:
        return None
    if parts[0] == "crate":
        parts = parts[1:]
    elif parts[0] in ("super", "self"):
        base = me.split("::") if me else []
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                base = base[:-1]
            parts = parts[1:]
        parts = base + parts
    else:
        # A 2018 path relative to this module: a child module of it.
        child = f"{me}::{parts[0]}" if me else parts[0]
        if child not in modules:
            return None
        parts = (me.split("::") if me else []) + parts
    for k in range(len(parts), 0, -1):
        name = "::".join(parts[:k])
        if name in modules:
            return name
    return None


def imports(me, path, modules):
    text = strip(without_tests(open(path, encoding="utf-8").read()))
    found = set()
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        tree = re.sub(r"\s*([{},]|::)\s*", r"\1", re.sub(r"\s+", " ", m.group(1)))
        for p in expand(tree):
            t = resolve(p, me, modules)
            if t:
                found.add(t)
    for m in re.finditer(r"(?<![\w:])((?:crate|super|\w+)(?:::\w+)+)", text):
        t = resolve(m.group(1), me, modules)
        if t:
            found.add(t)
    # A module imports its parent's declarations only through paths; a parent
    # that declares children is not thereby importing them.
    found.discard(me)
    return found


def sccs(nodes, edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def functions(path):
    """(lines, name) of every function outside test modules."""
    raw = open(path, encoding="utf-8").read()
    text = strip(without_tests(raw))
    out = []
    for m in re.finditer(r"\bfn\s+(\w+)", text):
        # The body starts at the first `{` after the signature (a `;` first
        # means a declaration without a body).
        j = m.end()
        depth_paren = 0
        while j < len(text):
            ch = text[j]
            if ch in "(<[":
                depth_paren += 1
            elif ch in ")>]":
                depth_paren -= 1
            elif ch == ";" and depth_paren <= 0:
                j = -1
                break
            elif ch == "{" and depth_paren <= 0:
                break
            j += 1
        if j < 0 or j >= len(text):
            continue
        depth, k = 0, j
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        start = text.count("\n", 0, m.start()) + 1
        end = text.count("\n", 0, k) + 1
        out.append((end - start + 1, m.group(1), start))
    return out


def rustdoc_items():
    subprocess.run(
        ["cargo", "doc", "--no-deps", "--lib", "-q"],
        cwd=ROOT,
        check=True,
        env=dict(os.environ, RUSTDOCFLAGS="-D warnings"),
    )
    html = open(os.path.join(ROOT, "target/doc/fkload/all.html"), encoding="utf-8").read()
    items = re.findall(r'<li><a href="([^"]+)\.html">', html)
    return items


def main():
    modules = library_files()
    edges = {m: imports(m, p, modules) for m, p in modules.items()}
    comps = sccs(modules, edges)
    cycles = [c for c in comps if len(c) > 1]
    sizes = {m: sum(1 for _ in open(p, encoding="utf-8")) for m, p in modules.items()}

    print(f"library files: {len(modules)}, lines: {sum(sizes.values())}")
    print(f"import cycles: {len(cycles)}")
    for c in cycles:
        print(f"  {len(c)} files: {', '.join(c)}")

    comp_of = {m: i for i, c in enumerate(comps) for m in c}
    level = {}

    def height(i):
        if i in level:
            return level[i]
        level[i] = 0
        below = {comp_of[w] for m in comps[i] for w in edges[m]} - {i}
        level[i] = 1 + max((height(j) for j in below), default=-1)
        return level[i]

    for i in range(len(comps)):
        height(i)
    back = sum(1 for m in modules for w in edges[m] if comp_of[w] == comp_of[m])
    floors = max(level.values()) + 1 if level else 0
    print(f"layers: {floors} (imports inside a cycle: {back})")
    by_floor = {}
    for i, c in enumerate(comps):
        by_floor.setdefault(level[i], []).extend(c)
    for f in sorted(by_floor):
        row = ", ".join(f"{m} ({sizes[m]})" for m in sorted(by_floor[f]))
        print(f"  {f}: {row}")

    # The parts: the top-level modules (folders), and what each imports.
    part = lambda m: m.split("::")[0]
    parts = sorted({part(m) for m in modules})
    part_edges = {a: set() for a in parts}
    for m in modules:
        for w in edges[m]:
            if part(w) != part(m):
                part_edges[part(m)].add(part(w))
    part_cycles = [c for c in sccs(parts, part_edges) if len(c) > 1]
    print(f"parts: {len(parts)}, import cycles among them: {len(part_cycles)}")
    for c in part_cycles:
        print(f"  cycle: {', '.join(c)}")
    for a in parts:
        size = sum(sizes[m] for m in modules if part(m) == a)
        print(f"  {a} ({size}) -> {', '.join(sorted(part_edges[a])) or '-'}")

    funcs = []
    for m, p in library_files(with_cli=True).items():
        for n, name, line in functions(p):
            funcs.append((n, f"{os.path.relpath(p, ROOT)}:{line} {name}"))
    funcs.sort(reverse=True)
    over = [f for f in funcs if f[0] > LIMIT]
    print(f"functions (library and CLI): {len(funcs)}, over {LIMIT} lines: {len(over)}")
    print("ten longest:")
    for n, where in funcs[:10]:
        print(f"  {n:4} {where}")

    if "--rustdoc" in sys.argv:
        items = rustdoc_items()
        print(f"public items in rustdoc: {len(items)}")
        if "-v" in sys.argv:
            for it in items:
                print(f"  {it}")

    if "--check" in sys.argv and (cycles or part_cycles or over):
        sys.exit(1)


if __name__ == "__main__":
    main()
