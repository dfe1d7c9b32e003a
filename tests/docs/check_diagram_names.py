#!/usr/bin/env python3
"""Checks that the names a diagram shows are real (scripts/check-docs).

Every identifier in a docs/diagrams/*.dot label (CamelCase names such as ScaleUpQueue,
snake_case ones such as drain_request, UPPER_SNAKE ones such as MIN_NODES) must occur as a word
in the sources the diagrams are drawn from: infra/template.yaml, k8s/, crates/**/*.rs and
docs/SCALING_ALGORITHM.md; every `crates/NAME` must be a crate directory. A resource renamed in the
template, or a diagram drawn ahead of what was built, fails here with the name.

Prints one `ok`/`not ok` line per diagram; exits 1 when a name is unknown. Standard library only.

    check_diagram_names.py ROOT [FILE.dot...]   (default: ROOT/docs/diagrams/*.dot)
"""

import glob
import os
import re
import sys

# Quoted attribute values and HTML-like labels: everything a reader sees.
LABEL = re.compile(r'label\s*=\s*(?:"((?:[^"\\]|\\.)*)"|<(.*?)>\s*[\],;])', re.S)
IDENTIFIERS = [
    re.compile(r"\b[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+\b"),  # CamelCase, two humps or more
    re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"),  # snake_case
    re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b"),  # UPPER_SNAKE
]
CRATE = re.compile(r"\bcrates/([a-z0-9-]+)")


def corpus_words(root):
    """Every word of the sources the diagrams take their names from."""
    paths = [os.path.join(root, "infra", "template.yaml"), os.path.join(root, "docs", "SCALING_ALGORITHM.md")]
    paths += glob.glob(os.path.join(root, "k8s", "**", "*"), recursive=True)
    paths += glob.glob(os.path.join(root, "crates", "**", "*.rs"), recursive=True)
    words = set()
    for path in paths:
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            words.update(re.findall(r"[A-Za-z0-9_]+", handle.read()))
    return words


def labels_of(text):
    """The text of every label in a Graphviz source, comments left out."""
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    for quoted, html in LABEL.findall(text):
        yield re.sub(r"<[^>]+>", " ", html) if html else quoted.replace("\\n", " ")


def unknown_names(root, path, words):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    problems = set()
    for label in labels_of(text):
        for pattern in IDENTIFIERS:
            for name in pattern.findall(label):
                if name not in words:
                    problems.add(f"{name}: not in infra/template.yaml, k8s/, crates/ or docs/SCALING_ALGORITHM.md")
        for crate in CRATE.findall(label):
            if not os.path.isfile(os.path.join(root, "crates", crate, "Cargo.toml")):
                problems.add(f"crates/{crate}: no such crate")
    return sorted(problems)


def main(argv):
    if len(argv) < 2:
        print("usage: check_diagram_names.py ROOT [FILE.dot...]", file=sys.stderr)
        return 2
    root = os.path.abspath(argv[1])
    words = corpus_words(root)
    sources = [os.path.abspath(p) for p in argv[2:]] or sorted(glob.glob(os.path.join(root, "docs", "diagrams", "*.dot")))
    failed = False
    for path in sources:
        name = os.path.basename(path)
        problems = unknown_names(root, path, words)
        if problems:
            failed = True
            print(f"not ok diagram {name}: every name it shows is in the sources")
            for problem in problems:
                print(f"    {problem}")
        else:
            print(f"ok diagram {name}: every name it shows is in the sources")
    if not sources:
        print("not ok docs/diagrams has sources")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
