#!/usr/bin/env bash
# Web UI benchmark: how long each page of /ui/ takes to answer on a site
# with UI_BENCH_ENTRIES index entries (default 100,000), measured with curl
# against one `airlift serve` on loopback: UI_BENCH_REQUESTS requests per
# page, one at a time, and the p50 and p99 of curl's total time printed per
# page. The first request after a generation becomes current builds the
# page cache (every entry read once) and is reported on its own.
#
# The index is written directly, not through collect (which would spend the
# run downloading), as bench/gc.sh does: `airlift fsck` creates an empty
# home, then Python adds one generation whose entries have the shapes each
# ecosystem's collect writes: PyPI files (four versions per project), npm
# versions, crates, Debian packages, image manifests with a tag each, plain
# files. Pages read only the index, so no blob is written. A few users are
# added so that the audit log has events to verify and show.
#
# Usage: bench/ui.sh   (env: UI_BENCH_ENTRIES=100000, UI_BENCH_REQUESTS=200,
#                       UI_BENCH_PORT=5132, AIRLIFT=target/release/airlift)
# Build first: cargo build --release -p airlift
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
ENTRIES=${UI_BENCH_ENTRIES:-100000}
REQUESTS=${UI_BENCH_REQUESTS:-200}
PORT=${UI_BENCH_PORT:-5132}
AIRLIFT=${AIRLIFT:-${CARGO_TARGET_DIR:-$ROOT/target}/release/airlift}
[ -x "$AIRLIFT" ] || { echo "no $AIRLIFT: cargo build --release -p airlift" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlift-ui-bench.XXXXXX")
server=
cleanup() {
    [ -z "$server" ] || { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
    rm -rf "$WORK"
}
trap cleanup EXIT
HOME_DIR=$WORK/home

"$AIRLIFT" --home "$HOME_DIR" fsck >/dev/null
for n in $(seq 20); do
    "$AIRLIFT" --home "$HOME_DIR" user add "bench-$n" >/dev/null
done
start=$(date +%s.%N)
python3 - "$HOME_DIR" "$ENTRIES" <<'PY'
import hashlib, json, os, sqlite3, sys, time

home, total = sys.argv[1], int(sys.argv[2])

def sha(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

# Shares of the entries per ecosystem, as a mixed site might have them.
shares = [("pypi", 0.35), ("npm", 0.25), ("cargo", 0.15), ("apt", 0.10), ("oci", 0.05), ("files", 0.10)]
rows = []
for ecosystem, share in shares:
    count = int(total * share)
    for n in range(count):
        if ecosystem == "pypi":
            project, version = f"project-{n // 4:05d}", f"1.{n % 4}.0"
            key = f"f:{project}/{project.replace('-', '_')}-{version}-py3-none-any.whl"
            meta = {"version": version, "licenses": ["MIT"]}
        elif ecosystem == "npm":
            key = f"v:package-{n // 3:05d}/2.{n % 3}.0"
            meta = {"integrity": "sha512-" + hashlib.sha512(key.encode()).hexdigest()[:86] + "=="}
        elif ecosystem == "cargo":
            key = f"c:crate-{n // 2:05d}/0.{n % 2}.1"
            meta = {"license": "MIT"}
        elif ecosystem == "apt":
            name = f"libthing{n:05d}"
            key = f"debian/pool/main/l/{name}/{name}_1.0-1_amd64.deb"
            meta = {"package": name, "version": "1.0-1", "architecture": "amd64"}
        elif ecosystem == "oci":
            repository = f"team/app-{n // 2:05d}"
            manifest = sha(repository)
            key = f"m:{repository}@{manifest}" if n % 2 == 0 else f"t:{repository}:1.0"
            meta = {}
        else:
            key = f"dist/file-{n:06d}.tar.gz"
            meta = {}
        digest = sha(key) if ecosystem != "oci" else manifest
        rows.append((ecosystem, key, digest, 1000 + n, json.dumps(meta)))
db = sqlite3.connect(os.path.join(home, "store", "index.sqlite"))
with db:
    db.execute("INSERT INTO generations (id, created_at, source, entries) VALUES (1, ?, 'bench', ?)",
               (int(time.time()), len(rows)))
    db.executemany("INSERT INTO entries (ecosystem, key, added_in, removed_in, digest, size, meta) "
                   "VALUES (?, ?, 1, NULL, ?, ?, ?)", rows)
    db.execute("INSERT INTO state (key, value) VALUES ('current_generation', '1') "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
print(f"{len(rows)} entries in generation 1")
PY
end=$(date +%s.%N)
echo "made the home in $(python3 -c "print(f'{$end - $start:.1f}')") s"

"$AIRLIFT" --home "$HOME_DIR" serve --listen "127.0.0.1:$PORT" 2>"$WORK/serve.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
BASE=http://127.0.0.1:$PORT

first=$(curl -sf -o /dev/null -w '%{time_total}' "$BASE/ui/")
echo "first request after the generation became current (builds the cache): $(python3 -c "print(f'{$first * 1000:.0f}')") ms"

PAGES=(
    "/ui/"
    "/ui/browse"
    "/ui/browse?q=project-0123"
    "/ui/browse?q=zzz-nothing"
    "/ui/browse/pypi"
    "/ui/browse/pypi?page=150"
    "/ui/browse/pypi/project-01234"
    "/ui/browse/oci/team/app-00042"
    "/ui/browse/files/dist/file-000042.tar.gz"
    "/ui/imports"
    "/ui/audit"
    "/ui/audit?event=user-add"
    "/ui/documents"
    "/ui/environments"
)
printf '%-45s %8s %8s  (%s requests each, ms)\n' page p50 p99 "$REQUESTS"
for page in "${PAGES[@]}"; do
    status=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$page")
    [ "$status" = 200 ] || { echo "bench: $page answered $status" >&2; exit 1; }
    for _ in $(seq "$REQUESTS"); do
        curl -s -o /dev/null -w '%{time_total}\n' "$BASE$page"
    done >"$WORK/times"
    python3 - "$page" "$WORK/times" <<'PY'
import sys
times = sorted(float(t) * 1000 for t in open(sys.argv[2]))
def pct(p):
    return times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]
print(f"{sys.argv[1]:<45s} {pct(50):8.2f} {pct(99):8.2f}")
PY
done
