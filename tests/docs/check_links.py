#!/usr/bin/env python3
"""Checks that every relative link in the given Markdown files resolves (scripts/check-docs).

A link resolves when its path names an existing file or directory (relative to the linking
file, or to the repository root when it starts with `/`, as GitHub reads it) and, when it has a
`#anchor` into a Markdown file, that file has a heading whose GitHub slug is the anchor (or an
explicit `id`/`name` anchor). Links with a scheme (https:, mailto:) are not relative and are not
fetched: this runs offline. Links inside code spans and fenced blocks are not links.

Prints one `ok FILE` or `not ok FILE` line per file, with each broken link under it, and exits 1
when any is broken. Standard library only.

    check_links.py ROOT FILE...
"""

import os
import re
import sys
import urllib.parse

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# [text](target "title") and ![alt](target); text may hold one level of brackets (badges).
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_ANCHOR = re.compile(r"<a\s[^>]*(?:name|id)=\"([^\"]+)\"", re.I)
HTML_HREF = re.compile(r"<(?:a|img)\s[^>]*(?:href|src)=\"([^\"]+)\"", re.I)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(text):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
            else:
                yield number, line
        elif match and set(line.strip()) == {fence[0]} and len(line.strip()) >= len(fence):
            # A closing fence: the same character, at least as long, nothing after it.
            fence = None


def heading_text(raw):
    """The text GitHub renders for a heading's Markdown: code spans' content, links' text."""
    text = CODE_SPAN.sub(lambda m: m.group(2).strip(), raw)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"(\*\*|__|\*)", "", text)
    return text.strip()


def github_slug(text):
    """GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen."""
    slug = text.lower()
    slug = "".join(ch for ch in slug if ch in "-_ " or ch.isalnum())
    return slug.replace(" ", "-")


def anchors_of(text):
    """Every anchor a Markdown file offers: heading slugs (duplicates numbered) and HTML ids."""
    anchors, seen = set(), {}
    previous = None
    for _, line in prose_lines(text):
        match = ATX_HEADING.match(line)
        raw = match.group(2) if match else None
        if raw is None and previous and previous.strip() and SETEXT_UNDERLINE.match(line) \
                and not ATX_HEADING.match(previous) and not previous.lstrip().startswith(("-", "*", ">", "|")):
            raw = previous.strip()
        if raw is not None:
            slug = github_slug(heading_text(raw))
            count = seen.get(slug, 0)
            anchors.add(slug if count == 0 else f"{slug}-{count}")
            seen[slug] = count + 1
        anchors.update(HTML_ANCHOR.findall(line))
        previous = line
    return anchors


def links_of(text):
    """(line number, target) of every link outside code."""
    for number, line in prose_lines(text):
        line = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        for match in INLINE_LINK.finditer(line):
            yield number, match.group(1)
        match = REFERENCE_DEFINITION.match(line)
        if match:
            yield number, match.group(1)
        for target in HTML_HREF.findall(line):
            yield number, target


def broken_links(root, path, anchor_cache):
    """Messages for the links of `path` that do not resolve."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    problems = []
    for number, target in links_of(text):
        target = target.strip("<>")
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue
        file_part, _, anchor = target.partition("#")
        file_part = urllib.parse.unquote(file_part.split("?", 1)[0])
        if file_part == "":
            resolved = path
        elif file_part.startswith("/"):
            resolved = os.path.join(root, file_part.lstrip("/"))
        else:
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
        where = f"{os.path.relpath(path, root)}:{number}: {target}"
        if not os.path.exists(resolved):
            problems.append(f"{where}: no such file {os.path.relpath(resolved, root)}")
            continue
        if os.path.relpath(resolved, root).startswith(".."):
            problems.append(f"{where}: points outside the repository")
            continue
        if anchor and resolved.endswith(".md") and os.path.isfile(resolved):
            if resolved not in anchor_cache:
                with open(resolved, encoding="utf-8") as handle:
                    anchor_cache[resolved] = anchors_of(handle.read())
            if urllib.parse.unquote(anchor) not in anchor_cache[resolved]:
                problems.append(f"{where}: no heading #{anchor} in {os.path.relpath(resolved, root)}")
    return problems


def main(argv):
    if len(argv) < 3:
        print("usage: check_links.py ROOT FILE...", file=sys.stderr)
        return 2
    root = os.path.abspath(argv[1])
    anchor_cache = {}
    failed = False
    for name in argv[2:]:
        path = os.path.abspath(name)
        problems = broken_links(root, path, anchor_cache)
        label = os.path.relpath(path, root)
        if problems:
            failed = True
            print(f"not ok links resolve: {label}")
            for problem in problems:
                print(f"    {problem}")
        else:
            print(f"ok links resolve: {label}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
