#!/usr/bin/env bash
# Cross-check: osv-scanner (pinned, offline, see osv-scanner.sh) scanning the
# lockfiles in fixtures/lock must report exactly the findings in expected.tsv,
# which was written from the OSV spec, not from any tool's output.
# Usage: check.sh   (exit 0 when equal, 1 with a diff otherwise)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
got=$(mktemp)
filled=$(mktemp -d)
trap 'rm -rf "$got" "$filled"' EXIT
python3 "$here/materialize.py" "$filled"

OSV_FIXTURES=$filled/osv "$here/osv-scanner.sh" "$got" "$here"/fixtures/lock/*
if diff -u "$filled/expected.tsv" "$got"; then
	echo "osv-scanner agrees with expected.tsv ($(wc -l <"$got") findings)"
else
	echo "osv-scanner disagrees with expected.tsv (- expected, + osv-scanner)" >&2
	exit 1
fi
