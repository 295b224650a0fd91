#!/usr/bin/env bash
# Environments (ADR 0027) with real clients, inside a network namespace
# with only loopback.
#
# Connected side: the pypi and npm fixture upstreams (tests/pypi, tests/npm)
# and the CNCF registry (Debian's docker-registry) serve the old release
# (beta 1.0, fx-left 1.0.0, team/app:1.0 with one layer); airlift collects
# and packs it, then the new release (beta 1.1, fx-left 1.1.0, the image's
# tag moved to new bytes) as a second bundle. Isolated side: the first
# bundle is imported, `production` (promotions need one approval) and
# `staging` are pinned to it, then the second bundle is imported (the
# default environment follows it).
#
# Then pip, npm and skopeo (and Debian 12's pip and npm) get the new release
# from staging once promoted and the old one from production; a promotion
# into production without the approval is refused and changes nothing, a
# request signed with `airlift approve` moves it; `airlift rollback`
# restores byte-identical answers (Simple page, wheel, packument, tarball,
# manifest), also after a garbage collection that keeps a single
# generation; `/env/<name>/v2/` and `serve --env-host` serve the same;
# writes under /env/ are refused; the moves are in the audit log, which
# verifies; `status`, the metrics and `client-config --env` know the
# environments.
#
# Usage: AIRLIFT=path/to/airlift tests/environments/run.sh   (as root)
set -euo pipefail

AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=$("$ROOT/tests/pypi/venv.sh")
# shellcheck source=../oci/tools.sh
source "$ROOT/tests/oci/tools.sh"
REGISTRY=$(command -v docker-registry || true)
if [ -z "$REGISTRY" ]; then
    apt-get update -qq && apt-get install -y -qq docker-registry >/dev/null
    REGISTRY=$(command -v docker-registry)
fi
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-environments
CHECK_LOG=$WORK/environments.log
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
: >"$WORK/empty.npmrc"; : >"$WORK/user.npmrc"
export npm_config_globalconfig=$WORK/empty.npmrc npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export AIRLIFT WORK CHECK_LOG VENV CRANE REGISTRY ROOT

# The clients Debian 12 ships, next to the newest: pip 23.0.1 and npm
# 9.2.0, installed once under target/ and pinned as tests/pypi and tests/npm
# install them.
OLD_PIP_VERSION=23.0.1
OLD_PIP=$ROOT/target/old-pip/$OLD_PIP_VERSION
if [ ! -x "$OLD_PIP/bin/pip" ] || [ "$("$OLD_PIP/bin/pip" --version | cut -d' ' -f2)" != "$OLD_PIP_VERSION" ]; then
    rm -rf "$OLD_PIP"
    python3 -m venv "$OLD_PIP"
    grep "^pip==$OLD_PIP_VERSION " "$ROOT/tests/pypi/old-pips.txt" >"$WORK/old-pip.txt"
    "$OLD_PIP/bin/python" -m pip install -q --require-hashes -r "$WORK/old-pip.txt"
fi
OLD_NPM_VERSION=9.2.0
OLD_NPM=$ROOT/target/old-npm/$OLD_NPM_VERSION
if [ ! -x "$OLD_NPM/node_modules/npm/bin/npm-cli.js" ]; then
    npm install -s --prefix "$OLD_NPM" --no-save --cache "$WORK/cache-old-npm" "npm@$OLD_NPM_VERSION" >/dev/null
fi
export OLD_PIP OLD_PIP_VERSION OLD_NPM OLD_NPM_VERSION

# The fixtures are built with the network the machine has (npm pack, build).
"$VENV/bin/python" "$ROOT/tests/pypi/fixtures.py" "$WORK/pypi" >"$WORK/pypi-fixtures.txt"
python3 "$ROOT/tests/npm/fixtures.py" "$WORK/npm" >"$WORK/npm-fixtures.txt"

