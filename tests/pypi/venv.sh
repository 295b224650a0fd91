#!/usr/bin/env bash
# Creates (once) the private virtualenv with the pinned Python peers of
# tests/pypi/tools.txt and prints its path. The machine's pip configuration
# (find-links, extra indexes) is ignored; the default index is pip's own.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=$ROOT/target/pypi-tools
STAMP=$VENV/.tools-$(sha256sum "$ROOT/tests/pypi/tools.txt" | cut -c1-16)
if [ ! -f "$STAMP" ]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes \
        -r "$ROOT/tests/pypi/tools.txt" >&2
    touch "$STAMP"
fi
echo "$VENV"
