#!/usr/bin/env bash
# airlift benchmark: airlift next to its peers (openssl, tar, zstd, nginx),
# on the same data, in the same run. See bench/README.md.
#
# Environment:
#   BENCH_SIZE_MIB     total data to generate, MiB (default 2048; half random, half text)
#   BENCH_FILES        files per half (default 16)
#   BENCH_DIR          work directory (default: a new mktemp dir under ${TMPDIR:-/tmp})
#   AIRLIFT            airlift binary (default: ../target/release/airlift next to this script)
#   BENCH_SERVE_MIB    size of the served file, MiB (default 1024; 0 skips serving)
#   BENCH_SERVE_RUNS   curl downloads per server (default 5)
#   BENCH_PART_SIZE    --max-part-size for the split pack (default 256M; empty skips it)
#   BENCH_REPEAT       runs per measurement; the median is reported (default 3)
#   BENCH_CLEAN        1 (default): delete the big files at the end, keep results and logs
# shellcheck disable=SC2016 # bash -c scripts take their arguments as $1, $2
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AIRLIFT=${AIRLIFT:-$SCRIPT_DIR/../target/release/airlift}
BENCH_SIZE_MIB=${BENCH_SIZE_MIB:-2048}
BENCH_FILES=${BENCH_FILES:-16}
BENCH_SERVE_MIB=${BENCH_SERVE_MIB:-1024}
BENCH_SERVE_RUNS=${BENCH_SERVE_RUNS:-5}
BENCH_PART_SIZE=${BENCH_PART_SIZE-256M}
BENCH_CLEAN=${BENCH_CLEAN:-1}
BENCH_REPEAT=${BENCH_REPEAT:-3}
if [[ -z ${BENCH_DIR:-} ]]; then
    BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/airlift-bench.XXXXXX")
fi
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
MEASURE="$SCRIPT_DIR/measure.py"

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

[[ -x $AIRLIFT ]] || die "no airlift binary at $AIRLIFT (build with: cargo build --release, or set AIRLIFT)"
AIRLIFT=$(cd "$(dirname "$AIRLIFT")" && pwd)/$(basename "$AIRLIFT")
for tool in python3 openssl zstd tar curl sha256sum; do
    command -v "$tool" >/dev/null || die "missing $tool"
done
NGINX=${NGINX:-$(command -v nginx || true)}
(( BENCH_SIZE_MIB >= 2 * BENCH_FILES )) || die "BENCH_SIZE_MIB must be at least 2*BENCH_FILES"

DATA="$BENCH_DIR/data"
OUT="$BENCH_DIR/out"
HOMES="$BENCH_DIR/homes"
LOGS="$BENCH_DIR/logs"
SERVE="$BENCH_DIR/serve"
ROWS="$LOGS/rows.tsv"
PROBLEMS="$LOGS/problems.md"
mkdir -p "$DATA" "$OUT" "$HOMES" "$LOGS"
: >"$ROWS"
: >"$PROBLEMS"

PIDS=()
RSS_SOURCE=unknown
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# Reads every file under the given paths once, so the next step reads from
# page cache. Flushes dirty pages first (sync), outside any timed region, so
# one step's writeback is not billed to the next.
warm() {
    sync
    find "$@" -type f -print0 | xargs -0 -r cat >/dev/null
}

bytes_of() { # total apparent bytes of regular files under the paths
    find "$@" -type f -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {printf "%d\n", s}'
}

