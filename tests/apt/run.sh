#!/usr/bin/env bash
# Debian packages across a gap, with apt-get and mmdebstrap themselves.
#
# Connected side: fixture .debs built with dpkg-deb and published by
# reprepro, signed with a gpg key made here (tests/apt/fixtures.sh), are one
# upstream on loopback; the machine's own Debian mirror, read from its apt
# sources at run time (never written here), is the other. airlift collects
# the closure of `hello-app` from the fixtures and the essential set plus
# apt and curl from the mirror, and refuses bad upstream input (a tampered
# index, a .deb whose hash differs, a Release by an unknown key, an expired
# or moved Release, a decompression bomb, an unsatisfiable dependency) with
# the package named and the index unchanged. It packs.
#
# Isolated side, inside network and mount namespaces with only loopback: a second
# home imports and serves. gpgv checks the served signatures with the key
# from `airlift apt key`; apt-get (isolated configuration, configured by
# `airlift client-config apt`) updates, resolves and downloads hello-app and
# refuses the repository under another key; mmdebstrap builds a minimal
# system of the machine's release from airlift alone, and inside that chroot
# apt-get installs curl and hello-app, which run. The newest Debian stable's
# apt-get (from a cached root, tests/newest-debian.sh) updates, installs
# hello-app and refuses the repository under another key too. A second
# server on the same home requires credentials (`serve --access`): both
# apts update and fetch with a login in auth.conf.d, and fail with 401
# without one or with a revoked token.
#
# Usage: AIRLIFT=path/to/airlift tests/apt/run.sh   (as root)
set -euo pipefail

AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-apt
CHECK_LOG=$WORK/apt.log
HERE=$ROOT/tests/apt
export AIRLIFT WORK CHECK_LOG HERE
unmount_rootfs() {
    # mmdebstrap leaves nothing mounted on success; be safe on failure.
    for m in proc sys dev/pts dev; do umount -l "$WORK/rootfs/$m" 2>/dev/null || true; done
}
at_exit unmount_rootfs

# --- the upstreams ----------------------------------------------------------
"$HERE/fixtures.sh" "$WORK/fx" >>"$CHECK_LOG" 2>&1
mkdir -p "$WORK/www"
cp -a "$WORK/fx/repo" "$WORK/www/fixtures"
python3 -m http.server -d "$WORK/www" -b 127.0.0.1 5060 >>"$WORK/upstream.log" 2>&1 &
upstream=$!
stop_at_exit "$upstream"
wait_for http://127.0.0.1:5060/fixtures/dists/fixtures/InRelease || { echo "apt: the fixture upstream did not start on 127.0.0.1:5060 (port in use?)"; exit 1; }

# The machine's Debian mirror and release, from its own configuration.
# shellcheck source=lib.sh
source "$HERE/lib.sh"
KEYRING=$DEBIAN_KEYRING
check "the machine's Debian mirror for $CODENAME is configured ($MIRROR)" test -n "$MIRROR" -a -f "$KEYRING"

cp "$WORK/fx/upstream.asc" "$WORK/upstream.asc"
cat >"$WORK/airlift.toml" <<TOML
[[apt]]
name = "fixtures"
url = "http://127.0.0.1:5060/fixtures"
suites = ["fixtures"]
components = ["main", "extra"]
architectures = ["amd64"]
keyring = "upstream.asc"
packages = ["hello-app"]

[[apt]]
name = "debian"
url = "$MIRROR"
suites = ["$CODENAME"]
components = ["main"]
architectures = ["amd64"]
keyring = "$KEYRING"
essential = true
packages = ["apt", "curl"]
TOML

HI=$WORK/connected
check "collect the fixtures' closure and a minimal $CODENAME with apt and curl" \
    sh -c "'$AIRLIFT' --home '$HI' --json collect --config '$WORK/airlift.toml' >'$WORK/collect.json'"
