#!/usr/bin/env bash
# Plain files uploaded inside the gap, with curl, in a network namespace
# with only loopback: a site hosts `ci/*`, user `ci` may write and delete
# there. `curl -T` stores a file (its stated checksum verified), a chunked
# upload too, and the server's memory stays flat while a large one
# streams; a wrong checksum, a path outside the hosted names and an
# anonymous caller are refused with nothing stored; a second PUT replaces
# a file and DELETE removes it; the audit log names the uploader.
#
# Usage: AIRLIFT=path/to/airlift tests/files/run.sh   (as root)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-files
CHECK_LOG=$WORK/files.log
export AIRLIFT WORK CHECK_LOG

# The HTTP status of a curl request.
status() { # curl arguments...
    curl -s -o "$WORK/answer" -w '%{http_code}' "$@"
}

in_namespace() {
    H=$WORK/home
    R=http://127.0.0.1:5071/files
    mkdir -p "$H"
    cat >"$H/access.toml" <<'TOML'
[[hosted]]
ecosystems = ["files"]
names = ["ci/*"]

[[rule]]
ecosystems = ["files"]
read = ["anonymous"]
write = ["ci"]
delete = ["ci"]
TOML
    "$AIRLIFT" --home "$H" user add ci >/dev/null
    TOKEN=$("$AIRLIFT" --home "$H" token create upload --user ci) || true
    check "a token for user ci" test -n "$TOKEN"
    start_server "$H" 5071
    AUTH=(-H "Authorization: Bearer $TOKEN")

    printf 'build 1\n' >"$WORK/app.bin"
    SUM=$(sha256sum "$WORK/app.bin" | cut -d' ' -f1)
    check "curl -T with X-Checksum-Sha256 stores the file (201)" \
        test "$(status "${AUTH[@]}" -H "X-Checksum-Sha256: $SUM" -T "$WORK/app.bin" "$R/ci/app.bin")" = 201
    check "  ... the answer names the stored digest" grep -q "sha256:$SUM" "$WORK/answer"
    check "  ... served byte for byte, anonymously" \
        sh -c "curl -sf '$R/ci/app.bin' | cmp - '$WORK/app.bin'"
    check "  ... and listed" sh -c "curl -sf '$R/' | grep -q '^ci/app.bin 8$'"

    printf 'build 2, longer\n' >"$WORK/app2.bin"
    check "a second PUT replaces it" \
        test "$(status "${AUTH[@]}" -T "$WORK/app2.bin" "$R/ci/app.bin")" = 201
    check "  ... the new bytes are served" sh -c "curl -sf '$R/ci/app.bin' | cmp - '$WORK/app2.bin'"

    check "a chunked upload (no Content-Length) is stored" \
        test "$(printf 'streamed' | status "${AUTH[@]}" -H 'Transfer-Encoding: chunked' -T - "$R/ci/streamed.txt")" = 201
    check "  ... and served" test "$(curl -sf "$R/ci/streamed.txt")" = streamed

    check "a wrong checksum is refused (400)" \
        test "$(status "${AUTH[@]}" -H "X-Checksum-Sha256: $(printf x | sha256sum | cut -d' ' -f1)" -T "$WORK/app.bin" "$R/ci/bad.bin")" = 400
    check "  ... the answer says so" grep -q "checksum mismatch" "$WORK/answer"
    check "  ... and nothing is stored" test "$(status "$R/ci/bad.bin")" = 404
    check "a path outside the hosted names is refused (403)" \
        test "$(status "${AUTH[@]}" -T "$WORK/app.bin" "$R/other/app.bin")" = 403
    check "an anonymous upload is refused (401)" \
        test "$(status -T "$WORK/app.bin" "$R/ci/anon.bin")" = 401
    check "  ... and nothing is stored" test "$(status "$R/ci/anon.bin")" = 404

    # A large upload streams: the server's peak memory grows by far less
    # than the file.
    dd if=/dev/urandom of="$WORK/big.bin" bs=1M count=256 status=none
    before=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")
    check "a 256 MiB upload is stored" \
        test "$(status "${AUTH[@]}" -T "$WORK/big.bin" "$R/ci/big.bin")" = 201
    after=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")
    echo "server peak memory: ${before} KiB before, ${after} KiB after a 256 MiB upload"
    check "  ... while the server's peak memory grew by less than 64 MiB" \
        test $((after - before)) -lt 65536
    check "  ... served byte for byte" sh -c "curl -sf '$R/ci/big.bin' | cmp - '$WORK/big.bin'"

    check "DELETE removes a file (204)" \
        test "$(status "${AUTH[@]}" -X DELETE "$R/ci/streamed.txt")" = 204
    check "  ... it is gone" test "$(status "$R/ci/streamed.txt")" = 404
    check "  ... a second DELETE finds nothing (404)" \
        test "$(status "${AUTH[@]}" -X DELETE "$R/ci/streamed.txt")" = 404
    check "the audit log names the uploader" \
        sh -c "'$AIRLIFT' --home '$H' --json audit export | grep -q 'put /files/ci/app.bin' && '$AIRLIFT' --home '$H' --json audit export | grep -q '\"principal\": *\"ci\"'"
}

output=$(in_gap in_namespace 2>&1) || true
finish files "$output"
