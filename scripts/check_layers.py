#!/usr/bin/env python3
"""check_layers.py - the layering of engine/ as a test.

Layers, lowest first: proto/ < engine/core < engine/config, engine/store
< engine/shell (config and store are side by side and never include each
other). Checks, over every .c and .h of those folders:
  1. each `#include "x.h"` names a header of the file's own layer or of a
     layer below it (the CMake link lines enforce the same for the build);
  2. no import cycle between modules (a module is a .c/.h pair: x.c and
     x.h are one node; an include of y.h from x.c or x.h is an edge x->y).
Exits 1 naming every violation and every cycle it finds, 0 otherwise.
Usage: scripts/check_layers.py [REPO_ROOT]
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent)
LAYERS = {  # folder -> the folders it may include from (itself first)
    "proto": ["proto"],
    "engine/core": ["engine/core", "proto"],
    "engine/config": ["engine/config", "engine/core", "proto"],
    "engine/store": ["engine/store", "engine/core", "proto"],
    "engine/shell": ["engine/shell", "engine/config", "engine/store", "engine/core", "proto"],
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main():
    where = {}  # header name -> folder
    files = []
    for folder in LAYERS:
        for f in sorted((ROOT / folder).glob("*.[ch]")):
            files.append((folder, f))
            if f.suffix == ".h":
                assert f.name not in where, f"{f.name} exists in two layers"
                where[f.name] = folder
    problems, edges = [], {}
    for folder, f in files:
        mod = f"{folder}/{f.stem}"
        edges.setdefault(mod, set())
        for inc in INCLUDE.findall(f.read_text()):
            name = pathlib.Path(inc).name
            if name not in where:
                problems.append(f"{f.relative_to(ROOT)}: includes {inc}, not a header of any layer")
                continue
            if where[name] not in LAYERS[folder]:
                problems.append(f"{f.relative_to(ROOT)}: includes {inc} of {where[name]}, "
                                f"a layer {folder} may not use")
            target = f"{where[name]}/{pathlib.Path(name).stem}"
            if target != mod:
                edges[mod].add(target)
    for cycle in cycles(edges):
        problems.append("import cycle: " + " -> ".join(cycle))
    for p in problems:
        print(p)
    mods = len(edges)
    print(f"check_layers: {len(files)} files, {mods} modules, "
          f"{sum(len(v) for v in edges.values())} edges, {len(problems)} problems")
    return 1 if problems else 0


def cycles(edges):
    """Every cycle found by a depth-first search (one per back edge)."""
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)
    return found


if __name__ == "__main__":
    sys.exit(main())
