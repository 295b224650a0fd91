#!/usr/bin/env bash
# What access control costs the registry: 4 KiB blob GETs per second from
# one `airlift serve`, anonymously, with an API token (`Authorization:
# Bearer airlift_…`, a SHA-256 and a map lookup per request) and with a
# registry token from `/v2/token` (an HMAC and a small JSON parse per
# request), measured with wrk (-c16) in interleaved rounds so that load on
# the machine hits every variant alike. Prints each round and the median
# ratio to anonymous.
#
# Usage: AIRLIFT=target/release/airlift bench/auth.sh
# ROUNDS (default 5) and SECONDS_EACH (default 5) set the work; port 5131
# on loopback must be free.
set -euo pipefail
AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
ROUNDS=${ROUNDS:-5}
SECONDS_EACH=${SECONDS_EACH:-5}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
H=$WORK/home
"$AIRLIFT" --home "$H" user add bench >/dev/null
TOKEN=$("$AIRLIFT" --home "$H" token create bench --user bench)
"$AIRLIFT" --home "$H" serve --listen 127.0.0.1:5131 2>"$WORK/serve.log" &
PIDS+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:5131/healthz >/dev/null && break; sleep 0.1; done
head -c 4096 /dev/urandom >"$WORK/blob.bin"
DIGEST=sha256:$(sha256sum "$WORK/blob.bin" | cut -c1-64)
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -X POST --data-binary @"$WORK/blob.bin" \
    -H 'Content-Type: application/octet-stream' "http://127.0.0.1:5131/v2/bench/blob/blobs/uploads/?digest=$DIGEST"
REGISTRY=$(curl -sf -u "bench:$TOKEN" "http://127.0.0.1:5131/v2/token?service=airlift&scope=repository:bench/blob:pull" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
URL=http://127.0.0.1:5131/v2/bench/blob/blobs/$DIGEST
for auth in "" "Bearer $TOKEN" "Bearer $REGISTRY"; do
    [ "$(curl -sf ${auth:+-H "Authorization: $auth"} "$URL" | sha256sum | cut -c1-64)" = "${DIGEST#sha256:}" ] ||
        { echo "bench: wrong bytes with ${auth:-no auth}" >&2; exit 1; }
done
rps() { # header-or-empty
    if [ -n "$1" ]; then
        wrk -t2 -c16 -d"${SECONDS_EACH}s" -H "Authorization: $1" "$URL"
    else
        wrk -t2 -c16 -d"${SECONDS_EACH}s" "$URL"
    fi | awk '/Requests\/sec/ {print $2}'
}
wrk -t2 -c16 -d1s "$URL" >/dev/null
: >"$WORK/rows.tsv"
for r in $(seq "$ROUNDS"); do
    a=$(rps "")
    t=$(rps "Bearer $TOKEN")
    g=$(rps "Bearer $REGISTRY")
    printf 'round %d: anonymous %s  api-token %s  registry-token %s req/s\n' "$r" "$a" "$t" "$g" >&2
    printf '%s\t%s\t%s\n' "$a" "$t" "$g" >>"$WORK/rows.tsv"
done
python3 - "$WORK/rows.tsv" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
anon, api, reg = (statistics.median(c) for c in zip(*rows))
print(f"| 4 KiB blob GET, wrk -c16 | anonymous {anon:.0f} req/s | API token {api:.0f} ({api/anon:.2f}x) | registry token {reg:.0f} ({reg/anon:.2f}x) |")
PY
