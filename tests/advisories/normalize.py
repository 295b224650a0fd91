#!/usr/bin/env python3
"""Normalize osv-scanner's JSON output into the advisory cross-check TSV.

Role: turn one or more `osv-scanner --format json` reports into the lines of
expected.tsv, so the two can be compared with diff. Boundary: it only reshapes
what osv-scanner reported (it never decides whether a version is affected);
the one interpretation it adds is writing names and versions the way OSV
records spell them, so a finding from any tool lands on the same line.

Line form: <osv-ecosystem> TAB <name> TAB <version> TAB <ids>
  - osv-ecosystem: the package's OSV ecosystem with its release suffix
    (Debian:12, Alpine:v3.20), as osv-scanner reports it.
  - name: the name OSV records use: PEP 503 normalized for PyPI, the source
    package for Debian and Alpine (osv-scanner already reports that).
  - version: as installed, without Go's leading "v" (OSV Go records omit it).
  - ids: the record ids osv-scanner grouped into one finding, sorted,
    comma-joined (alias ids that are not records, like a CVE, are not listed).

Usage: normalize.py REPORT.json... > OUT.tsv
"""

import json
import re
import sys

# Reports are produced by our own run on small fixtures; bound what we read anyway.
MAX_REPORT_BYTES = 64 * 1024 * 1024
MAX_PACKAGES = 100_000


def osv_name(ecosystem: str, name: str) -> str:
    """Return the package name as OSV records spell it in this ecosystem."""
    if ecosystem == "PyPI":
        # PEP 503: runs of -, _ and . become one -, lowercase.
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


def osv_version(ecosystem: str, version: str) -> str:
    """Return the version as OSV records spell it in this ecosystem."""
    if ecosystem == "Go" and version.startswith("v"):
        return version[1:]
    return version


def lines_from_report(path: str) -> set:
    with open(path, "rb") as handle:
        raw = handle.read(MAX_REPORT_BYTES + 1)
    if len(raw) > MAX_REPORT_BYTES:
        raise SystemExit(f"{path}: report larger than {MAX_REPORT_BYTES} bytes")
    try:
        report = json.loads(raw)
    except json.JSONDecodeError as error:
        raise SystemExit(f"{path}: not JSON: {error}") from error

    lines = set()
    count = 0
    for result in report.get("results") or []:
        for entry in result.get("packages") or []:
            count += 1
            if count > MAX_PACKAGES:
                raise SystemExit(f"{path}: more than {MAX_PACKAGES} packages")
            package = entry.get("package") or {}
            ecosystem = package.get("ecosystem", "")
            name = osv_name(ecosystem, package.get("name", ""))
            version = osv_version(ecosystem, package.get("version", ""))
            # Withdrawn or otherwise unlisted records never form a group; only
            # ids of records osv-scanner returned for this package count.
            returned = {vuln.get("id") for vuln in entry.get("vulnerabilities") or []}
            for group in entry.get("groups") or []:
                ids = sorted(i for i in group.get("ids") or [] if i in returned)
                if not ids:
                    continue
                for field in (ecosystem, name, version, *ids):
                    if "\t" in field or "\n" in field or "," in field:
                        raise SystemExit(f"{path}: unexpected separator in {field!r}")
                lines.add("\t".join((ecosystem, name, version, ",".join(ids))))
    return lines


def main(argv: list) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    lines = set()
    for path in argv[1:]:
        lines |= lines_from_report(path)
    for line in sorted(lines):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
