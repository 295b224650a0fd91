#!/usr/bin/env bash
# Scanning benchmark: `airlift scan` next to osv-scanner's offline mode, on
# the same synthetic OSV database (SCAN_BENCH_RECORDS records across PyPI,
# npm and Rust crates) and the same lockfiles (SCAN_BENCH_PACKAGES packages in
# a requirements.txt, a package-lock.json and a Cargo.lock), in the same
# run (bench/gen_osv.py makes them).
#
# airlift: the archives are collected into a home first (timed on its
# own line: it is the connected side's work, once per database), then
# `airlift scan --inventory` on the three lockfiles is timed. osv-scanner:
# `scan source --offline --offline-vulnerabilities --local-db-path` (no
# resolution, no call analysis, all findings: a pure matcher) on the same
# lockfiles, reading the same archives. Wall time and peak RSS of each
# (bench/measure.py), the ratio, and whether both found the same number of
# (package, version, advisory) findings.
#
# Usage: bench/scan.sh   (env: SCAN_BENCH_RECORDS=200000,
#   SCAN_BENCH_PACKAGES=10000, AIRLIFT=target/release/airlift,
#   OSV_SCANNER=path; default: the pinned build tests/advisories uses)
# Build first: cargo build --release -p airlift
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
RECORDS=${SCAN_BENCH_RECORDS:-200000}
PACKAGES=${SCAN_BENCH_PACKAGES:-10000}
AIRLIFT=${AIRLIFT:-${CARGO_TARGET_DIR:-$ROOT/target}/release/airlift}
[ -x "$AIRLIFT" ] || { echo "no $AIRLIFT: cargo build --release -p airlift" >&2; exit 1; }
if [ -z "${OSV_SCANNER:-}" ]; then
    # shellcheck source=tests/advisories/tools.sh
    source "$ROOT/tests/advisories/tools.sh"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlift-scan-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

echo "generating $RECORDS records and $PACKAGES packages"
python3 "$HERE/gen_osv.py" "$WORK/data" "$RECORDS" "$PACKAGES"
LOCK=$WORK/data/lock

collect=$(seconds "$AIRLIFT" --home "$WORK/home" collect --config "$WORK/data/airlift.toml")
echo "airlift collect of the database: ${collect} s (once per database, connected side)"

measure() { python3 "$HERE/measure.py" --stdout "$WORK/$1.out" -- "${@:2}"; }
ours=$(measure airlift "$AIRLIFT" --home "$WORK/home" --json scan \
    --inventory "$LOCK/requirements.txt" --inventory "$LOCK/package-lock.json" \
    --inventory "$LOCK/Cargo.lock")
theirs=$(measure osv "$OSV_SCANNER" scan source --offline --offline-vulnerabilities \
    --local-db-path "$WORK/data" --no-call-analysis=all --all-vulns --format json \
    -L "$LOCK/requirements.txt" -L "$LOCK/package-lock.json" -L "$LOCK/Cargo.lock")
# osv-scanner exits 1 when it finds something: that is its success here.
read -r our_s our_kib _ _ our_rc _ <<<"$ours"
read -r their_s their_kib _ _ their_rc _ <<<"$theirs"
[ "$our_rc" = 0 ] || { echo "airlift scan exited $our_rc" >&2; cat "$WORK/airlift.out" >&2; exit 1; }
[ "$their_rc" = 0 ] || [ "$their_rc" = 1 ] || { echo "osv-scanner exited $their_rc" >&2; exit 1; }
counts=$(python3 - "$WORK/airlift.out" "$WORK/osv.out" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))
theirs = json.load(open(sys.argv[2]))
a = {(f["subject"]["name"], f["subject"]["version"], r) for f in ours["findings"] for r in f["records"]}
b = set()
for result in theirs.get("results", []):
    for package in result.get("packages", []):
        info = package["package"]
        for vuln in package.get("vulnerabilities", []):
            b.add((info["name"], info["version"], vuln["id"]))
for name, only in (("airlift", a - b), ("osv-scanner", b - a)):
    for example in sorted(only)[:3]:
        print(f"only {name}: {example}", file=sys.stderr)
print(len(a), len(b), "same" if a == b else f"DIFFERENT ({len(a - b)} only airlift, {len(b - a)} only osv-scanner)")
PY
)
read -r our_n their_n verdict <<<"$counts"
printf '%-28s %10s %12s %10s\n' "" "seconds" "peak RSS MiB" "findings"
printf '%-28s %10s %12s %10s\n' "airlift scan" "$our_s" "$((our_kib / 1024))" "$our_n"
printf '%-28s %10s %12s %10s\n' "osv-scanner (offline)" "$their_s" "$((their_kib / 1024))" "$their_n"
python3 -c "print(f'osv-scanner / airlift time: {$their_s / $our_s:.2f}x; findings: $verdict')"
