#!/usr/bin/env bash
# Garbage collection benchmark: a home with GC_BENCH_BLOBS small blobs, most
# of them unreferenced, and ten generations; `airlift gc --dry-run` and then
# `airlift gc` are timed, and the rate (blobs looked at per second) printed.
#
# The store is made directly, not through collect (which would spend the
# run downloading): `airlift fsck` creates an empty home, then Python writes
# the blob files under store/blobs/sha256/<2 hex>/<64 hex> with a time two
# hours back (past the default grace period) and adds ten generations to
# the index as `entries` row versions (ADR 0006): generation 1 holds
# GC_BENCH_KEYS keys, and each later one replaces a tenth of them. Every
# other blob is referenced by nothing, as after many abandoned pushes.
#
# Usage: bench/gc.sh   (env: GC_BENCH_BLOBS=100000, GC_BENCH_KEYS=10000,
#                       GC_BENCH_DIR=$TMPDIR, AIRLIFT=target/release/airlift)
# Build first: cargo build --release -p airlift
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BLOBS=${GC_BENCH_BLOBS:-100000}
KEYS=${GC_BENCH_KEYS:-10000}
AIRLIFT=${AIRLIFT:-${CARGO_TARGET_DIR:-$ROOT/target}/release/airlift}
[ -x "$AIRLIFT" ] || { echo "no $AIRLIFT: cargo build --release -p airlift" >&2; exit 1; }
WORK=$(mktemp -d "${GC_BENCH_DIR:-${TMPDIR:-/tmp}}/airlift-gc-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
HOME_DIR=$WORK/home

"$AIRLIFT" --home "$HOME_DIR" fsck >/dev/null
start=$(date +%s.%N)
python3 - "$HOME_DIR" "$BLOBS" "$KEYS" <<'PY'
import hashlib, os, sqlite3, sys, time

home, total, keys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
old = time.time() - 2 * 3600
blobs = os.path.join(home, "store", "blobs", "sha256")
made = 0

def blob(n):
    """Stores blob number n (about 200 bytes) and returns (digest, size)."""
    global made
    data = (f"blob {n} ".encode() * 40)[: 150 + n % 100]
    hexd = hashlib.sha256(data).hexdigest()
    shard = os.path.join(blobs, hexd[:2])
    os.makedirs(shard, exist_ok=True)
    path = os.path.join(shard, hexd)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (old, old))
    made += 1
    return "sha256:" + hexd, len(data)

db = sqlite3.connect(os.path.join(home, "store", "index.sqlite"))
generations = 10
step = max(1, keys // generations)
live = {}
with db:
    for g in range(1, generations + 1):
        db.execute("INSERT INTO generations (id, created_at, source, entries) VALUES (?, ?, 'collect', ?)",
                   (g, int(old) + g, keys))
        changed = range(keys) if g == 1 else range((g - 2) * step % keys, (g - 2) * step % keys + step)
        for k in changed:
            key = f"bench/{k:06d}"
            if key in live:
                db.execute("UPDATE entries SET removed_in = ? WHERE ecosystem = 'files' AND key = ? AND removed_in IS NULL",
                           (g, key))
            digest, size = blob(made)
            db.execute("INSERT INTO entries (ecosystem, key, added_in, removed_in, digest, size, meta) VALUES ('files', ?, ?, NULL, ?, ?, '{}')",
                       (key, g, digest, size))
            live[key] = digest
    db.execute("INSERT INTO state (key, value) VALUES ('current_generation', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               (str(generations),))
referenced = made
while made < total:
    blob(made)
print(f"{made} blobs, {referenced} of them in 10 generations, {keys} keys live")
PY
end=$(date +%s.%N)
echo "made the home in $(python3 -c "print(f'{$end - $start:.1f}')") s ($(du -sh "$HOME_DIR/store" | cut -f1))"

report() {
    python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("  %s: %d blobs (%d bytes) and %d generations (%d rows), %d blobs kept, in %.2f s: %.0f blobs/s"
      % (sys.argv[2], r["blobs_removed"], r["bytes_reclaimed"], r["generations_pruned"],
         r["rows_pruned"], r["blobs_kept"], r["seconds"], r["blobs_per_second"]))
PY
}

sync
wall=$(seconds "$AIRLIFT" --home "$HOME_DIR" --json gc --dry-run)
cp "$WORK/last.log" "$WORK/dry.json"
report "$WORK/dry.json" "gc --dry-run (wall ${wall} s)"
wall=$(seconds "$AIRLIFT" --home "$HOME_DIR" --json gc)
cp "$WORK/last.log" "$WORK/gc.json"
report "$WORK/gc.json" "gc           (wall ${wall} s)"
wall=$(seconds "$AIRLIFT" --home "$HOME_DIR" --json gc)
cp "$WORK/last.log" "$WORK/again.json"
report "$WORK/again.json" "gc again     (wall ${wall} s)"
"$AIRLIFT" --home "$HOME_DIR" fsck
