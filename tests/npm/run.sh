#!/usr/bin/env bash
# npm packages across a gap, with npm itself.
#
# Hermetic part, all inside a network namespace with only loopback: fixture
# packages made with `npm pack` (tests/npm/fixtures.py) are served by a small
# registry (tests/npm/upstream.py); a project is locked against it (its
# lockfile's `resolved` URLs name that upstream); airlift collects the
# lockfile and declared packages with their closure, packs, and a second
# home imports and serves. With an .npmrc from `airlift client-config npm`
# as the only configuration, `npm ci` installs the locked project (scoped
# package, install script, nested tree, peer and platform-optional packages,
# audit) and `npm install` a plain list. Bad upstream input is refused with
# the package named and the index unchanged. A second server on the same
# home requires credentials (`serve --access`): the newest npm and Debian
# 12's install with an `_authToken` line in the .npmrc, and fail (E401,
# E403) without one, with a token confined to another scope or with a
# revoked one.
# Live smoke test: a small set is collected from npm's configured registry
# (`npm config get registry` at run time, never written here), carried and
# installed inside the namespace.
#
# Usage: AIRLIFT=path/to/airlift tests/npm/run.sh   (as root)
set -euo pipefail

AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-npm
CHECK_LOG=$WORK/npm.log
HERE=$ROOT/tests/npm
# Only the configuration each step names: no machine-wide npmrc.
: >"$WORK/empty.npmrc"
export npm_config_globalconfig=$WORK/empty.npmrc npm_config_update_notifier=false npm_config_fund=false
export AIRLIFT WORK CHECK_LOG HERE

# --- connected side, with network: fixtures and the live set ----------------
python3 "$HERE/fixtures.py" "$WORK/upstream" >"$WORK/fixtures.txt"
LIVE_REGISTRY=$(npm config get registry)
# Debian 12's npm (9.2.0), next to the machine's newest: nobody upgrades a
# client inside the gap. Installed once under target/, pinned.
OLD_NPM_VERSION=9.2.0
OLD_NPM=$(cd "$HERE/../.." && pwd)/target/old-npm/$OLD_NPM_VERSION
if [ ! -x "$OLD_NPM/node_modules/npm/bin/npm-cli.js" ]; then
    npm install -s --prefix "$OLD_NPM" --no-save --cache "$WORK/cache-old-npm" "npm@$OLD_NPM_VERSION" >/dev/null
fi
export OLD_NPM OLD_NPM_VERSION
mkdir -p "$WORK/live"
printf '[npm]\nregistry = "%s"\npackages = ["chalk@4", "@types/node@20"]\n' "$LIVE_REGISTRY" >"$WORK/live/airlift.toml"
LH=$WORK/live-home
check "live: collect chalk@4 and @types/node@20 with their closure from npm's registry" \
    "$AIRLIFT" --home "$LH" collect --config "$WORK/live/airlift.toml"
check "live: keys init" "$AIRLIFT" --home "$LH" keys init
check "live: pack" "$AIRLIFT" --home "$LH" pack --out "$WORK/live.tar"
cp "$LH/keys/roots/1.root.json" "$WORK/live-root.json"