# measure ID LABEL PAYLOAD_BYTES OUTPUT_PATH NOTE PREP -- CMD...
# Runs CMD $BENCH_REPEAT times under measure.py and appends one row to $ROWS:
# the median run by wall time, with the fastest and slowest beside it and the
# largest peak RSS of all runs. Before each run (untimed): OUTPUT_PATH ("-"
# for none) is removed, then the shell function PREP runs (it warms the
# input). OUTPUT_PATH is sized after the last run. A failing command is
# recorded, not fatal.
measure() {
    local id=$1 label=$2 payload=$3 output=$4 note=${5:--} prep=$6
    shift 7
    local run line code failed=0
    : >"$LOGS/$id.time"
    for ((run = 1; run <= BENCH_REPEAT; run++)); do
        [[ $output != "-" ]] && rm -rf "$output"
        "$prep"
        log "measuring $label (run $run/$BENCH_REPEAT)"
        line=$(python3 "$MEASURE" --stdout "$LOGS/$id.stdout" --stderr "$LOGS/$id.stderr" -- "$@")
        printf '%s\n' "$line" >>"$LOGS/$id.time"
        code=$(cut -f5 <<<"$line")
        RSS_SOURCE=$(cut -f6 <<<"$line")
        if [[ $code != 0 ]]; then
            failed=$code
            break
        fi
    done
    local secs rss user sys fastest slowest
    IFS=$'\t' read -r secs user sys < <(sort -n -k1,1 "$LOGS/$id.time" |
        awk -F'\t' '{l[NR] = $0} END {split(l[int((NR + 1) / 2)], f, "\t"); print f[1] "\t" f[3] "\t" f[4]}')
    rss=$(awk -F'\t' '$2 > m {m = $2} END {print m + 0}' "$LOGS/$id.time")
    fastest=$(sort -n -k1,1 "$LOGS/$id.time" | head -n 1 | cut -f1)
    slowest=$(sort -n -k1,1 "$LOGS/$id.time" | tail -n 1 | cut -f1)
    local out_bytes="-"
    if [[ $output != "-" && -e $output ]]; then
        out_bytes=$(bytes_of "$output")
    fi
    local status=ok
    if [[ $failed != 0 ]]; then
        status="FAILED (exit $failed)"
        {
            echo "### $label: exit $failed"
            echo '```'
            tail -n 20 "$LOGS/$id.stderr"
            echo '```'
        } >>"$PROBLEMS"
        log "$label failed with exit $failed; see $LOGS/$id.stderr"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$id" "$label" "$payload" "$secs" "$rss" "$out_bytes" "$status" "$note" "$user" "$sys" \
        "$fastest" "$slowest" >>"$ROWS"
    return 0
}

