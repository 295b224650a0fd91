#!/usr/bin/env bash
# Rust crates across a gap, with cargo itself.
#
# Hermetic part, all inside a network namespace with only loopback: a static
# sparse registry of real `.crate` files (tests/cargo/fixtures.py) is the
# upstream; a project is locked against it; airlift collects the lockfile and
# a declared crate with its feature-aware closure, packs, and a second home
# imports and serves. cargo, with a fresh CARGO_HOME configured only by
# `airlift client-config cargo`, then builds the locked project
# (`--locked`) and locks and builds a project that was not locked. Bad
# upstream input is refused with the crate named and the index unchanged.
# A second server on the same home requires credentials (`serve --access`):
# the newest cargo builds with a `[registries]` entry and
# CARGO_REGISTRIES_AIRLIFT_TOKEN, and fails, naming the registry, without
# the token or with a wrong or revoked one. A third server hosts `corp-*`:
# cargo publishes a crate there, a dependent builds from it, a republish
# and a crate outside the hosted names are refused, and yank works.
# The oldest supported Debian stable's own cargo (Debian 12: cargo 0.66 with
# rustc 1.63, unpacked from its .debs into a cache outside the clone and run
# by path, so rustup's newest cargo stays the `cargo` on PATH) builds from
# the same server too: sparse registries are unstable before cargo 1.68, so
# it needs `[unstable] sparse-registry = true` next to the client-config
# output, and without it cargo refuses the registry.
# Live smoke test: a real project's Cargo.lock is collected from cargo's own
# default registry (its sparse index URL read from cargo's network log at run
# time, never written here), carried, and built inside the namespace.
#
# Usage: AIRLIFT=path/to/airlift tests/cargo/run.sh   (as root)
set -euo pipefail

AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-cargo
CHECK_LOG=$WORK/cargo.log
HERE=$ROOT/tests/cargo
export AIRLIFT WORK CHECK_LOG HERE
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR

project() { # dir name deps-toml
    mkdir -p "$1/src"
    printf '[package]\nname = "%s"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n%s\n' "$2" "$3" >"$1/Cargo.toml"
}