hermetic_part() {
    check_only_loopback
    python3 "$HERE/upstream.py" "$WORK/upstream" 5050 >>"$WORK/upstream.log" 2>&1 &
    upstream=$!
    wait_for http://127.0.0.1:5050/fx-left
    printf 'registry=http://127.0.0.1:5050/\nomit-lockfile-registry-resolved=false\naudit=false\n' >"$WORK/upstream.npmrc"

    # The project, locked against the upstream as a team would commit it.
    mkdir -p "$WORK/app"
    cat >"$WORK/app/package.json" <<'JSON'
{"name": "app", "version": "1.0.0", "private": true,
 "dependencies": {"@fx/scoped": "^1", "fx-left": "^2", "fx-mid": "^1", "fx-script": "1.0.0",
                  "fx-peer-host": "^1", "fx-opt": "^1"}}
JSON
    check "lock the project against the upstream (npm install --package-lock-only)" \
        sh -c "cd '$WORK/app' && npm install -s --package-lock-only --userconfig '$WORK/upstream.npmrc' --cache '$WORK/cache-lock'"
    check "  ... its resolved URLs name the upstream" grep -q '"resolved": "http://127.0.0.1:5050/fx-left/-/fx-left-2.0.0.tgz"' "$WORK/app/package-lock.json"

    cat >"$WORK/airlift.toml" <<TOML
[npm]
registry = "http://127.0.0.1:5050/"
lockfiles = ["app/package-lock.json"]
packages = ["fx-mid@^1", "@fx/scoped"]
TOML
    HI=$WORK/connected
    check "collect the lockfile and the closure of declared packages" \
        sh -c "'$AIRLIFT' --home '$HI' --json collect --config '$WORK/airlift.toml' >'$WORK/collect.json'"
    check "collect carries 9 versions of 8 packages" \
        python3 -c "import json,sys; d=json.load(open('$WORK/collect.json')); sys.exit((d['npm_packages'], d['npm_versions']) != (8, 9))"

    before=$(generations "$HI")
    bad_collect() {
        local label=$1 packages=$2 expect=$3
        printf '[npm]\nregistry = "http://127.0.0.1:5050/"\npackages = [%s]\n' "$packages" >"$WORK/bad.toml"
        check "bad input refused: $label" sh -c "! '$AIRLIFT' --home '$HI' collect --config '$WORK/bad.toml' 2>'$WORK/bad.err'"
        check "  ... the message names it: $expect" grep -q -- "$expect" "$WORK/bad.err"
        check "  ... and the index is unchanged" test "$(generations "$HI")" = "$before"
    }
    bad_collect "an integrity mismatch" '"fx-bad"' "fx-bad@1.0.0: integrity mismatch"
    bad_collect "an unsatisfiable dependency" '"fx-zeta"' 'fx-left: no version matches "^9"; available: 1.0.0, 1.1.0, 2.0.0 (needed by: fx-zeta@1.0.0'
    bad_collect "a malformed packument" '"fx-broken"' "fx-broken: .*malformed packument"
    bad_collect "a missing package" '"fx-nosuch"' "fx-nosuch: not found at the upstream registry"
    bad_collect "a missing version" '"fx-left@3"' 'fx-left: no version matches "3"'
    python3 - "$WORK/app/package-lock.json" "$WORK/tampered-lock.json" <<'PY'
import json, sys
lock = json.load(open(sys.argv[1]))
lock["packages"]["node_modules/fx-left"]["integrity"] = "sha512-" + "A" * 86 + "=="
json.dump(lock, open(sys.argv[2], "w"))
PY
    printf '[npm]\nregistry = "http://127.0.0.1:5050/"\nlockfiles = ["tampered-lock.json"]\n' >"$WORK/bad.toml"
    check "bad input refused: a lockfile integrity that differs from the registry's" sh -c "! '$AIRLIFT' --home '$HI' collect --config '$WORK/bad.toml' 2>'$WORK/bad.err'"
    check "  ... the message names it" grep -q "fx-left@2.0.0: integrity mismatch" "$WORK/bad.err"
    check "  ... and the index is unchanged" test "$(generations "$HI")" = "$before"

    # Platform targets: fx-opt's optional fx-win-only (os win32) is left out for
    # linux, and the collect says so; fx-linux-only is carried.
    printf '[npm]\nregistry = "http://127.0.0.1:5050/"\npackages = ["fx-opt"]\nos = ["linux"]\ncpu = ["x64"]\n' >"$WORK/targets.toml"
    check "[npm] os/cpu targets: collect fx-opt for linux x64" \
        sh -c "'$AIRLIFT' --home '$WORK/targets-home' --json collect --config '$WORK/targets.toml' >'$WORK/targets.json'"
    check "  ... fx-win-only is left out and named, fx-linux-only is carried" \
        python3 -c "import json,sys; d=json.load(open('$WORK/targets.json')); n=d['npm_notes']; sys.exit(not (d['npm_versions'] == 2 and any('fx-win-only@1.0.0 (os [\"win32\"]' in x for x in n) and any('left out 1 versions' in x for x in n)))"
    printf '[npm]\nregistry = "http://127.0.0.1:5050/"\npackages = ["fx-opt"]\nos = ["windows"]\n' >"$WORK/bad.toml"
    check "  ... an os name npm does not know is refused" \
        sh -c "! '$AIRLIFT' --home '$WORK/targets-home' collect --config '$WORK/bad.toml' 2>'$WORK/bad.err' && grep -q '\"windows\" is not one of npm' '$WORK/bad.err'"

    check "keys init" "$AIRLIFT" --home "$HI" keys init
    check "pack" "$AIRLIFT" --home "$HI" pack --out "$WORK/media/npm.tar.zst"
    sleep 1.1 # a bundle's version is the second it was packed in
    check "pack again: a newer bundle, imported over published packages" \
        "$AIRLIFT" --home "$HI" pack --out "$WORK/media/npm-2.tar.zst"
    kill "$upstream" 2>/dev/null || true

    # --- isolated side --------------------------------------------------------
    GAP=$WORK/gap
    check "[gap] init trust" "$AIRLIFT" --home "$GAP" init --trust "$HI/keys/roots/1.root.json"
    check "[gap] import" "$AIRLIFT" --home "$GAP" import "$WORK/media/npm.tar.zst"
    start_server "$GAP" 5051
    R=http://127.0.0.1:5051/npm
    field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
    check "[gap] full packument: versions, time, dist-tags" \
        test "$(curl -sf "$R/fx-left" | field "sorted(d['versions']), d['dist-tags']['latest'], '2.0.0' in d['time'], d['description']")" = "['1.1.0', '2.0.0'] 2.0.0 True fixture fx-left"
    check "[gap] dist.tarball points at this server" \
        test "$(curl -sf "$R/fx-left" | field "d['versions']['2.0.0']['dist']['tarball']")" = "http://127.0.0.1:5051/npm/fx-left/-/fx-left-2.0.0.tgz"
    check "[gap] abbreviated packument for the install Accept type" \
        sh -c "curl -sfi -H 'Accept: application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*' '$R/fx-script' | tr -d '\r' | grep -qi '^content-type: application/vnd.npm.install-v1+json'"
    check "[gap]   ... with hasInstallScript and without time" \
        test "$(curl -sf -H 'Accept: application/vnd.npm.install-v1+json' "$R/fx-script" | field "d['versions']['1.0.0']['hasInstallScript'], 'time' in d")" = "True False"
    check "[gap] scoped name, encoded (@fx%2fscoped)" test "$(curl -sf "$R/@fx%2fscoped" | field "d['name']")" = "@fx/scoped"
    check "[gap] scoped name, plain (@fx/scoped)" test "$(curl -sf "$R/@fx/scoped" | field "d['name']")" = "@fx/scoped"
    check "[gap] the win32-only optional package was carried" test "$(curl -s -o /dev/null -w '%{http_code}' "$R/fx-win-only")" = 200
    check "[gap] tarball bytes exactly as upstream" \
        sh -c "curl -sf '$R/@fx/scoped/-/scoped-1.0.0.tgz' | cmp - '$WORK/upstream/tarballs/fx-scoped-1.0.0.tgz'"
    etag=$(curl -sfI "$R/fx-left" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
    check "[gap] If-None-Match answers 304" test "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$R/fx-left")" = 304
    check "[gap] audit endpoint answers" test "$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"fx-left":["2.0.0"]}' "$R/-/npm/v1/security/advisories/bulk")" = "{}"
    # Writing needs a user (anonymous callers on loopback may only read);
    # a user's PUT that is not a publish document is refused.
    check "[gap] an anonymous write is refused (401)" test "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$R/fx-left")" = 401
    "$AIRLIFT" --home "$GAP" user add writer >/dev/null
    WRITER_TOKEN=$("$AIRLIFT" --home "$GAP" token create npm-write --user writer --scope 'npm:*:read,write') || true
    sleep 1.1 # the server reloads users and tokens at most once a second
    check "[gap] a user's PUT that is not a publish document is refused (400)" \
        test "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $WRITER_TOKEN" "$R/fx-left")" = 400

    "$AIRLIFT" --home "$GAP" client-config npm --url http://127.0.0.1:5051 >"$WORK/gap.npmrc"
    check "[gap] npm ci of the locked project, configured only by airlift client-config npm" \
        sh -c "cd '$WORK/app' && npm ci --userconfig '$WORK/gap.npmrc' --cache '$WORK/cache-gap' >'$WORK/ci.out' 2>&1"
    check "[gap]   ... audit ran and found nothing" grep -q "found 0 vulnerabilities" "$WORK/ci.out"
    check "[gap]   ... fx-left 2.0.0 at the top, 1.1.0 nested under fx-mid" \
        test "$(cd "$WORK/app" && node -p "require('fx-left') + ' / ' + require('./node_modules/fx-mid/node_modules/fx-left')")" = "fx-left 2.0.0 / fx-left 1.1.0"
    check "[gap]   ... the install script ran" test -f "$WORK/app/node_modules/fx-script/installed.txt"
    check "[gap]   ... the scoped package is there" test "$(cd "$WORK/app" && node -p "require('@fx/scoped')")" = "@fx/scoped 1.0.0"
    check "[gap]   ... the linux-only optional package is there, the win32-only one is not" \
        sh -c "test -d '$WORK/app/node_modules/fx-linux-only' && ! test -d '$WORK/app/node_modules/fx-win-only'"
    mkdir -p "$WORK/app-old"
    cp "$WORK/app/package.json" "$WORK/app/package-lock.json" "$WORK/app-old/"
    check "[gap] npm $OLD_NPM_VERSION (Debian 12's) ci of the locked project" \
        sh -c "cd '$WORK/app-old' && node '$OLD_NPM/node_modules/npm/bin/npm-cli.js' ci -s --userconfig '$WORK/gap.npmrc' --cache '$WORK/cache-old'"
    check "[gap]   ... npm $OLD_NPM_VERSION's tree: fx-left 2.0.0 at the top, 1.1.0 nested" \
        test "$(cd "$WORK/app-old" && node -p "require('fx-left') + ' / ' + require('./node_modules/fx-mid/node_modules/fx-left')")" = "fx-left 2.0.0 / fx-left 1.1.0"
    mkdir -p "$WORK/plain"
    echo '{"name": "plain", "version": "1.0.0", "private": true}' >"$WORK/plain/package.json"
    check "[gap] npm install of a plain list (no lockfile)" \
        sh -c "cd '$WORK/plain' && npm install -s --userconfig '$WORK/gap.npmrc' --cache '$WORK/cache-plain' fx-mid @fx/scoped"
    check "[gap]   ... resolved from airlift" \
        test "$(cd "$WORK/plain" && node -p "require('fx-mid') + ' / ' + require('fx-left')")" = "fx-mid 1.0.0 / fx-left 1.1.0"
    mkdir -p "$WORK/plain-old"
    echo '{"name": "plain-old", "version": "1.0.0", "private": true}' >"$WORK/plain-old/package.json"
    check "[gap] npm $OLD_NPM_VERSION (Debian 12's) install of a plain list with the client-config output" \
        sh -c "cd '$WORK/plain-old' && node '$OLD_NPM/node_modules/npm/bin/npm-cli.js' install -s --userconfig '$WORK/gap.npmrc' --cache '$WORK/cache-plain-old' fx-mid @fx/scoped"
    check "[gap]   ... resolved from airlift" \
        test "$(cd "$WORK/plain-old" && node -p "require('fx-mid') + ' / ' + require('fx-left')")" = "fx-mid 1.0.0 / fx-left 1.1.0"
    check "[gap] a package that was not carried is not found (nothing leaks in)" \
        sh -c "cd '$WORK/plain' && ! npm install -s --userconfig '$WORK/gap.npmrc' --cache '$WORK/cache-plain' fx-zeta 2>/dev/null"

    # A second server on the same home that requires credentials: only the
    # user `reader` may read npm, nobody reads anonymously. npm (the newest
    # and Debian 12's) installs with the client-config output plus the
    # token line `npm login` would write; without it npm says E401, and a
    # token confined to the @fx scope gets E403 for any other package.
    cat >"$WORK/access-npm.toml" <<'TOML'
