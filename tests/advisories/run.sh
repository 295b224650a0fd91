#!/usr/bin/env bash
# Advisories matched offline, checked against an independent scanner and
# against the OSV specification.
#
# 1. osv-scanner (pinned, tools.sh; offline, inside `unshare --net`, see
#    osv-scanner.sh) scans the lockfiles of fixtures/lock against a local
#    database built from fixtures/osv; its findings must equal
#    expected.tsv, which was written from the OSV spec by hand.
# 2. airlift collects the same records (`[advisories]` over the fixtures
#    directory, and again over the zip archives osv-scanner reads), then,
#    inside a network namespace with only loopback, `airlift scan
#    --inventory` scans the same lockfiles: requirements.txt, Cargo.lock,
#    package-lock.json, go.mod, pom.xml, a dpkg status (--distro debian:12)
#    and an apk database (--distro alpine:3.20). Its findings, normalized the
#    same way, must equal osv-scanner's from the same run and expected.tsv.
# 3. The cases where osv-scanner departs from the spec (fixtures/lock-spec-only:
#    `limit` events, a GIT range listed first, aliases merged transitively)
#    must give airlift the spec's answer (expected-spec-only.tsv).
# 4. `--fail-on` exits 7, SARIF is written, and a host inventory of a
#    package the site does not carry is still scanned.
#
# Usage: AIRLIFT=path/to/airlift tests/advisories/run.sh
set -euo pipefail

AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-advisories
CHECK_LOG=$WORK/advisories.log
# shellcheck source=tools.sh
source "$HERE/tools.sh"
# The fixtures with Rust's OSV ecosystem name filled in (materialize.py).
python3 "$HERE/materialize.py" "$WORK/filled"
FILLED=$WORK/filled
LOCK=$HERE/fixtures/lock
SPEC_ONLY=$HERE/fixtures/lock-spec-only
export AIRLIFT WORK LOCK SPEC_ONLY HERE FILLED

# --- the oracle -----------------------------------------------------------
OSV_FIXTURES=$FILLED/osv "$HERE/osv-scanner.sh" "$WORK/osv-scanner.tsv" "$LOCK"/* 2>>"$CHECK_LOG"
check "osv-scanner $OSV_SCANNER_VERSION agrees with the spec's expected findings" \
    diff -u "$FILLED/expected.tsv" "$WORK/osv-scanner.tsv"

# --- airlift's database: a directory source, and the archives ------------
printf '[advisories]\nsources = [{ directory = "%s" }]\n' "$FILLED/osv" >"$WORK/dir.toml"
check "collect the fixture records from a directory" \
    "$AIRLIFT" --home "$WORK/home" collect --config "$WORK/dir.toml"
python3 - "$FILLED/osv" "$WORK/archives" <<'PY'
import os, sys, zipfile
source, target = sys.argv[1], sys.argv[2]
for ecosystem in sorted(os.listdir(source)):
    os.makedirs(os.path.join(target, ecosystem), exist_ok=True)
    with zipfile.ZipFile(os.path.join(target, ecosystem, "all.zip"), "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(os.listdir(os.path.join(source, ecosystem))):
            archive.write(os.path.join(source, ecosystem, name), name)
PY
{
    echo '[advisories]'
    echo 'sources = ['
    for archive in "$WORK"/archives/*/all.zip; do
        echo "  { url = \"file://$archive\", sha256 = \"$(sha256sum "$archive" | cut -d' ' -f1)\" },"
    done
    echo ']'
} >"$WORK/zip.toml"
check "collect the same records from OSV export archives" \
    "$AIRLIFT" --home "$WORK/home-zip" collect --config "$WORK/zip.toml"

# normalize REPORT.json: airlift's findings as the lines of expected.tsv.
normalize() {
    python3 - "$1" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
lines = set()
for finding in report["findings"]:
    subject = finding["subject"]
    lines.add("\t".join([subject["ecosystem"], subject["name"], subject["version"],
                         ",".join(sorted(finding["records"]))]))
for line in sorted(lines):
    print(line)
PY
}
export -f normalize