# --- connected side, with network: Debian 12's cargo ------------------------
# Debian 12 (bookworm) is the oldest supported Debian stable. Its cargo and
# rustc, at these exact versions, are fetched with `apt-get download` and
# unpacked (never installed) into a cache keyed by the versions, with the
# libraries cargo loads that a Debian 12 machine without cargo lacks
# (libgit2 and what it needs, and rustc's libllvm14 with libz3, which only
# a machine with PostgreSQL or LLVM has); the ldd check says so if any
# other library is missing. If they cannot be
# fetched, the checks that use them fail: nothing is skipped.
DEB_CARGO_VERSION=0.66.0+ds1-1
DEB_RUSTC_VERSION=1.63.0+dfsg1-2
DEB_ROOT=${XDG_CACHE_HOME:-${HOME:?}/.cache}/airlift/debian-cargo/$DEB_CARGO_VERSION-$DEB_RUSTC_VERSION-llvm
OLD_CARGO=$WORK/debian12/cargo
export DEB_ROOT OLD_CARGO
fetch_debian_cargo() {
    [ -f "$DEB_ROOT/.complete" ] && return 0
    local debs=$WORK/debian12-debs
    mkdir -p "$debs"
    (cd "$debs" && apt-get download "cargo=$DEB_CARGO_VERSION" "rustc=$DEB_RUSTC_VERSION" \
        "libstd-rust-1.63=$DEB_RUSTC_VERSION" "libstd-rust-dev=$DEB_RUSTC_VERSION" \
        libgit2-1.5 libhttp-parser2.9 libmbedtls14 libmbedcrypto7 libmbedx509-1 \
        libllvm14 libz3-4) || return 1
    rm -rf "$DEB_ROOT.partial"
    mkdir -p "$DEB_ROOT.partial"
    for deb in "$debs"/*.deb; do
        dpkg-deb -x "$deb" "$DEB_ROOT.partial" || return 1
    done
    touch "$DEB_ROOT.partial/.complete"
    rm -rf "$DEB_ROOT"
    mv "$DEB_ROOT.partial" "$DEB_ROOT"
}
deb_libdir() { find "$DEB_ROOT/usr/lib" -maxdepth 1 -name '*-linux-gnu*' -print -quit; }
check "Debian 12's cargo $DEB_CARGO_VERSION and rustc $DEB_RUSTC_VERSION are in the cache (apt-get download, unpacked, not installed)" \
    fetch_debian_cargo
libs_resolve() {
    local out
    out=$(LD_LIBRARY_PATH=$(deb_libdir) ldd "$DEB_ROOT/usr/bin/cargo" "$DEB_ROOT/usr/bin/rustc" "$(deb_libdir)"/*.so*) || return 1
    ! grep 'not found' <<<"$out"
}
check "  ... every shared library they load resolves" libs_resolve
# Run by path through this wrapper only: its rustc, its libraries, and no
# rustc wrapper from the caller's environment.
mkdir -p "$(dirname "$OLD_CARGO")"
cat >"$OLD_CARGO" <<SH
#!/bin/sh
exec env -u RUSTC_WRAPPER -u CARGO_BUILD_RUSTC_WRAPPER -u RUSTUP_TOOLCHAIN \\
    LD_LIBRARY_PATH="$(deb_libdir)" RUSTC="$DEB_ROOT/usr/bin/rustc" RUSTDOC="$DEB_ROOT/usr/bin/rustdoc" \\
    "$DEB_ROOT/usr/bin/cargo" "\$@"
SH
chmod +x "$OLD_CARGO"
check "  ... they run: cargo 1.65.0 (Debian's 0.66) and rustc 1.63.0" \
    sh -c "test \"\$('$OLD_CARGO' --version)\" = 'cargo 1.65.0' &&
        test \"\$(LD_LIBRARY_PATH='$(deb_libdir)' '$DEB_ROOT/usr/bin/rustc' --version)\" = 'rustc 1.63.0'"
check "  ... and rustup's newest cargo is still the cargo on PATH ($(cargo --version))" \
    sh -c "test \"\$(command -v cargo)\" != '$DEB_ROOT/usr/bin/cargo' && ! cargo --version | grep -q '^cargo 1\.65\.'"

# --- connected side, with network: the live set -----------------------------
python3 "$HERE/fixtures.py" "$WORK/upstream" 5040
mkdir -p "$WORK/probe-home"
project "$WORK/probe" probe 'itoa = "1"'
echo 'fn main() {}' >"$WORK/probe/src/main.rs"
LIVE_INDEX=$(cd "$WORK/probe" && CARGO_HOME=$WORK/probe-home CARGO_HTTP_DEBUG=true CARGO_LOG=network=debug \
    cargo generate-lockfile 2>&1 | grep -oE 'https?://[^ "]*/config\.json' | head -1 | sed 's|config\.json$||')
check "live: cargo's default sparse index read from its network log ($LIVE_INDEX)" test -n "$LIVE_INDEX"
project "$WORK/live" live 'serde = { version = "1", features = ["derive"] }
itoa = "1"'
cat >"$WORK/live/src/main.rs" <<'RS'
#[derive(serde::Serialize)]
struct Point { x: i32 }
fn main() {
    let mut buffer = itoa::Buffer::new();
    println!("{} {}", buffer.format(Point { x: 7 }.x), std::any::type_name::<Point>());
}
RS
check "live: lock a real project against the default registry" \
    sh -c "cd '$WORK/live' && CARGO_HOME='$WORK/probe-home' cargo generate-lockfile -q"
cat >"$WORK/live-airlift.toml" <<TOML
[cargo]
index = "sparse+$LIVE_INDEX"
lockfiles = ["live/Cargo.lock"]
TOML
LH=$WORK/live-home
check "live: collect the lockfile" "$AIRLIFT" --home "$LH" collect --config "$WORK/live-airlift.toml"
check "live: keys init" "$AIRLIFT" --home "$LH" keys init
check "live: pack" "$AIRLIFT" --home "$LH" pack --out "$WORK/live.tar"
cp "$LH/keys/roots/1.root.json" "$WORK/live-root.json"

# Real crate sets declared without a lockfile: the carried closure must be
# a superset of what cargo itself locks against the upstream, so that a
# project using exactly these crates can be locked inside the gap.
SETS="reqwest tokio clap axum"
dep_of() {
    case $1 in
    reqwest) echo 'reqwest = { version = "0.13", features = ["rustls"] }' ;;
    tokio) echo 'tokio = { version = "1", features = ["full"] }' ;;
    clap) echo 'clap = { version = "4", features = ["derive"] }' ;;
    axum) echo 'axum = "0.8"' ;;
    esac
}
for set in $SETS; do
    project "$WORK/sets/$set" "set-$set" "$(dep_of "$set")"
    echo 'fn main() {}' >"$WORK/sets/$set/src/main.rs"
    (cd "$WORK/sets/$set" && CARGO_HOME=$WORK/probe-home cargo generate-lockfile -q)
    cp "$WORK/sets/$set/Cargo.lock" "$WORK/sets/$set.upstream.lock"
    rm "$WORK/sets/$set/Cargo.lock"
done
cat >"$WORK/sets-airlift.toml" <<TOML
[cargo]
index = "sparse+$LIVE_INDEX"
crates = ["reqwest@0.13", "tokio@1", "clap@4", "axum@0.8"]

