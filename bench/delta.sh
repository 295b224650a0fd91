#!/usr/bin/env bash
# Delta bundle benchmark: N artifacts of M MiB each are collected, packed in
# full and imported; one artifact changes; the delta (packed against the
# destination's ledger) is compared with a full bundle of the new set, by
# size and by import time. Everything local (file:// sources).
#
# Usage: bench/delta.sh   (env: DELTA_BENCH_FILES=32, DELTA_BENCH_MIB=8)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
AIRLIFT=${AIRLIFT:-$ROOT/target/release/airlift}
FILES=${DELTA_BENCH_FILES:-32}
MIB=${DELTA_BENCH_MIB:-8}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlift-delta-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src"
: >"$WORK/airlift.toml"
for i in $(seq 1 "$FILES"); do
    head -c $((MIB << 20)) /dev/urandom >"$WORK/src/f$i.bin"
    printf '[[files]]\nurl = "file://%s/src/f%s.bin"\n' "$WORK" "$i" >>"$WORK/airlift.toml"
done
# shellcheck source=lib.sh
source "$HERE/lib.sh"
H=$WORK/connected
"$AIRLIFT" --home "$H" collect --config "$WORK/airlift.toml" >/dev/null
"$AIRLIFT" --home "$H" keys init >/dev/null
"$AIRLIFT" --home "$H" pack --destination site --bundle-version 1 --out "$WORK/full-1.tar" >/dev/null
G=$WORK/isolated
"$AIRLIFT" --home "$G" init --trust "$H/keys/roots/1.root.json" >/dev/null
"$AIRLIFT" --home "$G" import "$WORK/full-1.tar" >/dev/null
# One artifact changes.
head -c $((MIB << 20)) /dev/urandom >"$WORK/src/f1.bin"
"$AIRLIFT" --home "$H" collect --config "$WORK/airlift.toml" >/dev/null
"$AIRLIFT" --home "$H" pack --destination site --bundle-version 2 --out "$WORK/delta-2.tar" >/dev/null
"$AIRLIFT" --home "$H" pack --full --bundle-version 2 --out "$WORK/full-2.tar" >/dev/null
# Import each into its own copy of the isolated home.
cp -a "$G" "$WORK/isolated-delta"
cp -a "$G" "$WORK/isolated-full"
t_delta=$(seconds "$AIRLIFT" --home "$WORK/isolated-delta" import "$WORK/delta-2.tar")
t_full=$(seconds "$AIRLIFT" --home "$WORK/isolated-full" import "$WORK/full-2.tar")
python3 - "$(stat -c %s "$WORK/delta-2.tar")" "$(stat -c %s "$WORK/full-2.tar")" "$((MIB << 20))" "$t_delta" "$t_full" "$FILES" "$MIB" <<'PY'
import sys
delta, full, changed = map(int, sys.argv[1:4])
t_delta, t_full = map(float, sys.argv[4:6])
files, mib = sys.argv[6:]
print(f"## Delta bundle benchmark ({files} artifacts of {mib} MiB; one changed)\n")
print("| figure | delta | full | note |")
print("|---|---:|---:|---|")
print(f"| bundle bytes | {delta} | {full} | delta is {delta / changed * 100 - 100:+.2f} % over the changed bytes ({changed}) |")
print(f"| import seconds | {t_delta:.2f} | {t_full:.2f} | {t_full / t_delta:.1f}× faster |")
PY
