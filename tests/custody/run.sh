#!/usr/bin/env bash
# Hardware-held keys through PKCS#11, with SoftHSM2 from Debian as the token.
#
# A connected side makes its targets (approver) key inside the token with
# `keys new --pkcs11`, rotates its root to it, and packs: the targets
# signature comes from the token. The bundle imports on an isolated side
# that trusted root v1, and python-tuf verifies it independently. A courier
# key in the token signs a hand-off statement that the isolated side's
# custody policy requires. A wrong PIN, an unknown token and a missing key
# are clear errors. The private keys never exist outside the token: only
# NAME.pkcs11 (the URI, without the PIN) is written.
#
# Usage: AIRLIFT=path/to/airlift PYTHON=python-with-tuf tests/custody/run.sh
set -euo pipefail

AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
PYTHON=${PYTHON:?set PYTHON to a python with tests/interop/requirements.txt installed}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-custody
CHECK_LOG=$WORK/custody.log

MODULE=$(dpkg -L softhsm2-common softhsm2 libsofthsm2 2>/dev/null | grep -m1 '/libsofthsm2\.so$' || true)
check "SoftHSM2's PKCS#11 module is installed ($MODULE)" test -f "$MODULE"
mkdir -p "$WORK/tokens"
export SOFTHSM2_CONF=$WORK/softhsm2.conf
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK" >"$SOFTHSM2_CONF"
check "a token is initialised" softhsm2-util --init-token --free --label airlift --pin 1234 --so-pin 5678
echo 1234 >"$WORK/pin"
uri() { echo "pkcs11:token=airlift;object=$1?module-path=$MODULE&pin-source=file:$WORK/pin"; }

H=$WORK/connected
printf 'hello from the token test\n' >"$WORK/f.txt"
printf '[[files]]\nurl = "file://%s"\nsha256 = "%s"\n' "$WORK/f.txt" "$(sha256sum "$WORK/f.txt" | cut -d' ' -f1)" >"$WORK/airlift.toml"
"$AIRLIFT" --home "$H" collect --config "$WORK/airlift.toml" >>"$CHECK_LOG" 2>&1
"$AIRLIFT" --home "$H" keys init >>"$CHECK_LOG" 2>&1
check "keys new --pkcs11 makes an Ed25519 key inside the token" \
    "$AIRLIFT" --home "$H" keys new approver --pkcs11 "$(uri approver)"
check "  ... only the URI is written, without the PIN, and no private key file" \
    sh -c "grep -q '^pkcs11:token=airlift;object=approver' '$H/keys/approver.pkcs11' && ! grep -q 1234 '$H/keys/approver.pkcs11' && test ! -e '$H/keys/approver.pk8'"
cat >"$WORK/roles.toml" <<TOML
[roles.root]
threshold = 1
keys = ["$H/keys/site-ed25519.pub.json"]
[roles.targets]
threshold = 1
keys = ["$H/keys/approver.pub.json"]
[roles.snapshot]
threshold = 1
keys = ["$H/keys/site-ed25519.pub.json"]
[roles.timestamp]
threshold = 1
keys = ["$H/keys/site-ed25519.pub.json"]
TOML
check "rotate the root: targets are signed by the token's key" \
    "$AIRLIFT" --home "$H" keys rotate --policy "$WORK/roles.toml"
# Token keys are opened only when a role needs them.
printf 'directories.tokendir = %s/no-tokens\n' "$WORK" >"$WORK/absent.conf"
mkdir -p "$WORK/no-tokens"
check "with the token absent, keys list still works" \
    sh -c "SOFTHSM2_CONF='$WORK/absent.conf' '$AIRLIFT' --home '$H' keys list | grep -q 'targets: 1 of approver'"
check "  ... and pack fails clearly, naming the token key it needs" \
    sh -c "! SOFTHSM2_CONF='$WORK/absent.conf' '$AIRLIFT' --home '$H' pack --out '$WORK/no-bundle' 2>'$WORK/err' && grep -q 'PKCS#11 key pkcs11:token=airlift;object=approver.*no token labelled' '$WORK/err'"
check "pack signs targets in the token" "$AIRLIFT" --home "$H" pack --out "$WORK/bundle"
G=$WORK/gap
"$AIRLIFT" --home "$G" init --trust "$H/keys/roots/1.root.json" >>"$CHECK_LOG" 2>&1
check "the isolated side imports it, walking to root v2" "$AIRLIFT" --home "$G" import "$WORK/bundle"
check "python-tuf verifies the bundle independently" \
    sh -c "'$PYTHON' '$ROOT/tests/interop/tuf_verify.py' --root '$H/keys/roots/1.root.json' '$WORK/bundle' | tail -n 1 | grep -Eq '^tuf-verify: [1-9][0-9]* passed, 0 failed$'"

# A courier's key in the token signs a hand-off the site's policy requires.
check "a courier key in the token" "$AIRLIFT" --home "$H" keys new courier --pkcs11 "$(uri courier)" --dir "$WORK/people"
"$AIRLIFT" --home "$H" pack --out "$WORK/bundle2" --bundle-version "$(( $(date +%s) + 60 ))" >>"$CHECK_LOG" 2>&1
printf 'required = ["courier"]\nmin-handoffs = 1\n[signers]\ncourier = "%s/people/courier.pub.json"\n' "$WORK" >"$WORK/custody.toml"
"$AIRLIFT" --home "$G" custody policy "$WORK/custody.toml" >>"$CHECK_LOG" 2>&1
check "without the hand-off the import is refused" \
    sh -c "! '$AIRLIFT' --home '$G' import '$WORK/bundle2' 2>'$WORK/err' && grep -q 'custody policy requires hand-off statements' '$WORK/err'"
check "custody sign with the token's key (the URI given as --key)" \
    "$AIRLIFT" --home "$H" custody sign "$WORK/bundle2" --as courier --to site --key "$(uri courier)" --note "USB serial 0042"
check "  ... and the import accepts the chain" \
    sh -c "'$AIRLIFT' --home '$G' import '$WORK/bundle2' | grep -q 'hand-off 1: courier to site'"

check "a wrong PIN is a clear error" \
    sh -c "! '$AIRLIFT' --home '$H' approve '$WORK/none.json' --key 'pkcs11:token=airlift;object=approver?module-path=$MODULE&pin-value=9999' 2>'$WORK/err' && grep -q 'PKCS#11 key pkcs11:token=airlift;object=approver.*login refused' '$WORK/err' && ! grep -q 9999 '$WORK/err'"
check "an unknown token is a clear error" \
    sh -c "! '$AIRLIFT' --home '$H' approve '$WORK/none.json' --key 'pkcs11:token=nosuch;object=x?module-path=$MODULE&pin-value=1234' 2>'$WORK/err' && grep -q 'no token labelled \"nosuch\"' '$WORK/err'"
check "a missing key is a clear error" \
    sh -c "! '$AIRLIFT' --home '$H' approve '$WORK/none.json' --key 'pkcs11:token=airlift;object=nosuch?module-path=$MODULE&pin-value=1234' 2>'$WORK/err' && grep -q 'holds no key pair labelled \"nosuch\"' '$WORK/err'"

summary custody