[cargo.features]
reqwest = ["rustls"]
tokio = ["full"]
clap = ["derive"]
TOML
SH=$WORK/sets-home
check "live crate sets: collect reqwest+rustls, tokio full, clap derive, axum without a lockfile" \
    "$AIRLIFT" --home "$SH" collect --config "$WORK/sets-airlift.toml"
check "live crate sets: keys init" "$AIRLIFT" --home "$SH" keys init
check "live crate sets: pack" "$AIRLIFT" --home "$SH" pack --out "$WORK/sets.tar"
cp "$SH/keys/roots/1.root.json" "$WORK/sets-root.json"
# What the bundle carries, as an empty home's plan lists it.
"$AIRLIFT" --home "$WORK/sets-plan" --json plan "$WORK/sets.tar" --trust "$WORK/sets-root.json" >"$WORK/sets-plan.json"
for set in $SETS; do
    check "live crate sets: $set: every package cargo locks upstream is carried" \
        python3 - "$WORK/sets/$set.upstream.lock" "$WORK/sets-plan.json" <<'PY'
import json, re, sys, tomllib
lock = tomllib.load(open(sys.argv[1], "rb"))
carried = {c["key"] for c in json.load(open(sys.argv[2]))["added"] if c["ecosystem"] == "cargo"}
missing = [f'{p["name"]} {p["version"]}' for p in lock.get("package", [])
           if "source" in p and f'c:{p["name"].lower()}/{p["version"]}' not in carried]
if missing:
    sys.exit("not carried: " + ", ".join(missing))
PY
done