check "  ... 5 fixture packages and the $CODENAME set (more than 85 packages)" \
    python3 -c "import json,sys; d=json.load(open('$WORK/collect.json')); sys.exit(not d['debian_packages'] > 85)"

# --- bad upstream input ---------------------------------------------------
# A home of its own, whose store has none of the fixture files yet (a
# file already stored under its expected digest is never fetched again).
HB=$WORK/bad-home
printf '[collect]\n' >"$WORK/empty.toml"
"$AIRLIFT" --home "$HB" collect --config "$WORK/empty.toml" >>"$CHECK_LOG" 2>&1
before=$(generations "$HB")
variant() { # name: a copy of the fixture archive to spoil
    rm -rf "$WORK/www/$1"
    cp -a "$WORK/fx/repo" "$WORK/www/$1"
    echo "$WORK/www/$1"
}
resign() { # dir: re-sign dists/fixtures/Release with the fixture key
    local d=$1/dists/fixtures
    rm -f "$d/InRelease" "$d/Release.gpg"
    GNUPGHOME=$WORK/fx/gnupg gpg --batch --quiet --clearsign -o "$d/InRelease" "$d/Release" 2>/dev/null
}
fixture_toml() { # out url-path suite keyring packages: one [[apt]] on a fixture variant
    cat >"$1" <<TOML
[[apt]]
name = "fixtures"
url = "http://127.0.0.1:5060/$2"
suites = ["$3"]
components = ["main"]
architectures = ["amd64"]
keyring = "$4"
packages = [$5]
TOML
}
bad_collect() { # label url-path keyring packages expect [suite]
    local label=$1 path=$2 keyring=$3 packages=$4 expect=$5 suite=${6:-fixtures}
    fixture_toml "$WORK/bad.toml" "$path" "$suite" "$keyring" "$packages"
    check "bad input refused: $label" sh -c "! '$AIRLIFT' --home '$HB' collect --config '$WORK/bad.toml' 2>'$WORK/bad.err'"
    check "  ... the message names it: $expect" grep -q -- "$expect" "$WORK/bad.err"
    check "  ... and the index is unchanged" test "$(generations "$HB")" = "$before"
}

d=$(variant tampered)
gzip -dc "$d/dists/fixtures/main/binary-amd64/Packages.gz" | sed 's/^Version: 2.1$/Version: 2.2/' | gzip -9n >"$d/x.gz"
mv "$d/x.gz" "$d/dists/fixtures/main/binary-amd64/Packages.gz"
bad_collect "a tampered Packages index" tampered upstream.asc '"hello-app"' \
    "main/binary-amd64/Packages.gz: the file hashes to .*, the signed Release says .*tampered"

d=$(variant baddeb)
cp "$d/pool/main/u/unrelated/unrelated_1.0_amd64.deb" "$d/pool/main/h/hello-app/hello-app_1.0_amd64.deb"
bad_collect "a .deb whose hash differs from its index" baddeb upstream.asc '"hello-app"' \
    "fixtures: hello-app 1.0: pool/main/h/hello-app/hello-app_1.0_amd64.deb hashes to .*, the signed Packages index says"

bad_collect "a Release signed by an unknown key" fixtures "$KEYRING" '"hello-app"' \
    "fixtures fixtures: .*InRelease: no signature by a key of the keyring"

bad_collect "an unsatisfiable dependency" fixtures upstream.asc '"broken-app"' \
    "does-not-exist (>= 1): no package satisfies it (needed by: broken-app 1.0 (amd64)"
bad_collect "a package that does not exist" fixtures upstream.asc '"nosuch-app (>= 2)"' \
    "nosuch-app (>= 2): no package satisfies it"

d=$(variant forged)
sed -i 's/^Label: Fixtures$/Label: Forged/' "$d/dists/fixtures/InRelease"
bad_collect "an InRelease edited after signing" forged upstream.asc '"hello-app"' \
    "InRelease: BAD signature by"

