#!/usr/bin/env bash
# npm benchmark, side by side in one run:
#   1. `airlift collect` of a real lockfile vs `npm ci --ignore-scripts`
#      into a fresh cache and node_modules, from npm's configured registry
#      (`npm config get registry`, read at run time), alternating, median of N;
#   2. packument requests per second on loopback, measured with wrk:
#      `airlift serve` vs verdaccio (pinned, installed under target/npm-tools),
#      verdaccio proxying airlift with a long cache so both serve the same
#      packuments from their own storage.
#
# Usage: bench/npm.sh   (env: NPM_BENCH_RUNS=3, NPM_BENCH_SECONDS=10)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
AIRLIFT=${AIRLIFT:-$ROOT/target/release/airlift}
RUNS=${NPM_BENCH_RUNS:-3}
SECONDS_EACH=${NPM_BENCH_SECONDS:-10}
VERDACCIO_VERSION=5.33.0  # the 6.10 line needs Node.js 22; the machine has 20
TOOLS=$ROOT/target/npm-tools
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlift-npm-bench.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
REGISTRY=$(npm config get registry)
: >"$WORK/empty.npmrc"
export npm_config_globalconfig=$WORK/empty.npmrc npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
printf 'registry=%s\nomit-lockfile-registry-resolved=false\n' "$REGISTRY" >"$WORK/user.npmrc"
if [ ! -f "$TOOLS/node_modules/verdaccio/package.json" ] || ! grep -q "\"version\": \"$VERDACCIO_VERSION\"" "$TOOLS/node_modules/verdaccio/package.json"; then
    rm -rf "$TOOLS"
    mkdir -p "$TOOLS"
    # verdaccio's dependencies ask for node-fetch by its `cjs` dist-tag, which
    # not every registry mirror carries: pin what that tag names.
    (cd "$TOOLS" &&
        echo "{\"private\": true, \"dependencies\": {\"verdaccio\": \"$VERDACCIO_VERSION\"}, \"overrides\": {\"node-fetch@cjs\": \"2.7.0\"}}" >package.json &&
        npm install -s --userconfig "$WORK/user.npmrc" --no-audit)
fi

# A typical web project's lockfile.
mkdir -p "$WORK/app"
cat >"$WORK/app/package.json" <<'JSON'
{"name": "bench-app", "version": "1.0.0", "private": true,
 "dependencies": {"express": "^4", "lodash": "^4", "axios": "^1", "react": "^18", "react-dom": "^18",
                  "commander": "^12", "chalk": "^4", "debug": "^4", "uuid": "^9", "yargs": "^17"}}
JSON
(cd "$WORK/app" && npm install -s --package-lock-only --userconfig "$WORK/user.npmrc" --cache "$WORK/lock-cache")
locked=$(python3 -c "import json; print(sum(1 for k in json.load(open('$WORK/app/package-lock.json'))['packages'] if 'node_modules/' in k))")
printf '[npm]\nregistry = "%s"\nlockfiles = ["app/package-lock.json"]\n' "$REGISTRY" >"$WORK/airlift.toml"

# shellcheck source=lib.sh
source "$HERE/lib.sh"
npm_ci() {
    rm -rf "$WORK/app/node_modules" "$WORK/ci-cache"
    (cd "$WORK/app" && npm ci -s --ignore-scripts --userconfig "$WORK/user.npmrc" --cache "$WORK/ci-cache")
}
a=() n=()
for run in $(seq 1 "$RUNS"); do
    echo "bench: collect run $run of $RUNS" >&2
    rm -rf "${WORK:?}/home"
    a+=("$(seconds "$AIRLIFT" --home "$WORK/home" collect --config "$WORK/airlift.toml")")
    n+=("$(seconds npm_ci)")
done
summary=$("$AIRLIFT" --home "$WORK/home" --json collect --config "$WORK/airlift.toml" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["npm_versions"], d["npm_bytes"])')

# Serving the same packuments.
"$AIRLIFT" --home "$WORK/home" serve --listen 127.0.0.1:5071 2>"$WORK/airlift.log" &
PIDS+=($!)
cat >"$WORK/verdaccio.yaml" <<YAML
storage: $WORK/verdaccio-storage
uplinks:
  airlift:
    url: http://127.0.0.1:5071/npm/
    maxage: 1h
    cache: true
packages:
  '**':
    access: \$all
    proxy: airlift
server:
  keepAliveTimeout: 60
log: { type: stdout, format: pretty, level: error }
listen: 127.0.0.1:5072
YAML
"$TOOLS/node_modules/.bin/verdaccio" --config "$WORK/verdaccio.yaml" >"$WORK/verdaccio.log" 2>&1 &
PIDS+=($!)
for url in http://127.0.0.1:5071/npm/express http://127.0.0.1:5072/express; do
    for _ in $(seq 150); do curl -sf "$url" >/dev/null && break; sleep 0.2; done
done
rps() {
    wrk -t1 -c16 -d1s "$1" >/dev/null 2>&1
    wrk -t1 -c16 -d"${SECONDS_EACH}s" -H 'Accept: application/json' "$1" | awk '/Requests\/sec/ {print $2}'
}
echo "bench: wrk against each server (${SECONDS_EACH}s each)" >&2
rps_airlift=$(rps http://127.0.0.1:5071/npm/express)
rps_verdaccio=$(rps http://127.0.0.1:5072/express)

python3 - "${a[*]}" "${n[*]}" "$summary" "$locked" "$rps_airlift" "$rps_verdaccio" "$RUNS" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
n = [float(x) for x in sys.argv[2].split()]
versions, size = sys.argv[3].split()
locked, rps_a, rps_v, runs = sys.argv[4:]
ma, mn = statistics.median(a), statistics.median(n)
print(f"## npm benchmark (a lockfile of {locked} packages; median of {runs}; 2 cores)\n")
print("| figure | airlift | peer | ratio (airlift / peer) |")
print("|---|---:|---:|---:|")
print(f"| fetch every locked tarball, empty cache (s; {versions} versions, {int(size)/1048576:.1f} MiB) | {ma:.2f} | {mn:.2f} (npm ci --ignore-scripts) | {mn/ma:.2f}× faster |")
print(f"| packument requests/s (express, wrk -c16) | {float(rps_a):.0f} | {float(rps_v):.0f} (verdaccio) | {float(rps_a)/float(rps_v):.1f}× |")
print(f"\nruns: airlift {a}, npm ci {n}")
PY
