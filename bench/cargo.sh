#!/usr/bin/env bash
# Rust crate benchmark, side by side in one run: `airlift collect` of a real
# lockfile (this repository's own Cargo.lock) vs `cargo fetch --locked` into
# a fresh CARGO_HOME and vs `cargo vendor --locked` into a fresh CARGO_HOME
# and directory, all from cargo's default registry (its sparse index URL read
# at run time from cargo's network log), alternating, median of N runs.
#
# Usage: bench/cargo.sh   (env: CARGO_BENCH_RUNS=3)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
AIRLIFT=${AIRLIFT:-$ROOT/target/release/airlift}
RUNS=${CARGO_BENCH_RUNS:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlift-cargo-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
unset CARGO_TARGET_DIR

# The default registry's sparse index, as cargo itself reports it.
mkdir -p "$WORK/probe/src"
printf '[package]\nname = "probe"\nversion = "0.1.0"\nedition = "2021"\n[dependencies]\nitoa = "1"\n' >"$WORK/probe/Cargo.toml"
echo 'fn main() {}' >"$WORK/probe/src/main.rs"
INDEX=$(cd "$WORK/probe" && CARGO_HOME=$WORK/probe-home CARGO_HTTP_DEBUG=true CARGO_LOG=network=debug \
    cargo generate-lockfile 2>&1 | grep -oE 'https?://[^ "]*/config\.json' | head -1 | sed 's|config\.json$||')
[ -n "$INDEX" ] || { echo "cannot read cargo's default index URL" >&2; exit 1; }

# A copy of the workspace (manifests, lockfile and sources; no target/).
mkdir -p "$WORK/ws"
cp "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" "$WORK/ws/"
cp -r "$ROOT/crates" "$WORK/ws/"
crates=$(grep -c '^checksum = ' "$ROOT/Cargo.lock")
printf '[cargo]\nindex = "sparse+%s"\nlockfiles = ["ws/Cargo.lock"]\n' "$INDEX" >"$WORK/airlift.toml"

# shellcheck source=lib.sh
source "$HERE/lib.sh"
a=() f=() v=()
for run in $(seq 1 "$RUNS"); do
    echo "bench: run $run of $RUNS" >&2
    rm -rf "${WORK:?}/home" "$WORK/cargo-home" "$WORK/vendor-home" "$WORK/vendor"
    a+=("$(seconds "$AIRLIFT" --home "$WORK/home" collect --config "$WORK/airlift.toml")")
    f+=("$(seconds env CARGO_HOME="$WORK/cargo-home" cargo fetch --locked --manifest-path "$WORK/ws/Cargo.toml")")
    v+=("$(seconds env CARGO_HOME="$WORK/vendor-home" cargo vendor --locked --manifest-path "$WORK/ws/Cargo.toml" "$WORK/vendor")")
done
bytes=$("$AIRLIFT" --home "$WORK/home" --json collect --config "$WORK/airlift.toml" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["crates"], d["crate_bytes"])')
python3 - "${a[*]}" "${f[*]}" "${v[*]}" "$bytes" "$crates" "$RUNS" <<'PY'
import statistics, sys
a, f, v = ([float(x) for x in s.split()] for s in sys.argv[1:4])
carried, size = sys.argv[4].split()
locked, runs = sys.argv[5:]
ma, mf, mv = statistics.median(a), statistics.median(f), statistics.median(v)
print(f"## Rust crate benchmark (this repository's Cargo.lock: {locked} registry packages; median of {runs}; 2 cores)\n")
print("| figure | airlift | peer | ratio (peer / airlift) |")
print("|---|---:|---:|---:|")
print(f"| fetch every locked crate, empty cache (s; {carried} crates, {int(size)/1048576:.1f} MiB) | {ma:.2f} | {mf:.2f} (cargo fetch --locked) | {mf/ma:.2f}× faster |")
print(f"| the same | {ma:.2f} | {mv:.2f} (cargo vendor --locked) | {mv/ma:.2f}× faster |")
print(f"\nruns: airlift {a}, cargo fetch {f}, cargo vendor {v}")
PY
