#!/usr/bin/env bash
# Audit log benchmark: EVENTS events are appended to one log, one append at a
# time as the registry of `airlift serve` records pushes; the mean cost of an
# append is reported at the start and at the end of the run (it should be the
# same: an append extends the tree's frontier, O(log n)), then how long
# `verify` takes over the whole log (it reads and hashes every entry: linear).
# The harness is crates/airlift-audit/benches/append.rs, built by cargo in
# release mode.
#
# Every append fsyncs the log and writes its checkpoint durably, so on a disk
# the run measures the disk's fsync latency (about 5 ms a file on the virtual
# disk of docs/benchmarks.md, which makes 1,000,000 appends take days). Point
# AUDIT_BENCH_DIR at a tmpfs, such as /dev/shm, to measure the log's own
# work.
#
# Usage: bench/audit.sh   (env: AUDIT_BENCH_EVENTS=1000000,
#                          AUDIT_BENCH_WINDOW=1000, AUDIT_BENCH_DIR=$TMPDIR)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
EVENTS=${AUDIT_BENCH_EVENTS:-1000000}
WINDOW=${AUDIT_BENCH_WINDOW:-1000}
export AUDIT_BENCH_DIR=${AUDIT_BENCH_DIR:-${TMPDIR:-/tmp}}
cd "$ROOT"
cargo bench --quiet -p airlift-audit --bench append -- "$EVENTS" "$WINDOW"
