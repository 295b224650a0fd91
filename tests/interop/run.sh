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
# tree, C2SP signed-note checkpoint), a receipt (DSSE, securesystemslib) and
# a chain of hand-off statements (DSSE with securesystemslib, in-toto
# Statement v1 shape, links), and rejects an edited log, a receipt whose
# payload was changed and a forged hand-off. Last, tests/interop/
# adversarial.py makes attack bundles with python-tuf's Metadata API (and by
# hand), re-signed with the site's own key, and airlift must refuse each:
# mix-and-match metadata, a rolled-back snapshot, an expired timestamp, a
# root chain that skips a version, and a threshold of 2 met by one key
# signing twice.
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
# Hand-off statements, checked by securesystemslib (DSSE) and for the
# in-toto Statement v1 shape and the links between them.
run_logged "$work/keys-new.log" "$AIRLIFT" --home "$work/site/home" keys new courier --dir "$work/people"
run_logged "$work/keys-new2.log" "$AIRLIFT" --home "$work/site/home" keys new carrier --dir "$work/people"
run_logged "$work/handoff1.log" "$AIRLIFT" --home "$work/site/home" custody sign "$good" --as courier --to carrier --key "$work/people/courier.pk8" --note "bag 77"
run_logged "$work/handoff2.log" "$AIRLIFT" --home "$work/site/home" custody sign "$good" --as carrier --to site --key "$work/people/carrier.pk8"
bundle_hex=$(sha256sum "$good/metadata/timestamp.json" | cut -d' ' -f1)
expect_python handoffs accept handoffs "$good.custody.jsonl" "$bundle_hex" "$work/people/courier.pub.json" "$work/people/carrier.pub.json"
"$PYTHON" - "$good.custody.jsonl" "$work/forged.custody.jsonl" <<'PY'
import base64, json, sys
lines = open(sys.argv[1]).read().splitlines()
envelope = json.loads(lines[1])
statement = json.loads(base64.b64decode(envelope["payload"]))
statement["predicate"]["to"] = "mallory"
envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
open(sys.argv[2], "w").write(lines[0] + "\n" + json.dumps(envelope) + "\n")
PY
expect_python forged-handoff reject handoffs "$work/forged.custody.jsonl" "$bundle_hex" "$work/people/courier.pub.json" "$work/people/carrier.pub.json"

# Adversarial bundles made with python-tuf's Metadata API (and by hand),
# re-signed with the site's own key so that only a TUF rule can refuse them.
run_logged "$work/pack-b.log" "$AIRLIFT" --home "$work/site/home" pack --out "$work/site/bundle-b" --bundle-version "$(( $(date +%s) + 100 ))"
run_logged "$work/adversarial.log" "$PYTHON" "$here/adversarial.py" "$work/site/home/keys/site-ed25519.pk8" "$good" "$work/site/bundle-b" "$work/adversarial"
# expect_refused CASE PATTERN: a home that imported the first bundle
# refuses the case with PATTERN in the message and still imports bundle-b.
expect_refused() {
    local name=$1 pattern=$2 home="$work/adv-home-$1" log="$work/adv-$1.log" code=0
    run_logged "$work/adv-init-$name.log" "$AIRLIFT" --home "$home" init --trust "$root"
    run_logged "$work/adv-import-$name.log" "$AIRLIFT" --home "$home" import "$good"
    "$AIRLIFT" --home "$home" import "$work/adversarial/$name" >"$log" 2>&1 || code=$?
    if [[ $code -eq 3 ]] && grep -q -- "$pattern" "$log" &&
        "$AIRLIFT" --home "$home" import "$work/site/bundle-b" >>"$log" 2>&1; then
        pass "$name refused by airlift ($(grep -o -- "$pattern" "$log" | head -n 1))"
    else
        fail "$name: airlift must refuse it (exit 3, '$pattern') and still import the next good bundle; exited $code"
        indent "$log"
    fi
}
expect_refused mix-and-match "Hash mismatch"
expect_refused rolled-back-snapshot "Snapshot version 1 in timestamp"
expect_refused expired-timestamp "timestamp metadata is expired"
expect_refused skipped-root "the root chain skips version 2"
expect_refused duplicate-signatures "targets: signed by .* 1 of the 2 required"

cp -R "$work/site/home" "$work/tampered-home"
sed -i '1s/"collect"/"kollect"/' "$work/tampered-home/audit/log.jsonl"
expect_python edited-audit-log reject log "$work/tampered-home"

summary
[[ $failed -eq 0 ]]
