#!/usr/bin/env bash
# Python packages across a gap, with real clients.
#
# Hermetic part, all inside a network namespace with only loopback:
#   fixture projects built with `python -m build` (tests/pypi/fixtures.py) are
#   served by a small Simple-API upstream (tests/pypi/upstream.py); uv makes
#   the lockfiles a team would commit (hashed requirements.txt, pylock.toml,
#   uv.lock); airlift collects lockfiles and plain requirements (closure for
#   Python 3.11 and 3.12), packs, and a second home imports and serves; pip
#   and uv install into fresh virtualenvs from airlift alone. Bad upstream
#   input is refused with the package named and the index unchanged. A
#   second server on the same home requires credentials (`serve --access`):
#   pip (newest and oldest) and uv install with a token in the index URL,
#   and fail (401, 403) without one, as another user or with a revoked one.
#   A third server hosts `corp-*`: twine uploads a wheel and an sdist built
#   there, pip installs them, re-uploads and names outside the hosted ones
#   are refused, and uv publish uploads the next version.
# Live smoke test: a small real set is collected from the machine's own pip
#   default index (read at run time, never written here), carried, and
#   installed inside the namespace.
#
# Usage: AIRLIFT=path/to/airlift tests/pypi/run.sh   (as root)
set -euo pipefail