hermetic_part() {
check_only_loopback
python3 -m http.server -d "$WORK/upstream" -b 127.0.0.1 5040 >>"$WORK/upstream.log" 2>&1 &
upstream=$!
wait_for http://127.0.0.1:5040/index/config.json
app_main='fn main() { println!("{}", fx_core::describe()); }'

# A project locked against the upstream, as a team would commit it.
mkdir -p "$WORK/upstream-home"
printf '[source.crates-io]\nreplace-with = "up"\n[source.up]\nregistry = "sparse+http://127.0.0.1:5040/index/"\n' >"$WORK/upstream-home/config.toml"
project "$WORK/app" app 'fx-core = { version = "0.3", features = ["extra"] }'
echo "$app_main" >"$WORK/app/src/main.rs"
check "lock the app against the upstream" sh -c "cd '$WORK/app' && CARGO_HOME='$WORK/upstream-home' cargo generate-lockfile -q"
# The same project for Debian 12's cargo: with `rust-version = "1.63"` the
# newest cargo writes a version 3 lockfile, the newest that cargo 0.66 reads.
project "$WORK/app-msrv" app-msrv 'fx-core = { version = "0.3", features = ["extra"] }'
sed -i 's/^edition = "2021"$/&\nrust-version = "1.63"/' "$WORK/app-msrv/Cargo.toml"
echo "$app_main" >"$WORK/app-msrv/src/main.rs"
check "lock it with rust-version 1.63: the newest cargo writes lockfile version 3" \
    sh -c "cd '$WORK/app-msrv' && CARGO_HOME='$WORK/upstream-home' cargo generate-lockfile -q && grep -qx 'version = 3' Cargo.lock"

cat >"$WORK/airlift.toml" <<TOML
[cargo]
index = "sparse+http://127.0.0.1:5040/index/"
lockfiles = ["app/Cargo.lock"]
crates = ["fx-core@0.3", "fx-util@=1.0.0", "fx-pin@1", "fx-feat@1"]

[cargo.features]
fx-core = ["extra"]
fx-feat = ["more"]
TOML
HI=$WORK/connected
check "collect the lockfile and the closure of declared crates" \
    sh -c "'$AIRLIFT' --home '$HI' --json collect --config '$WORK/airlift.toml' >'$WORK/collect.json'"
check "collect carries 11 crate versions (fx-util 1.0.0 and 1.1.0, core, extra, build, win; pin, feat 1.0.0 and 1.1.0, optdep-old and -new)" \
    python3 -c "import json,sys; d=json.load(open('$WORK/collect.json')); sys.exit(d['crates'] != 11)"

before=$(generations "$HI")
bad_collect() {
    local label=$1 crates=$2 expect=$3 extra=${4:-}
    printf '[cargo]\nindex = "sparse+http://127.0.0.1:5040/index/"\ncrates = [%s]\n%b' "$crates" "$extra" >"$WORK/bad.toml"
    check "bad input refused: $label" sh -c "! '$AIRLIFT' --home '$HI' collect --config '$WORK/bad.toml' 2>'$WORK/bad.err'"
    check "  ... the message names it: $expect" grep -q -- "$expect" "$WORK/bad.err"
    check "  ... and the index is unchanged" test "$(generations "$HI")" = "$before"
}
bad_collect "a checksum mismatch" '"fx-bad"' "fx-bad 1.0.0: checksum mismatch"
bad_collect "an unsatisfiable requirement" '"fx-zeta"' "fx-util: no version matches ^5; available: 1.0.0, 1.1.0, 1.2.0 (needed by: fx-zeta 1.0.0"
bad_collect "a yanked-only requirement" '"fx-util@1.2"' "fx-util: every version that matches ^1.2 is yanked (1.2.0)"
bad_collect "a malformed index line" '"fx-broken"' "fx-broken: .*malformed index line"
bad_collect "a missing crate" '"fx-nosuch"' "fx-nosuch: not found in the upstream index"
bad_collect "an unknown feature" '"fx-core@0.3"' 'fx-core 0.3.0: has no feature "turbo"' '[cargo.features]\nfx-core = ["turbo"]\n'
sed 's/^version = "1.1.0"/version = "1.1.9"/' "$WORK/app/Cargo.lock" >"$WORK/bad.lock"
printf '[cargo]\nindex = "sparse+http://127.0.0.1:5040/index/"\nlockfiles = ["bad.lock"]\n' >"$WORK/bad.toml"
check "bad input refused: a lockfile version the index lacks" sh -c "! '$AIRLIFT' --home '$HI' collect --config '$WORK/bad.toml' 2>'$WORK/bad.err'"
check "  ... the message names it" grep -q "fx-util 1.1.9 is not in the upstream index" "$WORK/bad.err"
check "  ... and the index is unchanged" test "$(generations "$HI")" = "$before"

check "keys init" "$AIRLIFT" --home "$HI" keys init
check "pack" "$AIRLIFT" --home "$HI" pack --out "$WORK/media/crates.tar.zst"
kill "$upstream" 2>/dev/null || true

# --- isolated side --------------------------------------------------------
GAP=$WORK/gap
check "[gap] init trust" "$AIRLIFT" --home "$GAP" init --trust "$HI/keys/roots/1.root.json"
check "[gap] import" "$AIRLIFT" --home "$GAP" import "$WORK/media/crates.tar.zst"
start_server "$GAP" 5041
I=http://127.0.0.1:5041/cargo/index
check "[gap] config.json names this server" test "$(curl -sf "$I/config.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dl"])')" = "http://127.0.0.1:5041/cargo/api/v1/crates"
check "[gap] index lines are the upstream's, byte for byte" \
    sh -c "curl -sf '$I/fx/-c/fx-core' | cmp - '$WORK/upstream/index/fx/-c/fx-core'"
check "[gap] fx-util: 1.0.0 and 1.1.0 carried, the yanked 1.2.0 not" \
    test "$(curl -sf "$I/fx/-u/fx-util" | python3 -c 'import json,sys; print([json.loads(l)["vers"] for l in sys.stdin])')" = "['1.0.0', '1.1.0']"
check "[gap] the dev-dependency was not carried" test "$(curl -s -o /dev/null -w '%{http_code}' "$I/fx/-d/fx-dev")" = 404
check "[gap] the cfg(windows) dependency was carried" test "$(curl -s -o /dev/null -w '%{http_code}' "$I/fx/-w/fx-win")" = 200
check "[gap] a non-canonical index path is 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$I/FX/-c/fx-core")" = 404
etag=$(curl -sfI "$I/fx/-c/fx-core" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
check "[gap] If-None-Match answers 304" test "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$I/fx/-c/fx-core")" = 304
check "[gap] .crate bytes exactly as upstream" \
    sh -c "curl -sf http://127.0.0.1:5041/cargo/api/v1/crates/fx-core/0.3.0/download | cmp - '$WORK/upstream/dl/fx-core-0.3.0.crate'"

CH=$WORK/gap-cargo-home
mkdir -p "$CH"
"$AIRLIFT" --home "$GAP" client-config cargo --url http://127.0.0.1:5041 >"$CH/config.toml"
check "[gap] cargo build --locked of the locked project, from airlift alone" \
    sh -c "cd '$WORK/app' && CARGO_HOME='$CH' cargo build -q --locked"
check "[gap]   ... runs, with the optional feature and the build script" \
    test "$("$WORK/app/target/debug/app")" = "fx-util 1.1.0 + fx-extra 0.1.0 (built)"
project "$WORK/fresh" fresh 'fx-core = { version = "0.3", features = ["extra"] }
fx-util = "=1.0.0"'
echo "$app_main" >"$WORK/fresh/src/main.rs"
check "[gap] cargo generate-lockfile of a project that was not locked" \
    sh -c "cd '$WORK/fresh' && CARGO_HOME='$CH' cargo generate-lockfile -q"
