#!/usr/bin/env bash
# Runs the public TUF client conformance suite (tuf-conformance) against
# airlift-tuf-client, the client over airlift's own trust code.
#
# A developer tool, not part of scripts/test: CI cannot fetch the suite.
# Without TUF_CONFORMANCE_DIR it only says how to get the suite and exits 0.
#
# Three runs, each with its own list of expected failures
# (tests/tuf-conformance/<run>.xfails, handed to the suite as the client's
# `.xfails` file, so an expected failure that starts passing fails too):
#
#   airlift          the suite as it is (its simulator signs with ECDSA keys)
#   airlift-ed25519  the simulator signing with Ed25519 keys, airlift's only
#                    key type (the airlift_ed25519.py pytest plugin)
#   tough-only       airlift-tuf-client without airlift's second pass, to
#                    tell what airlift adds from what tough does
#
# Environment:
#   TUF_CONFORMANCE_DIR  a checkout of the suite
#   PYTHON               a python with requirements.txt installed (default:
#                        the virtualenv the suite's `make dev` creates,
#                        $TUF_CONFORMANCE_DIR/env/bin/python)
#   AIRLIFT_TUF_CLIENT   the client binary (default: built with cargo)
#   RUNS                 which runs, space-separated (default: all three)
#
# Needs `faketime` on PATH. Prints one summary line per run and exits 1 if
# any run had an unexpected result.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ -z "${TUF_CONFORMANCE_DIR:-}" ]; then
    cat <<'EOF'
tuf-conformance: TUF_CONFORMANCE_DIR is not set; nothing was run.
To run the suite against airlift-tuf-client:
  git clone https://github.com/theupdateframework/tuf-conformance
  python3 -m venv /tmp/tufc-env
  /tmp/tufc-env/bin/pip install -r tests/tuf-conformance/requirements.txt
  apt-get install faketime
  TUF_CONFORMANCE_DIR=$PWD/tuf-conformance PYTHON=/tmp/tufc-env/bin/python \
      tests/tuf-conformance/run.sh
See docs/tuf-conformance.md for the expected failures and why.
EOF
    exit 0
fi

suite=$(cd "$TUF_CONFORMANCE_DIR" && pwd)
[ -d "$suite/tuf_conformance" ] || {
    echo "tuf-conformance: $suite is not a checkout of the suite (no tuf_conformance/)" >&2
    exit 2
}
python=${PYTHON:-$suite/env/bin/python}
"$python" -c 'import pytest, tuf' 2>/dev/null || {
    echo "tuf-conformance: $python lacks the suite's dependencies (pip install -r $here/requirements.txt)" >&2
    exit 2
}
command -v faketime >/dev/null || {
    echo "tuf-conformance: faketime is not installed (the suite runs the client under it)" >&2
    exit 2
}

if [ -z "${AIRLIFT_TUF_CLIENT:-}" ]; then
    (cd "$root" && cargo build --quiet -p airlift-tuf-client)
    target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps |
        "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    AIRLIFT_TUF_CLIENT=$target_dir/debug/airlift-tuf-client
fi
[ -x "$AIRLIFT_TUF_CLIENT" ] || {
    echo "tuf-conformance: $AIRLIFT_TUF_CLIENT is not an executable" >&2
    exit 2
}
# The links made below must not depend on the directory they are in.
AIRLIFT_TUF_CLIENT=$(realpath "$AIRLIFT_TUF_CLIENT")

work=$(mktemp -d "${TMPDIR:-/tmp}/airlift-tuf-conformance.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "tuf-conformance: suite at $suite ($(git -C "$suite" rev-parse --short HEAD 2>/dev/null || echo 'unknown commit'))"

unexpected=0
for run in ${RUNS:-airlift airlift-ed25519 tough-only}; do
    [ -f "$here/$run.xfails" ] || {
        echo "tuf-conformance: unknown run $run" >&2
        exit 2
    }
    # The suite reads expected failures from "<entrypoint>.xfails", so each
    # run gets its own link to the client next to its own list.
    mkdir -p "$work/$run"
    ln -sf "$AIRLIFT_TUF_CLIENT" "$work/$run/airlift-tuf-client"
    cp "$here/$run.xfails" "$work/$run/airlift-tuf-client.xfails"
    args=()
    tough_only=false
    case $run in
        airlift-ed25519) args=(-p airlift_ed25519) ;;
        tough-only)
            tough_only=true
            # tough refuses to run when the clock is earlier than the latest
            # time it has seen. faketime starts every invocation at the same
            # instant, so whether this test's second command sees the clock
            # go back depends on how long the first one took: the static
            # repository tests fail or pass by timing alone. (In the other
            # runs their ECDSA keys make them fail first.) They are left out
            # rather than counted either way.
            args=(--deselect "tuf_conformance/test_static_repositories.py::test_static_repository")
            ;;
    esac
    log=$work/$run.log
    status=0
    (cd "$suite" && AIRLIFT_TUF_CLIENT_TOUGH_ONLY=$tough_only \
        PYTHONPATH="$suite:$here${PYTHONPATH:+:$PYTHONPATH}" \
        "$python" -m pytest tuf_conformance "${args[@]}" -p no:cacheprovider \
        -q -rfX --tb=short --entrypoint "$work/$run/airlift-tuf-client") >"$log" 2>&1 || status=$?
    # pytest's last line: "N passed, M xfailed in Ts" (and "K failed" for
    # results the list did not expect).
    summary=$(tail -n 1 "$log" | sed -e 's/^=* *//' -e 's/ in [0-9.]*s.*$//')
    count() { printf '%s\n' "$summary" | grep -o "[0-9]* $1" | cut -d' ' -f1 || true; }
    passed=$(count passed)
    expected=$(count xfailed)
    failed=$(count failed)
    left_out=$(count deselected)
    echo "tuf-conformance $run: ${passed:-0} passed, ${expected:-0} failed as expected, ${failed:-0} unexpected${left_out:+, $left_out left out}"
    if [ "$status" -ne 0 ]; then
        unexpected=1
        grep -E '^(FAILED|XPASS|ERROR)' "$log" | sed 's/^/  /' || tail -n 20 "$log"
    fi
done
exit "$unexpected"
