#!/usr/bin/env bash
# End to end across a real gap.
#
# Connected side (this namespace): a loopback HTTP upstream → collect → keys
# init → pack (split .tar.zst). Isolated side: a fresh network namespace with
# only loopback (`unshare --net`), where any hidden internet dependency fails:
# init trust → verify → import → serve → curl every file back and compare
# SHA-256. Then a full disk: a home on a small tmpfs refuses a bundle that does
# not fit, loses nothing, and imports it once there is room; and a registry
# push that hits a full disk gets 507 and gives the space back.
#
# Needs root (namespaces, mounts). Usage: AIRLIFT=path/to/airlift tests/e2e/gap.sh
set -euo pipefail

AIRLIFT=${AIRLIFT:?set AIRLIFT to the airlift binary}
AIRLIFT=$(realpath "$AIRLIFT")
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
work_dir airlift-e2e

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- connected side -------------------------------------------------------
mkdir -p "$WORK/upstream/pool" "$WORK/media"
head -c 3000000 /dev/urandom >"$WORK/upstream/pool/tool.bin"
seq 1 200000 >"$WORK/upstream/pool/numbers.txt"
printf 'hello across the gap\n' >"$WORK/upstream/pool/hello.txt"
: >"$WORK/upstream/pool/empty.txt"
PORT=$(free_port)
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/upstream" >/dev/null 2>&1 &
UPSTREAM_PID=$!
stop_at_exit "$UPSTREAM_PID"
wait_for "http://127.0.0.1:$PORT/pool/hello.txt"

{
    echo '[collect]'
    echo 'concurrency = 4'
    for f in tool.bin numbers.txt hello.txt empty.txt; do
        echo
        echo '[[files]]'
        echo "url = \"http://127.0.0.1:$PORT/pool/$f\""
        echo "sha256 = \"$(sha256sum "$WORK/upstream/pool/$f" | cut -c1-64)\""
        echo "path = \"pool/$f\""
    done
} >"$WORK/airlift.toml"

HI="$WORK/connected-home"
check "collect from the loopback upstream" "$AIRLIFT" --home "$HI" collect --config "$WORK/airlift.toml"
check "keys init" "$AIRLIFT" --home "$HI" keys init
check "pack a split .tar.zst" "$AIRLIFT" --home "$HI" pack --out "$WORK/media/transfer.tar.zst" --max-part-size 1M
check "self-check the media before it leaves" \
    "$AIRLIFT" --home "$HI" verify "$WORK/media/transfer.tar.zst.toc.json" --trust "$HI/keys/roots/1.root.json"
cp "$HI/keys/roots/1.root.json" "$WORK/media/root.json"
stop_server "$UPSTREAM_PID"

