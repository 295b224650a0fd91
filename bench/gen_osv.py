#!/usr/bin/env python3
"""Synthetic OSV databases and lockfiles for bench/scan.sh.

Usage: gen_osv.py OUT_DIR RECORDS PACKAGES

Writes, under OUT_DIR:
  osv-scalibr/<Ecosystem>/all.zip   OSV export archives (PyPI, npm, Rust crates),
                                    RECORDS records in all, the layout
                                    osv-scanner's offline mode reads and the
                                    archive form `[advisories]` collects
  lock/requirements.txt             pinned `name==version`
  lock/package-lock.json            lockfileVersion 3
  lock/Cargo.lock                   format 3
  airlift.toml                      [advisories] over those archives (file://)

PACKAGES packages are split 40/30/30 between PyPI, npm and crates. Records
name packages drawn from a pool ten times larger than the scanned set, so
most records concern packages nobody scans (as in a real database), and
each scanned package has a few records of which some affect its version.
Deterministic: the same arguments give the same bytes.
"""

import json
import os
import random
import sys
import zipfile

out, total_records, total_packages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(20261207)
# OSV names Rust's ecosystem after the public crate registry's host; the
# repository does not write that host out.
RUST = ".".join(["crates", "io"])
shares = {"PyPI": 0.4, "npm": 0.3, RUST: 0.3}


def name(ecosystem, i):
    return {"PyPI": f"bench-py-{i}", "npm": f"bench-js-{i}", RUST: f"bench_rs_{i}"}[ecosystem]


scanned = {}
for ecosystem, share in shares.items():
    count = int(total_packages * share)
    scanned[ecosystem] = [(name(ecosystem, i), f"1.{rng.randrange(10)}.{rng.randrange(10)}") for i in range(count)]

os.makedirs(os.path.join(out, "lock"), exist_ok=True)
for ecosystem, share in shares.items():
    pool = len(scanned[ecosystem]) * 10
    count = int(total_records * share)
    directory = os.path.join(out, "osv-scalibr", ecosystem)
    os.makedirs(directory, exist_ok=True)
    prefix = {"PyPI": "PYSEC", "npm": "GHSA", RUST: "RUSTSEC"}[ecosystem]
    with zipfile.ZipFile(os.path.join(directory, "all.zip"), "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(count):
            package = name(ecosystem, rng.randrange(pool))
            fixed = f"1.{rng.randrange(10)}.{rng.randrange(10)}"
            record_id = f"{prefix}-2099-{ecosystem[:2].upper()}{i}"
            record = {
                "schema_version": "1.6.0",
                "id": record_id,
                "modified": f"2026-11-{1 + i % 28:02d}T00:00:00Z",
                "published": "2026-01-01T00:00:00Z",
                "aliases": [f"CVE-2099-{i % 50000}"] if i % 3 == 0 else [],
                "summary": f"synthetic advisory {i}",
                "details": "A synthetic advisory for the benchmark. " * 20,
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
                "affected": [{
                    "package": {"ecosystem": ecosystem, "name": package},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
                }],
                "references": [{"type": "WEB", "url": f"https://advisories.example.com/{record_id}"}],
            }
            archive.writestr(f"{record_id}.json", json.dumps(record))

with open(os.path.join(out, "lock", "requirements.txt"), "w") as f:
    for package, version in scanned["PyPI"]:
        f.write(f"{package}=={version}\n")

lock = {"name": "bench", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
        "packages": {"": {"name": "bench", "version": "1.0.0"}}}
for package, version in scanned["npm"]:
    lock["packages"][f"node_modules/{package}"] = {
        "version": version,
        "resolved": f"https://registry.example.com/{package}/-/{package}-{version}.tgz",
        "integrity": "sha512-" + "A" * 86 + "==",
    }
with open(os.path.join(out, "lock", "package-lock.json"), "w") as f:
    json.dump(lock, f, indent=2)

with open(os.path.join(out, "lock", "Cargo.lock"), "w") as f:
    f.write("version = 3\n\n[[package]]\nname = \"bench\"\nversion = \"0.1.0\"\n")
    for package, version in scanned[RUST]:
        # A registry source (not its public URL: example.com stands in); a
        # package without one is a path package, which both scanners skip
        # or treat differently.
        f.write(f"\n[[package]]\nname = \"{package}\"\nversion = \"{version}\"\n"
                "source = \"registry+https://index.example.com/\"\n")

with open(os.path.join(out, "airlift.toml"), "w") as f:
    f.write("[advisories]\nsources = [\n")
    for ecosystem in shares:
        f.write(f'  {{ url = "file://{os.path.abspath(os.path.join(out, "osv-scalibr", ecosystem, "all.zip"))}" }},\n')
    f.write("]\n")
