#!/usr/bin/env bash
# What serving through an environment costs (ADR 0027): the same answers
# from the default environment (`/files/…`, `/pypi/simple/…`) and from a
# named one pinned to the same generation (`/env/production/…`), over one
# keep-alive connection per series, interleaved in rounds so that load on
# the machine hits both alike. Prints the median and 99th percentile
# latency of each and their ratio, and the throughput of a 64 MiB file
# both ways.
#
# Usage: bench/environments.sh   (env: AIRLIFT=target/release/airlift,
#   REQUESTS=2000 per series and round, ROUNDS=3)
# Build first: cargo build --release -p airlift. Port 5151 must be free.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
AIRLIFT=${AIRLIFT:-${CARGO_TARGET_DIR:-$ROOT/target}/release/airlift}
[ -x "$AIRLIFT" ] || { echo "no $AIRLIFT: cargo build --release -p airlift" >&2; exit 1; }
REQUESTS=${REQUESTS:-2000}
ROUNDS=${ROUNDS:-3}
W=$(mktemp -d "${TMPDIR:-/tmp}/airlift-env-bench.XXXXXX")
PID=
cleanup() {
    [ -z "$PID" ] || kill "$PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

head -c 4096 /dev/urandom >"$W/small.bin"
head -c $((64 << 20)) /dev/urandom >"$W/big.bin"
{
    for name in small big; do
        printf '[[files]]\nurl = "file://%s"\nsha256 = "%s"\npath = "%s.bin"\n\n' \
            "$W/$name.bin" "$(sha256sum "$W/$name.bin" | cut -d' ' -f1)" "$name"
    done
} >"$W/airlift.toml"
H=$W/home
"$AIRLIFT" --home "$H" collect --config "$W/airlift.toml" >/dev/null
"$AIRLIFT" --home "$H" env create production >/dev/null
"$AIRLIFT" --home "$H" serve --listen 127.0.0.1:5151 2>"$W/serve.log" &
PID=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:5151/healthz >/dev/null && break; sleep 0.1; done

echo "airlift $("$AIRLIFT" --version | cut -d' ' -f2), $REQUESTS requests per series and round, $ROUNDS rounds"
python3 - "$REQUESTS" "$ROUNDS" <<'PY'
import http.client, statistics, sys, time
requests, rounds = int(sys.argv[1]), int(sys.argv[2])
series = {
    "default /files/small.bin": "/files/small.bin",
    "production /env/production/files/small.bin": "/env/production/files/small.bin",
}
timings = {name: [] for name in series}
for _ in range(rounds):
    for name, path in series.items():
        connection = http.client.HTTPConnection("127.0.0.1", 5151)
        for _ in range(requests):
            started = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            timings[name].append(time.perf_counter() - started)
            assert response.status == 200 and len(body) == 4096, (path, response.status)
        connection.close()
def stats(values):
    values = sorted(values)
    return statistics.median(values) * 1e6, values[int(len(values) * 0.99)] * 1e6
rows = {name: stats(values) for name, values in timings.items()}
for name, (p50, p99) in rows.items():
    print(f"{name:48} p50 {p50:8.1f} us   p99 {p99:8.1f} us")
(base50, base99), (env50, env99) = rows.values()
print(f"{'environment / default':48} p50 {env50 / base50:8.2f} x    p99 {env99 / base99:8.2f} x")
PY
for path in /files/big.bin /env/production/files/big.bin; do
    best=0
    for _ in 1 2 3; do
        speed=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:5151$path")
        best=$(python3 -c "print(max($best, $speed))")
    done
    python3 -c "print(f'{\"$path\":48} {$best / 1048576:8.0f} MiB/s (best of 3)')"
done
