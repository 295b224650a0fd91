#!/usr/bin/env bash
# Container registry benchmark, side by side on the same images in one run:
#   1. skopeo copy from a CNCF registry into airlift vs into a second CNCF registry;
#   2. GET of one large blob from airlift vs the CNCF registry vs nginx;
#   3. airlift collect of N images vs `skopeo sync` of the same set.
# Everything on loopback. Needs docker-registry, skopeo, nginx-light (Debian)
# and crane and oras (tests/oci/clients.sh installs them under target/oci-tools).
#
# Usage: bench/oci.sh   (env: OCI_BENCH_IMAGES=8, OCI_BENCH_LAYER_MIB=16, OCI_BENCH_BLOB_MIB=100)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
AIRLIFT=${AIRLIFT:-$ROOT/target/release/airlift}
CRANE=${CRANE:-$ROOT/target/oci-tools/crane-v0.22.1}
ORAS=${ORAS:-$ROOT/target/oci-tools/oras-v1.3.6}
IMAGES=${OCI_BENCH_IMAGES:-8}
LAYER_MIB=${OCI_BENCH_LAYER_MIB:-16}
BLOB_MIB=${OCI_BENCH_BLOB_MIB:-100}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlift-oci-bench.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

registry() { # name port
    cat >"$WORK/$1.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/$1-data
http:
  addr: 127.0.0.1:$2
YAML
    docker-registry serve "$WORK/$1.yml" >"$WORK/$1.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/v2/" >/dev/null && return; sleep 0.1; done
}
seconds() { # command... ; prints wall seconds
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')"
}

registry source 5020
registry target 5021
"$AIRLIFT" --home "$WORK/airlift" serve --listen 127.0.0.1:5022 2>"$WORK/airlift.log" &
PIDS+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:5022/v2/ >/dev/null && break; sleep 0.1; done

echo "bench: building $IMAGES images of 3 x $LAYER_MIB MiB layers in the source registry" >&2
for i in $(seq 1 "$IMAGES"); do
    for l in 1 2 3; do
        head -c $((LAYER_MIB << 20)) /dev/urandom >"$WORK/l$l.bin"
        tar -C "$WORK" -cf "$WORK/l$l.tar" "l$l.bin"
    done
    "$CRANE" append --insecure -f "$WORK/l1.tar" -f "$WORK/l2.tar" -f "$WORK/l3.tar" -t "127.0.0.1:5020/bench/img$i:1" >/dev/null
done
rm -f "$WORK"/l*.bin "$WORK"/l*.tar
total_mib=$((IMAGES * 3 * LAYER_MIB))

copy_all() { # destination port
    for i in $(seq 1 "$IMAGES"); do
        skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false \
            "docker://127.0.0.1:5020/bench/img$i:1" "docker://127.0.0.1:$1/bench/img$i:1"
    done
}
echo "bench: skopeo copy into each registry" >&2
copy_airlift=$(seconds copy_all 5022)
copy_cncf=$(seconds copy_all 5021)

echo "bench: one $BLOB_MIB MiB blob from each server" >&2
head -c $((BLOB_MIB << 20)) /dev/urandom >"$WORK/big.bin"
digest=sha256:$(sha256sum "$WORK/big.bin" | cut -c1-64)
for port in 5021 5022; do
    (cd "$WORK" && "$ORAS" push --plain-http "127.0.0.1:$port/bench/big:1" big.bin >/dev/null)
done
mkdir -p "$WORK/www"
cp "$WORK/big.bin" "$WORK/www/big.bin"
# nginx workers run as an unprivileged user: let them read the file.
chmod a+rx "$WORK" "$WORK/www" && chmod a+r "$WORK/www/big.bin"
cat >"$WORK/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx.error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    server { listen 127.0.0.1:5023; root $WORK/www; }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" 2>>"$WORK/nginx.stderr" &
PIDS+=($!)
sleep 0.5
best_of() { # url
    local best=0 speed
    curl -sf -o /dev/null "$1"
    for _ in 1 2 3 4 5; do
        speed=$(curl -sf -o /dev/null -w '%{speed_download}' "$1")
        best=$(python3 -c "print(max($best, $speed))")
    done
    python3 -c "print(f'{$best / 1048576:.0f}')"
}
get_airlift=$(best_of "http://127.0.0.1:5022/v2/bench/big/blobs/$digest")
get_cncf=$(best_of "http://127.0.0.1:5021/v2/bench/big/blobs/$digest")
get_nginx=$(best_of "http://127.0.0.1:5023/big.bin")
[ "$get_nginx" != 0 ] || { cat "$WORK/nginx.stderr" "$WORK/nginx.error.log" >&2 2>/dev/null; true; }

echo "bench: collecting the $IMAGES images" >&2
{
    for i in $(seq 1 "$IMAGES"); do
        printf '[[oci]]\nimage = "127.0.0.1:5020/bench/img%s:1"\nplain_http = true\nreferrers = false\n\n' "$i"
    done
} >"$WORK/airlift.toml"
{
    echo "127.0.0.1:5020:"
    echo "  tls-verify: false"
    echo "  images:"
    for i in $(seq 1 "$IMAGES"); do echo "    bench/img$i: [\"1\"]"; done
} >"$WORK/sync.yml"
collect_airlift=$(seconds "$AIRLIFT" --home "$WORK/collect" collect --config "$WORK/airlift.toml")
collect_skopeo=$(seconds skopeo sync --src yaml --dest dir "$WORK/sync.yml" "$WORK/sync-out")

python3 - "$total_mib" "$copy_airlift" "$copy_cncf" "$get_airlift" "$get_cncf" "$get_nginx" "$collect_airlift" "$collect_skopeo" "$IMAGES" "$BLOB_MIB" <<'PY'
import sys
mib, copy_a, copy_c, get_a, get_c, get_n, col_a, col_s, images, blob = sys.argv[1:]
mib = float(mib); copy_a, copy_c, col_a, col_s = map(float, (copy_a, copy_c, col_a, col_s))
get_a, get_c, get_n = map(float, (get_a, get_c, get_n))
print(f"## Container registry benchmark ({images} images, {mib:.0f} MiB of layers; loopback; 2 cores)\n")
print("| figure | airlift | peer | ratio (airlift / peer) |")
print("|---|---:|---:|---:|")
print(f"| skopeo copy from a CNCF registry into … (MiB/s) | {mib/copy_a:.0f} | {mib/copy_c:.0f} (CNCF registry) | {copy_c/copy_a:.2f} |")
print(f"| GET one {blob} MiB blob (MiB/s, best of 5) | {get_a:.0f} | {get_c:.0f} (CNCF registry) | {get_a/get_c:.2f} |")
print(f"| GET one {blob} MiB blob (MiB/s, best of 5) | {get_a:.0f} | {get_n:.0f} (nginx, sendfile) | {get_a/get_n:.2f} |")
print(f"| collect {images} images (seconds) | {col_a:.2f} | {col_s:.2f} (skopeo sync to dir) | {col_s/col_a:.2f} |")
PY