# scan_all HOME DIR OUT: every lockfile of DIR scanned in one run, the
# findings normalized into OUT.
scan_all() {
    local home=$1 dir=$2 out=$3 file
    local args=()
    for file in "$dir"/*; do
        case $(basename "$file") in
        dpkg-status | apk-installed) ;;
        *) args+=(--inventory "$file") ;;
        esac
    done
    : >"$out.parts"
    "$AIRLIFT" --home "$home" --json scan "${args[@]}" >"$out.json"
    normalize "$out.json" >>"$out.parts"
    if [ -f "$dir/dpkg-status" ]; then
        "$AIRLIFT" --home "$home" --json scan --inventory "$dir/dpkg-status" --distro debian:12 >"$out.deb.json"
        normalize "$out.deb.json" >>"$out.parts"
    fi
    if [ -f "$dir/apk-installed" ]; then
        "$AIRLIFT" --home "$home" --json scan --inventory "$dir/apk-installed" --distro alpine:3.20 >"$out.apk.json"
        normalize "$out.apk.json" >>"$out.parts"
    fi
    LC_ALL=C sort "$out.parts" >"$out"
}
export -f scan_all

spec_only() {
    scan_all "$WORK/home" "$SPEC_ONLY" "$WORK/spec-only.tsv" &&
        diff -u "$FILLED/expected-spec-only.tsv" "$WORK/spec-only.tsv"
}

fails_on_high() {
    local status=0
    "$AIRLIFT" --home "$WORK/home" scan --inventory "$LOCK/requirements.txt" --fail-on high \
        >"$WORK/fail.out" 2>&1 || status=$?
    [ "$status" -eq 7 ] && grep -q "PYSEC-2099-4" "$WORK/fail.out"
}

writes_sarif() {
    "$AIRLIFT" --home "$WORK/home" --json scan --inventory "$LOCK/Cargo.lock" \
        --sarif "$WORK/scan.sarif" >"$WORK/sarif.json" || return 1
    python3 - "$WORK/scan.sarif" "$WORK/sarif.json" <<'PY'
import json, sys
sarif = json.load(open(sys.argv[1]))
report = json.load(open(sys.argv[2]))
assert sarif["version"] == "2.1.0", sarif["version"]
results = sarif["runs"][0]["results"]
assert len(results) == len(report["findings"]) > 0, (len(results), len(report["findings"]))
PY
}

no_distro_no_match() {
    "$AIRLIFT" --home "$WORK/home" --json scan --inventory "$LOCK/dpkg-status" \
        >"$WORK/nodistro.json" || return 1
    python3 - "$WORK/nodistro.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
assert report["findings"] == [] and sum(report["scanned"].values()) == 0, report
PY
}
export -f spec_only fails_on_high writes_sarif no_distro_no_match

isolated() {
    check_only_loopback
    check "airlift scan of the lockfiles, offline" scan_all "$WORK/home" "$LOCK" "$WORK/airlift.tsv"
    check "the same findings from the database collected as archives" \
        scan_all "$WORK/home-zip" "$LOCK" "$WORK/airlift-zip.tsv"
    check "airlift agrees with the spec's expected findings" \
        diff -u "$FILLED/expected.tsv" "$WORK/airlift.tsv"
    check "airlift agrees with osv-scanner, finding for finding" \
        diff -u "$WORK/osv-scanner.tsv" "$WORK/airlift.tsv"
    check "and whichever way the database came in" \
        diff -u "$WORK/airlift.tsv" "$WORK/airlift-zip.tsv"
    check "where osv-scanner departs from the spec, airlift gives the spec's answer" spec_only
    check "--fail-on high exits 7 after printing the findings" fails_on_high
    check "SARIF 2.1.0 with one result per finding" writes_sarif
    check "a dpkg status without --distro is not matched, and says so" no_distro_no_match
}
export -f isolated

add_result "$(in_gap isolated)"
summary advisories
