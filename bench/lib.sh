# shellcheck shell=bash
# Shared by the bench scripts (sourced; they set WORK first).
#
#   seconds COMMAND...   run COMMAND with its output in $WORK/last.log
#                        (shown on failure, which fails the call) and print
#                        its wall-clock seconds.
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; return 1; }
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')"
}
