#!/usr/bin/env bash
# Python package benchmark, side by side in one run:
#   1. `airlift collect` vs `pip download -r` of the same requirement set from
#      the machine's own default index (pip's default, read at run time),
#      both with empty caches, alternating, median of N runs;
#   2. index requests per second on loopback, measured with wrk: airlift
#      serve vs pypiserver (waitress + watchdog digest cache) serving the same
#      files, one project page per request.
# Needs wrk (Debian; installed if missing) and the pinned peers of
# tests/pypi/tools.txt (installed under target/pypi-tools).
#
# Usage: bench/pypi.sh   (env: PYPI_BENCH_RUNS=3, PYPI_BENCH_SECONDS=10)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
AIRLIFT=${AIRLIFT:-$ROOT/target/release/airlift}
RUNS=${PYPI_BENCH_RUNS:-3}
SECONDS_EACH=${PYPI_BENCH_SECONDS:-10}
VENV=$("$ROOT/tests/pypi/venv.sh")
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlift-pypi-bench.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
INDEX=$(python3 -m pip config get global.index-url 2>/dev/null ||
    python3 -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)')

# A typical service's direct dependencies; both tools take wheels for this
# interpreter and platform only (no sdists), so they fetch the same files.
REQUIREMENTS=("flask>=3" "requests>=2.31" "rich" "httpx" "pydantic>=2" "sqlalchemy>=2" "pyyaml" "jsonschema" "click" "boto3")
printf '%s\n' "${REQUIREMENTS[@]}" >"$WORK/requirements.in"
{
    echo "[pypi]"
    echo "index = \"$INDEX\""
    echo 'python = ["3.11"]'
    echo 'platforms = ["manylinux_2_36_x86_64", "any"]'
    echo "sdist = false"
    printf 'packages = ['
    printf '"%s", ' "${REQUIREMENTS[@]}"
    echo ']'
} >"$WORK/airlift.toml"

seconds() { # command... ; prints wall seconds
    local start end
    start=$(date +%s.%N)
    "$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; return 1; }
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')"
}
airlift_times=()
pip_times=()
for run in $(seq 1 "$RUNS"); do
    echo "bench: collect run $run of $RUNS" >&2
    rm -rf "${WORK:?}/home" "$WORK/pip-out"
    airlift_times+=("$(seconds "$AIRLIFT" --home "$WORK/home" collect --config "$WORK/airlift.toml")")
    pip_times+=("$(seconds "$VENV/bin/pip" download --no-cache-dir --only-binary :all: -d "$WORK/pip-out" -r "$WORK/requirements.in")")
done
files_airlift=$("$AIRLIFT" --home "$WORK/home" --json collect --config "$WORK/airlift.toml" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["python_files"], d["python_bytes"])')
files_pip=$(find "$WORK/pip-out" -type f | wc -l)

# Serving: the same files behind both servers.
"$AIRLIFT" --home "$WORK/home" serve --listen 127.0.0.1:5031 2>"$WORK/airlift.log" &
PIDS+=($!)
"$VENV/bin/pypi-server" run -p 5032 -i 127.0.0.1 --server auto --backend cached-dir --disable-fallback \
    "$WORK/pip-out" >"$WORK/pypiserver.log" 2>&1 &
PIDS+=($!)
for url in http://127.0.0.1:5031/pypi/simple/requests/ http://127.0.0.1:5032/simple/requests/; do
    for _ in $(seq 100); do curl -sf "$url" >/dev/null && break; sleep 0.1; done
done
rps() { # url
    wrk -t1 -c16 -d1s "$1" >/dev/null 2>&1
    wrk -t1 -c16 -d"${SECONDS_EACH}s" "$1" | awk '/Requests\/sec/ {print $2}'
}
echo "bench: wrk against each server (${SECONDS_EACH}s each)" >&2
rps_airlift=$(rps http://127.0.0.1:5031/pypi/simple/requests/)
rps_pypiserver=$(rps http://127.0.0.1:5032/simple/requests/)
rps_airlift_json=$(wrk -t1 -c16 -d"${SECONDS_EACH}s" -H 'Accept: application/vnd.pypi.simple.v1+json' \
    http://127.0.0.1:5031/pypi/simple/requests/ | awk '/Requests\/sec/ {print $2}')

python3 - "${airlift_times[*]}" "${pip_times[*]}" "$files_airlift" "$files_pip" "$rps_airlift" "$rps_pypiserver" "$rps_airlift_json" "$RUNS" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
p = [float(x) for x in sys.argv[2].split()]
files_a, bytes_a = sys.argv[3].split()
files_p, rps_a, rps_s, rps_j, runs = sys.argv[4:]
ma, mp = statistics.median(a), statistics.median(p)
print(f"## Python package benchmark (10 top-level requirements; median of {runs}; 2 cores)\n")
print("| figure | airlift | peer | ratio (airlift / peer) |")
print("|---|---:|---:|---:|")
print(f"| collect with closure, empty cache (s; {files_a} files, {int(bytes_a)/1048576:.1f} MiB vs {files_p} files) | {ma:.2f} | {mp:.2f} (pip download -r) | {mp/ma:.2f}× faster |")
print(f"| project page requests/s (HTML, wrk -c16) | {float(rps_a):.0f} | {float(rps_s):.0f} (pypiserver + waitress) | {float(rps_a)/float(rps_s):.1f}× |")
print(f"| project page requests/s (PEP 691 JSON) | {float(rps_j):.0f} | — | — |")
print(f"\nruns: airlift {a}, pip {p}")
PY