# --- isolated side, in a network namespace with only loopback --------------
isolated_side() {
    CHECK_PREFIX="[gap] "
    check_only_loopback
    LO="$WORK/isolated-home"
    check "init trust" "$AIRLIFT" --home "$LO" init --trust "$WORK/media/root.json"
    check "verify" "$AIRLIFT" --home "$LO" verify "$WORK/media/transfer.tar.zst.toc.json"
    check "plan" "$AIRLIFT" --home "$LO" plan "$WORK/media/transfer.tar.zst.toc.json"
    check "import" "$AIRLIFT" --home "$LO" import "$WORK/media/transfer.tar.zst.toc.json"
    check "fsck" "$AIRLIFT" --home "$LO" fsck
    start_server "$LO" 8080
    for f in tool.bin numbers.txt hello.txt empty.txt; do
        want=$(sha256sum "$WORK/upstream/pool/$f" | cut -c1-64)
        got=$(curl -sf "http://127.0.0.1:8080/files/pool/$f" | sha256sum | cut -c1-64)
        check "served pool/$f matches ($got)" test "$want" = "$got"
    done
    range=$(curl -sf -H 'Range: bytes=0-5' http://127.0.0.1:8080/files/pool/numbers.txt | tr '\n' ',')
    check "range request" test "$range" = "1,2,3,"
    code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/files/pool/absent)
    check "missing file is 404" test "$code" = 404
    check "metrics count the requests" sh -c "curl -sf http://127.0.0.1:8080/metrics | grep -q 'airlift_http_requests_total{route=\"files\",status=\"200\"} 4'"
    stop_server "$SERVER"

    # Full disk: a home on a 5 MiB tmpfs, mostly filled, cannot hold the 4 MB of blobs
    # (quarantine plus store), so the import must fail cleanly.
    SMALL="$WORK/small"
    mkdir -p "$SMALL"
    mount -t tmpfs -o size=5M tmpfs "$SMALL"
    "$AIRLIFT" --home "$SMALL/home" init --trust "$WORK/media/root.json" >/dev/null
    head -c 4500000 /dev/zero >"$SMALL/filler"
    out=$("$AIRLIFT" --home "$SMALL/home" import "$WORK/media/transfer.tar.zst.toc.json" 2>&1) && status=0 || status=$?
    check "full disk: import refused (exit $status)" test "$status" -ne 0
    check "full disk: the error says so" sh -c "printf '%s' \"\$1\" | grep -qi 'no space left'" _ "$out"
    check "full disk: nothing was published" sh -c "! '$AIRLIFT' --home '$SMALL/home' plan '$WORK/media/transfer.tar.zst.toc.json' | grep -q 'already imported'"
    check "full disk: quarantine cleaned" sh -c "[ \$(ls '$SMALL/home/quarantine' | wc -l) -eq 0 ]"
    rm "$SMALL/filler"
    mount -o remount,size=64M "$SMALL"
    check "full disk: import succeeds once there is room" "$AIRLIFT" --home "$SMALL/home" import "$WORK/media/transfer.tar.zst.toc.json"
    check "full disk: fsck clean afterwards" "$AIRLIFT" --home "$SMALL/home" fsck
    umount "$SMALL"

    # Full disk during a push: a registry home on an 8 MiB tmpfs with about 3 MiB
    # free. A 4 MB chunk fails with 507 and a message that says so, and is cut
    # back off its session, so a 1 MB blob pushed next still fits and the
    # session itself goes on.
    PUSH="$WORK/push"
    mkdir -p "$PUSH"
    mount -t tmpfs -o size=8M tmpfs "$PUSH"
    # Pushes need a user: anonymous callers only read.
    "$AIRLIFT" --home "$PUSH/home" user add ci >/dev/null
    auth="Authorization: Bearer $("$AIRLIFT" --home "$PUSH/home" token create push --user ci)"
    start_server "$PUSH/home" 8081
    head -c 4000000 /dev/urandom >"$WORK/chunk.bin"
    head -c 1000000 /dev/urandom >"$WORK/small.bin"
    location=$(curl -sf -D - -o /dev/null -H "$auth" -X POST http://127.0.0.1:8081/v2/team/app/blobs/uploads/ |
        tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
    available=$(df -k --output=avail "$PUSH" | tail -1)
    head -c $(((available - 3072) * 1024)) /dev/zero >"$PUSH/filler"
    out=$(curl -s -w '\n%{http_code}' -H "$auth" -X PATCH -H 'Content-Type: application/octet-stream' \
        --data-binary @"$WORK/chunk.bin" "http://127.0.0.1:8081$location" 2>&1) || true
    code=${out##*$'\n'}
    check "full disk push: the chunk gets 507 ($code)" test "$code" = 507
    check "full disk push: the answer says the disk is full" sh -c "printf '%s' \"\$1\" | grep -q 'disk is full'" _ "$out"
    check "full disk push: the chunk was cut back off its session" test "$(stat -c %s "$PUSH/home/uploads/${location##*/}")" = 0
    digest=sha256:$(sha256sum "$WORK/small.bin" | cut -c1-64)
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" -X POST -H 'Content-Type: application/octet-stream' \
        --data-binary @"$WORK/small.bin" "http://127.0.0.1:8081/v2/team/app/blobs/uploads/?digest=$digest")
    check "full disk push: another blob still fits ($code)" test "$code" = 201
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" -X PATCH -H 'Content-Type: application/octet-stream' \
        --data-binary 'more' "http://127.0.0.1:8081$location")
    check "full disk push: the session goes on ($code)" test "$code" = 202
    stop_server "$SERVER"
    umount "$PUSH"
}

export AIRLIFT WORK
output=$(in_gap --mount isolated_side 2>&1) || true
finish e2e "$output"