d=$(variant expired)
sed -i 's/^Date: .*/&\nValid-Until: Sat, 01 Jan 2000 00:00:00 UTC/' "$d/dists/fixtures/Release"
resign "$d"
bad_collect "an expired Release" expired upstream.asc '"hello-app"' "the Release expired at 2000-01-01"

d=$(variant moved)
mv "$d/dists/fixtures" "$d/dists/stable-x"
bad_collect "a Release served under another suite (mix-and-match)" moved upstream.asc '"hello-app"' \
    'the signed Release is for suite "?"\? (codename "fixtures"), not "stable-x": refused as mix-and-match' stable-x

d=$(variant detached)
rm "$d/dists/fixtures/InRelease"
fixture_toml "$WORK/detached.toml" detached fixtures upstream.asc '"hello-app"'
check "an archive without InRelease: Release + Release.gpg verified instead" \
    sh -c "'$AIRLIFT' --home '$WORK/detached-home' --json collect --config '$WORK/detached.toml' | grep -q '\"debian_packages\": 5'"
cp "$d/dists/fixtures/Release" "$d/Release.orig"
sed -i 's/^Label: Fixtures$/Label: Forged/' "$d/dists/fixtures/Release"
bad_collect "a Release that no longer matches its Release.gpg" detached upstream.asc '"hello-app"' \
    "Release.gpg: BAD signature by"
rm "$d/dists/fixtures/Release.gpg"
cp "$d/Release.orig" "$d/dists/fixtures/Release"
bad_collect "an unsigned archive (no InRelease, no Release.gpg)" detached upstream.asc '"hello-app"' \
    "Release is not signed (no Release.gpg); unsigned archives are refused"

d=$(variant bomb)
python3 - "$d/dists/fixtures" <<'PY'
import gzip, hashlib, os, sys
d = sys.argv[1]
bomb = os.path.join(d, "main/binary-amd64/Packages.gz")
with gzip.GzipFile(bomb, "wb", mtime=0) as f:
    block = b"\0" * (1 << 20)
    for _ in range(256):
        f.write(block)
data = open(bomb, "rb").read()
lines = open(os.path.join(d, "Release")).read().split("\n")
out, section = [], None
for line in lines:
    if line and not line.startswith(" "):
        section = line.split(":")[0]
    if section == "SHA256" and line.endswith(" main/binary-amd64/Packages.gz"):
        line = " %s %d main/binary-amd64/Packages.gz" % (hashlib.sha256(data).hexdigest(), len(data))
    out.append(line)
open(os.path.join(d, "Release"), "w").write("\n".join(out))
PY
resign "$d"
bad_collect "a decompression bomb (256 MiB of zeros behind a listed 3 KB index)" bomb upstream.asc '"hello-app"' \
    "main/binary-amd64/Packages.gz: .*refused as a decompression bomb"

check "keys init" "$AIRLIFT" --home "$HI" keys init
check "pack" "$AIRLIFT" --home "$HI" pack --out "$WORK/media/apt.tar.zst"
stop_server "$upstream"

# The newest Debian stable's apt too, alongside this machine's (the oldest
# supported): a minimal root of that release, built once from the machine's
# mirror and cached outside the clone (tests/newest-debian.sh). No root, no
# pass: the checks that use it fail.
# shellcheck source=../newest-debian.sh
source "$ROOT/tests/newest-debian.sh"
check "a minimal Debian $NEWEST_SUITE root with its apt (built once, cached in $NEWEST_DIR)" newest_root
echo "apt: testing apt $(apt-get --version | awk 'NR == 1 {print $2}') (this machine's, Debian $CODENAME) and apt ${NEWEST_APT_VERSION:-(none)} (Debian $NEWEST_SUITE; root ${NEWEST_BUILT:-not built})"
export NEWEST_DIR NEWEST_SUITE

