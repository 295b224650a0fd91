#!/usr/bin/env bash
# Builds the fixture .deb files with dpkg-deb and publishes them with
# reprepro as a signed upstream archive (suite "fixtures", component main,
# amd64), signed by a key made here with gpg.
#
#   hello-app 1.0 (amd64)  Pre-Depends fixture-base; Depends libgreet (>= 2.0),
#                          libgreet (<< 3~), fixture-mta | mail-transport-agent,
#                          fixture-data
#   libgreet 1.0, 2.1, 3.0 only 2.1 satisfies hello-app (3.0, the newest, is
#                          in component "extra")
#   postfix-fixture        Provides mail-transport-agent (the virtual package)
#   fixture-data (all)     an Architecture: all package
#   fixture-base, unrelated, broken-app (Depends does-not-exist (>= 1))
#
# Usage: fixtures.sh OUT_DIR    (writes OUT_DIR/repo, OUT_DIR/upstream.asc,
#                                OUT_DIR/gnupg)
set -euo pipefail
OUT=$1
mkdir -p "$OUT/build" "$OUT/debs" "$OUT/repo/conf"
export GNUPGHOME=$OUT/gnupg
install -d -m 700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "fixture archive <fixtures@example.com>" ed25519 sign never 2>/dev/null
FPR=$(gpg --batch --with-colons --list-keys | awk -F: '/^fpr/ {print $10; exit}')
gpg --batch --armor --export "$FPR" >"$OUT/upstream.asc"

deb() { # name version arch [control lines...]
    local name=$1 version=$2 arch=$3 dir
    shift 3
    dir=$OUT/build/${name}_$version
    mkdir -p "$dir/DEBIAN" "$dir/usr/share/doc/$name"
    {
        echo "Package: $name"
        echo "Version: $version"
        echo "Architecture: $arch"
        echo "Maintainer: airlift tests <tests@example.com>"
        echo "Priority: optional"
        echo "Section: misc"
        for line in "$@"; do echo "$line"; done
        echo "Description: airlift fixture $name"
        echo " Built by tests/apt/fixtures.sh."
    } >"$dir/DEBIAN/control"
    echo "$name $version" >"$dir/usr/share/doc/$name/fixture.txt"
    if [ "$name" = hello-app ]; then
        mkdir -p "$dir/usr/bin"
        # The $(cat …) is for the packaged script to run, not for this one.
        # shellcheck disable=SC2016
        printf '#!/bin/sh\necho "hello from airlift: $(cat /usr/share/doc/libgreet/fixture.txt)"\n' >"$dir/usr/bin/hello-app"
        chmod 755 "$dir/usr/bin/hello-app"
    fi
    dpkg-deb --root-owner-group -Zxz --build "$dir" "$OUT/debs/${name}_${version}_$arch.deb" >/dev/null
}
deb hello-app 1.0 amd64 "Pre-Depends: fixture-base" \
    "Depends: libgreet (>= 2.0), libgreet (<< 3~), fixture-mta | mail-transport-agent, fixture-data"
deb libgreet 2.1 amd64
deb libgreet 3.0 amd64
deb postfix-fixture 3.0 amd64 "Provides: mail-transport-agent"
deb fixture-data 1.0 all
deb fixture-base 1.0 amd64
deb unrelated 1.0 amd64
deb broken-app 1.0 amd64 "Depends: does-not-exist (>= 1)"

cat >"$OUT/repo/conf/distributions" <<CONF
Origin: Fixtures
Label: Fixtures
Codename: fixtures
Architectures: amd64
Components: main extra
Description: airlift test fixtures
SignWith: $FPR
CONF
cat >"$OUT/repo/conf/options" <<CONF
basedir $OUT/repo
CONF
# reprepro keeps one version of a package per component: libgreet 3.0 goes
# to "extra".
for f in "$OUT"/debs/*.deb; do
    case $f in
        *libgreet_3.0_*) reprepro -b "$OUT/repo" --silent -C extra includedeb fixtures "$f" ;;
        *) reprepro -b "$OUT/repo" --silent -C main includedeb fixtures "$f" ;;
    esac
done