check "[gap] cargo build of it" sh -c "cd '$WORK/fresh' && CARGO_HOME='$CH' cargo build -q"
check "[gap]   ... runs, with fx-util unified to the pinned 1.0.0" test "$("$WORK/fresh/target/debug/fresh")" = "fx-util 1.0.0 + fx-extra 0.1.0 (built)"
project "$WORK/unified" unified 'fx-pin = "1"
fx-feat = { version = "1", features = ["more"] }'
echo 'fn main() { println!("{}", fx_feat::id()); }' >"$WORK/unified/src/main.rs"
check "[gap] features unify on the version cargo settles on (fx-feat 1.0.0 with \"more\")" \
    sh -c "cd '$WORK/unified' && CARGO_HOME='$CH' cargo build -q"
check "[gap]   ... runs" test "$("$WORK/unified/target/debug/unified")" = "fx-optdep-old 1.0.0"
project "$WORK/missing" missing 'fx-dev = "1"'
echo 'fn main() {}' >"$WORK/missing/src/main.rs"
check "[gap] a crate that was not carried is not found (nothing leaks in)" \
    sh -c "cd '$WORK/missing' && ! CARGO_HOME='$CH' cargo generate-lockfile -q 2>/dev/null"

# Debian 12's cargo 0.66 with rustc 1.63 (the oldest supported Debian
# stable), run by path, with a fresh CARGO_HOME: the client-config output
# alone is refused, because sparse registries are unstable in cargo 0.66;
# with `[unstable] sparse-registry = true` added (Debian builds cargo
# without a release channel, so it takes unstable switches as they are)
# it locks, fetches and builds from airlift alone.
OCH=$WORK/debian12-cargo-home
mkdir -p "$OCH"
"$AIRLIFT" --home "$GAP" client-config cargo --url http://127.0.0.1:5041 >"$OCH/config.toml"
project "$WORK/old" old 'fx-core = { version = "0.3", features = ["extra"] }
fx-util = "=1.0.0"'
echo "$app_main" >"$WORK/old/src/main.rs"
check "[gap] Debian 12 cargo 0.66: the client-config output alone is refused (sparse registries need -Z sparse-registry)" \
    sh -c "cd '$WORK/old' && ! CARGO_HOME='$OCH' '$OLD_CARGO' generate-lockfile 2>'$WORK/old.err' && grep -q 'usage of sparse registries requires .-Z sparse-registry.' '$WORK/old.err'"
printf '\n[unstable]\nsparse-registry = true\n' >>"$OCH/config.toml"
check "[gap] Debian 12 cargo 0.66: cargo generate-lockfile of a project that was not locked, with [unstable] sparse-registry" \
    sh -c "cd '$WORK/old' && rm -f Cargo.lock && CARGO_HOME='$OCH' '$OLD_CARGO' generate-lockfile -q"
check "[gap] Debian 12 cargo 0.66: cargo build of it with rustc 1.63" \
    sh -c "cd '$WORK/old' && CARGO_HOME='$OCH' '$OLD_CARGO' build -q"
check "[gap] Debian 12 cargo 0.66:   ... runs, with fx-util unified to the pinned 1.0.0" \
    test "$("$WORK/old/target/debug/old")" = "fx-util 1.0.0 + fx-extra 0.1.0 (built)"
check "[gap] Debian 12 cargo 0.66: cargo build --locked of the project the newest cargo locked with rust-version 1.63" \
    sh -c "cd '$WORK/app-msrv' && CARGO_HOME='$OCH' '$OLD_CARGO' build -q --locked"
check "[gap] Debian 12 cargo 0.66:   ... runs, with the optional feature and the build script" \
    test "$("$WORK/app-msrv/target/debug/app-msrv")" = "fx-util 1.1.0 + fx-extra 0.1.0 (built)"
check "[gap] Debian 12 cargo 0.66: fetched over HTTP from airlift (the crates are in its sparse cache)" \
    sh -c "ls -d '$OCH'/registry/cache/*/fx-core-0.3.0.crate"

# A second server on the same home that requires credentials: only the
# user `reader` may read crates, nobody reads anonymously. The newest cargo
# replaces crates-io with a `[registries]` entry (a `[source]` entry cannot
# carry a token) and reads the token from CARGO_REGISTRIES_AIRLIFT_TOKEN
# through the `cargo:token` credential provider. Debian 12's cargo 0.66 is
# not tried: registry authentication is stable only from cargo 1.74.
cat >"$WORK/access-cargo.toml" <<'TOML'
[[rule]]
ecosystems = ["cargo"]
read = ["reader"]
write = []
delete = []
TOML
"$AIRLIFT" --home "$GAP" user add reader >/dev/null
TOKEN=$("$AIRLIFT" --home "$GAP" token create cargo-read --user reader --scope 'cargo:*:read') || true
check "[gap] auth: user add, token create" test -n "$TOKEN"
start_server "$GAP" 5044 --access "$WORK/access-cargo.toml"
AI=http://127.0.0.1:5044/cargo/index
check "[gap] auth: an anonymous config.json request is 401 with WWW-Authenticate: Cargo" \
    sh -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' '$AI/config.json')\" = 401 && curl -s -o /dev/null -D - '$AI/config.json' | grep -qi '^www-authenticate: Cargo'"
