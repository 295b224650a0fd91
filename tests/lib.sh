# Helpers shared by the shell test scripts; sourced by them, also inside the
# `unshare` namespaces they start (export LIB=<this file> for that).
#
#   check LABEL COMMAND...  run COMMAND, print "ok: LABEL" or "FAILED: LABEL"
#                           and count it. COMMAND's output goes to $CHECK_LOG
#                           when set; labels get $CHECK_PREFIX in front.
#   wait_for URL [ARG...]   poll URL with curl (extra ARGs passed on) for up
#                           to 10 seconds.
#   generations HOME        print how many index generations HOME has
#                           committed (a refused collect must not add one).
#   finish NAME OUTPUT      add the "RESULT passed failed" line of a namespace
#                           run's OUTPUT to the counts, print OUTPUT and, on a
#                           failure, the tail of $CHECK_LOG; end with
#                           "NAME: N passed, M failed"; return non-zero on
#                           any failure or when nothing passed.

passed=${passed:-0}
failed=${failed:-0}

check() {
    local label=${CHECK_PREFIX:-}$1 ok
    shift
    if [ -n "${CHECK_LOG:-}" ]; then
        "$@" >>"$CHECK_LOG" 2>&1 && ok=1 || ok=0
    else
        "$@" && ok=1 || ok=0
    fi
    if [ "$ok" -eq 1 ]; then
        echo "ok: $label"
        passed=$((passed + 1))
    else
        echo "FAILED: $label"
        failed=$((failed + 1))
    fi
}

generations() {
    python3 -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from generations').fetchone()[0])" "$1/store/index.sqlite"
}

wait_for() {
    local url=$1
    shift
    for _ in $(seq 100); do
        curl -sf "$@" "$url" >/dev/null && return 0
        sleep 0.1
    done
    return 1
}

finish() {
    local name=$1 output=$2 result inner_passed inner_failed
    printf '%s\n' "$output" | grep -v '^RESULT'
    result=$(printf '%s\n' "$output" | grep '^RESULT' || echo "RESULT 0 1")
    read -r _ inner_passed inner_failed <<<"$result"
    passed=$((passed + inner_passed))
    failed=$((failed + inner_failed))
    if [ "$failed" -ne 0 ] && [ -n "${CHECK_LOG:-}" ] && [ -f "$CHECK_LOG" ]; then
        echo "--- $CHECK_LOG (last 40 lines)"
        tail -40 "$CHECK_LOG"
    fi
    echo "$name: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}
