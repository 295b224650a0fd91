#!/usr/bin/env bash
# Two airlift binaries serving side by side, to measure a change to the
# serving path: the same home, a 1 GiB file over plain HTTP (next to nginx
# with sendfile when it is installed) and over HTTPS, and a 100 MiB blob
# from the OCI registry, every download with `curl -o /dev/null` after a
# warm-up whose SHA-256 is checked, runs interleaved so that load on the
# machine hits every server alike. Prints the median, best and every run in
# MiB/s, and each server's peak RSS (VmHWM).
#
# Usage: BEFORE=old/airlift AFTER=new/airlift bench/serve-ab.sh
# RUNS (default 7) sets the downloads per server; BENCH_DIR the work
# directory (default a new one under $TMPDIR, removed at the end).
# Ports 5101-5103 and 5111-5112 on loopback must be free.
set -euo pipefail
BEFORE=$(realpath "${BEFORE:?set BEFORE to the airlift binary to compare against}")
AFTER=$(realpath "${AFTER:?set AFTER to the airlift binary under test}")
RUNS=${RUNS:-7}
if [ -n "${BENCH_DIR:-}" ]; then W=$BENCH_DIR; KEEP=1; else W=$(mktemp -d); KEEP=; fi
mkdir -p "$W/www" "$W/nginx/tmp"
BIG=$W/www/big.bin
[ -f "$BIG" ] || head -c $((1024<<20)) /dev/urandom > "$BIG"
SHA=$(sha256sum "$BIG" | cut -d' ' -f1)
H=$W/home
if [ ! -d "$H" ]; then
  printf '[[files]]\nurl = "file://%s"\nsha256 = "%s"\npath = "big.bin"\n' "$BIG" "$SHA" > "$W/airlift.toml"
  "$AFTER" --home "$H" collect --config "$W/airlift.toml" >/dev/null
  "$AFTER" --home "$H" tls init --name localhost >/dev/null
  # Made here, once: servers started together on a home without an apt
  # signing key would race to make it.
  "$AFTER" --home "$H" apt key >/dev/null
  head -c $((100<<20)) /dev/urandom > "$W/blob.bin"
fi
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$KEEP" ] || rm -rf "$W"
}
trap cleanup EXIT
"$BEFORE" --home "$H" serve --listen 127.0.0.1:5101 2>"$W/b.log" & PIDS+=($!); PB=$!
"$AFTER" --home "$H" serve --listen 127.0.0.1:5102 2>"$W/a.log" & PIDS+=($!); PA=$!
"$BEFORE" --home "$H" serve --tls --listen 127.0.0.1:5111 2>"$W/bt.log" & PIDS+=($!); PBT=$!
"$AFTER" --home "$H" serve --tls --listen 127.0.0.1:5112 2>"$W/at.log" & PIDS+=($!); PAT=$!
NX=$W/nginx
cat > "$NX/nginx.conf" <<NGX
daemon off;
worker_processes 1;
$([ "$(id -u)" = 0 ] && echo "user root;")
pid $NX/nginx.pid;
error_log $NX/error.log warn;
events { worker_connections 64; }
http {
  access_log off; sendfile on; tcp_nopush on; default_type application/octet-stream;
  client_body_temp_path $NX/tmp/cb; proxy_temp_path $NX/tmp/p; fastcgi_temp_path $NX/tmp/f; uwsgi_temp_path $NX/tmp/u; scgi_temp_path $NX/tmp/s;
  server { listen 127.0.0.1:5103; location /files/ { alias $W/www/; } }
}
NGX
ORDER=(before after before-tls after-tls before-oci after-oci)
NPID=
if command -v nginx >/dev/null; then
  nginx -p "$NX" -e "$NX/error.log" -c "$NX/nginx.conf" & PIDS+=($!); PN=$!
  ORDER=(before after nginx before-tls after-tls before-oci after-oci)
fi
sleep 1.5
[ -z "${PN:-}" ] || NPID=$(pgrep -P "$PN" | head -1 || echo "$PN")
# Push the 100 MiB blob into the home via the after server (plain).
BD="sha256:$(sha256sum "$W/blob.bin" | cut -d' ' -f1)"
curl -sf -o /dev/null -X POST --data-binary @"$W/blob.bin" -H 'Content-Type: application/octet-stream' "http://127.0.0.1:5102/v2/bench/blob/blobs/uploads/?digest=$BD" || true

# Warm the page cache: every figure is from memory, not the disk.
find "$H/store" -type f -exec cat {} + >/dev/null
CA=$H/tls/ca.crt
declare -A URL=(
 [before]=http://127.0.0.1:5101/files/big.bin [after]=http://127.0.0.1:5102/files/big.bin [nginx]=http://127.0.0.1:5103/files/big.bin
 [before-tls]=https://localhost:5111/files/big.bin [after-tls]=https://localhost:5112/files/big.bin
 [before-oci]=http://127.0.0.1:5101/v2/bench/blob/blobs/$BD [after-oci]=http://127.0.0.1:5102/v2/bench/blob/blobs/$BD
)
for n in "${ORDER[@]}"; do
  got=$(curl -fs --cacert "$CA" "${URL[$n]}" | sha256sum | cut -d' ' -f1)
  case $n in *oci) want=${BD#sha256:};; *) want=$SHA;; esac
  [ "$got" = "$want" ] || echo "BAD BYTES from $n" >&2
done
: > "$W/rows.tsv"
for ((r=1; r<=RUNS; r++)); do
  for n in "${ORDER[@]}"; do
    s=$(curl -fs --cacert "$CA" -o /dev/null -w '%{speed_download}' "${URL[$n]}")
    printf '%s\t%s\n' "$n" "$s" >> "$W/rows.tsv"
  done
done
for n in "${ORDER[@]}"; do
  awk -F'\t' -v n="$n" '$1==n {printf "%.0f\n", $2/1048576}' "$W/rows.tsv" | sort -n | awk -v n="$n" '{a[NR]=$1} END {printf "%-11s median %5d  best %5d  runs:", n, a[int((NR+1)/2)], a[NR]; for(i=1;i<=NR;i++) printf " %d", a[i]; printf "\n"}'
done
for p in before:$PB after:$PA before-tls:$PBT after-tls:$PAT ${NPID:+nginx:$NPID}; do
  printf '%-11s VmHWM %s\n' "${p%%:*}" "$(awk '/VmHWM/ {print $2, $3}' "/proc/${p#*:}/status")"
done
