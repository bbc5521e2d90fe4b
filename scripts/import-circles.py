#!/usr/bin/env python3
"""Import circles between the crate's source files.

Reads every `.rs` file under `src/` (the CLI under `src/bin/` and unit-test modules left out),
takes each path it uses inside the crate (`use crate::...`, `crate::a::b` in code, `super::...`,
and a parent module's `child::...`), resolves it to the file that defines that module, and
prints each group of files that import each other in a loop, with the arrows that tie it.
Comment lines are skipped, so doc links do not count. Exits 1 when there is a circle.

    python3 scripts/import-circles.py [src]
"""

import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "src"


def rust_files(root):
    found = set()
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".rs"):
                found.add(os.path.join(folder, name))
    return found


FILES = rust_files(ROOT)


def file_of(parts):
    """The file defining the longest module prefix of `parts` (crate-relative)."""
    for n in range(len(parts), 0, -1):
        base = os.path.join(ROOT, *parts[:n])
        for candidate in (base + ".rs", os.path.join(base, "mod.rs")):
            if candidate in FILES:
                return candidate
    return os.path.join(ROOT, "lib.rs")


def module_path(path):
    parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return parts


def is_parent(target, path):
    """Whether `target` is the `mod.rs` of a folder that holds `path`."""
    if os.path.basename(target) != "mod.rs":
        return False
    folder = os.path.dirname(target) + os.sep
    return path.startswith(folder) and path != target


def code(text):
    text = re.sub(r"(?m)^\s*//.*$", "", text)
    cut = re.search(r"(?m)^#\[cfg\(test\)\]\s*\n(#\[[^\n]*\]\s*\n)*mod tests", text)
    return text if cut is None else text[: cut.start()]


def split_top(body):
    items, depth, current = [], 0, ""
    for ch in body:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    items.append(current)
    return [item.strip() for item in items if item.strip()]


def expand(prefix, body):
    paths = []
    for item in split_top(body):
        nested = re.match(r"^([\w:]*?)::\{(.*)\}$", item, re.S)
        if nested:
            paths += expand(prefix + "::" + nested.group(1), nested.group(2))
        else:
            paths.append(prefix + "::" + item)
    return paths


def imports(path):
    text = code(open(path, encoding="utf-8").read())
    here = module_path(path)
    paths = []
    for m in re.finditer(r"\buse\s+crate::\{(.*?)\};", text, re.S):
        paths += expand("crate", m.group(1))
    rest = re.sub(r"\buse\s+crate::\{.*?\};", "", text, flags=re.S)
    paths += re.findall(r"\bcrate::[\w:]+", rest)
    for m in re.findall(r"\bsuper::[\w:]+", text):
        paths.append("crate::" + "::".join(here[:-1] + m.split("::")[1:]))
    children = re.findall(r"(?m)^\s*(?:pub(?:\([\w ]+\))?\s+)?mod\s+(\w+)\s*;", text)
    for child in children:
        for m in re.findall(r"(?<![\w:])" + child + r"::[\w:]+", text):
            paths.append("crate::" + "::".join(here + m.split("::")))
    targets = set()
    for p in paths:
        parts = [x.strip().split(" as ")[0] for x in p.split("::")[1:]]
        parts = [x for x in parts if x and x != "self" and not x.startswith("{")]
        target = file_of(parts)
        if target != path and not target.endswith("lib.rs") and not is_parent(target, path):
            targets.add(target)
    return targets


EDGES = {f: imports(f) for f in FILES if os.sep + "bin" + os.sep not in f}


def circles():
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in EDGES.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in sorted(EDGES):
        if v not in index:
            visit(v)
    return found


groups = circles()
for group in groups:
    print(f"circle of {len(group)} files:")
    members = set(group)
    for a in group:
        for b in sorted(EDGES.get(a, ())):
            if b in members:
                print(f"  {a} -> {b}")
if not groups:
    print(f"no import circle among {len(EDGES)} files")
sys.exit(1 if groups else 0)