check "[gap] auth:   ... and a JSON error cargo shows" \
    sh -c "curl -s '$AI/config.json' | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"errors\"][0][\"detail\"]'"
check "[gap] auth: config.json (with the token) says auth-required" \
    test "$(curl -sf -H "Authorization: $TOKEN" "$AI/config.json" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("auth-required"))')" = True
ACH=$WORK/auth-cargo-home
mkdir -p "$ACH"
cat >"$ACH/config.toml" <<TOML
[source.crates-io]
replace-with = "airlift"

[registries.airlift]
index = "sparse+$AI/"

[registry]
global-credential-providers = ["cargo:token"]
TOML
auth_project() { # dir: a copy of the locked app, unbuilt
    mkdir -p "$WORK/$1"
    cp -r "$WORK/app/Cargo.toml" "$WORK/app/Cargo.lock" "$WORK/app/src" "$WORK/$1/"
}
auth_project auth-app
check "[gap] auth: cargo $(cargo --version | cut -d' ' -f2) build --locked with CARGO_REGISTRIES_AIRLIFT_TOKEN" \
    sh -c "cd '$WORK/auth-app' && CARGO_HOME='$ACH' CARGO_REGISTRIES_AIRLIFT_TOKEN='$TOKEN' cargo build -q --locked"
check "[gap] auth:   ... runs, with the optional feature and the build script" \
    test "$("$WORK/auth-app/target/debug/app")" = "fx-util 1.1.0 + fx-extra 0.1.0 (built)"
check "[gap] auth:   ... its crates were downloaded from the auth server" \
    sh -c "ls -d '$ACH'/registry/cache/*/fx-core-0.3.0.crate"
# The client-config output as it is, plus a `[registries]` entry for the
# same index: cargo finds the registry by its URL and sends the token.
ACH2=$WORK/auth-cargo-home-client-config
mkdir -p "$ACH2"
{
    "$AIRLIFT" --home "$GAP" client-config cargo --url http://127.0.0.1:5044
    printf '\n[registries.airlift]\nindex = "sparse+%s/"\n\n[registry]\nglobal-credential-providers = ["cargo:token"]\n' "$AI"
} >"$ACH2/config.toml"
project "$WORK/auth-fresh" auth-fresh 'fx-core = { version = "0.3", features = ["extra"] }
fx-util = "=1.0.0"'
echo "$app_main" >"$WORK/auth-fresh/src/main.rs"
check "[gap] auth: client-config output plus [registries.airlift]: cargo generate-lockfile and build of an unlocked project" \
    sh -c "cd '$WORK/auth-fresh' && CARGO_HOME='$ACH2' CARGO_REGISTRIES_AIRLIFT_TOKEN='$TOKEN' cargo generate-lockfile -q && CARGO_HOME='$ACH2' CARGO_REGISTRIES_AIRLIFT_TOKEN='$TOKEN' cargo build -q"
check "[gap] auth:   ... runs, with fx-util unified to the pinned 1.0.0" \
    test "$("$WORK/auth-fresh/target/debug/auth-fresh")" = "fx-util 1.0.0 + fx-extra 0.1.0 (built)"
# client-config with --user/--token-file writes the registry entry and the
# credential provider itself; `cargo login` stores the token, so nothing is
# needed in the environment.
ACH3=$WORK/auth-cargo-home-login
mkdir -p "$ACH3"
printf '%s\n' "$TOKEN" >"$WORK/cargo-token"
"$AIRLIFT" --home "$GAP" client-config cargo --url http://127.0.0.1:5044 --user reader --token-file "$WORK/cargo-token" >"$ACH3/config.toml"
check "[gap] auth: cargo login --registry airlift stores the token" \
    sh -c "printf '%s\n' '$TOKEN' | CARGO_HOME='$ACH3' cargo login --registry airlift"
check "[gap] auth: client-config --user/--token-file output and cargo login: generate-lockfile and build" \
    sh -c "cd '$WORK/auth-fresh' && rm -rf target Cargo.lock && CARGO_HOME='$ACH3' cargo generate-lockfile -q && CARGO_HOME='$ACH3' cargo build -q"
auth_project auth-none
ACH0=$WORK/auth-cargo-home-none
mkdir -p "$ACH0"
cp "$ACH/config.toml" "$ACH0/"
check "[gap] auth: without the token cargo fails, and names the registry" \
    sh -c "cd '$WORK/auth-none' && ! CARGO_HOME='$ACH0' cargo fetch >'$WORK/auth-none.out' 2>&1 && grep -q 'no token found for .airlift.' '$WORK/auth-none.out'"