in_namespace() {
    "$VENV/bin/python" "$ROOT/tests/pypi/upstream.py" "$WORK/pypi" 5141 >>"$WORK/upstream.log" 2>&1 &
    stop_at_exit $!
    python3 "$ROOT/tests/npm/upstream.py" "$WORK/npm" 5142 >>"$WORK/upstream.log" 2>&1 &
    stop_at_exit $!
    cat >"$WORK/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $WORK/registry-data
http:
  addr: 127.0.0.1:5143
YAML
    "$REGISTRY" serve "$WORK/registry.yml" >>"$WORK/registry.log" 2>&1 &
    stop_at_exit $!
    wait_for http://127.0.0.1:5141/simple/beta/
    wait_for http://127.0.0.1:5142/fx-left
    wait_for http://127.0.0.1:5143/v2/
    U=127.0.0.1:5143
    HI=$WORK/connected
    LO=$WORK/isolated
    "$AIRLIFT" --home "$HI" keys init >/dev/null

    # Release N (0: old, 1: new): beta 1.N, fx-left 1.N.0, and team/app:1.0
    # with a layer of its own.
    # shellcheck disable=SC2317 # called through check
    version() {
        local n=$1
        head -c 300000 /dev/urandom >"$WORK/layer-$n.bin"
        tar -C "$WORK" -cf "$WORK/layer-$n.tar" "layer-$n.bin"
        "$CRANE" append --insecure -f "$WORK/layer-$n.tar" -t "$U/team/app:1.0" >/dev/null || return 1
        "$CRANE" digest --insecure "$U/team/app:1.0" >"$WORK/app-$n.digest" || return 1
        cat >"$WORK/airlift-$n.toml" <<TOML
[pypi]
index = "http://127.0.0.1:5141/simple/"
python = ["3.11"]
platforms = ["any"]
packages = ["beta==1.$n"]

[npm]
registry = "http://127.0.0.1:5142/"
packages = ["fx-left@1.$n.0"]

[[oci]]
image = "$U/team/app:1.0"
plain_http = true
TOML
        "$AIRLIFT" --home "$HI" collect --config "$WORK/airlift-$n.toml" || return 1
        "$AIRLIFT" --home "$HI" pack --out "$WORK/bundle-$n.tar.zst"
    }
    check "connected: collect and pack the old release" version 0
    check "isolated: init trust" "$AIRLIFT" --home "$LO" init --trust "$HI/keys/roots/1.root.json"
    check "isolated: import the old release" "$AIRLIFT" --home "$LO" import "$WORK/bundle-0.tar.zst"
    check "env create production (promotions need 1 approval)" \
        "$AIRLIFT" --home "$LO" env create production --approvals 1
    check "env create staging" "$AIRLIFT" --home "$LO" env create staging
    check "env create refuses an existing name" sh -c "! '$AIRLIFT' --home '$LO' env create staging 2>'$WORK/err' && grep -q 'exists already' '$WORK/err'"
    check "env create refuses a bad name" sh -c "! '$AIRLIFT' --home '$LO' env create 'Bad/Name' 2>'$WORK/err' && grep -q 'not an environment name' '$WORK/err'"
    check "connected: collect and pack the new release" version 1
    check "isolated: import the new release (the default environment follows)" "$AIRLIFT" --home "$LO" import --allow-removals "$WORK/bundle-1.tar.zst"
    check "env list shows both, pinned to the first import's generation" \
        sh -c "'$AIRLIFT' --home '$LO' --json env list >'$WORK/list.json' && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); g={e[\"name\"]: e[\"generation\"] for e in d[\"environments\"]}; assert g[\"production\"] == g[\"staging\"] < d[\"default\"], d' '$WORK/list.json'"

    start_server "$LO" 5144 --env-host production=production.example.test
    S=http://127.0.0.1:5144
    R=127.0.0.1:5144
    pip_version() { # NAME PREFIX [PIP] -> the beta version pip downloads from it
        rm -rf "$WORK/pip-$1"
        "${3:-$VENV/bin/pip}" download -q --no-deps -d "$WORK/pip-$1" --index-url "$S$2/pypi/simple/" beta >/dev/null 2>&1 &&
            find "$WORK/pip-$1" -name 'beta-*' -printf '%f\n' | sed -nE 's/^beta-([0-9.]+)[-.].*/\1/p'
    }
    # npm keeps a packument for its max-age (60 s, as after an import);
    # --prefer-online revalidates it, as a user right after a promotion would.
    npm_version() { # NAME PREFIX [NPM-CLI.JS] -> the fx-left version npm installs from it
        local npm=(npm)
        [ -z "${3:-}" ] || npm=(node "$3")
        rm -rf "$WORK/npm-$1" && mkdir -p "$WORK/npm-$1" &&
            (cd "$WORK/npm-$1" && "${npm[@]}" install -s --prefer-online --userconfig "$WORK/user.npmrc" --cache "$WORK/npm-cache-$1" \
                --registry "$S$2/npm/" fx-left@1 >"$WORK/npm-$1.log" 2>&1) &&
            python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$WORK/npm-$1/node_modules/fx-left/package.json"
    }
    image_digest() { # REPOSITORY-PREFIX -> the digest skopeo sees for team/app:1.0
        skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/$1team/app:1.0"
    }

    check "default: pip gets beta 1.1" test "$(pip_version default '')" = 1.1
    check "production: pip gets beta 1.0 from /env/production/" test "$(pip_version production /env/production)" = 1.0
    check "staging: pip gets beta 1.0 before the promotion" test "$(pip_version staging /env/staging)" = 1.0
    check "promote --dry-run previews the change and moves nothing" \
        sh -c "'$AIRLIFT' --home '$LO' promote --to staging --dry-run >'$WORK/preview.txt' && grep -q 'added' '$WORK/preview.txt' && grep -q 'pypi: ' '$WORK/preview.txt' && grep -q 'advisories: ' '$WORK/preview.txt' && grep -q 'dry run' '$WORK/preview.txt'"
    check "  ... staging still gets beta 1.0" test "$(pip_version staging /env/staging)" = 1.0
    check "promote --from default --to staging" \
        sh -c "'$AIRLIFT' --home '$LO' promote --from default --to staging >'$WORK/promote.txt' && grep -q 'staging now serves generation' '$WORK/promote.txt'"
    check "staging: pip gets beta 1.1" test "$(pip_version staging /env/staging)" = 1.1
    check "staging: npm installs fx-left 1.1.0" test "$(npm_version staging /env/staging)" = 1.1.0
    check "production: npm installs fx-left 1.0.0" test "$(npm_version production /env/production)" = 1.0.0
    check "Debian 12's pip $OLD_PIP_VERSION: beta 1.1 from staging, 1.0 from production" \
        test "$(pip_version old-pip-s /env/staging "$OLD_PIP/bin/pip") $(pip_version old-pip-p /env/production "$OLD_PIP/bin/pip")" = "1.1 1.0"
    check "Debian 12's npm $OLD_NPM_VERSION: fx-left 1.1.0 from staging, 1.0.0 from production" \
        test "$(npm_version old-npm-s /env/staging "$OLD_NPM/node_modules/npm/bin/npm-cli.js") $(npm_version old-npm-p /env/production "$OLD_NPM/node_modules/npm/bin/npm-cli.js")" = "1.1.0 1.0.0"
    check "production: the packument's tarball links stay inside /env/production/" \
        sh -c "curl -fsS '$S/env/production/npm/fx-left' | grep -q '\"tarball\":\"$S/env/production/npm/fx-left/-/fx-left-1.0.0.tgz\"'"
    check "staging: skopeo sees the new image" test "$(image_digest env/staging/)" = "$(cat "$WORK/app-1.digest")"
    check "production: skopeo sees the old image" test "$(image_digest env/production/)" = "$(cat "$WORK/app-0.digest")"
    check "production: skopeo copies the image out" skopeo copy -q --src-tls-verify=false "docker://$R/env/production/team/app:1.0" "oci:$WORK/production-layout:app"
    check "  ... its layer is the old release's" sh -c "tar -xOf - <\"\$(ls -S '$WORK'/production-layout/blobs/sha256/* | head -1)\" 2>/dev/null | cmp - '$WORK/layer-0.bin' || (gzip -dc <\"\$(ls -S '$WORK'/production-layout/blobs/sha256/* | head -1)\" | tar -xOf - | cmp - '$WORK/layer-0.bin')"

    # What production answers now, to compare after the rollback.
    # shellcheck disable=SC2317 # called through check
    save() {
        curl -fsS "$S/env/production/pypi/simple/beta/" >"$WORK/$1-simple.html" &&
            curl -fsS "$S/env/production/npm/fx-left" >"$WORK/$1-packument.json" &&
            curl -fsS "$S/env/production/npm/fx-left/-/fx-left-1.0.0.tgz" >"$WORK/$1-tarball.tgz" &&
            curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
                "$S/v2/env/production/team/app/manifests/1.0" >"$WORK/$1-manifest.json" &&
            cp "$WORK"/pip-production/beta-* "$WORK/$1-wheel"
    }
    check "save production's answers" save before

    check "promote into production without its approval is refused (exit 6)" \
        sh -c "'$AIRLIFT' --home '$LO' promote --from staging --to production 2>'$WORK/err'; [ \$? -eq 6 ] && grep -q 'needs 1 approvals' '$WORK/err'"
    check "  ... production still gets beta 1.0" test "$(pip_version production /env/production)" = 1.0
    check "promote --request writes a request and waits (exit 6)" \
        sh -c "'$AIRLIFT' --home '$LO' promote --from staging --to production --request '$WORK/promotion.json' >/dev/null 2>&1; [ \$? -eq 6 ] && test -s '$WORK/promotion.json'"
    check "promote --approved waits while the request carries no approval (exit 6)" \
        sh -c "'$AIRLIFT' --home '$LO' promote --approved '$WORK/promotion.json' 2>'$WORK/err'; [ \$? -eq 6 ] && grep -q 'carries 0 of the 1 approvals' '$WORK/err'"
    check "  ... production still gets beta 1.0" test "$(pip_version production /env/production)" = 1.0
    check "an approver signs the request (airlift approve, the targets key)" \
        "$AIRLIFT" approve "$WORK/promotion.json" --key "$HI/keys/site-ed25519.pk8"
    check "promote --approved moves production" "$AIRLIFT" --home "$LO" promote --approved "$WORK/promotion.json"
    check "production: pip gets beta 1.1" test "$(pip_version production /env/production)" = 1.1
    check "production: npm installs fx-left 1.1.0" test "$(npm_version production /env/production)" = 1.1.0
    check "production: skopeo sees the new image" test "$(image_digest env/production/)" = "$(cat "$WORK/app-1.digest")"
    check "the same approved request cannot move production twice" \
        sh -c "! '$AIRLIFT' --home '$LO' promote --approved '$WORK/promotion.json' 2>'$WORK/err' && grep -q 'serves generation' '$WORK/err'"

    check "rollback production" "$AIRLIFT" --home "$LO" rollback production
    check "production: pip gets beta 1.0 again" test "$(pip_version production /env/production)" = 1.0
    check "garbage collection keeping one generation" "$AIRLIFT" --home "$LO" gc --keep 1 --grace 0s
    check "rollback restores byte-identical answers (Simple page, wheel, packument, tarball, manifest)" save after
    for part in simple.html packument.json tarball.tgz manifest.json wheel; do
        check "  ... $part" cmp "$WORK/before-$part" "$WORK/after-$part"
    done
    check "production: skopeo sees the old image again" test "$(image_digest env/production/)" = "$(cat "$WORK/app-0.digest")"
    check "rollback with nothing further back is refused" \
        sh -c "! '$AIRLIFT' --home '$LO' rollback production 2>'$WORK/err' && grep -q 'no earlier generation' '$WORK/err'"

    check "/env/production/v2/… serves the same manifest as /v2/env/production/…" \
        sh -c "curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' '$S/env/production/v2/team/app/manifests/1.0' | cmp - '$WORK/before-manifest.json'"
    check "serve --env-host: production's host serves it at the root" \
        sh -c "curl -fsS -H 'Host: production.example.test:5144' '$S/pypi/simple/beta/' | cmp - '$WORK/before-simple.html'"
    check "writes under /env/ are refused (405)" \
        sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data x '$S/env/staging/files/x.txt')\" = 405 ]"
    check "an unknown environment is a 404 that says so" \
        sh -c "curl -s '$S/env/nowhere/pypi/simple/' | grep -q 'no environment \"nowhere\"'"
    check "client-config pip --env staging points at /env/staging/" \
        sh -c "'$AIRLIFT' --home '$LO' client-config pip --url '$S' --env staging | grep -q '$S/env/staging/pypi/simple'"
    check "client-config --env refuses an unknown environment" \
        sh -c "! '$AIRLIFT' --home '$LO' client-config npm --url '$S' --env nowhere 2>/dev/null"
    check "airlift status lists the environments" \
        sh -c "'$AIRLIFT' --home '$LO' status | grep -q '^environments: production at generation 1, staging at generation 2'"
    check "the metrics give each environment's generation" \
        sh -c "curl -fsS '$S/metrics' >'$WORK/metrics.txt' && grep -q 'airlift_environment_generation{environment=\"production\"}' '$WORK/metrics.txt' && grep -q 'airlift_environment_generation{environment=\"default\"}' '$WORK/metrics.txt'"
    check "the audit log records the promotions and the rollback, and verifies" \
        sh -c "'$AIRLIFT' --home '$LO' --json audit export >'$WORK/audit.json' && grep -q 'env-promote' '$WORK/audit.json' && grep -q 'env-rollback' '$WORK/audit.json' && '$AIRLIFT' --home '$LO' audit verify"
    stop_server "$SERVER"
}
output=$(in_gap in_namespace 2>&1) || true
finish environments "$output"