# --- isolated side --------------------------------------------------------
export CODENAME
# A mount namespace too: whatever mmdebstrap mounts ends with it.
isolated_side() {
    # Not -e: a failed step is left to the checks after it, which fail and say so.
    set +e
    CHECK_PREFIX="[gap] "
    GAP=$WORK/gap
    check "init trust" "$AIRLIFT" --home "$GAP" init --trust "$WORK/connected/keys/roots/1.root.json"
    check "import" "$AIRLIFT" --home "$GAP" import "$WORK/media/apt.tar.zst"
    check "apt key (armored and binary)" sh -c "'$AIRLIFT' --home '$GAP' apt key --out '$WORK/key.asc' && '$AIRLIFT' --home '$GAP' apt key --binary --out '$WORK/key.gpg'"
    FPR=$("$AIRLIFT" --home "$GAP" --json apt key | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
    start_server "$GAP" 5061
    S=http://127.0.0.1:5061/apt/fixtures/dists/fixtures
    curl -sf "$S/InRelease" -o "$WORK/InRelease"
    curl -sf "$S/Release" -o "$WORK/Release"
    curl -sf "$S/Release.gpg" -o "$WORK/Release.gpg"
    check "gpgv verifies InRelease with the site key" sh -c "gpgv --keyring '$WORK/key.gpg' '$WORK/InRelease' 2>&1 | grep -q 'Good signature'"
    check "gpgv verifies Release.gpg over Release" gpgv --keyring "$WORK/key.gpg" "$WORK/Release.gpg" "$WORK/Release"
    check "gpgv refuses the Release under another key" sh -c "! gpgv --keyring '$WORK/fx/upstream.asc' '$WORK/Release.gpg' '$WORK/Release' 2>/dev/null"
    check "the signature is EdDSA with SHA-512 by the site key" sh -c "gpg --list-packets '$WORK/Release.gpg' 2>/dev/null | grep -q 'algo 22' && gpg --list-packets '$WORK/Release.gpg' 2>/dev/null | grep -q 'digest algo 10' && gpg --list-packets '$WORK/Release.gpg' | grep -q '$FPR'"
    check "Release: upstream Origin and Codename, Date, Valid-Until, by-hash; SHA256 only" \
        sh -c "grep -q '^Origin: Fixtures' '$WORK/Release' && grep -q '^Codename: fixtures' '$WORK/Release' && grep -q '^Valid-Until: ' '$WORK/Release' && grep -q '^Acquire-By-Hash: yes' '$WORK/Release' && ! grep -qE '^(MD5Sum|SHA1):' '$WORK/Release'"
    P=$S/main/binary-amd64
    curl -sf "$P/Packages" -o "$WORK/Packages"
    check "Packages: the closure, libgreet 2.1 only (3.0 and unrelated not carried)" \
        test "$(grep '^Package: ' "$WORK/Packages" | sort | tr '\n' ' ')" = "Package: fixture-base Package: fixture-data Package: hello-app Package: libgreet Package: postfix-fixture "
    check "  ... libgreet is 2.1, no MD5 or SHA-1 sums" sh -c "grep -A1 '^Package: libgreet' '$WORK/Packages' | grep -q 'Version: 2.1' && ! grep -qE '^(MD5sum|SHA1):' '$WORK/Packages'"
    check "Packages.xz and Packages.gz decode (xz, gzip) to Packages" \
        sh -c "curl -sf '$P/Packages.xz' | xz -dc | cmp - '$WORK/Packages' && curl -sf '$P/Packages.gz' | gzip -dc | cmp - '$WORK/Packages'"
    XZ=$(awk '/ main\/binary-amd64\/Packages.xz$/ {print $1}' "$WORK/Release")
    check "by-hash serves the index the Release names" sh -c "curl -sf '$P/by-hash/SHA256/$XZ' | sha256sum | grep -q '^$XZ '"
    check "an unknown by-hash digest is 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$P/by-hash/SHA256/$(printf '0%.0s' $(seq 64))")" = 404
    check "/apt/airlift.asc is the same key" sh -c "curl -sf http://127.0.0.1:5061/apt/airlift.asc | cmp - '$WORK/key.asc'"

    # apt-get on this host, in an isolated configuration.
    A=$WORK/aptroot
    source "$HERE/lib.sh"
    apt_root "$A"
    "$AIRLIFT" --home "$GAP" client-config apt --url http://127.0.0.1:5061 | sed "s|/etc/apt/keyrings/airlift.asc|$WORK/key.asc|" >"$A/etc/sources.list.d/airlift.sources"
    check "client-config apt names both archives" sh -c "grep -q 'URIs: http://127.0.0.1:5061/apt/fixtures' '$A/etc/sources.list.d/airlift.sources' && grep -q 'URIs: http://127.0.0.1:5061/apt/debian' '$A/etc/sources.list.d/airlift.sources'"
    export APT_CONFIG=$A/apt.conf
    check "apt-get update verifies the site's signature" sh -c "apt-get update -q 2>&1 | tee '$WORK/update.out' | grep -q 'Reading package lists' && ! grep -qE '^(W|E):' '$WORK/update.out'"
    check "apt-get resolves hello-app with an empty system (the closure is complete)" \
        sh -c "apt-get install -s -q hello-app >'$WORK/sim.out' 2>&1 && grep -q '^Inst libgreet (2.1 ' '$WORK/sim.out' && grep -q '^Inst postfix-fixture ' '$WORK/sim.out'"
    check "apt-get downloads hello-app's closure, checking every .deb" \
        sh -c "apt-get install -y -q --download-only hello-app >/dev/null 2>&1 && ls '$A/cache/archives/' | grep -c '\.deb$' | grep -qx 5"
    sed -i "s|$WORK/key.asc|$WORK/fx/upstream.asc|" "$A/etc/sources.list.d/airlift.sources"
    rm -rf "$A/state/lists"; mkdir -p "$A/state/lists/partial"
    check "apt-get refuses the repository under another key" \
        sh -c "apt-get update -q 2>&1 | grep -qE 'NO_PUBKEY|not signed|is not signed'"
    unset APT_CONFIG

    # The newest Debian stable's apt-get (3.x, which checks signatures with
    # sqv), in a throw-away copy of its root, configured by client-config.
    N=$WORK/newest
    check "a throw-away copy of the $NEWEST_SUITE root" newest_enter "$N"
    mkdir -p "$N/etc/apt/keyrings" "$N/etc/apt/sources.list.d"
    cp "$WORK/key.asc" "$N/etc/apt/keyrings/airlift.asc"
    "$AIRLIFT" --home "$GAP" client-config apt --url http://127.0.0.1:5061 --signed-by /etc/apt/keyrings/airlift.asc \
        >"$N/etc/apt/sources.list.d/airlift.sources"
    check "$NEWEST_SUITE's apt-get update verifies the site's signature" \
        sh -c "chroot '$N' apt-get update -q >'$WORK/newest-update.out' 2>&1 && grep -q 'Reading package lists' '$WORK/newest-update.out' && ! grep -qE '^(W|E|Warning|Error):' '$WORK/newest-update.out'"
    check "$NEWEST_SUITE's apt-get install hello-app (Pre-Depends, alternatives, a virtual, a version range)" \
        chroot "$N" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello-app
    check "  ... hello-app runs against libgreet 2.1" sh -c "chroot '$N' hello-app | grep -qx 'hello from airlift: libgreet 2.1'"
    cp "$WORK/fx/upstream.asc" "$N/etc/apt/keyrings/airlift.asc"
    rm -rf "$N/var/lib/apt/lists"
    mkdir -p "$N/var/lib/apt/lists/partial"
    check "$NEWEST_SUITE's apt-get refuses the repository under another key" \
        sh -c "! chroot '$N' apt-get update -q >'$WORK/newest-refused.out' 2>&1 && grep -qE 'NO_PUBKEY|not signed|Missing key' '$WORK/newest-refused.out'"

    # A second server on the same home that requires credentials: only the
    # user `reader` may read apt, nobody reads anonymously. apt finds the
    # login in an auth.conf.d file; for plain http its `machine` needs the
    # `http://` prefix (an entry without a protocol matches only https).
    cat >"$WORK/access-apt.toml" <<'TOML'
[[rule]]
ecosystems = ["apt"]
read = ["reader"]
write = []
delete = []
TOML
    "$AIRLIFT" --home "$GAP" user add reader >/dev/null
    TOKEN=$("$AIRLIFT" --home "$GAP" token create apt-read --user reader --scope 'apt:*:read')
    check "auth: user add, token create" test -n "$TOKEN"
    start_server "$GAP" 5063 --access "$WORK/access-apt.toml"
    check "auth: an anonymous InRelease request is 401 with WWW-Authenticate: Basic" \
        sh -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:5063/apt/fixtures/dists/fixtures/InRelease)\" = 401 && curl -s -o /dev/null -D - http://127.0.0.1:5063/apt/fixtures/dists/fixtures/InRelease | grep -qi '^www-authenticate: Basic realm=\"airlift\"'"
    auth_conf() { # file machine: a 0600 netrc-style login for reader
        mkdir -p "$(dirname "$1")"
        printf 'machine %s\nlogin reader\npassword %s\n' "$2" "$TOKEN" >"$1"
        chmod 0600 "$1"
    }
    # This host's apt, in an isolated configuration whose Dir::Etc holds
    # auth.conf.d.
    AA=$WORK/aptroot-auth
    apt_root "$AA"
    "$AIRLIFT" --home "$GAP" client-config apt --url http://127.0.0.1:5063 | sed "s|/etc/apt/keyrings/airlift.asc|$WORK/key.asc|" >"$AA/etc/sources.list.d/airlift.sources"
    export APT_CONFIG=$AA/apt.conf
    fresh_lists() { rm -rf "$AA/state/lists"; mkdir -p "$AA/state/lists/partial"; }
    check "auth: apt-get update without credentials fails with 401" \
        sh -c "! apt-get update -q >'$WORK/auth-none.out' 2>&1 && grep -q '401  Unauthorized' '$WORK/auth-none.out' && grep -q '^E: Failed to fetch http://127.0.0.1:5063/' '$WORK/auth-none.out'"
    auth_conf "$AA/etc/auth.conf.d/airlift.conf" 127.0.0.1:5063
    fresh_lists
    check "auth: a machine entry without http:// is not used over http (apt says so), 401" \
        sh -c "! apt-get update -q >'$WORK/auth-https-only.out' 2>&1 && grep -q 'Annotate with http:// to use' '$WORK/auth-https-only.out' && grep -q '401  Unauthorized' '$WORK/auth-https-only.out'"
    auth_conf "$AA/etc/auth.conf.d/airlift.conf" http://127.0.0.1:5063
    fresh_lists
    check "auth: apt-get update with auth.conf.d/airlift.conf (machine http://127.0.0.1:5063, mode 0600)" \
        sh -c "apt-get update -q >'$WORK/auth-update.out' 2>&1 && grep -q 'Reading package lists' '$WORK/auth-update.out' && ! grep -qE '^(W|E):' '$WORK/auth-update.out'"
    check "auth:   ... apt-get downloads hello-app's closure" \
        sh -c "apt-get install -y -q --download-only hello-app >/dev/null 2>&1 && ls '$AA/cache/archives/' | grep -c '\.deb\$' | grep -qx 5"
    unset APT_CONFIG

    # The newest Debian stable's apt, with /etc/apt/auth.conf.d in its root.
    cp "$WORK/key.asc" "$N/etc/apt/keyrings/airlift.asc"
    "$AIRLIFT" --home "$GAP" client-config apt --url http://127.0.0.1:5063 --signed-by /etc/apt/keyrings/airlift.asc \
        >"$N/etc/apt/sources.list.d/airlift.sources"
    rm -rf "$N/var/lib/apt/lists" "$N/etc/apt/auth.conf.d/airlift.conf"
    mkdir -p "$N/var/lib/apt/lists/partial"
    check "auth: $NEWEST_SUITE's apt-get update without credentials fails with 401" \
        sh -c "! chroot '$N' apt-get update -q >'$WORK/newest-auth-none.out' 2>&1 && grep -q '401  Unauthorized' '$WORK/newest-auth-none.out' && grep -qE '^(E|Error): Failed to fetch http://127.0.0.1:5063/' '$WORK/newest-auth-none.out'"
    auth_conf "$N/etc/apt/auth.conf.d/airlift.conf" http://127.0.0.1:5063
    check "auth: $NEWEST_SUITE's apt-get update with /etc/apt/auth.conf.d/airlift.conf" \
        sh -c "chroot '$N' apt-get update -q >'$WORK/newest-auth.out' 2>&1 && grep -q 'Reading package lists' '$WORK/newest-auth.out' && ! grep -qE '^(W|E|Warning|Error):' '$WORK/newest-auth.out'"
    check "auth:   ... $NEWEST_SUITE's apt-get download hello-app" \
        sh -c "chroot '$N' sh -c 'cd /tmp && apt-get download -q hello-app' >/dev/null 2>&1 && test -s '$N/tmp/hello-app_1.0_amd64.deb'"
    check "auth:   ... $NEWEST_SUITE's apt-get install --reinstall hello-app" \
        chroot "$N" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall hello-app

    check "auth: token revoke" "$AIRLIFT" --home "$GAP" token revoke apt-read
    sleep 1.5
    export APT_CONFIG=$AA/apt.conf
    fresh_lists
    check "auth: apt-get update with the revoked token fails with 401" \
        sh -c "! apt-get update -q >'$WORK/auth-revoked.out' 2>&1 && grep -q '401  Unauthorized' '$WORK/auth-revoked.out'"
    unset APT_CONFIG

    # The full proof: a minimal system from airlift alone, then real installs.
    R=$WORK/rootfs
    check "mmdebstrap builds a minimal $CODENAME from airlift alone" \
        mmdebstrap --quiet --mode=root --variant=apt --keyring="$WORK/key.asc" \
            --aptopt='Acquire::Languages "none"' "$CODENAME" "$R" \
            "deb [signed-by=$WORK/key.asc] http://127.0.0.1:5061/apt/debian $CODENAME main"
    mkdir -p "$R/etc/apt/keyrings"
    cp "$WORK/key.asc" "$R/etc/apt/keyrings/airlift.asc"
    rm -f "$R/etc/apt/sources.list"
    "$AIRLIFT" --home "$GAP" client-config apt --url http://127.0.0.1:5061 >"$R/etc/apt/sources.list.d/airlift.sources"
    check "in the chroot: apt-get update" chroot "$R" apt-get update -q
    check "in the chroot: apt-get install curl (with its dependencies)" \
        chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends curl
    check "  ... curl runs" sh -c "chroot '$R' curl --version | grep -q '^curl '"
    check "in the chroot: apt-get install hello-app (Pre-Depends, alternatives, a virtual, a version range)" \
        chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello-app
    check "  ... hello-app runs against libgreet 2.1" sh -c "chroot '$R' hello-app | grep -qx 'hello from airlift: libgreet 2.1'"
    check "  ... unrelated is not available" sh -c "! chroot '$R' apt-get install -s -q unrelated >/dev/null 2>&1"
}
output=$(in_gap --mount isolated_side 2>&1) || true
finish apt "$output"