check "[gap] auth: with a wrong token cargo fails: token rejected, 401" \
    sh -c "cd '$WORK/auth-none' && ! CARGO_HOME='$ACH0' CARGO_REGISTRIES_AIRLIFT_TOKEN=airlift_wrong cargo fetch >'$WORK/auth-wrong.out' 2>&1 && grep -q 'token rejected for .airlift.' '$WORK/auth-wrong.out' && grep -q 'got 401' '$WORK/auth-wrong.out'"
check "[gap] auth: token revoke" "$AIRLIFT" --home "$GAP" token revoke cargo-read
sleep 1.5
check "[gap] auth: with the revoked token cargo fails: token rejected, 401" \
    sh -c "cd '$WORK/auth-none' && ! CARGO_HOME='$ACH0' CARGO_REGISTRIES_AIRLIFT_TOKEN='$TOKEN' cargo fetch >'$WORK/auth-revoked.out' 2>&1 && grep -q 'token rejected for .airlift.' '$WORK/auth-revoked.out'"

# Publishing into the gap: the site hosts `corp-*` for cargo. `publisher`
# may write every crate by rule, but only hosted names take publishes (the
# rest is imported content); `reader` reads. cargo publishes corp-util
# (which depends on the imported fx-core), a project depending on it builds
# with the reader's token, the same version again is refused, other-util
# (not hosted) is refused 403, `cargo owner --list` names the publisher,
# and a yanked version is refused to a fresh lock until it is unyanked.
cat >"$WORK/access-cargo-publish.toml" <<'TOML'
[[rule]]
ecosystems = ["cargo"]
read = ["reader", "publisher"]
write = ["publisher"]

[[hosted]]
ecosystems = ["cargo"]
names = ["corp-*"]
TOML
"$AIRLIFT" --home "$GAP" user add publisher >/dev/null
PUB_TOKEN=$("$AIRLIFT" --home "$GAP" token create cargo-publish --user publisher --scope 'cargo:*:read,write') || true
READ_TOKEN=$("$AIRLIFT" --home "$GAP" token create cargo-read-2 --user reader --scope 'cargo:*:read') || true
check "[gap] publish: user add publisher, token create" test -n "$PUB_TOKEN" -a -n "$READ_TOKEN"
start_server "$GAP" 5045 --access "$WORK/access-cargo-publish.toml"
PCH=$WORK/publish-cargo-home
mkdir -p "$PCH"
printf '[registries.airlift]\nindex = "sparse+http://127.0.0.1:5045/cargo/index/"\n\n[registry]\nglobal-credential-providers = ["cargo:token"]\n' >"$PCH/config.toml"
publishable() { # dir name
    mkdir -p "$1/src"
    printf '[package]\nname = "%s"\nversion = "0.1.0"\nedition = "2021"\ndescription = "a crate made inside the gap"\nlicense = "MIT"\n\n[dependencies]\nfx-core = { version = "0.3", registry = "airlift" }\n' "$2" >"$1/Cargo.toml"
    echo "pub fn hello() -> &'static str { \"$2 0.1.0\" }" >"$1/src/lib.rs"
}
publishable "$WORK/corp-util" corp-util
publishable "$WORK/other-util" other-util
# shellcheck disable=SC2317 # called through check
cargo_as() { # token dir cargo-args...: cargo in dir with CARGO_HOME=$PCH and the token
    local token=$1 dir=$2
    shift 2
    (cd "$dir" && CARGO_HOME=$PCH CARGO_REGISTRIES_AIRLIFT_TOKEN=$token cargo "$@")
}
check "[gap] publish: cargo publish corp-util 0.1.0 --registry airlift" \
    cargo_as "$PUB_TOKEN" "$WORK/corp-util" publish -q --registry airlift --allow-dirty --no-verify
project "$WORK/uses-corp" uses-corp 'corp-util = { version = "0.1", registry = "airlift" }'
echo 'fn main() { println!("{}", corp_util::hello()); }' >"$WORK/uses-corp/src/main.rs"
check "[gap] publish:   ... cargo build of a project depending on it, with the reader's token" \
    cargo_as "$READ_TOKEN" "$WORK/uses-corp" build -q
check "[gap] publish:   ... runs" test "$("$WORK/uses-corp/target/debug/uses-corp")" = "corp-util 0.1.0"
check "[gap] publish:   ... its index line has the dependency on fx-core" \
    sh -c "curl -sf -H 'Authorization: $READ_TOKEN' http://127.0.0.1:5045/cargo/index/co/rp/corp-util | python3 -c 'import json,sys; d=json.loads(sys.stdin.readline())[\"deps\"]; assert [(x[\"name\"], x[\"req\"], x[\"kind\"]) for x in d] == [(\"fx-core\", \"^0.3\", \"normal\")], d'"
