#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer through cargo-fuzz) of every parser that
# reads data from outside: one target per parser in fuzz/fuzz_targets/, each
# started from its small committed seed corpus in fuzz/corpus/<target>/.
#
# 1. Installs cargo-fuzz at the pinned version below into $CARGO_HOME/bin
#    (~/.cargo/bin) when it is missing or another version; later runs reuse it.
# 2. Builds every target once, on the stable toolchain, with no sanitizer
#    (`-s none`: sanitizers need nightly; coverage instrumentation does not),
#    with debug assertions and overflow checks on, into
#    ~/.cache/airlift/fuzz-target/ (AIRLIFT_FUZZ_TARGET_DIR), outside the clone.
# 3. Runs the targets one after another, each for FUZZ_SECONDS (default 20)
#    on a copy of its corpus (new inputs never land in the repository), with
#    memory bounded (-rss_limit_mb=512, -malloc_limit_mb=512) and a hang
#    being any input slower than 10 s (-timeout=10), on a 2 MiB stack.
#    libFuzzer runs one
#    process with one thread per target: with only 2 cores shared, the
#    targets never run side by side.
#
# A crash, hang or out-of-memory input fails its target; the reproducer is
# kept under <that directory>/artifacts/<target>/ and its path printed, with the
# command that replays it. Ends with one line: "fuzz: N passed, M failed".
#
#   FUZZ_SECONDS=3600 tests/fuzz/run.sh          longer runs, before a release
#   FUZZ_TARGETS="apt_xz pgp_keyring" tests/fuzz/run.sh   only these targets
#   FUZZ_KEEP_CORPUS=1 tests/fuzz/run.sh         keep the grown corpora (their
#                                                 directory is printed at the end)
set -euo pipefail
cd "$(dirname "$0")/../.."
CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
# The fuzz build (every crate with coverage instrumentation, minutes on two
# cores) is kept outside the clone, so a fresh CI clone on the same machine
# rebuilds only what changed.
export CARGO_TARGET_DIR=${AIRLIFT_FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/airlift/fuzz-target}
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN_DIR=$CARGO_TARGET_DIR/$TRIPLE/release
ARTIFACTS=$CARGO_TARGET_DIR/artifacts

# The work directory (corpus copies, logs, the targets' scratch files) is on
# a tmpfs when there is one: the targets that go through a file run about
# twenty times faster there than on a disk.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    WORK=$(mktemp -d /dev/shm/airlift-fuzz.XXXXXX)
else
    WORK=$(mktemp -d /tmp/airlift-fuzz.XXXXXX)
fi
if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    trap 'rm -rf "$WORK/tmp"; echo "grown corpora kept in $WORK/corpus"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi

passed=0
failed=0
suite_start=$SECONDS

mapfile -t all_targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -vx airlift-fuzz)
if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    targets=("${all_targets[@]}")
fi

# Fails every target: nothing can run.
give_up() {
    echo "FAILED: $1"
    echo "fuzz: 0 passed, ${#targets[@]} failed"
    exit 1
}

if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --quiet ||
        give_up "installing cargo-fuzz $CARGO_FUZZ_VERSION"
fi

build_start=$SECONDS
# The committed fuzz/Cargo.lock must be current: fail rather than re-resolve.
cargo fetch --locked --manifest-path fuzz/Cargo.toml --quiet ||
    give_up "fuzz/Cargo.lock is not current (after a dependency change in crates/, run: cargo fetch --manifest-path fuzz/Cargo.toml)"
if ! cargo fuzz build -s none >"$WORK/build.log" 2>&1; then
    tail -40 "$WORK/build.log"
    give_up "fuzz build"
fi
echo "built the fuzz targets in $((SECONDS - build_start)) s"

for target in "${targets[@]}"; do
    bin=$BIN_DIR/$target
    if [ ! -x "$bin" ] || [ ! -d "fuzz/corpus/$target" ]; then
        echo "FAILED: fuzz $target (no binary or no fuzz/corpus/$target)"
        failed=$((failed + 1))
        continue
    fi
    corpus=$WORK/corpus/$target
    mkdir -p "$corpus" "$ARTIFACTS/$target" "$WORK/tmp"
    cp fuzz/corpus/"$target"/* "$corpus"/
    log=$WORK/$target.log
    start=$SECONDS
    # A 2 MiB stack, as tokio's workers and Rust's threads have, so that
    # recursion an input can drive deep shows up here as it would in
    # airlift. TMPDIR: the targets' scratch files, removed with $WORK.
    if (
        ulimit -s 2048
        TMPDIR=$WORK/tmp exec "$bin" "$corpus" \
            -max_total_time="$FUZZ_SECONDS" \
            -rss_limit_mb=512 -malloc_limit_mb=512 -timeout=10 \
            -print_final_stats=1 \
            -artifact_prefix="$ARTIFACTS/$target/"
    ) >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        echo "ok: fuzz $target ($((SECONDS - start)) s, ${runs:-?} runs)"
        passed=$((passed + 1))
    else
        reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        echo "--- $target (what failed, then the end of its log)"
        grep -m1 -A1 -E 'panicked at|ERROR: libFuzzer' "$log" || true
        tail -12 "$log"
        echo "FAILED: fuzz $target ($((SECONDS - start)) s): reproducer ${reproducer:-not written}"
        if [ -n "$reproducer" ]; then
            echo "  replay: $bin $reproducer"
        fi
        failed=$((failed + 1))
    fi
done

echo "fuzz suite took $((SECONDS - suite_start)) s"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
