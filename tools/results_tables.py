#!/usr/bin/env python3
"""Keeps the result tables of the READMEs equal to the files the validation commands write.

A table in a Markdown file is tied to a result file by a pair of markers:

    <!-- results:sheared_vs_scratch.md#1 -->
    | domain | ... |
    <!-- results:end -->

`FILE#N` is the N-th table (a run of lines starting with '|') of validation/results/FILE. `--check` (the test)
exits 1 naming every table that differs; `--write` replaces each marked table with the file's, so after a
validation command has run, `python3 tools/results_tables.py --write README.md validation/README.md` refreshes
the figures and nothing is copied by hand.
"""
import argparse
import os
import re
import sys

BEGIN = re.compile(r"^<!-- results:(?P<file>[A-Za-z0-9_.-]+)#(?P<n>[0-9]+) -->$")
END = "<!-- results:end -->"


def tables(path):
    """Every table of a Markdown file, as lists of lines."""
    out, cur = [], []
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines():
            if line.startswith("|"):
                cur.append(line)
            elif cur:
                out.append(cur)
                cur = []
    if cur:
        out.append(cur)
    return out


def process(md, results_dir, write):
    lines = open(md, encoding="utf-8").read().splitlines()
    out, bad, n_blocks, i = [], [], 0, 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        out.append(lines[i])
        i += 1
        if not m:
            continue
        n_blocks += 1
        j = i
        while j < len(lines) and lines[j] != END:
            if BEGIN.match(lines[j]):
                sys.exit(f"{md}:{j + 1}: a results marker opens before the one of line {i} is closed by '{END}'")
            j += 1
        if j == len(lines):
            sys.exit(f"{md}:{i}: results marker without '{END}'")
        src = os.path.join(results_dir, m["file"])
        if not os.path.exists(src):
            sys.exit(f"{md}:{i}: {src} does not exist: run the validation command that writes it")
        found = tables(src)
        k = int(m["n"])
        if not 1 <= k <= len(found):
            sys.exit(f"{md}:{i}: {src} has {len(found)} table(s), the marker asks for table {k}")
        want = found[k - 1]
        if lines[i:j] != want:
            bad.append(f"{md}:{i}: the table differs from table {k} of {src}")
        out.extend(want if write else lines[i:j])
        out.append(END)
        i = j + 1
    if write:
        with open(md, "w", encoding="utf-8") as f:
            f.write("\n".join(out) + "\n")
    return n_blocks, bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--check", action="store_true", help="exit 1 when a marked table differs from its file")
    g.add_argument("--write", action="store_true", help="replace every marked table with its file's")
    ap.add_argument("--results", default=None, help="folder of result files (default: validation/results)")
    ap.add_argument("markdown", nargs="+")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = a.results or os.path.join(root, "validation", "results")
    total, bad = 0, []
    for md in a.markdown:
        n, b = process(md, results, a.write)
        total += n
        bad += b
    if total == 0:
        sys.exit("no results markers found: expected '<!-- results:FILE#N -->' ... '" + END + "'")
    for b in bad:
        print("FAIL " + b + (" (rewritten)" if a.write else "; run: python3 tools/results_tables.py --write ..."))
    if a.write:
        print(f"{total} tables written from {results}")
        return 0
    print(f"{total - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
