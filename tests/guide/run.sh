#!/usr/bin/env bash
# Runs docs/first-mission.md as written, so the guide cannot go stale.
#
# The guide marks its blocks with `<!-- guide: … -->` comments:
#   file NAME          the next fenced block is written to NAME
#   connected          the next block runs on the connected side (network)
#   isolated           the next block runs on the isolated side, inside a
#                      network namespace with only loopback
#   isolated background  the same, left running (a server) for the blocks
#                      that follow it in the same isolated phase
#   isolated damage    before the block, one blob of the isolated store is
#                      damaged (what the guide's recovery section repairs)
# Consecutive isolated blocks run in one namespace. The example.com
# upstreams are replaced with the ones this machine's clients use (read at
# run time, as the live smoke tests do), /media/usb with a directory here.
#
# Usage: AIRLIFT=path/to/airlift tests/guide/run.sh   (as root)
set -euo pipefail

AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GUIDE=$ROOT/docs/first-mission.md
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-guide
CHECK_LOG=$WORK/guide.log
export WORK CHECK_LOG
# shellcheck source=../apt/lib.sh
source "$ROOT/tests/apt/lib.sh"
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL

# `airlift` on PATH, as a user has it.
mkdir -p "$WORK/bin" "$WORK/media" "$WORK/connected" "$WORK/isolated"
ln -s "$AIRLIFT" "$WORK/bin/airlift"
export PATH=$WORK/bin:$PATH

# The upstreams this machine's own clients use.
PYPI=$(python3 -m pip config get global.index-url 2>/dev/null ||
    python3 -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)')
NPM=$(npm config get registry)
mkdir -p "$WORK/probe/src" "$WORK/probe-home"
printf '[package]\nname = "probe"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nitoa = "1"\n' >"$WORK/probe/Cargo.toml"
echo 'fn main() {}' >"$WORK/probe/src/main.rs"
CARGO=$(cd "$WORK/probe" && CARGO_HOME=$WORK/probe-home CARGO_HTTP_DEBUG=true CARGO_LOG=network=debug \
    cargo generate-lockfile 2>&1 | grep -oE 'https?://[^ "]*/config\.json' | head -1 | sed 's|config\.json$||')
PYTHON_VERSION=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
check "the machine's upstreams are known (pip, npm, cargo, apt for $CODENAME)" \
    test -n "$PYPI" -a -n "$NPM" -a -n "$CARGO" -a -n "$MIRROR" -a -f "$DEBIAN_KEYRING"

# The guide's blocks, in order: kind, then the block in a file of its own.
python3 - "$GUIDE" "$WORK/blocks" <<'PY'
import pathlib, re, sys
text = pathlib.Path(sys.argv[1]).read_text()
out = pathlib.Path(sys.argv[2])
out.mkdir()
pattern = re.compile(r"<!-- guide: ([^>]*?) -->\s*\n```[a-z]*\n(.*?)\n```", re.S)
for n, match in enumerate(pattern.finditer(text), 1):
    (out / f"{n:03d}.kind").write_text(match.group(1).strip())
    (out / f"{n:03d}.body").write_text(match.group(2) + "\n")
print(n)
PY
localize() { # the guide's example upstreams become this machine's
    sed -e "s|https://pypi.example.com/simple/|$PYPI|g" \
        -e "s|sparse+https://cargo.example.com/index/|sparse+$CARGO|g" \
        -e "s|https://npm.example.com/|$NPM|g" \
        -e "s|https://deb.example.com/debian|$MIRROR|g" \
        -e "s|\"bookworm\"|\"$CODENAME\"|g" \
        -e "s|python = \\[\"3.11\"\\]|python = [\"$PYTHON_VERSION\"]|g" \
        -e "s|/usr/share/keyrings/debian-archive-keyring.gpg|$DEBIAN_KEYRING|g" \
        -e "s|/media/usb|$WORK/media|g" "$1"
}

# One isolated phase: its blocks (checks written below), in one namespace
# with only loopback.
isolated_phase() {
    # Not -e: a block that fails is a failed check, and the next blocks run.
    set +e
    export AIRLIFT_HOME=$WORK/isolated PIP_CONFIG_FILE=/dev/null
    # Fresh client caches: nothing may come from an earlier run's cache.
    export PIP_CACHE_DIR=$WORK/pip-cache npm_config_cache=$WORK/npm-cache
    cd "$WORK/isolated-work"
    # The body is written at run time, from the guide: nothing to follow here.
    # shellcheck source=/dev/null
    source "$1"
}
run_isolated() {
    local output
    output=$(in_gap isolated_phase "$WORK/phase-$1.body" 2>&1) || true
    add_result "$output"
}

mkdir -p "$WORK/connected-work" "$WORK/isolated-work"
phase=0
pending=""
flush() {
    if [ -n "$pending" ]; then
        run_isolated "$phase"
        pending=""
    fi
}
for kind_file in "$WORK"/blocks/*.kind; do
    n=$(basename "$kind_file" .kind)
    kind=$(cat "$kind_file")
    body=$WORK/blocks/$n.body
    first=$(head -1 "$body" | tr -d "'")
    case $kind in
    "file "*)
        name=${kind#file }
        localize "$body" >"$WORK/connected-work/$name"
        check "guide block $n: write $name" test -s "$WORK/connected-work/$name"
        ;;
    connected)
        flush
        localize "$body" >"$WORK/block-$n.sh"
        check "guide block $n (connected): $first" \
            env AIRLIFT_HOME="$WORK/connected" bash -euo pipefail -c "cd '$WORK/connected-work' && source '$WORK/block-$n.sh'"
        ;;
    isolated*)
        if [ -z "$pending" ]; then
            phase=$((phase + 1))
            : >"$WORK/phase-$phase.body"
            pending=yes
        fi
        localize "$body" >"$WORK/block-$n.sh"
        label="guide block $n (isolated): $first"
        case $kind in
        "isolated background")
            {
                echo "bash -euo pipefail '$WORK/block-$n.sh' >>'$WORK/background-$n.log' 2>&1 &"
                echo "check '$label' wait_for http://127.0.0.1:8080/readyz"
            } >>"$WORK/phase-$phase.body"
            ;;
        "isolated damage")
            # Not in the guide: damage one blob of the isolated store.
            {
                echo "blob=\$(find '$WORK/isolated/store/blobs' -type f -size +1k | sort | head -1)"
                echo "python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,\"rb\").read()); b[0]^=1; open(p,\"wb\").write(b)' \"\$blob\""
                echo "check 'guide: a blob of the isolated store is damaged (test step)' sh -c \"! airlift fsck\""
                echo "check '$label' bash -euo pipefail '$WORK/block-$n.sh'"
            } >>"$WORK/phase-$phase.body"
            ;;
        *)
            echo "check '$label' bash -euo pipefail '$WORK/block-$n.sh'" >>"$WORK/phase-$phase.body"
            ;;
        esac
        ;;
    *)
        check "guide block $n: unknown marker '$kind'" false
        ;;
    esac
done
flush

summary guide