AIRLIFT=$(realpath "${AIRLIFT:?set AIRLIFT to the airlift binary}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=$("$ROOT/tests/pypi/venv.sh")
PY=$VENV/bin/python
UV=$VENV/bin/uv
# shellcheck source=../lib.sh
source "$ROOT/tests/lib.sh"
work_dir airlift-pypi
CHECK_LOG=$WORK/pypi.log
HERE=$ROOT/tests/pypi
# The machine's pip configuration (find-links, indexes) must not leak in.
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
export UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1
export AIRLIFT PY UV WORK CHECK_LOG HERE

# --- connected side, with network: fixtures and the live collect ------------
"$PY" "$HERE/fixtures.py" "$WORK/upstream" >"$WORK/fixtures.txt"
# setuptools (pinned with its hash) is in the upstream: gamma's sdist needs it
# to build, and airlift must carry it without being told.
grep '^setuptools==' "$HERE/tools.txt" >"$WORK/setuptools.txt"
"$VENV/bin/pip" download -q --no-deps --require-hashes -r "$WORK/setuptools.txt" -d "$WORK/upstream/files"

# Old pips, each in a virtualenv of its own (made once, kept under target/).
OLD_PIPS=$(grep -o '^pip==[0-9.]*' "$HERE/old-pips.txt" | cut -d= -f3 | tr '\n' ' ')
for version in $OLD_PIPS; do
    dir=$ROOT/target/old-pip/$version
    if [ ! -x "$dir/bin/pip" ] || [ "$("$dir/bin/pip" --version | cut -d' ' -f2)" != "$version" ]; then
        rm -rf "$dir"
        python3 -m venv "$dir"
        grep "^pip==$version " "$HERE/old-pips.txt" >"$WORK/pip-$version.txt"
        "$dir/bin/python" -m pip install -q --require-hashes -r "$WORK/pip-$version.txt"
    fi
done
export OLD_PIPS ROOT

LIVE_INDEX=$(python3 -m pip config get global.index-url 2>/dev/null ||
    python3 -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)')
mkdir -p "$WORK/live"
cat >"$WORK/live/airlift.toml" <<TOML
[pypi]
index = "$LIVE_INDEX"
python = ["3.11"]
platforms = ["manylinux_2_28_x86_64", "any"]
packages = ["requests>=2.31,<3"]
TOML
LH=$WORK/live-home
check "live: collect requests and its closure from pip's default index" \
    "$AIRLIFT" --home "$LH" collect --config "$WORK/live/airlift.toml"
check "live: keys init" "$AIRLIFT" --home "$LH" keys init
check "live: pack" "$AIRLIFT" --home "$LH" pack --out "$WORK/live.tar"
cp "$LH/keys/roots/1.root.json" "$WORK/live-root.json"

hermetic_part() {
    check_only_loopback
    "$PY" "$HERE/upstream.py" "$WORK/upstream" 5020 >>"$WORK/upstream.log" 2>&1 &
    upstream=$!
    wait_for http://127.0.0.1:5020/simple/alpha/
    U=http://127.0.0.1:5020/simple/
    export UV_CACHE_DIR=$WORK/uv-cache-connected

    # Lockfiles as a team makes them, against the upstream.
    mkdir -p "$WORK/lock/proj"
    echo 'alpha[fast]==2.0' >"$WORK/lock/req.in"
    check "uv pip compile --generate-hashes (requirements.txt)" \
        "$UV" pip compile -q --default-index "$U" --generate-hashes --python-version 3.11 \
        --python-platform x86_64-manylinux_2_28 "$WORK/lock/req.in" -o "$WORK/lock/requirements.txt"
    check "uv pip compile (pylock.toml)" \
        "$UV" pip compile -q --default-index "$U" --python-version 3.11 \
        --python-platform x86_64-manylinux_2_28 "$WORK/lock/req.in" -o "$WORK/lock/pylock.toml"
    cat >"$WORK/lock/proj/pyproject.toml" <<'TOML'
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["beta==1.1", "delta"]
TOML
    check "uv lock (uv.lock)" sh -c "cd '$WORK/lock/proj' && '$UV' lock -q --default-index '$U'"

    cat >"$WORK/airlift.toml" <<TOML
[pypi]
index = "$U"
python = ["3.11", "3.12"]
platforms = ["manylinux_2_28_x86_64", "any"]
packages = ["alpha[fast]>=1", "epsilon==1.0"]
lockfiles = ["lock/requirements.txt", "lock/pylock.toml", "lock/proj/uv.lock"]
TOML
    HI=$WORK/connected
    check "collect lockfiles and the closure of plain requirements" \
        sh -c "'$AIRLIFT' --home '$HI' --json collect --config '$WORK/airlift.toml' >'$WORK/collect.json'"
    check "collect reports 6 projects" "$PY" -c "import json,sys; d=json.load(open('$WORK/collect.json')); sys.exit(d['python_projects'] != 6)"
    check "the sdist-only gamma's build requirement (setuptools) is carried" \
        grep -q "gamma: gamma-0.5.tar.gz is built from source in the gap; its build requirement setuptools>=61 is carried" "$WORK/collect.json"

    before=$(generations "$HI")
    bad_collect() {
        local label=$1 requirement=$2 expect=$3
        printf '[pypi]\nindex = "%s"\npython = ["3.11"]\npackages = [%s]\n' "$U" "$requirement" >"$WORK/bad.toml"
        check "bad input refused: $label" sh -c "! '$AIRLIFT' --home '$HI' collect --config '$WORK/bad.toml' 2>'$WORK/bad.err'"
        check "  ... the message names it: $expect" grep -q -- "$expect" "$WORK/bad.err"
        check "  ... and the index is unchanged" test "$(generations "$HI")" = "$before"
    }
    bad_collect "hash mismatch from the upstream" '"badhash"' "badhash: badhash-1.0-py3-none-any.whl: hash mismatch"
    bad_collect "a yanked-only requirement" '"beta>=1.2"' "beta: every release that satisfies beta>=1.2 is yanked"
    bad_collect "an unsatisfiable closure" '"zeta"' "beta: no release satisfies beta>=5 .* required by zeta 1.0"
    bad_collect "a malformed metadata file" '"broken"' "broken: broken-1.0-py3-none-any.whl: malformed metadata"
    bad_collect "a project the upstream lacks" '"nosuch"' "nosuch: not found at the upstream index"
    # A lockfile whose hash disagrees with the upstream's.
    sed 's/^\(    --hash=sha256:\)[0-9a-f]\{8\}/\1deadbeef/' "$WORK/lock/requirements.txt" >"$WORK/lock/tampered.txt"
    printf '[pypi]\nindex = "%s"\npython = ["3.11"]\nlockfiles = ["lock/tampered.txt"]\n' "$U" >"$WORK/bad.toml"
    check "bad input refused: a lockfile hash that matches no upstream file" sh -c "! '$AIRLIFT' --home '$HI' collect --config '$WORK/bad.toml' 2>'$WORK/bad.err'"
    check "  ... the message names the package" grep -q "alpha 2.0: no file at the upstream has a hash the lockfile allows" "$WORK/bad.err"
    check "  ... and the index is unchanged" test "$(generations "$HI")" = "$before"

    check "keys init" "$AIRLIFT" --home "$HI" keys init
    check "pack" "$AIRLIFT" --home "$HI" pack --out "$WORK/media/python.tar.zst"
    kill "$upstream" 2>/dev/null || true

    # --- isolated side --------------------------------------------------------
    GAP=$WORK/gap
    check "[gap] init trust" "$AIRLIFT" --home "$GAP" init --trust "$HI/keys/roots/1.root.json"
    check "[gap] import" "$AIRLIFT" --home "$GAP" import "$WORK/media/python.tar.zst"
    start_server "$GAP" 5021
    A=http://127.0.0.1:5021/pypi/simple/
    J='Accept: application/vnd.pypi.simple.v1+json'
    page() { curl -sf -H "$J" "$A$1/" >"$WORK/$1.json"; }
    field() { "$PY" -c "import json,sys; d=json.load(open('$WORK/$1.json')); print($2)"; }
    check "[gap] project list" sh -c "curl -sf '$A' | grep -q '<a href=\"alpha/\">alpha</a>'"
    check "[gap] JSON page for alpha" page alpha
    check "[gap] alpha: api-version 1.1 and versions" test "$(field alpha "d['meta']['api-version'], d['versions']")" = "1.1 ['2.0']"
    check "[gap] alpha: core-metadata, size, upload-time, requires-python on the wheel" test "$(field alpha "[(f['core-metadata'] is not False, f['size'] > 0, f['upload-time'], f['requires-python']) for f in d['files'] if f['filename'].endswith('.whl')]")" = "[(True, True, '2026-01-02T03:04:05.000000Z', '>=3.8')]"
    check "[gap] beta: the yanked 1.2 was not carried" test "$(page beta && field beta "d['versions']")" = "['1.1']"
    check "[gap] beta: metadata extracted from the wheel (the upstream had none)" test "$(field beta "[f['core-metadata'] is not False for f in d['files'] if f['filename'].endswith('.whl')]")" = "[True]"
    check "[gap] delta: cp311 and cp312 manylinux wheels and the sdist, not win_amd64" test "$(page delta && field delta "sorted(f['filename'] for f in d['files'])")" = "['delta-1.0-cp311-cp311-manylinux_2_17_x86_64.whl', 'delta-1.0-cp312-cp312-manylinux_2_17_x86_64.whl', 'delta-1.0.tar.gz']"
    check "[gap] gamma: sdist only" test "$(page gamma && field gamma "[f['filename'] for f in d['files']]")" = "['gamma-0.5.tar.gz']"
    check "[gap] epsilon: the yanked reason is kept (JSON)" test "$(page epsilon && field epsilon "d['files'][0]['yanked']")" = "broken build"
    check "[gap] epsilon: the yanked reason is kept (HTML)" sh -c "curl -sf -H 'Accept: text/html' '${A}epsilon/' | grep -q 'data-yanked=\"broken build\"'"
    check "[gap] HTML carries hashes and metadata attributes" sh -c "curl -sf '${A}alpha/' | grep -q 'data-core-metadata=\"sha256=[0-9a-f]\{64\}\" data-dist-info-metadata'"
    check "[gap] HTML escapes data-requires-python" sh -c "curl -sf '${A}alpha/' | grep -q 'data-requires-python=\"&gt;=3.8\"'"
    check "[gap] HTML content type for text/html" sh -c "curl -sfI -H 'Accept: text/html' '${A}alpha/' | grep -qi '^content-type: text/html'"
    check "[gap] q-values honoured (HTML preferred)" sh -c "curl -sfI -H 'Accept: application/vnd.pypi.simple.v1+json;q=0.1, application/vnd.pypi.simple.v1+html' '${A}alpha/' | grep -qi '^content-type: application/vnd.pypi.simple.v1+html'"
    check "[gap] 406 for an unsupported type" test "$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/xml' "${A}alpha/")" = 406
    check "[gap] non-normalized name redirects" test "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "${A}Alpha/")" = "301 http://127.0.0.1:5021/pypi/simple/alpha/"
    check "[gap] slash-less URL redirects" test "$(curl -s -o /dev/null -w '%{http_code}' "${A}alpha")" = 301
    check "[gap] unknown project is 404" test "$(curl -s -o /dev/null -w '%{http_code}' "${A}nosuch/")" = 404
    etag=$(curl -sfI -H "$J" "${A}alpha/" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
    check "[gap] If-None-Match answers 304" test "$(curl -s -o /dev/null -w '%{http_code}' -H "$J" -H "If-None-Match: $etag" "${A}alpha/")" = 304
    wheel_url=$(field alpha "[f['url'] for f in d['files'] if f['filename'].endswith('.whl')][0]")
    check "[gap] wheel bytes exactly as upstream" sh -c "curl -sf '${A}alpha/$wheel_url' | cmp - '$WORK/upstream/files/alpha-2.0-py3-none-any.whl'"
    check "[gap] metadata file has the advertised hash" test "$(curl -sf "${A}alpha/$wheel_url.metadata" | sha256sum | cut -c1-64)" = "$(field alpha "[f['core-metadata']['sha256'] for f in d['files'] if f['filename'].endswith('.whl')][0]")"
    check "[gap] Range on a wheel answers 206" test "$(curl -s -o /dev/null -w '%{http_code}' -r 0-9 "${A}alpha/$wheel_url")" = 206

    # Real clients, fresh virtualenvs, airlift as the only index.
    python3 -m venv "$WORK/v-locked"
    check "[gap] pip install --require-hashes -r requirements.txt" \
        "$WORK/v-locked/bin/pip" install -q --isolated --index-url "$A" --require-hashes -r "$WORK/lock/requirements.txt"
    check "[gap]   ... imports alpha 2.0, beta 1.1, gamma (built from sdist), delta" \
        test "$("$WORK/v-locked/bin/python" -c 'import alpha,beta,gamma,delta; print(alpha.VERSION, beta.VERSION, gamma.VERSION, delta.VERSION)')" = "2.0 1.1 0.5 1.0"
    "$AIRLIFT" --home "$GAP" client-config pip --url http://127.0.0.1:5021 >"$WORK/pip.conf"
    python3 -m venv "$WORK/v-pip"
    check "[gap] pip install 'alpha[fast]' configured by airlift client-config pip" \
        env PIP_CONFIG_FILE="$WORK/pip.conf" "$WORK/v-pip/bin/pip" install -q 'alpha[fast]' 'epsilon==1.0'
    check "[gap]   ... imports the resolved set" \
        test "$("$WORK/v-pip/bin/python" -c 'import alpha,beta,gamma,delta,epsilon; print(alpha.VERSION, beta.VERSION, delta.VERSION, epsilon.VERSION)')" = "2.0 1.1 1.0 1.0"
    "$AIRLIFT" --home "$GAP" client-config uv --url http://127.0.0.1:5021 >"$WORK/uv.toml"
    export UV_CACHE_DIR=$WORK/uv-cache-gap
    check "[gap] uv venv" "$UV" venv -q --python python3 "$WORK/v-uv"
    check "[gap] uv pip install 'alpha[fast]' configured by airlift client-config uv" \
        env -u UV_NO_CONFIG VIRTUAL_ENV="$WORK/v-uv" "$UV" pip install -q --config-file "$WORK/uv.toml" 'alpha[fast]'
    check "[gap]   ... imports the resolved set" \
        test "$("$WORK/v-uv/bin/python" -c 'import alpha,beta,gamma,delta; print(alpha.VERSION, beta.VERSION, gamma.VERSION, delta.VERSION)')" = "2.0 1.1 0.5 1.0"
    check "[gap] uv pip install --require-hashes -r requirements.txt" \
        env VIRTUAL_ENV="$WORK/v-uv" "$UV" pip install -q --reinstall --default-index "$A" --require-hashes -r "$WORK/lock/requirements.txt"
    # The pip of the oldest supported distributions (pip 22.3, Debian 12's
    # 23.0.1, 23.1), each configured by client-config: pip 22.3 to 23.0 crash on
    # a JSON page that carries the old `dist-info-metadata` key as a dict (PEP 714).
    for version in $OLD_PIPS; do
        # Installed into a directory of this run's own; the cached virtualenv
        # stays clean.
        old=$ROOT/target/old-pip/$version/bin/python
        check "[gap] pip $version installs 'alpha[fast]' configured by client-config pip" \
            env PIP_CONFIG_FILE="$WORK/pip.conf" "$old" -m pip install -q --target "$WORK/old-$version" 'alpha[fast]' 'epsilon==1.0'
        check "[gap]   ... pip $version's set imports" \
            test "$(PYTHONPATH="$WORK/old-$version" "$old" -c 'import alpha,beta,delta,epsilon; print(alpha.VERSION, beta.VERSION, delta.VERSION, epsilon.VERSION)')" = "2.0 1.1 1.0 1.0"
    done
    python3 -m venv "$WORK/v-missing"
    check "[gap] a package that was not carried is not found (nothing leaks in)" \
        sh -c "! '$WORK/v-missing/bin/pip' install -q --isolated --index-url '$A' zeta 2>/dev/null"

    # A second server on the same home that requires credentials: only the
    # user `reader` may read pypi, nobody reads anonymously. pip (the newest
    # and the oldest supported) and uv authenticate with a token in the
    # index URL, as `reader:TOKEN` and as `__token__:TOKEN`; without
    # credentials, with a wrong or a revoked token the server answers 401,
    # with the token of a user the rules do not name 403, and the client
    # says so.
    cat >"$WORK/access-pypi.toml" <<'TOML'
[[rule]]
ecosystems = ["pypi"]
read = ["reader"]
write = []
delete = []
TOML
    check "[gap] auth: user add reader, and a user the rules do not name" \
        sh -c "'$AIRLIFT' --home '$GAP' user add reader && '$AIRLIFT' --home '$GAP' user add other"
    TOKEN=$("$AIRLIFT" --home "$GAP" token create pip-read --user reader --scope 'pypi:*:read') || true
    OTHER_TOKEN=$("$AIRLIFT" --home "$GAP" token create other-read --user other) || true
    check "[gap] auth: token create prints the secret" test -n "$TOKEN" -a -n "$OTHER_TOKEN"
    start_server "$GAP" 5023 --access "$WORK/access-pypi.toml"
    AUTH=127.0.0.1:5023/pypi/simple/
    check "[gap] auth: the server answers an anonymous request 401" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "http://$AUTH")" = 401
    check "[gap] auth:   ... with WWW-Authenticate: Basic realm=\"airlift\"" \
        sh -c "curl -s -o /dev/null -D - 'http://$AUTH' | grep -qi '^www-authenticate: Basic realm=\"airlift\"'"
    # Each install goes into a directory of its own with no cache: every
    # file comes from the server, through its access check.
    auth_pip() { # label pip-python dir user
        local label=$1 python=$2 dir=$3 user=$4
        check "[gap] auth: $label installs alpha with $user:TOKEN in the index URL" \
            "$python" -m pip install -q --no-cache-dir --no-input --target "$WORK/$dir" --index-url "http://$user:$TOKEN@$AUTH" alpha
        check "[gap] auth:   ... $label's set imports" \
            test "$(PYTHONPATH="$WORK/$dir" "$python" -c 'import alpha,beta,gamma; print(alpha.VERSION, beta.VERSION, gamma.VERSION)')" = "2.0 1.1 0.5"
    }
    auth_pip "pip $("$PY" -m pip --version | cut -d' ' -f2) (newest)" "$PY" auth-new reader
    auth_pip "pip $("$PY" -m pip --version | cut -d' ' -f2) (newest)" "$PY" auth-new-token __token__
    oldest=$(echo "$OLD_PIPS" | tr ' ' '\n' | grep -x 23.0.1 || echo "$OLD_PIPS" | cut -d' ' -f1)
    auth_pip "pip $oldest" "$ROOT/target/old-pip/$oldest/bin/python" "auth-old-$oldest" reader
    auth_pip "pip $oldest" "$ROOT/target/old-pip/$oldest/bin/python" "auth-old-$oldest-token" __token__
    check "[gap] auth: uv pip install with reader:TOKEN in --default-index" \
        sh -c "'$UV' venv -q --python python3 '$WORK/v-uv-auth' && VIRTUAL_ENV='$WORK/v-uv-auth' '$UV' pip install -q --no-cache --default-index 'http://reader:$TOKEN@$AUTH' alpha"
    check "[gap] auth:   ... uv's set imports" \
        test "$("$WORK/v-uv-auth/bin/python" -c 'import alpha,beta,gamma; print(alpha.VERSION, beta.VERSION, gamma.VERSION)')" = "2.0 1.1 0.5"
    check "[gap] auth: uv pip install with __token__:TOKEN in UV_DEFAULT_INDEX" \
        sh -c "'$UV' venv -q --python python3 '$WORK/v-uv-auth2' && VIRTUAL_ENV='$WORK/v-uv-auth2' UV_DEFAULT_INDEX='http://__token__:$TOKEN@$AUTH' '$UV' pip install -q --no-cache alpha && '$WORK/v-uv-auth2/bin/python' -c 'import alpha'"
    # pip skips an index page it may not read and then finds no versions;
    # the status itself shows at -vv. A caller who authenticated but may not
    # read gets 403, any other refusal is 401.
    refused_pip() { # label out-name index-url status [python]: pip fails, and says why
        local python=${5:-$PY} reason=Unauthorized
        [ "$4" = 401 ] || reason=Forbidden
        check "[gap] auth: $1: pip $("$python" -m pip --version | cut -d' ' -f2) fails with $4" \
            sh -c "! '$python' -m pip install -vv --no-cache-dir --no-input --target '$WORK/$2' --index-url '$3' alpha >'$WORK/$2.out' 2>&1 </dev/null && grep -q '$4 Client Error: $reason' '$WORK/$2.out'"
    }
    refused_pip "without credentials" auth-none "http://$AUTH" 401
    refused_pip "without credentials" auth-none-old "http://$AUTH" 401 "$ROOT/target/old-pip/$oldest/bin/python"
    refused_pip "a wrong token" auth-wrong "http://reader:airlift_wrong@$AUTH" 401
    refused_pip "a user the rules do not name" auth-other "http://other:$OTHER_TOKEN@$AUTH" 403
    check "[gap] auth: uv without credentials fails with 401" \
        sh -c "! VIRTUAL_ENV='$WORK/v-uv-auth' '$UV' pip install --no-cache --reinstall --default-index 'http://$AUTH' alpha >'$WORK/uv-none.out' 2>&1 && grep -q '401' '$WORK/uv-none.out'"
    check "[gap] auth: token revoke" "$AIRLIFT" --home "$GAP" token revoke pip-read
    sleep 1.5
    refused_pip "the revoked token" auth-revoked "http://reader:$TOKEN@$AUTH" 401

    # Publishing into the gap: the site hosts `corp-*` for pypi. `publisher`
    # may write every project by rule, but only hosted names take uploads
    # (the rest is imported content); `reader` reads. twine uploads a wheel
    # and an sdist of corp-tool built here; pip installs it (the wheel, and
    # the sdist built from source) next to the imported projects; the same
    # files again are refused (and skipped by uv's --check-url); other-tool,
    # not hosted, is refused 403; uv publish uploads the next version.
    cat >"$WORK/access-publish.toml" <<'TOML'
[[rule]]
ecosystems = ["pypi"]
read = ["reader", "publisher"]
write = ["publisher"]

[[hosted]]
ecosystems = ["pypi"]
names = ["corp-*"]
TOML
    check "[gap] publish: user add publisher" "$AIRLIFT" --home "$GAP" user add publisher
    PUB_TOKEN=$("$AIRLIFT" --home "$GAP" token create twine --user publisher --scope 'pypi:*:read,write') || true
    READ_TOKEN=$("$AIRLIFT" --home "$GAP" token create pip-read-2 --user reader --scope 'pypi:*:read') || true
    check "[gap] publish: token create prints the secrets" test -n "$PUB_TOKEN" -a -n "$READ_TOKEN"
    start_server "$GAP" 5024 --access "$WORK/access-publish.toml"
    P=127.0.0.1:5024
    TWINE=$(dirname "$PY")/twine
    project() { # name version: a tiny setuptools project under $WORK/p-name-version, built
        local dir=$WORK/p-$1-$2 module
        module=$(echo "$1" | tr - _)
        mkdir -p "$dir/src/$module"
        printf '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "%s"\nversion = "%s"\nrequires-python = ">=3.8"\n' "$1" "$2" >"$dir/pyproject.toml"
        echo "VERSION = '$2'" >"$dir/src/$module/__init__.py"
        check "[gap] publish: python -m build $1 $2 (wheel and sdist)" \
            "$PY" -m build --no-isolation --outdir "$dir/dist" "$dir"
    }
    project corp-tool 0.1.0
    project other-tool 0.1.0
    project corp-tool 0.2.0
    # shellcheck disable=SC2317 # called through check
    twine_upload() { # out-name dir [twine args...]
        local out=$1 dir=$2
        shift 2
        "$TWINE" upload --non-interactive --disable-progress-bar --verbose \
            --repository-url "http://$P/pypi/legacy/" -u publisher -p "$PUB_TOKEN" "$@" "$dir/dist/"* >"$WORK/$out.out" 2>&1
    }
    # shellcheck disable=SC2317 # called through check
    upload_fails() { # out-name dir needle [twine args...]: refused, saying needle
        local out=$1 dir=$2 needle=$3
        shift 3
        ! twine_upload "$out" "$dir" "$@" && grep -q -- "$needle" "$WORK/$out.out"
    }
    check "[gap] publish: twine upload corp-tool 0.1.0 (a wheel and an sdist)" \
        twine_upload twine-1 "$WORK/p-corp-tool-0.1.0"
    check "[gap] publish:   ... the project page lists both" \
        sh -c "curl -sf -u 'reader:$READ_TOKEN' 'http://$P/pypi/simple/corp-tool/' | grep -c 'corp_tool-0.1.0' | grep -qx 2"
    check "[gap] publish:   ... pip installs the wheel with the reader's token" \
        "$PY" -m pip install -q --no-cache-dir --no-input --target "$WORK/pub-wheel" --index-url "http://reader:$READ_TOKEN@$P/pypi/simple/" corp-tool
    check "[gap] publish:   ... and it imports" \
        test "$(PYTHONPATH="$WORK/pub-wheel" "$PY" -c 'import corp_tool; print(corp_tool.VERSION)')" = 0.1.0
    check "[gap] publish:   ... pip builds and installs the sdist (setuptools from the index)" \
        "$PY" -m pip install -q --no-cache-dir --no-input --no-binary corp-tool --target "$WORK/pub-sdist" --index-url "http://reader:$READ_TOKEN@$P/pypi/simple/" corp-tool
    check "[gap] publish:   ... and alpha, imported, is still there next to it" \
        "$PY" -m pip install -q --no-cache-dir --no-input --target "$WORK/pub-alpha" --index-url "http://reader:$READ_TOKEN@$P/pypi/simple/" alpha corp-tool
    check "[gap] publish: the same files again are refused (400 File already exists)" \
        upload_fails twine-again "$WORK/p-corp-tool-0.1.0" 'File already exists'
    check "[gap] publish:   ... with status 400" grep -q '400' "$WORK/twine-again.out"
    # twine 7 allows --skip-existing only for the public index; what it
    # looks for (400 and "already exist") is checked above. uv's equivalent
    # asks the index whether each file is there, with the same hash.
    check "[gap] publish: uv publish --check-url skips the files already there" \
        sh -c "'$UV' publish --publish-url 'http://$P/pypi/legacy/' --check-url 'http://publisher:$PUB_TOKEN@$P/pypi/simple/' -u publisher -p '$PUB_TOKEN' '$WORK/p-corp-tool-0.1.0/dist/'* >'$WORK/uv-skip.out' 2>&1 && grep -qi 'skipping' '$WORK/uv-skip.out'"
    check "[gap] publish: other-tool (not a hosted name) is refused 403" \
        upload_fails twine-other "$WORK/p-other-tool-0.1.0" '403'
    check "[gap] publish:   ... and nothing of it is listed" \
        test "$(curl -s -o /dev/null -w '%{http_code}' -u "reader:$READ_TOKEN" "http://$P/pypi/simple/other-tool/")" = 404
    check "[gap] publish: the reader's token cannot upload (403)" \
        sh -c "! '$TWINE' upload --non-interactive --disable-progress-bar --verbose --repository-url 'http://$P/pypi/legacy/' -u reader -p '$READ_TOKEN' '$WORK/p-corp-tool-0.2.0/dist/'* >'$WORK/twine-reader.out' 2>&1 && grep -q '403' '$WORK/twine-reader.out'"
    check "[gap] publish: uv publish corp-tool 0.2.0" \
        "$UV" publish --publish-url "http://$P/pypi/legacy/" -u publisher -p "$PUB_TOKEN" "$WORK/p-corp-tool-0.2.0/dist/"*
    check "[gap] publish:   ... pip installs 0.2.0, the newest" \
        "$PY" -m pip install -q --no-cache-dir --no-input --target "$WORK/pub-2" --index-url "http://reader:$READ_TOKEN@$P/pypi/simple/" corp-tool
    check "[gap] publish:   ... and it imports" \
        test "$(PYTHONPATH="$WORK/pub-2" "$PY" -c 'import corp_tool; print(corp_tool.VERSION)')" = 0.2.0
    check "[gap] publish: each upload is in the audit log with its caller" \
        sh -c "'$AIRLIFT' --home '$GAP' --json audit export | grep -o 'upload corp_tool[^\\\"]*' | sort -u | wc -l | grep -qx 4 && '$AIRLIFT' --home '$GAP' --json audit export | grep -q '\"publisher\"'"

    # The live set, carried and installed.
    LGAP=$WORK/live-gap
    check "[gap] live: init trust" "$AIRLIFT" --home "$LGAP" init --trust "$WORK/live-root.json"
    check "[gap] live: import" "$AIRLIFT" --home "$LGAP" import "$WORK/live.tar"
    start_server "$LGAP" 5022
    python3 -m venv "$WORK/v-live"
    check "[gap] live: pip install requests from airlift alone" \
        "$WORK/v-live/bin/pip" install -q --isolated --index-url http://127.0.0.1:5022/pypi/simple/ requests
    check "[gap] live: import requests, idna, urllib3, certifi, charset_normalizer" \
        "$WORK/v-live/bin/python" -c 'import requests, idna, urllib3, certifi, charset_normalizer'
}
output=$(in_gap hermetic_part 2>&1) || true
finish pypi "$output"
