# shellcheck shell=bash
# Helpers shared by the shell test scripts (and scripts/test); sourced by
# them. Sourcing sets an EXIT trap that runs what `at_exit` registered.
#
#   check LABEL COMMAND...  run COMMAND, print "ok: LABEL" or "FAILED: LABEL"
#                           and count it. COMMAND's output goes to $CHECK_LOG
#                           when set; labels get $CHECK_PREFIX in front.
#   wait_for URL [ARG...]   poll URL with curl (extra ARGs passed on) for up
#                           to 10 seconds.
#   generations HOME        print how many index generations HOME has
#                           committed (a refused collect must not add one).
#   add_result OUTPUT       add the "RESULT passed failed" line of an in_gap
#                           run's OUTPUT to the counts and print the rest of
#                           OUTPUT; a run without that line counts as one
#                           failure.
#   summary NAME            on a failure, print the tail of $CHECK_LOG; end
#                           with "NAME: N passed, M failed"; return non-zero
#                           on any failure or when nothing passed.
#   finish NAME OUTPUT      add_result OUTPUT, then summary NAME.
#
# Clean-up, so that a suite leaves no server and no temporary directory
# behind, whether it passes, fails or is interrupted:
#
#   at_exit COMMAND...      run COMMAND when the shell exits (last registered,
#                           first run).
#   work_dir PREFIX         set WORK to a new /tmp/PREFIX.XXXXXX, removed at
#                           exit (kept, and named on stderr, when KEEP is set).
#   start_server HOME PORT [SERVE_ARG...]
#                           start `$AIRLIFT --home HOME serve --listen
#                           127.0.0.1:PORT SERVE_ARG...` in the background
#                           (output appended to ${SERVE_LOG:-$WORK/serve.log}),
#                           set SERVER to its pid, stop it at exit, and wait
#                           until /healthz answers (https with HOME's CA when
#                           SERVE_ARG has --tls); fails when it does not
#                           answer within 10 seconds.
#   stop_server PID         stop a process that start_server (or
#                           stop_at_exit) registered, and wait for it.
#   stop_at_exit PID        stop background process PID at exit.
#
# The isolated side:
#
#   in_gap [--mount] COMMAND [ARG...]
#                           run COMMAND (usually a function of this shell)
#                           in a new bash in a new network namespace that
#                           has only loopback (and, with --mount, a mount
#                           namespace of its own), with `set -euo pipefail`
#                           and fresh counts. It has this shell's functions
#                           but only its exported variables: export what
#                           COMMAND reads. Prints COMMAND's output, ending
#                           with "RESULT passed failed" when it ran a check
#                           (for finish); returns its exit status. Every
#                           process still in the namespace when COMMAND
#                           ends is stopped. Not as root, a user namespace
#                           maps the caller to root.
#   check_only_loopback     check that loopback is the only interface.

passed=${passed:-0}
failed=${failed:-0}
CLEANUP=()

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

add_result() {
    local output=$1 result inner_passed inner_failed
    printf '%s\n' "$output" | grep -v '^RESULT' || true
    result=$(printf '%s\n' "$output" | grep '^RESULT' || echo "RESULT 0 1")
    read -r _ inner_passed inner_failed <<<"$result"
    passed=$((passed + inner_passed))
    failed=$((failed + inner_failed))
}

finish() {
    add_result "$2"
    summary "$1"
}

summary() {
    local name=$1
    if [ "$failed" -ne 0 ] && [ -n "${CHECK_LOG:-}" ] && [ -f "$CHECK_LOG" ]; then
        echo "--- $CHECK_LOG (last 40 lines)"
        tail -40 "$CHECK_LOG"
    fi
    echo "$name: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}

# --- clean-up -------------------------------------------------------------

# Each entry is one command, its words quoted for eval.
at_exit() {
    CLEANUP+=("$(printf '%q ' "$@")")
}

run_cleanup() {
    local i
    for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUP[i]}" || true
    done
    CLEANUP=()
}
trap run_cleanup EXIT
# Interrupted, the shell exits through its EXIT trap too.
trap 'exit 130' INT
trap 'exit 143' TERM

remove_unless_kept() {
    if [ -n "${KEEP:-}" ]; then
        echo "kept $1" >&2
    else
        rm -rf "$1"
    fi
}

work_dir() {
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    at_exit remove_unless_kept "$WORK"
}

stop_at_exit() {
    at_exit stop_server "$1"
}

stop_server() {
    local pid=$1 entry i kept=()
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # Forget it, so that its pid, once reused, is not signalled at exit.
    entry=$(printf '%q ' stop_server "$pid")
    for i in "${!CLEANUP[@]}"; do
        [ "${CLEANUP[i]}" = "$entry" ] || kept+=("${CLEANUP[i]}")
    done
    CLEANUP=("${kept[@]}")
}

start_server() {
    local home=$1 port=$2 url=http://127.0.0.1:$2/healthz curl_args=()
    shift 2
    "$AIRLIFT" --home "$home" serve --listen "127.0.0.1:$port" "$@" >>"${SERVE_LOG:-$WORK/serve.log}" 2>&1 &
    SERVER=$!
    stop_at_exit "$SERVER"
    case " $* " in
    *" --tls "*) url=https://127.0.0.1:$port/healthz curl_args=(--cacert "$home/tls/ca.crt") ;;
    esac
    wait_for "$url" "${curl_args[@]}"
}

# --- the isolated side ----------------------------------------------------

in_gap() {
    local namespaces=(--net)
    if [ "$1" = --mount ]; then
        namespaces+=(--mount)
        shift
    fi
    if [ "$(id -u)" -ne 0 ]; then
        namespaces=(--user --map-root-user "${namespaces[@]}")
    fi
    # A new bash: it gets this shell's functions (declare -f) and exported
    # variables, nothing else; its traps clean up as a suite's do.
    unshare "${namespaces[@]}" -- bash -c "$(declare -f)
set -euo pipefail
passed=0
failed=0
CLEANUP=()
trap 'run_cleanup; stop_namespace' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip link set lo up
\"\$@\"
if [ \$((passed + failed)) -gt 0 ]; then echo \"RESULT \$passed \$failed\"; fi" in_gap "$@"
}

# Stops every process in this shell's network namespace but the shell: a
# namespace in_gap made holds only what its function started, and a process
# started under another (a server a guide block runs under its own bash)
# would otherwise outlive the suite, holding the namespace and its port.
stop_namespace() {
    local ns dir pid pids=() alive=() _
    ns=$(readlink "/proc/$$/ns/net")
    for dir in /proc/[0-9]*; do
        pid=${dir#/proc/}
        [ "$pid" != "$$" ] || continue
        [ "$(readlink "$dir/ns/net" 2>/dev/null)" = "$ns" ] && pids+=("$pid")
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
        alive=()
        for pid in "${pids[@]}"; do
            # A zombie is gone for good; only its parent's wait is missing.
            if [ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
                alive+=("$pid")
            fi
        done
        [ ${#alive[@]} -gt 0 ] || break
        sleep 0.1
    done
    [ ${#alive[@]} -eq 0 ] || kill -KILL "${alive[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}

check_only_loopback() {
    local interfaces
    interfaces=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
    check "only loopback exists (interfaces: $interfaces)" test "$interfaces" = "lo "
}
