#!/usr/bin/env bash
# The shell suites' own helpers (tests/lib.sh), checked where a mistake would
# not show as a failed check elsewhere: a process left in an in_gap
# namespace is stopped, a gap function that stops part-way counts as a
# failure, start_server fails when /healthz does not answer in time, and the
# work directory and servers go at exit, also when the suite fails.
#
# Usage: AIRLIFT=path/to/airlift tests/helpers/run.sh   (as root)
set -euo pipefail

AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-helpers
export AIRLIFT WORK

# gone PID: PID has exited (a zombie has exited too: only its reaping is left).
gone() {
    [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# A grandchild (not a job of the namespace's shell) and a server, both left
# running when the function returns.
leave_running() {
    bash -c 'sleep 600 & echo $! >"$1"; wait' _ "$WORK/stray.pid" >/dev/null 2>&1 &
    start_server "$WORK/home" 5990
    echo "$SERVER" >"$WORK/server.pid"
    check "the server answers once start_server returns" curl -sf -o /dev/null http://127.0.0.1:5990/readyz
}
output=$(in_gap leave_running 2>&1) || true
add_result "$output"
stray=$(cat "$WORK/stray.pid")
stop_at_exit "$stray"
check "in_gap: a process left in the namespace is stopped" gone "$stray"
check "in_gap: a server left running is stopped" gone "$(cat "$WORK/server.pid")"

stops_part_way() {
    check "counted" true
    false
    check "never reached" true
}
output=$(in_gap stops_part_way 2>&1) && status=0 || status=$?
check "in_gap: a function that stops part-way fails ($status)" test "$status" -ne 0
check "  ... and prints no RESULT line, so that finish counts a failure" sh -c "! printf '%s\n' \"\$1\" | grep -q '^RESULT'" _ "$output"

port_taken() {
    python3 -m http.server -b 127.0.0.1 5991 >/dev/null 2>&1 &
    wait_for http://127.0.0.1:5991/
    # The port is taken, so what answers there is not airlift: /healthz is 404.
    if start_server "$WORK/home2" 5991; then failed_in_time=no; else failed_in_time=yes; fi
    check "start_server fails when /healthz does not answer in time" test "$failed_in_time" = yes
}
output=$(in_gap port_taken 2>&1) || true
add_result "$output"

# A suite's work directory and servers go when it exits, also on a failure.
bash -c '
    set -e
    source "$1"
    work_dir airlift-helpers-inner
    echo "$WORK" >"$2/inner.work"
    start_server "$WORK/home" 5992
    echo "$SERVER" >"$2/inner.server"
    false
    ' _ "$ROOT/tests/lib.sh" "$WORK" >/dev/null 2>&1 || true
inner_server=$(cat "$WORK/inner.server")
stop_at_exit "$inner_server"
check "a suite that fails leaves no work directory" test ! -e "$(cat "$WORK/inner.work")"
check "  ... and no server" gone "$inner_server"
summary helpers