# Looks up a column of a row: field ID COLUMN (3 payload, 4 secs, 5 rss, 7 status)
field() { awk -F'\t' -v id="$1" -v c="$2" '$1 == id {print $c; exit}' "$ROWS"; }
mibps() { # ID -> MiB/s, or empty if missing/failed
    awk -F'\t' -v id="$1" '$1 == id && $7 == "ok" && $4 > 0 {printf "%.1f\n", $3 / 1048576 / $4; exit}' "$ROWS"
}
ratio() { # A B -> A/B as x.xx, or n/a
    local a b
    a=$(mibps "$1"); b=$(mibps "$2")
    if [[ -n $a && -n $b ]]; then
        awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f\n", a / b}'
    else
        echo "n/a"
    fi
}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
wait_http() { # URL: poll up to 30 s
    local i
    for ((i = 0; i < 300; i++)); do
        curl -fsI -o /dev/null "$1" && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- data

HALF_MIB=$((BENCH_SIZE_MIB / 2))
FILE_MIB=$((HALF_MIB / BENCH_FILES))
STAMP="size=$BENCH_SIZE_MIB files=$BENCH_FILES generator=2"
if [[ -f $DATA/.complete && $(cat "$DATA/.complete") == "$STAMP" ]]; then
    log "reusing data in $DATA"
else
    log "generating $BENCH_SIZE_MIB MiB in $DATA ($BENCH_FILES random + $BENCH_FILES text files of $FILE_MIB MiB)"
    rm -rf "$DATA"
    mkdir -p "$DATA/random" "$DATA/text"
    for ((i = 0; i < BENCH_FILES; i++)); do
        head -c "$((FILE_MIB << 20))" /dev/urandom >"$(printf '%s/random/random-%02d.bin' "$DATA" "$i")"
    done
    # Two generators at a time (the text generator is CPU-bound Python).
    for ((i = 0; i < BENCH_FILES; i++)); do
        python3 "$SCRIPT_DIR/gen_text.py" "$(printf '%s/text/text-%02d.log' "$DATA" "$i")" \
            "$((FILE_MIB << 20))" "$((i + 1))" &
        if (( i % 2 == 1 )); then wait; fi
    done
    wait
    echo "$STAMP" >"$DATA/.complete"
fi
DATA_BYTES=$(bytes_of "$DATA/random" "$DATA/text")
DATA_FILES=$(find "$DATA/random" "$DATA/text" -type f | wc -l)
mapfile -t DATA_LIST < <(cd "$DATA" && find random text -type f | sort)

# ---------------------------------------------------------------- airlift setup

EPOCH=$(date +%s)
export SOURCE_DATE_EPOCH=$EPOCH
SRC="$HOMES/source"
rm -rf "$SRC"
mkdir -p "$SRC"
CONFIG="$BENCH_DIR/airlift.toml"
{
    echo "[collect]"
    echo "concurrency = 4"
    for rel in "${DATA_LIST[@]}"; do
        echo
        echo "[[files]]"
        echo "url = \"file://$DATA/$rel\""
        echo "path = \"$rel\""
    done
} >"$CONFIG"
"$AIRLIFT" --home "$SRC" keys init >"$LOGS/keys-init.log" 2>&1 || die "airlift keys init failed: $(cat "$LOGS/keys-init.log")"
ROOT_JSON="$SRC/keys/roots/1.root.json"
[[ -f $ROOT_JSON ]] || die "no root at $ROOT_JSON after keys init"

# ---------------------------------------------------------------- measurements

prep_data() { warm "$DATA"; }
prep_store() { warm "$SRC/store"; }

measure collect "airlift collect (file://, into store)" "$DATA_BYTES" "$SRC/store" "hash + copy + fsync" prep_data -- \
    "$AIRLIFT" --home "$SRC" --json collect --config "$CONFIG"
[[ $(field collect 7) == ok ]] || die "collect failed; nothing else can run (see $LOGS/collect.stderr)"

measure openssl "openssl dgst -sha256 (all files)" "$DATA_BYTES" - "SHA-256 ceiling, 1 core" prep_data -- \
    bash -c 'cd "$1" && shift && openssl dgst -sha256 "$@"' _ "$DATA" "${DATA_LIST[@]}"

measure fsck "airlift fsck (re-hash store)" "$DATA_BYTES" - "airlift's own SHA-256 pass" prep_store -- \
    "$AIRLIFT" --home "$SRC" --json fsck

measure tar "tar -cf (to page cache)" "$DATA_BYTES" "$OUT/peer.tar" "no fsync" prep_data -- \
    tar -cf "$OUT/peer.tar" -C "$DATA" random text
measure tar_sync "tar -cf + fsync" "$DATA_BYTES" "$OUT/peer.tar" "durable, like airlift" prep_data -- \
    bash -c 'tar -cf "$2" -C "$1" random text && sync "$2"' _ "$DATA" "$OUT/peer.tar"
rm -f "$OUT/peer.tar"

measure zstd_null "tar | zstd -3 -T0 > /dev/null" "$DATA_BYTES" - "compression ceiling" prep_data -- \
    bash -c 'tar -cf - -C "$1" random text | zstd -3 -T0 -q -c >/dev/null' _ "$DATA"
measure zstd_sync "tar | zstd -3 -T0 > file + fsync" "$DATA_BYTES" "$OUT/peer.tar.zst" "durable, like airlift" prep_data -- \
    bash -c 'tar -cf - -C "$1" random text | zstd -3 -T0 -q -c >"$2" && sync "$2"' _ "$DATA" "$OUT/peer.tar.zst"
rm -f "$OUT/peer.tar.zst"

measure pack_dir "airlift pack -> directory" "$DATA_BYTES" "$OUT/bundle-dir" "" prep_store -- \
    "$AIRLIFT" --home "$SRC" --json pack --out "$OUT/bundle-dir"
measure pack_tar "airlift pack -> .tar" "$DATA_BYTES" "$OUT/bundle.tar" "" prep_store -- \
    "$AIRLIFT" --home "$SRC" --json pack --out "$OUT/bundle.tar"
measure pack_zst "airlift pack -> .tar.zst (level 3)" "$DATA_BYTES" "$OUT/bundle.tar.zst" "" prep_store -- \
    "$AIRLIFT" --home "$SRC" --json pack --out "$OUT/bundle.tar.zst"
SPLIT_TOC=""
if [[ -n $BENCH_PART_SIZE ]]; then
    measure pack_split "airlift pack -> .tar, parts of $BENCH_PART_SIZE" "$DATA_BYTES" "$OUT/split" "" prep_store -- \
        "$AIRLIFT" --home "$SRC" --json pack --out "$OUT/split/bundle.tar" --max-part-size "$BENCH_PART_SIZE"
    SPLIT_TOC=$(find "$OUT/split" -name '*.toc.json' 2>/dev/null | head -n 1)
fi

# A fresh home that trusts the source's root, for each import run.
IMPORT_HOME="" IMPORT_WARM=""
prep_import() {
    rm -rf "$IMPORT_HOME"
    mkdir -p "$IMPORT_HOME"
    "$AIRLIFT" --home "$IMPORT_HOME" init --trust "$ROOT_JSON" >"$LOGS/init.log" 2>&1 ||
        die "airlift init failed: $(cat "$LOGS/init.log")"
    warm "$IMPORT_WARM"
}
import() { # ID LABEL BUNDLE [WARM_PATH]
    local id=$1 label=$2 bundle=$3
    IMPORT_HOME="$HOMES/$id" IMPORT_WARM=${4:-$3}
    measure "$id" "$label" "$DATA_BYTES" "$IMPORT_HOME/store" "verify + store + fsync" prep_import -- \
        "$AIRLIFT" --home "$IMPORT_HOME" --json import "$bundle"
    if [[ $(field "$id" 7) == ok ]]; then
        local stored
        stored=$(bytes_of "$IMPORT_HOME/store/blobs")
        if [[ $stored != "$DATA_BYTES" ]]; then
            echo "### $label: stored $stored blob bytes, expected $DATA_BYTES" >>"$PROBLEMS"
        fi
    fi
    rm -rf "$IMPORT_HOME"
}
[[ -d $OUT/bundle-dir ]] && import import_dir "airlift import <- directory" "$OUT/bundle-dir"
[[ -f $OUT/bundle.tar ]] && import import_tar "airlift import <- .tar" "$OUT/bundle.tar"
[[ -f $OUT/bundle.tar.zst ]] && import import_zst "airlift import <- .tar.zst" "$OUT/bundle.tar.zst"
[[ -n $SPLIT_TOC ]] && import import_split "airlift import <- split .tar (toc)" "$SPLIT_TOC" "$OUT/split"

# ---------------------------------------------------------------- serving

SERVE_ROWS="$LOGS/serve.tsv"
: >"$SERVE_ROWS"
if (( BENCH_SERVE_MIB > 0 )); then
    mkdir -p "$SERVE/www" "$SERVE/nginx/tmp"
    BIG="$SERVE/www/big.bin"
    if [[ ! -f $BIG || $(stat -c %s "$BIG") != $((BENCH_SERVE_MIB << 20)) ]]; then
        log "generating $BENCH_SERVE_MIB MiB file to serve"
        head -c "$((BENCH_SERVE_MIB << 20))" /dev/urandom >"$BIG"
    fi
    BIG_BYTES=$(stat -c %s "$BIG")
    BIG_SHA=$(sha256sum "$BIG" | cut -d' ' -f1)
    SH="$HOMES/serve"
    rm -rf "$SH"
    mkdir -p "$SH"
    printf '[[files]]\nurl = "file://%s"\nsha256 = "%s"\npath = "big.bin"\n' "$BIG" "$BIG_SHA" >"$SERVE/airlift.toml"
    "$AIRLIFT" --home "$SH" collect --config "$SERVE/airlift.toml" >"$LOGS/serve-collect.log" 2>&1 ||
        die "collect for serving failed: $(cat "$LOGS/serve-collect.log")"

    AIRLIFT_PORT=$(free_port)
    "$AIRLIFT" --home "$SH" serve --listen "127.0.0.1:$AIRLIFT_PORT" >"$LOGS/airlift-serve.log" 2>&1 &
    AIRLIFT_PID=$!
    PIDS+=("$AIRLIFT_PID")
    wait_http "http://127.0.0.1:$AIRLIFT_PORT/healthz" || die "airlift serve did not come up: $(cat "$LOGS/airlift-serve.log")"
    SERVERS=("airlift serve|http://127.0.0.1:$AIRLIFT_PORT/files/big.bin|$AIRLIFT_PID")

    if [[ -n $NGINX ]]; then
        NGINX_PORT=$(free_port)
        NX="$SERVE/nginx"
        {
            echo "daemon off;"
            echo "worker_processes 1;"
            [[ $(id -u) == 0 ]] && echo "user root;"
            echo "pid $NX/nginx.pid;"
            echo "error_log $NX/error.log warn;"
            echo "events { worker_connections 64; }"
            echo "http {"
            echo "  access_log off;"
            echo "  sendfile on;"
            echo "  tcp_nopush on;"
            echo "  default_type application/octet-stream;"
            for t in client_body proxy fastcgi uwsgi scgi; do
                echo "  ${t}_temp_path $NX/tmp/$t;"
            done
            echo "  server {"
            echo "    listen 127.0.0.1:$NGINX_PORT;"
            echo "    location /files/ { alias $SERVE/www/; }"
            echo "  }"
            echo "}"
        } >"$NX/nginx.conf"
        "$NGINX" -p "$NX" -e "$NX/error.log" -c "$NX/nginx.conf" >"$LOGS/nginx.log" 2>&1 &
        NGINX_PID=$!
        PIDS+=("$NGINX_PID")
        wait_http "http://127.0.0.1:$NGINX_PORT/files/big.bin" ||
            die "nginx did not come up: $(cat "$LOGS/nginx.log" "$NX/error.log" 2>/dev/null)"
        SERVERS+=("nginx $("$NGINX" -v 2>&1 | sed 's|.*/||')|http://127.0.0.1:$NGINX_PORT/files/big.bin|$NGINX_PID")
    else
        log "nginx not found: serving is measured for airlift only (apt-get install nginx-light)"
    fi

    warm "$BIG" "$SH/store"
    # One warm-up download per server, which also checks the bytes.
    for entry in "${SERVERS[@]}"; do
        IFS='|' read -r name url pid <<<"$entry"
        got=$(curl -fs "$url" | sha256sum | cut -d' ' -f1)
        [[ $got == "$BIG_SHA" ]] || echo "### $name: served bytes hash to $got, expected $BIG_SHA" >>"$PROBLEMS"
    done
    # Interleaved runs, so drift hits both servers alike.
    for ((run = 1; run <= BENCH_SERVE_RUNS; run++)); do
        for entry in "${SERVERS[@]}"; do
            IFS='|' read -r name url pid <<<"$entry"
            speed=$(curl -fs -o /dev/null -w '%{speed_download}' "$url" || echo 0)
            printf '%s\t%s\n' "$name" "$speed" >>"$SERVE_ROWS"
        done
    done
    # Peak RSS of the serving process (airlift) / worker (nginx), from /proc.
    SERVE_RSS="$LOGS/serve-rss.tsv"
    : >"$SERVE_RSS"
    for entry in "${SERVERS[@]}"; do
        IFS='|' read -r name url pid <<<"$entry"
        target=$pid
        if [[ $name == nginx* ]]; then
            target=$(awk '{print $1}' "/proc/$pid/task/$pid/children" 2>/dev/null || true)
        fi
        hwm=$(awk '/^VmHWM/ {print $2}' "/proc/${target:-0}/status" 2>/dev/null || true)
        printf '%s\t%s\n' "$name" "${hwm:-}" >>"$SERVE_RSS"
    done
    cleanup
fi

# ---------------------------------------------------------------- report

REPORT="$BENCH_DIR/results.md"
mib() { awk -v b="$1" 'BEGIN {printf "%.0f", b / 1048576}'; }
{
    echo "# airlift benchmark"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- airlift: $("$AIRLIFT" --version 2>/dev/null), binary \`$AIRLIFT\` built $(date -u -r "$AIRLIFT" +%Y-%m-%dT%H:%M:%SZ); repo HEAD $(git -C "$SCRIPT_DIR/.." rev-parse --short HEAD 2>/dev/null || echo 'unknown') (a binary older than HEAD's last commit may not match it)"
    echo "- machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uname -sr)"
    echo "- work dir: \`$BENCH_DIR\` on $(df -T "$BENCH_DIR" | awk 'NR == 2 {print $2}')"
    echo "- peers: $(openssl version | cut -d' ' -f1-2), $(zstd --version | sed 's/.*\(v[0-9.]*\).*/zstd \1/'), $(tar --version | head -n 1), $(curl --version | head -n 1 | cut -d' ' -f1-2)${NGINX:+, $("$NGINX" -v 2>&1 | sed 's/.*: //')}"
    echo "- data: $DATA_FILES files, $(mib "$DATA_BYTES") MiB: $BENCH_FILES x $FILE_MIB MiB from /dev/urandom (incompressible) + $BENCH_FILES x $FILE_MIB MiB log-like text (compressible)"
    echo "- caching: nothing is dropped from page cache. Before every measurement: \`sync\` (untimed), then a warm-up read of that step's input, so every figure is from a warm page cache. Each step runs $BENCH_REPEAT times (output removed in between); the median run is shown. Writers that fsync (airlift always does; peers marked \"+ fsync\") pay for the disk; the others may finish in page cache."
    echo "- MiB/s = data MiB / wall seconds, always over the same $(mib "$DATA_BYTES") MiB of payload, so MiB/s compare directly. Peak RSS: max RSS of the largest process in the step's tree (a pipeline reports its largest process), from $RSS_SOURCE$([[ $RSS_SOURCE == gnu-time ]] || echo ' (a floor of ~14 MiB: install the Debian package time for exact figures)'). CPU s > seconds means more than one core was busy."
    echo
    echo "## Throughput on the same data"
    echo
    echo "| step | seconds (median) | MiB/s | MiB/s range | CPU s (user+sys) | peak RSS MiB | output MiB | status | note |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
    while IFS=$'\t' read -r id label payload secs rss out status note user sys fastest slowest; do
        speed=$(mibps "$id")
        range=$(awk -v p="$payload" -v f="$fastest" -v s="$slowest" 'BEGIN {if (f > 0 && s > 0) printf "%.0f-%.0f", p / 1048576 / s, p / 1048576 / f; else print "-"}')
        outm="-"
        [[ $out != "-" ]] && outm=$(mib "$out")
        printf '| %s | %.2f | %s | %s | %.2f | %.0f | %s | %s | %s |\n' \
            "$label" "$secs" "${speed:--}" "$range" "$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" \
            "$(awk -v r="$rss" 'BEGIN {print r / 1024}')" "$outm" "$status" "${note/#-/}"
    done <"$ROWS"
    echo
    echo "## Ratios (MiB/s over MiB/s; 1.00 = as fast as the peer)"
    echo
    echo "| ratio | value |"
    echo "|---|---:|"
    echo "| pack(.tar) / openssl sha256 | $(ratio pack_tar openssl) |"
    echo "| import(.tar) / openssl sha256 | $(ratio import_tar openssl) |"
    echo "| pack(.tar.zst) / tar\\|zstd -3 -T0 > file + fsync | $(ratio pack_zst zstd_sync) |"
    echo "| pack(.tar.zst) / tar\\|zstd -3 -T0 > /dev/null | $(ratio pack_zst zstd_null) |"
    echo "| import(.tar.zst) / openssl sha256 | $(ratio import_zst openssl) |"
    echo "| pack(.tar) / tar -cf + fsync | $(ratio pack_tar tar_sync) |"
    echo "| pack(dir) / tar -cf + fsync | $(ratio pack_dir tar_sync) |"
    echo "| collect / openssl sha256 | $(ratio collect openssl) |"
    echo "| fsck / openssl sha256 | $(ratio fsck openssl) |"
    if [[ -s $SERVE_ROWS ]]; then
        echo
        echo "## Serving one $(mib "$BIG_BYTES") MiB file over loopback HTTP/1.1"
        echo
        echo "curl -o /dev/null, $BENCH_SERVE_RUNS runs per server after one warm-up download (whose SHA-256 is checked), runs interleaved; the file is in page cache; peak RSS is the serving process's VmHWM (nginx: its worker)."
        echo
        echo "| server | median MiB/s | best MiB/s | runs (MiB/s) | peak RSS MiB |"
        echo "|---|---:|---:|---|---:|"
        declare -A MEDIAN=()
        for entry in "${SERVERS[@]}"; do
            IFS='|' read -r name url pid <<<"$entry"
            stats=$(awk -F'\t' -v n="$name" '$1 == n {printf "%.1f\n", $2 / 1048576}' "$SERVE_ROWS" | sort -n |
                awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f\t%.1f\n", m, v[NR]}')
            IFS=$'\t' read -r med best <<<"$stats"
            MEDIAN[$name]=$med
            runs=$(awk -F'\t' -v n="$name" '$1 == n {printf "%s%.0f", sep, $2 / 1048576; sep = ", "}' "$SERVE_ROWS")
            hwm=$(awk -F'\t' -v n="$name" '$1 == n && $2 != "" {printf "%.0f", $2 / 1024}' "$SERVE_RSS")
            echo "| $name | $med | $best | $runs | ${hwm:--} |"
        done
        if (( ${#SERVERS[@]} > 1 )); then
            a=${MEDIAN["airlift serve"]}
            for name in "${!MEDIAN[@]}"; do
                [[ $name == nginx* ]] || continue
                echo
                echo "airlift serve / $name (median): $(awk -v a="$a" -v b="${MEDIAN[$name]}" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}')"
            done
        fi
    fi
    if [[ -s $PROBLEMS ]]; then
        echo
        echo "## Problems"
        echo
        cat "$PROBLEMS"
    fi
} >"$REPORT"
cat "$REPORT"
log "results in $REPORT; per-step logs in $LOGS"

if [[ $BENCH_CLEAN == 1 ]]; then
    rm -rf "$DATA" "$OUT" "$HOMES" "$SERVE"
fi