[[rule]]
ecosystems = ["npm"]
read = ["reader"]
write = []
delete = []
TOML
    "$AIRLIFT" --home "$GAP" user add reader >/dev/null
    TOKEN=$("$AIRLIFT" --home "$GAP" token create npm-read --user reader --scope 'npm:*:read') || true
    SCOPE_TOKEN=$("$AIRLIFT" --home "$GAP" token create npm-fx --user reader --scope 'npm:@fx/*:read') || true
    check "[gap] auth: user add, token create (one for npm, one for the @fx scope only)" test -n "$TOKEN" -a -n "$SCOPE_TOKEN"
    start_server "$GAP" 5053 --access "$WORK/access-npm.toml"
    AR=http://127.0.0.1:5053/npm
    check "[gap] auth: the server answers an anonymous request 401 with a JSON error" \
        sh -c "test \"\$(curl -s -o '$WORK/anon.json' -w '%{http_code}' '$AR/fx-left')\" = 401 && python3 -c \"import json; assert json.load(open('$WORK/anon.json'))['error']\""
    # The locked project is installed with the client-config output plus
    # the token line; plain lists with just `registry=` and the token line
    # (npm 9.2.0 with replace-registry-host=always fetches a packument's
    # tarball URL under a doubled path, /npm/npm/..., and gets 404 whether
    # or not the server requires credentials).
    { "$AIRLIFT" --home "$GAP" client-config npm --url http://127.0.0.1:5053; echo "//127.0.0.1:5053/npm/:_authToken=$TOKEN"; } >"$WORK/auth.npmrc"
    echo "registry=$AR/" >"$WORK/none.npmrc"
    printf 'registry=%s/\n//127.0.0.1:5053/npm/:_authToken=%s\n' "$AR" "$SCOPE_TOKEN" >"$WORK/scope.npmrc"
    printf 'registry=%s/\n//127.0.0.1:5053/npm/:_authToken=%s\n' "$AR" "$TOKEN" >"$WORK/token.npmrc"
    fresh() { # dir: an empty project
        mkdir -p "$WORK/$1"
        echo '{"name": "p", "version": "1.0.0", "private": true}' >"$WORK/$1/package.json"
    }
    NEW_NPM=$(command -v npm)
    for which in newest old; do
        if [ "$which" = newest ]; then
            npm_cmd=("$NEW_NPM") version=$(npm --version)
        else
            npm_cmd=(node "$OLD_NPM/node_modules/npm/bin/npm-cli.js") version=$OLD_NPM_VERSION
        fi
        mkdir -p "$WORK/auth-ci-$which"
        cp "$WORK/app/package.json" "$WORK/app/package-lock.json" "$WORK/auth-ci-$which/"
        check "[gap] auth: npm $version ci of the locked project with _authToken in .npmrc" \
            sh -c "cd '$WORK/auth-ci-$which' && $(printf '%q ' "${npm_cmd[@]}") ci -s --userconfig '$WORK/auth.npmrc' --cache '$WORK/cache-auth-$which'"
        check "[gap] auth:   ... npm $version's tree: fx-left 2.0.0 at the top, 1.1.0 nested, the scoped package" \
            test "$(cd "$WORK/auth-ci-$which" && node -p "require('fx-left') + ' / ' + require('./node_modules/fx-mid/node_modules/fx-left') + ' / ' + require('@fx/scoped')")" = "fx-left 2.0.0 / fx-left 1.1.0 / @fx/scoped 1.0.0"
        fresh "auth-plain-$which"
        check "[gap] auth: npm $version install of a plain list with registry= and _authToken" \
            sh -c "cd '$WORK/auth-plain-$which' && $(printf '%q ' "${npm_cmd[@]}") install -s --userconfig '$WORK/token.npmrc' --cache '$WORK/cache-plain-$which' fx-mid @fx/scoped && test \"\$(node -p \"require('fx-mid') + ' / ' + require('@fx/scoped')\")\" = 'fx-mid 1.0.0 / @fx/scoped 1.0.0'"
        fresh "auth-none-$which"
        check "[gap] auth: npm $version without the token fails with E401" \
            sh -c "cd '$WORK/auth-none-$which' && ! $(printf '%q ' "${npm_cmd[@]}") install --userconfig '$WORK/none.npmrc' --cache '$WORK/cache-none-$which' fx-mid >'$WORK/auth-none-$which.out' 2>&1 && grep -q 'E401' '$WORK/auth-none-$which.out'"
        fresh "auth-scope-$which"
        check "[gap] auth: npm $version with the @fx-scoped token installs @fx/scoped" \
            sh -c "cd '$WORK/auth-scope-$which' && $(printf '%q ' "${npm_cmd[@]}") install -s --userconfig '$WORK/scope.npmrc' --cache '$WORK/cache-scope-$which' @fx/scoped && test \"\$(node -p \"require('@fx/scoped')\")\" = '@fx/scoped 1.0.0'"
        fresh "auth-other-$which"
        check "[gap] auth: npm $version with the @fx-scoped token cannot fetch fx-mid: E403" \
            sh -c "cd '$WORK/auth-other-$which' && ! $(printf '%q ' "${npm_cmd[@]}") install --userconfig '$WORK/scope.npmrc' --cache '$WORK/cache-other-$which' fx-mid >'$WORK/auth-other-$which.out' 2>&1 && grep -q 'E403' '$WORK/auth-other-$which.out'"
    done
    check "[gap] auth: token revoke" "$AIRLIFT" --home "$GAP" token revoke npm-read
    sleep 1.5
    fresh auth-revoked
    check "[gap] auth: npm with the revoked token fails with E401" \
        sh -c "cd '$WORK/auth-revoked' && ! npm install --userconfig '$WORK/token.npmrc' --cache '$WORK/cache-revoked' fx-mid >'$WORK/auth-revoked.out' 2>&1 && grep -q 'E401' '$WORK/auth-revoked.out'"

    # Publishing inside the gap: a site that hosts @corp/* (its own
    # access.toml, which imports read too), where user `publisher` may
    # write. Both npms publish a version of @corp/tool; npm installs it;
    # republishing a version (409: npm 9 says EPUBLISHCONFLICT, npm 11 the
    # server's message) and publishing outside the hosted names are refused;
    # a newer bundle imported afterwards leaves it installable.
    PUB=$WORK/pub-gap
    check "[gap] publish: init trust, import" sh -c "'$AIRLIFT' --home '$PUB' init --trust '$HI/keys/roots/1.root.json' && '$AIRLIFT' --home '$PUB' import '$WORK/media/npm.tar.zst'"
    cat >"$PUB/access.toml" <<'TOML'
[[hosted]]
ecosystems = ["npm"]
names = ["@corp/*"]

[[rule]]
ecosystems = ["npm"]
read = ["publisher"]
write = ["publisher"]
delete = ["publisher"]
TOML
    "$AIRLIFT" --home "$PUB" user add publisher >/dev/null
    PUB_TOKEN=$("$AIRLIFT" --home "$PUB" token create npm-publish --user publisher --scope 'npm:*:read,write,delete') || true
    check "[gap] publish: a token for user publisher" test -n "$PUB_TOKEN"
    start_server "$PUB" 5054
    PR=http://127.0.0.1:5054/npm
    printf 'registry=%s/\n//127.0.0.1:5054/npm/:_authToken=%s\n' "$PR" "$PUB_TOKEN" >"$WORK/pub.npmrc"
    make_tool() { # dir name version
        mkdir -p "$WORK/$1"
        printf '{"name": "%s", "version": "%s", "main": "index.js", "description": "made inside"}\n' "$2" "$3" >"$WORK/$1/package.json"
        printf 'module.exports = "%s %s";\n' "$2" "$3" >"$WORK/$1/index.js"
    }
    check "[gap] publish: npm whoami names the token's user" \
        test "$(npm whoami --userconfig "$WORK/pub.npmrc" 2>/dev/null)" = publisher
    for which in newest old; do
        if [ "$which" = newest ]; then
            npm_cmd=("$NEW_NPM") version=$(npm --version) tool_version=1.0.0
        else
            npm_cmd=(node "$OLD_NPM/node_modules/npm/bin/npm-cli.js") version=$OLD_NPM_VERSION tool_version=1.1.0
        fi
        make_tool "tool-$which" @corp/tool "$tool_version"
        check "[gap] publish: npm $version publish of @corp/tool@$tool_version" \
            sh -c "cd '$WORK/tool-$which' && $(printf '%q ' "${npm_cmd[@]}") publish --userconfig '$WORK/pub.npmrc' --cache '$WORK/cache-pub-$which' >'$WORK/pub-$which.out' 2>&1"
        check "[gap] publish:   ... npm $version cannot publish it again" \
            sh -c "cd '$WORK/tool-$which' && ! $(printf '%q ' "${npm_cmd[@]}") publish --userconfig '$WORK/pub.npmrc' --cache '$WORK/cache-pub-$which' >'$WORK/republish-$which.out' 2>&1 && grep -Eq 'cannot publish over the previously published version|EPUBLISHCONFLICT' '$WORK/republish-$which.out'"
        make_tool "other-$which" other-name 1.0.0
        check "[gap] publish:   ... npm $version cannot publish outside the hosted names (E403)" \
            sh -c "cd '$WORK/other-$which' && ! $(printf '%q ' "${npm_cmd[@]}") publish --userconfig '$WORK/pub.npmrc' --cache '$WORK/cache-pub-$which' >'$WORK/other-$which.out' 2>&1 && grep -q 'E403' '$WORK/other-$which.out'"
    done
    check "[gap] publish: the packument has both versions, latest 1.1.0, tarballs on this server" \
        python3 -c "import json,sys,urllib.request as u; r=u.Request('$PR/@corp%2ftool', headers={'Authorization': 'Bearer $PUB_TOKEN'}); d=json.load(u.urlopen(r)); sys.exit(not (sorted(d['versions']) == ['1.0.0', '1.1.0'] and d['dist-tags']['latest'] == '1.1.0' and d['versions']['1.0.0']['dist']['tarball'].startswith('$PR/@corp/tool/-/')))"
    check "[gap] publish: the audit log names the publisher" \
        sh -c "'$AIRLIFT' --home '$PUB' --json audit export | grep -q 'publish @corp/tool@1.1.0' && '$AIRLIFT' --home '$PUB' --json audit export | grep -q '\"principal\": *\"publisher\"'"
    fresh pub-install
    check "[gap] publish: npm install @corp/tool from another project gets 1.1.0" \
        sh -c "cd '$WORK/pub-install' && npm install -s --userconfig '$WORK/pub.npmrc' --cache '$WORK/cache-pub-install' @corp/tool fx-mid && test \"\$(node -p \"require('@corp/tool')\")\" = '@corp/tool 1.1.0' && test -f node_modules/@corp/tool/package.json"
    check "[gap] publish: npm dist-tag add @corp/tool@1.0.0 stable, then ls" \
        sh -c "npm dist-tag add --userconfig '$WORK/pub.npmrc' --cache '$WORK/cache-pub-newest' @corp/tool@1.0.0 stable >/dev/null 2>&1 && npm dist-tag ls --userconfig '$WORK/pub.npmrc' --cache '$WORK/cache-pub-newest' @corp/tool 2>/dev/null | grep -qx 'stable: 1.0.0'"
    check "[gap] publish: npm dist-tag rm @corp/tool stable" \
        sh -c "npm dist-tag rm --userconfig '$WORK/pub.npmrc' --cache '$WORK/cache-pub-newest' @corp/tool stable >/dev/null 2>&1 && ! npm dist-tag ls --userconfig '$WORK/pub.npmrc' --cache '$WORK/cache-pub-newest' @corp/tool 2>/dev/null | grep -q stable"
    check "[gap] publish: npm unpublish @corp/tool@1.0.0" \
        sh -c "npm unpublish --userconfig '$WORK/pub.npmrc' --cache '$WORK/cache-pub-newest' @corp/tool@1.0.0 >'$WORK/unpublish.out' 2>&1 && ! curl -sf -H 'Authorization: Bearer $PUB_TOKEN' '$PR/@corp%2ftool' | grep -q '\"1.0.0\"'"
    check "[gap] publish: import of a newer bundle keeps the published package" \
        sh -c "'$AIRLIFT' --home '$PUB' import '$WORK/media/npm-2.tar.zst' 2>&1 | grep -q '^imported bundle'"
    fresh pub-after
    check "[gap] publish:   ... npm install @corp/tool@1.1.0 after the import" \
        sh -c "cd '$WORK/pub-after' && npm install -s --userconfig '$WORK/pub.npmrc' --cache '$WORK/cache-pub-after' @corp/tool@1.1.0 fx-mid && test \"\$(node -p \"require('@corp/tool') + ' / ' + require('fx-mid')\")\" = '@corp/tool 1.1.0 / fx-mid 1.0.0'"

    # The live set, carried and installed.
    LGAP=$WORK/live-gap
    check "[gap] live: init trust" "$AIRLIFT" --home "$LGAP" init --trust "$WORK/live-root.json"
    check "[gap] live: import" "$AIRLIFT" --home "$LGAP" import "$WORK/live.tar"
    start_server "$LGAP" 5052
    "$AIRLIFT" --home "$LGAP" client-config npm --url http://127.0.0.1:5052 >"$WORK/live.npmrc"
    mkdir -p "$WORK/live-app"
    echo '{"name": "live-app", "version": "1.0.0", "private": true}' >"$WORK/live-app/package.json"
    check "[gap] live: npm install chalk@4 @types/node@20 from airlift alone" \
        sh -c "cd '$WORK/live-app' && npm install -s --userconfig '$WORK/live.npmrc' --cache '$WORK/cache-live' chalk@4 @types/node@20"
    check "[gap] live:   ... chalk works" test "$(cd "$WORK/live-app" && node -p "typeof require('chalk').green")" = "function"
}
output=$(in_gap hermetic_part 2>&1) || true
finish npm "$output"
