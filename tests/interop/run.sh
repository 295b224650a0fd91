#!/usr/bin/env bash
# Interop test: bundles written by airlift, verified by python-tuf.
#
# Builds a small bundle offline (three local files collected through file://
# URLs), then runs tests/interop/tuf_verify.py, an independent verifier built
# on python-tuf's reference client, on it and on tampered copies:
#
#   accepted: the bundle as packed; the verifier's own --self-test on it;
#             a second site's bundle against that site's own root
#   rejected: a flipped byte in a blob; a flipped byte in metadata/targets.json;
#             an extra unlisted file under targets/blobs/sha256/; a missing
#             blob; the second site's bundle (another key) against the first
#             site's root
#
# Then tests/interop/audit_verify.py checks both sites' audit logs (RFC 6962
# tree, C2SP signed-note checkpoint) and a receipt (DSSE, securesystemslib),
# and rejects an edited log and a receipt whose payload was changed.
#
# Environment:
#   AIRLIFT  path to the airlift binary
#   PYTHON   a python with tests/interop/requirements.txt installed
#
# Prints one line per case and `interop: N passed, M failed`; exits 1 if
# any case failed.
set -euo pipefail

: "${AIRLIFT:?set AIRLIFT to the airlift binary}"
: "${PYTHON:?set PYTHON to a python with tests/interop/requirements.txt installed}"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
verifier="$here/tuf_verify.py"
work=$(mktemp -d "${TMPDIR:-/tmp}/airlift-interop.XXXXXX")
trap 'rm -rf "$work"' EXIT

passed=0
failed=0

summary() {
    echo "interop: $passed passed, $failed failed"
}

pass() {
    passed=$((passed + 1))
    echo "PASS $1"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL $1"
}

# Indents a file (or stdin), so that the verifier's lines stand apart from ours.
indent() {
    sed 's/^/    /' "$@"
}

# run_logged LOG COMMAND...: runs a setup step; on failure shows its output,
# counts the failure and stops (nothing after setup can run without it).
run_logged() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        fail "setup: $*"
        indent "$log"
        summary
        exit 1
    fi
}

# make_site NAME: a home with its own key, three collected files and a packed
# bundle, all under $work/NAME. Needs no network: the URLs are file://.
make_site() {
    local site="$work/$1" i file digest
    mkdir -p "$site/src"
    : >"$site/airlift.toml"
    for i in 1 2 3; do
        file="$site/src/file-$i.txt"
        printf 'interop %s file %s\n' "$1" "$i" >"$file"
        digest=$(sha256sum "$file" | cut -d' ' -f1)
        printf '[[files]]\nurl = "file://%s"\nsha256 = "%s"\n\n' "$file" "$digest" >>"$site/airlift.toml"
    done
    run_logged "$site/collect.log" "$AIRLIFT" --home "$site/home" collect --config "$site/airlift.toml"
    run_logged "$site/keys.log" "$AIRLIFT" --home "$site/home" keys init
    # The pack time is now, so that the metadata has not expired when checked.
    SOURCE_DATE_EPOCH=$(date +%s) run_logged "$site/pack.log" \
        "$AIRLIFT" --home "$site/home" pack --out "$site/bundle"
}

# tamper NAME: a fresh copy of the first site's bundle at $work/NAME.
tamper() {
    cp -R "$work/site/bundle" "$work/$1"
    echo "$work/$1"
}

