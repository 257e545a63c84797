#!/usr/bin/env python3
"""The source tree's shape, checked by `make test` (suite `layout`):

1. No C file of core/, server/ or tests/ passes MAX_LINES lines unless its first comment
   (the top MAX_HEAD lines) says why, in a line holding "over 800 lines" followed by the
   reason, e.g. ` * Over 800 lines: one table of every ... ; split, it would ...`.
2. No circle in the include graph: a file's `#include "..."` is an edge from the file to
   the header, a header and its .c are one node (core/model.h and core/model.c are
   `core/model`), and no node may reach itself. Headers are looked up as the compiler
   does: beside the file, then in the Makefile's -I folders.

Circles that are known and not yet broken are listed in KNOWN_CIRCLES, each as the set of
its nodes, and reported as such: a circle that is not one of them (or that has grown
beyond one) fails; an entry that is no longer a circle is named, to be taken off.

Usage: tests/layout_check.py [--list]   (--list prints every node's edges)
Exits 1 with every long file and every circle named.
"""
import os
import re
import subprocess
import sys

MAX_LINES = 800
MAX_HEAD = 20
ROOTS = ('core/', 'server/', 'tests/')
INCLUDE_DIRS = ['core', 'core/tokenizer', 'server', 'server/json', 'tests/unit']
KNOWN_CIRCLES = []
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def c_files():
    out = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard', '*.c', '*.h'],
                         capture_output=True, text=True, check=True).stdout.split()
    return sorted(f for f in out if f.startswith(ROOTS) and 'node_modules/' not in f and os.path.exists(f))


def node(path):
    return os.path.splitext(path)[0]


def resolve(including, name):
    for d in [os.path.dirname(including)] + INCLUDE_DIRS:
        p = os.path.normpath(os.path.join(d, name))
        if os.path.exists(p):
            return p
    return None


def long_files(files):
    bad = []
    for f in files:
        with open(f, encoding='utf-8', errors='replace') as fh:
            lines = fh.read().split('\n')
        n = len(lines) - (1 if lines and lines[-1] == '' else 0)
        if n > MAX_LINES and not any('over 800 lines' in l.lower() for l in lines[:MAX_HEAD]):
            bad.append(f'{f}: {n} lines, and no "Over 800 lines: <why>" in its first {MAX_HEAD} lines')
    return bad


def graph(files):
    edges, unresolved = {}, []
    for f in files:
        with open(f, encoding='utf-8', errors='replace') as fh:
            text = fh.read()
        a = node(f)
        edges.setdefault(a, set())
        for name in INCLUDE.findall(text):
            h = resolve(f, name)
            if h is None:
                if not name.startswith('gen/'):
                    unresolved.append(f'{f}: #include "{name}" names no file')
                continue
            b = node(h)
            if b != a:
                edges[a].add(b)
                edges.setdefault(b, set())
    return edges, unresolved


def cycles(edges):
    """Tarjan's strongly connected components; those of more than one node, each with
    one circle through it spelled out."""
    index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

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
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    out = []
    for comp in comps:
        members = set(comp)
        start = comp[0]
        # a shortest circle from start back to it, inside the component
        prev, frontier, found = {start: None}, [start], None
        while frontier and not found:
            nxt = []
            for v in frontier:
                for w in sorted(edges[v]):
                    if w == start:
                        found = v
                        break
                    if w in members and w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if found:
                    break
            frontier = nxt
        path, v = [], found
        while v is not None:
            path.append(v)
            v = prev[v]
        path.reverse()
        out.append((set(comp), ' -> '.join(path + [start]) + f'   (the circle\'s component: {", ".join(comp)})'))
    return out


def main():
    files = c_files()
    problems = long_files(files)
    edges, unresolved = graph(files)
    problems += unresolved
    known = []
    for comp, text in cycles(edges):
        if any(comp <= k for k in KNOWN_CIRCLES):
            known.append(text)
        else:
            problems.append(f'include circle: {text}')
    for text in known:
        print('layout: known include circle, still to break:', text)
    for k in KNOWN_CIRCLES:
        if not any(comp <= k for comp, _ in cycles(edges)):
            print(f'layout: {", ".join(sorted(k))} is no longer a circle: take it off KNOWN_CIRCLES')
    if '--list' in sys.argv:
        for a in sorted(edges):
            print(a, '->', ' '.join(sorted(edges[a])))
    for p in problems:
        print('layout:', p)
    if problems:
        print(f'layout: {len(problems)} problems in {len(files)} files')
        return 1
    print(f'layout: {len(files)} files, none over {MAX_LINES} lines without a reason, '
          f'no include circle but the {len(known)} known ones')
    return 0


if __name__ == '__main__':
    sys.exit(main())
