#!/usr/bin/env bash
# Differential tests: airlift's own PEP 440, node-semver, dpkg version,
# canonical JSON and OpenPGP code against the reference implementations
# (packaging, the semver npm package, dpkg, securesystemslib, gpgv) on
# thousands of generated inputs each (tests/diff/diff.py, tests/diff/pgp.py).
# Every disagreement is printed with its input; deliberate ones are listed
# as expected differences with their reason (ADR 0017 for OpenPGP).
#
# Needs python3, node and npm, dpkg, gpg and gpgv; installs its pinned peers
# once: packaging from tests/pypi/tools.txt (tests/pypi/venv.sh),
# securesystemslib from tests/interop/requirements.txt ($PYTHON, else
# target/test-venv), and semver from tests/diff/package-lock.json into
# target/difftest-node. No root needed.
# Ends with "diff: N passed, M failed", one check per comparison.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=../lib.sh
. tests/lib.sh
started=$SECONDS

# The reference implementations, pinned.
PKG_PYTHON=$(tests/pypi/venv.sh)/bin/python
if [ -z "${PYTHON:-}" ]; then
    PYTHON=$ROOT/target/test-venv/bin/python
    if ! "$PYTHON" -c 'import securesystemslib' 2>/dev/null; then
        python3 -m venv "$ROOT/target/test-venv"
        "$PYTHON" -m pip install -q --disable-pip-version-check -r tests/interop/requirements.txt
    fi
fi
NODE_DIR=$ROOT/target/difftest-node
STAMP=$NODE_DIR/.lock-$(sha256sum tests/diff/package-lock.json | cut -c1-16)
if [ ! -f "$STAMP" ]; then
    rm -rf "$NODE_DIR"
    mkdir -p "$NODE_DIR"
    cp tests/diff/package.json tests/diff/package-lock.json "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --silent >&2)
    touch "$STAMP"
fi

# airlift's side: test-only examples, not commands of the product binary.
cargo build -q --locked -p airlift-pypi --example pep440_oracle -p airlift-npm --example semver_oracle \
    -p airlift-apt --example dpkg_oracle -p airlift-trust --example cjson_oracle \
    -p airlift-pgp --example pgp_oracle
EXAMPLES=$(cargo metadata -q --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples

out=$(
    "$PKG_PYTHON" tests/diff/diff.py pep440 "$EXAMPLES/pep440_oracle" || true
    python3 tests/diff/diff.py npm "$EXAMPLES/semver_oracle" "$NODE_DIR" || true
    python3 tests/diff/diff.py dpkg "$EXAMPLES/dpkg_oracle" || true
    "$PYTHON" tests/diff/diff.py cjson "$EXAMPLES/cjson_oracle" || true
    python3 tests/diff/pgp.py "$EXAMPLES/pgp_oracle" || true
)
# Each comparison ends with its own RESULT line; add them up for finish.
total_passed=0
total_failed=0
while read -r _ p f; do
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
done < <(printf '%s\n' "$out" | grep '^RESULT ')
runs=$(printf '%s\n' "$out" | grep -c '^RESULT ' || true)
if [ "$runs" -ne 5 ]; then
    echo "FAILED: only $runs of 5 comparisons finished"
    total_failed=$((total_failed + 5 - runs))
fi
finish diff "$(
    printf '%s\n' "$out" | grep -v '^RESULT '
    echo "  diff: $((SECONDS - started))s in all"
    echo "RESULT $total_passed $total_failed"
)"