# flip_byte FILE: flips the lowest bit of the middle byte of FILE, in place.
flip_byte() {
    "$PYTHON" - "$1" <<'PY'
import sys
from pathlib import Path

path = Path(sys.argv[1])
data = bytearray(path.read_bytes())
data[len(data) // 2] ^= 0x01
path.write_bytes(bytes(data))
PY
}

# verify LOG ROOT BUNDLE [ARGS...]: runs the verifier; sets $rc.
verify() {
    local log=$1 root=$2 bundle=$3
    shift 3
    rc=0
    "$PYTHON" "$verifier" --root "$root" "$@" "$bundle" >"$log" 2>&1 || rc=$?
}

# expect_accept NAME ROOT BUNDLE [ARGS...]: every check must pass.
expect_accept() {
    local name=$1 log="$work/$1.log"
    shift
    verify "$log" "$@"
    if [[ $rc -eq 0 ]] && tail -n 1 "$log" | grep -Eq '^tuf-verify: [1-9][0-9]* passed, 0 failed$'; then
        pass "$name accepted ($(tail -n 1 "$log"))"
    else
        fail "$name: must be accepted, verifier exited $rc"
        indent "$log"
    fi
}

# expect_reject NAME PATTERN ROOT BUNDLE: the verifier must exit 1 with a
# failed check whose line starts with `FAIL PATTERN`, so that a crash or an
# unrelated failure does not count as a rejection.
expect_reject() {
    local name=$1 pattern=$2 log="$work/$1.log"
    shift 2
    verify "$log" "$@"
    if [[ $rc -eq 1 ]] && grep -q "^FAIL $pattern" "$log" &&
        tail -n 1 "$log" | grep -Eq '^tuf-verify: [0-9]+ passed, [1-9][0-9]* failed$'; then
        pass "$name rejected ($(tail -n 1 "$log"))"
        grep '^FAIL ' "$log" | indent
    else
        fail "$name: must be rejected by a 'FAIL $pattern' check, verifier exited $rc"
        indent "$log"
    fi
}

make_site site
make_site other
root="$work/site/home/keys/roots/1.root.json"
other_root="$work/other/home/keys/roots/1.root.json"
good="$work/site/bundle"

expect_accept bundle "$root" "$good"
expect_accept self-test "$root" "$good" --self-test
expect_accept other-site-own-root "$other_root" "$work/other/bundle"

bundle=$(tamper flipped-blob)
blob=$(find "$bundle/targets/blobs/sha256" -type f | sort | head -n 1)
flip_byte "$blob"
expect_reject flipped-blob "target blobs/sha256/" "$root" "$bundle"

bundle=$(tamper flipped-targets)
flip_byte "$bundle/metadata/targets.json"
expect_reject flipped-targets "tuf refresh" "$root" "$bundle"

# The extra file is named for its own digest, so only the listing check can
# catch it.
bundle=$(tamper extra-blob)
printf 'not in targets.json\n' >"$work/extra"
extra=$(sha256sum "$work/extra" | cut -d' ' -f1)
mv "$work/extra" "$bundle/targets/blobs/sha256/$extra"
expect_reject extra-blob "unlisted file" "$root" "$bundle"

bundle=$(tamper missing-blob)
rm "$(find "$bundle/targets/blobs/sha256" -type f | sort | head -n 1)"
expect_reject missing-blob "target blobs/sha256/" "$root" "$bundle"

expect_reject other-key "tuf refresh" "$root" "$work/other/bundle"

# The audit log and a signed receipt, checked by independent code: the
# RFC 6962 tree and the C2SP signed note with hashlib and pyca/cryptography,
# the DSSE envelope with securesystemslib.
audit="$here/audit_verify.py"
# expect_python NAME accept|reject ARGS...
expect_python() {
    local name=$1 want=$2 log="$work/$1.log" code=0
    shift 2
    "$PYTHON" "$audit" "$@" >"$log" 2>&1 || code=$?
    if { [[ $want == accept ]] && [[ $code -eq 0 ]] && grep -q '^PASS' "$log"; } ||
        { [[ $want == reject ]] && [[ $code -eq 1 ]] && grep -q '^FAIL' "$log"; }; then
        pass "$name ${want}ed ($(head -n 1 "$log"))"
    else
        fail "$name: must be ${want}ed, exited $code"
        indent "$log"
    fi
}
expect_python audit-log accept log "$work/site/home"
isolated="$work/isolated"
run_logged "$work/init.log" "$AIRLIFT" --home "$isolated" init --trust "$root"
run_logged "$work/import.log" "$AIRLIFT" --home "$isolated" import "$good"
run_logged "$work/receipt.log" "$AIRLIFT" --home "$isolated" receipt export --out "$work/receipt.json"
expect_python isolated-audit-log accept log "$isolated"
expect_python receipt accept dsse "$work/receipt.json"
"$PYTHON" - "$work/receipt.json" "$work/forged-receipt.json" <<'PY'
import base64, json, sys
envelope = json.load(open(sys.argv[1]))
payload = json.loads(base64.b64decode(envelope["payload"]))
payload["blobs"] = []
envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
json.dump(envelope, open(sys.argv[2], "w"))
PY
expect_python forged-receipt reject dsse "$work/forged-receipt.json"
grep -q 'VerificationError' "$work/forged-receipt.log" || fail "forged-receipt: rejected for another reason than its signature"
cp -R "$work/site/home" "$work/tampered-home"
sed -i '1s/"collect"/"kollect"/' "$work/tampered-home/audit/log.jsonl"
expect_python edited-audit-log reject log "$work/tampered-home"

summary
[[ $failed -eq 0 ]]