# cargo itself finds the version in the index and stops before sending it;
# the server's own refusal is tested in crates/airlift/tests/cargo_publish.rs.
check "[gap] publish: the same version again is refused (already exists)" \
    sh -c "! (cd '$WORK/corp-util' && CARGO_HOME='$PCH' CARGO_REGISTRIES_AIRLIFT_TOKEN='$PUB_TOKEN' cargo publish --registry airlift --allow-dirty --no-verify) >'$WORK/republish.out' 2>&1 && grep -q 'already' '$WORK/republish.out'"
check "[gap] publish: other-util (not a hosted name) is refused 403" \
    sh -c "! (cd '$WORK/other-util' && CARGO_HOME='$PCH' CARGO_REGISTRIES_AIRLIFT_TOKEN='$PUB_TOKEN' cargo publish --registry airlift --allow-dirty --no-verify) >'$WORK/publish-other.out' 2>&1 && grep -q '403' '$WORK/publish-other.out'"
check "[gap] publish: the reader's token cannot publish (403)" \
    sh -c "! (cd '$WORK/corp-util' && sed -i 's/^version = \"0.1.0\"/version = \"0.1.1\"/' Cargo.toml && CARGO_HOME='$PCH' CARGO_REGISTRIES_AIRLIFT_TOKEN='$READ_TOKEN' cargo publish --registry airlift --allow-dirty --no-verify) >'$WORK/publish-reader.out' 2>&1 && grep -q '403' '$WORK/publish-reader.out'"
check "[gap] publish: cargo owner --list names the publisher" \
    sh -c "cd '$WORK/corp-util' && CARGO_HOME='$PCH' CARGO_REGISTRIES_AIRLIFT_TOKEN='$PUB_TOKEN' cargo owner --list --registry airlift corp-util 2>&1 | grep -qw publisher"
check "[gap] publish: cargo yank --vers 0.1.0" \
    cargo_as "$PUB_TOKEN" "$WORK/corp-util" yank -q --vers 0.1.0 --registry airlift corp-util
check "[gap] publish:   ... a fresh lock refuses it" \
    sh -c "cd '$WORK/uses-corp' && rm -f Cargo.lock && ! CARGO_HOME='$PCH' CARGO_REGISTRIES_AIRLIFT_TOKEN='$READ_TOKEN' cargo generate-lockfile >'$WORK/yanked.out' 2>&1 && grep -q 'yanked' '$WORK/yanked.out'"
check "[gap] publish: cargo yank --undo, and a fresh lock takes it again" \
    sh -c "cd '$WORK/corp-util' && CARGO_HOME='$PCH' CARGO_REGISTRIES_AIRLIFT_TOKEN='$PUB_TOKEN' cargo yank -q --undo --vers 0.1.0 --registry airlift corp-util && cd '$WORK/uses-corp' && CARGO_HOME='$PCH' CARGO_REGISTRIES_AIRLIFT_TOKEN='$READ_TOKEN' cargo generate-lockfile -q"

# The live set, carried and built.
LGAP=$WORK/live-gap
check "[gap] live: init trust" "$AIRLIFT" --home "$LGAP" init --trust "$WORK/live-root.json"
check "[gap] live: import" "$AIRLIFT" --home "$LGAP" import "$WORK/live.tar"
start_server "$LGAP" 5042
LCH=$WORK/live-cargo-home
mkdir -p "$LCH"
"$AIRLIFT" --home "$LGAP" client-config cargo --url http://127.0.0.1:5042 >"$LCH/config.toml"
check "[gap] live: cargo build --locked of a serde + itoa project from airlift alone" \
    sh -c "cd '$WORK/live' && CARGO_HOME='$LCH' cargo build -q --locked"
check "[gap] live:   ... runs" test "$("$WORK/live/target/debug/live")" = "7 live::Point"

# The crate sets: each project is locked inside the gap with an empty
# CARGO_HOME, its crates fetched from airlift alone; clap derive is built.
SGAP=$WORK/sets-gap
check "[gap] sets: init trust" "$AIRLIFT" --home "$SGAP" init --trust "$WORK/sets-root.json"
check "[gap] sets: import" "$AIRLIFT" --home "$SGAP" import "$WORK/sets.tar"
start_server "$SGAP" 5043
for set in reqwest tokio clap axum; do
    SCH=$WORK/sets-cargo-home-$set
    mkdir -p "$SCH"
    "$AIRLIFT" --home "$SGAP" client-config cargo --url http://127.0.0.1:5043 >"$SCH/config.toml"
    check "[gap] sets: $set: cargo generate-lockfile and fetch from airlift alone" \
        sh -c "cd '$WORK/sets/$set' && CARGO_HOME='$SCH' cargo generate-lockfile -q && CARGO_HOME='$SCH' cargo fetch -q"
done
check "[gap] sets: clap: cargo build --offline" \
    sh -c "cd '$WORK/sets/clap' && CARGO_HOME='$WORK/sets-cargo-home-clap' cargo build -q --offline"
}
output=$(in_gap hermetic_part 2>&1) || true
finish cargo "$output"
